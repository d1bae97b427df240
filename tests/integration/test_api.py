"""The HTTP API over real HTTP (emailpipe.local.api_server running the real handler) against the local stack."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from emailpipe.store import apikeys, repo

BIN = Path(sys.executable).parent / "emailpipe"
PROBLEM = "application/problem+json"


class Client:
    """requests against the API with one key."""

    def __init__(self, base: str, key: str | None) -> None:
        self.base = base
        self.key = key

    def __call__(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        headers = dict(headers or {})
        if self.key is not None:
            headers.setdefault("Authorization", f"Bearer {self.key}")
        return requests.request(
            method, f"{self.base}{path}", headers=headers, timeout=30, allow_redirects=False, **kwargs
        )


def _problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"urn:emailpipe:problem:{slug}"
    assert body["status"] == status and body["title"]
    return body


def _field_of(body: dict[str, Any]) -> str:
    return body["errors"][0]["field"]


@pytest.fixture
def api(env, api_url) -> Client:
    _record, key = apikeys.create_key("tests", "write")
    return Client(api_url, key)


@pytest.fixture
def setup(env, api) -> dict[str, str]:
    """A department, an offline agent, a user and their conversation, made through the API."""
    env.api.set_setting("digest_window_seconds", "0")
    assert api("POST", "/v1/departments", json={"name": "Billing"}).status_code == 201
    bob = api("PUT", "/v1/people/bob@agents.example", json={"name": "Bob", "role": "agent", "departments": ["Billing"]})
    assert bob.status_code == 201, bob.text
    assert api("PUT", "/v1/agents/bob@agents.example/presence", json={"online": False}).status_code == 200
    assert api("PUT", "/v1/people/carol@customer.example", json={"name": "Carol", "role": "user"}).status_code == 201
    conversation = api(
        "POST", "/v1/conversations", json={"user": "carol@customer.example", "department": "Billing", "subject": "Hi"}
    )
    assert conversation.status_code == 201, conversation.text
    return {"conversation": conversation.json()["id"], "agent": "bob@agents.example", "user": "carol@customer.example"}


# ---------------------------------------------------------------- auth


def test_a_request_without_a_key_or_with_a_wrong_one_is_401(api):
    anonymous = Client(api.base, None)
    wrong = Client(api.base, api.key[:-2] + "xx")
    unknown = Client(api.base, "ep_000000000000_nothing")

    for client in (anonymous, wrong, unknown):
        body = _problem(client("GET", "/v1/departments"), 401, "unauthorized")
        assert body["detail"]
    assert anonymous("GET", "/v1/departments").headers["WWW-Authenticate"] == "Bearer"


def test_a_refused_key_is_counted_in_the_api_auth_failures_metric(api, monkeypatch, capfd):
    from emailpipe.observability import metrics

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.clear_metrics()  # what earlier requests added while metrics were disabled (not flushed then)
    capfd.readouterr()

    Client(api.base, "ep_000000000000_wrong")("GET", "/v1/departments")
    Client(api.base, api.key)("GET", "/v1/departments")

    emitted = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line]
    counted = [m for m in emitted if "ApiAuthFailures" in m]
    assert len(counted) == 1 and counted[0]["ApiAuthFailures"] in (1, [1], 1.0, [1.0])
    assert counted[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "emailpipe"


def test_api_key_created_by_the_cli_works_until_it_is_revoked(env, api_url):
    environment = dict(os.environ, AWS_ENDPOINT_URL=env.stack.endpoint)

    def run(*args: str) -> str:
        result = subprocess.run([str(BIN), *args], capture_output=True, env=environment, timeout=120, check=False)
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode()

    key = run("api-key", "create", "--name", "chat app").strip().splitlines()[-1]
    client = Client(api_url, key)
    assert client("GET", "/v1/departments").status_code == 200
    listed = run("api-key", "list")
    key_id = key.split("_")[1]
    assert key_id in listed and "chat app" in listed and "last used never" not in listed
    assert key not in listed and key.split("_", 2)[2] not in listed

    run("api-key", "revoke", key_id)

    _problem(client("GET", "/v1/departments"), 401, "unauthorized")
    assert f"{key_id}  write  revoked" in run("api-key", "list")


def test_only_the_hash_of_a_key_is_stored(env, api):
    from emailpipe.store.models import ApiKeyItem

    stored = [item.attribute_values for item in ApiKeyItem.scan()]
    assert stored and all(api.key not in str(values) for values in stored)
    assert all(len(values["key_hash"]) == 64 for values in stored)


def test_a_read_key_reads_but_gets_403_on_every_write(env, api_url, setup):
    _record, key = apikeys.create_key("dashboard", "read")
    reader = Client(api_url, key)

    assert reader("GET", f"/v1/conversations/{setup['conversation']}").status_code == 200
    _problem(reader("POST", "/v1/departments", json={"name": "Sales"}), 403, "forbidden")
    _problem(reader("PUT", f"/v1/agents/{setup['agent']}/presence", json={"online": True}), 403, "forbidden")
    _problem(reader("DELETE", f"/v1/people/{setup['user']}"), 403, "forbidden")


# ---------------------------------------------------------------- departments and people


def test_departments_are_created_listed_and_a_duplicate_is_409(api):
    assert api("POST", "/v1/departments", json={"name": "Billing"}).json() == {"name": "Billing"}
    api("POST", "/v1/departments", json={"name": "Sales"})

    listed = api("GET", "/v1/departments").json()
    body = _problem(api("POST", "/v1/departments", json={"name": "billing"}), 409, "already-exists")

    assert listed == {"items": [{"name": "Billing"}, {"name": "Sales"}], "next": None}
    assert "billing" in body["detail"].lower()


def test_put_upserts_a_person_and_keeps_their_presence(api, setup):
    api("POST", "/v1/departments", json={"name": "Sales"})
    api("PUT", f"/v1/agents/{setup['agent']}/presence", json={"online": True})

    again = api(
        "PUT", "/v1/people/Bob@Agents.Example", json={"name": "Robert", "role": "admin", "departments": ["Sales"]}
    )
    fetched = api("GET", "/v1/people/bob@agents.example").json()

    assert again.status_code == 200
    assert fetched["name"] == "Robert" and fetched["role"] == "admin" and fetched["departments"] == ["Sales"]
    assert fetched["online"] is True


def test_people_are_listed_a_page_at_a_time_with_a_cursor(api, setup):
    for n in range(3):
        api("PUT", f"/v1/people/user{n}@customer.example", json={"name": f"U{n}", "role": "user"})

    seen, cursor, pages = [], None, 0
    while True:
        page = api("GET", "/v1/people", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [p["email"] for p in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    users = api("GET", "/v1/people", params={"role": "user"}).json()

    assert sorted(seen) == sorted(
        ["bob@agents.example", "carol@customer.example"] + [f"user{n}@customer.example" for n in range(3)]
    )
    assert pages >= 3
    assert {p["role"] for p in users["items"]} == {"user"} and len(users["items"]) == 4
    _problem(api("GET", "/v1/people", params={"cursor": "not-a-cursor"}), 400, "invalid-request")


def test_a_deleted_person_is_gone_and_their_reply_token_stops_working(env, api, setup):
    from emailpipe.local.mailclient import reply_to

    api("POST", f"/v1/conversations/{setup['conversation']}/messages", json={"author": setup["user"], "text": "Hello"})
    env.drain()
    notification = env.outbox(to=setup["agent"])[-1]

    assert api("DELETE", f"/v1/people/{setup['agent']}").status_code == 204
    _problem(api("GET", f"/v1/people/{setup['agent']}"), 404, "not-found")
    _problem(api("DELETE", f"/v1/people/{setup['agent']}"), 404, "not-found")
    outcome = env.deliver(reply_to(notification["raw"], setup["agent"], "Bob", "I am still here"))

    assert outcome.status.value == "rejected"


@pytest.mark.parametrize("address", ["bob@", "@x.example", "a@@b.example", "x@y"])
def test_a_bad_address_is_400_naming_the_field(api, setup, address):
    person = _problem(api("PUT", f"/v1/people/{address}", json={"name": "X", "role": "user"}), 400, "invalid-request")
    conversation = _problem(
        api("POST", "/v1/conversations", json={"user": address, "subject": "x"}), 400, "invalid-request"
    )
    message = _problem(
        api("POST", f"/v1/conversations/{setup['conversation']}/messages", json={"author": address, "text": "x"}),
        400,
        "invalid-request",
    )

    assert _field_of(person) == "email"
    assert _field_of(conversation) == "user"
    assert _field_of(message) == "author"


# Every route that takes an address, with where the address goes (issue 15's audit): each is refused by the one
# validator (chat.normalize_email, email-validator syntax only) with a problem naming that field.
ADDRESS_ENTRY_POINTS = [
    ("PUT", "/v1/people/{bad}", {"name": "X", "role": "user"}, "email"),
    ("GET", "/v1/people/{bad}", None, "email"),
    ("DELETE", "/v1/people/{bad}", None, "email"),
    ("PUT", "/v1/agents/{bad}/presence", {"online": True}, "email"),
    ("POST", "/v1/conversations", {"user": "{bad}", "subject": "x"}, "user"),
    ("GET", "/v1/conversations?user={bad}", None, "user"),
    ("PATCH", "/v1/conversations/{conversation}", {"assigned_agent": "{bad}"}, "assigned_agent"),
    ("POST", "/v1/conversations/{conversation}/participants", {"email": "{bad}"}, "email"),
    ("DELETE", "/v1/conversations/{conversation}/participants/{bad}", None, "email"),
    ("POST", "/v1/conversations/{conversation}/messages", {"author": "{bad}", "text": "x"}, "author"),
    ("POST", "/v1/inboxes", {"address": "{bad}", "brand_name": "B"}, "address"),
    (
        "POST",
        "/v1/inboxes",
        {"address": "sales@help.example.com", "brand_name": "B", "from_address": "{bad}"},
        "from_address",
    ),
    ("PATCH", "/v1/inboxes/{bad}", {"brand_name": "B"}, "address"),
    ("DELETE", "/v1/inboxes/{bad}", None, "address"),
]


@pytest.mark.parametrize(("method", "path", "body", "named"), ADDRESS_ENTRY_POINTS)
@pytest.mark.parametrize("bad", ["bob@", "a@@b.example"])
def test_every_address_entry_point_refuses_a_malformed_address_naming_its_field(
    api, setup, method, path, body, named, bad
):
    def fill(value: Any) -> Any:
        return value.replace("{bad}", bad) if isinstance(value, str) else value

    quoted = quote(bad, safe="")
    url = path.replace("{bad}", quoted).replace("{conversation}", setup["conversation"])
    payload = None if body is None else {key: fill(value) for key, value in body.items()}
    problem = _problem(api(method, url, json=payload), 400, "invalid-request")

    assert _field_of(problem) == named


def test_the_inbound_log_refuses_an_unknown_reason_naming_the_field(api, setup):
    problem = _problem(api("GET", "/v1/inbound?reason=bogus"), 400, "invalid-request")

    assert _field_of(problem) == "reason"
    assert "unknown reason 'bogus'" in json.dumps(problem)
    assert api("GET", "/v1/inbound?reason=unknown_sender").status_code == 200


def test_bad_bodies_name_the_field(api, setup):
    missing = _problem(api("PUT", "/v1/people/dan@x.example", json={"role": "user"}), 400, "invalid-request")
    wrong_type = _problem(
        api("PUT", f"/v1/agents/{setup['agent']}/presence", json={"online": "yes"}), 400, "invalid-request"
    )
    unknown = _problem(api("POST", "/v1/departments", json={"name": "A", "colour": "red"}), 400, "invalid-request")
    role = _problem(
        api("PUT", "/v1/people/dan@x.example", json={"name": "Dan", "role": "boss"}), 400, "invalid-request"
    )
    not_json = _problem(
        api("POST", "/v1/departments", data=b"{nope", headers={"Content-Type": "application/json"}), 400, "invalid-json"
    )

    assert [_field_of(b) for b in (missing, wrong_type, unknown, role)] == ["name", "online", "colour", "role"]
    assert not_json["detail"]


# ---------------------------------------------------------------- presence


def test_presence_is_one_write_and_an_unknown_agent_is_404(env, api, setup):
    calls: list[str] = []
    events = repo._connection().client.meta.events

    def count(model: Any, params: Any, **kwargs: Any) -> None:
        calls.append(model.name)

    api("GET", "/v1/departments")  # the key's last use is recorded now, not during the measured call
    events.register("before-call.dynamodb", count)
    try:
        response = api("PUT", f"/v1/agents/{setup['agent']}/presence", json={"online": True})
    finally:
        events.unregister("before-call.dynamodb", count)

    assert response.json() == {"email": setup["agent"], "online": True}
    assert [c for c in calls if c not in {"GetItem", "Query"}] == ["UpdateItem"]
    assert repo.get_person(setup["agent"]).online is True
    _problem(api("PUT", "/v1/agents/nobody@agents.example/presence", json={"online": True}), 404, "not-found")


# ---------------------------------------------------------------- conversations


def test_conversations_are_opened_read_listed_and_patched(api, setup):
    api("POST", "/v1/departments", json={"name": "Sales"})
    second = api("POST", "/v1/conversations", json={"user": setup["user"], "subject": "Another"}).json()

    got = api("GET", f"/v1/conversations/{setup['conversation']}").json()
    patched = api(
        "PATCH",
        f"/v1/conversations/{second['id']}",
        json={"status": "closed", "department": "Sales", "assigned_agent": setup["agent"]},
    ).json()
    first_page = api("GET", "/v1/conversations", params={"user": setup["user"], "limit": 1}).json()
    second_page = api(
        "GET", "/v1/conversations", params={"user": setup["user"], "limit": 1, "cursor": first_page["next"]}
    ).json()
    closed = api("GET", "/v1/conversations", params={"status": "closed"}).json()
    open_ = api("GET", "/v1/conversations", params={"status": "open"}).json()
    cleared = api("PATCH", f"/v1/conversations/{second['id']}", json={"assigned_agent": None}).json()

    assert got["user"] == setup["user"] and got["department"] == "Billing" and got["status"] == "open"
    assert set(second) >= {"id", "user", "subject", "status", "created_at"}
    assert (patched["status"], patched["department"], patched["assigned_agent"]) == ("closed", "Sales", setup["agent"])
    assert [c["id"] for c in first_page["items"] + second_page["items"]] == [setup["conversation"], second["id"]]
    assert [c["id"] for c in closed["items"]] == [second["id"]]
    assert [c["id"] for c in open_["items"]] == [setup["conversation"]]
    assert cleared["assigned_agent"] is None
    _problem(api("GET", "/v1/conversations/doesnotexist"), 404, "not-found")
    _problem(api("PATCH", "/v1/conversations/doesnotexist", json={"status": "closed"}), 404, "not-found")
    _problem(api("GET", "/v1/conversations"), 400, "invalid-request")
    assert (
        _field_of(
            _problem(api("PATCH", f"/v1/conversations/{second['id']}", json={"status": "gone"}), 400, "invalid-request")
        )
        == "status"
    )
    _problem(
        api("POST", "/v1/conversations", json={"user": "nobody@customer.example", "subject": "x"}), 404, "not-found"
    )


# ---------------------------------------------------------------- messages


def test_a_posted_message_is_listed_and_emails_the_offline_agent(env, api, setup):
    path = f"/v1/conversations/{setup['conversation']}/messages"
    posted = api("POST", path, json={"author": setup["user"], "text": "My invoice is wrong"})
    api("POST", path, json={"author": "bot", "text": "An agent will answer"})
    env.drain()

    listed = api("GET", path, params={"limit": 1}).json()
    rest = api("GET", path, params={"limit": 1, "cursor": listed["next"]}).json()

    assert posted.status_code == 201
    message = posted.json()
    assert message["text"] == "My invoice is wrong" and message["source"] == "chat"
    assert message["author"] == {"email": setup["user"], "role": "user"}
    assert [m["id"] for m in listed["items"]] == [message["id"]]
    assert rest["items"][0]["source"] == "bot"
    assert len(env.outbox(to=setup["agent"])) == 1
    _problem(api("GET", "/v1/conversations/nope/messages"), 404, "not-found")


def test_a_long_text_is_kept_whole_and_listed_whole(env, api, setup):
    path = f"/v1/conversations/{setup['conversation']}/messages"
    text = "Lorem ipsum dolor sit amet. " * 5000  # 140 KB, more than a DynamoDB item keeps inline

    posted = api("POST", path, json={"author": setup["user"], "text": text})
    too_long = api("POST", path, json={"author": setup["user"], "text": "x" * 1_000_001})

    assert posted.status_code == 201, posted.text
    assert api("GET", path).json()["items"][0]["text"] == text
    assert _field_of(_problem(too_long, 413, "too-large")) == "text"


def test_the_same_idempotency_key_three_times_is_one_message_and_one_email(env, api, setup):
    path = f"/v1/conversations/{setup['conversation']}/messages"
    body = {"author": setup["user"], "text": "Only once, please"}
    headers = {"Idempotency-Key": "retry-1"}

    responses = [api("POST", path, json=body, headers=headers) for _ in range(3)]
    env.drain()
    conflict = api("POST", path, json={**body, "text": "Something else"}, headers=headers)

    assert [r.status_code for r in responses] == [201, 200, 200]
    assert len({r.json()["id"] for r in responses}) == 1
    assert responses[1].headers["Idempotent-Replayed"] == "true"
    assert len(api("GET", path).json()["items"]) == 1
    assert len(env.outbox(to=setup["agent"])) == 1
    _problem(conflict, 409, "idempotency-key-reused")


def test_an_external_id_already_used_returns_the_existing_message(env, api, setup):
    path = f"/v1/conversations/{setup['conversation']}/messages"
    first = api("POST", path, json={"author": setup["user"], "text": "Hi", "external_id": "sb-17"})
    again = api("POST", path, json={"author": setup["user"], "text": "Hi", "external_id": "sb-17"})
    env.drain()

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["external_id"] == "sb-17"
    assert len(api("GET", path).json()["items"]) == 1
    assert len(env.outbox(to=setup["agent"])) == 1


def test_inline_attachments_are_stored_and_downloaded_through_a_short_lived_link(api, setup):
    path = f"/v1/conversations/{setup['conversation']}/messages"
    data = b"%PDF-1.4 invoice"
    posted = api(
        "POST",
        path,
        json={
            "author": setup["user"],
            "text": "See attached",
            "attachments": [
                {"filename": "invoice.pdf", "content_type": "application/pdf", "data": base64.b64encode(data).decode()}
            ],
        },
    ).json()

    link = api("GET", f"{path}/{posted['id']}/attachments/0").json()
    redirect = api("GET", f"{path}/{posted['id']}/attachments/0", params={"redirect": "true"})

    assert posted["attachments"][0]["filename"] == "invoice.pdf" and posted["attachments"][0]["size"] == len(data)
    assert requests.get(link["url"], timeout=30).content == data
    assert 0 < link["expires_in"] <= 900
    assert redirect.status_code == 302 and requests.get(redirect.headers["Location"], timeout=30).content == data
    _problem(api("GET", f"{path}/{posted['id']}/attachments/3"), 404, "not-found")


def test_an_inline_attachment_above_the_limit_is_413(api, setup):
    big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    response = api(
        "POST",
        f"/v1/conversations/{setup['conversation']}/messages",
        json={"author": setup["user"], "text": "big", "attachments": [{"filename": "big.bin", "data": big}]},
    )

    assert _field_of(_problem(response, 413, "too-large")) == "attachments[0]"


def test_an_attachment_uploaded_through_a_presigned_put_is_referenced_by_its_key(api, setup):
    conversation = setup["conversation"]
    upload = api(
        "POST",
        f"/v1/conversations/{conversation}/attachments",
        json={"filename": "photo.png", "content_type": "image/png"},
    )
    assert upload.status_code == 201, upload.text
    target = upload.json()
    put = requests.put(target["upload_url"], data=b"\x89PNG...", headers=target["headers"], timeout=30)
    assert put.status_code == 200, put.text

    posted = api(
        "POST",
        f"/v1/conversations/{conversation}/messages",
        json={"author": setup["user"], "text": "Photo", "attachments": [{"key": target["key"]}]},
    )
    foreign = api(
        "POST",
        f"/v1/conversations/{conversation}/messages",
        json={"author": setup["user"], "text": "x", "attachments": [{"key": "attachments/uploads/other/x/y.png"}]},
    )

    assert posted.status_code == 201, posted.text
    assert posted.json()["attachments"][0]["filename"] == "photo.png"
    assert _field_of(_problem(foreign, 400, "invalid-request")) == "attachments[0]"


# ---------------------------------------------------------------- settings, inbound log, re-drive, status


def test_settings_are_read_and_patched_with_the_cli_rules(api):
    before = api("GET", "/v1/settings").json()
    patched = api("PATCH", "/v1/settings", json={"digest_window_seconds": 30, "human_takeover": True}).json()
    text = api("PATCH", "/v1/settings", json={"delimiter": "off"}).json()
    bad = _problem(api("PATCH", "/v1/settings", json={"digest_window_seconds": -1}), 400, "invalid-request")
    unknown = _problem(api("PATCH", "/v1/settings", json={"colour": 1}), 400, "invalid-request")

    assert before["digest_window_seconds"] == 120
    assert patched["digest_window_seconds"] == 30 and patched["human_takeover"] is True
    assert text["delimiter"] is False
    assert (_field_of(bad), _field_of(unknown)) == ("digest_window_seconds", "colour")


def test_the_inbound_log_pages_and_a_rejected_email_is_redriven(env, api):
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "stranger@else.example", "support@example.com", "Hello"
    mail.set_content("Who are you?")
    outcome = env.deliver(mail.as_bytes())

    log = api("GET", "/v1/inbound", params={"since": "1h"}).json()
    by_reason = api("GET", "/v1/inbound", params={"reason": outcome.reason}).json()
    other = api("GET", "/v1/inbound", params={"reason": "spam"}).json()
    redriven = api("POST", f"/v1/inbound/{requests.utils.quote(outcome.s3_key, safe='')}/redrive")
    env.drain()

    assert [i["s3_key"] for i in log["items"]] == [outcome.s3_key] and log["next"] is None
    assert log["items"][0]["status"] == "rejected" and "@" not in str(log)
    assert len(by_reason["items"]) == 1 and other["items"] == []
    assert redriven.status_code == 202 and redriven.json()["queued"] is True
    assert repo.get_inbound(outcome.s3_key).received_at != outcome.received_at
    _problem(api("POST", "/v1/inbound/inbound%2Fnothing/redrive"), 404, "not-found")
    assert (
        _field_of(_problem(api("GET", "/v1/inbound", params={"since": "yesterday"}), 400, "invalid-request")) == "since"
    )


def test_status_reports_the_figures_of_emailpipe_status(env, api, setup):
    api("POST", f"/v1/conversations/{setup['conversation']}/messages", json={"author": setup["user"], "text": "Hi"})
    env.drain()

    status = api("GET", "/v1/status").json()

    assert status["source"] == "local stack records"
    assert status["metrics"]["NotificationsSent"] == 1
    assert set(status["dlq"]) == {"InboundDeadLetterQueue", "NotifierDeadLetterQueue", "DigestDeadLetterQueue"}


# ---------------------------------------------------------------- other errors


def test_an_unknown_route_is_a_problem_404(api):
    _problem(api("GET", "/v1/nothing-here"), 404, "route-not-found")


def test_a_throttled_store_is_429_with_retry_after(api, setup):
    # API Gateway's route throttling answers 429 itself in a deployment; this is the function's own 429, when
    # DynamoDB throttles: the table's client answers ThrottlingException, as DynamoDB does under a hot key.
    events = repo._connection().client.meta.events

    class _Throttled:
        status_code = 400
        headers: dict[str, str] = {}

    def throttle(model: Any, **kwargs: Any) -> Any:
        if model.name == "UpdateItem":
            return _Throttled(), {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
        return None

    api("GET", "/v1/departments")  # the key's last use is recorded before the store starts throttling
    events.register("before-call.dynamodb.UpdateItem", throttle)
    try:
        response = api("PUT", f"/v1/agents/{setup['agent']}/presence", json={"online": True})
    finally:
        events.unregister("before-call.dynamodb.UpdateItem", throttle)

    _problem(response, 429, "rate-limited")
    assert response.headers["Retry-After"] == "1"
