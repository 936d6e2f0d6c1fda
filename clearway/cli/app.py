"""The ``clearway`` command line (typer + rich): run, demo, network info."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from clearway.bootstrap import STRATEGIES
from clearway.cli.evaluate import evaluate_command
from clearway.cli.field import field_app
from clearway.cli.loadtest import loadtest_command
from clearway.cli.osm import import_osm_command
from clearway.cli.replay import replay_command
from clearway.cli.report import report_app
from clearway.cli.serve import serve_command
from clearway.cli.storage_cmds import register_storage_commands
from clearway.cli.tables import network_table, problems_table, results_table
from clearway.cli.user_files_options import (
    AdditionalOption,
    NetOption,
    RoutesOption,
    SumocfgOption,
)
from clearway.errors import ClearwayError, ConfigError

app = typer.Typer(
    name="clearway",
    help="Free passage for emergency vehicles through a city's signals, from aggregate data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
network_app = typer.Typer(help="Inspect road networks.", no_args_is_help=True)
app.add_typer(network_app, name="network")
app.add_typer(field_app, name="field")
app.command("evaluate")(evaluate_command)
app.command("replay")(replay_command)
app.add_typer(report_app, name="report")
app.command("import-osm")(import_osm_command)
app.command("serve")(serve_command)
app.command("loadtest")(loadtest_command)
register_storage_commands(app)

console = Console()
err_console = Console(stderr=True)

DEFAULT_OUT = Path("clearway-out")


def main() -> None:
    """Entry point of the ``clearway`` console script: clean errors instead of tracebacks."""
    try:
        app()
    except ClearwayError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None


#: Simulated time of ``clearway run`` without --duration-s (or a --sumocfg end) (s).
DEFAULT_RUN_DURATION_S = 1800.0


@app.command()
def run(
    net: NetOption = None,
    routes: RoutesOption = None,
    additional: AdditionalOption = None,
    sumocfg: SumocfgOption = None,
    scenario: Annotated[
        str | None, typer.Option(help="Built-in scenario, e.g. grid:5x5 or grid:5x5:heavy.")
    ] = None,
    strategy: Annotated[str, typer.Option(help="Signal strategy.")] = "fixed-time",
    backend: Annotated[str, typer.Option(help="libsumo (in-process) or traci.")] = "libsumo",
    seed: Annotated[int, typer.Option(help="Random seed of demand and simulation.")] = 1,
    begin_s: Annotated[
        float | None,
        typer.Option(help="Simulation begin (s, SUMO --begin); default the --sumocfg's, or 0."),
    ] = None,
    duration_s: Annotated[
        float | None,
        typer.Option(
            help="Simulated time from the begin (s); default the --sumocfg's end minus the "
            f"begin, or {DEFAULT_RUN_DURATION_S:g}."
        ),
    ] = None,
    timings: Annotated[
        Path | None, typer.Option(help="TOML file of per-junction safety-timing overrides.")
    ] = None,
    out_dir: Annotated[Path, typer.Option(help="Where scenario files and outputs go.")] = DEFAULT_OUT,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the results as JSON to this file.")
    ] = None,
    demand_scale: Annotated[
        float, typer.Option(help="Multiply the demand (SUMO --scale; 2 = twice the vehicles).")
    ] = 1.0,
) -> None:
    """Run a signal strategy on a network in the SUMO twin and print its results."""
    from clearway.cli.scenarios import (
        print_notes,
        refuse_begin_without_demand,
        resolve_scenario,
        user_files,
    )
    from clearway.evaluation.run import run_scenario
    from clearway.network import load_network
    from clearway.network.loader import require_traffic_lights
    from clearway.signals.timings import load_overrides
    from clearway.sim.scenario import check_demand_scale

    if backend not in ("libsumo", "traci"):
        raise typer.BadParameter(f"backend must be libsumo or traci, not {backend!r}")
    if strategy not in STRATEGIES:
        raise typer.BadParameter(f"unknown strategy {strategy!r}; choose one of {sorted(STRATEGIES)}")
    check_demand_scale(demand_scale)  # before any file is built
    if sumocfg is not None and scenario is not None:
        raise ConfigError("--sumocfg brings its own network: give it or --scenario, not both")
    files = user_files(
        sumocfg, net=net, routes=routes, additional=additional, begin_s=begin_s,
        duration_s=duration_s,
    )  # fmt: skip
    refuse_begin_without_demand(files, scenario)
    print_notes(files.notes)
    duration = files.duration_s or DEFAULT_RUN_DURATION_S
    network = None
    if files.net is not None:
        # Read and check the network first: a broken file should be named before any demand
        # is generated for it.
        network = load_network(files.net)
        require_traffic_lights(network)
    if timings is not None:
        load_overrides(timings)  # refuse an unsafe or malformed timing file up front
    sc = resolve_scenario(
        files.net, list(files.routes), scenario, seed=seed, end_s=files.begin_s + duration,
        out_dir=out_dir, additional=files.additional, begin_s=files.begin_s,
    )  # fmt: skip
    sc = dataclasses.replace(sc, demand_scale=demand_scale)
    result = _run_with_progress(
        lambda on_tick: run_scenario(
            sc,
            strategy=strategy,
            backend=backend,
            duration_s=duration,
            timing_file=timings,
            out_dir=out_dir / "runs",
            on_tick=on_tick,
            net=network,
        ),
        f"{sc.name} · {strategy}",
        duration,
    )
    console.print(results_table([result]))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(f"results written to {json_path}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option(help="Where results go.")] = Path("demo-results"),
    duration_s: Annotated[float, typer.Option(help="Simulated time per run (s).")] = 1800.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    priority_seeds: Annotated[
        int, typer.Option(help="Seeds of the priority comparison (0 skips it).")
    ] = 3,
) -> None:
    """Run fixed-time control on the bundled 5x5 grid and on a real city network, then compare
    free passage for an ambulance (none / local / corridor) on the spillback grid.

    Exits with code 1 after writing everything if any run of the comparison failed (listed).
    """
    from clearway.cli.scenarios import demo_scenarios
    from clearway.evaluation.run import run_scenario

    results = []
    for sc in demo_scenarios(out_dir, seed=seed, end_s=duration_s):
        result = _run_with_progress(
            lambda on_tick, sc=sc: run_scenario(
                sc, duration_s=duration_s, out_dir=out_dir / "runs", on_tick=on_tick
            ),
            sc.name,
            duration_s,
        )
        console.print(results_table([result], title=f"clearway demo — {sc.name}"))
        results.append(result)
        (out_dir / f"{sc.name}.json").write_text(
            json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
    failed = _demo_priority(out_dir, priority_seeds) if priority_seeds > 0 else []
    console.print(f"results written to {out_dir}/")
    if failed:
        # `make demo` must fail: a comparison with missing runs is not the demo's result.
        console.print(f"[bold red]{len(failed)} run(s) of the priority comparison failed:[/]")
        for f in failed:
            seed = "" if f["seed"] is None else f", seed {f['seed']}"
            console.print(f"  {f['scenario']} · {f['label']}{seed}: {f['error']}")
        raise typer.Exit(code=1)


def _demo_priority(out_dir: Path, seeds: int) -> list[dict]:
    """The strategies side by side on one scenario, with its JSON and figures.

    Returns the runs that failed (``scenario``, ``label``, ``seed``, ``error`` ...); whatever
    ran is still printed and written.
    """
    import os

    from clearway.cli.evaluate import run_sweep, write_result_figures
    from clearway.cli.evaluate_tables import evaluation_tables
    from clearway.evaluation.evaluate import EvaluationSettings
    from clearway.evaluation.priority_scenarios import named_setup

    setup = named_setup("spillback", out_dir)
    settings = EvaluationSettings(workers=max(os.cpu_count() or 1, 1))
    sweep = run_sweep([setup], [settings.normal], settings, seeds, None, False, out_dir)
    (result,) = sweep.results
    for table in evaluation_tables(result):
        console.print(table)
    (out_dir / "priority-spillback.json").write_text(
        json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    write_result_figures(result, out_dir / "figures")
    return list(sweep.failed)


@network_app.command("info")
def network_info(
    path: Annotated[Path, typer.Argument(help="SUMO network file.")],
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the summary as JSON.")] = None,
) -> None:
    """Junction and signal counts of a network, and any problems found in it."""
    from clearway.network import load_network
    from clearway.network.diagnostics import network_problems, network_summary
    from clearway.signals.build import build_intersections
    from clearway.signals.programs import unsafe_phases

    net = load_network(path)
    summary = network_summary(net)
    problems = network_problems(net)
    try:
        models = build_intersections(net)
    except ClearwayError as exc:
        problems.append(f"intersection models could not be built: {exc}")
    else:
        for sid, model in models.items():
            for program in net.traffic_lights[sid].programs.values():
                problems.extend(unsafe_phases(model, program))
    console.print(network_table(path, summary))
    console.print(problems_table(problems))
    if json_path is not None:
        json_path.write_text(json.dumps({"summary": summary, "problems": problems}, indent=2) + "\n")


def _run_with_progress(fn, label: str, duration_s: float):
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s simulated"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=duration_s)
        start: list[float] = []

        def on_tick(now_s: float) -> None:
            if not start:
                start.append(now_s - 1.0)
            progress.update(task, completed=now_s - start[0])

        return fn(on_tick)
