"""Conversion between network metres and WGS84 lon/lat, exactly as SUMO does it.

SUMO stores a net's projection in ``<location projParameter=... netOffset=...>``: a point's
network coordinates are its projected coordinates plus the offset, so
``x_m = projected_x + offset_x_m`` and ``y_m = projected_y + offset_y_m``.
"""

from __future__ import annotations

from functools import lru_cache

import pyproj

from clearway.errors import NetworkError
from clearway.network.model import GeoReference

__all__ = ["lonlat_to_xy", "xy_to_lonlat"]


def xy_to_lonlat(geo: GeoReference | None, x_m: float, y_m: float) -> tuple[float, float]:
    """Convert network coordinates to longitude and latitude.

    Parameters
    ----------
    geo
        The network's geo-reference (``Network.geo``); ``None`` for a net without projection.
    x_m, y_m
        Position in network coordinates (m).

    Returns
    -------
    tuple[float, float]
        ``(lon, lat)`` in WGS84 degrees.

    Raises
    ------
    NetworkError
        If the network has no projection or its projection string is not understood.
    """
    geo = _require_geo(geo)
    lon, lat = _cached_proj(geo.proj)(x_m - geo.offset_x_m, y_m - geo.offset_y_m, inverse=True)
    return float(lon), float(lat)


def lonlat_to_xy(geo: GeoReference | None, lon: float, lat: float) -> tuple[float, float]:
    """Convert longitude and latitude to network coordinates.

    Parameters
    ----------
    geo
        The network's geo-reference (``Network.geo``); ``None`` for a net without projection.
    lon, lat
        WGS84 position (degrees).

    Returns
    -------
    tuple[float, float]
        ``(x_m, y_m)`` in network coordinates (m).

    Raises
    ------
    NetworkError
        If the network has no projection or its projection string is not understood.
    """
    geo = _require_geo(geo)
    x, y = _cached_proj(geo.proj)(lon, lat)
    return float(x) + geo.offset_x_m, float(y) + geo.offset_y_m


def _require_geo(geo: GeoReference | None) -> GeoReference:
    if geo is None:
        raise NetworkError(
            "this network has no geo-reference (its <location projParameter> is '!'), so "
            "lon/lat cannot be converted; use a net built from OSM or with netconvert "
            "--proj.utm, or work in network x/y metres"
        )
    return geo


@lru_cache(maxsize=32)
def _cached_proj(proj_string: str) -> pyproj.Proj:
    # Building a Proj parses the string and loads PROJ's database (~ms); a city net converts
    # thousands of points through the same one.
    try:
        return pyproj.Proj(projparams=proj_string)
    except pyproj.exceptions.CRSError as exc:
        raise NetworkError(
            f"the network's projection {proj_string!r} is not understood by PROJ ({exc}); "
            "re-create the net with netconvert --proj.utm or fix <location projParameter>"
        ) from exc
