""" "Make it look more like me": marking renders, and refining the clone on the marks."""

import secrets

import pytest
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from portrait import refinement as refinement_job
from portrait import services, vault
from portrait.erasure import erase_subject
from portrait.errors import Refused
from portrait.models import Job, Output, Refinement
from tests.flow import finished_render, with_photos, with_selfie


def api_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def stored_output(user):
    """An output row of a ready clone, without training or rendering (nothing is decrypted)."""
    subject = services.subject_for(user)
    render = finished_render(subject)
    return Output.objects.create(
        subject=subject,
        render=render,
        rank=1,
        blob=f"{subject.pk}/output/x/y",
        mime="image/png",
        width=8,
        height=8,
        seed=1,
        watermark_id=secrets.randbits(32),
    )


# --- marking outputs ---


def test_feedback_marks_the_persons_own_output(consenting_user):
    output = stored_output(consenting_user)
    response = api_for(consenting_user).post(
        f"/api/v1/outputs/{output.pk}/feedback/", {"feedback": "like"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["feedback"] == "like"
    output.refresh_from_db()
    assert output.feedback == Output.Feedback.LIKE
    event = AuditEvent.objects.get(action=Action.OUTPUT_FEEDBACK)
    assert event.details == {"feedback": "like"}


def test_feedback_on_another_persons_output_is_not_found(consenting_user, other_user, policy):
    from tests.conftest import grant_all

    grant_all(other_user, policy)
    output = stored_output(consenting_user)
    response = api_for(other_user).post(
        f"/api/v1/outputs/{output.pk}/feedback/", {"feedback": "unlike"}, format="json"
    )
    assert response.status_code == 404
    output.refresh_from_db()
    assert output.feedback == Output.Feedback.NONE
    with pytest.raises(Refused) as refused:
        services.mark_output(other_user, output, "unlike")
    assert refused.value.status == 404


def test_unknown_feedback_is_refused(consenting_user):
    output = stored_output(consenting_user)
    response = api_for(consenting_user).post(
        f"/api/v1/outputs/{output.pk}/feedback/", {"feedback": "love"}, format="json"
    )
    assert response.status_code == 400
    output.refresh_from_db()
    assert output.feedback == Output.Feedback.NONE


def test_gallery_buttons_mark_an_output(client, consenting_user):
    output = stored_output(consenting_user)
    client.force_login(consenting_user)
    gallery = client.get("/gallery/").content.decode()
    assert f'action="/outputs/{output.pk}/feedback/"' in gallery
    assert "Looks like me" in gallery
    response = client.post(f"/outputs/{output.pk}/feedback/", {"feedback": "unlike"})
    assert response.status_code == 302
    output.refresh_from_db()
    assert output.feedback == Output.Feedback.UNLIKE


def test_gallery_refuses_unknown_feedback_with_a_message(client, consenting_user):
    output = stored_output(consenting_user)
    client.force_login(consenting_user)
    response = client.post(f"/outputs/{output.pk}/feedback/", {"feedback": "love"})
    assert response.status_code == 400
    assert "Choose" in response.content.decode()


def test_gallery_feedback_on_another_persons_output_is_not_found(
    client, consenting_user, other_user, policy
):
    from tests.conftest import grant_all

    grant_all(other_user, policy)
    output = stored_output(consenting_user)
    client.force_login(other_user)
    assert client.post(f"/outputs/{output.pk}/feedback/", {"feedback": "like"}).status_code == 404


# --- starting a refinement ---


def test_refinement_without_feedback_is_refused(consenting_user):
    stored_output(consenting_user)
    response = api_for(consenting_user).post("/api/v1/clones/refine/")
    assert response.status_code == 409
    assert response.json()["code"] == "no_feedback"
    assert not Refinement.objects.exists()


def test_refinement_without_a_clone_is_refused(consenting_user):
    response = api_for(consenting_user).post("/api/v1/clones/refine/")
    assert response.status_code == 409
    assert response.json()["code"] == "no_clone"


def test_refinement_needs_biometric_consent(user):
    response = api_for(user).post("/api/v1/clones/refine/")
    assert response.status_code == 403


def test_refinement_waits_on_the_train_queue(consenting_user):
    output = stored_output(consenting_user)
    services.mark_output(consenting_user, output, Output.Feedback.LIKE)
    refinement = services.start_refinement(consenting_user)
    assert refinement.job.kind == Job.Kind.REFINE
    assert refinement.job.queue == "train"
    assert services.start_refinement(consenting_user) == refinement
    assert AuditEvent.objects.filter(action=Action.REFINE_QUEUED).count() == 1


def test_clone_page_refuses_a_refinement_without_marks(client, consenting_user):
    stored_output(consenting_user)
    client.force_login(consenting_user)
    response = client.post("/clone/refine/")
    assert response.status_code == 409
    assert "Mark at least one portrait" in response.content.decode()


def test_clone_page_shows_likeness_and_that_the_old_clone_was_kept(client, consenting_user):
    output = stored_output(consenting_user)
    Refinement.objects.create(
        subject=output.subject,
        clone=output.render.clone,
        steps=200,
        liked=1,
        likeness_before=0.412,
        likeness_after=0.455,
        kept=False,
        finished_at=timezone.now(),
        job=Job.objects.create(
            subject=output.subject, kind=Job.Kind.REFINE, status=Job.Status.DONE
        ),
    )
    client.force_login(consenting_user)
    page = client.get("/clone/").content.decode()
    assert "Your clone did not get closer to you, so we kept the previous one." in page
    assert "before 0.412, after 0.455" in page


def test_erasing_the_person_erases_their_refinements(consenting_user):
    output = stored_output(consenting_user)
    services.mark_output(consenting_user, output, Output.Feedback.LIKE)
    services.start_refinement(consenting_user)
    erase_subject(output.subject, reason="test")
    assert not Refinement.objects.exists()


# --- running a refinement ---


@pytest.fixture
def marked(consenting_user, settings, tiny_model, signing, django_capture_on_commit_callbacks):
    """A person with a clone and two portraits of it, one liked and one not."""
    settings.SITTER_MIN_PHOTOS = 3
    settings.SITTER_TRAIN_STEPS = 2
    settings.SITTER_TRAIN_RESOLUTION = 128
    settings.SITTER_RENDER_STEPS = 2
    settings.SITTER_RENDER_CANDIDATES = 2
    settings.SITTER_REFINE_STEPS = 2
    settings.SITTER_REFINE_RENDERS = 2
    with_photos(with_selfie(consenting_user))
    with django_capture_on_commit_callbacks(execute=True):
        services.start_clone(consenting_user)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_render(consenting_user, "business")
    liked, unliked = Output.objects.order_by("rank")
    services.mark_output(consenting_user, liked, Output.Feedback.LIKE)
    services.mark_output(consenting_user, unliked, Output.Feedback.UNLIKE)
    return consenting_user


@pytest.fixture
def likeness_measured_as(monkeypatch):
    """Replace the likeness measurement by the given medians, in order of measuring."""

    def install(*medians):
        pending = list(medians)

        def measure(model_dir, adapter, reference, config, on_step=None):
            renders = [Image.new("RGB", (64, 64), (90 + 40 * i, 80, 70)) for i in range(2)]
            return refinement_job.Likeness(pending.pop(0), renders)

        monkeypatch.setattr(refinement_job, "measure_likeness", measure)

    return install


def refine(user, capture):
    with capture(execute=True):
        refinement = services.start_refinement(user)
    refinement.refresh_from_db()
    return refinement


def adapter_blobs(clone):
    _dirs, files = vault.storage.listdir(f"{clone.subject_id}/adapter/{clone.pk}")
    return [f"{clone.subject_id}/adapter/{clone.pk}/{name}" for name in files]


def test_refinement_that_improves_keeps_the_new_adapter(
    marked, likeness_measured_as, django_capture_on_commit_callbacks
):
    likeness_measured_as(0.50, 0.40)
    clone = services.subject_for(marked).current_clone()
    old_blob, old_adapter = clone.adapter_blob, vault.read(clone.adapter_blob)
    refinement = refine(marked, django_capture_on_commit_callbacks)

    assert refinement.job.status == Job.Status.DONE, refinement.job.error_message
    assert (refinement.likeness_before, refinement.likeness_after) == (0.50, 0.40)
    assert refinement.kept is True
    assert (refinement.liked, refinement.unliked, refinement.steps) == (1, 1, 2)
    clone.refresh_from_db()
    assert adapter_blobs(clone) == [clone.adapter_blob]
    assert clone.adapter_blob != old_blob
    assert vault.read(clone.adapter_blob) != old_adapter
    event = AuditEvent.objects.get(action=Action.CLONE_REFINED)
    assert event.details["kept"] is True
    assert len(event.details["replaced_adapter_sha256"]) == 64


def test_refinement_that_does_not_improve_keeps_the_old_adapter(
    marked, likeness_measured_as, django_capture_on_commit_callbacks
):
    likeness_measured_as(0.40, 0.45)
    clone = services.subject_for(marked).current_clone()
    old_blob = clone.adapter_blob
    refinement = refine(marked, django_capture_on_commit_callbacks)

    assert refinement.job.status == Job.Status.DONE, refinement.job.error_message
    assert refinement.kept is False
    assert (refinement.likeness_before, refinement.likeness_after) == (0.40, 0.45)
    clone.refresh_from_db()
    assert clone.adapter_blob == old_blob
    assert adapter_blobs(clone) == [old_blob]
    actions = list(
        AuditEvent.objects.filter(
            action__in=[
                Action.REFINE_QUEUED,
                Action.REFINE_STARTED,
                Action.CLONE_REFINED,
            ]
        ).values_list("action", flat=True)
    )
    assert actions == [Action.REFINE_QUEUED, Action.REFINE_STARTED, Action.CLONE_REFINED]


def test_failed_refinement_leaves_the_clone_as_it_was(
    marked, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(refinement_job, "train_lora", broken)
    clone = services.subject_for(marked).current_clone()
    refinement = refine(marked, django_capture_on_commit_callbacks)
    assert refinement.job.status == Job.Status.FAILED
    assert refinement.kept is None
    clone.refresh_from_db()
    assert vault.storage.exists(clone.adapter_blob)
    assert AuditEvent.objects.get(action=Action.REFINE_FAILED).details["error"] == "RuntimeError"


def test_real_refinement_on_the_tiny_model_through_the_api(
    marked, django_capture_on_commit_callbacks
):
    # The tiny model renders noise: no face is found before or after, so the likeness cannot
    # have improved and the old adapter must stay.
    api = api_for(marked)
    clone = services.subject_for(marked).current_clone()
    old_blob = clone.adapter_blob
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/clones/refine/")
    assert response.status_code == 202
    job = api.get(f"/api/v1/jobs/{response.json()['job']['id']}/").json()
    assert (job["kind"], job["status"]) == ("refine", "done")

    current = api.get("/api/v1/clones/").json()
    assert current["refinement"]["kept"] is False
    assert current["refinement"]["likeness_before"] is None
    assert current["refinement"]["likeness_after"] is None
    assert current["refinement"]["steps"] == 2
    clone.refresh_from_db()
    assert clone.adapter_blob == old_blob
