"""The other way an image comes in: the verification selfie, on the consent pages and through
the API. A handful of the corpus's kinds: the selfie is checked like a photo, and a refused one
leaves no selfie and no blob behind."""

import pytest
from django.urls import reverse

from portrait import services
from tests.bad_input.conftest import api_as, stored_files, upload_file, web_as
from tests.bad_input.corpus import CASES, named

KINDS = [
    "html_named_jpg",
    "png_bomb_30000",
    "animated_gif",
    "truncated_jpeg",
    "two_faces",
    "drawing_of_a_face",
]
REFUSED = [case for case in CASES if case.name in KINDS]
GOOD = named("exif_orientation_6")


@pytest.fixture
def person(consenting_user, blob_folder):
    return consenting_user


def selfie_blob(user):
    return services.subject_for(user).selfie_blob


def test_good_selfie_is_recorded_on_the_selfie_page(clients, person, blob_folder):
    web = web_as(clients, person)

    response = web.post(reverse("consent:selfie"), {"selfie": upload_file(GOOD)})

    assert response.status_code == 302
    assert selfie_blob(person)
    assert stored_files(blob_folder) == {blob_folder / selfie_blob(person)}


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_bad_selfie_is_refused_on_the_selfie_page(clients, person, blob_folder, case):
    web = web_as(clients, person)

    response = web.post(reverse("consent:selfie"), {"selfie": upload_file(case)})

    assert response.status_code == 400
    assert case.words in response.content.decode()
    assert not selfie_blob(person)
    assert stored_files(blob_folder) == set()


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_bad_selfie_is_refused_through_the_api(clients, person, blob_folder, case):
    response = api_as(clients, person).post(
        "/api/v1/selfie/", {"file": upload_file(case)}, format="multipart"
    )

    assert response.status_code == 422
    body = response.json()
    assert body["reasons"][0]["code"] == case.code
    assert case.words in body["detail"]
    assert not selfie_blob(person)
    assert stored_files(blob_folder) == set()


def test_empty_selfie_is_refused_on_the_selfie_page(clients, person, blob_folder):
    web = web_as(clients, person)
    empty = named("empty")

    response = web.post(reverse("consent:selfie"), {"selfie": upload_file(empty)})

    assert response.status_code == 400
    assert "The submitted file is empty." in response.content.decode()
    assert not selfie_blob(person)


def test_consent_with_a_bad_selfie_is_kept_and_asks_for_another(clients, user, policy, blob_folder):
    web = web_as(clients, user)
    bad = named("pdf_named_jpg")
    form = {
        "policy_version": policy.version,
        "policy_hash": policy.digest,
        "biometric": "on",
        "age_confirmed": "on",
        "selfie": upload_file(bad),
    }

    response = web.post(reverse("consent:give"), form, follow=True)

    assert response.redirect_chain[-1][0] == reverse("consent:selfie")
    assert "your selfie was not accepted: This is not a photo" in response.content.decode()
    assert not selfie_blob(user)
    assert stored_files(blob_folder) == set()
