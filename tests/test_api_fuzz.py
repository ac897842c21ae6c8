"""Schemathesis against the API's own OpenAPI schema, served at /api/schema/ by drf-spectacular
and loaded through the WSGI app, as a person with every consent, a selfie and a token: whatever
it sends, valid or not, no answer is a 5xx and every answer is one the schema describes (status,
content type, body).

Bounded for CI: a fixed number of examples per operation and kind of data, derandomized, so
every run sends the same requests. Each operation is a subtest, so one report names every
operation that fails."""

from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from PIL import Image
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from consent import erasure_requests
from consent.models import ErasureRequest
from portrait import services
from portrait.models import Job
from tests.flow import stored_output, with_selfie

EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_in_the_test_transaction():
    """As Django's test client does: neither the start nor the end of a request may close the
    connection that holds the test's transaction."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield application
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def person(consenting_user, settings):
    """Someone with a selfie, a queued job, a ready clone with a portrait and an open erasure
    request: so that the ids in paths can name something, and success answers are checked."""
    # The limits have tests of their own; here they would turn the later examples into 429s.
    settings.SITTER_RATE_LIMITS = dict.fromkeys(settings.SITTER_RATE_LIMITS, "off")
    with_selfie(consenting_user)
    subject = services.subject_for(consenting_user)
    output = stored_output(consenting_user, Image.new("RGB", (64, 80), "olive"))
    filed, _created = erasure_requests.file_request(
        consenting_user, channel=ErasureRequest.Channel.API
    )
    ids = {
        "/api/v1/jobs/": Job.objects.create(subject=subject, kind=Job.Kind.TRAIN).pk,
        "/api/v1/outputs/": output.pk,
        "/api/v1/erasure-requests/": filed.pk,
    }
    return Token.objects.create(user=consenting_user).key, ids


def object_of(operation, ids):
    return next(str(pk) for prefix, pk in ids.items() if operation.path.startswith(prefix))


def fuzz(strategy, token, sent):
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call_and_validate(
            headers={"Authorization": f"Token {token}"}, checks=CHECKS
        )
        sent.append((case.operation.label, response.status_code))

    run()


def strategies(operation, ids):
    """What to send: valid data; invalid data where a parameter or the body can be invalid;
    and valid data with the id in the path naming the person's own object."""
    path_ids = [p for p in operation.iter_parameters() if p.location == "path"]
    yield "positive", operation.as_strategy(GenerationMode.POSITIVE)
    if len(operation.body) or path_ids:
        yield "negative", operation.as_strategy(GenerationMode.NEGATIVE)
    if path_ids:
        own = {path_ids[0].name: object_of(operation, ids)}
        yield "own object", operation.as_strategy(GenerationMode.POSITIVE, path_parameters=own)


def test_api_answers_every_request_as_its_schema_says(
    wsgi_in_the_test_transaction, person, signing, subtests
):
    token, ids = person
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_in_the_test_transaction)
    # Withdrawing consent and filing erasure close most other operations: those go last.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: "withdraw" in operation.path or "erasure" in operation.path,
    )
    sent = []

    for operation in operations:
        for data, strategy in strategies(operation, ids):
            with subtests.test(operation=operation.label, data=data):
                fuzz(strategy, token, sent)

    assert len(operations) >= 20
    print(f"{len(sent)} requests to {len(operations)} operations:")
    for (label, status), count in sorted(Counter(sent).items()):
        print(f"  {label} {status}: {count}")
