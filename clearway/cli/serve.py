"""``clearway serve``: the HTTP service with a live runtime (SUMO twin + corridor priority),
or with ``--field`` on field controllers over NTCIP 1202 (the same API, auth and audit)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clearway.bootstrap import NORMAL_STRATEGIES, PRIORITY_STRATEGIES
from clearway.errors import ConfigError

if TYPE_CHECKING:
    from clearway.service.runtime import ServiceRuntime


def serve_command(
    scenario: Annotated[
        str | None, typer.Option(help="Built-in city: grid:NxM[:light|moderate|heavy].")
    ] = None,
    net: Annotated[Path | None, typer.Option(help="SUMO network (.net.xml) instead.")] = None,
    routes: Annotated[
        list[Path] | None, typer.Option(help="SUMO route files for --net (repeatable).")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(help="Simulated seconds per real second; 0 = as fast as possible [1]."),
    ] = None,
    strategy: Annotated[str, typer.Option(help="Priority strategy.")] = "corridor",
    normal: Annotated[
        str | None, typer.Option(help="Normal control between holds [fixed-time].")
    ] = None,
    field: Annotated[
        Path | None,
        typer.Option(
            "--field",
            help="Junction config (TOML): drive these field controllers (NTCIP 1202 over SNMP) "
            "on --net instead of a twin; traffic time is UTC.",
        ),
    ] = None,
    tick_s: Annotated[float, typer.Option(help="Time between two control decisions (s).")] = 1.0,
    reroute: Annotated[
        bool,
        typer.Option(
            help="Give a priority vehicle a clearly faster route on its way when its street "
            "jams (corridor; the request shows the new route, the change is audited)."
        ),
    ] = True,
    end_s: Annotated[float, typer.Option(help="Simulated time the city runs for (s).")] = 3600.0,
    seed: Annotated[int, typer.Option(help="Random seed of demand and simulation.")] = 1,
    db: Annotated[
        str | None, typer.Option(help="Database URL (default $CLEARWAY_DB_URL or sqlite).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    dev: Annotated[
        bool,
        typer.Option(
            help="Development mode: a random token secret if none is set, and the database's "
            "schema created or brought up to date (outside --dev: `clearway db upgrade`)."
        ),
    ] = False,
    out_dir: Annotated[Path, typer.Option(help="Where scenario files go.")] = Path("clearway-out"),
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the live map dashboard in a web browser.")
    ] = False,
    demo_users: Annotated[
        bool,
        typer.Option(
            "--demo-users",
            help="With --dev: print a fresh API key for a demo user of each role "
            "(demo-viewer, demo-dispatcher, demo-operator, demo-admin).",
        ),
    ] = False,
) -> None:
    """Serve the API with a live simulated city, or with --field its real controllers:
    priority requests clear the way through its signals. Outside --dev,
    CLEARWAY_TOKEN_SECRET must be set to a strong secret."""
    import uvicorn

    from clearway.cli.scenarios import resolve_scenario
    from clearway.service.app import create_app
    from clearway.service.runtime import ServiceRuntime
    from clearway.service.settings import ServiceSettings

    if strategy not in PRIORITY_STRATEGIES:
        raise ConfigError(f"--strategy must be one of {', '.join(PRIORITY_STRATEGIES)}")
    if field is not None:
        _refuse_twin_options(net, scenario, routes, speed, strategy, normal)
    normal = normal or "fixed-time"
    if normal not in NORMAL_STRATEGIES:
        raise ConfigError(f"--normal must be one of {', '.join(NORMAL_STRATEGIES)}")
    opts: dict[str, Any] = {"dev": dev}
    if db is not None:
        opts["db_url"] = db
    # Settings first: a default secret is refused before SUMO or the database is touched.
    settings = ServiceSettings(**opts).check_secrets()
    if demo_users and not dev:
        raise ConfigError("--demo-users hands out keys to anyone who sees the console: --dev only")
    # Before SUMO starts: a database without the schema is named (or, in dev, made) at once.
    said = prepare_database(settings.db_url, dev=dev)
    if said:
        typer.echo(said)
    if demo_users:
        for role, key in _demo_keys(settings.db_url).items():
            typer.echo(f"  {role:<10} key: {key}")
    if field is not None:
        assert net is not None
        from clearway.service.runtime_transit import refuse_on_field

        refuse_on_field(settings.gtfs_dir)
        runtime = field_runtime(field, net, tick_s=tick_s)
        runtime.reroute = reroute
    else:
        sc = resolve_scenario(net, routes, scenario, seed=seed, end_s=end_s, out_dir=out_dir)
        runtime = ServiceRuntime(
            sc, strategy=strategy, normal=normal, speed=1.0 if speed is None else speed,
            tick_s=tick_s, reroute=reroute, gtfs_dir=settings.gtfs_dir or None,
            transit_late_threshold_s=settings.transit_late_threshold_s,
        )  # fmt: skip
    app = create_app(settings, runtime=runtime)
    url = dashboard_url(host, port)
    typer.echo(
        f"clearway dashboard: {url}  (sign in with an API key: `clearway users add NAME --role ROLE`)"
    )
    if open_browser:
        _open_when_listening(url, host, port)
    uvicorn.run(app, host=host, port=port, log_level="info")


def prepare_database(db_url: str, *, dev: bool) -> str | None:
    """Make the database ready to serve, or refuse it before anything else starts.

    In dev mode the migrations run (a fresh SQLite file gets its schema; an older one is
    brought up to date), as ``clearway db upgrade`` would. Outside dev mode nothing is changed:
    a database that is not at the code's revision is refused.

    Returns
    -------
    str or None
        What dev mode did to the schema, to print; ``None`` if nothing.

    Raises
    ------
    StorageError
        Outside dev mode, a database not at the current revision (the message says to run
        ``clearway db upgrade``); the database cannot be reached.
    """
    from clearway.storage.db import make_engine, redact
    from clearway.storage.migrate import require_current, upgrade

    if dev:
        before, after = upgrade(db_url)
        if before == after:
            return None
        done = "created the schema" if before is None else f"upgraded the schema from {before}"
        return f"dev mode: {done} of {redact(db_url)} (revision {after})"
    engine = make_engine(db_url)
    try:
        require_current(engine)
    finally:
        engine.dispose()
    return None


def field_runtime(config: Path, net_file: Path, *, tick_s: float = 1.0) -> ServiceRuntime:
    """The runtime on the field controllers of ``config``: refused, with every problem
    listed, unless the config matches the network and every credential reference resolves.

    Raises
    ------
    ConfigError
        Naming each mismatch (signal and what is wrong) or the unreadable reference.
    """
    from clearway.cli.field import load_checked, refuse_problems
    from clearway.service.clock import FIELD_CLOCK
    from clearway.service.runtime import ServiceRuntime

    cfg, net, _models, problems = load_checked(config, net_file)
    refuse_problems(config, problems)
    for c in cfg.controllers:
        c.credentials()  # read now: a missing secret stops the start, not the first tick
    return ServiceRuntime(None, field=cfg, net=net, clock=FIELD_CLOCK, tick_s=tick_s)


def _refuse_twin_options(
    net: Path | None,
    scenario: str | None,
    routes: list[Path] | None,
    speed: float | None,
    strategy: str,
    normal: str | None,
) -> None:
    if net is None or scenario is not None:
        raise ConfigError("--field needs --net NET.net.xml (the network its controllers are in) "
                          "and no --scenario")  # fmt: skip
    wrong = [name for name, given in (("--routes", routes), ("--speed", speed is not None),
                                      ("--normal", normal)) if given]  # fmt: skip
    if strategy != "corridor":
        wrong.append("--strategy")
    if wrong:
        raise ConfigError(
            f"{', '.join(wrong)}: not with --field (field controllers run in real time on their "
            "own programs, with the corridor strategy; demand is the real street's)"
        )


def dashboard_url(host: str, port: int) -> str:
    """The dashboard's URL for a server listening on ``host:port`` (a wildcard address is
    shown as localhost, which is where a browser on this machine reaches it)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _open_when_listening(url: str, host: str, port: int, timeout_s: float = 60.0) -> None:
    """Open ``url`` in a browser once the server accepts connections (on a thread: uvicorn
    runs in the foreground). No browser available: the URL printed is enough."""
    import contextlib
    import socket
    import threading
    import time
    import webbrowser

    target = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host

    def wait_then_open() -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            try:
                with socket.create_connection((target, port), timeout=1.0):
                    break
            except OSError:
                time.sleep(0.25)
        else:
            return
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(url, new=2)

    threading.Thread(target=wait_then_open, name="open-dashboard", daemon=True).start()


def _demo_keys(db_url: str) -> dict[str, str]:
    """Give each role's demo user of the (migrated) ``db_url`` a fresh key (made if missing)."""
    from clearway.storage.db import make_engine, session_factory, write_session
    from clearway.storage.models import ROLES
    from clearway.storage.users import add_user, issue_key, list_users

    engine = make_engine(db_url)
    keys = {}
    try:
        with write_session(session_factory(engine)) as s:
            names = {u.name for u in list_users(s)}
            for role in ROLES:
                name = f"demo-{role}"
                keys[role] = issue_key(s, name)[1] if name in names else add_user(s, name, role)[1]
    finally:
        engine.dispose()
    return keys
