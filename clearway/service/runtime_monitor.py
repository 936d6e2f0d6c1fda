"""The independent safety monitor's findings in the audit log: one ``monitor.violation``
record per violation the live runtime's monitor sees (junction, rule, traffic time, the links
involved and the monitor's description with measured and required durations), so the public
transparency report (:mod:`clearway.storage.public_report`) can count them.

The monitor keeps its first :data:`~clearway.monitor.violations.MAX_KEPT_VIOLATIONS`
violations per site and counts the rest: past that cap, one record per tick says how many
more were seen (``count``, rule ``unkept``). A violation should never happen (every command
passes the guard); when one does, it is evidence, and the log keeps it for good.
"""

from __future__ import annotations

from clearway.monitor import SafetyMonitor
from clearway.storage.audit import AuditEntry

#: Audit kind of a safety-monitor violation.
MONITOR_VIOLATION_KIND = "monitor.violation"


def violation_entries(monitor: SafetyMonitor, seen: int) -> tuple[list[AuditEntry], int]:
    """Records for the violations ``monitor`` saw after the first ``seen`` (a count), and the
    new count seen."""
    total = monitor.violation_count
    if total <= seen:
        return [], seen
    kept = monitor.violations
    out = [
        AuditEntry(
            MONITOR_VIOLATION_KIND,
            junction_id=v.signal_id or None,
            payload={
                "rule": v.rule,
                "time_s": round(v.time_s, 3),
                "links": list(v.links),
                "detail": v.detail[:300],
                "count": 1,
            },
        )  # fmt: skip
        for v in kept[seen:]
    ]
    unkept = total - max(seen, len(kept))
    if unkept > 0:
        out.append(AuditEntry(
            MONITOR_VIOLATION_KIND,
            payload={"rule": "unkept", "count": unkept,
                     "detail": "violations past the monitor's kept records; counted only"},
        ))  # fmt: skip
    return out, total
