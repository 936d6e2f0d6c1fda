"""Rich tables of an evaluation: medians per strategy, and every seed's key figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from clearway.evaluation.evaluate import EvaluationResult

_MEDIAN_ROWS: tuple[tuple[str, str, str], ...] = (
    ("priority travel time (s)", "priority_travel_time_s", "{:.0f}"),
    ("free-flow time (s)", "free_flow_time_s", "{:.0f}"),
    ("ratio to free flow", "ratio", "{:.2f}"),
    ("stops of the priority vehicle", "stops", "{:.0f}"),
    ("others' extra delay (veh·h)", "others_extra_delay_veh_h", "{:+.3f}"),
    ("cross streets' extra delay (veh·h)", "cross_street_extra_delay_veh_h", "{:+.3f}"),
    ("others' mean time loss (s)", "mean_time_loss_s", "{:.1f}"),
    ("others' 95th pct time loss (s)", "p95_time_loss_s", "{:.1f}"),
    ("pedestrians' mean time loss (s)", "ped_time_loss_s", "{:.1f}"),
    ("time to recover, median (s)", "time_to_recover_s", "{:.0f}"),
    ("time to recover, max (s)", "time_to_recover_max_s", "{:.0f}"),
)
_TOTAL_ROWS = (
    ("safety-monitor violations (all seeds)", "safety_violations_total"),
    ("guard rejections (all seeds)", "guard_rejections_total"),
    ("teleports (all seeds)", "teleports_total"),
)


def evaluation_tables(result: EvaluationResult) -> list[Table]:
    """The medians table, a per-trip table when there are several trips, the per-seed table."""
    tables = [medians_table(result.header, result.medians)]
    if len(result.header["trips"]) > 1:
        tables.append(trips_table(result.header, result.medians))
    tables.append(seeds_table(result.rows))
    if result.failed:
        tables.append(failed_table(result.failed))
    return tables


def failed_table(failed: Sequence[Mapping]) -> Table:
    """The runs that failed, with their errors (their rows are missing above).

    A failed free-flow run has no seed (``—``): it leaves the rows' ratios empty.
    """
    t = Table(title="[bold red]failed runs[/] (no row; a failed reference leaves its seed's "
              "extra delays empty)")  # fmt: skip
    for col in ("run", "seed", "error"):
        t.add_column(col, justify="right" if col == "seed" else "left")
    for f in failed:
        t.add_row(f["label"], "—" if f["seed"] is None else str(f["seed"]), f["error"])
    return t


def trips_table(header: Mapping, medians: Mapping[str, Mapping]) -> Table:
    """Per trip and strategy: median travel time, ratio and stops."""
    t = Table(title="per priority trip (median over seeds)")
    for col in ("trip", "role", "strategy", "travel (s)", "free flow (s)", "ratio", "stops"):
        t.add_column(col, justify="left" if col in ("trip", "role", "strategy") else "right")
    for trip in header["trips"]:
        for strategy, m in medians.items():
            v = m["trips"].get(trip["trip_id"], {})
            t.add_row(
                trip["trip_id"],
                f"{trip['role']} ({trip['importance']})",
                strategy,
                _fmt(v.get("priority_travel_time_s"), "{:.0f}"),
                _fmt(v.get("free_flow_time_s"), "{:.0f}"),
                _fmt(v.get("ratio"), "{:.2f}"),
                _fmt(v.get("stops"), "{:.0f}"),
            )
    return t


def medians_table(header: Mapping, medians: Mapping[str, Mapping]) -> Table:
    """One column per strategy, one row per figure (median over seeds)."""
    n = len(header["seeds"])
    normal = header.get("normal", "fixed-time")
    t = Table(
        title=f"clearway evaluate — {header['scenario']} on {normal} (median of {n} seed(s))"
    )
    t.add_column("")
    strategies = list(medians)
    for s in strategies:
        t.add_column(s, justify="right")
    for label, key, fmt in _MEDIAN_ROWS:
        t.add_row(label, *(_fmt(medians[s].get(key), fmt) for s in strategies))
    for label, key in _TOTAL_ROWS:
        cells = []
        for s in strategies:
            v = medians[s][key]
            bad = key == "safety_violations_total" and v
            cells.append(
                f"[{'bold red' if bad else 'green' if key.startswith('safety') else 'default'}]{v}[/]"
            )
        t.add_row(label, *cells)
    t.add_row(
        "priority trips arrived (all seeds)",
        *("yes" if medians[s]["priority_arrived_all"] else "[bold red]no[/]" for s in strategies),
    )
    return t


def seeds_table(rows: Sequence[Mapping]) -> Table:
    """One line per strategy and seed."""
    t = Table(title="per seed")
    for col in (
        "strategy",
        "seed",
        "travel (s)",
        "ratio",
        "stops",
        "others (veh·h)",
        "cross (veh·h)",
        "peds' loss (s)",
    ):
        t.add_column(col, justify="right" if col != "strategy" else "left")
    for r in sorted(rows, key=lambda r: (r["seed"], r["strategy"])):
        t.add_row(
            r["strategy"],
            str(r["seed"]),
            _fmt(r["priority_travel_time_s"], "{:.0f}"),
            _fmt(r["ratio"], "{:.2f}"),
            str(r["stops"]),
            _fmt(r["others_extra_delay_veh_h"], "{:+.3f}"),
            _fmt(r["cross_street_extra_delay_veh_h"], "{:+.3f}"),
            _fmt(r.get("ped_time_loss_s"), "{:.1f}"),
        )
    return t


def _fmt(value: float | None, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)
