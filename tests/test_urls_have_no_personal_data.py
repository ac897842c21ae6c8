"""No personal data in URLs: every parameter of every route is a random id or a fixed word, and
no page links to an address with the person's name in it. Addresses end up in browser
history, proxy logs and Referer headers."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import SlugConverter, UUIDConverter

from consent.models import Purpose

# Parameters that are not random ids, each a fixed vocabulary.
FIXED_WORDS = {"purpose": set(Purpose.values)}
# The admin is for staff only, and addresses its records by primary key.
STAFF_ONLY = ("admin/",)


def routes(resolver=None, prefix=""):
    """(route, {parameter: converter}) for every route of the URL conf."""
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        converters = getattr(entry.pattern, "converters", {})
        if isinstance(entry, URLResolver):
            for inner, inner_converters in routes(entry, route):
                yield inner, {**converters, **inner_converters}
        elif isinstance(entry, URLPattern):
            yield route, converters


def test_every_route_parameter_is_a_uuid_a_slug_or_a_fixed_word():
    offending = []
    for route, converters in routes():
        if route.startswith(STAFF_ONLY):
            continue
        for name, converter in converters.items():
            if isinstance(converter, UUIDConverter | SlugConverter) or name in FIXED_WORDS:
                continue
            offending.append(f"{route} <{name}>")

    assert offending == []


def test_routes_take_no_regular_expression_that_could_carry_a_name():
    # re_path routes have no converters to check: none outside the admin and static files.
    patterns = [
        route
        for route, converters in routes()
        if not route.startswith(STAFF_ONLY) and "(?P<" in route
    ]

    assert patterns == []


def test_consent_withdrawal_takes_only_a_purpose(client, consenting_user):
    client.force_login(consenting_user)

    assert client.post("/consent/withdraw/ada@example.com/").status_code == 404


@pytest.mark.parametrize(
    "path", ["/", "/photos/", "/clone/", "/styles/", "/gallery/", "/my-data/", "/consent/"]
)
def test_pages_link_nowhere_with_the_persons_name(client, consenting_user, path):
    consenting_user.email = "ada@example.com"
    consenting_user.save()
    client.force_login(consenting_user)

    html = client.get(path).content.decode()

    for attribute in ("href", "src", "action", "hx-get", "srcset", "data-upload-url"):
        for value in html.split(f'{attribute}="')[1:]:
            address = value.split('"', 1)[0]
            assert consenting_user.username not in address, (path, address)
            assert "ada@example.com" not in address, (path, address)
