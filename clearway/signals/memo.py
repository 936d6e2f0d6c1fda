"""A bounded memo: tables worked out once per key (a signal's state pairs) and kept.

A city's signals cycle through a few dozen state pairs each, so the guard, the timers and the
transition logic keep what a pair needs instead of working it out link by link on every call.
The bound is a guard against unbounded memory, not a policy: entries are cheap to make again.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: Entries a memo keeps before it starts again (each a few hundred bytes; one memo per signal
#: and table, and a signal cycles through a few dozen state pairs).
DEFAULT_MAX_ENTRIES = 4_096


class BoundedMemo(dict[K, V]):
    """A ``dict`` that empties itself before it would exceed ``max_entries``.

    Parameters
    ----------
    max_entries
        Entries kept before the memo is cleared and starts again (at least 1).
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        super().__init__()
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries

    def remember(self, key: K, value: V) -> V:
        """Store ``value`` under ``key`` (clearing the memo first if it is full); returns it."""
        if len(self) >= self.max_entries:
            self.clear()
        self[key] = value
        return value
