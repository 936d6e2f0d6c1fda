"""The safety guard: pure rules, the one gate every signal command passes, fail closed.

Imports nothing outside ``clearway.signals`` and the standard library (checked by a test).
"""

from clearway.signals.safety.commands import ApprovedCommand, SignalCommand
from clearway.signals.safety.guard import DEFAULT_MAX_STATE_AGE_S, SafetyGuard, Verdict

__all__ = ["ApprovedCommand", "DEFAULT_MAX_STATE_AGE_S", "SafetyGuard", "SignalCommand", "Verdict"]
