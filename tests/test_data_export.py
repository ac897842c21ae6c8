"""The data export (GDPR Art. 15 and 20): one ZIP of the person's consent receipts, metadata,
portraits and uploads still held, streamed from the vault without a temporary file."""

import io
import json
import tempfile
import zipfile

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from audit.pseudonyms import actor_id
from consent.models import ConsentRecord
from portrait import vault
from tests.test_crypto_shredding import person_with_everything


@pytest.fixture
def person(consenting_user):
    return person_with_everything(consenting_user)


def download(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="sitter-export-')
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


@pytest.fixture
def archive(person, client):
    client.force_login(person.user)
    return download(client, reverse("portrait:export"))


def test_the_zip_holds_receipts_metadata_portraits_and_uploads(archive, person):
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[:2] == ["consent-receipts.json", "metadata.json"]
    assert sorted(name for name in names if name.startswith("photos/")) == [
        "photos/001.jpg",
        "photos/002.jpg",
    ]
    portraits = [name for name in names if name.startswith("portraits/")]
    assert len(portraits) == 2
    metadata = json.loads(archive.read("metadata.json"))
    for entry in metadata["outputs"]:
        output = person.outputs.get(pk=entry["id"])
        assert archive.read(entry["file"]) == vault.read(output.blob)
    for entry in metadata["photos"]:
        photo = person.photos.get(number=entry["number"])
        assert archive.read(entry["file"]) == vault.read(photo.blob)


def test_receipts_are_those_of_each_grant_and_withdrawal(archive, person):
    receipts = json.loads(archive.read("consent-receipts.json"))
    records = ConsentRecord.objects.filter(user=person.user)
    assert [receipt["receipt_id"] for receipt in receipts] == [str(r.pk) for r in records]
    assert receipts[0]["policy_hash"] == records[0].policy_hash


def test_metadata_describes_photos_clone_renders_and_outputs(archive, person):
    metadata = json.loads(archive.read("metadata.json"))
    assert metadata["format"] == "sitter.export"
    assert metadata["account"]["username"] == person.user.username
    assert [photo["number"] for photo in metadata["photos"]] == [1, 2]
    assert [clone["status"] for clone in metadata["clones"]] == ["ready"]
    assert [render["style"] for render in metadata["renders"]] == ["business"]
    assert sorted(output["rank"] for output in metadata["outputs"]) == [1, 2]
    assert metadata["selfie_descriptor_held"] is True
    assert len(metadata["jobs"]) == 2


def test_no_blob_name_or_descriptor_is_exported(archive, person):
    text = archive.read("metadata.json").decode()
    assert person.selfie_blob not in text
    assert not any(photo.signature_blob in text for photo in person.photos.all())
    assert "signature" not in " ".join(archive.namelist())


def test_the_api_export_is_the_same_zip(person):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=person.user).key}")
    archive = download(api, "/api/v1/export/")
    assert len([n for n in archive.namelist() if n.startswith("portraits/")]) == 2


def test_the_download_is_logged(archive, person):
    event = AuditEvent.objects.get(action=Action.EXPORT_DOWNLOADED)
    assert event.actor == actor_id(person.user)
    assert event.details == {"photos": 2, "outputs": 2}


def test_nothing_of_another_person_is_exported(person, other_user, client):
    client.force_login(other_user)
    archive = download(client, reverse("portrait:export"))
    assert archive.namelist() == ["consent-receipts.json", "metadata.json"]
    metadata = json.loads(archive.read("metadata.json"))
    assert metadata["outputs"] == metadata["photos"] == []
    assert json.loads(archive.read("consent-receipts.json")) == []


def test_no_temporary_file_is_written(person, client, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a temporary file")

    for name in (
        "mkstemp",
        "mkdtemp",
        "NamedTemporaryFile",
        "TemporaryFile",
        "SpooledTemporaryFile",
    ):
        monkeypatch.setattr(tempfile, name, refuse)
    client.force_login(person.user)
    assert download(client, reverse("portrait:export")).testzip() is None


def test_exporting_needs_a_login_but_no_consent(user, client):
    assert client.get(reverse("portrait:export")).status_code == 302
    assert APIClient().get("/api/v1/export/").status_code == 401
    client.force_login(user)  # consented to nothing
    assert client.get(reverse("portrait:export")).status_code == 200
