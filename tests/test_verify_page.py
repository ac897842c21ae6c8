"""The public verify page: anyone uploads an image and learns whether this instance made it,
without learning whose it is."""

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from portrait.models import Output

pytest_plugins = ["tests.rendered_portrait"]

URL = reverse("portrait:verify")


def post(client, data, name="portrait.jpg"):
    return client.post(URL, {"file": SimpleUploadedFile(name, data)})


def test_page_is_public_with_an_upload_form(client, db):
    response = client.get(URL)
    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_every_page_links_to_it(client, db):
    assert f'href="{URL}"'.encode() in client.get(reverse("login")).content


def test_an_output_made_here_verifies(client, rendered_portrait, made_here):
    response = post(client, rendered_portrait.data)
    assert response.status_code == 200
    answer = response.context["answer"]
    assert answer["made_here"] is True
    assert answer["c2pa"]["state"] == "Trusted"
    assert answer["xmp_label"] is True
    assert answer["watermark"]["found"] is True
    assert b"Trusted" in response.content


def test_the_answer_does_not_say_whose_it_is(client, rendered_portrait, made_here):
    response = post(client, rendered_portrait.data)
    assert "render" not in response.context["answer"]["watermark"]
    for private in (
        made_here.render_id,
        made_here.subject_id,
        made_here.pk,
        made_here.subject.user.username,
    ):
        assert str(private).encode() not in response.content


def test_officers_see_no_render_on_the_page_either(
    client, rendered_portrait, made_here, django_user_model
):
    officer = django_user_model.objects.create_user("officer")
    officer.groups.add(Group.objects.get_or_create(name="Compliance officer")[0])
    client.force_login(officer)
    assert "render" not in post(client, rendered_portrait.data).context["answer"]["watermark"]


def test_a_reencoded_copy_is_recognised_by_its_watermark(client, reencoded_portrait, made_here):
    answer = post(client, reencoded_portrait).context["answer"]
    assert answer["made_here"] is True
    assert answer["c2pa"]["state"] == "absent"
    assert answer["xmp_label"] is False
    assert answer["watermark"]["found"] is True


def test_a_photo_made_elsewhere_is_not_made_here(client, stranger_photo, made_here):
    response = post(client, stranger_photo)
    answer = response.context["answer"]
    assert response.status_code == 200
    assert answer["made_here"] is False
    assert answer["watermark"]["found"] is False
    assert answer["c2pa"]["state"] == "absent"


def test_garbage_is_a_400_with_a_message(client, db, signing):
    response = post(client, b"this is not an image at all", name="portrait.jpg")
    assert response.status_code == 400
    assert response.context["answer"] is None
    assert b"not a JPEG or PNG image" in response.content


@pytest.mark.parametrize("files", [{}, {"file": SimpleUploadedFile("empty.jpg", b"")}])
def test_no_file_or_an_empty_one_is_a_400(client, db, files):
    response = client.post(URL, files)
    assert response.status_code == 400
    assert response.context["form"].errors["file"]


def test_a_file_over_the_limit_is_a_413(client, db, settings, rendered_portrait):
    settings.SITTER_MAX_UPLOAD_BYTES = 10_000
    response = post(client, rendered_portrait.data)
    assert response.status_code == 413
    assert b"too large" in response.content


def test_a_post_without_the_csrf_token_is_refused(db, rendered_portrait):
    assert post(Client(enforce_csrf_checks=True), rendered_portrait.data).status_code == 403


def test_the_upload_is_kept_nowhere(client, rendered_portrait, made_here, data_dir):
    files_before = sorted(data_dir.rglob("*"))
    events_before = AuditEvent.objects.count()
    post(client, rendered_portrait.data)
    assert sorted(data_dir.rglob("*")) == files_before
    assert AuditEvent.objects.count() == events_before
    assert Output.objects.count() == 1
