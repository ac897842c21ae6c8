"""One person can never reach another's objects. Every route that takes an object's id is found
by walking the URL conf; for each, a real object of its owner is made, the owner is served, and
another person (with every consent of their own) gets 404 for every method the route serves the
owner, a compliance officer gets no content either, and a visitor without an account is sent
to log in.

A new route that takes an id fails ``test_every_route_that_takes_an_id_is_checked`` until it
has a factory below."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from consent import erasure_requests
from consent.models import ConsentRecord, ErasureRequest
from consent.officers import ensure_officer_group
from portrait import services
from portrait.models import Job
from tests.conftest import grant_all
from tests.flow import stored_output
from tests.staff import admin_login

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
OFFICER_PASSWORD = "an-officer-password-9"


def walk(resolver=None, namespace=""):
    """(name, route, parameter names) of every URL pattern, namespaced like ``reverse`` wants;
    the parameters of a regular expression are its named groups."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace) if part)
            for name, route, params in walk(pattern, inner):
                yield name, str(pattern.pattern) + route, params
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield name, str(pattern.pattern), frozenset(pattern.pattern.regex.groupindex)


def is_admin(route):
    return route.startswith("admin/")


def admin_url(route):
    """An admin route with "1" for each of its ids (the admin's pages for an object, named or
    not); None for the admin's own regular expressions (its app index and catch-all)."""
    if "(?P<" in route:
        return None
    return "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route)


# --- one real object of the owner per kind of id ---


def queued_job(owner, on_commit):
    subject = services.subject_for(owner)
    return Job.objects.create(subject=subject, kind=Job.Kind.TRAIN).pk


def output(owner, on_commit):
    return stored_output(owner, Image.new("RGB", (64, 80), "teal")).pk


def consent_record(owner, on_commit):
    return ConsentRecord.objects.filter(user=owner).latest("created_at").pk


def completed_erasure(owner, on_commit):
    with on_commit(execute=True):
        filed, _created = erasure_requests.file_request(owner, channel=ErasureRequest.Channel.API)
    filed.refresh_from_db()
    assert filed.status == ErasureRequest.Status.COMPLETED
    return filed.pk


OBJECTS = {
    "portrait:job_progress": ("job_id", queued_job),
    "portrait:output_image": ("output_id", output),
    "portrait:output_download": ("output_id", output),
    "portrait:output_feedback": ("output_id", output),
    "consent:receipt": ("record_id", consent_record),
    "consent:erasure_certificate": ("request_id", completed_erasure),
    "api:job": ("pk", queued_job),
    "api:output-feedback": ("pk", output),
    "api:output-download": ("pk", output),
    "api:erasure-request": ("pk", completed_erasure),
    "api:erasure-certificate": ("pk", completed_erasure),
}
# Parameters that name nothing of anyone's.
NOT_IDS = {
    # one of the policy's purposes ("biometric", ...): the same words for everybody
    ("consent:withdraw", "purpose"),
}

ID_ROUTES = sorted(
    name
    for name, route, params in walk()
    if not is_admin(route) and {(name, param) for param in params} - NOT_IDS
)
ADMIN_ID_URLS = sorted(
    {admin_url(route) for _name, route, params in walk() if params and is_admin(route)} - {None}
)


def test_every_route_that_takes_an_id_is_checked():
    assert sorted(OBJECTS) == ID_ROUTES, "give each new route that takes an id a factory"


# --- the people ---


@pytest.fixture
def owner(consenting_user):
    return consenting_user


@pytest.fixture
def other_person(other_user, policy):
    grant_all(other_user, policy)
    return other_user


@pytest.fixture
def officer(db, policy):
    officer = get_user_model().objects.create_user("oli", password=OFFICER_PASSWORD, is_staff=True)
    officer.groups.add(ensure_officer_group())
    grant_all(officer, policy)
    return officer


def client_of(user, api, officer=False):
    """The client a person would use: a session on the site, or a token on the API. An
    officer's session comes from the admin's log-in, second factor included."""
    client = APIClient()
    if user is None:
        return client
    if api:
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    elif officer:
        assert admin_login(client, user, OFFICER_PASSWORD).status_code == 302
    else:
        client.force_login(user)
    return client


def answer(client, method, url):
    response = client.generic(method, url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body


@pytest.mark.parametrize("name", ID_ROUTES)
def test_only_the_owner_reaches_their_object(
    name, owner, other_person, officer, django_capture_on_commit_callbacks
):
    param, make = OBJECTS[name]
    url = reverse(name, kwargs={param: make(owner, django_capture_on_commit_callbacks)})
    api = name.startswith("api:")
    other = client_of(other_person, api)
    staff = client_of(officer, api, officer=True)
    visitor = client_of(None, api)

    # Everyone else first: the owner's own POST may change the object.
    others = {method: answer(other, method, url) for method in METHODS}
    officers = {method: answer(staff, method, url) for method in METHODS}
    visitors = {method: answer(visitor, method, url) for method in METHODS}
    mine = client_of(owner, api)
    owners = {method: answer(mine, method, url) for method in METHODS}

    served = [method for method in METHODS if owners[method][0] != 405]
    assert "GET" in served or "POST" in served
    assert all(owners[method][0] != 404 for method in served), owners
    for method in METHODS:
        expected = {404} if method in served else {404, 405}
        assert others[method][0] in expected, (method, others[method])
        assert officers[method][0] in expected | {403}, (method, officers[method])
        assert visitors[method][0] in {302, 401, 403, 405}, (method, visitors[method])
        if visitors[method][0] == 302:
            assert visitors[method][1] == b""
        own_status, own_body = owners[method]
        if own_status == 200 and own_body:
            for _status, body in (others[method], officers[method], visitors[method]):
                assert own_body not in body


@pytest.mark.parametrize("url", ADMIN_ID_URLS)
def test_admin_pages_that_take_an_id_send_a_person_to_the_staff_login(url, other_person):
    client = client_of(other_person, api=False)

    for method in ("GET", "POST"):
        response = client.generic(method, url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith(reverse("admin:login"))
