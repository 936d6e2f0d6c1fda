"""An SNMP command responder (agent) serving an :class:`ObjectStore` — the virtual controller.

pysnmp 7's responders (``cmdrsp``) call a MIB instrumentation controller synchronously
(``read_variables`` / ``read_next_variables`` / ``write_variables``); :class:`_StoreInstrum`
is one backed by an :class:`ObjectStore` instead of compiled MIB modules, so the store
decides what exists. Each :class:`NtcipAgent` has its own engine (engine id, USM users,
VACM) and UDP socket, so many agents can share one process and one asyncio loop.

SET follows RFC 3416 §4.2.5's two phases: every varbind is checked (``check_set``) before
any is applied (``set``), so a refused PDU changes nothing.
"""

from __future__ import annotations

import asyncio
import bisect
import enum
import os
import socket
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any, Protocol

from pyasn1.type import univ
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c
from pysnmp.smi import error as smi_error
from pysnmp.smi import instrum

from clearway.errors import ClearwayError
from clearway.field.ntcip import SnmpType
from clearway.field.snmp_client import (
    AUTH_PROTOCOLS,
    PRIV_PROTOCOLS,
    SnmpV2cCommunity,
    SnmpV3Credentials,
    Value,
    to_snmp,
)

Oid = tuple[int, ...]
#: What the agent lets its users see and write: the NEMA subtree (NTCIP 1201/1202 live here).
NEMA_SUBTREE: Oid = (1, 3, 6, 1, 4, 1, 1206)


class SetErrorStatus(enum.Enum):
    """SNMP errorStatus values a store may refuse a SET with (RFC 3416)."""

    NOT_WRITABLE = smi_error.NotWritableError
    WRONG_TYPE = smi_error.WrongTypeError
    WRONG_VALUE = smi_error.WrongValueError
    WRONG_LENGTH = smi_error.WrongLengthError
    NO_CREATION = smi_error.NoCreationError
    INCONSISTENT_VALUE = smi_error.InconsistentValueError
    RESOURCE_UNAVAILABLE = smi_error.ResourceUnavailableError


class StoreRefused(ClearwayError):
    """An :class:`ObjectStore` refuses a SET; ``status`` becomes the reply's errorStatus."""

    def __init__(self, status: SetErrorStatus, oid: Oid, reason: str) -> None:
        super().__init__(f"{'.'.join(map(str, oid))}: {reason}")
        self.status = status
        self.oid = oid


class ObjectStore(Protocol):
    """What an agent serves. OIDs are instance OIDs (scalars end in ``.0``).

    A store with a ``lock`` attribute (a context manager) has it held while the agent serves
    one PDU, so a multi-varbind GET sees one state and a SET is applied as one.
    """

    def get(self, oid: Oid) -> tuple[SnmpType, Value] | None:
        """The instance's type and value, or ``None`` if it does not exist."""

    def next_oid(self, oid: Oid) -> Oid | None:
        """The first existing instance OID strictly after ``oid``, or ``None`` at the end."""

    def check_set(self, oid: Oid, value: Value) -> None:
        """Raise :class:`StoreRefused` if ``set(oid, value)`` would be refused; no effect."""

    def set(self, oid: Oid, value: Value) -> None:
        """Apply a value that ``check_set`` accepted."""


class DictObjectStore:
    """An in-memory :class:`ObjectStore`: ``{oid: (type, value)}``, the writable OIDs and,
    optionally, inclusive INTEGER ranges a SET must respect (else wrongValue)."""

    def __init__(
        self,
        values: dict[Oid, tuple[SnmpType, Value]],
        writable: Sequence[Oid] = (),
        ranges: dict[Oid, tuple[int, int]] | None = None,
    ) -> None:
        self.values = dict(values)
        self.writable = set(writable)
        self.ranges = dict(ranges or {})
        self._sorted = sorted(self.values)

    def get(self, oid: Oid) -> tuple[SnmpType, Value] | None:
        return self.values.get(oid)

    def next_oid(self, oid: Oid) -> Oid | None:
        i = bisect.bisect_right(self._sorted, oid)
        return self._sorted[i] if i < len(self._sorted) else None

    def check_set(self, oid: Oid, value: Value) -> None:
        if oid not in self.values:
            raise StoreRefused(SetErrorStatus.NO_CREATION, oid, "no such instance")
        if oid not in self.writable:
            raise StoreRefused(SetErrorStatus.NOT_WRITABLE, oid, "read-only")
        lo, hi = self.ranges.get(oid, (None, None))
        if lo is not None and not lo <= value <= hi:
            raise StoreRefused(SetErrorStatus.WRONG_VALUE, oid, f"outside {lo}..{hi}")

    def set(self, oid: Oid, value: Value) -> None:
        kind, _ = self.values[oid]
        self.values[oid] = (kind, value)


_TAG = {SnmpType.INTEGER: univ.Integer.tagSet, SnmpType.OCTET_STRING: univ.OctetString.tagSet}


def _python(value: Any) -> Value | None:
    if value.getTagSet() == univ.Integer.tagSet:
        return int(value)
    if value.getTagSet() == univ.OctetString.tagSet:
        return bytes(value.asOctets())
    return None


class _StoreInstrum(instrum.AbstractMibInstrumController):
    """pysnmp MIB instrumentation over an :class:`ObjectStore`."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    @staticmethod
    def _visible(view: str, oid: Oid, idx: int, ctx: dict) -> bool:
        # VACM: raises AuthorizationError when denied, returns True when not in view.
        return not ctx["acFun"](view, (oid, None), idx=idx, **ctx)

    def read_variables(self, *var_binds: Any, **ctx: Any) -> list:
        with getattr(self.store, "lock", None) or nullcontext():
            return self._read(var_binds, ctx)

    def read_next_variables(self, *var_binds: Any, **ctx: Any) -> list:
        with getattr(self.store, "lock", None) or nullcontext():
            return self._read_next(var_binds, ctx)

    def write_variables(self, *var_binds: Any, **ctx: Any) -> list:
        with getattr(self.store, "lock", None) or nullcontext():
            return self._write(var_binds, ctx)

    def _read(self, var_binds: tuple, ctx: dict) -> list:
        out = []
        for idx, (name, _) in enumerate(var_binds):
            oid = tuple(name)
            found = self.store.get(oid) if self._visible("read", oid, idx, ctx) else None
            if found is None:
                parent = self.store.next_oid(oid[:-1])
                has_object = parent is not None and parent[: len(oid) - 1] == oid[:-1]
                out.append((name, rfc1905.noSuchInstance if has_object else rfc1905.noSuchObject))
            else:
                out.append((name, to_snmp(found[1])))
        return out

    def _read_next(self, var_binds: tuple, ctx: dict) -> list:
        out = []
        for idx, (name, _) in enumerate(var_binds):
            nxt = self.store.next_oid(tuple(name))
            while nxt is not None and not self._visible("read", nxt, idx, ctx):
                nxt = self.store.next_oid(nxt)
            found = self.store.get(nxt) if nxt is not None else None
            if found is None:
                out.append((name, rfc1905.endOfMibView))
            else:
                out.append((rfc1902.ObjectName(nxt), to_snmp(found[1])))
        return out

    def _write(self, var_binds: tuple, ctx: dict) -> list:
        pending: list[tuple[Oid, Value]] = []
        for idx, (name, value) in enumerate(var_binds):
            oid = tuple(name)
            if not self._visible("write", oid, idx, ctx):
                raise smi_error.NotWritableError(name=name, idx=idx)
            current = self.store.get(oid)
            if current is None:
                raise smi_error.NoCreationError(name=name, idx=idx)
            if value.getTagSet() != _TAG[current[0]]:
                raise smi_error.WrongTypeError(name=name, idx=idx)
            py = _python(value)
            try:
                self.store.check_set(oid, py)
            except StoreRefused as refused:
                raise refused.status.value(name=name, idx=idx) from refused
            pending.append((oid, py))
        for oid, py in pending:
            self.store.set(oid, py)
        return [(name, to_snmp(self.store.get(tuple(name))[1])) for name, _ in var_binds]


class _Responder:
    """Answers errors with the right errorIndex (pysnmp's base resets it to 1 for any
    varbind but the last), so a refused SET names the OID that was refused."""

    def handle_management_operation(self, snmp_engine, state_reference, context_name, pdu):
        try:
            super().handle_management_operation(snmp_engine, state_reference, context_name, pdu)
        except smi_error.SmiError as exc:
            status = self.SMI_ERROR_MAP.get(exc.__class__, "genErr")
            index = exc["idx"] + 1 if "idx" in exc else 1
            var_binds = v2c.apiPDU.get_varbinds(pdu)
            self.send_varbinds(snmp_engine, state_reference, status, index, var_binds)
            self.release_state_information(state_reference)


class _Get(_Responder, cmdrsp.GetCommandResponder):
    pass


class _Next(_Responder, cmdrsp.NextCommandResponder):
    pass


class _Bulk(_Responder, cmdrsp.BulkCommandResponder):
    pass


class _Set(_Responder, cmdrsp.SetCommandResponder):
    pass


def random_engine_id() -> bytes:
    """An RFC 3411 engine id: NEMA's enterprise number 1206 with bit 31 set, format 5
    (octets), 8 random octets — distinct per agent even within one process."""
    return (0x80000000 | 1206).to_bytes(4, "big") + b"\x05" + os.urandom(8)


class NtcipAgent:
    """An SNMP agent serving ``store`` on ``host:port`` (``port=0`` picks a free one)."""

    def __init__(
        self,
        store: ObjectStore,
        host: str = "127.0.0.1",
        port: int = 161,
        v3_users: Sequence[SnmpV3Credentials] = (),
        v2c_community: SnmpV2cCommunity | None = None,
        engine_id: bytes | None = None,
    ) -> None:
        if not v3_users and v2c_community is None:
            raise ClearwayError("an NTCIP agent needs at least one SNMPv3 user or a community")
        self.store = store
        self.host = host
        self.port = port
        self.v3_users = tuple(v3_users)
        self.v2c_community = v2c_community
        self.engine_id = engine_id or random_engine_id()
        self._engine: engine.SnmpEngine | None = None
        self._transport: udp.UdpAsyncioTransport | None = None
        self._responders: list = []

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind the UDP socket and begin answering (on the running loop)."""
        if self._engine is not None:
            raise ClearwayError(f"agent {self.address} is already running")
        eng = engine.SnmpEngine(snmpEngineID=univ.OctetString(self.engine_id))
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ClearwayError(f"NTCIP agent cannot bind UDP {self.address}: {exc}") from exc
        self.port = sock.getsockname()[1]
        self._transport = udp.UdpAsyncioTransport().open_server_mode(sock=sock)
        await self._transport._lport  # the endpoint exists once this resolves
        config.add_transport(eng, udp.DOMAIN_NAME, self._transport)
        for user in self.v3_users:
            config.add_v3_user(
                eng, user.user,
                AUTH_PROTOCOLS[user.auth_protocol], user.auth_key,
                PRIV_PROTOCOLS[user.priv_protocol], user.priv_key,
            )
            config.add_vacm_user(eng, 3, user.user, "authPriv", NEMA_SUBTREE, NEMA_SUBTREE)
        if self.v2c_community is not None:
            config.add_v1_system(eng, "clearway-v2c", self.v2c_community.community)
            config.add_vacm_user(eng, 2, "clearway-v2c", "noAuthNoPriv", NEMA_SUBTREE,
                                 NEMA_SUBTREE)
        ctx = context.SnmpContext(eng)
        ctx.unregister_context_name(b"")
        ctx.register_context_name(b"", _StoreInstrum(self.store))
        self._responders = [cls(eng, ctx) for cls in (_Get, _Next, _Bulk, _Set)]
        self._engine = eng

    async def stop(self) -> None:
        """Stop answering and release the port."""
        if self._engine is None:
            return
        for responder in self._responders:
            responder.close(self._engine)
        self._responders = []
        transport = self._transport
        config.delete_transport(self._engine, udp.DOMAIN_NAME)
        if self._engine.transport_dispatcher is not None:
            self._engine.close_dispatcher()
        # delete_transport leaves the socket open; asyncio closes it on the next iteration.
        transport.close_transport()
        await asyncio.sleep(0)
        self._engine = None
        self._transport = None

    async def __aenter__(self) -> NtcipAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
