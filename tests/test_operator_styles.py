"""Operators add styles without code: a JSON file (and its style LoRA) in SITTER_STYLES_DIR."""

import json

import pytest
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portrait import services
from portrait.engine.training import TrainingConfig, train_lora
from portrait.models import Output
from tests.flow import with_photos, with_selfie

STYLE = {
    "slug": "studio-noir",
    "name": {"en": "Studio noir", "zh-hans": "黑色影棚"},
    "description": {"en": "Hard light on black.", "zh-hans": "黑底硬光。"},
    "prompt": "{subject}, studio portrait, hard light, black background",
    "negative_prompt": "blurry",
    "width": 256,
    "height": 320,
    "steps": 2,
    "guidance": 5.0,
    "candidates": 1,
    "style_lora": "noir.safetensors",
    "style_lora_scale": 0.8,
}


@pytest.fixture
def styles_dir(settings, tmp_path, tiny_model):
    folder = tmp_path / "styles"
    folder.mkdir()
    (folder / "studio-noir.json").write_text(json.dumps(STYLE), encoding="utf-8")
    grey = Image.new("RGB", (64, 64), (40, 40, 40))
    lora = train_lora(tiny_model, [grey], TrainingConfig(steps=1, resolution=64, rank=4, alpha=4.0))
    (folder / "noir.safetensors").write_bytes(lora.adapter)
    settings.SITTER_STYLES_DIR = str(folder)
    services.styles.cache_clear()
    yield folder
    services.styles.cache_clear()


@pytest.fixture
def api(consenting_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=consenting_user).key}")
    return client


@pytest.fixture
def cloned(consenting_user, settings, tiny_model, signing, django_capture_on_commit_callbacks):
    settings.SITTER_MIN_PHOTOS = 3
    settings.SITTER_TRAIN_STEPS = 2
    settings.SITTER_TRAIN_RESOLUTION = 128
    with_photos(with_selfie(consenting_user))
    with django_capture_on_commit_callbacks(execute=True):
        services.start_clone(consenting_user)
    return consenting_user


def test_operator_style_is_listed_beside_the_built_in_ones(styles_dir, api):
    styles = {style["slug"]: style for style in api.get("/api/v1/styles/").json()}
    assert styles["studio-noir"]["name"] == "Studio noir"
    assert "business" in styles


def test_operator_style_renders_with_its_style_lora(
    styles_dir, cloned, api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/renders/", {"style": "studio-noir"}, format="json")
    assert response.status_code == 202
    job = api.get(f"/api/v1/jobs/{response.json()['job']['id']}/").json()
    assert job["status"] == "done", job["error_message"]
    [output] = api.get("/api/v1/outputs/").json()
    assert (output["style"], output["width"], output["height"]) == ("studio-noir", 256, 320)
    recorded = Output.objects.get(pk=output["id"]).settings
    assert recorded["style_lora"] == {"file": "noir.safetensors", "scale": 0.8}
