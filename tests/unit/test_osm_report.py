"""Grouping netconvert's warnings by kind, and naming imported files (no SUMO run)."""

from __future__ import annotations

from pathlib import Path

from clearway.sim.osm_import import osm_name
from clearway.sim.osm_report import warning_kinds

LOG = """\
Warning: Removed a road without junctions: -226336485.
Warning: Removed a road without junctions: 226336485.
Warning: Not joining junctions -34114,-30252 (parallel incoming --12#3,-7).
Warning: Minor green from edge '12#0' to edge '-9' exceeds 19.44m/s. Maybe a left-turn lane is missing.
Warning: Minor green from edge '5' to edge '6#2' exceeds 13.89m/s. Maybe a left-turn lane is missing.
Warning: 2 total messages of type: Removed a road without junctions: %.
Success.
"""


def test_warnings_are_counted_per_kind_with_ids_blanked_out():
    kinds, examples = warning_kinds(LOG)
    assert kinds == {
        "Minor green from edge '...' to edge '...' exceeds N/s. Maybe a left-turn lane is missing.": 2,
        "Removed a road without junctions: N": 2,
        "Not joining junctions N (parallel incoming N).": 1,
    }
    assert examples["Removed a road without junctions: N"].endswith("-226336485.")


def test_netconvert_roll_up_lines_are_not_counted_twice():
    kinds, _ = warning_kinds("Warning: 11 total messages of type: Removed invalid stop '%'.\n")
    assert kinds == {}


def test_file_names_drop_the_osm_suffixes():
    assert osm_name(Path("maps/West-Oakland.osm.bz2")) == "West-Oakland"
    assert osm_name(Path("lust.legacy.scenario.osm")) == "lust.legacy.scenario"
    assert osm_name(Path("city.osm.xml")) == "city"
