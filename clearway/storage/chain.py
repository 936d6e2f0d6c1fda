"""The hash chain's arithmetic, shared by appending and verifying (no database here).

``hash(n) = sha256_hex(hash(n-1) + canonical_json(record n))`` with ``hash(0)`` 64 zeros.
The canonical JSON is an object with exactly the keys ``seq``, ``time``, ``kind``,
``principal``, ``junction_id``, ``request_id`` and ``payload``, keys sorted, no whitespace,
non-ASCII characters as UTF-8, ``time`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC). Anyone can
re-check an exported log with these few lines in another language.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from clearway.storage.models import as_utc

#: The ``prev_hash`` of record 1.
GENESIS_HASH = "0" * 64


def iso_utc(value: datetime) -> str:
    """The record time as hashed: ISO 8601 UTC with microseconds and a ``Z``."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 as is, no NaN: one spelling per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def chain_hash(
    prev_hash: str,
    seq: int,
    recorded_at: datetime,
    kind: str,
    principal: str | None,
    junction_id: str | None,
    request_id: str | None,
    payload: Any,
) -> str:
    """sha256 hex of ``prev_hash`` + the record's canonical JSON (see the module docstring)."""
    material = canonical_json(
        {
            "seq": seq,
            "time": iso_utc(recorded_at),
            "kind": kind,
            "principal": principal,
            "junction_id": junction_id,
            "request_id": request_id,
            "payload": payload,
        }
    )
    return hashlib.sha256((prev_hash + material).encode("utf-8")).hexdigest()
