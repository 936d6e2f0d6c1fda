"""The filled hold state (:func:`fill_compatible`), judged by the independent oracle.

From any state a junction of the real nets may show and any real movement claimed there, the
hold's target with every compatible movement added: shows no conflicting greens, leaves the
claimed greens as they were, adds only links that are no foe (in the raw junction data) of
any green — so never a movement the priority vehicle would have to yield to — and leaves red
only links that are.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearway.control.priority.arbitration import claim_links, priority_state
from clearway.control.priority.hold_state import fill_compatible, phase_hold_state

from .conftest import NetCase
from .oracle import GREEN
from .test_priority_properties import examples

pytestmark = pytest.mark.sumo


def _draw_claim(case: NetCase, data):
    """A signal of ``case``, one of its movements' claim and its program's phase states, or
    ``None`` for a signal with no vehicle movement."""
    sid = data.draw(st.sampled_from(case.signal_ids), label="signal")
    sig, model = case.oracles[sid], case.models[sid]
    moves = sorted(
        {(lk.from_edge, lk.to_edge) for lk in case.net.signal_links(sid) if not lk.is_crossing}
    )
    if not moves:
        return None
    a, b = data.draw(st.sampled_from(moves), label="movement")
    core, links = claim_links(case.net, sid, a, b)
    return sid, sig, model, core, links, case.phase_states(sid)


@examples(80)
@given(data=st.data())
def test_filled_hold_is_safe_keeps_the_claim_and_leaves_red_only_foes(
    net_case: NetCase, data
) -> None:
    drawn = _draw_claim(net_case, data)
    if drawn is None:
        return
    sid, sig, model, core, links, phases = drawn
    current = data.draw(st.sampled_from([s for s in phases if not sig.r1_pairs(s)]), label="now")
    bare = priority_state(model, links, current, core=core)
    filled = fill_compatible(model, bare, phases)

    assert len(filled) == len(bare)
    assert not sig.r1_pairs(filled), (sid, bare, filled)
    greens = [i for i, c in enumerate(filled) if c in GREEN]
    for i, (was, now) in enumerate(zip(bare, filled, strict=True)):
        if was in GREEN or i in sig.fixed_off:
            assert now == was, f"link {i} of the claim or off changed: {bare} -> {filled}"
        elif now in GREEN:
            assert now == "G"
            assert not any((i, j) in sig.foe for j in greens if j != i), (
                f"added link {i} meets a green's path: {filled}"
            )
        else:
            assert now == was
            if sig.driven[i]:
                assert any((i, j) in sig.foe for j in greens), (
                    f"link {i} left red though it meets no green: {bare} -> {filled}"
                )


@examples(80)
@given(data=st.data())
def test_phase_shaped_hold_is_safe_and_shows_no_foe_of_the_vehicle_green(
    net_case: NetCase, data
) -> None:
    drawn = _draw_claim(net_case, data)
    if drawn is None:
        return
    sid, sig, model, core, links, phases = drawn
    shaped = phase_hold_state(model, phases, core, links)
    if shaped is None:
        return
    for state in (shaped, fill_compatible(model, shaped, phases)):
        assert len(state) == len(phases[0])
        assert not sig.r1_pairs(state), (sid, sorted(core), state)
        assert all(state[i] == "G" for i in core if i not in sig.fixed_off), (sid, state)
        for i, c in enumerate(state):
            # The claim's other movements leave from the vehicle's own lanes (ahead of it); a
            # link from anywhere else must not cross its path.
            if c in GREEN and i not in links:
                assert not any((i, j) in sig.foe or (j, i) in sig.foe for j in core), (
                    f"link {i} meets the vehicle's path but is green: {state}"
                )
