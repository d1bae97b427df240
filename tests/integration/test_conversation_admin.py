"""Participants and statuses administered through the API and the `emailpipe` command, and the one automatic
answer to a reply that is not posted, against the local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from email import message_from_string, policy
from pathlib import Path
from typing import Any

import pytest
import requests

from emailpipe.chat import MAX_PARTICIPANTS, ChatApi
from emailpipe.domain.errors import InvalidInputError, NotFoundError
from emailpipe.domain.inboxes import Inbox
from emailpipe.notifier.auto_answer import send_auto_answer
from emailpipe.notifier.logic import NotifierContext
from emailpipe.store import apikeys, repo
from emailpipe.store.auto_answers import AutoAnswer, claim_key, day_of, queue_auto_answer

BIN = Path(sys.executable).parent / "emailpipe"
DAVE = "dave@customer.example"


class Client:
    """requests against the API with one key."""

    def __init__(self, base: str, key: str) -> None:
        self.base = base
        self.key = key

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.key}"}
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)


@pytest.fixture
def api(env, api_url) -> Client:
    _record, key = apikeys.create_key("tests", "write")
    return Client(api_url, key)


def _field(response: Any) -> str:
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.text
    return response.json()["errors"][0]["field"]


def _run(env, *args: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, AWS_ENDPOINT_URL=env.stack.endpoint)
    return subprocess.run([str(BIN), *args], capture_output=True, env=environment, timeout=120, check=False)


def _ok(env, *args: str) -> str:
    result = _run(env, *args)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


# ---------------------------------------------------------------- participants through the API


def test_an_added_participant_becomes_a_user_and_adding_them_again_changes_nothing(env, api, world):
    path = f"/v1/conversations/{world.conversation_id}/participants"

    first = api("POST", path, json={"email": "Dave@Customer.Example", "name": "Dave"})
    again = api("POST", path, json={"email": DAVE})
    shown = api("GET", f"/v1/conversations/{world.conversation_id}").json()

    assert first.status_code == 201, first.text
    assert first.json()["participants"] == [DAVE]
    assert again.status_code == 200 and again.json()["participants"] == [DAVE]
    assert shown["participants"] == [DAVE] and shown["user"] == world.user
    dave = env.api.get_person(DAVE)
    assert (dave.role.value, dave.name) == ("user", "Dave")


def test_a_participant_gets_the_agents_replies_until_they_are_removed(env, api, world):
    path = f"/v1/conversations/{world.conversation_id}/participants"
    assert api("POST", path, json={"email": DAVE}).status_code == 201

    env.api.post_message(world.conversation_id, world.offline_agent, "Your refund is on its way.")
    env.drain()
    removed = api("DELETE", f"{path}/{DAVE}")
    env.api.post_message(world.conversation_id, world.offline_agent, "One more thing.")
    env.drain()

    assert removed.status_code == 204
    assert len(env.outbox(DAVE)) == 1
    assert len(env.outbox(world.user)) == 2
    assert api("GET", f"/v1/conversations/{world.conversation_id}").json()["participants"] == []
    assert api("DELETE", f"{path}/{DAVE}").status_code == 404


def test_an_agent_the_user_and_an_inbox_address_are_never_participants(env, api, world):
    path = f"/v1/conversations/{world.conversation_id}/participants"

    for email in (world.online_agent, world.user, env.outputs["PipingAddress"]):
        refused = api("POST", path, json={"email": email})
        assert refused.status_code == 400, (email, refused.text)
        assert _field(refused) == "email"
    assert _field(api("POST", path, json={"email": "not an address"})) == "email"
    assert _field(api("POST", path, json={"email": DAVE, "role": "admin"})) == "role"
    assert api("POST", "/v1/conversations/nosuchconv/participants", json={"email": DAVE}).status_code == 404
    assert api("GET", f"/v1/conversations/{world.conversation_id}").json()["participants"] == []
    assert repo.get_person(DAVE) is None  # nothing was created for a refused request


def test_a_conversation_takes_at_most_twenty_participants(env, world):
    for number in range(MAX_PARTICIPANTS):
        env.api.add_participant(world.conversation_id, f"p{number}@customer.example")

    with pytest.raises(InvalidInputError) as refused:
        env.api.add_participant(world.conversation_id, "one-too-many@customer.example")

    assert refused.value.field == "email"
    assert len(env.api.get_conversation(world.conversation_id).participants) == MAX_PARTICIPANTS
    # Someone already there is still welcome: adding them again is not an addition.
    assert len(env.api.add_participant(world.conversation_id, "p0@customer.example").participants) == MAX_PARTICIPANTS


def test_participants_added_at_the_same_time_are_all_kept(env, world):
    emails = [f"team{number}@customer.example" for number in range(8)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda email: env.api.add_participant(world.conversation_id, email), emails))

    assert sorted(env.api.get_conversation(world.conversation_id).participants) == sorted(emails)


def test_removing_someone_who_is_not_a_participant_is_not_found(env, world):
    with pytest.raises(NotFoundError):
        env.api.remove_participant(world.conversation_id, DAVE)
    with pytest.raises(NotFoundError):
        env.api.remove_participant("nosuchconv", DAVE)


def test_status_changes_through_the_api_list_the_conversation_under_its_new_status(api, world):
    path = f"/v1/conversations/{world.conversation_id}"

    closed = api("PATCH", path, json={"status": "closed"}).json()
    listed_closed = api("GET", "/v1/conversations", params={"status": "closed"}).json()["items"]
    archived = api("PATCH", path, json={"status": "archived"}).json()
    listed_archived = api("GET", "/v1/conversations", params={"status": "archived"}).json()["items"]
    listed_closed_after = api("GET", "/v1/conversations", params={"status": "closed"}).json()["items"]

    assert closed["status"] == "closed" and [c["id"] for c in listed_closed] == [world.conversation_id]
    assert archived["status"] == "archived" and [c["id"] for c in listed_archived] == [world.conversation_id]
    assert listed_closed_after == []


# ---------------------------------------------------------------- the command line


def test_the_commands_close_reopen_archive_and_manage_participants(env, world):
    cid = world.conversation_id

    closed = json.loads(_ok(env, "conversation", "close", cid))
    reopened = json.loads(_ok(env, "conversation", "reopen", cid))
    added = json.loads(_ok(env, "conversation", "participant", "add", cid, DAVE, "--name", "Dave"))
    archived = json.loads(_ok(env, "conversation", "archive", cid))
    shown = _ok(env, "conversation", "show", cid)
    removed = json.loads(_ok(env, "conversation", "participant", "remove", cid, DAVE))
    agent = _run(env, "conversation", "participant", "add", cid, world.offline_agent)
    missing = _run(env, "conversation", "close", "nosuchconv")

    assert (closed["status"], reopened["status"], archived["status"]) == ("closed", "open", "archived")
    assert added["participants"] == [DAVE] and removed["participants"] == []
    assert "status archived" in shown and "inbox default" in shown and f"participants: {DAVE}" in shown
    assert agent.returncode == 1 and b"never a participant" in agent.stderr
    assert missing.returncode == 1 and b"no conversation nosuchconv" in missing.stderr
    assert env.api.get_conversation(cid).status == "archived"


# ---------------------------------------------------------------- the automatic answer


def _request(world, **overrides) -> AutoAnswer:
    fields = dict(
        recipient=world.user,
        conversation_id=world.conversation_id,
        reason="closed",
        s3_key="inbound/reply-1",
        subject="Invoice 1042",
        recipient_name="Carol",
        email_message_id="<reply-1@customer.example>",
    )
    fields.update(overrides)
    return AutoAnswer(**fields)


def test_a_queued_answer_is_emailed_once_marked_auto_replied_and_one_a_day_per_sender(env, world):
    now = time.time()

    first = queue_auto_answer(_request(world), now)
    env.drain()
    second = queue_auto_answer(_request(world, s3_key="inbound/reply-2", reason="archived"), now + 1)
    env.drain()

    sent = env.outbox(world.user)
    assert (first, second) == (True, False)
    assert len(sent) == 1
    mail = message_from_string(sent[0]["raw"], policy=policy.default)
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["In-Reply-To"] == "<reply-1@customer.example>"
    assert mail["References"] == "<reply-1@customer.example>"
    assert mail["Subject"] == "Re: Invoice 1042"
    assert mail["From"].addresses[0].addr_spec == env.outputs["PipingAddress"]
    assert "is closed" in mail.get_body(preferencelist=("plain",)).get_content()
    assert repo.get_delivery_status(claim_key(world.user, day_of(now)), world.user) == "sent"
    # The cap is per day: the next day's reply to a closed conversation gets its answer.
    assert queue_auto_answer(_request(world, s3_key="inbound/reply-3"), now + 86400) is True


class _Outbox:
    """The notifier's send adapter, keeping what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, str, str]] = []

    def __call__(self, raw: bytes, recipient: str, from_address: str) -> str:
        self.sent.append((raw, recipient, from_address))
        return f"ses-{len(self.sent)}"


def _context(env, outbox: _Outbox) -> NotifierContext:
    return NotifierContext(
        piping_address=env.outputs["PipingAddress"],
        brand_name=env.outputs["BrandName"],
        keys=lambda: (b"test-key",),
        send=outbox,
        clock=time.time,
    )


def test_the_answer_comes_from_the_inbox_the_email_was_sent_to_and_a_second_send_is_a_duplicate(env, world):
    chat = ChatApi(mail_bucket=env.outputs["MailBucketName"], default_inbox=Inbox(env.outputs["PipingAddress"]))
    chat.add_inbox("billing@brand-b.example", "Brand B", from_address="help@brand-b.example")
    outbox = _Outbox()
    request = _request(world, inbox="billing@brand-b.example", reason="archived")

    first = send_auto_answer(request, _context(env, outbox), claim="auto-test-1")
    again = send_auto_answer(request, _context(env, outbox), claim="auto-test-1")

    assert (first.status, again.status) == ("sent", "duplicate")
    [(raw, recipient, from_address)] = outbox.sent
    mail = message_from_string(raw.decode(), policy=policy.default)
    assert (recipient, from_address) == (world.user, "help@brand-b.example")
    assert mail["From"].addresses[0].display_name == "Brand B"
    assert mail["Message-ID"].endswith("@brand-b.example>")
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "can no longer receive replies" in text and "billing@brand-b.example" in text


@pytest.mark.parametrize("flag", ["bouncing", "unsubscribed"])
def test_a_bouncing_or_unsubscribed_person_gets_no_answer(env, world, flag):
    if flag == "bouncing":
        env.api.set_bouncing(world.user, True)
    else:
        repo.set_email_preferences(world.user, unsubscribed=True)
    outbox = _Outbox()

    delivery = send_auto_answer(_request(world), _context(env, outbox), claim="auto-test-2")

    assert delivery.status == f"skipped_{flag}" and outbox.sent == []
    assert repo.get_delivery_status("auto-test-2", world.user) == f"skipped_{flag}"


def test_an_inbox_address_never_gets_an_answer(env, world):
    outbox = _Outbox()
    piping = env.outputs["PipingAddress"]
    local, _, domain = piping.partition("@")

    for address in (piping, f"{local}+sometoken@{domain}"):
        delivery = send_auto_answer(_request(world, recipient=address), _context(env, outbox), claim="auto-test-3")
        assert delivery.status == "skipped_inbox_address"
    assert outbox.sent == []


def test_an_answer_to_a_stranger_is_sent_without_a_person_record(env, world):
    outbox = _Outbox()

    delivery = send_auto_answer(
        _request(world, recipient="stranger@elsewhere.example", recipient_name=""), _context(env, outbox)
    )

    assert delivery.status == "sent"
    [(raw, recipient, _from)] = outbox.sent
    text = message_from_string(raw.decode(), policy=policy.default).get_body(preferencelist=("plain",)).get_content()
    assert recipient == "stranger@elsewhere.example" and text.startswith("Hello,\n")
