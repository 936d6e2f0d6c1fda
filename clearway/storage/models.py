"""The database schema as SQLAlchemy 2 typed ORM classes.

The migrations in ``clearway/storage/migrations`` must produce exactly this schema (a test
compares them on SQLite and PostgreSQL). JSON is stored as text that clearway serialised
itself, so the bytes read back are the bytes written: the audit chain hashes them, and a
JSON column type would let the database re-order keys or re-spell numbers.

Times of day are UTC (``DateTime(timezone=True)``; SQLite hands them back without a zone,
:func:`as_utc` puts it back). Traffic times, as the controller counts them, are ``*_s``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names: migrations address constraints by name, and the two backends
# would otherwise invent different ones.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: SQLite only auto-numbers an INTEGER primary key; PostgreSQL gets a 64-bit one.
BigId = BigInteger().with_variant(Integer(), "sqlite")

ROLES = ("viewer", "dispatcher", "operator", "admin", "transit")
UTCDateTime = DateTime(timezone=True)


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (microsecond resolution, as both databases keep it)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` as aware UTC; a naive value (SQLite reads them back so) is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AuditRecordRow(Base):
    """One audit record; ``hash`` = sha256(``prev_hash`` + canonical JSON of the record)."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    principal: Mapped[str | None] = mapped_column(String(128), index=True)
    junction_id: Mapped[str | None] = mapped_column(String(256), index=True)
    request_id: Mapped[str | None] = mapped_column(String(128), index=True)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHeadRow(Base):
    """The chain's head: its one row is locked by every append, so appends form one line."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class UserRow(Base):
    """A person or system that calls the API, with one role."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    """An API key: its public id, and a salted hash of its secret (never the secret)."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Its changes must carry an HMAC signature (see clearway.service.signing).
    signed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PriorityRequestRow(Base):
    """A priority request: indexed columns for lookups, the request itself as JSON."""

    __tablename__ = "priority_requests"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    principal: Mapped[str | None] = mapped_column(String(128), index=True)
    requester_id: Mapped[str] = mapped_column(String(64), index=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    spec: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_s: Mapped[float | None] = mapped_column(Double)
    last_heard_s: Mapped[float | None] = mapped_column(Double)
    last_position_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_position_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PositionRow(Base):
    """One position update of a priority vehicle, as sent (pruned after the retention
    period): a road place (``edge_id``, ``offset_m``) or a GPS fix (``lon``, ``lat``, with
    ``heading_deg`` and ``accuracy_m`` if sent); ``measured_at`` is the sender's UTC time
    stamp, if it sent one, ``time_s`` the traffic time the controller used."""

    __tablename__ = "priority_positions"
    __table_args__ = (UniqueConstraint("request_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("priority_requests.request_id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    time_s: Mapped[float] = mapped_column(Double)
    edge_id: Mapped[str | None] = mapped_column(String(256))
    offset_m: Mapped[float | None] = mapped_column(Double)
    lon: Mapped[float | None] = mapped_column(Double)
    lat: Mapped[float | None] = mapped_column(Double)
    speed_mps: Mapped[float] = mapped_column(Double)
    heading_deg: Mapped[float | None] = mapped_column(Double)
    accuracy_m: Mapped[float | None] = mapped_column(Double)
    measured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
