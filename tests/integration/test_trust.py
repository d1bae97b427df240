"""Trust: who may post, which verdicts count, and which mail a machine sent (against the local stack)."""

from __future__ import annotations

from email import message_from_string, policy

from emailpipe.aws import client
from emailpipe.domain import tokens
from emailpipe.local.mailclient import new_email, reply_to
from emailpipe.store import repo

SES_BLOCK = (
    "Return-Path: <{sender}>\r\n"
    "Received: from mail.example (mail.example [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com"
    " with SMTP id abc123 for support@example.com; Mon, 23 Nov 2026 10:00:00 +0000 (UTC)\r\n"
    "X-SES-Spam-Verdict: {spam}\r\n"
    "X-SES-Virus-Verdict: {virus}\r\n"
    "Received-SPF: pass (spfCheck: domain of example designates 192.0.2.1 as permitted sender)\r\n"
    "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom={sender}; dkim=pass header.i=@x;"
    " dmarc={dmarc} header.from=x\r\n"
    "X-SES-RECEIPT: AEFBQUFBQUFBQUFH\r\n"
)


def _as_ses_stored(raw: bytes, sender: str, *, dmarc="pass", spam="PASS", virus="PASS") -> bytes:
    block = SES_BLOCK.format(sender=sender, dmarc=dmarc, spam=spam, virus=virus)
    return block.encode() + raw


def test_a_forged_token_is_rejected(env, world):
    raw = new_email(world.user, "Carol", f'"AiX| {world.conversation_id}{"a" * 16}" <support@example.com>', "x", "hi")

    outcome = env.deliver(raw)

    assert (outcome.status.value, outcome.reason) == ("rejected", "token_not_valid_for_sender")


def test_a_token_of_another_conversation_does_not_post_into_this_one(env, world):
    other = env.api.open_conversation(world.user, "Billing", "Other")
    notification = env.notification_to(world, world.user)
    token = tokens.find_token(str(message_from_string(notification, policy=policy.default)["From"]))
    spliced = other.id + token[tokens.CONVERSATION_ID_LENGTH :]

    outcome = env.deliver(new_email(world.user, "Carol", f'"AiX| {spliced}" <support@example.com>', "x", "hi"))

    assert (outcome.status.value, outcome.reason) == ("rejected", "token_not_valid_for_sender")
    assert repo.list_messages(other.id) == []


def test_a_plus_address_alone_matches_when_the_display_name_is_dropped(env, world):
    notification = env.notification_to(world, world.user)
    reply_to_header = message_from_string(notification, policy=policy.default)["Reply-To"]
    plus = reply_to_header.addresses[0].addr_spec

    outcome = env.deliver(new_email(world.user, "Carol", plus, "Re: x", "Via the plus address"))

    assert (outcome.status.value, outcome.matched_by) == ("stored", "plus_address")


def test_in_reply_to_alone_matches_when_the_client_drops_the_token_from_the_address(env, world):
    notification = env.notification_to(world, world.user)
    message_id = str(message_from_string(notification, policy=policy.default)["Message-ID"])

    raw = new_email(world.user, "Carol", "support@example.com", "Re: x", "Threaded only", In_Reply_To=message_id)
    outcome = env.deliver(raw)

    assert (outcome.status.value, outcome.matched_by) == ("stored", "message_id")


def test_address_case_and_display_name_variations_are_accepted(env, world):
    notification = env.notification_to(world, world.user)

    outcome = env.deliver(reply_to(notification, "Carol@Customer.EXAMPLE", "Mrs C.", "Case differs"))

    assert outcome.status.value == "stored"


def test_spoofed_sender_with_ses_dmarc_fail_is_rejected_despite_a_forged_pass_below(env, world):
    notification = env.notification_to(world, world.user)
    forged = b"Authentication-Results: amazonses.com; dmarc=pass header.from=customer.example\r\n" + reply_to(
        notification, world.user, "Carol", "Spoofed"
    )

    outcome = env.deliver(_as_ses_stored(forged, world.user, dmarc="fail"))

    assert (outcome.status.value, outcome.reason) == ("rejected", "dmarc_fail")


def test_a_virus_verdict_rejects_and_stores_no_attachment(env, world):
    notification = env.notification_to(world, world.user)
    raw = reply_to(notification, world.user, "Carol", "See file", attachments=[("x.exe", b"MZ" * 100, "application/x")])

    outcome = env.deliver(_as_ses_stored(raw, world.user, virus="FAIL"))

    assert (outcome.status.value, outcome.reason) == ("rejected", "virus")
    listed = client("s3").list_objects_v2(Bucket=env.outputs["MailBucketName"], Prefix="attachments/")
    assert listed.get("KeyCount", 0) == 0


def test_spam_is_quarantined_unless_the_setting_is_off(env, world):
    notification = env.notification_to(world, world.user)

    spam = env.deliver(_as_ses_stored(reply_to(notification, world.user, "Carol", "Buy now"), world.user, spam="FAIL"))
    env.api.set_setting("quarantine_spam", "off")
    allowed = env.deliver(_as_ses_stored(reply_to(notification, world.user, "Carol", "Real"), world.user, spam="FAIL"))

    assert (spam.status.value, spam.reason) == ("quarantined", "spam")
    assert allowed.status.value == "stored"


def test_without_an_ses_verdict_the_require_authentication_setting_rejects(env, world):
    notification = env.notification_to(world, world.user)
    env.api.set_setting("require_authentication", "on")

    outcome = env.deliver(reply_to(notification, world.user, "Carol", "No verdict"))

    assert (outcome.status.value, outcome.reason) == ("rejected", "authentication_required")


def test_auto_replies_and_bulk_mail_are_not_posted(env, world):
    notification = env.notification_to(world, world.user)
    reply = reply_to(notification, world.user, "Carol", "I am away until Monday.")
    auto = reply.replace(b"Subject: ", b"Auto-Submitted: auto-replied\r\nSubject: ", 1)
    bulk = reply.replace(b"Subject: ", b"Precedence: bulk\r\nSubject: ", 1)
    ooo = reply.replace(b"Subject: Re: ", b"Subject: Abwesenheitsnotiz: ", 1)

    outcomes = [env.deliver(raw) for raw in (auto, bulk, ooo)]

    assert [(o.status.value, o.reason) for o in outcomes] == [
        ("rejected", "auto_submitted"),
        ("rejected", "precedence_bulk"),
        ("rejected", "out_of_office"),
    ]
    assert len(repo.list_messages(world.conversation_id)) == 1


def test_a_bounce_marks_the_address_and_notifications_to_it_stop(env, world):
    # A real report quotes the notification that bounced (issue 12: one that does not never counts).
    notification = env.notification_to(world, world.user)
    returned = notification.replace("\r\n", "\n").split("\n\n", 1)[0].replace("\n", "\r\n")
    dsn = (
        "From: MAILER-DAEMON@mx.customer.example\r\nTo: support@example.com\r\nSubject: Undelivered Mail Returned"
        " to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
        ' boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--b\r\n'
        "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {world.user}\r\nAction: failed\r\nStatus: 5.1.1\r\n--b\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\n{returned}\r\n--b--\r\n"
    ).encode()

    outcome = env.deliver(dsn)
    env.api.post_message(world.conversation_id, world.offline_agent, "Are you there?")
    env.drain()

    assert (outcome.status.value, outcome.reason) == ("rejected", "bounce")
    assert repo.get_person(world.user).bouncing
    assert len(env.outbox(world.user)) == 1  # the notification that bounced, nothing after it


def test_an_attachment_named_with_a_path_is_stored_under_its_base_name(env, world):
    notification = env.notification_to(world, world.user)
    raw = reply_to(notification, world.user, "Carol", "File", attachments=[("../../x", b"data", "text/plain")])

    outcome = env.deliver(raw)

    attachment = repo.list_messages(world.conversation_id)[-1].attachments[0]
    assert outcome.status.value == "stored"
    assert attachment.filename == "x"
    assert ".." not in attachment.s3_key and attachment.s3_key.startswith("attachments/")


def test_a_1000_level_nested_multipart_is_handled_without_a_crash(env, world):
    parts = "".join(f'--b{i}\r\nContent-Type: multipart/mixed; boundary="b{i + 1}"\r\n\r\n' for i in range(1000))
    raw = (
        f"From: {world.user}\r\nTo: support@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n{parts}--b1000\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
    ).encode()

    outcome = env.deliver(raw)

    assert outcome.status.value == "rejected" and outcome.reason


def test_html_with_script_never_reaches_the_chat_message(env, world):
    notification = env.notification_to(world, world.user)
    message_id = str(message_from_string(notification, policy=policy.default)["Message-ID"])
    raw = (
        f"From: {world.user}\r\nTo: support@example.com\r\nSubject: Re: x\r\nIn-Reply-To: {message_id}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><body><p>Visible answer</p><script>alert('x')</script><img src=x onerror=alert(1)></body></html>"
    ).encode()

    outcome = env.deliver(raw)

    text = repo.list_messages(world.conversation_id)[-1].text
    assert outcome.status.value == "stored"
    assert text == "Visible answer"


def test_an_email_over_the_size_limit_is_rejected_and_kept(env, world):
    raw = new_email(world.user, "Carol", "support@example.com", "big", "x") + b"A" * (40 * 1024 * 1024 + 1)

    outcome = env.deliver(raw)

    assert (outcome.status.value, outcome.reason) == ("rejected", "too_large")
    head = client("s3").head_object(Bucket=env.outputs["MailBucketName"], Key=outcome.s3_key)
    assert head["ContentLength"] == len(raw)


def test_cr_lf_in_a_new_users_name_and_subject_cannot_inject_headers_into_notifications(env, world):
    env.api.set_setting("convert_all_emails", "on")
    raw = (
        '"Eve\r\n Bcc: victim@x.example" <eve@eve.example>\r\nTo: support@example.com\r\n'
        "Subject: =?utf-8?q?Hi=0D=0ABcc:_victim@x.example?=\r\n\r\nhello\r\n"
    )
    outcome = env.deliver(("From: " + raw).encode())
    env.drain()

    assert outcome.status.value == "stored"
    for mail in env.outbox():
        parsed = message_from_string(mail["raw"], policy=policy.default)
        assert parsed["Bcc"] is None
        assert "victim@x.example" not in (mail["destinations"] or [])
