"""Signed erasure certificates.

A certificate is a JSON document of five members:

    statement    what was erased, when, and the audit event that records it (below)
    signature    base64 of the Ed25519 signature over the statement's canonical encoding
    algorithm    "Ed25519"
    public_key   base64 of the 32-byte raw Ed25519 public key that made the signature
    key_id       the first 16 hex digits of SHA-256 over that raw public key

The canonical encoding is the one the audit log hashes (``audit.models.canonical_json``): keys
sorted, no whitespace, UTF-8. Anyone can check the signature with the public key alone; the
service's own ``verify_certificate`` command also checks that the key is this service's and
that the audit log still holds the quoted event.

The statement:

    type, version      "sitter.erasure-certificate", 1
    issuer             the operator (SITTER_PRODUCER)
    request            the erasure request's id
    subject            the person's pseudonym, as the audit log names them
    requested_at, deadline, completed_at     UTC, as the audit log writes times
    destroyed          data_keys: how many data keys were destroyed (crypto-shredding);
                       blobs: {kind: {count, ciphertext_sha256: [sorted digests]}};
                       records: {model: rows deleted}
    consent_withdrawn  the purposes whose consent the erasure withdrew
    audit              {seq, hash} of the ``erasure.completed`` event: the log up to and
                       including that event, which lists every destruction before it
"""

import base64
import binascii
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from audit.models import Action, AuditEvent, canonical_json
from config.keyfiles import ensure_key_file

ALGORITHM = "Ed25519"
STATEMENT_TYPE = "sitter.erasure-certificate"
MEMBERS = ("statement", "signature", "algorithm", "public_key", "key_id")


class KeyFileInvalid(Exception):
    """The certificate key file holds neither 32 raw bytes nor an Ed25519 PEM private key."""


@functools.cache
def _signing_key(path):
    raw = Path(path).read_bytes()
    if raw.startswith(b"-----BEGIN "):
        key = serialization.load_pem_private_key(raw, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileInvalid(f"{path} is not an Ed25519 key (SITTER_CERTIFICATE_KEY_FILE)")
        return key
    if len(raw) != 32:
        raise KeyFileInvalid(
            f"{path} must hold 32 bytes or a PEM Ed25519 private key (SITTER_CERTIFICATE_KEY_FILE)"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def ensure_signing_key():
    """The service's signing key, created (32 random bytes, 0600) on first use."""
    path = settings.SITTER_CERTIFICATE_KEY_FILE
    ensure_key_file(path, 32)
    return _signing_key(str(path))


def raw_public_key(public_key):
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(raw):
    return hashlib.sha256(raw).hexdigest()[:16]


def service_key_id():
    return key_id(raw_public_key(ensure_signing_key().public_key()))


def sign(statement):
    """The certificate document for ``statement``, signed with the service's key."""
    key = ensure_signing_key()
    raw = raw_public_key(key.public_key())
    return {
        "statement": statement,
        "signature": base64.b64encode(key.sign(canonical_json(statement).encode())).decode(),
        "algorithm": ALGORITHM,
        "public_key": base64.b64encode(raw).decode(),
        "key_id": key_id(raw),
    }


@dataclass
class Verification:
    """What checking a certificate found. ``valid`` needs every check to pass."""

    signature: bool = False
    our_key: bool = False
    log_holds_event: bool | None = None
    statement: dict | None = None
    key_id: str = ""
    problems: list = field(default_factory=list)

    @property
    def valid(self):
        return self.signature and self.our_key and self.log_holds_event is not False

    def as_dict(self):
        statement = self.statement or {}
        return {
            "valid": self.valid,
            "signature": self.signature,
            "service_key": self.our_key,
            "audit_log_holds_event": self.log_holds_event,
            "key_id": self.key_id,
            "request": statement.get("request"),
            "completed_at": statement.get("completed_at"),
            "problems": self.problems,
        }


def verify(data, *, check_log=True):
    """Check a certificate given as the bytes of its file."""
    found = Verification()
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        found.problems.append("not a JSON document")
        return found
    if not isinstance(document, dict) or set(document) != set(MEMBERS):
        found.problems.append(f"not a certificate: expected the members {', '.join(MEMBERS)}")
        return found
    statement = document["statement"]
    if document["algorithm"] != ALGORITHM or not isinstance(statement, dict):
        found.problems.append(f"not a certificate: the algorithm must be {ALGORITHM}")
        return found
    found.statement = statement
    try:
        raw = _strict_b64decode(document["public_key"])
        signature = _strict_b64decode(document["signature"])
        Ed25519PublicKey.from_public_bytes(raw).verify(
            signature, canonical_json(statement).encode()
        )
    except (TypeError, ValueError, binascii.Error):
        found.problems.append("the public key or signature is not valid base64 of the right size")
        return found
    except InvalidSignature:
        found.problems.append("the signature does not match the statement: it was changed")
        return found
    found.signature = True
    found.key_id = key_id(raw)
    if document["key_id"] != found.key_id:
        found.problems.append("key_id does not name the public key")
    found.our_key = found.key_id == service_key_id() and document["key_id"] == found.key_id
    if not found.our_key:
        found.problems.append("signed with a key that is not this service's")
    if check_log:
        found.log_holds_event = _log_holds(statement.get("audit"))
        if not found.log_holds_event:
            found.problems.append("the audit log does not hold the event the certificate quotes")
    return found


def _strict_b64decode(text):
    """Base64 in its one canonical spelling: another (unused low bits set) is a changed file."""
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode() != text:
        raise ValueError("not canonical base64")
    return data


def _log_holds(quoted):
    if not isinstance(quoted, dict):
        return False
    seq, hash_ = quoted.get("seq"), quoted.get("hash")
    if not isinstance(seq, int) or not isinstance(hash_, str):
        return False
    return AuditEvent.objects.filter(seq=seq, hash=hash_, action=Action.ERASURE_COMPLETED).exists()
