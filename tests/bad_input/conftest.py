"""A person ready to upload (consent and verification selfie) with a blob folder of their own
(so "nothing stored" can be checked on disk), and the two upload endpoints."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portrait import services, vault
from portrait.engine import faces, images
from tests.conftest import face_bytes
from tests.flow import SELFIE


def stored_files(folder):
    return {path for path in folder.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def selfie_signature():
    """The selfie's face signature, analysed once per module: every test's person shares it
    (tests/bad_input/test_selfie_uploads.py sends selfies through the real endpoints)."""
    image = images.load_upload(face_bytes(SELFIE))
    return faces.analyse_photo(image, services.face_thresholds()).signature.to_bytes()


@pytest.fixture
def person(consenting_user, blob_folder, selfie_signature):
    subject = services.subject_for(consenting_user)
    subject.selfie_blob = vault.put(subject, vault.Kind.SELFIE, subject.pk, selfie_signature)
    subject.save(update_fields=["selfie_blob"])
    return consenting_user


@pytest.fixture(scope="module")
def clients():
    """One web and one API client for the module: a new client loads the middleware again,
    and WhiteNoise's scan of every static file costs more than most uploads here."""
    return Client(), APIClient()


def upload_file(case):
    # Every file claims to be a JPEG, whatever it is: the type is read from the bytes.
    return SimpleUploadedFile(case.filename, case.data(), content_type="image/jpeg")


def web_as(clients, user):
    web, _api = clients
    web.force_login(user)
    return web


def api_as(clients, user):
    _web, api = clients
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api


def send_web(clients, user, case, **headers):
    """The upload page's script: one photo per request, answered with its verdict as JSON."""
    return web_as(clients, user).post(
        reverse("portrait:upload_photo"), {"photo": upload_file(case)}, **headers
    )


def send_api(clients, user, case, **headers):
    return api_as(clients, user).post(
        "/api/v1/photos/", {"file": upload_file(case)}, format="multipart", **headers
    )


SENDERS = {"web": send_web, "api": send_api}


def refusal(response):
    """(code, message) of a refused upload, whichever endpoint answered."""
    body = response.json()
    if body.get("reasons"):
        return body["reasons"][0]["code"], body["reasons"][0]["message"]
    return body.get("code"), body.get("detail")
