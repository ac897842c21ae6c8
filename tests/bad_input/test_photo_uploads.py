"""Every file of the bad-input corpus through both photo upload endpoints (the upload page's
script and the API): the good ones are kept, clean; every other is refused with a 4xx that says
what is wrong, and leaves nothing behind, on disk or in the database."""

import io
import subprocess
import sys

import numpy as np
import pytest
from django.urls import reverse
from PIL import ExifTags, Image

from portrait import services, vault
from portrait.engine import faces
from portrait.models import Photo
from tests.bad_input.conftest import (
    SENDERS,
    api_as,
    refusal,
    send_api,
    send_web,
    stored_files,
    upload_file,
    web_as,
)
from tests.bad_input.corpus import CASES, HIDDEN_NAME, face, named
from tests.conftest import REPO_ROOT

ACCEPTED = [case for case in CASES if case.accepted]
REFUSED = [case for case in CASES if not case.accepted]


def test_the_corpus_has_thirty_kinds_and_more():
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)


def stored_photo(user):
    photo = services.subject_for(user).photos.get()
    return photo, vault.read(photo.blob)


@pytest.mark.parametrize("channel", SENDERS)
@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.name)
def test_good_photo_is_kept_as_a_clean_jpeg(clients, person, blob_folder, channel, case):
    before = stored_files(blob_folder)

    response = SENDERS[channel](clients, person, case)

    assert response.status_code == 201, response.content
    assert response.json()["accepted"] is True
    photo, data = stored_photo(person)
    assert stored_files(blob_folder) - before == {
        blob_folder / photo.blob,
        blob_folder / photo.signature_blob,
    }
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.mode) == ("JPEG", "RGB")
    assert len(image.getexif()) == 0
    assert not {"icc_profile", "xmp", "comment"} & set(image.info)


@pytest.mark.parametrize("channel", SENDERS)
@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_bad_input_is_refused_with_its_reason_and_nothing_is_kept(
    clients, person, blob_folder, channel, case
):
    before = stored_files(blob_folder)

    response = SENDERS[channel](clients, person, case)

    assert 400 <= response.status_code < 500, response.content
    code, message = refusal(response)
    assert code == case.code
    assert case.words in message
    assert not Photo.objects.exists()
    assert stored_files(blob_folder) == before


def test_gps_is_gone_from_everything_stored(clients, person):
    case = named("exif_gps")
    assert b"PhoneMaker" in case.data()

    send_api(clients, person, case)

    photo, data = stored_photo(person)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    for blob in (photo.blob, photo.signature_blob):
        plaintext = vault.read(blob)
        assert b"PhoneMaker" not in plaintext
        assert b"Exif" not in plaintext


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_photo_turned_by_its_exif_orientation_is_stored_upright(clients, person, orientation):
    case = named(f"exif_orientation_{orientation}")

    send_web(clients, person, case)

    _photo, data = stored_photo(person)
    stored = Image.open(io.BytesIO(data)).convert("RGB")
    upright = face()
    assert stored.size == upright.size
    assert np.abs(np.asarray(stored, float) - np.asarray(upright, float)).mean() < 6
    eyes_and_nose = faces.analyse_photo(stored).landmarks
    assert eyes_and_nose[:4, 1].max() < eyes_and_nose[4, 1]


def test_polyglot_keeps_the_photo_and_drops_what_hides_behind_it(clients, person):
    case = named("jpeg_zip_polyglot")
    assert HIDDEN_NAME in case.data()

    send_api(clients, person, case)

    _photo, data = stored_photo(person)
    assert HIDDEN_NAME not in data
    assert b"PK\x03\x04" not in data


def test_plain_form_keeps_the_good_photo_and_says_why_each_other_is_not(
    clients, person, blob_folder
):
    """The upload page without scripts sends every photo in one request."""
    sent = [named(name) for name in ("jpeg", "html_named_jpg", "png_bomb_30000", "two_faces")]

    response = web_as(clients, person).post(
        reverse("portrait:photos"), {"photos": [upload_file(case) for case in sent]}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Photo #1 accepted." in page
    for case in sent[1:]:
        assert case.words in page
    photo = services.subject_for(person).photos.get()
    selfie = services.subject_for(person).selfie_blob
    assert stored_files(blob_folder) == {
        blob_folder / name for name in (selfie, photo.blob, photo.signature_blob)
    }


def test_plain_form_with_nothing_usable_is_a_422(clients, person, blob_folder):
    sent = [named(name) for name in ("zip_named_jpg", "animated_webp")]

    response = web_as(clients, person).post(
        reverse("portrait:photos"), {"photos": [upload_file(case) for case in sent]}
    )

    assert response.status_code == 422
    assert not Photo.objects.exists()


def test_plain_form_posted_without_a_file_asks_for_one(clients, person):
    response = web_as(clients, person).post(reverse("portrait:photos"), {"photos": "me.jpg"})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_api_upload_of_too_many_files_at_once_is_refused_with_a_reason(clients, person):
    many = [upload_file(named("html_named_jpg")) for _ in range(101)]

    response = api_as(clients, person).post("/api/v1/photos/", {"file": many}, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == "too_many_parts"
    assert "one at a time" in response.json()["detail"]


def test_api_upload_with_an_oversized_form_field_is_a_413(clients, person):
    form = {"file": upload_file(named("jpeg")), "note": "x" * (22 * 1024 * 1024)}

    response = api_as(clients, person).post("/api/v1/photos/", form, format="multipart")

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Photo.objects.exists()


def test_reason_comes_in_the_persons_language(clients, person):
    case = named("html_named_jpg")

    for send in (send_web, send_api):
        response = send(clients, person, case, headers={"accept-language": "zh-hans"})
        code, message = refusal(response)
        assert code == "not_an_image"
        assert "这不是照片" in message


def test_drawing_is_refused_in_chinese_too(clients, person):
    case = named("drawing_of_a_face")

    response = send_web(clients, person, case, headers={"accept-language": "zh-hans"})

    assert refusal(response) == ("drawing", "这看起来是一幅画，不是照片：请上传你本人的照片。")


def test_decompression_bomb_is_refused_without_decoding_it():
    """In a fresh process, so its peak memory is this check's alone: 30000 x 30000 pixels would
    take 900 MB at one byte each."""
    script = (
        "import resource, sys\n"
        "from portrait.engine import images\n"
        "data = sys.stdin.buffer.read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    images.load_upload(data)\n"
        "except images.ImageRejected as rejected:\n"
        "    print(rejected.reason.code)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=named("png_bomb_30000").data(),
        capture_output=True,
        cwd=REPO_ROOT,
        check=True,
        timeout=120,
    )
    code, grown_kib = result.stdout.decode().split()
    assert code == "too_many_pixels"
    assert int(grown_kib) < 50_000
