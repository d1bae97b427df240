"""The chat-side rules the API and the CLI share, and the API's problem mapping: no network."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from emailpipe.api import problems
from emailpipe.chat import normalize_email, parse_setting, parse_since
from emailpipe.domain.errors import AlreadyExistsError, InvalidInputError, NotFoundError, TooLargeError
from emailpipe.domain.models import Settings
from emailpipe.local.api_server import to_event
from emailpipe.store.paging import clamp_limit, decode_cursor, encode_cursor


@pytest.mark.parametrize("address", ["bob@", "@x.example", "a@@b.example", "x@y", "a b@x.example", "", "a@b.test"])
def test_addresses_that_are_not_addresses_are_refused_naming_the_field(address):
    with pytest.raises(InvalidInputError) as caught:
        normalize_email(address, field="author")

    assert caught.value.field == "author"


def test_addresses_are_trimmed_and_lower_cased():
    assert normalize_email("  Bob@Agents.Example ") == "bob@agents.example"
    assert normalize_email("support+tok@example.com") == "support+tok@example.com"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("delimiter", "off", False),
        ("delimiter", True, True),
        ("human_takeover", "yes", True),
        ("digest_window_seconds", "30", 30),
        ("digest_window_seconds", 0, 0),
    ],
)
def test_settings_take_text_as_the_cli_gives_it_and_json_as_the_api_gives_it(key, value, expected):
    assert parse_setting(Settings(), key, value) == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("delimiter", "maybe"),
        ("delimiter", 1),
        ("digest_window_seconds", -1),
        ("digest_window_seconds", True),
        ("digest_window_seconds", "ten"),
        ("digest_window_seconds", 1.5),
        ("colour", "red"),
    ],
)
def test_a_bad_setting_names_itself(key, value):
    with pytest.raises(InvalidInputError) as caught:
        parse_setting(Settings(), key, value)

    assert caught.value.field == key


def test_since_takes_durations_and_iso_times():
    assert abs(parse_since("1h") - (time.time() - 3600)) < 5
    assert parse_since("2026-12-01T00:00:00") == parse_since("2026-12-01T00:00:00Z")
    with pytest.raises(InvalidInputError):
        parse_since("yesterday")


def test_a_cursor_round_trips_and_a_forged_one_is_refused():
    key = {"pk": {"S": "CONV#abc"}, "sk": {"S": "MSG#2026"}}
    cursor = encode_cursor(key)

    assert encode_cursor(None) is None
    assert decode_cursor(cursor, hash_key="CONV#abc")["k"] == key
    assert "=" not in cursor
    for bad in ("%%%", "bm90IGpzb24", encode_cursor({"pk": {"N": "1"}})):
        with pytest.raises(InvalidInputError) as caught:
            decode_cursor(bad)
        assert caught.value.field == "cursor"
    with pytest.raises(InvalidInputError):
        decode_cursor(cursor, hash_key="CONV#other")
    with pytest.raises(InvalidInputError):
        clamp_limit(0)


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (InvalidInputError("bad", field="email"), 400, "invalid-request"),
        (NotFoundError("no"), 404, "not-found"),
        (AlreadyExistsError("dup"), 409, "already-exists"),
        (TooLargeError("big", field="attachments[0]"), 413, "too-large"),
        (problems.ProblemError("forbidden", "read key"), 403, "forbidden"),
        (RuntimeError("boom"), 500, "internal"),
    ],
)
def test_every_error_maps_to_one_problem_type(error, status, slug):
    response = problems.to_response(error)
    body = json.loads(response.body)

    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert body["type"] == f"urn:emailpipe:problem:{slug}" and body["status"] == status and body["title"]
    if getattr(error, "field", None):
        assert body["errors"] == [{"field": error.field, "detail": str(error)}]


def test_a_throttled_store_and_a_reused_idempotency_key_map_to_429_and_409():
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyValidationError
    from botocore.exceptions import ClientError

    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")

    assert problems.to_response(throttled).status_code == 429
    assert problems.to_response(throttled).headers["Retry-After"] == "1"
    assert json.loads(problems.to_response(IdempotencyValidationError()).body)["type"].endswith(
        "idempotency-key-reused"
    )


def test_the_local_server_builds_http_api_payload_2_events_that_powertools_reads():
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

    event = APIGatewayProxyEventV2(
        to_event("PUT", "/v1/people/bob%40x.example?a=1&a=2&b=", {"Authorization": "Bearer k"}, b'{"x": 1}', 8080)
    )

    assert event.version == "2.0" and event.raw_path == "/v1/people/bob%40x.example"
    assert event.request_context.http.method == "PUT"
    assert event.query_string_parameters == {"a": "1,2", "b": ""}
    assert event.headers["authorization"] == "Bearer k"
    assert event.json_body == {"x": 1} and not event.is_base64_encoded
    binary = to_event("POST", "/x", {}, b"\xff\x00", 1)
    assert binary["isBase64Encoded"] is True and binary["body"] == "/wA="


def test_the_api_imports_one_resolver_and_the_full_packages_still_work():
    child = (
        "import sys\n"
        "import emailpipe.api.handler\n"
        "from emailpipe.api.lean_imports import is_lean\n"
        "lean = is_lean('aws_lambda_powertools.event_handler'), "
        "is_lean('aws_lambda_powertools.utilities.data_classes')\n"
        "assert 'aws_lambda_powertools.event_handler.appsync' not in sys.modules\n"
        "from aws_lambda_powertools.utilities.data_classes import SQSEvent\n"
        "from aws_lambda_powertools.event_handler import AppSyncResolver\n"
        "print(lean, SQSEvent.__name__, AppSyncResolver.__name__)\n"
    )
    environment = {"TABLE_NAME": "t", "MAIL_BUCKET": "b", "PIPING_ADDRESS": "s@example.com", "TOKEN_SECRET_ID": "x"}
    import os

    result = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, env={**os.environ, **environment}, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(True,", "True)", "SQSEvent", "AppSyncResolver"]
