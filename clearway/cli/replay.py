"""``clearway replay``: rebuild a past request's corridor from the audit log, re-run its demand
on the twin under every strategy, and write a report (markdown, JSON, time–space diagram)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from clearway.errors import ClearwayError, ConfigError, StorageError

if TYPE_CHECKING:
    from clearway.sim.scenario import Scenario

console = Console()
err_console = Console(stderr=True)

DEFAULT_REPLAY_DIR = Path("clearway-out") / "replay"


def replay_command(
    request_id: Annotated[str, typer.Argument(help="The request's id (pr-...).")],
    db: Annotated[
        str | None, typer.Option(help="The service's database URL (default $CLEARWAY_DB_URL).")
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(help="Re-run on grid:NxM[:load] instead of the logged scenario files."),
    ] = None,
    sumocfg: Annotated[
        Path | None, typer.Option(help="Re-run on this SUMO configuration instead.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="SUMO seed instead of the logged one.")] = None,
    workers: Annotated[int, typer.Option(help="Simulations at once.")] = 2,
    out_dir: Annotated[
        Path, typer.Option(help="Where replay.md, replay.json and the figure go.")
    ] = DEFAULT_REPLAY_DIR,
) -> None:
    """Replay a past incident: verify the audit chain, rebuild the request's holds, advice
    and decisions from it, re-run the same demand under none, local and corridor, and write
    the comparison with a time–space diagram. Exits with code 2 and says why if the request
    is unknown, the chain does not verify or the scenario cannot be found."""
    try:
        paths = _replay(request_id, db, scenario, sumocfg, seed, workers, out_dir)
    except ClearwayError as exc:
        # As the app's main() does, so the exit code holds under typer's test runner too.
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    console.print(
        f"replay report written to {paths['markdown']} ({', '.join(p.name for p in paths.values())})"
    )


def _replay(
    request_id: str,
    db: str | None,
    scenario: str | None,
    sumocfg: Path | None,
    seed: int | None,
    workers: int,
    out_dir: Path,
) -> dict[str, Path]:
    from clearway.replay.job import replay_request
    from clearway.storage.db import make_engine, parse_db_url, session_factory

    if scenario is not None and sumocfg is not None:
        raise ConfigError("give --scenario or --sumocfg, not both")
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    url = parse_db_url(db)
    path = url.database if url.get_backend_name() == "sqlite" else None
    if path and path != ":memory:" and not Path(path).is_file():
        # Opening it would create an empty file: say what is wrong instead.
        raise StorageError(f"no database file at {path}: give the service's database (--db)")

    def instead(run: dict) -> Scenario:
        return _override(scenario, sumocfg, run, seed, out_dir)

    engine = make_engine(db)
    try:
        return replay_request(
            session_factory(engine), request_id, out_dir, workers=workers,
            scenario_for=instead if scenario is not None or sumocfg is not None else None,
            seed=seed,
            on_note=lambda why: err_console.print(f"[yellow]note:[/] {why}"),
        )  # fmt: skip
    finally:
        engine.dispose()


def _override(
    scenario: str | None, sumocfg: Path | None, run: dict, seed: int | None, out_dir: Path
) -> Scenario:
    """The scenario given instead of the logged one, with the logged seed and end."""
    from clearway.cli.scenarios import resolve_scenario, user_files

    seed_ = seed if seed is not None else int(run.get("seed", 1))
    end_s = float(run.get("end_s", 3600.0))
    if sumocfg is not None:
        files = user_files(sumocfg, net=None, routes=None, additional=None, begin_s=None,
                           duration_s=None)  # fmt: skip
        end = files.begin_s + (files.duration_s or end_s)
        return resolve_scenario(files.net, list(files.routes), None, seed=seed_, end_s=end,
                                out_dir=out_dir, additional=list(files.additional),
                                begin_s=files.begin_s)  # fmt: skip
    return resolve_scenario(None, None, scenario, seed=seed_, end_s=end_s, out_dir=out_dir)
