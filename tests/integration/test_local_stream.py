"""The local stack's stream holds exactly the committed writes, as DynamoDB Streams does, also after a rollback."""

from __future__ import annotations

from emailpipe.local.mailclient import reply_to


def _texts(emails: list[dict]) -> list[str]:
    return [m["raw"] for m in emails]


def test_a_cancelled_transaction_neither_replays_its_writes_nor_hides_the_next_ones(env, world):
    first, created = env.api.post_message(world.conversation_id, world.user, "First", external_id="chat-1")
    env.drain()
    # The same external id again: the store's transaction is cancelled by its guard item.
    again, created_again = env.api.post_message(world.conversation_id, world.user, "First", external_id="chat-1")
    env.api.post_message(world.conversation_id, world.user, "Second")
    env.drain()

    assert created and not created_again and again.id == first.id
    bodies = _texts(env.outbox(world.offline_agent))
    assert len(bodies) == 2
    assert "First" in bodies[0] and "Second" in bodies[1]


def test_a_quarantined_reply_is_never_emailed_and_the_next_message_is(env, world):
    env.api.post_message(world.conversation_id, world.user, "My invoice is wrong")
    env.drain()
    notification = env.outbox(world.offline_agent)[0]["raw"]
    env.api.set_setting("max_emails_per_conversation", "0")  # every email held back: its transaction is cancelled

    outcome = env.deliver(reply_to(notification, world.offline_agent, "Bob", "Held back.\n\nBob"))
    env.api.post_message(world.conversation_id, world.user, "Still there?")
    env.drain()

    assert outcome.status.value == "quarantined"
    to_user = env.outbox(world.user)
    assert to_user == []  # the quarantined reply was not posted, so the user got nothing
    bodies = _texts(env.outbox(world.offline_agent))
    assert len(bodies) == 2 and "Still there?" in bodies[1]
    assert "Held back" not in bodies[1]


def test_one_drain_reaches_a_message_behind_a_page_of_records_the_filters_leave_out(env, world):
    # Items that neither stream consumer's filter takes (notification threads): more than a batch of records.
    from emailpipe.store.models import ThreadItem

    for n in range(60):
        ThreadItem(pk=f"CONV#other{n}", sk="THREAD#x@example.com", entity="thread", message_ids=["<a@b>"]).save()
    env.api.post_message(world.conversation_id, world.user, "Behind the presence updates")
    env.drain()

    assert len(env.outbox(world.offline_agent)) == 1
