"""Rate limits on logging in, signing up, uploading and the API: past the limit a 429 with a
message in the person's language, counted in a cache every process shares."""

import secrets

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portrait import ratelimit
from tests.flow import upload

TIGHT = {"login": "2/m", "upload": "2/h", "api": "3/m"}


@pytest.fixture(autouse=True)
def tight_limits():
    # Counts live in a cache that a transaction does not roll back (Redis in the PostgreSQL
    # run): a key prefix of each test's own keeps one test's attempts out of the next one's.
    default = {**settings.CACHES["default"], "KEY_PREFIX": f"rate-test-{secrets.token_hex(4)}"}
    with override_settings(
        SITTER_RATE_LIMITS=TIGHT, CACHES={**settings.CACHES, "default": default}
    ):
        yield


@pytest.fixture
def address():
    """An address of the test's own, so counts from other tests (a shared Redis) never mix."""
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"


WRONG = "not-the-password"


def log_in(client, address, username="ada", password=WRONG, **extra):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


def test_login_past_the_limit_is_refused_with_a_429(client, user, address):
    assert log_in(client, address).status_code == 200
    assert log_in(client, address).status_code == 200

    response = log_in(client, address, password="a-long-test-password-1")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_limit_speaks_chinese(client, user, address):
    log_in(client, address)
    log_in(client, address)

    response = log_in(client, address, HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert response.status_code == 429
    assert "尝试次数过多" in response.content.decode()


def test_login_limit_counts_each_user_name_from_any_address(client, user, address):
    log_in(client, address, username=user.username)
    log_in(client, f"{address}1", username=user.username)

    assert log_in(client, f"{address}2", username=user.username).status_code == 429


def test_signup_is_within_the_login_limit(client, db, address):
    for name in ("one", "two"):
        client.post(reverse("signup"), {"username": name}, REMOTE_ADDR=address)

    response = client.post(reverse("signup"), {"username": "three"}, REMOTE_ADDR=address)

    assert response.status_code == 429


def test_uploads_past_the_limit_are_refused_before_any_check(client, consenting_user):
    client.force_login(consenting_user)
    url = reverse("portrait:upload_photo")
    for _attempt in range(2):
        client.post(url, {"photo": upload("obama_2.jpg")})

    response = client.post(url, {"photo": upload("obama_2.jpg")})

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert "Please wait" in response.json()["detail"]


def test_the_upload_form_counts_each_photo(client, consenting_user):
    client.force_login(consenting_user)

    response = client.post(
        reverse("portrait:photos"),
        {"photos": [upload("obama_2.jpg"), upload("obama_3.jpg"), upload("obama_4.jpg")]},
    )

    assert response.status_code == 429


def test_api_past_the_limit_is_refused_with_a_429(user):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    for _attempt in range(3):
        assert api.get("/api/v1/styles/").status_code == 200

    response = api.get("/api/v1/styles/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 429
    assert "限流" in response.json()["detail"]


def test_api_token_is_within_the_login_limit(user, address):
    api = APIClient()
    for _attempt in range(2):
        api.post(
            "/api/v1/auth/token/",
            {"username": user.username, "password": "wrong"},
            REMOTE_ADDR=address,
        )

    response = api.post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": "a-long-test-password-1"},
        REMOTE_ADDR=address,
    )

    assert response.status_code == 429


def test_limits_can_be_switched_off(client, user, address):
    with override_settings(SITTER_RATE_LIMITS={**TIGHT, "login": "off"}):
        statuses = {log_in(client, address).status_code for _attempt in range(5)}

    assert statuses == {200}


def test_a_count_is_seen_by_every_process(db):
    # Each gunicorn worker has its own connection to the cache: a fresh one here.
    key = f"shared-{secrets.token_hex(4)}"
    ratelimit.hit("login", key)
    ratelimit.hit("login", key)
    other_process = caches.create_connection("default")

    assert "LocMemCache" not in settings.CACHES["default"]["BACKEND"]
    with override_settings(SITTER_RATE_LIMITS=TIGHT):
        original = ratelimit.cache
        ratelimit.cache = other_process
        try:
            assert ratelimit.hit("login", key) > 0
        finally:
            ratelimit.cache = original


@pytest.mark.parametrize("rate", ["ten/m", "10/week", "10"])
def test_a_malformed_rate_is_a_clear_error(rate):
    with pytest.raises(ImproperlyConfigured, match="10/m"):
        ratelimit.parse_rate(rate)


def test_rates_read_as_count_and_window():
    assert ratelimit.parse_rate("10/m") == (10, 60)
    assert ratelimit.parse_rate("120/h") == (120, 3600)
    assert ratelimit.parse_rate("off") is None


def test_requests_within_the_limit_pass(client, user, address):
    assert log_in(Client(), address).status_code == 200
