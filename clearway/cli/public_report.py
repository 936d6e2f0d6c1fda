"""``clearway report public``: the public transparency report of a day or a month, as JSON,
with the audit chain's head signed (``clearway audit keygen`` makes the key)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clearway.cli.storage_cmds import DEFAULT_DB, DbOption

err_console = Console(stderr=True)

KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        envvar="CLEARWAY_REPORT_KEY_FILE",
        show_envvar=True,
        help="Ed25519 private key (PEM, mode 0600) that signs the audit head; without it "
        "the head is published unsigned.",
    ),
]


def public_report_command(
    db: DbOption = DEFAULT_DB,
    month: Annotated[
        str | None, typer.Option(help="Month YYYY-MM (UTC); default this one.")
    ] = None,
    day: Annotated[
        str | None, typer.Option(help="Day YYYY-MM-DD (UTC), instead of a month.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON here (default: stdout).")
    ] = None,
    net: Annotated[
        Path | None,
        typer.Option(
            envvar="CLEARWAY_NET_FILE",
            help="The served network: the no-priority estimate of time saved needs it.",
        ),
    ] = None,
    k: Annotated[int, typer.Option(help="Suppress cells from fewer requests (at least 5).")] = 5,
    key_file: KeyFileOption = None,
) -> None:
    """The public transparency report (JSON): aggregates only, the audit head signed.

    Per day and for the period: requests by role, outcomes, median time saved, holds per
    junction, guard rejections; a cell from fewer than k requests is suppressed (null).
    """
    from clearway.cli.storage_cmds import _open
    from clearway.storage.public_report import check_k, parse_period, publish
    from clearway.storage.signed_head import load_private_key

    period = parse_period(month, day)
    check_k(k)
    key = load_private_key(key_file) if key_file is not None else None
    estimator = None
    if net is not None:
        from clearway.network import load_network
        from clearway.network.no_priority import route_estimator

        estimator = route_estimator(load_network(net))
    engine, sessions, _ = _open(db)
    with sessions() as s:
        report = publish(s, period, k=k, estimator=estimator, key=key)
    engine.dispose()
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    head = report["audit_head"]
    signed = "signed" if head.get("signature") else "UNSIGNED (no --key-file)"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        err_console.print(f"report for {period.label} written to {out}")
    err_console.print(
        f"audit head: record {head['head_seq']}, hash {head['head_hash'][:16]}..., {signed}; "
        f"check later with `clearway audit verify --against {out or 'REPORT.json'}`"
    )
