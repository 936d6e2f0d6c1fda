"""``clearway report``: a markdown report with tables and figures from ``--jsonl`` run lines
(``clearway report RESULTS``, the same as ``clearway report results RESULTS``), and
``clearway report public``: the public transparency report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from clearway.cli.public_report import public_report_command
from clearway.errors import ClearwayError

console = Console()
err_console = Console(stderr=True)

DEFAULT_REPORT_DIR = Path("clearway-out") / "report"


class _ResultsByDefault(TyperGroup):
    """``clearway report FILE ...`` goes on meaning ``clearway report results FILE ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["results", *args]
        return super().parse_args(ctx, args)


report_app = typer.Typer(
    cls=_ResultsByDefault,
    help="Reports: of evaluation runs (RESULTS file), or the public transparency report.",
    no_args_is_help=True,
)


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


report_app.command("results")(report_command)
report_app.command("public")(public_report_command)
