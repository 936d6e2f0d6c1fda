"""The service's convoy plans: quotes waiting for confirmation, and what became of them.

Held in memory for the run (the audit log keeps every quote, confirmation and refusal, and
a confirmed booking is a stored priority request carrying its window, which survives a
restart). Thread-safe: routes run on worker threads.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

from clearway.control.priority.booking_windows import BookingWindowError
from clearway.errors import ConflictError, UnknownIdError
from clearway.service.plan_schemas import ConvoyPlanCreate, ConvoyPlanOut

#: Plans kept per run at most (count): the oldest ones are forgotten first (the audit log
#: keeps them all).
MAX_PLANS = 1000


class UnknownPlanError(UnknownIdError):
    """No convoy plan by that id in this run (404)."""

    kind = "convoy plan"
    lookup = "`GET /convoys/plans`"


@dataclass(frozen=True, slots=True)
class Plan:
    """A quote as given, the body it was made from, and its window in traffic time (s)."""

    out: ConvoyPlanOut
    body: ConvoyPlanCreate
    start_s: float
    end_s: float


class PlanBook:
    """Plans by id, oldest first, at most :data:`MAX_PLANS`."""

    def __init__(self, max_plans: int = MAX_PLANS) -> None:
        self._plans: OrderedDict[str, Plan] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_plans
        self._claimed: set[str] = set()

    @staticmethod
    def new_id() -> str:
        """A fresh plan id (``pl-`` and 16 hex digits)."""
        return f"pl-{secrets.token_hex(8)}"

    def add(self, plan: Plan) -> None:
        """Keep a new plan (forgetting the oldest beyond the limit)."""
        with self._lock:
            self._plans[plan.out.plan_id] = plan
            while len(self._plans) > self._max:
                self._plans.popitem(last=False)

    def get(self, plan_id: str) -> Plan:
        """One plan; :class:`UnknownPlanError` if this run has none by that id."""
        with self._lock:
            try:
                return self._plans[plan_id]
            except KeyError:
                raise UnknownPlanError(
                    plan_id, self._plans, where="this run's convoy plans"
                ) from None

    def claim(self, plan_id: str) -> Plan:
        """Take a quoted plan for confirmation (one caller at a time); BookingWindowError
        (422) if it has lapsed, ConflictError if it is confirmed, refused or being confirmed;
        :meth:`release` it after."""
        plan = self.get(plan_id)
        with self._lock:
            if plan.out.state == "lapsed":
                raise BookingWindowError(
                    f"convoy plan {plan_id!r} has lapsed ({plan.out.reason}); ask for a new "
                    "quote: POST /convoys/plans"
                )
            if plan.out.state != "quoted" or plan_id in self._claimed:
                state = "being confirmed" if plan_id in self._claimed else plan.out.state
                raise ConflictError(
                    f"convoy plan {plan_id!r} is {state}; only a quoted plan can be confirmed "
                    "(ask for a new quote: POST /convoys/plans)"
                )
            self._claimed.add(plan_id)
            return plan

    def claimed(self) -> list[Plan]:
        """The plans being confirmed now."""
        with self._lock:
            return [self._plans[pid] for pid in self._claimed if pid in self._plans]

    def release(self, plan_id: str) -> None:
        """End a :meth:`claim`."""
        with self._lock:
            self._claimed.discard(plan_id)

    def update(self, plan_id: str, **changes: object) -> Plan:
        """The plan with its answer's fields changed (state, request id, reason ...)."""
        with self._lock:
            plan = self._plans[plan_id]
            new = replace(plan, out=plan.out.model_copy(update=changes))
            self._plans[plan_id] = new
            return new

    def all(self) -> list[Plan]:
        """Every plan kept, oldest first."""
        with self._lock:
            return list(self._plans.values())
