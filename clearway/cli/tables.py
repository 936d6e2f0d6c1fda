"""Rich tables the CLI prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.table import Table

from clearway.evaluation.run import RunResult

_RESULT_ROWS: tuple[tuple[str, str, str], ...] = (
    ("strategy", "strategy", "{}"),
    ("backend", "backend", "{}"),
    ("seed", "seed", "{}"),
    ("signals controlled", "signals", "{}"),
    ("simulated time (s)", "sim_s", "{:.0f}"),
    ("vehicles arrived", "arrived", "{}"),
    ("vehicles never inserted", "undeparted", "{}"),
    ("mean time loss (s)", "mean_time_loss_s", "{:.1f}"),
    ("95th percentile time loss (s)", "p95_time_loss_s", "{:.1f}"),
    ("pedestrians arrived", "persons", "{}"),
    ("pedestrians' mean time loss (s)", "ped_time_loss_s", "{:.1f}"),
    ("safety-monitor violations", "safety_violations", "{}"),
    ("guard rejections", "guard_rejections", "{}"),
    ("teleports", "teleports", "{}"),
    ("wall time (s)", "wall_s", "{:.1f}"),
    ("simulated s per wall s", "sim_s_per_wall_s", "{:.0f}"),
)


def results_table(results: Sequence[RunResult], title: str = "clearway run") -> Table:
    """One column per run, one row per figure (fits a narrow terminal)."""
    t = Table(title=title)
    t.add_column("")
    for r in results:
        t.add_column(r.scenario, justify="right")
    for label, attr, fmt in _RESULT_ROWS:
        cells = []
        for r in results:
            value = getattr(r, attr)
            cell = "—" if value is None else fmt.format(value)
            if attr == "safety_violations":
                cell = f"[{'green' if r.safety_violations == 0 else 'bold red'}]{cell}[/]"
            cells.append(cell)
        t.add_row(label, *cells)
    return t


def network_table(path: Path, summary: Mapping[str, object]) -> Table:
    """Key figures of a network."""
    t = Table(title=f"network {path.name}")
    t.add_column("what")
    t.add_column("value", justify="right")
    for key, value in summary.items():
        t.add_row(key.replace("_", " "), str(value))
    return t


def problems_table(problems: Sequence[str]) -> Table:
    """Problems found in a network (or a single 'none' row)."""
    t = Table(title=f"problems found: {len(problems)}")
    t.add_column("problem")
    for p in problems or ["none"]:
        t.add_row(p)
    return t
