"""Demand rewritten without driver imperfection: Krauss types get sigma=0, nothing else changes."""

from __future__ import annotations

import gzip
from xml.etree import ElementTree

import pytest

from clearway.errors import SimulationError
from clearway.sim.driver_noise import without_driver_noise

ROUTES = """<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<routes xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://sumo.dlr.de/xsd/routes_file.xsd">
    <vType id="car" vClass="passenger" sigma="0.5"/>
    <vType id="idm" carFollowModel="IDM" accel="2"/>
    <vTypeDistribution id="mix">
        <vType id="m1" probability="0.5"/>
        <vType id="m2" carFollowModel="KraussPS" probability="0.5"/>
    </vTypeDistribution>
    <vehicle id="v0" type="car" depart="0.00"><route edges="a b"/></vehicle>
    <vehicle id="v1" depart="1.00"><route edges="a b"/></vehicle>
    <flow id="f" type="idm" begin="0" end="10" number="2" route="r"/>
</routes>
"""


def _types(path):
    root = ElementTree.parse(path).getroot()
    return {vt.get("id"): vt.attrib for vt in root.iter("vType")}, root


def test_krauss_types_lose_sigma_others_are_kept_and_a_default_type_is_added(tmp_path):
    src = tmp_path / "d.rou.xml"
    src.write_text(ROUTES)
    (out,) = without_driver_noise([src], tmp_path / "o")
    types, root = _types(out)
    assert types["car"]["sigma"] == "0" and types["car"]["vClass"] == "passenger"
    assert "sigma" not in types["idm"]
    assert types["m1"]["sigma"] == "0" and types["m2"]["sigma"] == "0"
    assert types["DEFAULT_VEHTYPE"]["sigma"] == "0"
    assert [v.get("id") for v in root.iter("vehicle")] == ["v0", "v1"]
    assert root.find("flow").get("number") == "2"
    assert root[0].get("id") == "DEFAULT_VEHTYPE"  # before any vehicle uses it


def test_gzipped_files_and_an_existing_default_type(tmp_path):
    first = tmp_path / "a.rou.xml.gz"
    with gzip.open(first, "wt") as f:
        f.write(ROUTES)
    second = tmp_path / "b.rou.xml"
    second.write_text('<routes><vType id="DEFAULT_VEHTYPE" sigma="0.7"/></routes>')
    a, b = without_driver_noise([first, second], tmp_path / "o")
    assert "DEFAULT_VEHTYPE" not in _types(a)[0]
    assert _types(b)[0]["DEFAULT_VEHTYPE"]["sigma"] == "0"
    # Cached: a second call returns the same files.
    assert without_driver_noise([first, second], tmp_path / "o") == (a, b)


def test_broken_or_missing_demand_is_named(tmp_path):
    bad = tmp_path / "bad.rou.xml"
    bad.write_text("<routes><vehicle id=")
    with pytest.raises(SimulationError, match="not valid XML"):
        without_driver_noise([bad], tmp_path / "o")
    with pytest.raises(SimulationError, match="not found"):
        without_driver_noise([tmp_path / "none.xml"], tmp_path / "o")
