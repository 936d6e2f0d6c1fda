"""The public transparency report: what clearway did in a day or a month, as aggregates only.

Read from the audit log and the stored requests; nothing of a single request is published.
Every cell is computed from a number of requests; a cell computed from fewer than ``k``
(at least :data:`MIN_K` = 5) is published as ``{"value": null, "suppressed": "fewer than 5
requests"}``. A cell that clearway cannot compute from what it records says so
(``not_estimated`` / ``not_recorded``) rather than showing an invented figure.

Where each figure comes from:

requests_by_role, requests
    Requests whose ``created`` audit record falls in the period (UTC); the role is the
    stored request's.
outcomes
    completed / cancelled / expired / rejected: the request's final audit record;
    unfinished: none yet; flagged: at least one ``request.flagged`` record (a position of
    its vehicle was refused).
time_saved_median_s
    Per completed request: the no-priority estimate of its route
    (:mod:`clearway.network.no_priority`: free-flow time plus the expected red wait at its
    signals under their own programs) minus its trip, the traffic time from the ``active``
    record (first position) to the ``completed`` one. Needs the network and the planned
    route (kept until the places are redacted after the retention period); requests
    without them, or whose trip spans a service restart, are not counted.
holds_per_junction
    Requests per signal held for them: the signals on the planned route (network given),
    else those the ``served`` record names (commanded or waiting). Only signals with at
    least ``k`` requests are listed; the others are summed into one suppressed cell.
guard_rejections
    ``signal.rejected`` records (commands the safety guard refused, of any controller).
monitor_violations
    ``monitor.violation`` records (what the independent safety monitor saw in the signal
    states actually shown; each record's ``count``, 1 unless past the monitor's kept cap).
others_extra_delay
    The estimated extra delay of everyone else at the junctions held for the period's
    requests (veh·h): the sum of their ``hold.ended`` records' ``others_delay_veh_h`` (the
    queue each hold added at its junction, from detector queues, until its recovery ended;
    a hold for several requests is shared equally). Published over the requests that have
    such an estimate (k floor); a period with none says it was not estimated.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearway.errors import ConfigError
from clearway.storage.chain import GENESIS_HASH, iso_utc
from clearway.storage.models import AuditRecordRow, PriorityRequestRow, as_utc, utcnow
from clearway.storage.signed_head import report_digest, sign_head

#: The smallest k ever used: no published cell is computed from fewer requests.
MIN_K = 5
ROLES = ("ambulance", "fire", "police", "convoy", "transit", "other")
OUTCOMES = ("completed", "cancelled", "expired", "rejected", "unfinished", "flagged")
FLAGGED_KIND = "request.flagged"
_PERIOD = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
NOT_ESTIMATED_DELAY = (
    "not estimated: no hold of these requests has a detector estimate of other road users' "
    "extra delay (no detector state was read; clearway evaluate measures it in simulation)"
)
HOLD_KIND = "hold.ended"
#: How long after a period's end a hold of its requests may still end (a request lives
#: hours at most; its last hold's recovery ends minutes after it).
HOLD_TAIL = timedelta(days=1)
MONITOR_KIND = "monitor.violation"
METHOD = (
    "Aggregates only. A cell computed from fewer than k requests is suppressed (null). "
    "Requests are counted on the UTC day of their creation. Time saved: the no-priority "
    "estimate of the planned route (free-flow time plus the expected red wait at its signals "
    "under their own programs, no queue) minus the trip from the first position to arrival; "
    "a cautious figure. Holds per junction: requests per signal on their planned route (or "
    "named by the first control decision that served them). Guard rejections: commands the "
    "safety guard refused. Monitor violations: breaches of the safety rules the independent "
    "monitor saw in the signal states shown (recorded since the service writes them). "
    "Others' extra delay: the queue each hold added at its junction until its recovery "
    "ended, from detector queues against that junction's mean queue in normal operation "
    "(Little's law), summed (veh·h); slowdowns that do not queue and spill-back upstream are "
    "not seen. The audit chain's head is published signed with Ed25519."
)
#: A route's no-priority estimate: (estimate s, signal ids on the route), or None.
Estimator = Callable[[Sequence[str]], tuple[float, Sequence[str]] | None]


@dataclass(frozen=True, slots=True)
class Period:
    """A UTC day or month: ``label`` as given, ``start`` inclusive, ``end`` exclusive."""

    label: str
    kind: str
    start: datetime
    end: datetime

    def days(self) -> list[date]:
        """Every day of the period."""
        n = (self.end - self.start).days
        return [(self.start + timedelta(days=i)).date() for i in range(n)]


def parse_period(month: str | None = None, day: str | None = None) -> Period:
    """The period of ``--month YYYY-MM`` or ``--day YYYY-MM-DD`` (default: this month, UTC).

    Raises
    ------
    ConfigError
        Both given, or a malformed or impossible date.
    """
    if month and day:
        raise ConfigError("give --month or --day, not both")
    text = day or month or utcnow().strftime("%Y-%m")
    m = _PERIOD.match(text)
    if m is None or (day is not None and m.group(3) is None) or (month and m.group(3)):
        raise ConfigError(f"{text!r} is not a month YYYY-MM or a day YYYY-MM-DD")
    try:
        y, mo = int(m.group(1)), int(m.group(2))
        if m.group(3) is None:
            start = datetime(y, mo, 1, tzinfo=UTC)
            end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=UTC)
            return Period(text, "month", start, end)
        start = datetime(y, mo, int(m.group(3)), tzinfo=UTC)
    except ValueError as exc:
        raise ConfigError(f"{text!r} is not a date: {exc}") from None
    return Period(text, "day", start, start + timedelta(days=1))


def check_k(k: int) -> int:
    """``k`` if it is at least :data:`MIN_K`; else :class:`ConfigError`."""
    if k < MIN_K:
        raise ConfigError(f"k = {k} is below the floor of {MIN_K}: use k >= {MIN_K}")
    return k


@dataclass(slots=True)
class RequestFacts:
    """What the report needs of one request (kept in memory only, never published).

    ``active_s`` and ``done_s``: traffic times (s) of its ``active`` and ``completed``
    records; ``restarted``: a ``restored`` record lies between (the clock may have restarted).
    """

    created_at: datetime
    role: str = "other"
    outcome: str = "unfinished"
    flagged: bool = False
    route: tuple[str, ...] = ()
    served_signals: set[str] = field(default_factory=set)
    active_s: float | None = None
    done_s: float | None = None
    restarted: bool = False
    #: Its share of its holds' estimated cost to everyone else (veh·h), if any was estimated.
    others_delay_veh_h: float | None = None

    @property
    def trip_s(self) -> float | None:
        """Traffic time from the first position to arrival (s), if the records give it."""
        if self.outcome != "completed" or self.restarted:
            return None
        if self.active_s is None or self.done_s is None or self.done_s <= self.active_s:
            return None
        return self.done_s - self.active_s


def cell(value: Any, n: int, k: int) -> dict[str, Any]:
    """A published figure computed from ``n`` requests, or a suppressed one if ``n < k``."""
    if n < k:
        return {"value": None, "suppressed": f"fewer than {k} requests"}
    return {"value": value, "requests": n}


def aggregate(
    facts: Iterable[RequestFacts],
    rejections: int,
    k: int,
    estimator: Estimator | None,
    violations: int = 0,
) -> dict[str, Any]:
    """The cells of one period from its requests, its guard-rejection count and its count of
    monitor violations (not per request: never suppressed, like guard rejections)."""
    facts = list(facts)
    roles = Counter(f.role for f in facts)
    outcomes = Counter(f.outcome for f in facts)
    outcomes["flagged"] = sum(f.flagged for f in facts)
    saved: list[float] = []
    holds: Counter[str] = Counter()
    for f in facts:
        est = estimator(f.route) if estimator is not None and f.route else None
        trip_s = f.trip_s
        if est is not None and trip_s is not None:
            saved.append(est[0] - trip_s)
        holds.update(set(est[1]) if est is not None else f.served_signals)
    listed = {j: cell(n, n, k) for j, n in sorted(holds.items()) if n >= k}
    hidden = sum(n for n in holds.values() if n < k)
    out: dict[str, Any] = {
        "requests": cell(len(facts), len(facts), k),
        "requests_by_role": {r: cell(roles[r], roles[r], k) for r in ROLES},
        "outcomes": {o: cell(outcomes[o], outcomes[o], k) for o in OUTCOMES},
        "time_saved_median_s": cell(
            round(statistics.median(saved), 1) if saved else None, len(saved), k
        ),
        "others_extra_delay": _delay_cell(facts, k),
        "holds_per_junction": listed,
        "guard_rejections": {"value": rejections, "records": rejections},
        "monitor_violations": {"value": violations, "records": violations},
    }
    if hidden:
        out["holds_other_junctions"] = {"value": None, "suppressed": f"fewer than {k} requests"}
    if estimator is None:
        out["time_saved_median_s"] = {
            "value": None,
            "not_estimated": "no network to estimate the no-priority time from",
        }
    return out


def _delay_cell(facts: Sequence[RequestFacts], k: int) -> dict[str, Any]:
    """Others' extra delay (veh·h) summed over the requests with an estimate."""
    known = [f.others_delay_veh_h for f in facts if f.others_delay_veh_h is not None]
    if not known:
        return {"value": None, "not_estimated": NOT_ESTIMATED_DELAY}
    return {**cell(round(sum(known), 3), len(known), k), "unit": "veh·h"}


def _note_holds(session: Session, period: Period, facts: Mapping[str, RequestFacts]) -> None:
    """Add each request's share of its holds' estimated cost (``hold.ended`` records)."""
    audit = AuditRecordRow
    window = (audit.recorded_at >= period.start) & (audit.recorded_at < period.end + HOLD_TAIL)
    for (payload,) in session.execute(
        select(audit.payload).where(window, audit.kind == HOLD_KIND).order_by(audit.seq)
    ):
        p = json.loads(payload)
        cost, rids = p.get("others_delay_veh_h"), p.get("request_ids") or ()
        if not isinstance(cost, int | float) or isinstance(cost, bool) or not rids:
            continue
        for rid in rids:
            f = facts.get(rid)
            if f is not None:
                f.others_delay_veh_h = (f.others_delay_veh_h or 0.0) + float(cost) / len(rids)


def collect(session: Session, period: Period) -> tuple[dict[str, RequestFacts], Counter[date]]:
    """Facts of the requests created in ``period``, and guard rejections per day."""
    audit = AuditRecordRow
    in_period = (audit.recorded_at >= period.start) & (audit.recorded_at < period.end)
    facts: dict[str, RequestFacts] = {}
    for rid, at, payload in session.execute(
        select(audit.request_id, audit.recorded_at, audit.payload)
        .where(in_period, audit.kind == "request", audit.request_id.is_not(None))
        .order_by(audit.seq)
    ):
        if json.loads(payload).get("event") == "created" and rid not in facts:
            facts[rid] = RequestFacts(as_utc(at))
    ids = sorted(facts)
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for rid, kind, payload in session.execute(
            select(audit.request_id, audit.kind, audit.payload)
            .where(audit.request_id.in_(chunk), audit.kind.in_(("request", FLAGGED_KIND)))
            .order_by(audit.seq)
        ):
            _note(facts[rid], kind, json.loads(payload))
        for rid, spec, detail in session.execute(
            select(
                PriorityRequestRow.request_id, PriorityRequestRow.spec, PriorityRequestRow.detail
            ).where(PriorityRequestRow.request_id.in_(chunk))
        ):
            role = json.loads(spec).get("role")
            facts[rid].role = role if role in ROLES else "other"
            facts[rid].route = tuple(json.loads(detail).get("route") or ())
    _note_holds(session, period, facts)
    rejected: Counter[date] = Counter()
    for (at,) in session.execute(
        select(audit.recorded_at).where(in_period, audit.kind == "signal.rejected")
    ):
        rejected[as_utc(at).date()] += 1
    return facts, rejected


def monitor_violations(session: Session, period: Period) -> Counter[date]:
    """Monitor violations per UTC day of ``period``: the ``count`` of each
    ``monitor.violation`` record (1 when absent)."""
    audit = AuditRecordRow
    in_period = (audit.recorded_at >= period.start) & (audit.recorded_at < period.end)
    out: Counter[date] = Counter()
    for at, payload in session.execute(
        select(audit.recorded_at, audit.payload).where(in_period, audit.kind == MONITOR_KIND)
    ):
        count = json.loads(payload).get("count", 1)
        out[as_utc(at).date()] += int(count) if isinstance(count, int) and count > 0 else 1
    return out


def _note(f: RequestFacts, kind: str, p: dict[str, Any]) -> None:
    """Fold one audit record of a request into its facts (records come in ``seq`` order)."""
    if kind == FLAGGED_KIND:
        f.flagged = True
        return
    event, time_s = p.get("event"), p.get("time_s")
    timed = isinstance(time_s, int | float) and not isinstance(time_s, bool)
    if event == "restored" and f.active_s is not None:
        f.restarted = True
    elif event == "served":
        f.served_signals.update(p.get("commanded") or (), p.get("waiting") or ())
    elif event in FINAL_EVENTS:
        f.outcome = event
        if event == "completed" and timed:
            f.done_s = float(time_s)
    if p.get("state") == "active" and f.active_s is None and timed:
        f.active_s = float(time_s)


FINAL_EVENTS = ("completed", "cancelled", "expired", "rejected")


def chain_head(session: Session) -> tuple[int, str]:
    """The last audit record's ``seq`` and hash (0 and the genesis hash for an empty log)."""
    last = session.scalar(select(func.max(AuditRecordRow.seq)))
    if last is None:
        return 0, GENESIS_HASH
    digest = session.scalar(select(AuditRecordRow.hash).where(AuditRecordRow.seq == last))
    return int(last), str(digest)


def build_report(
    session: Session,
    period: Period,
    *,
    k: int = MIN_K,
    estimator: Estimator | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report's body for ``period`` (without the signed head; see ``signed_head``)."""
    check_k(k)
    facts, rejected = collect(session, period)
    violated = monitor_violations(session, period)
    by_day: dict[date, list[RequestFacts]] = defaultdict(list)
    for f in facts.values():
        by_day[f.created_at.date()].append(f)
    days = [
        {
            "day": d.isoformat(),
            **aggregate(by_day.get(d, ()), rejected[d], k, estimator, violated[d]),
        }  # fmt: skip
        for d in period.days()
    ]
    return {
        "report": "clearway public transparency report",
        "period": period.label,
        "period_kind": period.kind,
        "from": iso_utc(period.start),
        "until": iso_utc(period.end),
        "k": k,
        "generated_at": iso_utc(now or utcnow()),
        "totals": aggregate(
            facts.values(), sum(rejected.values()), k, estimator, sum(violated.values())
        ),
        "days": days,
        "method": METHOD,
    }


UNSIGNED = "unsigned: no signing key configured (clearway audit keygen; CLEARWAY_REPORT_KEY_FILE)"


def publish(
    session: Session,
    period: Period,
    *,
    k: int = MIN_K,
    estimator: Estimator | None = None,
    key: Ed25519PrivateKey | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report with the audit chain's head: signed with ``key`` over ``{head_seq,
    head_hash, generated_at, report_digest}`` (see :mod:`clearway.storage.signed_head`);
    without a key the head is published unsigned, and says so."""
    body = build_report(session, period, k=k, estimator=estimator, now=now)
    seq, digest_hash = chain_head(session)
    digest = report_digest(body)
    if key is not None:
        head = sign_head(key, seq, digest_hash, body["generated_at"], digest)
    else:
        head = {
            "head_seq": seq,
            "head_hash": digest_hash,
            "generated_at": body["generated_at"],
            "report_digest": digest,
            "signature": None,
            "unsigned": UNSIGNED,
        }
    return {**body, "audit_head": head}


def body_of(report: dict[str, Any]) -> dict[str, Any]:
    """A published report without its head: what ``report_digest`` is computed over."""
    return {k: v for k, v in report.items() if k != "audit_head"}
