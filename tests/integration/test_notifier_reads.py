"""The notifier's fewer reads keep its promises: presence read at send time, the staff list's age, threading, the
recorded skips, and one email per recipient when an attempt died after claiming its send (local stack)."""

from __future__ import annotations

import time
from email import message_from_string, policy

from emailpipe.store import repo


def test_presence_is_read_when_the_email_is_sent_even_with_the_staff_list_cached(env, world, monkeypatch):
    monkeypatch.setenv("SETTINGS_MAX_AGE_SECONDS", "600")  # as deployed, but long enough to span the test
    env.api.post_message(world.conversation_id, world.user, "First question")
    env.drain()
    assert len(env.outbox(world.offline_agent)) == 1  # the staff list is now cached, Bob offline in it

    # Presence changes as the chat's heartbeat writes it: no cache is dropped, the list still says what it said.
    repo.set_presence(world.offline_agent, True, time.time())
    repo.set_presence(world.online_agent, False, time.time() - 3600)
    message, _ = env.api.post_message(world.conversation_id, world.user, "Second question")
    env.drain()

    assert len(env.outbox(world.offline_agent)) == 1, "Bob came online: no second email"
    to_alice = env.outbox(world.online_agent)
    assert len(to_alice) == 1 and "Second question" in to_alice[0]["raw"]


def test_a_new_agent_is_in_the_cached_staff_list_within_its_max_age(env, world, monkeypatch):
    monkeypatch.setenv("SETTINGS_MAX_AGE_SECONDS", "10")
    repo.clear_caches()
    before = {p.email for p in repo.cached_staff(now=1000.0)}
    # Another container (the API's) adds an agent: this one's copy is not told.
    from emailpipe.domain.models import Person, Role

    new = Person(email="nina@agents.example", name="Nina", role=Role.AGENT, departments=("Billing",))
    repo._person_item(new).save()

    assert "nina@agents.example" not in {p.email for p in repo.cached_staff(now=1009.0)}
    assert "nina@agents.example" in {p.email for p in repo.cached_staff(now=1010.5)}
    assert before < {p.email for p in repo.cached_staff(now=1010.6)}


def test_each_notification_refers_to_the_ones_before_it(env, world):
    env.api.post_message(world.conversation_id, world.user, "One")
    env.drain()
    env.api.post_message(world.conversation_id, world.user, "Two")
    env.drain()
    env.api.post_message(world.conversation_id, world.user, "Three")
    env.drain()

    mails = [message_from_string(m["raw"], policy=policy.default) for m in env.outbox(world.offline_agent)]
    ids = [m["Message-ID"] for m in mails]
    assert len(set(ids)) == 3
    assert mails[1]["In-Reply-To"] == ids[0] and mails[2]["In-Reply-To"] == ids[1]
    assert mails[2]["References"].split() == ids[:2]


def test_skips_are_recorded_for_every_recipient_in_one_write(env, world):
    env.api.add_user("dora@customer.example", "Dora")
    env.api.add_user("eve@customer.example", "Eve")
    env.api.add_participant(world.conversation_id, "dora@customer.example")
    env.api.add_participant(world.conversation_id, "eve@customer.example")
    repo.set_email_preferences("dora@customer.example", unsubscribed=True)
    repo.set_bouncing("eve@customer.example", True)

    message, _ = env.api.post_message(world.conversation_id, world.offline_agent, "Your refund is on its way")
    env.drain()

    assert repo.get_delivery_status(message.id, "dora@customer.example") == "skipped_unsubscribed"
    assert repo.get_delivery_status(message.id, "eve@customer.example") == "skipped_bouncing"
    assert repo.get_delivery_status(message.id, world.user) == "sent"
    assert len(env.outbox(world.user)) == 1 and env.outbox("dora@customer.example") == []


def test_a_send_claimed_by_an_attempt_that_died_is_sent_once_by_the_retry(env, world):
    message, _ = env.api.post_message(world.conversation_id, world.user, "Is anyone there?")
    # The first attempt claimed Bob's email and was killed before SES had it (the stream record comes again).
    assert repo.claim_delivery(message.id, world.offline_agent, world.conversation_id, time.time())
    env.drain()

    assert len(env.outbox(world.offline_agent)) == 1
    assert repo.get_delivery_status(message.id, world.offline_agent) == "sent"


def test_a_claim_is_taken_over_only_when_the_attempt_that_made_it_is_surely_over():
    conversation, recipient, key = "c1", "bob@agents.example", f"digest-{time.time_ns()}"
    assert repo.claim_delivery(key, recipient, conversation, 1000.0)
    # A queue message delivered twice at once: the second copy must not send while the first may still be sending.
    assert not repo.claim_delivery(key, recipient, conversation, 1060.0, abandoned_after=120.0)
    assert not repo.claim_delivery(key, recipient, conversation, 1060.0)
    # Past the function's timeout the first attempt is over: its claim is taken over.
    assert repo.claim_delivery(key, recipient, conversation, 1121.0, abandoned_after=120.0)
    repo.record_delivery_sent(key, recipient, conversation, now=1122.0, mail_message_id="<m@x>", ses_message_id="s")
    # A sent email is never sent again, however old.
    assert not repo.claim_delivery(key, recipient, conversation, 9999.0, abandoned_after=0.0)
    assert repo.thread_message_ids(conversation, recipient) == ["<m@x>"]
