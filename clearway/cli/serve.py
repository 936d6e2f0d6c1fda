"""``clearway serve``: the HTTP service with a live runtime (SUMO twin + corridor priority)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from clearway.bootstrap import NORMAL_STRATEGIES, PRIORITY_STRATEGIES
from clearway.errors import ConfigError


def serve_command(
    scenario: Annotated[
        str | None, typer.Option(help="Built-in city: grid:NxM[:light|moderate|heavy].")
    ] = None,
    net: Annotated[Path | None, typer.Option(help="SUMO network (.net.xml) instead.")] = None,
    routes: Annotated[
        list[Path] | None, typer.Option(help="SUMO route files for --net (repeatable).")
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second; 0 = as fast as possible.")
    ] = 1.0,
    strategy: Annotated[str, typer.Option(help="Priority strategy.")] = "corridor",
    normal: Annotated[str, typer.Option(help="Normal control between holds.")] = "fixed-time",
    end_s: Annotated[float, typer.Option(help="Simulated time the city runs for (s).")] = 3600.0,
    seed: Annotated[int, typer.Option(help="Random seed of demand and simulation.")] = 1,
    db: Annotated[
        str | None, typer.Option(help="Database URL (default $CLEARWAY_DB_URL or sqlite).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    dev: Annotated[
        bool, typer.Option(help="Development mode: a random token secret if none is set.")
    ] = False,
    out_dir: Annotated[Path, typer.Option(help="Where scenario files go.")] = Path("clearway-out"),
) -> None:
    """Serve the API with a live simulated city: priority requests clear the way through its
    signals. Outside --dev, CLEARWAY_TOKEN_SECRET must be set to a strong secret."""
    import uvicorn

    from clearway.cli.scenarios import resolve_scenario
    from clearway.service.app import create_app
    from clearway.service.runtime import ServiceRuntime
    from clearway.service.settings import ServiceSettings

    if strategy not in PRIORITY_STRATEGIES:
        raise ConfigError(f"--strategy must be one of {', '.join(PRIORITY_STRATEGIES)}")
    if normal not in NORMAL_STRATEGIES:
        raise ConfigError(f"--normal must be one of {', '.join(NORMAL_STRATEGIES)}")
    opts: dict[str, Any] = {"dev": dev}
    if db is not None:
        opts["db_url"] = db
    # Settings first: a default secret is refused before SUMO or the database is touched.
    settings = ServiceSettings(**opts).check_secrets()
    sc = resolve_scenario(net, routes, scenario, seed=seed, end_s=end_s, out_dir=out_dir)
    runtime = ServiceRuntime(sc, strategy=strategy, normal=normal, speed=speed)
    app = create_app(settings, runtime=runtime)
    uvicorn.run(app, host=host, port=port, log_level="info")
