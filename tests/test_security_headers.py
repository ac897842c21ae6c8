"""The pages' security: a strict Content Security Policy with no inline script or style, CSRF
on every form, and secure cookies with HSTS behind HTTPS."""

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from csp.decorators import csp_update
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import reverse

from config.middleware import CSPMiddleware
from tests.conftest import REPO_ROOT

PUBLIC_PAGES = [
    "/",
    reverse("login"),
    reverse("signup"),
    reverse("portrait:verify"),
    "/no-such-page/",
]
PERSON_PAGES = [
    reverse("consent:give"),
    reverse("portrait:photos"),
    reverse("portrait:clone"),
    reverse("portrait:styles"),
    reverse("portrait:gallery"),
    reverse("portrait:my_data"),
    "/",
]


class InlineCode(HTMLParser):
    """Collects what a strict policy would block: inline scripts, style elements and
    attributes, and event-handler attributes."""

    def __init__(self):
        super().__init__()
        self.found = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = {name for name, _value in attrs}
        if tag == "script" and "src" not in names:
            self._in_script = True
        if tag == "style":
            self.found.append("<style>")
        self.found += [
            f"{tag}[{name}]" for name in names if name == "style" or name.startswith("on")
        ]

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")


def inline_code(html):
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def directives(response):
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.fixture
def logged_in(client, consenting_user):
    client.force_login(consenting_user)
    return client


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_carry_a_strict_policy(client, db, path):
    policy = directives(client.get(path))

    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert set(policy["img-src"]) == {"'self'", "blob:", "data:"}


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_have_no_inline_code(client, db, path):
    assert inline_code(client.get(path).content.decode()) == []


@pytest.mark.parametrize("path", PERSON_PAGES)
def test_persons_pages_have_no_inline_code(logged_in, path):
    response = logged_in.get(path)

    assert response.status_code == 200
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert inline_code(response.content.decode()) == []


def test_api_docs_start_from_a_script_file(client, db):
    page = client.get(reverse("api-docs")).content.decode()

    assert inline_code(page) == []


def test_pages_forbid_framing_and_sniffing(client, db):
    response = client.get("/")

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "name",
    ["login", "signup", "portrait:upload_photo", "portrait:photos", "consent:give", "set_language"],
)
def test_forms_refuse_a_post_without_the_csrf_token(consenting_user, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(consenting_user)

    response = client.post(reverse(name), {"language": "en"})

    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_every_page_form_carries_the_csrf_token(logged_in):
    for path in PERSON_PAGES:
        html = logged_in.get(path).content.decode()
        posts = len(re.findall(r'<form[^>]*method="post"', html))
        assert html.count('name="csrfmiddlewaretoken"') >= posts, path


def test_htmx_requests_get_the_csrf_token_from_the_page(client, db):
    html = client.get("/").content.decode()

    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)


def test_https_turns_on_secure_cookies_hsts_and_the_redirect(tmp_path):
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.CONTENT_SECURITY_POLICY['DIRECTIVES'].get('upgrade-insecure-requests')]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SITTER_HTTPS": "true",
        "SITTER_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    session, csrf, redirect, hsts, upgrade = json.loads(done.stdout.strip().splitlines()[-1])
    assert session and csrf and redirect and upgrade
    assert hsts >= 31536000


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_hsts_header_is_sent_over_https(client, db):
    response = client.get("/", secure=True)

    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_policy_follows_a_change_of_the_settings(client, db):
    site = client.get("/")["Content-Security-Policy"]

    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'none'"]}}):
        changed = client.get("/")["Content-Security-Policy"]

    assert changed == "default-src 'none'"
    assert client.get("/")["Content-Security-Policy"] == site


@override_settings(CONTENT_SECURITY_POLICY_REPORT_ONLY={"DIRECTIVES": {"img-src": ["'self'"]}})
def test_a_report_only_policy_is_sent_where_one_is_set(client, db):
    response = client.get("/")

    assert "img-src 'self'" in response["Content-Security-Policy-Report-Only"]
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_a_view_that_widens_its_policy_gets_its_own(rf):
    view = csp_update({"img-src": ["https://tiles.example.org"]})(lambda request: HttpResponse())

    policy = directives(CSPMiddleware(view)(rf.get("/")))

    assert "https://tiles.example.org" in policy["img-src"]
    assert policy["script-src"] == ["'self'"]
