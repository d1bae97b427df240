"""The Support Board connector against a stand-in of Support Board, over real HTTP, on the local stack.

The stand-in (support_board_standin.py) speaks the subset of api.php and of the webhooks the connector uses, as
Support Board's public source has them; its webhooks reach the real API handler through `api_url`, and emailed
messages reach it through the real path: inbound -> stream -> EventsFunction -> EventBus rule -> SupportBoardQueue
-> SupportBoardFunction.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest

from emailpipe.aws import client
from emailpipe.chat import ChatApi
from emailpipe.connectors.support_board import settings as sb_settings
from emailpipe.domain.models import Role
from emailpipe.local.api_server import ApiServer
from emailpipe.local.mailclient import reply_to
from emailpipe.store import external_ids, repo

from .conftest import Env
from .support_board_standin import SupportBoardStandin

SECRET_NAME = "emailpipe/support-board"
WEBHOOK_PATH = "/v1/connectors/support-board/webhook"


@pytest.fixture(scope="module")
def standin() -> Any:
    server = SupportBoardStandin().start()
    yield server
    server.stop()


@dataclass
class Board:
    """The stand-in Support Board with its people and one conversation, and the emailpipe stack it talks to."""

    sb: SupportBoardStandin
    env: Any
    api_url: str
    admin: int
    alice: int  # online agent, Billing
    bob: int  # offline agent, Billing
    carol: int  # user
    billing: int
    conversation: int

    def emailpipe_conversation(self) -> str:
        link = external_ids.get_link("sb", "conversation", str(self.conversation))
        assert link is not None
        return link.target

    def messages(self) -> list[Any]:
        return repo.list_messages(self.emailpipe_conversation())

    def post_webhook(self, body: Any, raw: bytes | None = None) -> tuple[int, dict[str, Any], str]:
        request = urllib.request.Request(
            self.api_url + WEBHOOK_PATH,
            data=raw if raw is not None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                return response.status, json.loads(response.read()), response.headers["Content-Type"]
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read()), exc.headers["Content-Type"]


@pytest.fixture
def board(server: Any, standin: SupportBoardStandin) -> Any:
    standin.reset()
    # The stack with the connector (SupportBoardFunction, its queue and the bus rule exist only with it); provisioned
    # once here instead of through the `env` fixture, which would provision it a first time without.
    server.reset(parameters={"SupportBoardSecretName": SECRET_NAME, "SupportBoardUrl": standin.api_url})
    repo.configure(server.info.outputs["TableName"])
    env = Env(server, ChatApi(mail_bucket=server.info.outputs["MailBucketName"]))
    admin_token = standin.admin_token
    client("secretsmanager").create_secret(
        Name=SECRET_NAME, SecretString=json.dumps({"token": admin_token, "webhook_key": standin.webhook_key})
    )
    sb_settings.reset()
    env.api.set_setting("digest_window_seconds", "0")
    api = ApiServer(server.info).start()
    standin.webhook_url = api.url + WEBHOOK_PATH

    billing = standin.add_department("Billing")
    admin = standin.add_user("Ada", "Admin", "ada@agents.example", "admin", token=admin_token)
    alice = standin.add_user("Alice", "", "alice@agents.example", "agent", billing)
    bob = standin.add_user("Bob", "", "bob@agents.example", "agent", billing)
    carol = standin.add_user("Carol", "", "carol@customer.example", "user")
    standin.set_online(alice, True)
    conversation = standin.new_conversation(carol, "Invoice 1042", billing)["details"]["id"]
    yield Board(standin, env, api.url, admin, alice, bob, carol, billing, conversation)
    api.stop()


def test_a_user_message_in_support_board_emails_the_offline_agent_of_its_department(board: Board):
    started = time.monotonic()
    sent = board.sb.send_message(board.carol, board.conversation, "My invoice is wrong")
    elapsed = time.monotonic() - started
    board.env.drain()

    # Support Board waits 7 s for a webhook's answer (sb_curl) and never retries; the first message of a conversation
    # (its user, departments, agents and presence read back from api.php) took 0.6 s here.
    assert elapsed < 7

    webhook = board.sb.webhooks[-1]
    assert (webhook.function, webhook.status) == ("message-sent", 200)
    assert json.loads(webhook.response)["status"] == "processed"
    [message] = board.messages()
    assert (message.author_email, message.source.value, message.text) == (
        "carol@customer.example",
        "chat",
        "My invoice is wrong",
    )
    assert message.external_id == str(sent["id"])
    conversation = repo.get_conversation(board.emailpipe_conversation())
    assert (conversation.department, conversation.subject) == ("Billing", "Invoice 1042")
    # Agents and presence came from Support Board: Alice online, Bob (and the admin, in no department) offline.
    assert repo.get_person("alice@agents.example").online
    assert not repo.get_person("bob@agents.example").online
    assert [m["destinations"] for m in board.env.outbox()] == [["bob@agents.example"]]
    assert "My invoice is wrong" in board.env.outbox()[0]["raw"]


def test_the_agents_email_reply_is_posted_once_as_the_agent_and_its_echo_changes_nothing(board: Board):
    board.sb.send_message(board.carol, board.conversation, "My invoice is wrong")
    board.env.drain()
    notification = board.env.outbox("bob@agents.example")[0]["raw"]

    pdf = b"%PDF-1.4 refund note"
    reply = reply_to(
        notification,
        "bob@agents.example",
        "Bob",
        "Refunded the double charge.",
        attachments=[("refund.pdf", pdf, "application/pdf")],
    )
    outcome = board.env.deliver(reply)
    board.env.drain()

    assert outcome.status.value == "stored"
    [call] = board.sb.calls_of("send-message")
    assert (str(call["conversation_id"]), str(call["user_id"])) == (str(board.conversation), str(board.bob))
    assert call["message"].startswith("Refunded the double charge.")
    # The attachment goes as Support Board keeps them, [[name, url]]: a link to the stored bytes.
    [[name, url]] = call["attachments"]
    with urllib.request.urlopen(url, timeout=10) as download:  # noqa: S310 - the local stack
        assert (name, download.read()) == ("refund.pdf", pdf)
    posted = board.sb.messages_in(board.conversation)[-1]
    assert (posted["user_id"], posted["message"]) == (board.bob, call["message"])
    # Support Board fired message-sent for it while send-message was still running: recognised as the echo.
    echo = board.sb.webhooks[-1]
    assert echo.function == "message-sent" and echo.body["data"]["message_id"] == posted["id"]
    assert (echo.status, json.loads(echo.response)["reason"]) == (200, "echo")
    # emailpipe holds two messages (the chat one, the email reply); two emails went out (Bob's, then Carol's).
    assert [(m.author_email, m.source.value) for m in board.messages()] == [
        ("carol@customer.example", "chat"),
        ("bob@agents.example", "email"),
    ]
    assert [m["destinations"] for m in board.env.outbox()] == [["bob@agents.example"], ["carol@customer.example"]]
    claim = external_ids.get_claim("sb", board.messages()[1].id)
    assert (claim.status, claim.external_message) == ("posted", str(posted["id"]))


def test_the_same_emailed_message_delivered_twice_is_posted_once(board: Board):
    from emailpipe.connectors.support_board import handler
    from emailpipe.local.stack import FakeLambdaContext
    from emailpipe.views import conversation_view, message_view

    board.sb.send_message(board.carol, board.conversation, "My invoice is wrong")
    board.env.drain()
    notification = board.env.outbox("bob@agents.example")[0]["raw"]
    board.env.deliver(reply_to(notification, "bob@agents.example", "Bob", "Refunded."))
    board.env.drain()
    reply = board.messages()[1]
    detail = {
        "type": "message.created",
        "data": {
            "message": message_view(reply),
            "conversation": conversation_view(repo.get_conversation(reply.conversation_id)),
        },
    }
    record = {"messageId": "again", "body": json.dumps({"detail-type": "message.created", "detail": detail})}

    for _ in range(2):  # SQS delivers at least once: the same message again, and once more
        result = handler.lambda_handler({"Records": [record]}, FakeLambdaContext("SupportBoardFunction"))
        assert result == {"batchItemFailures": []}

    assert len(board.sb.calls_of("send-message")) == 1
    assert len(board.messages()) == 2 and len(board.env.outbox()) == 2


def test_a_post_whose_attempt_died_after_support_board_stored_it_is_not_posted_again(board: Board, monkeypatch):
    import contextlib

    from emailpipe.batch import BatchFailedError
    from emailpipe.cli.main import deliver_raw_email
    from emailpipe.connectors.support_board import handler

    monkeypatch.setenv("SUPPORT_BOARD_LEASE_SECONDS", "0")  # the retry may take over at once
    handler._poster.cache_clear()
    board.sb.send_message(board.carol, board.conversation, "My invoice is wrong")
    board.env.drain()
    notification = board.env.outbox("bob@agents.example")[0]["raw"]
    board.sb.die_after_next_store = True

    key = deliver_raw_email(board.env.stack.info, reply_to(notification, "bob@agents.example", "Bob", "Refunded."))
    # The one record of the batch failed, so the invocation fails (as in Lambda) and the message stays queued.
    with contextlib.suppress(BatchFailedError):
        board.env.drain()
    time.sleep(2.5)  # the failed SQS message becomes visible again
    board.env.drain()
    assert repo.get_inbound(key).status.value == "stored"

    assert len(board.sb.calls_of("send-message")) == 1
    stored = [m for m in board.sb.messages_in(board.conversation) if m["user_id"] == board.bob]
    assert len(stored) == 1
    claim = external_ids.get_claim("sb", board.messages()[1].id)
    assert (claim.status, claim.attempts, claim.external_message) == ("posted", 2, str(stored[0]["id"]))
    handler._poster.cache_clear()


def test_an_echo_arriving_after_send_message_returned_is_known_and_ignored(board: Board):
    board.sb.send_message(board.carol, board.conversation, "My invoice is wrong")
    board.env.drain()
    notification = board.env.outbox("bob@agents.example")[0]["raw"]
    board.env.deliver(reply_to(notification, "bob@agents.example", "Bob", "Refunded."))
    board.env.drain()
    echo = next(w for w in board.sb.webhooks if w.function == "message-sent" and w.body["data"]["user_id"] == board.bob)

    status, answer, _ = board.post_webhook(echo.body)  # Support Board never retries; a late copy all the same
    board.env.drain()

    assert (status, answer["status"], answer["reason"]) == (200, "ignored", "known")
    assert len(board.messages()) == 2 and len(board.env.outbox()) == 2


def test_an_agent_answer_in_support_board_emails_the_user(board: Board):
    board.sb.send_message(board.carol, board.conversation, "My invoice is wrong")
    board.sb.send_message(board.bob, board.conversation, "Which invoice?")
    board.env.drain()

    assert [(m.author_email, m.text) for m in board.messages()][-1] == ("bob@agents.example", "Which invoice?")
    assert [m["destinations"] for m in board.env.outbox()][-1] == ["carol@customer.example"]


def test_archiving_in_support_board_archives_the_conversation(board: Board):
    board.sb.send_message(board.carol, board.conversation, "My invoice is wrong")
    board.sb.fire("conversation-status-updated", {"conversation_id": board.conversation, "status_code": 3})

    assert json.loads(board.sb.webhooks[-1].response)["conversation_status"] == "archived"
    assert repo.get_conversation(board.emailpipe_conversation()).status == "archived"


def test_a_wrong_key_is_refused_and_bad_or_unknown_webhooks_are_answered_and_recorded(board: Board):
    body = {"function": "message-sent", "key": "not-the-key", "data": {}, "sender-url": ""}
    status, problem, content_type = board.post_webhook(body)
    assert (status, content_type, problem["status"]) == (401, "application/problem+json", 401)
    assert problem["type"].endswith(":unauthorized")

    status, problem, _ = board.post_webhook(None, raw=b"function=message-sent")
    assert (status, problem["errors"][0]["field"]) == (400, "body")

    key = board.sb.webhook_key
    bad = {"function": "message-sent", "key": key, "data": {"user_id": 4, "conversation_id": 1}, "sender-url": ""}
    status, problem, _ = board.post_webhook(bad)
    assert (status, problem["errors"][0]["field"]) == (400, "data.message_id")

    status, answer, _ = board.post_webhook({"function": "login", "key": key, "data": {"user": 4}, "sender-url": ""})
    assert (status, answer["status"], answer["reason"]) == (200, "ignored", "unhandled_event")

    hooks = {h.function: h for h in external_ids.list_hooks("sb")}
    assert hooks["login"].status == "ignored" and hooks["login"].body is None
    # The malformed one is kept with its body (and without the key), to be looked at and processed again.
    assert hooks["message-sent"].status == "invalid" and hooks["message-sent"].reason == "data.message_id"
    assert json.loads(hooks["message-sent"].body) == {k: v for k, v in bad.items() if k != "key"}
    assert board.sb.calls == [] or all(c["function"] != "send-message" for c in board.sb.calls)


def test_an_emailed_message_of_a_conversation_unknown_to_support_board_opens_it_there_as_that_user(board: Board):
    env = board.env
    env.api.add_department("Billing")
    env.api.upsert_person("bob@agents.example", "Bob", Role.AGENT, ["Billing"])
    env.api.upsert_person("dan@customer.example", "Dan Brown", Role.USER)
    opened = env.api.open_conversation("dan@customer.example", "Billing", "Order 7")
    env.api.post_message(opened.id, "bob@agents.example", "Your order shipped.")
    env.drain()
    notification = env.outbox("dan@customer.example")[0]["raw"]

    outcome = env.deliver(reply_to(notification, "dan@customer.example", "Dan", "Thanks, got it."))
    env.drain()

    assert outcome.status.value == "stored"
    [added] = board.sb.calls_of("add-user")
    assert (added["email"], added["first_name"], added["last_name"]) == ("dan@customer.example", "Dan", "Brown")
    [created] = board.sb.calls_of("new-conversation")
    assert (created["title"], str(created["department"])) == ("Order 7", str(board.billing))
    [call] = board.sb.calls_of("send-message")
    dan = next(u["id"] for u in board.sb.users.values() if u["email"] == "dan@customer.example")
    assert str(call["user_id"]) == str(dan) and call["message"].startswith("Thanks, got it.")
    assert external_ids.external_for("sb", "conversation", opened.id) == str(call["conversation_id"])
    # Its new-conversation-created and message-sent webhooks came back while the calls ran; nothing was added, and
    # the only emails are Dan's notification and offline Bob's about Dan's reply.
    assert len(repo.list_messages(opened.id)) == 2
    assert [m["destinations"] for m in env.outbox()] == [["dan@customer.example"], ["bob@agents.example"]]
    assert {w.function: json.loads(w.response).get("reason") for w in board.sb.webhooks[-2:]} == {
        "new-conversation-created": "unhandled_event",
        "message-sent": "echo",
    }


def test_a_webhook_that_failed_while_support_board_was_down_is_kept_and_processed_again(board: Board):
    from emailpipe.connectors.support_board import inbound
    from emailpipe.connectors.support_board.client import SupportBoardClient

    board.sb.api_down = True
    board.sb.send_message(board.carol, board.conversation, "My invoice is wrong")
    failed = board.sb.webhooks[-1]
    assert failed.status == 503 and json.loads(failed.response)["type"].endswith(":unavailable")
    [hook] = [h for h in external_ids.list_hooks("sb") if h.function == "message-sent"]
    assert (hook.status, hook.reason) == ("failed", "SupportBoardError")

    board.sb.api_down = False
    connector = inbound.Connector(SupportBoardClient(board.sb.api_url, board.sb.admin_token), board.env.api)
    result = inbound.reprocess(hook.body_sha256, lambda: connector, time.time)
    board.env.drain()

    assert result.status == "processed"
    assert [m.text for m in board.messages()] == ["My invoice is wrong"]
    assert [m["destinations"] for m in board.env.outbox()] == [["bob@agents.example"]]
    assert external_ids.get_hook("sb", hook.body_sha256).status == "processed"
    assert inbound.reprocess(hook.body_sha256, lambda: connector, time.time).status == "processed"  # once only
    assert len(board.messages()) == 1
