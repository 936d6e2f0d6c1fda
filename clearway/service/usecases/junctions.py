"""Use cases of junctions: intersection models, live state, per-junction normal strategy."""

from __future__ import annotations

from typing import Any

from clearway.errors import (
    UnknownJunctionError,
)
from clearway.service import live_state
from clearway.service.auth import Principal
from clearway.service.clock import utc_datetime
from clearway.service.context import ServiceContext
from clearway.service.schemas import (
    JunctionModel,
    JunctionStateOut,
    JunctionSummary,
    LinkOut,
    PhaseOut,
    ProgramOut,
    StrategyIn,
    StrategyOut,
)
from clearway.signals.model import Intersection


# -- junctions ----------------------------------------------------------------------------
def _find(ctx: ServiceContext, junction_id: str) -> Intersection:
    """The intersection by signal id, or by the id of a junction it drives."""
    net = ctx.require_network()
    inter = ctx.intersections.get(junction_id)
    if inter is not None:
        return inter
    for candidate in ctx.intersections.values():
        if junction_id in candidate.junction_ids:
            return candidate
    known = set(ctx.intersections) | set(net.signalised_junction_ids)
    raise UnknownJunctionError(junction_id, sorted(known), where=net._where)


def _summary(ctx: ServiceContext, inter: Intersection) -> dict[str, Any]:
    net = ctx.require_network()
    first = net.junctions.get(inter.junction_ids[0]) if inter.junction_ids else None
    return {
        "id": inter.signal_id,
        "junction_ids": list(inter.junction_ids),
        "link_count": inter.link_count,
        "x_m": first.x_m if first else 0.0,
        "y_m": first.y_m if first else 0.0,
    }


def list_junctions(ctx: ServiceContext) -> list[JunctionSummary]:
    """Every signalised junction of the network, by signal id."""
    ctx.require_network()
    return [JunctionSummary(**_summary(ctx, i)) for i in ctx.intersections.values()]


def junction_model(ctx: ServiceContext, junction_id: str) -> JunctionModel:
    """One junction's links, conflicts, safety timings and signal programs.

    Raises
    ------
    UnknownJunctionError
        Neither a signal id nor a signalised junction's id; names near matches.
    """
    inter = _find(ctx, junction_id)
    net = ctx.require_network()
    tl = net.traffic_light(inter.signal_id)
    by_index = {lk.signal_index: lk for lk in net.signal_links(inter.signal_id)}
    links = []
    for i, t in enumerate(inter.timings):
        lk = by_index.get(i)
        links.append(
            LinkOut(
                index=i,
                from_lane=lk.from_lane if lk else None,
                to_lane=lk.to_lane if lk else None,
                direction=lk.direction if lk else None,
                is_crossing=inter.is_crossing[i],
                min_green_s=t.min_green_s,
                yellow_s=t.yellow_s,
                clearance_s=t.clearance_s,
                foes=list(inter.foes_of(i)),
            )
        )
    programs = [
        ProgramOut(
            program_id=p.program_id,
            type=p.type,
            offset_s=p.offset_s,
            cycle_s=p.cycle_s,
            phases=[
                PhaseOut(
                    duration_s=ph.duration_s,
                    state=ph.state,
                    min_dur_s=ph.min_dur_s,
                    max_dur_s=ph.max_dur_s,
                )  # fmt: skip
                for ph in p.phases
            ],
        )
        for p in tl.programs.values()
    ]
    return JunctionModel(
        **_summary(ctx, inter),
        links=links,
        default_program_id=tl.default_program_id,
        programs=programs,
    )


def junction_state(ctx: ServiceContext, junction_id: str) -> JunctionStateOut:
    """One junction's live state: shown state, normal strategy, holds, requests there.

    Raises
    ------
    UnknownJunctionError
        Neither a signal id nor a signalised junction's id (404).
    ServiceUnavailableError
        No live runtime (503).
    """
    inter = _find(ctx, junction_id)
    view = ctx.require_runtime().view()
    state = live_state.junction_state(view, inter.signal_id)
    clock = ctx.traffic_clock()
    for r in state["requests"]:
        eta = r["eta_s"]
        r["eta_utc"] = utc_datetime(clock.to_utc_s(eta)) if clock and eta is not None else None
    return JunctionStateOut(**state)


def switch_strategy(
    ctx: ServiceContext, principal: Principal, junction_id: str, body: StrategyIn
) -> StrategyOut:
    """Run a junction under another normal strategy from the next tick (operators; audited
    when it changes). A signal held for a priority vehicle keeps its hold; the new strategy
    takes it back after recovery."""
    inter = _find(ctx, junction_id)
    changed = ctx.require_runtime().switch_strategy(inter.signal_id, body.strategy, principal.name)
    return StrategyOut(signal_id=inter.signal_id, strategy=body.strategy, changed=changed)
