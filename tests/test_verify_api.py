"""POST /api/v1/verify/: the verify page's answer for programs; officers also learn the render."""

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent

pytest_plugins = ["tests.rendered_portrait"]

URL = "/api/v1/verify/"


def client_for(user=None):
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def verify(client, data, name="portrait.jpg"):
    return client.post(URL, {"file": SimpleUploadedFile(name, data)}, format="multipart")


@pytest.fixture
def officer(django_user_model):
    user = django_user_model.objects.create_user("officer")
    user.groups.add(Group.objects.get_or_create(name="Compliance officer")[0])
    return user


def test_an_output_made_here_verifies_without_a_login(rendered_portrait, made_here):
    response = verify(client_for(), rendered_portrait.data)
    assert response.status_code == 200
    body = response.json()
    assert body["made_here"] is True
    assert body["c2pa"]["state"] == "Trusted"
    assert body["c2pa"]["generator"].startswith("Sitter ")
    assert body["c2pa"]["source_type"].endswith("trainedAlgorithmicMedia")
    assert body["xmp_label"] is True
    assert body["watermark"]["found"] is True


def test_the_answer_is_the_pages(client, rendered_portrait, made_here):
    page = client.post(
        reverse("portrait:verify"), {"file": SimpleUploadedFile("p.jpg", rendered_portrait.data)}
    )
    assert verify(client_for(), rendered_portrait.data).json() == page.context["answer"]


def test_a_reencoded_copy_is_recognised_by_its_watermark(reencoded_portrait, made_here):
    body = verify(client_for(), reencoded_portrait).json()
    assert body["made_here"] is True
    assert body["c2pa"]["state"] == "absent"
    assert body["xmp_label"] is False
    assert body["watermark"]["found"] is True


def test_a_photo_made_elsewhere_is_not_made_here(stranger_photo, made_here):
    body = verify(client_for(), stranger_photo).json()
    assert body["made_here"] is False
    assert body["watermark"] == {"found": False, "payload": None}


def test_an_officer_learns_the_render(officer, rendered_portrait, made_here):
    body = verify(client_for(officer), rendered_portrait.data).json()
    assert body["watermark"]["render"] == str(made_here.render_id)


def test_an_officer_learns_the_render_of_a_reencoded_copy(officer, reencoded_portrait, made_here):
    body = verify(client_for(officer), reencoded_portrait).json()
    assert body["watermark"]["render"] == str(made_here.render_id)


def test_a_superuser_learns_the_render(django_user_model, rendered_portrait, made_here):
    admin = django_user_model.objects.create_superuser("root", password="a-long-password-9")
    body = verify(client_for(admin), rendered_portrait.data).json()
    assert body["watermark"]["render"] == str(made_here.render_id)


def test_an_officers_lookup_is_audit_logged(officer, rendered_portrait, made_here):
    verify(client_for(officer), rendered_portrait.data)
    event = AuditEvent.objects.get(action=Action.STAFF_VIEWED)
    assert event.object_type == "render"
    assert event.details == {"via": "verify"}


def test_an_officer_gets_no_render_for_a_photo_made_elsewhere(officer, stranger_photo, made_here):
    assert verify(client_for(officer), stranger_photo).json()["watermark"]["render"] is None


def test_a_person_does_not_learn_the_render(user, rendered_portrait, made_here):
    body = verify(client_for(user), rendered_portrait.data).json()
    assert body["made_here"] is True
    assert "render" not in body["watermark"]


def test_an_anonymous_visitor_does_not_learn_the_render(rendered_portrait, made_here):
    assert "render" not in verify(client_for(), rendered_portrait.data).json()["watermark"]
    assert not AuditEvent.objects.filter(action=Action.STAFF_VIEWED).exists()


def test_garbage_is_a_400_with_a_message(db, signing):
    response = verify(client_for(), b"\x00garbage" * 100)
    assert response.status_code == 400
    assert response.json()["code"] == "not_an_image"
    assert "JPEG or PNG" in response.json()["detail"]


@pytest.mark.parametrize("data", [{}, {"file": SimpleUploadedFile("empty.jpg", b"")}])
def test_no_file_or_an_empty_one_is_a_400(db, data):
    response = client_for().post(URL, data, format="multipart")
    assert response.status_code == 400
    assert response.json()["file"]


def test_a_file_over_the_limit_is_a_413(db, settings, rendered_portrait):
    settings.SITTER_MAX_UPLOAD_BYTES = 10_000
    response = verify(client_for(), rendered_portrait.data)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_the_schema_documents_it(client, db):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"][URL]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert operation["security"][-1] == {}  # no authentication needed
    assert set(operation["responses"]) >= {"200", "400", "413"}
