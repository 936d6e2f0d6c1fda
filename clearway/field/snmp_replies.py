"""What an SNMP reply means: values between Python and SNMP syntax, and the checks that turn
a bad reply into a :class:`FieldError` naming the controller and what went wrong.

Pure functions of a reply (pysnmp's ``(errorIndication, errorStatus, errorIndex, varBinds)``)
and the :class:`~clearway.field.snmp_credentials.SnmpTarget` it came from; the transport
that gets the reply is :class:`clearway.field.snmp_client.SnmpClient`. Messages never hold a
key or community string.
"""

from __future__ import annotations

from typing import Any

from pyasn1.type import univ
from pysnmp.proto import errind, rfc1902

from clearway.errors import ClearwayError
from clearway.field.snmp_credentials import SnmpTarget

Oid = tuple[int, ...]
Value = int | bytes
#: pysnmp's reply to one request: (errorIndication, errorStatus, errorIndex, varBinds).
Reply = tuple[Any, Any, Any, Any]

#: The value a GET or GETNEXT varbind carries.
NULL = univ.Null("")


class FieldError(ClearwayError):
    """Talking to a field controller failed."""


class ControllerUnreachableError(FieldError):
    """No reply within the timeout and retries."""


class ControllerAuthError(FieldError):
    """The controller rejected our credentials (unknown user, wrong digest, decryption)."""


class ControllerRefusedError(FieldError):
    """The controller answered a SET with an error status; nothing in that PDU was applied."""

    def __init__(self, message: str, *, status: str, oid: Oid | None) -> None:
        super().__init__(message)
        self.status = status
        self.oid = oid


class ControllerReplyError(FieldError):
    """The reply does not match the request (other OIDs, wrong type, no such object ...)."""


def to_snmp(value: Value) -> rfc1902.Integer32 | rfc1902.OctetString:
    """Python value → the SNMP syntax NTCIP uses (INTEGER or OCTET STRING)."""
    if isinstance(value, bool) or not isinstance(value, int | bytes):
        raise ClearwayError(f"SNMP values are int or bytes; got {type(value).__name__}")
    if isinstance(value, int):
        return rfc1902.Integer32(value)
    return rfc1902.OctetString(value)


def from_snmp(value: Any) -> Value | None:
    """SNMP syntax → int or bytes; ``None`` for anything else (e.g. noSuchObject)."""
    if isinstance(value, rfc1902.OctetString):
        return bytes(value.asOctets())
    if isinstance(value, univ.Integer):  # Integer32, Counter32, Gauge32, TimeTicks ...
        return int(value)
    return None


def dotted(oid: Oid) -> str:
    """``1.3.6.1...``: an OID as messages and MIB files spell it."""
    return ".".join(map(str, oid))


def reply_values(target: SnmpTarget, reply: Reply, asked: list[Oid], op: str) -> dict[Oid, Value]:
    """The values of a GET or SET reply, keyed by the OIDs ``asked`` in their order.

    Raises
    ------
    FieldError
        The request failed (see :func:`raise_for_reply`), or the reply names other OIDs or
        holds a value that is not an INTEGER or OCTET STRING.
    """
    err, status, index, binds = reply
    raise_for_reply(target, err, status, index, asked, op)
    got = [tuple(name) for name, _ in binds]
    if got != asked:
        raise ControllerReplyError(
            f"{target.address}: {op} reply names {len(got)} OIDs that differ from the "
            f"{len(asked)} asked (first asked {dotted(asked[0])})"
        )
    return {oid: converted(target, oid, v, op) for oid, (_, v) in zip(asked, binds, strict=True)}


def converted(target: SnmpTarget, oid: Oid, value: Any, op: str) -> Value:
    """One reply value as int or bytes; an exception object (noSuchObject ...) raises."""
    out = from_snmp(value)
    if out is None:
        kind = type(value).__name__
        raise ControllerReplyError(
            f"{target.address}: {op} {dotted(oid)} returned {kind}; the controller "
            "does not have this object (check its NTCIP conformance / MIB version)"
        )
    return out


def raise_for_reply(
    target: SnmpTarget, err: Any, status: Any, index: Any, asked: list[Oid], op: str
) -> None:
    """Raise the :class:`FieldError` a reply's error indication or status means, if any.

    A refused SET is :class:`ControllerRefusedError` (nothing in its PDU applied); an error
    status on a read is :class:`ControllerReplyError`; both name the OID at ``index``.
    """
    if err:
        raise indication_error(target, err, op)
    if status and int(status):
        i = int(index) - 1
        oid = asked[i] if 0 <= i < len(asked) else None
        name = status.prettyPrint()
        at = f" at {dotted(oid)}" if oid else ""
        message = f"{target.address}: {op} refused with {name}{at}"
        if op == "SET":
            raise ControllerRefusedError(message, status=name, oid=oid)
        raise ControllerReplyError(message)


def indication_error(target: SnmpTarget, err: Any, op: str) -> FieldError:
    """The error for a pysnmp error indication: a timeout is unreachable, USM failures are
    auth errors naming the user and the protocol to check (never the key)."""
    t = target
    user = getattr(t.credentials, "user", None)
    if isinstance(err, errind.RequestTimedOut):
        hint = (
            "" if user else
            "; with SNMPv2c a wrong community looks the same (agents drop it silently)"
        )  # fmt: skip
        return ControllerUnreachableError(
            f"{t.address}: no reply to {op} within {t.timeout_s:g} s x {t.retries + 1} "
            f"tries ({t.retries} retries); check the controller is up and the port{hint}"
        )
    if isinstance(err, errind.UnknownUserName):
        return ControllerAuthError(f"{t.address}: unknown SNMPv3 user {user!r}")
    if isinstance(err, errind.WrongDigest):
        return ControllerAuthError(
            f"{t.address}: wrong digest for user {user!r}: the auth key or auth protocol "
            f"({t.credentials.auth_protocol}) does not match the controller's"
        )
    if isinstance(err, errind.DecryptionError):
        return ControllerAuthError(
            f"{t.address}: decryption error for user {user!r}: the privacy key or "
            f"protocol ({t.credentials.priv_protocol}) does not match the controller's"
        )
    if isinstance(err, errind.UnsupportedSecurityLevel):
        return ControllerAuthError(
            f"{t.address}: the controller does not offer authPriv to user {user!r}"
        )
    return FieldError(f"{t.address}: {op} failed: {err}")
