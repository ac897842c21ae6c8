"""The erasure certificate: what was destroyed (kinds, counts, ciphertext digests), when, and the
audit event that records it, signed with the service's Ed25519 key; ``verify_certificate``
accepts it as issued and refuses it with any one byte changed."""

import base64
import hashlib
import io
import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent, canonical_json
from audit.pseudonyms import actor_id
from consent import certificates
from tests.test_crypto_shredding import blob_names, ciphertext, person_with_everything


@pytest.fixture
def person(consenting_user):
    return person_with_everything(consenting_user)


@pytest.fixture
def digests(person):
    """Kind -> digests of the person's ciphertext, taken before the erasure."""
    found = {}
    for name in blob_names(person):
        found.setdefault(name.split("/")[1], []).append(
            hashlib.sha256(ciphertext(name)).hexdigest()
        )
    return found


@pytest.fixture
def certificate_file(person, digests, tmp_path, django_capture_on_commit_callbacks):
    """The certificate as the person downloads it from the API."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=person.user).key}")
    with django_capture_on_commit_callbacks(execute=True):
        filed = api.post("/api/v1/erasure-requests/").json()
    response = api.get(f"/api/v1/erasure-requests/{filed['id']}/certificate/")
    assert response.status_code == 200
    path = tmp_path / "certificate.json"
    path.write_bytes(response.content)
    return path


def check(path):
    """(exit status, JSON report) of ``verify_certificate FILE --json``."""
    out = io.StringIO()
    try:
        call_command("verify_certificate", str(path), "--json", stdout=out)
    except CommandError as error:
        return error.returncode, json.loads(out.getvalue() or "null")
    return 0, json.loads(out.getvalue())


def test_a_certificate_verifies(certificate_file):
    status, report = check(certificate_file)
    assert status == 0
    assert report["valid"] and report["signature"] and report["service_key"]
    assert report["audit_log_holds_event"] is True
    assert report["problems"] == []


def test_the_human_readable_check(certificate_file):
    out = io.StringIO()
    call_command("verify_certificate", str(certificate_file), stdout=out)
    assert "certificate:   VALID" in out.getvalue()


def test_one_changed_byte_fails_wherever_it_is(certificate_file, tmp_path):
    issued = certificate_file.read_bytes()
    changed = tmp_path / "changed.json"
    for position in range(len(issued)):
        data = bytearray(issued)
        data[position] ^= 1
        changed.write_bytes(bytes(data))
        assert not certificates.verify(bytes(data)).valid, (position, chr(issued[position]))
    assert check(changed)[0] == 1


def test_a_changed_digest_is_a_broken_signature(certificate_file):
    document = json.loads(certificate_file.read_bytes())
    digest = document["statement"]["destroyed"]["blobs"]["photo"]["ciphertext_sha256"][0]
    other = ("1" if digest[0] == "0" else "0") + digest[1:]
    certificate_file.write_text(json.dumps(document).replace(digest, other))
    status, report = check(certificate_file)
    assert (status, report["signature"]) == (1, False)
    assert "changed" in report["problems"][0]


def test_the_certificate_lists_what_was_destroyed(certificate_file, person, digests):
    statement = json.loads(certificate_file.read_bytes())["statement"]
    blobs = statement["destroyed"]["blobs"]
    assert {kind: entry["count"] for kind, entry in blobs.items()} == {
        "adapter": 1,
        "checkpoint": 1,
        "output": 2,
        "photo": 2,
        "reference": 1,
        "selfie": 1,
        "signature": 2,
    }
    assert {kind: sorted(entry["ciphertext_sha256"]) for kind, entry in blobs.items()} == {
        kind: sorted(found) for kind, found in digests.items()
    }
    assert statement["destroyed"]["data_keys"] == 1
    assert statement["destroyed"]["records"] == {
        "clone": 1,
        "job": 2,
        "output": 2,
        "photo": 2,
        "render": 1,
        "subject": 1,
    }
    assert statement["consent_withdrawn"] == ["biometric", "keep_clone", "render"]
    assert statement["subject"] == actor_id(person.user)
    assert str(person.pk) not in json.dumps(statement)


def test_the_certificate_quotes_the_erasure_completed_event(certificate_file):
    statement = json.loads(certificate_file.read_bytes())["statement"]
    event = AuditEvent.objects.get(action=Action.ERASURE_COMPLETED)
    assert statement["audit"] == {"seq": event.seq, "hash": event.hash}
    # Every destruction the certificate lists was logged before it, in the chain it commits to.
    logged = AuditEvent.objects.filter(
        seq__lt=event.seq, action__in=[Action.CLONE_ERASED, Action.DATA_ERASED]
    )
    listed = {
        digest
        for entry in statement["destroyed"]["blobs"].values()
        for digest in entry["ciphertext_sha256"]
    }
    assert listed == {digest for item in logged for digest in item.details["ciphertext_sha256"]}


def resigned(certificate_file, statement, key=None):
    """The file's statement, edited, signed again (by ``key``, or the service's own)."""
    if key is None:
        document = certificates.sign(statement)
    else:
        raw = certificates.raw_public_key(key.public_key())
        document = {
            "statement": statement,
            "algorithm": "Ed25519",
            "signature": base64.b64encode(key.sign(canonical_json(statement).encode())).decode(),
            "public_key": base64.b64encode(raw).decode(),
            "key_id": certificates.key_id(raw),
        }
    certificate_file.write_text(json.dumps(document))
    return certificate_file


def test_a_certificate_signed_by_another_key_is_not_valid(certificate_file):
    statement = json.loads(certificate_file.read_bytes())["statement"]
    status, report = check(resigned(certificate_file, statement, Ed25519PrivateKey.generate()))
    assert (status, report["signature"], report["service_key"]) == (1, True, False)


def test_a_certificate_quoting_an_event_the_log_lacks_is_not_valid(certificate_file):
    statement = json.loads(certificate_file.read_bytes())["statement"]
    statement["audit"]["hash"] = "f" * 64
    status, report = check(resigned(certificate_file, statement))
    assert (status, report["signature"], report["audit_log_holds_event"]) == (1, True, False)


def test_what_is_not_a_certificate_fails_with_a_reason(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not json")
    status, report = check(path)
    assert status == 1
    assert report["problems"] == ["not a JSON document"]


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("verify_certificate", str(tmp_path / "none.json"))


def test_the_service_key_is_a_0600_file(settings, tmp_path):
    settings.SITTER_CERTIFICATE_KEY_FILE = tmp_path / "keys" / "certificate.key"
    key = certificates.ensure_signing_key()
    path = settings.SITTER_CERTIFICATE_KEY_FILE
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert len(path.read_bytes()) == 32
    assert certificates.ensure_signing_key() is key


def test_an_operators_pem_key_signs(settings, tmp_path):
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "operator.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings.SITTER_CERTIFICATE_KEY_FILE = path
    document = certificates.sign({"type": certificates.STATEMENT_TYPE})
    raw = certificates.raw_public_key(key.public_key())
    assert document["key_id"] == certificates.key_id(raw)
