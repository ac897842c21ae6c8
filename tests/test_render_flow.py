import io

import pytest
from PIL import Image

from audit.models import Action, AuditEvent
from portrait import services, vault
from portrait.errors import Refused
from portrait.models import Job, Output
from portrait.recovery import recover
from portrait.verification import verify_output
from tests.flow import with_photos, with_selfie
from tests.workers import gone_worker


@pytest.fixture
def cloned(consenting_user, settings, tiny_model, signing, django_capture_on_commit_callbacks):
    settings.SITTER_MIN_PHOTOS = 3
    settings.SITTER_TRAIN_STEPS = 2
    settings.SITTER_RENDER_STEPS = 2
    settings.SITTER_RENDER_CANDIDATES = 2
    with_photos(with_selfie(consenting_user))
    with django_capture_on_commit_callbacks(execute=True):
        services.start_clone(consenting_user)
    return consenting_user


def render(user, style, options=None, capture=None):
    with capture(execute=True):
        rendered = services.request_render(user, style, options)
    rendered.refresh_from_db()
    return rendered


def test_render_needs_a_clone(consenting_user, settings):
    with pytest.raises(Refused) as refused:
        services.request_render(consenting_user, "business")
    assert refused.value.code == "no_clone"


def test_unknown_style_is_refused(cloned):
    with pytest.raises(Refused) as refused:
        services.request_render(cloned, "no-such-style")
    assert refused.value.status == 404


def test_render_stores_signed_encrypted_outputs(cloned, django_capture_on_commit_callbacks):
    rendered = render(cloned, "business", capture=django_capture_on_commit_callbacks)
    assert rendered.job.status == Job.Status.DONE
    outputs = list(rendered.outputs.all())
    assert [o.rank for o in outputs] == [1, 2]
    data = vault.read(outputs[0].blob)
    result = verify_output(data, include_render=True)
    assert result["c2pa"]["state"] == "Trusted"
    assert result["xmp_label"] is True
    assert result["watermark"]["found"] is True
    assert result["watermark"]["render"] == str(rendered.pk)


def test_render_records_seed_and_settings(cloned, django_capture_on_commit_callbacks):
    rendered = render(cloned, "watercolour", capture=django_capture_on_commit_callbacks)
    output = rendered.outputs.first()
    assert output.seed in (rendered.seed, rendered.seed + 1)
    assert output.settings["style"] == "watercolour"
    assert output.settings["steps"] == 2


def test_id_photo_has_the_spec_size_and_background(cloned, django_capture_on_commit_callbacks):
    rendered = render(
        cloned,
        "id_photo",
        {"spec": "us_passport", "background": "blue"},
        capture=django_capture_on_commit_callbacks,
    )
    output = rendered.outputs.first()
    image = Image.open(io.BytesIO(vault.read(output.blob)))
    assert image.size == (600, 600)
    assert round(image.info["dpi"][0]) == 300
    assert output.mime == "image/png"
    corner = image.convert("RGB").getpixel((2, 2))
    assert max(abs(a - b) for a, b in zip(corner, (67, 142, 219), strict=True)) <= 2
    assert verify_output(vault.read(output.blob), include_render=False)["watermark"]["found"]


def test_render_events_are_logged(cloned, django_capture_on_commit_callbacks):
    render(cloned, "business", capture=django_capture_on_commit_callbacks)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        Action.RENDER_QUEUED,
        Action.RENDER_STARTED,
        Action.OUTPUT_SIGNED,
        Action.RENDER_FINISHED,
    } <= actions
    assert Output.objects.count() == 2


def test_outputs_are_served_to_their_owner_only(
    cloned, other_user, client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    output = render(cloned, "business", capture=django_capture_on_commit_callbacks).outputs.first()
    url = reverse("portrait:output_download", args=[output.pk])
    client.force_login(other_user)
    assert client.get(url).status_code == 404
    client.force_login(cloned)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"
    assert AuditEvent.objects.filter(action=Action.OUTPUT_DOWNLOADED).count() == 1


def test_a_render_started_again_keeps_its_outputs_and_makes_only_the_missing_ones(
    cloned, settings, django_capture_on_commit_callbacks
):
    settings.SITTER_RENDER_CANDIDATES = 3
    rendered = render(cloned, "business", capture=django_capture_on_commit_callbacks)
    best, second = rendered.outputs.order_by("rank")
    # The worker died after storing one portrait of an attempt that ranked the candidates
    # differently: the best one came second there.
    Output.objects.filter(pk=second.pk).update(seed=best.seed)
    vault.destroy(best.blob)
    best.delete()
    Job.objects.filter(pk=rendered.job_id).update(status=Job.Status.RUNNING, worker=gone_worker())

    with django_capture_on_commit_callbacks(execute=True):
        assert recover() == {"requeued": 1}
    outputs = list(rendered.outputs.order_by("rank"))
    assert [output.rank for output in outputs] == [1, 2]
    assert (outputs[1].pk, outputs[1].blob) == (second.pk, second.blob)
    # The best candidate not stored yet fills the missing rank; none is stored twice.
    assert [output.seed for output in outputs] == [second.seed, best.seed]
    job = Job.objects.get(pk=rendered.job_id)
    assert (job.status, job.attempts) == (Job.Status.DONE, 2)
    started = AuditEvent.objects.filter(action=Action.RENDER_STARTED).order_by("seq").last()
    assert started.details == {"attempt": 2, "outputs_kept": 1}
