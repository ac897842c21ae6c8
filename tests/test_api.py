import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portrait.models import Job, Photo
from tests.conftest import face_bytes
from tests.flow import upload, with_selfie


@pytest.fixture
def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def consented_api(api, consenting_user):
    return api


def test_token_from_username_and_password(client, user):
    response = client.post(
        "/api/v1/auth/token/", {"username": "ada", "password": "a-long-test-password-1"}
    )
    assert response.status_code == 200
    assert response.json()["token"]


def test_api_needs_a_token(client, db):
    assert client.get("/api/v1/outputs/").status_code == 401


def test_policy_is_public_with_version_hash_and_purposes(client, policy):
    body = client.get("/api/v1/policy/").json()
    assert (body["version"], body["hash"]) == (policy.version, policy.digest)
    assert [p["id"] for p in body["purposes"]] == ["biometric", "keep_clone", "render"]


def test_consent_through_the_api(api, policy):
    response = api.post(
        "/api/v1/consents/",
        {
            "policy_version": policy.version,
            "policy_hash": policy.digest,
            "purposes": ["biometric"],
            "age_confirmed": True,
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["purposes"] == ["biometric"]


def test_consent_against_a_stale_hash_is_a_400_with_a_reason(api, policy):
    response = api.post(
        "/api/v1/consents/",
        {
            "policy_version": policy.version,
            "policy_hash": "0" * 64,
            "purposes": ["biometric"],
            "age_confirmed": True,
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "stale_policy"


def test_photo_upload_without_consent_is_403_with_a_message(api, policy):
    response = api.post("/api/v1/photos/", {"file": upload("obama_3.jpg")})
    assert response.status_code == 403
    assert "consent" in response.json()["detail"]


def test_photo_upload_without_selfie_is_409(consented_api):
    response = consented_api.post("/api/v1/photos/", {"file": upload("obama_3.jpg")})
    assert response.status_code == 409
    assert response.json()["code"] == "no_selfie"


def test_selfie_then_photo_through_the_api(consented_api):
    assert consented_api.post("/api/v1/selfie/", {"file": upload("obama_1.jpg")}).status_code == 201
    response = consented_api.post("/api/v1/photos/", {"file": upload("obama_3.jpg")})
    assert response.status_code == 201
    assert response.json() == {"accepted": True, "number": 1, "reasons": []}


def test_refused_photo_is_422_with_reasons(consented_api, consenting_user):
    with_selfie(consenting_user)
    response = consented_api.post("/api/v1/photos/", {"file": upload("group_two_people.jpg")})
    assert response.status_code == 422
    assert response.json()["reasons"][0]["code"] == "several_faces"
    assert not Photo.objects.exists()


def test_upload_without_a_file_is_400(consented_api):
    assert consented_api.post("/api/v1/photos/", {}).status_code == 400


def test_clone_with_too_few_photos_is_409(consented_api):
    response = consented_api.post("/api/v1/clones/")
    assert response.status_code == 409
    assert response.json()["code"] == "not_enough_photos"


def test_job_of_another_person_is_404(api, other_user):
    from portrait.models import Subject

    job = Job.objects.create(subject=Subject.objects.create(user=other_user), kind="train")
    assert api.get(f"/api/v1/jobs/{job.pk}/").status_code == 404


def test_styles_are_listed_in_the_callers_language(api):
    response = api.get("/api/v1/styles/", headers={"accept-language": "zh-hans"})
    names = {s["slug"]: s["name"] for s in response.json()}
    assert names["id_photo"] == "证件照"
    assert len(names) >= 10


def test_render_with_an_unknown_style_is_404(consented_api):
    response = consented_api.post("/api/v1/renders/", {"style": "nope"}, format="json")
    assert response.status_code == 404


def test_schema_is_served(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/photos/" in response.content


def test_photo_bytes_never_come_back_in_an_answer(consented_api, consenting_user):
    with_selfie(consenting_user)
    response = consented_api.post("/api/v1/photos/", {"file": upload("obama_3.jpg")})
    assert face_bytes("obama_3.jpg")[:64] not in response.content
