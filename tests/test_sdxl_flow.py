"""An SDXL base model works end to end: training and rendering through the services."""

import io

import pytest
from PIL import Image

from portrait import services, vault
from portrait.engine.tiny import build_tiny_sdxl
from portrait.models import Clone, Job
from tests.flow import with_photos, with_selfie


@pytest.fixture
def sdxl_site(settings, tmp_path):
    settings.SITTER_BASE_MODEL = str(build_tiny_sdxl(tmp_path / "tiny-sdxl"))
    settings.SITTER_MIN_PHOTOS = 3
    settings.SITTER_TRAIN_STEPS = 2
    settings.SITTER_TRAIN_RESOLUTION = 128
    settings.SITTER_RENDER_STEPS = 2
    settings.SITTER_RENDER_CANDIDATES = 1
    return settings


def test_clone_and_render_on_an_sdxl_base_model(
    sdxl_site, consenting_user, signing, django_capture_on_commit_callbacks
):
    with_photos(with_selfie(consenting_user))
    with django_capture_on_commit_callbacks(execute=True):
        clone = services.start_clone(consenting_user)
    clone.refresh_from_db()
    assert clone.status == Clone.Status.READY
    assert clone.base_model == "tiny-sdxl"

    with django_capture_on_commit_callbacks(execute=True):
        render = services.request_render(consenting_user, "business")
    render.refresh_from_db()
    assert render.job.status == Job.Status.DONE, render.job.error_message
    output = render.outputs.get()
    style = services.styles()["business"]
    assert (output.width, output.height) == style.size_for("sdxl") == (1024, 1280)
    assert Image.open(io.BytesIO(vault.read(output.blob))).size == (1024, 1280)
