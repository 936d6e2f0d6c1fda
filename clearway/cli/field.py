"""``clearway field``: junction configs of field controllers (NTCIP 1202 over SNMP).

``field config`` writes a config for signals of a network, ``field check`` checks one against
the network and, with ``--live``, asks each controller for its phase status once (read only:
nothing is set), ``field virtual`` runs the virtual street — the SUMO twin driven by virtual
controllers behind SNMP agents on 127.0.0.1 — to try ``clearway serve --field`` without
hardware.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from clearway.errors import ClearwayError, ConfigError
from clearway.field.config import (
    ControllerConfig,
    FieldConfig,
    check_config,
    config_for,
    load_config,
    write_config,
)
from clearway.network.model import Network

if TYPE_CHECKING:
    from clearway.field.virtual.dispatch import DispatchClient
from clearway.signals.model import Intersection

field_app = typer.Typer(
    help="Field controllers (NTCIP 1202 over SNMP): write, check and try junction configs.",
    no_args_is_help=True,
)
console = Console()

#: What ``field check --live`` found at one controller.
LiveResult = Literal["ok", "unreachable", "auth", "mismatch", "credentials", "error"]


@dataclass(frozen=True)
class LiveCheck:
    """One controller's answer to ``field check --live``.

    Attributes
    ----------
    result
        ``ok``; ``unreachable`` (no reply in time); ``auth`` (credentials refused);
        ``mismatch`` (it has fewer phases than configured, shows phases the config does not
        have, or answered other objects); ``credentials`` (the reference cannot be read);
        ``error`` (anything else).
    detail
        What it showed or what went wrong (never a secret).
    rtt_ms
        Round trip of the GET (ms; ``None`` without a reply).
    """

    result: LiveResult
    detail: str
    rtt_ms: float | None = None


def load_checked(
    config: Path, net_file: Path
) -> tuple[FieldConfig, Network, dict[str, Intersection], dict[str, list[str]]]:
    """The config, the network, its intersection models and each controller's problems
    against them (:func:`~clearway.field.config.check_config`, per signal id).

    Raises
    ------
    ConfigError
        The config or the network cannot be read.
    """
    from clearway.network import load_network
    from clearway.signals.build import build_intersections

    cfg = load_config(config)
    net = load_network(net_file)
    models = build_intersections(net, None)
    problems = {c.signal_id: check_config(FieldConfig((c,)), models, net) for c in cfg.controllers}
    return cfg, net, models, problems


def refuse_problems(config: Path, problems: Mapping[str, list[str]]) -> None:
    """Raise a ConfigError listing every problem, if there is any."""
    listed = [f"{sid}: {p}" for sid, ps in problems.items() for p in ps]
    if listed:
        raise ConfigError(
            f"junction config {str(config)!r} does not match the network ({len(listed)} "
            "problem(s)); fix them (`clearway field check` lists them):\n  " + "\n  ".join(listed)
        )


def probe(c: ControllerConfig, *, timeout_s: float = 2.0, retries: int = 0) -> LiveCheck:
    """One GET of a controller's phase count and phase status (greens, yellows); nothing is
    set. Never raises: what went wrong is the result."""
    import time

    from clearway.field.controls import phase_groups
    from clearway.field.ntcip import groups_to_phases, obj
    from clearway.field.snmp_client import (
        ControllerAuthError,
        ControllerReplyError,
        ControllerUnreachableError,
        SnmpRunner,
        SnmpTarget,
    )

    try:
        creds = c.credentials()
    except ConfigError as exc:
        return LiveCheck("credentials", str(exc))
    n_groups = phase_groups(c.phase_map)
    names = ("phaseStatusGroupGreens", "phaseStatusGroupYellows")
    oids = [obj("maxPhases").instance()]
    oids += [obj(n).instance(g) for n in names for g in range(1, n_groups + 1)]
    runner = SnmpRunner("clearway-field-check")
    try:
        client = runner.client(
            SnmpTarget(c.host, c.port, creds, timeout_s=timeout_s, retries=retries)
        )
        started = time.perf_counter()
        values = runner.run(client.get(oids), timeout_s=timeout_s * (retries + 1) + 5.0)
        rtt_ms = (time.perf_counter() - started) * 1e3
        runner.run(client.aclose(), timeout_s=5.0)
    except ControllerUnreachableError as exc:
        return LiveCheck("unreachable", str(exc))
    except ControllerAuthError as exc:
        return LiveCheck("auth", str(exc))
    except ControllerReplyError as exc:
        return LiveCheck("mismatch", str(exc))
    except (ClearwayError, OSError, TimeoutError) as exc:
        return LiveCheck("error", f"{type(exc).__name__}: {exc}")
    finally:
        runner.close()
    shown = {
        n: groups_to_phases({g: int(values[obj(n).instance(g)]) for g in range(1, n_groups + 1)})
        for n in names
    }
    max_phases = int(values[obj("maxPhases").instance()])
    top = max(p.number for p in c.phase_map.phases)
    unknown = (shown[names[0]] | shown[names[1]]) - c.phase_map.numbers
    if max_phases < top:
        return LiveCheck(
            "mismatch", f"it has {max_phases} phases; the config uses phase {top}", rtt_ms
        )
    if unknown:
        return LiveCheck(
            "mismatch",
            f"it shows phases {sorted(unknown)} that the config does not have; fix the config",
            rtt_ms,
        )
    greens = ",".join(map(str, sorted(shown[names[0]]))) or "none"
    return LiveCheck("ok", f"{max_phases} phases, green {greens}", rtt_ms)


@field_app.command("check")
def check_command(
    config: Annotated[Path, typer.Argument(help="Junction config (TOML).")],
    net: Annotated[Path, typer.Option(help="The SUMO network (.net.xml) its signals are in.")],
    live: Annotated[
        bool, typer.Option("--live", help="Also ask each controller once for its phase status.")
    ] = False,
    timeout_s: Annotated[float, typer.Option(help="With --live: per controller (s).")] = 2.0,
) -> None:
    """Check a junction config against the network (phase maps, timings) and, with --live,
    that each controller answers with the credentials and phases configured. Exits 1 on any
    problem."""
    cfg, _net, _models, problems = load_checked(config, net)
    table = Table(title=f"{config} ({len(cfg.controllers)} controllers)")
    for col in ("signal", "controller", "config", *(("live", "detail") if live else ())):
        table.add_column(col, overflow="fold")
    bad = 0
    answers: dict[str, LiveCheck] = {}
    if live:
        # Each controller in its own thread: a dead one costs one timeout, not one each.
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = {
                c.signal_id: pool.submit(probe, c, timeout_s=timeout_s) for c in cfg.controllers
            }
            answers = {sid: f.result() for sid, f in futures.items()}
    for c in cfg.controllers:
        found = problems[c.signal_id]
        row = [c.signal_id, f"{c.host}:{c.port} ({c.snmp})"]
        row.append("[green]ok[/]" if not found else "[red]" + "\n".join(found) + "[/]")
        bad += bool(found)
        if live:
            res = answers[c.signal_id]
            colour = "green" if res.result == "ok" else "red"
            rtt = f" ({res.rtt_ms:.1f} ms)" if res.rtt_ms is not None else ""
            row += [f"[{colour}]{res.result}[/]", res.detail + rtt]
            bad += res.result != "ok"
        table.add_row(*row)
    console.print(table)
    if bad:
        console.print(f"[bold red]{bad} problem(s)[/]")
        raise typer.Exit(1)
    console.print("[green]all controllers ok[/]")


@field_app.command("config")
def config_command(
    net: Annotated[Path, typer.Argument(help="SUMO network (.net.xml).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Where the config goes (TOML).")],
    signals: Annotated[
        str | None, typer.Option(help="Traffic-light ids, comma separated (default: all).")
    ] = None,
    host: Annotated[str, typer.Option(help="The controllers' address.")] = "127.0.0.1",
    first_port: Annotated[
        int, typer.Option(help="UDP port of the first; the next count up.")
    ] = 1161,
    credentials_ref: Annotated[
        str, typer.Option(help="Where the secret is: env:NAME or file:PATH (never the secret).")
    ] = "env:CLEARWAY_SNMP",
    backup_time_s: Annotated[
        float,
        typer.Option(help="unitBackupTime: silence after which a controller drops controls (s)."),
    ] = 10.0,
    snmp: Annotated[str, typer.Option(help="v3 (authPriv) or v2c.")] = "v3",
) -> None:
    """Write a junction config with one controller per signal, each phase map derived from
    the signal's default program: for the virtual street, and a start for an engineer."""
    from clearway.network import load_network
    from clearway.signals.build import build_intersections

    if snmp not in ("v3", "v2c"):
        raise ConfigError(f"--snmp must be v3 or v2c, not {snmp!r}")
    network = load_network(net)
    models = build_intersections(network, None)
    ids = [s.strip() for s in signals.split(",") if s.strip()] if signals else sorted(models)
    if not ids:
        raise ConfigError("--signals names no traffic light")
    cfg = config_for(network, models, ids, host, first_port, credentials_ref, backup_time_s,
                     snmp=snmp)  # type: ignore[arg-type]  # fmt: skip
    problems = {
        c.signal_id: check_config(FieldConfig((c,)), models, network) for c in cfg.controllers
    }
    write_config(out, cfg)
    last = cfg.controllers[-1].port
    console.print(f"wrote {out}: {len(ids)} controllers at {host}:{first_port}..{last}")
    refuse_problems(out, problems)


@field_app.command("virtual")
def virtual_command(
    config: Annotated[
        Path, typer.Argument(help="Junction config (TOML) of 127.0.0.1 controllers.")
    ],
    net: Annotated[Path, typer.Option(help="SUMO network (.net.xml).")],
    routes: Annotated[
        list[Path] | None,
        typer.Option(help="SUMO route files (repeatable; default random demand)."),
    ] = None,
    status: Annotated[
        Path | None, typer.Option(help="Write the street's status JSON here (every step).")
    ] = None,
    warmup_s: Annotated[
        float, typer.Option(help="Simulated time run before the agents listen (s).")
    ] = 0.0,
    end_s: Annotated[float, typer.Option(help="Simulated time the city runs for (s).")] = 3600.0,
    seed: Annotated[int, typer.Option(help="Random seed of demand and simulation.")] = 1,
    out_dir: Annotated[Path, typer.Option(help="Where scenario files go.")] = Path("clearway-out"),
    trip: Annotated[
        str | None,
        typer.Option(
            help="FROM_EDGE,TO_EDGE: play dispatch and the ambulance's AVL unit against "
            "--serve-url (API key of a dispatcher in $CLEARWAY_API_KEY)."
        ),
    ] = None,
    serve_url: Annotated[
        str | None, typer.Option(help="With --trip: the service, e.g. http://127.0.0.1:8000.")
    ] = None,
    trip_in_s: Annotated[
        float, typer.Option(help="With --trip: the ambulance leaves this long after the start (s).")
    ] = 30.0,
) -> None:
    """Run the virtual street in real time: the SUMO twin as the city, each configured signal
    driven by a virtual NTCIP controller behind its SNMP agent, until Ctrl-C or the end. With
    --trip it also asks the service for passage and sends the ambulance's GPS positions."""
    from clearway.cli.scenarios import resolve_scenario
    from clearway.field.virtual.dispatch import TripPlan
    from clearway.field.virtual.street import VirtualStreet
    from clearway.field.wiring import virtual_cabinets
    from clearway.sim.priority_trips import write_priority_vtype
    from clearway.sim.twin import SumoTwin

    cfg, network, models, problems = load_checked(config, net)
    refuse_problems(config, problems)
    cabinets = virtual_cabinets(cfg, network)
    dispatch, ends = _dispatch(trip, serve_url, network)
    sc = resolve_scenario(net, routes, None, seed=seed, end_s=end_s, out_dir=out_dir)
    vtype = write_priority_vtype(out_dir / "priority.vtype.add.xml")
    sc = replace(sc, additional_files=(*sc.additional_files, vtype))
    twin = SumoTwin.start(sc)
    try:
        if warmup_s > 0:
            twin.advance(warmup_s)
        trips = []
        if ends is not None:
            trips = [TripPlan("AMB-1", *ends, depart_s=twin.now_s() + trip_in_s, lead_s=10.0)]
        street = VirtualStreet(twin, network, models, cabinets, speed=1.0, status_path=status,
                               trips=trips, dispatch=dispatch)  # fmt: skip
        street.start_agents()
        try:
            table = Table(title="virtual controllers (SNMP agents)")
            for col in ("signal", "listens on", "snmp", "backup (s)"):
                table.add_column(col)
            for c in cfg.controllers:
                table.add_row(c.signal_id, f"127.0.0.1:{c.port}", c.snmp, f"{c.backup_time_s:g}")
            console.print(table)
            console.print(
                f"the street runs (traffic time {twin.now_s():.0f} s); try "
                f"`clearway serve --field {config} --net {net}`; Ctrl-C stops it",
                highlight=False,
            )
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: street.stop())
            st = street.run(max(end_s - twin.now_s(), 0.0))
        finally:
            street.close()
    finally:
        twin.close()
    console.print(f"stopped at traffic time {st.time_s:.0f} s; monitor violations: {st.violations}")
    for vid, t in st.trips.items():
        console.print(f"trip {vid}: request {t['request_id']}, departed {t['departed_s']}, "
                      f"arrived {t['arrived_s']}, stops {t['stops']}, error {t['error']}")  # fmt: skip


def _dispatch(
    trip: str | None, serve_url: str | None, net: Network
) -> tuple[DispatchClient | None, tuple[str, str] | None]:
    """The dispatch client and the trip's (from, to) edges of ``--trip`` (none without)."""
    import os

    from clearway.field.virtual.dispatch import DispatchClient

    if trip is None:
        if serve_url is not None:
            raise ConfigError("--serve-url is for --trip FROM_EDGE,TO_EDGE")
        return None, None
    ends = tuple(e.strip() for e in trip.split(","))
    if len(ends) != 2 or not all(ends):
        raise ConfigError(f"--trip takes FROM_EDGE,TO_EDGE, not {trip!r}")
    for e in ends:
        net.edge(e)  # an unknown edge is named here, not in the street
    if serve_url is None:
        raise ConfigError("--trip needs --serve-url (the clearway service to ask for passage)")
    key = os.environ.get("CLEARWAY_API_KEY")
    if not key:
        raise ConfigError("--trip needs a dispatcher's API key in $CLEARWAY_API_KEY")
    return DispatchClient(serve_url, key), (ends[0], ends[1])
