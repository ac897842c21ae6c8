"""What the person sees while their work waits and runs, and the upload page's pieces: the
progress panel the pages poll, each photo's verdict as JSON, gallery thumbnails and the style
examples."""

import io

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from portrait import eta, services
from portrait.models import Clone, Job, Photo, Render
from tests.flow import stored_output, upload, with_selfie


@pytest.fixture(autouse=True)
def fresh_estimates():
    eta.clear_cache()


@pytest.fixture
def logged_in(client, consenting_user):
    client.force_login(consenting_user)
    return client


def queued_training(user, ahead=0):
    subject = services.subject_for(user)
    for _index in range(ahead):
        Job.objects.create(subject=subject, kind=Job.Kind.TRAIN)
    job = Job.objects.create(subject=subject, kind=Job.Kind.TRAIN)
    Clone.objects.create(subject=subject, job=job, base_model="sitter-tiny-sd15")
    return job


# --- the progress panel ---


def test_clone_page_polls_its_job_instead_of_reloading(logged_in, consenting_user):
    job = queued_training(consenting_user)

    page = logged_in.get(reverse("portrait:clone")).content.decode()

    assert f'hx-get="{reverse("portrait:job_progress", args=[job.pk])}"' in page
    assert 'hx-trigger="every 2s"' in page
    assert "http-equiv" not in page


def test_waiting_job_shows_its_place_in_the_queue_and_an_eta(logged_in, consenting_user):
    job = queued_training(consenting_user, ahead=2)

    response = logged_in.get(reverse("portrait:job_progress", args=[job.pk]))

    text = response.content.decode()
    assert response.status_code == 200
    assert "2 jobs are ahead of yours in the queue." in text
    assert "Expected to start in about 20 minutes and to be done in about 30 minutes." in text


def test_a_waiting_jobs_panel_asks_to_be_polled_again_at_its_own_address(
    logged_in, consenting_user
):
    url = reverse("portrait:job_progress", args=[queued_training(consenting_user).pk])

    text = logged_in.get(url).content.decode()

    assert f'hx-get="{url}" hx-trigger="every 2s"' in text
    assert '<span class="status-queued">Waiting in the queue</span>' in text


def test_running_job_shows_its_step_and_a_progress_bar(logged_in, consenting_user):
    job = queued_training(consenting_user)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, started_at=timezone.now(), step=5, total_steps=20
    )

    text = logged_in.get(reverse("portrait:job_progress", args=[job.pk])).content.decode()

    assert '<progress max="20" value="5"' in text
    assert "Step 5 of 20" in text


def test_render_progress_shows_on_the_gallery(logged_in, consenting_user):
    output = stored_output(consenting_user, Image.new("RGB", (64, 80), "gray"))
    job = Job.objects.create(
        subject=output.subject,
        kind=Job.Kind.RENDER,
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
        step=3,
        total_steps=8,
    )
    Render.objects.create(
        subject=output.subject, clone=output.render.clone, job=job, style="hanfu", seed=2
    )

    page = logged_in.get(reverse("portrait:gallery")).content.decode()

    assert f'hx-get="{reverse("portrait:job_progress", args=[job.pk])}"' in page
    assert '<progress max="8" value="3"' in page


def test_finished_job_stops_polling_and_reloads_the_page(logged_in, consenting_user):
    job = queued_training(consenting_user)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.DONE)

    response = logged_in.get(
        reverse("portrait:job_progress", args=[job.pk]), HTTP_HX_REQUEST="true"
    )

    assert response["HX-Refresh"] == "true"
    assert "hx-trigger" not in response.content.decode()


def test_another_persons_job_is_not_found(client, consenting_user, other_user):
    job = queued_training(consenting_user)
    client.force_login(other_user)

    assert client.get(reverse("portrait:job_progress", args=[job.pk])).status_code == 404


def test_progress_panel_speaks_chinese(logged_in, consenting_user):
    job = queued_training(consenting_user, ahead=1)

    text = logged_in.get(
        reverse("portrait:job_progress", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()

    assert "排队" in text


# --- the upload page ---


def test_upload_page_takes_many_photos_from_the_camera_roll(logged_in):
    page = logged_in.get(reverse("portrait:photos")).content.decode()

    assert 'accept="image/*"' in page
    assert " multiple " in page
    assert f'data-upload-url="{reverse("portrait:upload_photo")}"' in page
    assert 'enctype="multipart/form-data"' in page  # works without scripts, too


def test_each_uploaded_photo_gets_its_verdict_as_json(logged_in, consenting_user):
    with_selfie(consenting_user)

    accepted = logged_in.post(reverse("portrait:upload_photo"), {"photo": upload("obama_2.jpg")})
    refused = logged_in.post(reverse("portrait:upload_photo"), {"photo": upload("biden_1.jpg")})

    assert accepted.status_code == 201
    assert accepted.json()["accepted"] is True
    assert accepted.json()["number"] == 1
    assert accepted.json()["accepted_count"] == 1
    assert refused.status_code == 422
    assert refused.json()["reasons"][0]["code"] == "selfie_mismatch"
    assert "does not match your verification selfie" in refused.json()["reasons"][0]["message"]
    assert Photo.objects.count() == 1


def test_upload_without_a_file_says_what_is_missing(logged_in):
    response = logged_in.post(reverse("portrait:upload_photo"), {})

    assert response.status_code == 400
    assert response.json()["detail"] == "Choose a photo to upload."


def test_upload_before_the_selfie_is_refused_with_a_reason(logged_in):
    response = logged_in.post(reverse("portrait:upload_photo"), {"photo": upload("obama_2.jpg")})

    assert response.status_code == 409
    assert response.json()["code"] == "no_selfie"


def test_upload_without_consent_is_refused(client, user, policy):
    client.force_login(user)

    response = client.post(reverse("portrait:upload_photo"), {"photo": upload("obama_2.jpg")})

    assert response.status_code == 403
    assert response.json()["code"] == "consent_required"


# --- gallery and styles ---


def test_gallery_thumbnail_is_resized_from_the_decrypted_output(logged_in, consenting_user):
    output = stored_output(consenting_user, Image.new("RGB", (600, 750), "navy"))
    url = reverse("portrait:output_image", args=[output.pk])

    assert f'src="{url}?size=320"' in logged_in.get(reverse("portrait:gallery")).content.decode()
    response = logged_in.get(url, {"size": "160"})

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=3600"
    assert Image.open(io.BytesIO(response.content)).size == (160, 200)


def test_thumbnail_of_an_unlisted_size_is_refused(logged_in, consenting_user):
    output = stored_output(consenting_user, Image.new("RGB", (60, 75), "navy"))

    response = logged_in.get(reverse("portrait:output_image", args=[output.pk]), {"size": "5000"})

    assert response.status_code == 400


def test_another_persons_thumbnail_is_not_found(client, consenting_user, other_user):
    output = stored_output(consenting_user, Image.new("RGB", (60, 75), "navy"))
    client.force_login(other_user)

    response = client.get(reverse("portrait:output_image", args=[output.pk]), {"size": "160"})

    assert response.status_code == 404


def test_style_picker_shows_a_drawn_example_of_each_style(logged_in):
    page = logged_in.get(reverse("portrait:styles")).content.decode()

    for slug in services.styles():
        assert f"/static/portrait/styles/{slug}.svg" in page
