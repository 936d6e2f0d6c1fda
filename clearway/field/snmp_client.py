"""The SNMP manager clearway uses to read and command NTCIP controllers.

Every call is one PDU; a SET's values are read back from the response so the caller sees
what the controller accepted. Errors are :class:`FieldError` subclasses whose messages name
the controller (host:port) and what went wrong, never a key or community string.

The control loop is synchronous; :class:`SnmpRunner` owns an asyncio loop on a background
thread so one tick can query many controllers concurrently (``runner.gather(...)``).

This module holds the transport (:class:`SnmpClient`, :class:`SnmpRunner`). Credentials and
targets live in :mod:`clearway.field.snmp_credentials`, values and reply checks in
:mod:`clearway.field.snmp_replies`; their public names are importable from here too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine, Iterable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.hlapi.v3arch.asyncio import UdpTransportTarget
from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
from pysnmp.proto import rfc1902, rfc1905

from clearway.errors import ClearwayError
from clearway.field.snmp_credentials import (
    AUTH_PROTOCOLS,
    MIN_KEY_LEN,
    PRIV_PROTOCOLS,
    Credentials,
    SnmpTarget,
    SnmpV2cCommunity,
    SnmpV3Credentials,
    auth_data,
)
from clearway.field.snmp_replies import (
    NULL,
    ControllerAuthError,
    ControllerRefusedError,
    ControllerReplyError,
    ControllerUnreachableError,
    FieldError,
    Oid,
    Reply,
    Value,
    converted,
    dotted,
    from_snmp,
    raise_for_reply,
    reply_values,
    to_snmp,
)

__all__ = [
    "AUTH_PROTOCOLS",
    "MIN_KEY_LEN",
    "PRIV_PROTOCOLS",
    "ControllerAuthError",
    "ControllerRefusedError",
    "ControllerReplyError",
    "ControllerUnreachableError",
    "Credentials",
    "FieldError",
    "Oid",
    "SnmpClient",
    "SnmpRunner",
    "SnmpTarget",
    "SnmpV2cCommunity",
    "SnmpV3Credentials",
    "Value",
    "from_snmp",
    "to_snmp",
]

T = TypeVar("T")


class SnmpClient:
    """An asyncio SNMP manager for one controller.

    Use it on one event loop (e.g. :class:`SnmpRunner`'s). Without ``engine`` it makes its
    own pysnmp engine (about 0.1 s of CPU) on first use.
    """

    def __init__(self, target: SnmpTarget, engine: SnmpEngine | None = None) -> None:
        self.target = target
        # pysnmp keys manager-side USM users by name, so an engine may be shared only by
        # clients with identical credentials (SnmpRunner.client does exactly that).
        self._engine = engine
        self._owns_engine = engine is None
        # One generator each per client: their pending requests are keyed by a handle that
        # is only unique within one engine.
        self._gen_get, self._gen_set = cmdgen.GetCommandGenerator(), cmdgen.SetCommandGenerator()
        self._gen_next, self._gen_bulk = cmdgen.NextCommandGenerator(), cmdgen.BulkCommandGenerator()
        self._transport: UdpTransportTarget | None = None
        self._auth = auth_data(target.credentials)

    async def _ensure(self) -> tuple[SnmpEngine, UdpTransportTarget]:
        if self._engine is None:
            self._engine = SnmpEngine()
        if self._transport is None:
            self._transport = await UdpTransportTarget.create(
                (self.target.host, self.target.port),
                timeout=self.target.timeout_s,
                retries=self.target.retries,
            )
        return self._engine, self._transport

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, Value]:
        """GET ``oids`` in one PDU; values in the order asked."""
        if not oids:
            return {}
        reply = await self._request(self._gen_get, [(o, NULL) for o in oids])
        return reply_values(self.target, reply, list(oids), "GET")

    async def set(self, items: Sequence[tuple[Oid, Value]]) -> dict[Oid, Value]:
        """SET ``items`` in one PDU; returns the values the controller echoed back."""
        if not items:
            return {}
        reply = await self._request(self._gen_set, [(o, to_snmp(v)) for o, v in items])
        return reply_values(self.target, reply, [o for o, _ in items], "SET")

    async def walk(
        self, prefix: Oid, *, bulk: int = 0, max_rows: int = 10_000
    ) -> dict[Oid, Value]:
        """All instances under ``prefix`` in OID order: by GETNEXT, or by GETBULK with
        ``bulk`` repetitions per request (SNMPv2c/v3 only; fewer round trips)."""
        op = "GETBULK" if bulk else "GETNEXT"
        found: dict[Oid, Value] = {}
        cursor = prefix
        while len(found) < max_rows:
            request = [(cursor, NULL)]
            if bulk:
                reply = await self._request(self._gen_bulk, request, (0, bulk))
            else:
                reply = await self._request(self._gen_next, request)
            err, status, index, binds = reply
            raise_for_reply(self.target, err, status, index, [cursor], op)
            if not binds:
                break
            for name, value in binds:
                oid = tuple(name)
                if isinstance(value, rfc1905.EndOfMibView) or oid[: len(prefix)] != prefix:
                    return found
                if oid <= cursor:
                    raise ControllerReplyError(
                        f"{self.target.address}: {op} after {dotted(cursor)} returned "
                        f"{dotted(oid)}, not a later OID; the agent's walk is broken"
                    )
                found[oid] = converted(self.target, oid, value, op)
                cursor = oid
        return found

    async def _request(self, generator: Any, var_binds: list, bulk: tuple = ()) -> Reply:
        # pysnmp's command generators straight, with numeric OIDs: its hlapi would resolve
        # every OID against the MIB view on the way out and back, about half of a GET's CPU.
        engine, transport = await self._ensure()
        addr_name, _ = LCD.configure(engine, self._auth, transport, b"")
        future = asyncio.get_running_loop().create_future()

        def done(_engine, _handle, err, status, index, binds, _ctx) -> None:
            if not future.cancelled():
                future.set_result((err, status, index, binds))

        binds = [(rfc1902.ObjectName(oid), value) for oid, value in var_binds]
        generator.send_varbinds(engine, addr_name, None, b"", *bulk, binds, done)
        return await future

    async def aclose(self) -> None:
        """Release the UDP socket (call on the loop that used the client)."""
        if self._engine is not None and self._owns_engine:
            self._engine.close_dispatcher()
            self._engine = None
        self._transport = None


class SnmpRunner:
    """A background thread running one asyncio loop for many :class:`SnmpClient`.

    ``run`` waits for one coroutine; ``gather`` runs many concurrently and returns results in
    order (exceptions as values with ``return_exceptions=True``, so one dead controller
    does not hide the others' replies).
    """

    def __init__(self, name: str = "clearway-snmp") -> None:
        self.loop = asyncio.new_event_loop()
        self._engines: dict[Credentials, SnmpEngine] = {}
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def client(self, target: SnmpTarget) -> SnmpClient:
        """A client for ``target`` sharing one engine (and UDP socket) with every other
        client of this runner that has the same credentials."""
        engine = self._engines.get(target.credentials)
        if engine is None:
            engine = self._engines[target.credentials] = SnmpEngine()
        return SnmpClient(target, engine)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        if self.loop.is_closed():
            raise ClearwayError("the SNMP runner is closed; create a new SnmpRunner")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise ClearwayError("SnmpRunner.run called on its own loop thread would deadlock; "
                                "await the coroutine there instead")  # fmt: skip
        return self.submit(coro).result(timeout_s)

    def gather(
        self,
        coros: Iterable[Awaitable[T]],
        *,
        return_exceptions: bool = False,
        timeout_s: float | None = None,
    ) -> list[T | BaseException]:
        async def _all() -> list[T | BaseException]:
            return await asyncio.gather(*coros, return_exceptions=return_exceptions)

        return self.run(_all(), timeout_s)

    def close(self) -> None:
        if self.loop.is_closed():
            return

        async def _close_engines() -> None:
            for engine in self._engines.values():
                if engine.transport_dispatcher is not None:
                    engine.close_dispatcher()
            self._engines.clear()

        self.run(_close_engines())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

    def __enter__(self) -> SnmpRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
