"""The audit chain's head, signed with Ed25519, so anyone can check later that the log was
not rewritten.

The signed message is the canonical JSON (:func:`~clearway.storage.chain.canonical_json`)
of exactly ``{"head_seq", "head_hash", "generated_at", "report_digest"}``, where
``report_digest`` is the sha256 hex of the report body's canonical JSON. The published head
adds ``algorithm`` (``"Ed25519"``), ``public_key`` (the 32 raw bytes, base64) and
``signature`` (64 bytes, base64). Keys are PEM files: the private one PKCS#8 (mode 0600,
refused if others may read it), the public one SubjectPublicKeyInfo.

:func:`check_against` tells whether the database's chain still holds the published entry:
the whole chain is verified, and the record at ``head_seq`` must carry ``head_hash``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearway.errors import ClearwayError, ConfigError
from clearway.storage.audit import VerifyReport, verify
from clearway.storage.chain import canonical_json
from clearway.storage.models import AuditRecordRow

ALGORITHM = "Ed25519"
SIGNED_FIELDS = ("head_seq", "head_hash", "generated_at", "report_digest")


class SignatureError(ClearwayError):
    """A published head whose signature does not hold, or that is malformed."""


def public_key_path(private_path: Path) -> Path:
    """Where :func:`generate_keypair` puts the public key beside ``private_path``."""
    return private_path.with_name(private_path.name + ".pub")


def generate_keypair(private_path: Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair: the private key (mode 0600) and ``<path>.pub``.

    Raises
    ------
    ConfigError
        The private key file exists and ``overwrite`` is false (a published key must not be
        replaced by accident: earlier reports would no longer check against it).
    """
    pub_path = public_key_path(private_path)
    if private_path.exists() and not overwrite:
        raise ConfigError(f"{private_path} exists; remove it or pass --force to replace the key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    if private_path.exists():
        private_path.unlink()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(private_path, 0o600)  # whatever the umask
    pub_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, pub_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path``; :class:`ConfigError` if missing, readable by
    others (group or world bits set) or not an Ed25519 PEM key."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(
            f"signing key {path}: {exc.strerror}; make one with `clearway audit keygen`"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"signing key {path} may be read by others; run `chmod 600 {path}`")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"signing key {path} is not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"signing key {path} is not an Ed25519 key")
    return key


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """A public key from PEM text or from its 32 raw bytes in base64.

    Raises
    ------
    SignatureError
        Neither, or not an Ed25519 key.
    """
    raw = text.encode() if isinstance(text, str) else text
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(raw)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(raw.strip(), validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise SignatureError(f"not an Ed25519 public key (PEM or base64 raw): {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError("the public key is not an Ed25519 key")
    return key


def public_key_b64(key: Ed25519PublicKey) -> str:
    """The 32 raw bytes of a public key, base64."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def report_digest(body: Any) -> str:
    """sha256 hex of the report body's canonical JSON."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def signed_message(head: dict[str, Any]) -> bytes:
    """The bytes signed: canonical JSON of the four :data:`SIGNED_FIELDS`."""
    missing = [f for f in SIGNED_FIELDS if f not in head]
    if missing:
        raise SignatureError(f"the published head lacks {', '.join(missing)}")
    return canonical_json({f: head[f] for f in SIGNED_FIELDS}).encode("utf-8")


def sign_head(
    key: Ed25519PrivateKey, head_seq: int, head_hash: str, generated_at: str, digest: str
) -> dict[str, Any]:
    """The published head: the signed fields, the algorithm, public key and signature."""
    head: dict[str, Any] = {
        "head_seq": head_seq,
        "head_hash": head_hash,
        "generated_at": generated_at,
        "report_digest": digest,
    }
    signature = key.sign(signed_message(head))
    return {
        **head,
        "algorithm": ALGORITHM,
        "public_key": public_key_b64(key.public_key()),
        "signature": base64.b64encode(signature).decode(),
    }


def head_of(document: dict[str, Any]) -> dict[str, Any]:
    """The published head in a file's JSON: the head itself or a whole report holding it."""
    head = document.get("audit_head", document)
    if not isinstance(head, dict):
        raise SignatureError("the file holds no published head (audit_head)")
    return head


def check_signature(head: dict[str, Any], public_key: Ed25519PublicKey | None = None) -> None:
    """Raise :class:`SignatureError` unless ``head`` is signed by ``public_key`` (default:
    the key the head names — then compare that key with the published one yourself)."""
    if head.get("algorithm") != ALGORITHM:
        raise SignatureError(f"the head is not signed with {ALGORITHM} (unsigned or unknown)")
    key = public_key or load_public_key(str(head.get("public_key", "")))
    if public_key is not None and head.get("public_key") not in (None, public_key_b64(key)):
        raise SignatureError("the head names another public key than the one given")
    try:
        signature = base64.b64decode(str(head.get("signature", "")), validate=True)
        key.verify(signature, signed_message(head))
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureError(
            "the signature does not match the head: the head, its time or its report digest "
            "was changed, or it was signed with another key"
        ) from None


@dataclass(frozen=True, slots=True)
class AgainstReport:
    """Outcome of :func:`check_against`: ``ok``, the first bad ``seq`` and a message."""

    ok: bool
    head_seq: int
    bad_seq: int | None
    message: str


def check_against(
    session: Session, head: dict[str, Any], chain: VerifyReport | None = None
) -> AgainstReport:
    """Does the chain still hold the published entry? Verifies the whole chain first (a
    break at or before ``head_seq`` is named by its record; pass ``chain`` if it was just
    verified), then the record at ``head_seq``: it must exist and carry ``head_hash``."""
    try:
        seq, digest = int(head["head_seq"]), str(head["head_hash"])
    except (KeyError, TypeError, ValueError):
        raise SignatureError("the published head has no integer head_seq and head_hash") from None
    chain = chain if chain is not None else verify(session)
    if not chain.ok and chain.bad_seq is not None and chain.bad_seq <= seq:
        return AgainstReport(
            False, seq, chain.bad_seq,
            f"the log was rewritten before the published head (record {seq}): first bad "
            f"record {chain.bad_seq}: {chain.message}",
        )  # fmt: skip
    if seq == 0:
        return AgainstReport(True, seq, None, "the published head is the empty log")
    stored = session.scalar(select(AuditRecordRow.hash).where(AuditRecordRow.seq == seq))
    if stored is None:
        return AgainstReport(
            False, seq, seq,
            f"record {seq}, the published head, is gone (the log ends at record "
            f"{chain.head_seq}): records were removed and the chain rebuilt",
        )  # fmt: skip
    if stored != digest:
        return AgainstReport(
            False, seq, seq,
            f"record {seq} no longer has the published hash {digest[:16]}...: the log up to "
            f"it was rewritten and re-hashed (a record at or before {seq} was changed or "
            "removed); an older published head narrows down which",
        )  # fmt: skip
    after = "" if chain.ok else f"; but after it: {chain.message}"
    return AgainstReport(
        chain.ok, seq, None if chain.ok else chain.bad_seq,
        f"the log still holds the published head: record {seq} with hash {digest[:16]}..., "
        f"and the chain up to it verifies{after}",
    )  # fmt: skip
