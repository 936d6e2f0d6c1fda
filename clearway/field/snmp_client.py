"""The SNMP manager clearway uses to read and command NTCIP controllers.

SNMPv3 authPriv is the default; SNMPv2c only when a configuration asks for it. Every call is
one PDU; a SET's values are read back from the response so the caller sees what the
controller accepted. Errors are :class:`FieldError` subclasses whose messages name the
controller (host:port) and what went wrong, never a key or community string.

The control loop is synchronous; :class:`SnmpRunner` owns an asyncio loop on a background
thread so one tick can query many controllers concurrently (``runner.gather(...)``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyasn1.type import univ
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.hlapi.v3arch.asyncio import CommunityData, UdpTransportTarget, UsmUserData
from pysnmp.hlapi.v3arch.asyncio import auth as _auth
from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
from pysnmp.proto import errind, rfc1902, rfc1905

from clearway.errors import ClearwayError, ConfigError

Oid = tuple[int, ...]
Value = int | bytes
T = TypeVar("T")

#: Auth protocol names → pysnmp identifiers (MD5 deliberately absent).
AUTH_PROTOCOLS = {
    "SHA": _auth.USM_AUTH_HMAC96_SHA,
    "SHA-224": _auth.USM_AUTH_HMAC128_SHA224,
    "SHA-256": _auth.USM_AUTH_HMAC192_SHA256,
    "SHA-384": _auth.USM_AUTH_HMAC256_SHA384,
    "SHA-512": _auth.USM_AUTH_HMAC384_SHA512,
}
#: Privacy protocol names → pysnmp identifiers. AES-192/256 use the Blumenthal key
#: extension (as Net-SNMP does); the ``-C`` variants the Reeder one (as Cisco does).
PRIV_PROTOCOLS = {
    "AES": _auth.USM_PRIV_CFB128_AES,
    "AES-192": _auth.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "AES-256": _auth.USM_PRIV_CFB256_AES_BLUMENTHAL,
    "AES-192-C": _auth.USM_PRIV_CFB192_AES,
    "AES-256-C": _auth.USM_PRIV_CFB256_AES,
}
#: RFC 3414 §11.2: passphrases shorter than 8 octets are not accepted.
MIN_KEY_LEN = 8


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


@dataclass(frozen=True)
class SnmpV3Credentials:
    """An SNMPv3 USM user for authPriv. Keys never appear in ``repr`` or in messages."""

    user: str
    auth_key: str = field(repr=False)
    priv_key: str = field(repr=False)
    auth_protocol: str = "SHA"
    priv_protocol: str = "AES"

    def __post_init__(self) -> None:
        if not self.user:
            raise ConfigError("SNMPv3 user name is empty; set the controller's USM user")
        if self.auth_protocol not in AUTH_PROTOCOLS:
            raise ConfigError(
                f"unknown SNMPv3 auth protocol {self.auth_protocol!r} for user {self.user!r};"
                f" use one of {', '.join(AUTH_PROTOCOLS)}"
            )
        if self.priv_protocol not in PRIV_PROTOCOLS:
            raise ConfigError(
                f"unknown SNMPv3 privacy protocol {self.priv_protocol!r} for user "
                f"{self.user!r}; use one of {', '.join(PRIV_PROTOCOLS)}"
            )
        for what, key in (("auth", self.auth_key), ("priv", self.priv_key)):
            if not isinstance(key, str) or len(key) < MIN_KEY_LEN:
                raise ConfigError(
                    f"SNMPv3 {what} key of user {self.user!r} must be at least "
                    f"{MIN_KEY_LEN} characters (RFC 3414)"
                )

    def usm_user(self) -> UsmUserData:
        return UsmUserData(
            self.user,
            authKey=self.auth_key,
            privKey=self.priv_key,
            authProtocol=AUTH_PROTOCOLS[self.auth_protocol],
            privProtocol=PRIV_PROTOCOLS[self.priv_protocol],
        )


@dataclass(frozen=True)
class SnmpV2cCommunity:
    """An SNMPv2c community (cleartext on the wire; only when a config asks for it)."""

    community: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.community:
            raise ConfigError("SNMPv2c community is empty; set it in the controller config")


Credentials = SnmpV3Credentials | SnmpV2cCommunity


@dataclass(frozen=True)
class SnmpTarget:
    """Where a controller listens and how patiently to wait for it."""

    host: str
    port: int
    credentials: Credentials
    timeout_s: float = 1.0
    retries: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"SNMP port of {self.host} must be 1..65535; got {self.port}")
        if not self.timeout_s > 0:
            raise ConfigError(f"SNMP timeout for {self.address} must be > 0 s")
        if self.retries < 0:
            raise ConfigError(f"SNMP retries for {self.address} must be >= 0")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


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


_NULL = univ.Null("")


def _dotted(oid: Oid) -> str:
    return ".".join(map(str, oid))


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
        creds = target.credentials
        self._auth = (
            creds.usm_user()
            if isinstance(creds, SnmpV3Credentials)
            else CommunityData(creds.community, mpModel=1)
        )

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
        reply = await self._request(self._gen_get, [(o, _NULL) for o in oids])
        return self._values(reply, list(oids), "GET")

    async def set(self, items: Sequence[tuple[Oid, Value]]) -> dict[Oid, Value]:
        """SET ``items`` in one PDU; returns the values the controller echoed back."""
        if not items:
            return {}
        reply = await self._request(self._gen_set, [(o, to_snmp(v)) for o, v in items])
        return self._values(reply, [o for o, _ in items], "SET")

    async def walk(
        self, prefix: Oid, *, bulk: int = 0, max_rows: int = 10_000
    ) -> dict[Oid, Value]:
        """All instances under ``prefix`` in OID order: by GETNEXT, or by GETBULK with
        ``bulk`` repetitions per request (SNMPv2c/v3 only; fewer round trips)."""
        op = "GETBULK" if bulk else "GETNEXT"
        found: dict[Oid, Value] = {}
        cursor = prefix
        while len(found) < max_rows:
            request = [(cursor, _NULL)]
            if bulk:
                reply = await self._request(self._gen_bulk, request, (0, bulk))
            else:
                reply = await self._request(self._gen_next, request)
            err, status, index, binds = reply
            self._raise_for(err, status, index, [cursor], op)
            if not binds:
                break
            for name, value in binds:
                oid = tuple(name)
                if isinstance(value, rfc1905.EndOfMibView) or oid[: len(prefix)] != prefix:
                    return found
                if oid <= cursor:
                    raise ControllerReplyError(
                        f"{self.target.address}: {op} after {_dotted(cursor)} returned "
                        f"{_dotted(oid)}, not a later OID; the agent's walk is broken"
                    )
                found[oid] = self._convert(oid, value, op)
                cursor = oid
        return found

    async def _request(self, generator: Any, var_binds: list, bulk: tuple = ()) -> tuple:
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

    # -- replies -------------------------------------------------------------------------

    def _values(self, reply: tuple, asked: list[Oid], op: str) -> dict[Oid, Value]:
        err, status, index, binds = reply
        self._raise_for(err, status, index, asked, op)
        got = [tuple(name) for name, _ in binds]
        if got != asked:
            raise ControllerReplyError(
                f"{self.target.address}: {op} reply names {len(got)} OIDs that differ from the "
                f"{len(asked)} asked (first asked {_dotted(asked[0])})"
            )
        return {oid: self._convert(oid, v, op) for oid, (_, v) in zip(asked, binds, strict=True)}

    def _convert(self, oid: Oid, value: Any, op: str) -> Value:
        out = from_snmp(value)
        if out is None:
            kind = type(value).__name__
            raise ControllerReplyError(
                f"{self.target.address}: {op} {_dotted(oid)} returned {kind}; the controller "
                "does not have this object (check its NTCIP conformance / MIB version)"
            )
        return out

    def _raise_for(self, err: Any, status: Any, index: Any, asked: list[Oid], op: str) -> None:
        where = self.target.address
        if err:
            raise self._indication_error(err, op)
        if status and int(status):
            i = int(index) - 1
            oid = asked[i] if 0 <= i < len(asked) else None
            name = status.prettyPrint()
            at = f" at {_dotted(oid)}" if oid else ""
            message = f"{where}: {op} refused with {name}{at}"
            if op == "SET":
                raise ControllerRefusedError(message, status=name, oid=oid)
            raise ControllerReplyError(message)

    def _indication_error(self, err: Any, op: str) -> FieldError:
        t = self.target
        user = getattr(t.credentials, "user", None)
        if isinstance(err, errind.RequestTimedOut):
            hint = (
                "" if user else
                "; with SNMPv2c a wrong community looks the same (agents drop it silently)"
            )
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
