"""A whole replay of one request, as ``clearway replay`` and the service's re-run both do it:
read and verify the log, rebuild the corridor, re-run the same demand under none, local and
corridor, write the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from clearway.sim.scenario import Scenario


def replay_request(
    sessions: sessionmaker[Session],
    request_id: str,
    out_dir: Path,
    *,
    workers: int = 1,
    scenario_for: Callable[[dict[str, Any]], Scenario] | None = None,
    seed: int | None = None,
    on_note: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Replay ``request_id`` from the log in ``sessions``; the report's paths by kind.

    Parameters
    ----------
    sessions
        The service's database.
    request_id
        The request (``pr-...``).
    out_dir
        Where ``replay.md``, ``replay.json``, the figure and the runs go.
    workers
        Simulations at once.
    scenario_for
        Builds the scenario to re-run on from the logged run (``None``: the logged files).
    seed
        SUMO seed instead of the logged one.
    on_note
        Told why a request whose route is gone (past its retention) is reported from the log
        alone, without a re-run.

    Raises
    ------
    ReplayError
        The request is unknown, the chain does not verify, or the scenario cannot be found.
    """
    from clearway.replay.report import write_replay_report
    from clearway.replay.rerun import logged_scenario, plan_replay, require_route, run_replay
    from clearway.replay.source import RouteUnknownError, read_incident

    incident = read_incident(sessions, request_id)
    try:
        require_route(incident.stored)
    except RouteUnknownError as exc:
        # Where the vehicle went is gone: what the log shows is still worth reporting.
        if on_note is not None:
            on_note(str(exc))
        return write_replay_report(incident, None, None, out_dir, not_rerun=str(exc))
    run = incident.log.run or {}
    sc = logged_scenario(incident.log.run) if scenario_for is None else scenario_for(run)
    if seed is not None:
        sc = replace(sc, seed=seed)
    plan = plan_replay(incident.log, incident.stored, sc, overridden=scenario_for is not None)
    result = run_replay(plan, out_dir / "runs", workers=workers)
    return write_replay_report(incident, plan, result, out_dir)


__all__ = ["replay_request"]
