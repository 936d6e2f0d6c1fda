"""Shared pieces of the corrupted-input fuzz tests: settings, a per-case time limit, the
mutation strategies (bytes, XML elements and attributes, encodings) and the error contract.

``CLEARWAY_FUZZ_EXAMPLES`` sets the examples per test (default: a CI-sized run); ``make fuzz``
raises it. Runs are deterministic (``derandomize``, no example database).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
from collections.abc import Iterator
from xml.etree import ElementTree

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from clearway.errors import ClearwayError

#: Examples per fuzz test; ``make fuzz`` raises it.
EXAMPLES = int(os.environ.get("CLEARWAY_FUZZ_EXAMPLES", "0")) or None


def fuzz_settings(default: int) -> settings:
    """Deterministic settings: ``default`` examples, or ``CLEARWAY_FUZZ_EXAMPLES``."""
    return settings(
        max_examples=EXAMPLES or default,
        derandomize=True,
        database=None,
        deadline=None,  # the per-case limit is `time_limit`, which also catches hangs
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.data_too_large],
        print_blob=False,
    )  # fmt: skip


class Hang(AssertionError):
    """A case ran longer than its time limit."""


@contextlib.contextmanager
def time_limit(seconds: int, what: str) -> Iterator[None]:
    """Fail with :class:`Hang` if the body runs longer than ``seconds`` (SIGALRM, main thread)."""

    def _expired(_signum: int, _frame: object) -> None:
        raise Hang(f"{what} took more than {seconds} s (a hang)")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_clear_error(exc: BaseException, path: os.PathLike[str] | str) -> None:
    """The contract for bad input: a ClearwayError whose message names the file."""
    assert isinstance(exc, ClearwayError), f"{type(exc).__name__} is not a ClearwayError: {exc}"
    message = str(exc)
    assert str(path) in message, f"the message does not name the file: {message}"
    assert "Traceback" not in message
    assert len(message) > len(str(path)) + 10, f"the message says nothing: {message}"


# -- byte-level mutations ------------------------------------------------------------------
def byte_edits(size: int) -> st.SearchStrategy[list[tuple[str, int, bytes]]]:
    """Lists of (operation, offset, bytes) edits for a file of ``size`` bytes."""
    edit = st.tuples(
        st.sampled_from(["flip", "insert", "delete", "truncate"]),
        st.integers(0, max(size - 1, 0)),
        st.binary(min_size=1, max_size=8),
    )
    return st.lists(edit, min_size=1, max_size=6)


def apply_byte_edits(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for op, offset, chunk in edits:
        at = offset % (len(out) + 1)
        if op == "flip" and at < len(out):
            out[at] ^= chunk[0] or 0xFF
        elif op == "insert":
            out[at:at] = chunk
        elif op == "delete":
            del out[at : at + len(chunk) * 4]
        elif op == "truncate":
            del out[at:]
    return bytes(out)


# -- XML-aware mutations -------------------------------------------------------------------
#: Values that break numbers, ids, lists and state strings.
NASTY_VALUES = ("", " ", "nan", "NaN", "inf", "-inf", "-1", "-0", "0", "1e308", "-1e308",
                "99999999999999999999", "1e-320", "abc", "1,2", "1,2,3", "nan,nan",
                "0,0 0,0", "x y", "GGGG", "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr",
                "G", "Q", "0101", "1" * 40, "é", "\u202e", ":", "_0", "internal", "crossing",
                "walkingarea", "traffic_light", "dead_end")  # fmt: skip

#: One XML edit: (operation, element pick, attribute pick, value pick, other-element pick).
XmlEdit = tuple[str, int, int, int, int]


def xml_edits() -> st.SearchStrategy[list[XmlEdit]]:
    op = st.sampled_from(
        ["drop", "duplicate", "move", "del_attr", "set_attr", "borrow_attr", "state_len",
         "drop_children"]
    )  # fmt: skip
    pick = st.integers(0, 1 << 16)
    return st.lists(st.tuples(op, pick, pick, pick, pick), min_size=1, max_size=5)


def apply_xml_edits(text: bytes, edits: list[XmlEdit]) -> bytes:
    """``text`` (an XML document) with elements dropped, duplicated, moved, or attributes
    deleted or set to nasty values or to another element's value (dangling ids)."""
    root = ElementTree.fromstring(text)
    for op, a, b, c, d in edits:
        parents = [(p, child) for p in root.iter() for child in p]
        if not parents:
            break
        parent, element = parents[a % len(parents)]
        attrs = sorted(element.attrib)
        if op == "drop":
            parent.remove(element)
        elif op == "duplicate":
            parent.insert(list(parent).index(element), _copy(element))
        elif op == "move":
            parent.remove(element)
            siblings = len(parent)
            parent.insert(b % (siblings + 1), element)
        elif op == "drop_children":
            for child in list(element):
                element.remove(child)
        elif attrs and op == "del_attr":
            del element.attrib[attrs[b % len(attrs)]]
        elif attrs and op == "set_attr":
            element.set(attrs[b % len(attrs)], NASTY_VALUES[c % len(NASTY_VALUES)])
        elif attrs and op == "borrow_attr":
            donor = parents[d % len(parents)][1]
            values = [v for _k, v in sorted(donor.attrib.items())]
            if values:
                element.set(attrs[b % len(attrs)], values[c % len(values)])
        elif op == "state_len" and "state" in element.attrib:
            state = element.get("state", "")
            cut = b % (len(state) + 3)
            element.set(
                "state", state[:cut] if cut < len(state) else state + "G" * (cut - len(state) + 1)
            )
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _copy(element: ElementTree.Element) -> ElementTree.Element:
    return ElementTree.fromstring(ElementTree.tostring(element))


# -- encodings -----------------------------------------------------------------------------
ENCODINGS = ("utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "utf-8-sig", "ascii")


def reencode(text: bytes, encoding: str, declared: str | None) -> bytes:
    """``text`` transcoded to ``encoding``, its XML declaration claiming ``declared``."""
    body = text.decode("utf-8")
    if body.startswith("<?xml"):
        body = body[body.index("?>") + 2 :]
    head = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    return (head + body).encode(encoding, errors="replace")


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)
