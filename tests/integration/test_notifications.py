"""Notifications people can rely on: who, when, what they see, and each email sent once (local stack)."""

from __future__ import annotations

import json
from email import message_from_bytes, message_from_string, policy
from pathlib import Path

from botocore.awsrequest import AWSResponse

from emailpipe.aws import client
from emailpipe.local.mailclient import reply_to
from emailpipe.local.stack import FakeLambdaContext
from emailpipe.notifier import feedback_handler
from emailpipe.store import repo


def _mail(raw: str):
    return message_from_string(raw, policy=policy.default)


def _status(message_id: str, recipient: str) -> str | None:
    return repo.get_delivery_status(message_id, recipient)


def test_two_messages_in_the_digest_window_become_one_email(env, world):
    env.api.set_setting("digest_window_seconds", "1")

    env.api.post_message(world.conversation_id, world.user, "First question")
    env.api.post_message(world.conversation_id, world.user, "And a second one")
    env.drain(wait_for_digests=True)

    to_bob = env.outbox(world.offline_agent)
    assert len(to_bob) == 1
    text = _mail(to_bob[0]["raw"]).get_body(("plain",)).get_content()
    assert "2 new messages" in text
    assert text.index("First question") < text.index("And a second one")
    assert env.outbox(world.online_agent) == []


def test_a_message_after_the_window_closed_gets_its_own_email(env, world):
    env.api.set_setting("digest_window_seconds", "1")

    env.api.post_message(world.conversation_id, world.user, "One")
    env.drain(wait_for_digests=True)
    env.api.post_message(world.conversation_id, world.user, "Two")
    env.drain(wait_for_digests=True)

    bodies = [m["raw"] for m in env.outbox(world.offline_agent)]
    assert len(bodies) == 2 and "One" in bodies[0] and "Two" in bodies[1] and "One" not in bodies[1].split("Earlier")[0]


def test_presence_is_read_again_when_the_digest_is_sent(env, world):
    env.api.set_setting("digest_window_seconds", "1")

    message, _ = env.api.post_message(world.conversation_id, world.user, "Anyone?")
    env.drain()
    env.api.set_presence(world.offline_agent, True)
    env.drain(wait_for_digests=True)

    assert env.outbox(world.offline_agent) == []
    assert _status(message.id, world.offline_agent) == "skipped_online"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


def test_a_throttled_ses_call_is_retried_and_sends_one_email(env, world):
    calls = {"throttled": 0}

    def throttle_once(request, **_kwargs):
        if calls["throttled"]:
            return None
        calls["throttled"] += 1
        body = json.dumps({"__type": "TooManyRequestsException", "message": "Maximum sending rate exceeded."})
        headers = {"x-amzn-ErrorType": "TooManyRequestsException", "Content-Type": "application/json"}
        return AWSResponse(request.url, 429, headers, _Raw(body.encode()))

    events = client("sesv2").meta.events
    events.register_first("before-send.sesv2.SendEmail", throttle_once, unique_id="throttle-once")
    try:
        message, _ = env.api.post_message(world.conversation_id, world.user, "Throttled?")
        env.drain()
    finally:
        events.unregister("before-send.sesv2.SendEmail", unique_id="throttle-once")

    assert calls["throttled"] == 1
    assert len(env.outbox(world.offline_agent)) == 1
    assert _status(message.id, world.offline_agent) == "sent"


def test_a_permanent_ses_refusal_is_recorded_and_does_not_block_the_others(env, world):
    client("ses").delete_identity(Identity="example.com")

    message, _ = env.api.post_message(world.conversation_id, world.user, "Nobody will get this")
    env.drain()

    assert env.outbox() == []
    assert _status(message.id, world.offline_agent) == "failed_permanent"


def test_the_notification_eml_threads_in_every_client(env, world, tmp_path: Path):
    env.api.post_message(world.conversation_id, world.offline_agent, "First answer")
    env.drain()
    first = env.outbox(world.user)[0]["raw"]
    env.deliver(reply_to(first, world.user, "Carol", "Thanks"))
    env.api.post_message(world.conversation_id, world.offline_agent, "Second answer")
    env.api.post_message(world.conversation_id, world.offline_agent, "Third answer")
    env.drain()

    saved = []
    for number, mail in enumerate(env.outbox(world.user)):
        path = tmp_path / f"{number}.eml"
        path.write_text(mail["raw"])
        saved.append(message_from_bytes(path.read_bytes(), policy=policy.default))

    ids = [m["Message-ID"] for m in saved]
    assert len(set(ids)) == 3
    assert saved[0]["In-Reply-To"] is None
    assert saved[1]["In-Reply-To"] == ids[0] and saved[1]["References"] == ids[0]
    assert saved[2]["In-Reply-To"] == ids[1] and saved[2]["References"].split() == ids[:2]
    assert {m["Subject"] for m in saved} == {"Re: Invoice 1042"}
    for mail in saved:
        assert mail["Reply-To"].addresses[0].addr_spec.startswith("support+")
        assert mail["Auto-Submitted"] == "auto-generated"
        assert mail["X-Auto-Response-Suppress"] == "All"


def test_in_human_takeover_mode_the_bot_answers_and_no_agent_is_emailed(env, world):
    env.api.set_setting("human_takeover", "on")
    env.api.set_setting("bot_answer_wait_seconds", "1")

    question, _ = env.api.post_message(world.conversation_id, world.user, "Where is my parcel?")
    env.api.post_message(world.conversation_id, "bot", "It is on its way.")
    env.drain(wait_for_digests=True)

    assert [m["destinations"] for m in env.outbox()] == [[world.user]]
    assert "It is on its way." in env.outbox()[0]["raw"]
    assert _status(question.id, world.offline_agent) == "skipped_bot_answered"


def test_in_human_takeover_mode_agents_are_emailed_when_the_bot_does_not_answer(env, world):
    env.api.set_setting("human_takeover", "on")
    env.api.set_setting("bot_answer_wait_seconds", "1")

    env.api.post_message(world.conversation_id, world.user, "I need a human, please")
    env.drain(wait_for_digests=True)

    assert [m["destinations"] for m in env.outbox()] == [[world.offline_agent]]


def test_a_user_with_notifications_off_still_gets_answers_but_an_unsubscribed_user_does_not(env, world):
    repo.set_email_preferences(world.user, notifications=False)
    env.api.post_message(world.conversation_id, world.offline_agent, "Answer one")
    env.drain()
    repo.set_email_preferences(world.user, unsubscribed=True)
    skipped, _ = env.api.post_message(world.conversation_id, world.offline_agent, "Answer two")
    env.drain()

    assert len(env.outbox(world.user)) == 1
    assert _status(skipped.id, world.user) == "skipped_unsubscribed"


def test_ses_bounce_notifications_mark_the_address_and_the_conversation_shows_it(env, world):
    notification = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": world.user.upper()}]},
    }
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(notification)}}]}

    result = feedback_handler.lambda_handler(event, FakeLambdaContext("FeedbackFunction"))
    message, _ = env.api.post_message(world.conversation_id, world.offline_agent, "Hello?")
    env.drain()

    assert result == {"marked": 1}
    assert repo.get_person(world.user).bouncing
    assert _status(message.id, world.user) == "skipped_bouncing"
    conversation, _messages = env.api.conversation(world.conversation_id)
    assert env.api.participant_warnings(conversation) == [f"{world.user}: bouncing, emails to it are not sent"]


def test_attachments_are_linked_and_small_ones_attached(env, world, tmp_path: Path):
    small = tmp_path / "note.txt"
    small.write_bytes(b"tiny")
    big = tmp_path / "scan.pdf"
    big.write_bytes(b"%PDF" + b"0" * 300_000)

    env.api.post_message(world.conversation_id, world.offline_agent, "Two files", [small, big])
    env.drain()

    mail = _mail(env.outbox(world.user)[0]["raw"])
    text = mail.get_body(("plain",)).get_content()
    assert "note.txt" in text and "scan.pdf" in text
    assert "X-Amz-Expires=604800" in text or "Expires=" in text
    assert [(p.get_filename(), p.get_content()) for p in mail.iter_attachments()] == [("note.txt", "tiny")]
