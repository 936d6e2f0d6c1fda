"""``clearway report``: a markdown report with tables and figures from ``--jsonl`` run lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clearway.errors import ClearwayError

console = Console()
err_console = Console(stderr=True)

DEFAULT_REPORT_DIR = Path("clearway-out") / "report"


def report_command(
    results: Annotated[
        Path, typer.Argument(help="JSON-lines file `clearway evaluate --jsonl FILE` wrote.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Directory for report.md and its figures/.")
    ] = DEFAULT_REPORT_DIR,
) -> None:
    """Write a markdown report (tables, delay distributions, throughput, time-space diagrams).

    Exits with code 2 and says why if RESULTS is missing, empty or has a malformed line.
    """
    # Imported here: matplotlib and the evaluation stack load only for this command.
    from clearway.evaluation.report import write_report

    try:
        path = write_report(results, out)
    except ClearwayError as exc:
        # The same as the app's main() does, so the exit code holds when the command is
        # invoked without it (typer's test runner, an embedding program).
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    console.print(f"report written to {path} (figures in {path.parent / 'figures'}/)")
