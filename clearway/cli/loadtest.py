"""``clearway loadtest``: drive a running ``clearway serve`` with many priority requests and
position updates for a bounded time; report throughput, latency, errors, audit completeness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from clearway.errors import ConfigError


def loadtest_command(
    url: Annotated[str, typer.Option(help="Base URL of the running service.")] = (
        "http://127.0.0.1:8000"
    ),
    key: Annotated[
        str,
        typer.Option(
            envvar="CLEARWAY_LOADTEST_KEY",
            help="API key of a dispatcher (or operator): it creates and owns the requests.",
        ),
    ] = "",
    admin_key: Annotated[
        str | None,
        typer.Option(help="API key of an operator or admin: also check the audit log."),
    ] = None,
    requests: Annotated[int, typer.Option(help="Priority requests to create.")] = 8,
    clients: Annotated[int, typer.Option(help="Concurrent clients posting positions.")] = 8,
    rate: Annotated[
        float, typer.Option(help="Position updates per second in all; 0 = as fast as possible.")
    ] = 0.0,
    duration: Annotated[float, typer.Option(help="Seconds of position updates.")] = 10.0,
    route: Annotated[
        list[str] | None,
        typer.Option(help="ORIGIN:DEST edge pair to use (repeatable); default: random edges."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Timeout of every call (s).")] = 5.0,
    cancel: Annotated[bool, typer.Option(help="Cancel the requests at the end.")] = True,
    bearer: Annotated[
        bool, typer.Option(help="Exchange the keys for bearer tokens first.")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Seed of the random routes.")] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON to this file.")
    ] = None,
) -> None:
    """Load a running service: create --requests priority requests, post their vehicles'
    positions from --clients clients at --rate for --duration s, cancel them, and report.
    Exit 1 on any 5xx, transport error or (with --admin-key) incomplete audit log."""
    from clearway.loadtest import LoadConfig, run_load

    if not key:
        raise ConfigError("--key (or $CLEARWAY_LOADTEST_KEY) is required: a dispatcher's API key")
    if requests < 1 or clients < 1:
        raise ConfigError("--requests and --clients must be at least 1")
    if duration <= 0 or rate < 0 or timeout <= 0:
        raise ConfigError("--duration and --timeout must be > 0, --rate >= 0")
    pairs = []
    for r in route or []:
        origin, sep, dest = r.partition(":")
        if not sep or not origin or not dest:
            raise ConfigError(f"--route {r!r}: expected ORIGIN:DEST edge ids")
        pairs.append((origin, dest))
    cfg = LoadConfig(
        url=url, key=key, admin_key=admin_key, requests=requests, clients=clients, rate=rate,
        duration_s=duration, routes=tuple(pairs), call_timeout_s=timeout, cancel=cancel,
        bearer=bearer, seed=seed,
    )  # fmt: skip
    result = run_load(cfg)
    report = result.report
    console = Console()
    console.print(report_table(report))
    for line in summary_lines(report):
        console.print(line)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    raise typer.Exit(0 if report["ok"] else 1)


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def report_table(report: dict[str, Any]) -> Table:
    """Per call kind: calls, statuses, transport errors and latency percentiles."""
    t = Table(title=f"clearway loadtest {report['url']} (run {report['run_id']})")
    for col in ("call", "calls", "statuses", "transport errors"):
        t.add_column(col)
    for col in ("p50 ms", "p90 ms", "p99 ms", "max ms"):
        t.add_column(col, justify="right")
    for kind, c in report["calls"].items():
        lat = c["latency"]
        t.add_row(
            kind,
            str(c["calls"]),
            ", ".join(f"{k}: {v}" for k, v in c["status"].items()) or "—",
            ", ".join(f"{k}: {v}" for k, v in c["transport_errors"].items()) or "—",
            _ms(lat["p50_ms"]),
            _ms(lat["p90_ms"]),
            _ms(lat["p99_ms"]),
            _ms(lat["max_ms"]),
        )
    return t


def summary_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"requests created {report['requests_created']}/{report['requests_asked']}, "
        f"{report['clients']} clients, target "
        f"{report['target_rate_per_s'] or 'max'} updates/s for {report['duration_s']:g} s",
        f"accepted position updates: {report['accepted']} "
        f"({report['accepted_per_s']:.0f}/s over {report['position_phase_s']:.1f} s)",
    ]
    audit = report["audit"]
    if audit.get("checked") and "position_audit_records" not in audit:
        lines.append("audit: not checked — " + "; ".join(audit.get("query_errors", [])[:3]))
    elif audit.get("checked"):
        lines.append(
            f"audit: {audit.get('position_audit_records', '?')} request.position records for "
            f"{audit.get('accepted_201', '?')} 201s ({audit.get('lost', '?')} lost, "
            f"{audit.get('extra', '?')} extra), chain "
            f"{'verifies' if audit.get('verify_ok') else 'DOES NOT verify'}"
        )
    else:
        lines.append("audit: not checked (no --admin-key)")
    if report["ok"]:
        lines.append("[bold green]ok[/]")
    else:
        lines.append("[bold red]FAILED:[/] " + "; ".join(report["failures"]))
    return lines
