"""Who clearway is to a field controller and where to reach it: SNMPv3 USM users, SNMPv2c
communities and :class:`SnmpTarget` (address, credentials, timeout and retries).

SNMPv3 authPriv is the default; SNMPv2c only when a configuration asks for it. Mistakes are
:class:`~clearway.errors.ConfigError` at construction, so a bad config stops before any
packet leaves; keys and communities never appear in ``repr`` or in messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pysnmp.hlapi.v3arch.asyncio import CommunityData, UsmUserData
from pysnmp.hlapi.v3arch.asyncio import auth as _auth

from clearway.errors import ConfigError

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
        """This user as pysnmp's manager-side USM entry."""
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


def auth_data(creds: Credentials) -> UsmUserData | CommunityData:
    """The pysnmp authentication entry a manager sends requests with."""
    if isinstance(creds, SnmpV3Credentials):
        return creds.usm_user()
    return CommunityData(creds.community, mpModel=1)


@dataclass(frozen=True)
class SnmpTarget:
    """Where a controller listens and how patiently to wait for it.

    Attributes
    ----------
    host, port
        The controller's address (UDP port 1..65535).
    credentials
        Who we are to it.
    timeout_s
        Wait for one reply (s, > 0).
    retries
        Resends after a timeout (>= 0): a call gives up after ``timeout_s * (retries + 1)``.
    """

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
        """``host:port``, as messages name the controller."""
        return f"{self.host}:{self.port}"
