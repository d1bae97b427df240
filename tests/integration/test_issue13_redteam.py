"""Red-team tests for issue 13 (participants, reply-all, forwards, closed conversations, inboxes, trimmed part).

Tests noted "Was a hole" failed before their fix (the note says what happened then, and what is expected); the others
pin down behaviour that held under attack."""

from __future__ import annotations

from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage
from email.utils import make_msgid

from emailpipe.aws import client
from emailpipe.local.mailclient import new_email, reply_to
from emailpipe.store import repo

from .mails import gmail_forward, header, token_in

DANA = "dana@partner.example"
ERIN = "erin@buyer.example"
MALLORY = "mallory@evil.example"

# The header block SES writes on top of the stored mail: the verdicts are the trusted ones.
SES_BLOCK = (
    "Return-Path: <{sender}>\r\n"
    "Received: from mail.example (mail.example [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com"
    " with SMTP id abc123 for support@example.com; Mon, 23 Nov 2026 10:00:00 +0000 (UTC)\r\n"
    "X-SES-Spam-Verdict: PASS\r\n"
    "X-SES-Virus-Verdict: PASS\r\n"
    "Received-SPF: {spf} (spfCheck: domain of example does not designate 192.0.2.1 as permitted sender)\r\n"
    "Authentication-Results: amazonses.com; spf={spf} smtp.mailfrom={sender}; dkim={dkim} header.i=@x;"
    " dmarc={dmarc} header.from=x\r\n"
    "X-SES-RECEIPT: AEFBQUFBQUFBQUFH\r\n"
)


def _ses(raw: bytes, sender: str, *, spf="softfail", dkim="none", dmarc="none") -> bytes:
    """Mail as SES stores it; the default verdicts are those of a forged From at a domain without DMARC."""
    return SES_BLOCK.format(sender=sender, spf=spf, dkim=dkim, dmarc=dmarc).encode() + raw


def _mail(sender: str, name: str, to: str, subject: str, text: str, **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"{name} <{sender}>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = "Tue, 01 Dec 2026 10:00:00 +0000"
    for key, value in headers.items():
        mail[key.replace("_", "-")] = value
    if "Message-ID" not in mail:
        mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    mail.set_content(text)
    return bytes(mail)


# ------------------------------------------------------------------ thread matching (MSGID# entries)


def test_a_stranger_reusing_a_customers_message_id_cannot_take_over_the_agents_reply_all(env, world):
    # Was a hole: the thread entry MSGID#<hash> -> conversation is written unconditionally (store/repo.py,
    # store_inbound_message: `transaction.save(thread)`), so any later email with the same Message-ID (chosen by its
    # sender) re-points the thread to its own conversation. A stranger who saw Erin's Message-ID (he was in Cc, or it
    # is public) sends a new email with that Message-ID; the agent's reply-all to Erin's email then lands in the
    # stranger's conversation and is emailed to him. Expected: the first entry wins (condition does_not_exist or the
    # same conversation), and the agent's reply-all lands in Erin's conversation.
    env.api.set_setting("convert_all_emails", "on")
    erin_id = "<erin-original-1@buyer.example>"
    erin = env.deliver(
        _mail(
            ERIN,
            "Erin",
            "support@example.com",
            "Broken lid",
            "My parcel arrived broken.",
            Cc=world.offline_agent,
            Message_ID=erin_id,
        )
    )
    assert erin.status.value == "stored"
    forged = env.deliver(
        _mail(MALLORY, "Mallory", "support@example.com", "Hello", "Hi there, a question.", Message_ID=erin_id)
    )
    assert forged.status.value == "stored"  # a convert-all conversation of his own: fine so far
    assert forged.conversation_id != erin.conversation_id

    bob_reply = _mail(
        world.offline_agent,
        "Bob",
        ERIN,
        "Re: Broken lid",
        "Sorry Erin, a new lid is on its way. Order ref 5521.",
        Cc="support@example.com",
        In_Reply_To=erin_id,
        References=erin_id,
    )
    outcome = env.deliver(bob_reply)

    assert outcome.status.value == "stored"
    assert outcome.conversation_id == erin.conversation_id, "the agent's reply-all went to the stranger's conversation"
    assert not [m for m in env.outbox(MALLORY) if "Order ref 5521" in m["raw"]]


def test_a_stranger_in_cc_cannot_post_in_the_thread_with_a_forged_from(env, world):
    # Held: a forged From of the user, matched by thread only, is refused when the mail is not the sender's own.
    env.api.set_setting("convert_all_emails", "on")
    erin_id = "<erin-original-2@buyer.example>"
    erin = env.deliver(
        _mail(ERIN, "Erin", "support@example.com", "Broken", "Broken lid.", Cc=MALLORY, Message_ID=erin_id)
    )
    forged = _mail(
        ERIN,
        "Erin",
        "support@example.com",
        "Re: Broken",
        "Cancel my order and refund to IBAN X.",
        In_Reply_To=erin_id,
        References=erin_id,
    )

    outcome = env.deliver(_ses(forged, MALLORY))
    as_himself = env.deliver(
        _ses(
            _mail(MALLORY, "Mallory", "support@example.com", "Re: Broken", "me too", In_Reply_To=erin_id),
            MALLORY,
            spf="pass",
            dkim="pass",
            dmarc="pass",
        )
    )

    assert (outcome.status.value, outcome.reason) == ("rejected", "thread_not_authenticated")
    assert (as_himself.status.value, as_himself.reason) == ("rejected", "sender_not_participant")
    assert [m.text for m in repo.list_messages(erin.conversation_id)] == ["Broken lid."]


def test_a_forged_user_reply_with_the_token_seen_in_her_cc_is_quarantined(env, world):
    # Was a hole (design): the user's reply-to address carries her token, so everyone she puts in Cc sees it.
    # With cc_join off the Cc'd stranger is "never emailed", yet he could post as Carol for token_lifetime_days by
    # forging her From: a token match needed no authentication, even when SES said SPF softfailed and no DKIM.
    # Expected: a token reply whose trusted verdicts show the mail is not the sender's (no aligned pass while
    # a verdict exists) is at least quarantined when the token was exposed in a Cc (or generally:
    # `trust.staff_reply_outcome`-style check for token replies from users too). inbound/logic.py _accept, after
    # `_match` (only thread matches are checked, line `if match.method == "thread" ...`).
    notification = env.notification_to(world, world.user, "Could you send the invoice again?")
    carol = reply_to(notification, world.user, "Carol", "Here it is.")
    mail = message_from_bytes(carol, policy=policy.default)
    mail["Cc"] = MALLORY
    assert env.deliver(bytes(mail)).status.value == "stored"
    seen_by_mallory = str(mail["To"])  # "AiX| <token>" <support+<token>@example.com>

    forged = _mail(world.user, "Carol", seen_by_mallory, "Re: Invoice", "Please change my bank details to X.")
    outcome = env.deliver(_ses(forged, MALLORY))

    assert outcome.status.value != "stored", "a stranger posted as the user with the token from her Cc"


# ------------------------------------------------------------------ participants


def test_a_participant_removed_while_a_digest_waits_does_not_get_it(env, world):
    # Was a hole: notifier/logic.py send_digest re-reads presence and preferences but not membership: a participant
    # removed while a digest window is open still gets the agent's messages. Expected: the digest is skipped
    # (recorded, e.g. `skipped_not_participant`) when the recipient is neither the user nor a participant now.
    env.api.set_setting("digest_window_seconds", "1")
    env.api.add_participant(world.conversation_id, DANA, "Dana")
    env.api.post_message(world.conversation_id, world.offline_agent, "Internal detail: refund code RF-7788.")
    env.drain()
    env.api.remove_participant(world.conversation_id, DANA)

    env.drain(wait_for_digests=True)

    assert any("RF-7788" in m["raw"] for m in env.outbox(world.user))
    assert not any("RF-7788" in m["raw"] for m in env.outbox(DANA)), "the removed participant got the digest"


def test_a_removed_participants_reply_all_with_the_users_token_is_refused(env, world):
    # Held: a removed participant cannot come back through the user's token (reply-all) either.
    env.api.add_participant(world.conversation_id, DANA, "Dana")
    notification = env.notification_to(world, world.user, "Please both confirm.")
    env.api.remove_participant(world.conversation_id, DANA)

    outcome = env.deliver(reply_to(notification, DANA, "Dana", "Confirmed by Dana."))

    assert (outcome.status.value, outcome.reason) == ("rejected", "token_not_valid_for_sender")


def test_cc_join_ignores_inboxes_their_from_identity_and_odd_addresses_without_crashing(env, world):
    # Held: no crash on odd address lists; inboxes, From identities, staff and group syntax never join.
    env.api.set_setting("cc_join", "on")
    env.api.add_inbox("billing@brand-b.example", "BrandB", from_address="noreply@brand-b.example")
    notification = env.notification_to(world, world.user, "Who else should know?")
    mail = message_from_bytes(reply_to(notification, world.user, "Carol", "Everyone."), policy=policy.default)
    del mail["To"]
    mail["To"] = (
        str(message_from_string(notification, policy=policy.default)["Reply-To"]) + ", undisclosed-recipients:;"
    )
    mail["Cc"] = (
        "Billing+x@Brand-B.example, noreply@brand-b.example, SUPPORT+new@example.com, bob@agents.example, "
        '"" <>, weird@, "a@b" <"quoted@"@x.example>, friends: f1@grp.example;, ok@fine.example'
    )
    outcome = env.deliver(bytes(mail))

    assert outcome.status.value == "stored"
    participants = env.api.get_conversation(world.conversation_id).participants
    assert "ok@fine.example" in participants
    assert not [p for p in participants if "brand-b" in p or "example.com" in p or "agents" in p]


def test_cc_join_staff_in_a_long_cc_do_not_take_the_place_of_people_who_join(env, world):
    # Was a hole (low): inbound/logic.py _copied caps the Cc list at MAX_PARTICIPANTS *before* _joining drops staff and
    # present participants, so with three agents first in a long Cc only 17 of the 20 room join (and `also_to`,
    # capped the same way, misses people, who then get the same words twice). Expected: filter first, then cap
    # (keep also_to uncapped up to a sane bound, e.g. 100).
    env.api.set_setting("cc_join", "on")
    notification = env.notification_to(world, world.user, "Who else should know?")
    mail = message_from_bytes(reply_to(notification, world.user, "Carol", "Everyone."), policy=policy.default)
    many = ", ".join(f"person{i}@many.example" for i in range(300))
    mail["Cc"] = f"bob@agents.example, alice@agents.example, olga@agents.example, {many}"

    outcome = env.deliver(bytes(mail))

    assert outcome.status.value == "stored"
    assert len(env.api.get_conversation(world.conversation_id).participants) == 20


def test_closed_reply_new_opens_one_conversation_and_later_replies_go_on_in_it(env, world):
    # Was a hole: with closed_reply=new every reply to the closed conversation opens another conversation
    # (inbound/logic.py _reply: `successor = replace(conversation, id=_converted_conversation_id(mail.s3_key), ...)`);
    # the closed one never learns of its successor. Carol's follow-up and Dana's reply-all each open one more, and the
    # conversation cap (_limits keys on message.conversation_id, the fresh successor) never applies to them.
    # Expected: the closed conversation records its successor (e.g. `continued_in`) and later replies go there.
    env.api.set_setting("closed_reply", "new")
    notification = env.notification_to(world, world.user, "Anything else?")
    env.api.close_conversation(world.conversation_id)

    first = env.deliver(reply_to(notification, world.user, "Carol", "One more thing: the VAT number."))
    second = env.deliver(reply_to(notification, world.user, "Carol", "And the PO number, sorry."))

    assert first.status.value == second.status.value == "stored"
    assert second.conversation_id == first.conversation_id, "each reply to the closed conversation opened a new one"


def test_closed_reply_reject_never_sends_an_automatic_answer_to_a_stranger(env, world):
    # Held: the automatic answer goes only to a member who passed matching; a forged stranger gets nothing.
    env.api.set_setting("closed_reply", "reject")
    notification = env.notification_to(world, world.user, "Anything else?")
    env.api.close_conversation(world.conversation_id)

    outcome = env.deliver(reply_to(notification, "victim@third.example", "Victim", "hello"))
    env.drain()

    assert outcome.reason == "token_not_valid_for_sender"
    assert env.outbox("victim@third.example") == []


def test_an_auto_answer_is_not_answered_in_a_loop(env, world):
    # Held: an out-of-office reply to our automatic answer is machine mail, refused before matching.
    env.api.set_setting("closed_reply", "reject")
    notification = env.notification_to(world, world.user, "Anything else?")
    env.api.close_conversation(world.conversation_id)
    env.deliver(reply_to(notification, world.user, "Carol", "More?"))
    env.drain()
    [answer] = [m["raw"] for m in env.outbox(world.user) if header(m["raw"], "Auto-Submitted") == "auto-replied"]
    ooo = message_from_bytes(reply_to(answer, world.user, "Carol", "I am out of office."), policy=policy.default)
    ooo["Auto-Submitted"] = "auto-replied"

    outcome = env.deliver(bytes(ooo))
    env.drain()

    assert outcome.status.value == "rejected"
    assert len([m for m in env.outbox(world.user) if header(m["raw"], "Auto-Submitted") == "auto-replied"]) == 1


# ------------------------------------------------------------------ forwards


def test_a_forged_agent_forward_opens_nothing(env, world):
    # Held: a forward in an agent's name needs mail that is the agent's own.
    env.api.set_setting("staff_forwards", "on")
    outcome = env.deliver(_ses(gmail_forward(world.offline_agent, "Bob", "support+new@example.com"), MALLORY))

    assert (outcome.status.value, outcome.reason) == ("rejected", "staff_not_authenticated")
    assert repo.get_person(ERIN) is None


def test_an_agents_gmail_forward_of_a_stored_customer_email_is_not_emailed_to_the_customer(env, world):
    # Was a hole: _thread_match runs before the forward is recognised (inbound/logic.py _accept:
    # `_match(...) or _thread_match(...)`), and Gmail keeps In-Reply-To/References on a forward. An agent who forwards
    # to support+new@ a customer email that was already stored (Erin wrote to support and Cc'd him) gets his forward,
    # internal note included, posted as his *answer* in Erin's conversation and emailed to Erin.
    # Expected: a forward (forwards.find_forward) by staff, or anything sent to `+new`, is never a thread reply: it
    # opens the forwarded conversation (or is refused as a duplicate of the stored email), and nothing is emailed.
    env.api.set_setting("convert_all_emails", "on")
    erin_id = "<erin-original-3@buyer.example>"
    erin = env.deliver(
        _mail(
            ERIN,
            "Erin",
            "support@example.com",
            "Parcel 7731 arrived broken",
            "Broken lid.",
            Cc=world.offline_agent,
            Message_ID=erin_id,
        )
    )
    note = "Internal: this one always complains, ignore."
    forward = gmail_forward(
        world.offline_agent, "Bob", "support+new@example.com", note, In_Reply_To=erin_id, References=erin_id
    )

    outcome = env.deliver(forward)
    env.drain()

    assert not [m for m in env.outbox(ERIN) if "always complains" in m["raw"]], "the agent's note went to Erin"
    assert outcome.matched_by != "thread" or outcome.conversation_id != erin.conversation_id


def test_a_users_forward_to_support_new_with_staff_forwards_opens_nothing_for_the_third_party(env, world):
    # Held: only staff open a conversation for someone else; with convert-all off a user's forward opens nothing.
    env.api.set_setting("staff_forwards", "on")
    outcome = env.deliver(gmail_forward(world.user, "Carol", "support+new@example.com"))

    assert outcome.status.value == "rejected"
    assert repo.get_person(ERIN) is None


# ------------------------------------------------------------------ several inboxes


def _brand_b_answer(env, world) -> tuple[str, str]:
    client("ses").verify_domain_identity(Domain="brand-b.example")
    env.api.set_setting("convert_all_emails", "on")
    env.api.add_inbox("billing@brand-b.example", "BrandB", department="Sales")
    frank = "frank@shopper.example"
    b = env.deliver(new_email(frank, "Frank", "billing@brand-b.example", "Refund", "Refund me."))
    env.api.post_message(b.conversation_id, world.other_agent, "Refund approved.")
    env.drain()
    return b.conversation_id, [m["raw"] for m in env.outbox(frank) if "Refund approved." in m["raw"]][-1]


def test_a_reply_sent_to_another_inbox_is_refused_even_when_only_its_message_id_carries_the_token(env, world):
    # Was a hole: tokens found in In-Reply-To/References carry no inbox (_Candidate.inbox = None), and the thread
    # match has none either, so `if match.inbox is not None and match.inbox != inbox.address` (inbound/logic.py
    # _accept) let a reply addressed only to brand A's address post into brand B's conversation. Expected: when the
    # email is addressed to one of our inboxes and it is not the conversation's, refuse it `wrong_inbox`, whatever
    # carried the token.
    conversation_b, to_frank = _brand_b_answer(env, world)
    message_id = header(to_frank, "Message-ID")

    crossed = new_email(
        "frank@shopper.example",
        "Frank",
        "support@example.com",
        "Re: Refund",
        "Thanks!",
        In_Reply_To=message_id,
        References=message_id,
    )
    outcome = env.deliver(crossed)

    assert outcome.reason == "wrong_inbox", f"posted across brands into {outcome.conversation_id} ({conversation_b})"


def test_a_display_name_token_of_one_inbox_on_another_inbox_address_is_refused(env, world):
    # Held: the display-name token is tied to the inbox address it sits on.
    _, to_frank = _brand_b_answer(env, world)
    token = token_in(to_frank)

    crossed = new_email("frank@shopper.example", "Frank", f'"BrandB| {token}" <support@example.com>', "Re", "Hi")
    outcome = env.deliver(crossed)

    assert outcome.reason == "wrong_inbox"


# ------------------------------------------------------------------ the trimmed part


def test_the_trimmed_part_of_a_user_reply_does_not_carry_her_reply_token(env, world):
    # Was a hole (low): the trimmed part is meant to be shown in the chat ("the rest of this email"), to everyone in the
    # conversation; it holds the quoted notification's header line "On ..., AiX| <token> <support@...> wrote:",
    # i.e. the user's live reply token. A participant or anyone shown the trimmed part can then post as the user by
    # email. Expected: tokens (display-name and plus-address forms) are masked in the stored trimmed part
    # (inbound/logic.py _with_text, before ctx.put_attachment of the trimmed text).
    notification = env.notification_to(world, world.user, "Which invoice number?")
    token = token_in(notification)
    assert env.deliver(reply_to(notification, world.user, "Carol", "Number 1042.")).status.value == "stored"
    message = repo.list_messages(world.conversation_id)[-1]

    trimmed = env.api.trimmed_text(message) or ""

    assert "Which invoice number?" in trimmed
    assert token not in trimmed, "the user's reply token is in the trimmed part"


def test_odd_headers_do_not_crash_and_are_recorded(env, world):
    # Held: an empty Cc, a From without a name, a subject-less email: stored or recorded, never a crash.
    notification = env.notification_to(world, world.user, "Hi")
    mail = message_from_bytes(reply_to(notification, world.user, "", "Reply with odd headers."), policy=policy.default)
    mail["Cc"] = ""
    del mail["Subject"]
    del mail["From"]
    mail["From"] = world.user

    outcome = env.deliver(bytes(mail))

    assert outcome is not None and outcome.status.value == "stored"
