"""Conversations the way email works, against the local stack: Cc and participants, reply-all, forwards, closed
conversations, several inboxes, and the trimmed part of a message (issue 13)."""

from __future__ import annotations

import json
import urllib.request
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid

from emailpipe.aws import client
from emailpipe.domain import tokens
from emailpipe.local.mailclient import new_email, reply_to
from emailpipe.store import apikeys, keys, repo

from .mails import gmail_forward, header, token_in

DANA = "dana@partner.example"


def _with_cc(raw: bytes, cc: str) -> bytes:
    mail = message_from_bytes(raw, policy=policy.default)
    mail["Cc"] = cc
    return bytes(mail)


def _reply_all(original: bytes, sender: str, name: str, text: str) -> bytes:
    """A reply-all as a mail client writes it: to the original's sender, Cc everyone else it went to, threaded."""
    mail = message_from_bytes(original, policy=policy.default)
    reply = EmailMessage()
    reply["From"] = f"{name} <{sender}>"
    everyone = getaddresses([str(mail.get("From", "")), str(mail.get("To", "")), str(mail.get("Cc", ""))])
    others = [(n, a) for n, a in everyone if a.lower() != sender]
    reply["To"] = f'"{others[0][0]}" <{others[0][1]}>' if others[0][0] else others[0][1]
    if others[1:]:
        reply["Cc"] = ", ".join(f'"{n}" <{a}>' if n else a for n, a in others[1:])
    reply["Subject"] = "Re: " + str(mail.get("Subject", ""))
    reply["Date"] = (
        format_datetime(mail.get("Date").datetime) if mail.get("Date") else "Tue, 01 Dec 2026 10:00:00 +0000"
    )
    reply["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    reply["In-Reply-To"] = str(mail["Message-ID"])
    reply["References"] = str(mail["Message-ID"])
    reply.set_content(f"{text}\n\nOn Tue, 1 Dec 2026, someone wrote:\n> {mail.get_content().splitlines()[0]}\n")
    return bytes(reply)


def _user_reply_with_dana_in_cc(env, world) -> tuple[bytes, object]:
    notification = env.notification_to(world, world.user, "Could you send the invoice again?")
    raw = _with_cc(reply_to(notification, world.user, "Carol", "Here it is. Dana from accounting is in Cc."), DANA)
    return raw, env.deliver(raw)


# ---------------------------------------------------------------- participants, Cc and reply-all


def test_with_cc_join_on_a_colleague_in_cc_joins_and_gets_the_agents_replies_with_a_token_of_her_own(env, world):
    env.api.set_setting("cc_join", "on")

    raw, outcome = _user_reply_with_dana_in_cc(env, world)

    assert outcome.status.value == "stored"
    assert outcome.details.get("joined") == "1"
    assert env.api.get_conversation(world.conversation_id).participants == (DANA,)
    assert repo.get_person(DANA).role.value == "user"
    env.api.post_message(world.conversation_id, world.offline_agent, "Thanks, both of you: the credit note is out.")
    env.drain()
    to_carol, to_dana = env.outbox(world.user)[-1]["raw"], env.outbox(DANA)[-1]["raw"]
    assert "credit note is out" in to_dana
    carol_token, dana_token = token_in(to_carol), token_in(to_dana)
    assert carol_token != dana_token
    assert tokens.verify_token(keys.token_keys(env.outputs["TokenSecretName"]), dana_token, DANA)


def test_with_cc_join_off_a_colleague_in_cc_never_joins_and_is_never_emailed(env, world):
    raw, outcome = _user_reply_with_dana_in_cc(env, world)

    assert outcome.status.value == "stored"
    assert env.api.get_conversation(world.conversation_id).participants == ()
    env.api.post_message(world.conversation_id, world.offline_agent, "The credit note is out.")
    env.drain()
    assert env.outbox(DANA) == []
    assert len(env.outbox(world.user)) == 2
    # Her reply-all to Carol's email carries Carol's token, which was not issued to her: refused and recorded.
    later = env.deliver(_reply_all(raw, DANA, "Dana", "Received, thanks."))
    assert (later.status.value, later.reason) == ("rejected", "token_not_valid_for_sender")


def test_the_colleagues_later_replies_are_stored_under_her_own_name_and_address(env, world):
    env.api.set_setting("cc_join", "on")
    raw, _ = _user_reply_with_dana_in_cc(env, world)

    # A reply-all to Carol's email (Carol's token in the piping address's display name)...
    first = env.deliver(_reply_all(raw, DANA, "Dana", "Received, I will pay it today."))
    # ...and a reply to her own notification.
    env.api.post_message(world.conversation_id, world.offline_agent, "Great, thank you.")
    env.drain()
    second = env.deliver(reply_to(env.outbox(DANA)[-1]["raw"], DANA, "Dana", "Paid."))

    assert [first.status.value, second.status.value] == ["stored", "stored"]
    messages = repo.list_messages(world.conversation_id)
    mine = [m for m in messages if m.author_email == DANA]
    assert [(m.author_role.value, m.text) for m in mine] == [
        ("user", "Received, I will pay it today."),
        ("user", "Paid."),
    ]


def test_a_registered_agent_in_cc_stays_an_agent_and_his_reply_all_is_his_answer(env, world):
    env.api.set_setting("cc_join", "on")
    notification = env.notification_to(world, world.user, "Which invoice?")
    raw = _with_cc(reply_to(notification, world.user, "Carol", "Invoice 1042, Olga knows it."), world.other_agent)
    assert env.deliver(raw).status.value == "stored"

    assert env.api.get_conversation(world.conversation_id).participants == ()
    assert repo.get_person(world.other_agent).role.value == "agent"
    outcome = env.deliver(_reply_all(raw, world.other_agent, "Olga", "I have corrected invoice 1042."))

    assert (outcome.status.value, outcome.matched_by) == ("stored", "display_name")
    last = repo.list_messages(world.conversation_id)[-1]
    assert (last.author_email, last.author_role.value, last.text) == (
        world.other_agent,
        "agent",
        "I have corrected invoice 1042.",
    )
    # Carol had his reply-all directly: the same words are not emailed to her a second time.
    env.drain()
    assert all("I have corrected invoice 1042." not in m["raw"] for m in env.outbox(world.user))
    assert repo.get_delivery_status(last.id, world.user) == "skipped_received_directly"


def test_removing_a_participant_revokes_her_tokens(env, world):
    env.api.add_participant(world.conversation_id, DANA, "Dana")
    env.api.post_message(world.conversation_id, world.offline_agent, "Dana, can you confirm the address?")
    env.drain()
    notification = env.outbox(DANA)[-1]["raw"]

    env.api.remove_participant(world.conversation_id, DANA)
    outcome = env.deliver(reply_to(notification, DANA, "Dana", "Confirmed."))

    assert (outcome.status.value, outcome.reason) == ("rejected", "sender_not_participant")
    assert all(m.author_email != DANA for m in repo.list_messages(world.conversation_id))


# ---------------------------------------------------------------- forwards


def test_an_agents_forward_opens_a_conversation_of_the_original_sender_with_the_content_and_the_file(env, world):
    env.api.set_setting("staff_forwards", "on")

    outcome = env.deliver(gmail_forward(world.offline_agent, "Bob", "support+new@example.com", "Erin's parcel, mine."))

    assert (outcome.status.value, outcome.matched_by) == ("stored", "staff_forward")
    conversation = env.api.get_conversation(outcome.conversation_id)
    assert (conversation.user_email, conversation.assigned_agent) == ("erin@buyer.example", world.offline_agent)
    assert conversation.subject == "Parcel 7731 arrived broken"
    assert repo.get_person("erin@buyer.example").name == "Erin Buyer"
    [message] = repo.list_messages(conversation.id)
    assert (message.author_email, message.forwarded_by) == ("erin@buyer.example", world.offline_agent)
    assert "my parcel 7731 arrived with a broken lid" in message.text
    # The agent's note is internal: not in the customer's message, not in its trimmed part (the raw email keeps it).
    assert "Erin's parcel, mine." not in message.text
    assert env.api.trimmed_text(message) is None and message.raw_s3_key == outcome.s3_key
    assert [a.filename for a in message.attachments] == ["lid.jpg"]


def test_an_agents_forward_opens_nothing_when_neither_convert_all_nor_staff_forwards_is_on(env, world):
    outcome = env.deliver(gmail_forward(world.offline_agent, "Bob", "support@example.com", "Please handle."))

    assert (outcome.status.value, outcome.reason) == ("rejected", "staff_forward_not_enabled")
    assert repo.get_person("erin@buyer.example") is None


def test_a_users_forward_creates_nothing_for_the_third_party(env, world):
    env.api.set_setting("convert_all_emails", "on")

    outcome = env.deliver(gmail_forward(world.user, "Carol", "support@example.com", "This came to me, is it you?"))

    assert outcome.status.value == "stored"
    assert env.api.get_conversation(outcome.conversation_id).user_email == world.user
    assert repo.get_person("erin@buyer.example") is None
    [message] = repo.list_messages(outcome.conversation_id)
    assert message.author_email == world.user and message.forwarded_by is None
    # A forward is content, not quoted history: kept in the message.
    assert "my parcel 7731 arrived with a broken lid" in message.text


def test_a_users_forward_into_her_own_conversation_keeps_the_forwarded_content(env, world):
    notification = env.notification_to(world, world.user, "Can you show us the shop's answer?")
    forwarded = (
        "Here is what the shop wrote.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Shop <orders@shop.example>\n"
        "Date: Mon, 30 Nov 2026 at 08:00\n"
        "Subject: Your refund\n"
        "To: Carol <carol@customer.example>\n\n"
        "Your refund of 42 EUR was approved on 30 November.\n"
    )

    outcome = env.deliver(reply_to(notification, world.user, "Carol", forwarded, quote=False))

    assert outcome.status.value == "stored"
    text = repo.list_messages(world.conversation_id)[-1].text
    assert "Here is what the shop wrote." in text
    assert "Your refund of 42 EUR was approved on 30 November." in text


# ---------------------------------------------------------------- closed conversations


def _closed_reply(env, world, rule: str | None) -> tuple[object, str]:
    if rule:
        env.api.set_setting("closed_reply", rule)
    notification = env.notification_to(world, world.user, "Anything else?")
    env.api.close_conversation(world.conversation_id)
    return env.deliver(reply_to(notification, world.user, "Carol", "One more thing: the VAT number.")), notification


def test_a_reply_to_a_closed_conversation_reopens_it_by_default(env, world):
    outcome, _ = _closed_reply(env, world, None)

    assert (outcome.status.value, outcome.details.get("closed_reply")) == ("stored", "reopened")
    assert env.api.get_conversation(world.conversation_id).status == "open"
    assert repo.list_messages(world.conversation_id)[-1].text == "One more thing: the VAT number."


def test_closed_reply_new_opens_a_new_conversation_linked_to_the_closed_one(env, world):
    outcome, _ = _closed_reply(env, world, "new")

    assert outcome.status.value == "stored"
    assert outcome.conversation_id != world.conversation_id
    successor = env.api.get_conversation(outcome.conversation_id)
    assert (successor.linked_from, successor.user_email, successor.status) == (
        world.conversation_id,
        world.user,
        "open",
    )
    assert env.api.get_conversation(world.conversation_id).status == "closed"
    assert [m.text for m in repo.list_messages(successor.id)] == ["One more thing: the VAT number."]


def test_closed_reply_reject_posts_nothing_and_answers_once_a_day_politely(env, world):
    outcome, notification = _closed_reply(env, world, "reject")
    env.drain()

    assert (outcome.status.value, outcome.reason) == ("rejected", "conversation_closed")
    assert repo.list_messages(world.conversation_id)[-1].text == "Anything else?"
    answers = [m for m in env.outbox(world.user) if header(m["raw"], "Auto-Submitted")]
    answers = [m for m in answers if header(m["raw"], "Auto-Submitted").startswith("auto-replied")]
    assert len(answers) == 1
    assert header(answers[0]["raw"], "In-Reply-To")
    again = env.deliver(reply_to(notification, world.user, "Carol", "Hello? The VAT number."))
    env.drain()
    assert again.reason == "conversation_closed"
    assert "no automatic answer" in again.details.get("detail", "")
    assert len([m for m in env.outbox(world.user) if header(m["raw"], "Auto-Submitted") == "auto-replied"]) == 1


def test_a_reply_to_an_archived_conversation_is_never_posted(env, world):
    notification = env.notification_to(world, world.user, "Anything else?")
    env.api.archive_conversation(world.conversation_id)

    outcome = env.deliver(reply_to(notification, world.user, "Carol", "One more thing."))

    assert (outcome.status.value, outcome.reason) == ("rejected", "conversation_archived")
    assert env.api.get_conversation(world.conversation_id).status == "archived"
    assert repo.list_messages(world.conversation_id)[-1].text == "Anything else?"


# ---------------------------------------------------------------- several inboxes


def test_two_inboxes_each_notify_from_their_own_identity_and_never_cross(env, world):
    client("ses").verify_domain_identity(Domain="brand-b.example")  # the operator verifies each inbox's domain
    env.api.set_setting("convert_all_emails", "on")
    env.api.update_inbox("support@example.com", department="Billing")
    env.api.add_inbox("billing@brand-b.example", "BrandB", department="Sales")
    frank = "frank@shopper.example"

    a = env.deliver(new_email(frank, "Frank", "support@example.com", "Invoice", "Where is my invoice?"))
    b = env.deliver(new_email(frank, "Frank", "billing@brand-b.example", "Refund", "Refund me."))

    brand_a, brand_b = env.api.get_conversation(a.conversation_id), env.api.get_conversation(b.conversation_id)
    assert (brand_a.inbox, brand_a.department) == (None, "Billing")  # the default inbox
    assert (brand_b.inbox, brand_b.department) == ("billing@brand-b.example", "Sales")
    # Each department's offline agents hear of their own inbox's mail, from that inbox.
    [to_bob] = [m["raw"] for m in env.outbox(world.offline_agent) if "Where is my invoice?" in m["raw"]]
    [to_olga] = [m["raw"] for m in env.outbox(world.other_agent)]
    assert "Refund me." in to_olga
    assert header(to_bob, "From").startswith("AiX| ") and "<support@example.com>" in header(to_bob, "From")
    assert header(to_olga, "From").startswith("BrandB| ") and "<billing@brand-b.example>" in header(to_olga, "From")
    assert "@brand-b.example>" in header(to_olga, "Message-ID")
    assert "billing+" in header(to_olga, "Reply-To")
    # Brand B's answer reaches Frank from brand B; his reply sent to brand A's address never lands anywhere.
    env.api.post_message(brand_b.id, world.other_agent, "Refund approved.")
    env.drain()
    to_frank = [m["raw"] for m in env.outbox(frank) if "Refund approved." in m["raw"]][-1]
    assert "<billing@brand-b.example>" in header(to_frank, "From")
    crossed = (
        reply_to(to_frank, frank, "Frank", "Thanks!")
        .replace(b"billing+", b"support+")
        .replace(b"brand-b.example", b"example.com")
    )
    assert env.deliver(crossed).reason == "wrong_inbox"
    answered = env.deliver(reply_to(to_frank, frank, "Frank", "Thanks!"))
    assert (answered.status.value, answered.conversation_id) == ("stored", brand_b.id)
    assert [m.text for m in repo.list_messages(brand_a.id)] == ["Where is my invoice?"]


def test_an_inbox_with_its_own_convert_all_off_opens_nothing_while_the_setting_is_on(env, world):
    env.api.set_setting("convert_all_emails", "on")
    env.api.add_inbox("billing@brand-b.example", "BrandB", convert_all_emails=False)

    refused = env.deliver(new_email("frank@shopper.example", "Frank", "billing@brand-b.example", "Hi", "Hello."))

    assert refused.reason == "no_conversation_token"


def test_nobody_can_send_as_any_inbox(env, world):
    env.api.add_inbox("billing@brand-b.example", "BrandB")
    outcome = env.deliver(new_email("billing@brand-b.example", "BrandB", "support@example.com", "Hi", "Loop?"))
    assert outcome.reason == "from_piping_address"


# ---------------------------------------------------------------- the trimmed part


def test_the_trimmed_part_of_a_reply_is_kept_and_returned_by_the_api_on_request(env, world, api_url):
    notification = env.notification_to(world, world.user, "Which invoice number?")
    reply = reply_to(notification, world.user, "Carol", "Number 1042.\n\n-- \nCarol Jones\nCustomer Ltd")
    assert env.deliver(reply).status.value == "stored"
    message = repo.list_messages(world.conversation_id)[-1]
    assert message.text == "Number 1042."
    headers = {"Authorization": f"Bearer {apikeys.create_key('test', 'read')[1]}"}
    url = f"{api_url}/v1/conversations/{world.conversation_id}/messages/{message.id}?include=trimmed"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
        view = json.load(response)

    assert view["text"] == "Number 1042." and view["has_trimmed"] is True
    assert "Carol Jones" in view["trimmed"]
    assert "Which invoice number?" in view["trimmed"]  # the quoted notification
    plain_url = f"{api_url}/v1/conversations/{world.conversation_id}/messages"
    with urllib.request.urlopen(urllib.request.Request(plain_url, headers=headers)) as response:
        assert "trimmed" not in json.load(response)["items"][-1]
