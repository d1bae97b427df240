"""Inbox administration against the local stack: the command, the HTTP API, the stored list under concurrent changes,
and a mailbox's copies naming their inbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from emailpipe.aws import client
from emailpipe.chat import ChatApi
from emailpipe.domain.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from emailpipe.domain.inboxes import Inbox
from emailpipe.ingress.handler import run_poll
from emailpipe.ingress.logic import Listed, RemoteMessage
from emailpipe.ingress.settings import INBOX_METADATA
from emailpipe.store import apikeys, blobs, repo

BIN = Path(sys.executable).parent / "emailpipe"
PROBLEM = "application/problem+json"
BRAND_B = "billing@brand-b.example"


@pytest.fixture
def chat(env) -> ChatApi:
    """The chat side as the CLI and the API build it: with the deployment's default inbox."""
    env.api.add_department("Billing")
    default = Inbox(address=env.outputs["PipingAddress"], brand_name=env.outputs["BrandName"])
    return ChatApi(mail_bucket=env.outputs["MailBucketName"], default_inbox=default)


def _run(env, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, AWS_ENDPOINT_URL=env.stack.endpoint)
    result = subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, env=environment, timeout=120, check=False
    )
    assert (result.returncode == 0) is ok, result.stderr
    return result


# ---------------------------------------------------------------- the command


def test_the_command_adds_lists_changes_and_removes_an_inbox_and_keeps_the_default(env, chat):
    piping = env.outputs["PipingAddress"]
    added = _run(
        env,
        "inbox",
        "add",
        "Billing@Brand-B.example",
        "--brand",
        "BrandB",
        "--department",
        "Billing",
        "--convert-all",
        "on",
    ).stdout
    assert "inbox added: billing@brand-b.example" in added and "AdditionalInboxAddresses" in added

    listed = json.loads(_run(env, "inbox", "list", "--json").stdout)
    assert [(i["address"], i["default"], i["brand_name"]) for i in listed] == [
        (piping, True, env.outputs["BrandName"]),
        (BRAND_B, False, "BrandB"),
    ]
    assert listed[1] == {
        "address": BRAND_B,
        "default": False,
        "brand_name": "BrandB",
        "from_address": None,
        "sender": BRAND_B,
        "department": "Billing",
        "convert_all_emails": True,
        "delimiter": None,
    }

    _run(
        env,
        "inbox",
        "update",
        BRAND_B,
        "--from",
        "news@brand-b.example",
        "--convert-all",
        "setting",
        "--delimiter",
        "off",
    )
    text = _run(env, "inbox", "list").stdout.splitlines()
    assert text[0].startswith(f"{piping}  (default)")
    assert text[1] == (
        f"{BRAND_B}  brand BrandB  from news@brand-b.example  department Billing  convert-all setting  delimiter off"
    )

    # What an email reads: the settings item carries the inbox, with its own choices.
    assert repo.get_settings().inboxes == (
        Inbox(BRAND_B, "BrandB", "news@brand-b.example", "Billing", convert_all_emails=None, delimiter=False),
    )

    refused = _run(env, "inbox", "remove", piping, ok=False)
    assert "default inbox cannot be removed" in refused.stderr
    _run(env, "inbox", "remove", BRAND_B)
    assert [i["address"] for i in json.loads(_run(env, "inbox", "list", "--json").stdout)] == [piping]
    assert "no inbox" in _run(env, "inbox", "remove", BRAND_B, ok=False).stderr


# ---------------------------------------------------------------- the rules, through ChatApi


def test_an_inbox_cannot_take_a_plus_address_a_persons_address_another_inbox_or_an_unknown_department(env, chat):
    env.api.add_user("carol@customer.example", "Carol")
    chat.add_inbox(BRAND_B, "BrandB", from_address="news@brand-b.example")

    refusals = {
        "billing+x@brand-b.example": "address",  # a plus-address carries reply tokens
        "billing+x@other.example": "address",
        "carol@customer.example": "address",  # a registered person could no longer write
        "news@brand-b.example": "address",  # another inbox's From identity
    }
    for address, field in refusals.items():
        with pytest.raises(InvalidInputError) as caught:
            chat.add_inbox(address, "X")
        assert caught.value.field == field, address
    with pytest.raises(InvalidInputError) as caught:
        chat.add_inbox("help@brand-c.example", "C", from_address="carol@customer.example")
    assert caught.value.field == "from_address"
    with pytest.raises(InvalidInputError) as caught:
        chat.add_inbox("help@brand-c.example", "C", department="Nowhere")
    assert caught.value.field == "department"
    with pytest.raises(InvalidInputError) as caught:
        chat.add_inbox("help@brand-c.example", "C| fake")
    assert caught.value.field == "brand_name"
    with pytest.raises(InvalidInputError) as caught:
        chat.add_inbox("not an address", "C")
    assert caught.value.field == "address"
    with pytest.raises(AlreadyExistsError):
        chat.add_inbox(BRAND_B.upper(), "Again")
    with pytest.raises(AlreadyExistsError):
        chat.add_inbox(env.outputs["PipingAddress"], "Again")
    with pytest.raises(NotFoundError):
        chat.update_inbox("nobody@brand-c.example", brand_name="C")

    assert [i.address for i in chat.list_inboxes()] == [env.outputs["PipingAddress"], BRAND_B]


def test_changing_the_default_inbox_stores_it_and_settings_writes_keep_every_inbox(env, chat):
    chat.add_inbox(BRAND_B, "BrandB")
    changed = chat.update_inbox(env.outputs["PipingAddress"], department="Billing")
    env.api.set_setting("cc_join", "on")  # a settings write leaves the inboxes as they are

    assert changed == Inbox(env.outputs["PipingAddress"], env.outputs["BrandName"], department="Billing")
    assert chat.list_inboxes() == (changed, Inbox(BRAND_B, "BrandB"))
    settings = repo.get_settings()
    assert settings.cc_join is True
    assert {i.address for i in settings.inboxes} == {BRAND_B, env.outputs["PipingAddress"]}
    with pytest.raises(InvalidInputError):
        chat.remove_inbox(env.outputs["PipingAddress"])


def test_concurrent_changes_lose_no_inbox(env, chat):
    addresses = [f"desk{n}@brand-{n}.example" for n in range(8)]
    barrier = threading.Barrier(len(addresses))
    errors: list[BaseException] = []

    def add(address: str) -> None:
        barrier.wait()
        try:
            chat.add_inbox(address, address.split("@")[0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(a,)) for a in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(i.address for i in chat.list_inboxes()[1:]) == sorted(addresses)


# ---------------------------------------------------------------- the HTTP API


class Client:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def __call__(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", **(headers or {})}
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)


def _problem_field(response: Any, status: int, slug: str) -> str | None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"urn:emailpipe:problem:{slug}"
    return body["errors"][0]["field"] if body.get("errors") else None


def test_the_api_adds_lists_changes_and_removes_inboxes_with_problems_naming_the_field(env, chat, api_url):
    api = Client(api_url, apikeys.create_key("tests", "write")[1])
    reader = Client(api_url, apikeys.create_key("reader", "read")[1])
    piping = env.outputs["PipingAddress"]
    body = {"address": BRAND_B, "brand_name": "BrandB", "department": "Billing", "delimiter": False}

    first = api("POST", "/v1/inboxes", json=body, headers={"Idempotency-Key": "add-b"})
    again = api("POST", "/v1/inboxes", json=body, headers={"Idempotency-Key": "add-b"})
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"/v1/inboxes/{BRAND_B}"
    assert first.json() == {
        "address": BRAND_B,
        "default": False,
        "brand_name": "BrandB",
        "from_address": None,
        "sender": BRAND_B,
        "department": "Billing",
        "convert_all_emails": None,
        "delimiter": False,
    }
    assert (again.status_code, again.headers["Idempotent-Replayed"], again.json()) == (200, "true", first.json())
    assert _problem_field(api("POST", "/v1/inboxes", json=body), 409, "already-exists") is None

    listed = reader("GET", "/v1/inboxes")
    assert listed.status_code == 200
    assert [(i["address"], i["default"]) for i in listed.json()["items"]] == [(piping, True), (BRAND_B, False)]
    assert listed.json()["next"] is None
    assert (
        _problem_field(reader("POST", "/v1/inboxes", json={**body, "address": "x@c.example"}), 403, "forbidden") is None
    )

    bad = {
        "address": {**body, "address": "billing+tag@brand-c.example"},
        "department": {**body, "address": "help@brand-c.example", "department": "Nowhere"},
        "brand_name": {**body, "address": "help@brand-c.example", "brand_name": ""},
        "delimiter": {**body, "address": "help@brand-c.example", "delimiter": "sometimes"},
        "color": {**body, "address": "help@brand-c.example", "color": "red"},
    }
    for field, payload in bad.items():
        assert _problem_field(api("POST", "/v1/inboxes", json=payload), 400, "invalid-request") == field

    patched = api("PATCH", f"/v1/inboxes/{BRAND_B}", json={"delimiter": None, "from_address": "news@brand-b.example"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["delimiter"], patched.json()["sender"]) == (None, "news@brand-b.example")
    assert _problem_field(api("PATCH", f"/v1/inboxes/{BRAND_B}", json={}), 400, "invalid-request") == "body"
    assert (
        _problem_field(api("PATCH", "/v1/inboxes/nobody%40brand-c.example", json={"brand_name": "C"}), 404, "not-found")
        is None
    )

    assert _problem_field(api("DELETE", f"/v1/inboxes/{piping}"), 400, "invalid-request") == "address"
    assert api("DELETE", f"/v1/inboxes/{BRAND_B}").status_code == 204
    assert _problem_field(api("DELETE", f"/v1/inboxes/{BRAND_B}"), 404, "not-found") is None
    assert [i["address"] for i in api("GET", "/v1/inboxes").json()["items"]] == [piping]


# ---------------------------------------------------------------- a mailbox serving one inbox


class OneMessageMailbox:
    """A mailbox session holding one message (the ingress logic's MailboxClient)."""

    uidvalidity = "1"
    state_prefix = "UID#1#"
    lists_handled = False

    def __init__(self, raw: bytes) -> None:
        self.raw, self.marked = raw, False

    def list_new(self, after_uid: int, since: float | None) -> list[Listed]:
        return [] if self.marked or after_uid >= 1 else [Listed("UID#1#0000000001", 1)]

    def describe(self, listed: list[Listed]) -> list[RemoteMessage]:
        return [RemoteMessage(i.key, "1-1", "1", len(self.raw), None, 1) for i in listed]

    def fetch(self, message: RemoteMessage) -> bytes:
        return self.raw

    def mark_handled(self, message: RemoteMessage) -> None:
        self.marked = True

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("inbox", "metadata"), [(BRAND_B, {INBOX_METADATA: BRAND_B}), (None, {})])
def test_a_mailbox_naming_its_inbox_stores_each_copy_with_that_inbox_in_its_metadata(env, inbox, metadata):
    settings = {"host": "imap.brand-b.example", "username": "desk", "password": "secret", "inbox": inbox}
    secret = f"test/mailbox-inbox-{uuid.uuid4().hex[:12]}"  # the secrets provider caches values by name
    client("secretsmanager").create_secret(Name=secret, SecretString=json.dumps(settings))
    raw = b"From: carol@customer.example\r\nTo: desk@brand-b.example\r\nSubject: Hi\r\n\r\nHello\r\n"

    result = run_poll(
        secret,
        table_name=env.outputs["TableName"],
        bucket=env.outputs["MailBucketName"],
        inbound_prefix=env.outputs["InboundPrefix"],
        connect=lambda _settings: OneMessageMailbox(raw),
    )

    assert result.copied == 1, result
    (key,) = result.copied_keys
    data, stored = blobs.read_object_with_metadata(env.outputs["MailBucketName"], key, 1_000_000)
    assert (data, stored) == (raw, metadata)
