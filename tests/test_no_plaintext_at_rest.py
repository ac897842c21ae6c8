"""After one person's whole flow, neither the database nor the blob storage holds a photo, an
image, an adapter or any plaintext bytes of what was stored; an upload makes no temp file."""

import io
import tempfile
from pathlib import Path

import pytest
from django.core.files import uploadedfile
from django.db import connection
from django.urls import reverse
from PIL import Image

from portrait import services, vault
from tests.conftest import FACES, face_bytes
from tests.flow import SELFIE, SET, with_photos, with_selfie
from tests.plaintext import signatures_in, windows


def database_contents():
    """Every value of every table as the database connection sees it, as bytes."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        chunks.append(bytes(value))
                    elif value is not None:
                        chunks.append(str(value).encode())
    return b"\n\x00\n".join(chunks)


def database_files():
    """On SQLite, the database as it would be on disk (with this test's rows, which its
    transaction holds in memory), and the files themselves."""
    if connection.vendor != "sqlite":
        return {}
    connection.ensure_connection()
    files = {"serialized database": connection.connection.serialize()}
    name = Path(connection.settings_dict["NAME"])
    for path in (name, Path(f"{name}-wal"), Path(f"{name}-shm")):
        if path.exists():
            files[path.name] = path.read_bytes()
    return files


def run_the_whole_flow(user, capture):
    """Consent (fixture), selfie, uploads, clone, renders; returns every plaintext stored."""
    subject = with_selfie(user).subject
    plaintexts = [vault.read(subject.selfie_blob)]
    for verdict in with_photos(user):
        plaintexts += [vault.read(verdict.photo.blob), vault.read(verdict.photo.signature_blob)]
    with capture(execute=True):
        clone = services.start_clone(user)
    clone.refresh_from_db()
    plaintexts += [vault.read(clone.adapter_blob), vault.read(clone.reference_blob)]
    for style, options in (
        ("business", None),
        ("id_photo", {"spec": "us_passport", "background": "white"}),
    ):
        with capture(execute=True):
            services.request_render(user, style, options)
    plaintexts += [vault.read(output.blob) for output in subject.outputs.all()]
    return plaintexts


@pytest.mark.slow
def test_nothing_readable_is_at_rest_after_the_whole_flow(
    consenting_user, settings, tiny_model, signing, blob_folder, django_capture_on_commit_callbacks
):
    settings.SITTER_MIN_PHOTOS = 3
    settings.SITTER_TRAIN_STEPS = 2
    settings.SITTER_RENDER_STEPS = 2
    settings.SITTER_RENDER_CANDIDATES = 2
    plaintexts = run_the_whole_flow(consenting_user, django_capture_on_commit_callbacks)
    assert len(plaintexts) == 1 + 2 * len(SET) + 2 + 4
    # The scan is only worth something if the plaintexts carry what it looks for.
    assert all("JPEG" in signatures_in(face_bytes(name)) for name in [SELFIE, *SET])
    assert "safetensors" in signatures_in(plaintexts[-6])
    assert {"JPEG", "PNG"} <= {sig for data in plaintexts[-4:] for sig in signatures_in(data)}

    stored = {
        str(path.relative_to(blob_folder)): path.read_bytes()
        for path in blob_folder.rglob("*")
        if path.is_file()
    }
    assert len(stored) >= 1 + 2 + 4  # selfie, adapter and reference, outputs
    assert all(data.startswith(b"SITV") for data in stored.values())
    at_rest = {**stored, "database rows": database_contents(), **database_files()}

    secret_windows = [window for data in plaintexts for window in windows(data)]
    secret_windows += [window for name in [SELFIE, *SET] for window in windows(face_bytes(name))]
    for where, data in at_rest.items():
        assert signatures_in(data) == [], where
        assert not any(window in data for window in secret_windows), where


def big_photo():
    """A real photo over 2.5 MiB, the size above which Django spools uploads to a temp file."""
    image = Image.open(FACES / SET[0]).convert("RGB")
    image = image.resize((image.width * 4, image.height * 4))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    assert buffer.tell() > 3 * 1024 * 1024
    return buffer.getvalue()


def test_an_upload_creates_no_temp_file(consenting_user, client, settings, tmp_path, monkeypatch):
    temp_dir = tmp_path / "uploads-tmp"
    temp_dir.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(temp_dir)
    with_selfie(consenting_user)
    made = []

    def spy(name, real):
        def record(*args, **kwargs):
            made.append(name)
            return real(*args, **kwargs)

        return record

    for name in ("NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, spy(name, getattr(tempfile, name)))
    monkeypatch.setattr(
        uploadedfile.TemporaryUploadedFile,
        "__init__",
        spy("TemporaryUploadedFile", uploadedfile.TemporaryUploadedFile.__init__),
    )
    client.force_login(consenting_user)
    photo = io.BytesIO(big_photo())
    photo.name = "large.png"
    response = client.post(reverse("portrait:photos"), {"photos": [photo]})
    assert response.status_code in (200, 422)
    assert made == []
    assert list(temp_dir.iterdir()) == []
