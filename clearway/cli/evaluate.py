"""``clearway evaluate``: compare priority strategies on identical seeded traffic, over one
scenario or a sweep of scenarios × normal controllers (:mod:`clearway.evaluation.sweep`)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clearway.bootstrap import STRATEGIES
from clearway.cli.user_files_options import (
    AdditionalOption,
    NetOption,
    RoutesOption,
    SumocfgOption,
)
from clearway.errors import ClearwayError, ConfigError

if TYPE_CHECKING:
    from clearway.evaluation.evaluate import EvaluationResult, EvaluationSettings
    from clearway.evaluation.priority_scenarios import PrioritySetup
    from clearway.evaluation.sweep import SweepResult

console = Console()

DEFAULT_OUT = Path("clearway-out")


def evaluate_command(
    net: NetOption = None,
    routes: RoutesOption = None,
    additional: AdditionalOption = None,
    sumocfg: SumocfgOption = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            help="spillback, crossing, convoy, berlin, detour, or grid:NxM[:light|moderate|heavy]; "
            "comma-separated or repeated to sweep several (not with --net)."
        ),
    ] = None,
    priority: Annotated[
        list[str] | None,
        typer.Option(
            help="Priority trip FROM_EDGE:TO_EDGE@DEPART_S[:ROLE] (repeatable; replaces every "
            "--scenario's own trips). DEPART_S is a simulation time, at or after the begin."
        ),
    ] = None,
    convoy: Annotated[
        list[str] | None,
        typer.Option(help="Convoy FROM_EDGE:TO_EDGE@DEPART_S:N_VEHICLES (repeatable)."),
    ] = None,
    strategies: Annotated[
        str, typer.Option(help="Comma-separated strategies.")
    ] = "none,local,corridor",
    seeds: Annotated[int, typer.Option(help="Number of seeds (1, 2, ... N).")] = 5,
    begin_s: Annotated[
        float | None,
        typer.Option(
            help="Simulation begin of every run (s, SUMO --begin); default the --sumocfg's, or "
            "0. Needs your own --routes."
        ),
    ] = None,
    duration_s: Annotated[
        float | None,
        typer.Option(
            help="Simulated time per run from the begin (s); default the --sumocfg's end minus "
            "the begin, or 900."
        ),
    ] = None,
    bluelight: Annotated[
        bool, typer.Option(help="Give priority vehicles SUMO's blue-light device (all strategies).")
    ] = False,
    driver_noise: Annotated[
        bool,
        typer.Option(
            help="Keep the demand's random driver imperfection (sigma); off pairs runs exactly."
        ),
    ] = False,
    local_trigger_m: Annotated[
        float, typer.Option(help="Distance at which 'local' preempts a junction (m).")
    ] = 150.0,
    reroute: Annotated[
        bool,
        typer.Option(
            help="Re-route priority vehicles on the way when a clearly faster route opens "
            "(live travel times; their drivers take it)."
        ),
    ] = False,
    alert_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of the other drivers who follow the public alert feed (0-1): routed "
            "around the edges it announces; the same drivers for every strategy of a seed.",
        ),
    ] = 0.0,
    normal: Annotated[
        str,
        typer.Option(
            help="Normal control between holds: fixed-time, actuated or max-pressure; or "
            "nema: every signal run by a virtual NEMA controller, reached as field controllers "
            "are (phase controls); or nema-phases: fixed-time on the twin, holds limited to the "
            "states those controllers' phases show; comma-separated to sweep several."
        ),
    ] = "fixed-time",
    workers: Annotated[
        int | None, typer.Option(help="Simulations at once (default: CPU count).")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="Where runs execute: process (local pool) or ray.")
    ] = "process",
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address (--engine ray); default: a local Ray instance."),
    ] = None,
    backend: Annotated[str, typer.Option(help="libsumo (in-process) or traci.")] = "libsumo",
    timings: Annotated[
        Path | None, typer.Option(help="TOML file of per-junction safety-timing overrides.")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option(help="Where scenario files and outputs go.")
    ] = DEFAULT_OUT,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write rows and medians as JSON to this file.")
    ] = None,
    figures: Annotated[
        Path | None, typer.Option(help="Write time-space diagrams and a delay chart here.")
    ] = None,
    jsonl: Annotated[
        Path | None,
        typer.Option(help="Append one JSON line per run to this file as soon as it finishes."),
    ] = None,
    demand_scale: Annotated[
        float,
        typer.Option(help="Multiply the demand (SUMO --scale; priority trips are not scaled)."),
    ] = 1.0,
    avl_sigma_m: Annotated[
        float | None,
        typer.Option(
            help="Strategies hear the priority vehicles through an emulated AVL unit: GPS "
            "error, 1 sigma per axis (m). Any --avl-* option switches it on (default: the "
            "twin's exact positions); the others default to 0 m, 1 Hz, 0 s, 0."
        ),
    ] = None,
    avl_rate_hz: Annotated[
        float | None, typer.Option(help="AVL reports per second (Hz).")
    ] = None,
    avl_latency_s: Annotated[
        float | None, typer.Option(help="AVL delay from measurement to delivery (s).")
    ] = None,
    avl_drop: Annotated[
        float | None, typer.Option(help="Share of AVL reports lost (0 <= drop < 1).")
    ] = None,
) -> None:
    """Compare priority strategies (none, local, corridor) on identical seeded traffic.

    Several --scenario and --normal values sweep every scenario under every normal controller,
    all runs in one pool. Exits with code 1 after writing every output if any run failed (they
    are listed).
    """
    from clearway.cli.evaluate_tables import evaluation_tables
    from clearway.cli.scenarios import (
        print_notes,
        priority_setups,
        refuse_begin_without_demand,
        split_option,
        user_files,
    )
    from clearway.evaluation.evaluate import EvaluationSettings, check_normal
    from clearway.evaluation.priority_scenarios import with_demand_scale
    from clearway.evaluation.trip_spec import parse_convoy, parse_priority
    from clearway.signals.timings import load_overrides
    from clearway.sim.avl import AvlSettings
    from clearway.sim.scenario import check_demand_scale

    if backend not in ("libsumo", "traci"):
        raise ConfigError(f"--backend must be libsumo or traci, not {backend!r}")
    if engine not in ("process", "ray"):
        raise ConfigError(f"--engine must be process or ray, not {engine!r}")
    if address is not None and engine != "ray":
        raise ConfigError("--address is a Ray cluster address: give it with --engine ray")
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    if sumocfg is not None and scenario:
        raise ConfigError("--sumocfg brings its own network: give it or --scenario, not both")
    files = user_files(
        sumocfg, net=net, routes=routes, additional=additional, begin_s=begin_s,
        duration_s=duration_s,
    )  # fmt: skip
    refuse_begin_without_demand(files, scenario)
    if local_trigger_m <= 0:
        raise ConfigError(f"--local-trigger-m must be positive, got {local_trigger_m}")
    normals = tuple(check_normal(n) for n in split_option([normal]))
    if not normals:
        raise ConfigError("--normal needs at least one controller, e.g. fixed-time")
    check_demand_scale(demand_scale)
    avl = AvlSettings.from_options(avl_sigma_m, avl_rate_hz, avl_latency_s, avl_drop)
    names = tuple(s.strip() for s in strategies.split(",") if s.strip())
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown or not names:
        raise ConfigError(
            f"unknown strategies {unknown}; choose from {', '.join(STRATEGIES)}"
            if unknown
            else "--strategies needs at least one strategy, e.g. none,local,corridor"
        )
    requests = [parse_priority(p) for p in priority or ()] + [parse_convoy(c) for c in convoy or ()]
    if timings is not None:
        load_overrides(timings)  # refuse an unsafe or malformed timing file up front
    setups = priority_setups(
        files.net, list(files.routes), split_option(scenario), requests, out_dir=out_dir,
        additional=list(files.additional), begin_s=files.begin_s,
    )  # fmt: skip
    print_notes(files.notes)
    setups = [with_demand_scale(s, demand_scale) for s in setups]
    settings = EvaluationSettings(
        strategies=names,
        workers=workers or max(os.cpu_count() or 1, 1),
        engine=engine,
        address=address,
        driver_noise=driver_noise,
        backend=backend,
        timing_file=timings,
        local_trigger_m=local_trigger_m,
        normal=normals[0],
        avl=avl,
        reroute=reroute,
        alert_share=alert_share,
    )
    if files.routes and not driver_noise and seeds > 1:
        console.print(
            "[yellow]note:[/] with fixed route files (--routes or the --sumocfg's) and no driver "
            "noise every seed runs the same traffic; add --driver-noise, or give --net alone "
            "(seeded random demand)."
        )
    sweep = run_sweep(
        setups, normals, settings, seeds, files.duration_s, bluelight, out_dir, jsonl=jsonl
    )
    for result in sweep.results:
        for table in evaluation_tables(result):
            console.print(table)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(sweep.to_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(f"results written to {json_path}")
    if figures is not None:
        written = write_sweep_figures(sweep, figures)
        console.print(f"{len(written)} figures written to {figures}/")
    if jsonl is not None:
        console.print(f"one line per run appended to {jsonl}")
    if len(sweep.results) > 1:
        console.print(
            f"swept {len(sweep.results)} scenario × normal case(s), "
            f"{sum(len(r.rows) for r in sweep.results)} strategy row(s) in {sweep.wall_s:.0f} s"
        )
    if sweep.failed:
        console.print(f"[bold red]{len(sweep.failed)} run(s) failed[/] (listed above)")
        raise typer.Exit(code=1)


def run_sweep(
    setups: Sequence[PrioritySetup],
    normals: Sequence[str],
    settings: EvaluationSettings,
    seeds: int,
    duration_s: float | None,
    bluelight: bool,
    out_dir: Path,
    *,
    jsonl: Path | None = None,
) -> SweepResult:
    """Build every scenario's plan and run the whole sweep under one progress bar.

    Runs go to ``out_dir/evaluate/<scenario>`` (``.../<scenario>/<normal>`` when several
    cases); with ``jsonl`` every run's line is appended there as soon as it finishes
    (:func:`clearway.evaluation.sweep.evaluate_sweep`).
    """
    from clearway.evaluation.priority_scenarios import build_plan
    from clearway.evaluation.sweep import evaluate_sweep, run_count, sweep_cases

    with contextlib.ExitStack() as stack:
        on_run: Callable[[dict], None] | None = None
        if jsonl is not None:
            jsonl.parent.mkdir(parents=True, exist_ok=True)
            log = stack.enter_context(jsonl.open("a", encoding="utf-8"))

            def on_run(line: dict) -> None:
                log.write(json.dumps(line) + "\n")
                log.flush()  # a reader (or a crash) sees every finished run at once

        progress = stack.enter_context(
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("runs"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
        )
        task = progress.add_task("preparing", total=None)
        plans = []
        for setup in setups:
            progress.update(task, description=f"{setup.name}: preparing {seeds} seed(s)")
            try:
                plans.append(build_plan(setup, range(1, seeds + 1), duration_s=duration_s,
                                        bluelight=bluelight))  # fmt: skip
            except ClearwayError as exc:
                if len(setups) == 1:
                    raise
                # The same --priority goes to every scenario: say which one it does not fit.
                raise ConfigError(f"--scenario {setup.name}: {exc}") from exc
        cases = sweep_cases(plans, normals, out_dir / "evaluate")
        progress.update(task, total=run_count(cases, settings), completed=0, description="running")

        def on_progress(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=f"{what} done")

        return evaluate_sweep(cases, settings, on_progress=on_progress, on_run=on_run)


def write_sweep_figures(sweep: SweepResult, figures: Path) -> list[Path]:
    """Each case's figures: in ``figures`` for a lone case, else ``figures/<scenario>/<normal>``."""
    written = []
    for result in sweep.results:
        where = figures
        if len(sweep.results) > 1:
            where = figures / result.header["scenario"] / result.header["normal"]
        written += write_result_figures(result, where)
    return written


def write_result_figures(result: EvaluationResult, figures: Path) -> list[Path]:
    """Time-space diagrams of the first seed and the extra-delay chart."""
    from clearway.evaluation.figures import write_figures

    first = min(result.header["seeds"])
    # A failed run has no trace: its time-space diagram is left out.
    traces = {s: result.traces[(s, first)] for s in result.header["strategies"]
              if (s, first) in result.traces}  # fmt: skip
    return write_figures(
        figures, traces, result.rows, result.header["strategies"], result.header["scenario"], first
    )
