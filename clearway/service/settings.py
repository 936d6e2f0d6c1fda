"""Service settings from the environment (prefix ``CLEARWAY_``) or from code.

``CLEARWAY_TOKEN_SECRET`` signs bearer tokens. Outside ``--dev`` (``CLEARWAY_DEV=1``) the
service refuses to start when it is missing, short, or one of the well-known defaults: a
guessable secret lets anyone mint an admin token. In dev mode a missing secret is replaced
by a random one for this process only (tokens die with it).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clearway.control.priority.booking_windows import parse_peak_table
from clearway.errors import ConfigError

log = logging.getLogger(__name__)

ENV_PREFIX = "CLEARWAY_"
#: Shortest token secret accepted outside dev mode (characters); 32 URL-safe characters
#: carry about 190 bits.
MIN_SECRET_CHARS = 32
#: Secrets copied from examples and tutorials; refused even when long enough.
DEFAULT_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "secret",
        "dev",
        "development",
        "test",
        "password",
        "clearway",
        "your-secret-key",
        "please-change-this-secret-in-production",
        "00000000000000000000000000000000",
    }
)
_HOW_TO_MAKE = (
    "set CLEARWAY_TOKEN_SECRET to a random value, e.g. "
    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`, or run with --dev"
)


class ServiceSettings(BaseSettings):
    """Everything the service reads from its environment.

    Attributes
    ----------
    db_url
        Database URL (SQLite file or PostgreSQL), as for ``clearway db``.
    token_secret
        HMAC-SHA256 key for bearer tokens (≥ 32 characters outside dev mode).
    token_ttl_s
        Lifetime of a bearer token (s).
    dev
        Development mode: a missing secret is generated per process.
    max_body_bytes
        Largest request body accepted (bytes); larger ones get 413.
    net_file
        SUMO network whose junctions the service serves (optional).
    rate_positions_per_s, rate_writes_per_s, rate_reads_per_s, rate_burst_s
        Per principal: sustained request rates by kind, and the burst (in seconds of the
        rate) allowed on top; beyond them 429 with ``Retry-After``.
    rate_public_per_s
        Per client address: requests to the public alert feed (and streams opened) per second.
    public_stream_max_s, public_keepalive_s, public_streams_per_client
        The public alert stream: how long the server keeps one open (s; the client
        reconnects), how often an idle one gets a keep-alive comment (s), how many one
        address may hold open.
    peak_table, peak_flow_vph
        Convoy plans: the demand peaks their junction windows are flagged in (times of day,
        ``07:00-09:00,16:30-18:30``, ``SIGNAL@HH:MM-HH:MM`` for one signal; UTC in the field,
        simulated seconds from midnight on the twin), and the cross flow at a junction (veh/h)
        that flags a window: the detectors' time-of-day history over it, or their last 15
        minutes for a window starting within half an hour.
    max_corridors_per_area, area_cell_m
        A district cannot be starved: at most this many unfinished requests may route
        through any one square of this side (operators may exceed it).
    max_position_age_s, clock_tolerance_s
        A position older than ``max_position_age_s`` (real seconds, now minus its time
        stamp), or more than ``clock_tolerance_s`` ahead of now (the sender's clock error
        allowed), is refused (409).
    report_key_file, public_report_k
        The public transparency report (``/public/report``): the Ed25519 private key (PEM,
        mode 0600; ``clearway audit keygen``) that signs the audit head it publishes (unset:
        published unsigned), and its suppression floor k (requests per cell, at least 5).
    gtfs_dir, transit_late_threshold_s
        Transit priority (``/transit``): the GTFS static feed (``trips.txt``,
        ``stop_times.txt``, ``clearway_lines.json``; unset: the routes answer 503), and how
        late a bus must run to get a green extension or an early green (s).
    replay_dir
        Where re-runs of past requests started from the dashboard write their reports
        (``<replay_dir>/<request id>/``; unset: a temporary folder of this service run).
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    db_url: str = "sqlite:///clearway.db"
    token_secret: SecretStr | None = None
    token_ttl_s: int = Field(900, gt=0, le=86_400, description="bearer token lifetime (s)")
    dev: bool = False
    max_body_bytes: int = Field(64 * 1024, gt=0, le=16 * 1024 * 1024, description="bytes")
    feed_interval_s: float = Field(
        0.25, ge=0.02, le=10, description="shortest time between two live-feed messages (s)"
    )
    net_file: Path | None = None
    rate_positions_per_s: float = Field(
        200.0, gt=0, description="position updates per principal (sustained, per s)"
    )
    rate_writes_per_s: float = Field(
        2.0, gt=0, description="other changes per principal: create, cancel, renew ... (per s)"
    )
    rate_reads_per_s: float = Field(100.0, gt=0, description="reads per principal (per s)")
    rate_burst_s: float = Field(
        10.0, gt=0, le=3600, description="a principal may spend this many seconds' worth at once"
    )
    rate_public_per_s: float = Field(
        2.0, gt=0, description="public alert feed requests per client address (per s)"
    )
    public_stream_max_s: float = Field(
        300.0, gt=0, le=86_400, description="longest a public alert stream stays open (s)"
    )
    public_keepalive_s: float = Field(
        15.0, gt=0, le=300, description="keep-alive comment on an idle alert stream every (s)"
    )
    public_streams_per_client: int = Field(
        4, ge=1, le=1000, description="public alert streams one address may hold open"
    )
    peak_table: str = Field(
        "", max_length=4000, description="demand peaks, e.g. 07:00-09:00,B1@16:30-18:30"
    )
    peak_flow_vph: float = Field(
        900.0, gt=0, description="cross flow that flags a convoy window (veh/h)"
    )

    @field_validator("peak_table")
    @classmethod
    def _peaks(cls, value: str) -> str:
        try:
            parse_peak_table(value)
        except ConfigError as exc:
            raise ValueError(f"CLEARWAY_PEAK_TABLE: {exc}") from None
        return value

    max_corridors_per_area: int = Field(
        3, ge=1, description="unfinished requests whose routes cross one area at most (count)"
    )
    area_cell_m: float = Field(
        1000.0, gt=0, description="side of the square areas corridors are counted in (m)"
    )
    max_position_age_s: float = Field(
        10.0, gt=0, le=3600, description="oldest position accepted (real seconds since taken)"
    )
    clock_tolerance_s: float = Field(
        2.0, ge=0, le=60, description="how far ahead of now a position's time may be (s)"
    )
    report_key_file: Path | None = None
    public_report_k: int = Field(
        5, ge=5, le=1000, description="public report: no cell from fewer requests (count)"
    )
    gtfs_dir: str = Field("", max_length=4096, description="GTFS static feed folder (transit)")
    replay_dir: Path | None = None
    transit_late_threshold_s: float = Field(
        60.0, ge=0, le=3600, description="a bus later than this may get transit priority (s)"
    )

    @field_validator("report_key_file")
    @classmethod
    def _signing_key(cls, value: Path | None) -> Path | None:
        # Refuse to start with a key that cannot sign, not at the first public request.
        if value is not None:
            from clearway.storage.signed_head import load_private_key

            try:
                load_private_key(value)
            except ConfigError as exc:
                raise ValueError(f"CLEARWAY_REPORT_KEY_FILE: {exc}") from None
        return value

    def check_secrets(self) -> ServiceSettings:
        """These settings, with a usable token secret, or :class:`ConfigError`.

        Returns
        -------
        ServiceSettings
            ``self`` when the secret is fine; a copy with a random per-process secret in
            dev mode when none was given.

        Raises
        ------
        ConfigError
            Outside dev mode: ``CLEARWAY_TOKEN_SECRET`` is missing, shorter than
            :data:`MIN_SECRET_CHARS`, or a well-known default.
        """
        value = self.token_secret.get_secret_value() if self.token_secret else ""
        problem = ""
        if not value.strip():
            problem = "CLEARWAY_TOKEN_SECRET is not set"
        elif value.strip().lower() in DEFAULT_SECRETS or len(set(value)) < 8:
            problem = "CLEARWAY_TOKEN_SECRET is a default or guessable value"
        elif len(value) < MIN_SECRET_CHARS:
            problem = (
                f"CLEARWAY_TOKEN_SECRET has {len(value)} characters, fewer than {MIN_SECRET_CHARS}"
            )
        if not problem:
            return self
        if not self.dev:
            raise ConfigError(f"refusing to start: {problem}; {_HOW_TO_MAKE}")
        log.warning("dev mode: %s; using a random secret for this process", problem)
        return self.model_copy(update={"token_secret": SecretStr(secrets.token_urlsafe(48))})

    def secret_bytes(self) -> bytes:
        """The token secret as bytes (call :meth:`check_secrets` first)."""
        if self.token_secret is None:
            raise ConfigError(f"no token secret; {_HOW_TO_MAKE}")
        return self.token_secret.get_secret_value().encode()
