"""The independent safety monitor: counts safety-rule violations in the signal states shown.

Deliberately independent of the safety guard (``clearway.signals.safety``) it double-checks:
see :mod:`clearway.monitor.conflict_monitor`.
"""

from clearway.monitor.conflict_monitor import SafetyMonitor
from clearway.monitor.violations import MAX_KEPT_VIOLATIONS, RULES, Violation

__all__ = ["MAX_KEPT_VIOLATIONS", "RULES", "SafetyMonitor", "Violation"]
