"""After one person's whole flow, neither the database nor the blob storage holds a photo, an
image, an adapter or any plaintext bytes of what was stored; an upload makes no temp file."""

import io
import json
import re
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

WINDOW = 64
WINDOW_STRIDE = 2048
PNG = b"\x89PNG\r\n\x1a\n"
WEBP = re.compile(rb"RIFF.{4}WEBP", re.DOTALL)
JPEG_SOI = re.compile(rb"\xff\xd8\xff")
SAFETENSORS_JSON = re.compile(rb'\{"')


@pytest.fixture
def blob_folder(settings, tmp_path):
    """This flow's blobs only, so the scan covers exactly what it stored."""
    folder = tmp_path / "blobs"
    settings.STORAGES = {
        **settings.STORAGES,
        "ciphertext": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder)},
        },
    }
    return folder


def is_jpeg_at(data, start):
    """SOI followed by two well-formed marker segments: random bytes almost never are."""
    position = start + 2
    for _segment in range(2):
        if position + 4 > len(data) or data[position] != 0xFF:
            return False
        marker = data[position + 1]
        if not 0xC0 <= marker <= 0xFE or 0xD0 <= marker <= 0xD9:
            return False
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2:
            return False
        position += 2 + length
    return position < len(data) and data[position] == 0xFF


def is_safetensors_at(data, brace):
    """An 8-byte little-endian header length, then that many bytes of safetensors JSON."""
    if brace < 8:
        return False
    length = int.from_bytes(data[brace - 8 : brace], "little")
    if not 2 <= length <= len(data) - brace:
        return False
    try:
        header = json.loads(data[brace : brace + length])
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and any(
        isinstance(value, dict) and "data_offsets" in value for value in header.values()
    )


def signatures_in(data):
    found = []
    if any(is_jpeg_at(data, match.start()) for match in JPEG_SOI.finditer(data)):
        found.append("JPEG")
    if PNG in data:
        found.append("PNG")
    if WEBP.search(data):
        found.append("WebP")
    if any(is_safetensors_at(data, match.start()) for match in SAFETENSORS_JSON.finditer(data)):
        found.append("safetensors")
    return found


def windows(data):
    """64-byte windows of ``data``, skipping runs too uniform to be telling (zero padding)."""
    for start in range(0, max(1, len(data) - WINDOW + 1), WINDOW_STRIDE):
        window = data[start : start + WINDOW]
        if len(window) == WINDOW and len(set(window)) >= 16:
            yield window


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
