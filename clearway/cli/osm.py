"""``clearway import-osm``: an OpenStreetMap extract to a controllable network with demand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from clearway.errors import ConfigError

if TYPE_CHECKING:
    from clearway.sim.osm_report import ImportReport

console = Console()

#: Warning kinds listed in the table (all of them are in the JSON).
_KINDS_SHOWN = 12


def import_osm_command(
    osm_file: Annotated[Path, typer.Argument(help="OpenStreetMap file (.osm, .osm.bz2, .osm.gz).")],
    out: Annotated[Path, typer.Option(help="Folder for the network, detectors, demand, .sumocfg.")],
    seed: Annotated[int, typer.Option(help="Seed of the random demand and of the SUMO run.")] = 1,
    end_s: Annotated[float, typer.Option(help="Demand departs in [0, END_S) (s).")] = 3600.0,
    period_s: Annotated[
        float, typer.Option(help="Mean time between two departures in the whole network (s).")
    ] = 2.0,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON to this file.")
    ] = None,
) -> None:
    """Import an OpenStreetMap extract: network with signals, detectors, seeded demand, .sumocfg."""
    from clearway.sim.osm_import import import_osm

    if end_s <= 0 or period_s <= 0:
        raise ConfigError(
            f"--end-s and --period-s must be positive (s), got {end_s} and {period_s}"
        )
    with console.status(f"importing {osm_file.name} ..."):
        report = import_osm(osm_file, out, seed=seed, end_s=end_s, period_s=period_s)
    for table in report_tables(report):
        console.print(table)
    console.print(
        f"run it: clearway run --net {report.net_file} --routes {report.routes_file}\n"
        f"or:     sumo-gui -c {report.config_file}"
    )
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(f"report written to {json_path}")


def report_tables(report: ImportReport) -> list[Table]:
    """The import report as rich tables: counts, what was not modeled, problems."""
    counts = Table(title=f"import-osm — {report.source.name}")
    counts.add_column("")
    counts.add_column("", justify="right")
    for label, value in (
        ("junctions", report.junctions),
        ("signalised junctions", report.signalised_junctions),
        ("traffic lights (controllers)", report.traffic_lights),
        ("OSM nodes tagged traffic_signals", report.osm_tagged_signals),
        ("signals guessed (map tags none)", "yes" if report.signals_guessed else "no"),
        ("road edges / lanes", f"{report.edges} / {report.lanes}"),
        ("pedestrian crossings", report.crossings),
        ("lane-area detectors", report.detectors),
        (
            "OSM road ways / not imported",
            f"{report.osm_road_ways} / {sum(report.dropped_road_ways.values())}",
        ),
        ("netconvert warnings", report.warnings),
        ("netconvert time (s)", f"{report.netconvert_s:.2f}"),
    ):
        counts.add_row(label, str(value))
    tables = [counts]
    if report.dropped_road_ways:
        dropped = Table(title="OSM road ways not in the network (by highway type)")
        dropped.add_column("highway")
        dropped.add_column("ways", justify="right")
        for kind, n in report.dropped_road_ways.items():
            dropped.add_row(kind, str(n))
        tables.append(dropped)
    if report.warnings_by_kind:
        warnings = Table(title="what netconvert could not model (warnings by kind)")
        warnings.add_column("count", justify="right")
        warnings.add_column("kind (example)")
        for kind, n in list(report.warnings_by_kind.items())[:_KINDS_SHOWN]:
            warnings.add_row(str(n), report.warning_examples[kind])
        hidden = len(report.warnings_by_kind) - _KINDS_SHOWN
        if hidden > 0:
            warnings.add_row("", f"... {hidden} more kinds (see --json)")
        tables.append(warnings)
    problems = Table(title="network problems")
    problems.add_column("problem")
    for problem in report.problems or ["none found"]:
        problems.add_row(problem)
    tables.append(problems)
    return tables
