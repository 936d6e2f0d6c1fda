"""``clearway db|users|audit``: migrate the database, manage users and keys, check the audit log.

Every command takes ``--db URL`` (default ``$CLEARWAY_DB_URL``, else ``sqlite:///clearway.db``).
Storage is imported inside the commands, so ``clearway run`` does not pay for SQLAlchemy.
Administrative actions (users added, keys issued or revoked, positions pruned, schema
upgraded) are written to the audit log under the principal ``cli:<login name>``.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

db_app = typer.Typer(help="Create or migrate the database.", no_args_is_help=True)
users_app = typer.Typer(help="Users, roles and API keys.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log and data retention.", no_args_is_help=True)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="CLEARWAY_DB_URL",
        show_envvar=True,
        help="Database URL: sqlite:///path.db or postgresql+psycopg://user:pw@host/db.",
    ),
]
DEFAULT_DB = "sqlite:///clearway.db"


def register_storage_commands(app: typer.Typer) -> None:
    """Add ``db``, ``users`` and ``audit`` to the main app."""
    app.add_typer(db_app, name="db")
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")


def _principal() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in a bare container
        return "cli:unknown"


def _open(db: str):
    """Sessions on a migrated database, and its audit log."""
    from clearway.storage.audit import AuditLog
    from clearway.storage.db import make_engine, session_factory
    from clearway.storage.migrate import require_current

    engine = make_engine(db)
    require_current(engine)
    sessions = session_factory(engine)
    return engine, sessions, AuditLog(sessions)


def _admin_entry(action: str, **payload: Any):
    from clearway.storage.audit import AuditEntry, AuditKind

    return AuditEntry(AuditKind.ADMIN, _principal(), payload={"action": action, **payload})


@db_app.command("upgrade")
def db_upgrade(db: DbOption = DEFAULT_DB) -> None:
    """Create the schema, or migrate it to this version of clearway (safe to repeat)."""
    from clearway.storage.db import redact
    from clearway.storage.migrate import upgrade

    before, after = upgrade(db)
    if before == after:
        console.print(f"{redact(db)} is at revision {after}; nothing to do")
        return
    engine, _, audit = _open(db)
    audit.append_many([_admin_entry("db.upgrade", before=before, after=after)])
    engine.dispose()
    console.print(f"{redact(db)} migrated from {before or 'empty'} to revision {after}")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")],
    role: Annotated[str, typer.Option(help="viewer, dispatcher, operator, admin or transit (only feeds buses).")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Create a user and print their API key: on stdout, this once and never again."""
    from clearway.storage.audit import append_entries
    from clearway.storage.db import write_session
    from clearway.storage.users import add_user

    engine, sessions, _ = _open(db)
    with write_session(sessions) as s:
        user, key = add_user(s, name, role)
        key_id = user.keys[0].key_id
        append_entries(s, [_admin_entry("user.add", user=name, role=role, key_id=key_id)])
    engine.dispose()
    err_console.print(
        f"user {user.name!r} ({user.role}), key id {key_id}. Store the key now: "
        "only its hash is kept, it cannot be shown again."
    )
    typer.echo(key)


@users_app.command("key")
def users_key(
    name: Annotated[str, typer.Argument(help="An existing user.")], db: DbOption = DEFAULT_DB
) -> None:
    """Issue another API key for a user (printed once, on stdout)."""
    from clearway.storage.audit import append_entries
    from clearway.storage.db import write_session
    from clearway.storage.users import issue_key

    engine, sessions, _ = _open(db)
    with write_session(sessions) as s:
        key_id, key = issue_key(s, name)
        append_entries(s, [_admin_entry("key.issue", user=name, key_id=key_id)])
    engine.dispose()
    err_console.print(f"key id {key_id} for {name!r}; store it now, it is not shown again.")
    typer.echo(key)


@users_app.command("list")
def users_list(db: DbOption = DEFAULT_DB) -> None:
    """Users, roles and key ids (never the keys)."""
    from clearway.storage.users import list_users

    engine, sessions, _ = _open(db)
    with sessions() as s:
        users = list_users(s)
    engine.dispose()
    table = Table(title="users")
    for col in ("user", "role", "key id", "created (UTC)", "revoked (UTC)"):
        table.add_column(col)
    for u in users:
        for k in u.keys or (None,):
            table.add_row(
                u.name,
                u.role,
                k.key_id if k else "-",
                _t(k.created_at) if k else "-",
                _t(k.revoked_at) if k and k.revoked_at else "",
            )
    console.print(table)


@users_app.command("revoke")
def users_revoke(
    key_id: Annotated[str, typer.Argument(help="Key id as `clearway users list` shows it.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Revoke an API key; calls with it fail from now on."""
    from clearway.storage.audit import append_entries
    from clearway.storage.db import write_session
    from clearway.storage.users import revoke_key

    engine, sessions, _ = _open(db)
    with write_session(sessions) as s:
        info = revoke_key(s, key_id)
        append_entries(s, [_admin_entry("key.revoke", key_id=key_id)])
    engine.dispose()
    console.print(f"key {info.key_id} revoked at {_t(info.revoked_at)} UTC")


@audit_app.command("verify")
def audit_verify(
    db: DbOption = DEFAULT_DB,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="A published head (JSON: the head, or the public report holding it): check "
            "its Ed25519 signature and that the chain still holds that record with that hash.",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="The published public key (PEM, or base64 raw) for --against; default the "
            "key the head names (compare it with the published one)."
        ),
    ] = None,
) -> None:
    """Check the hash chain. Exit 0 when intact; 1 naming the first broken record."""
    from clearway.storage.signed_head import SignatureError

    try:
        head = _published_head(against, public_key) if against is not None else None
    except SignatureError as exc:
        console.print(f"[bold red]not verified[/]: {against}: {exc}")
        raise typer.Exit(code=1) from None
    engine, sessions, audit = _open(db)
    report = audit.verify()
    found = None
    if head is not None:
        from clearway.storage.signed_head import check_against

        with sessions() as s:
            found = check_against(s, head, report)
    engine.dispose()
    ok = report.ok and (found is None or found.ok)
    if json_out:
        out = {
            "ok": ok,
            "checked": report.checked,
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "bad_seq": report.bad_seq,
            "problem": report.problem,
            "message": report.message,
        }
        if found is not None:
            out["against"] = {
                "ok": found.ok,
                "head_seq": found.head_seq,
                "bad_seq": found.bad_seq,
                "message": found.message,
            }
        typer.echo(json.dumps(out))
    else:
        if found is not None and not found.ok:
            console.print(f"[bold red]rewritten[/] at record {found.bad_seq}: {found.message}")
        elif found is not None:
            console.print(f"[green]ok[/]: signature valid; {found.message}")
        if report.ok:
            console.print(f"[green]ok[/]: {report.message}")
            if found is None:
                console.print("keep the head hash outside the database to detect a rewritten chain")
        elif found is None or found.ok:
            console.print(f"[bold red]broken[/] at record {report.bad_seq}: {report.message}")
    if not ok:
        raise typer.Exit(code=1)


def _published_head(path: Path, public_key: Path | None) -> dict[str, Any]:
    """The head in ``path``, its signature checked (and its report's digest, if the file is a
    whole report); :class:`~clearway.storage.signed_head.SignatureError` if not."""
    from clearway.errors import ConfigError
    from clearway.storage.public_report import body_of
    from clearway.storage.signed_head import (
        SignatureError,
        check_signature,
        head_of,
        load_public_key,
        report_digest,
    )

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--against {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise SignatureError(f"--against {path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SignatureError(f"--against {path} holds no published head")
    head = head_of(document)
    key = None
    if public_key is not None:
        try:
            key = load_public_key(public_key.read_bytes())
        except OSError as exc:
            raise ConfigError(f"--public-key {public_key}: {exc.strerror}") from None
    check_signature(head, key)
    if "audit_head" in document and report_digest(body_of(document)) != head["report_digest"]:
        raise SignatureError(
            f"the report in {path} was changed after it was signed: its digest does not match"
        )
    return head


@audit_app.command("keygen")
def audit_keygen(
    path: Annotated[Path, typer.Argument(help="Private key file to write (mode 0600).")],
    force: Annotated[bool, typer.Option(help="Replace an existing key.")] = False,
) -> None:
    """Write an Ed25519 key pair that signs the published audit head: PATH (private, 0600;
    set CLEARWAY_REPORT_KEY_FILE to it) and PATH.pub (public: publish it)."""
    from clearway.storage.signed_head import generate_keypair

    private, public = generate_keypair(path, overwrite=force)
    console.print(f"private key {private} (mode 0600, keep it secret); public key {public}")


@audit_app.command("list")
def audit_list(
    db: DbOption = DEFAULT_DB,
    kind: Annotated[str | None, typer.Option(help="e.g. signal.rejected, admin.")] = None,
    junction: Annotated[str | None, typer.Option(help="Junction (signal) id.")] = None,
    request: Annotated[str | None, typer.Option(help="Priority request id.")] = None,
    principal: Annotated[str | None, typer.Option(help="Who acted.")] = None,
    since: Annotated[datetime | None, typer.Option(help="From (ISO time, UTC if no zone).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Before (ISO time).")] = None,
    after_seq: Annotated[int, typer.Option(help="Start after this record (paging).")] = 0,
    limit: Annotated[int, typer.Option(help="Records to print (at most 1000).")] = 50,
) -> None:
    """Print matching audit records as JSON lines, oldest first."""
    engine, _, audit = _open(db)
    page = audit.query(
        kind=kind,
        junction_id=junction,
        request_id=request,
        principal=principal,
        since=since,
        until=until,
        after_seq=after_seq,
        limit=limit,
    )
    engine.dispose()
    for record in page.records:
        typer.echo(json.dumps(record.to_dict(), ensure_ascii=False))
    if page.next_after_seq is not None:
        err_console.print(f"more: --after-seq {page.next_after_seq}")


@audit_app.command("prune-positions")
def audit_prune_positions(
    older_than_days: Annotated[
        float | None,
        typer.Option(help="Retention (days); default $CLEARWAY_POSITION_RETENTION_DAYS or 30."),
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Delete priority-vehicle positions older than the retention period, and the places
    (origin, destination, route) of requests finished before it (run it daily)."""
    from clearway.storage.audit import append_entries
    from clearway.storage.db import write_session
    from clearway.storage.requests import prune_positions, redact_finished, retention_days

    days = retention_days(older_than_days)
    engine, sessions, _ = _open(db)
    with write_session(sessions) as s:
        deleted = prune_positions(s, days)
        redacted = redact_finished(s, days)
        append_entries(
            s,
            [
                _admin_entry(
                    "positions.prune", older_than_days=days, deleted=deleted, redacted=redacted
                )
            ],
        )
    engine.dispose()
    console.print(
        f"{deleted} position(s) older than {days:g} days deleted; the places of {redacted} "
        "request(s) finished before then removed"
    )


def _t(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""
