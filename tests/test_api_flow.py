"""One person's whole flow through the API alone, on the tiny model."""

import io

import pytest
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.flow import SELFIE, SET, upload


@pytest.fixture
def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_consent_upload_clone_render_download(
    api, policy, settings, tiny_model, signing, django_capture_on_commit_callbacks
):
    settings.SITTER_MIN_PHOTOS = 3
    settings.SITTER_TRAIN_STEPS = 2
    settings.SITTER_RENDER_STEPS = 2
    settings.SITTER_RENDER_CANDIDATES = 2
    policy_body = api.get("/api/v1/policy/").json()
    assert (
        api.post(
            "/api/v1/consents/",
            {
                "policy_version": policy_body["version"],
                "policy_hash": policy_body["hash"],
                "purposes": [p["id"] for p in policy_body["purposes"]],
                "age_confirmed": True,
            },
            format="json",
        ).status_code
        == 201
    )
    assert api.post("/api/v1/selfie/", {"file": upload(SELFIE)}).status_code == 201
    for name in SET:
        assert api.post("/api/v1/photos/", {"file": upload(name)}).status_code == 201

    with django_capture_on_commit_callbacks(execute=True):
        clone = api.post("/api/v1/clones/").json()
    job = api.get(f"/api/v1/jobs/{clone['job']['id']}/").json()
    assert (job["status"], job["step"], job["total_steps"]) == ("done", 2, 2)

    with django_capture_on_commit_callbacks(execute=True):
        render = api.post("/api/v1/renders/", {"style": "business"}, format="json").json()
    assert api.get(f"/api/v1/jobs/{render['job']['id']}/").json()["status"] == "done"

    outputs = api.get("/api/v1/outputs/").json()
    assert [o["style"] for o in outputs] == ["business", "business"]
    download = api.get(f"/api/v1/outputs/{outputs[0]['id']}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(b"".join(download.streaming_content)))
    assert image.size == (512, 640)
