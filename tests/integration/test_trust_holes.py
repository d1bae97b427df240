"""Issue 12's trust holes (items 1, 2, 6, 8 and 10), each with its bad input, against the embedded local stack."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from email import message_from_string, policy

from emailpipe.aws import client
from emailpipe.cli.main import main as cli
from emailpipe.inbound import handler as inbound_handler
from emailpipe.inbound.logic import process_email
from emailpipe.local.mailclient import new_email, reply_to
from emailpipe.local.stack import FakeLambdaContext
from emailpipe.notifier import feedback_handler
from emailpipe.store import blobs, bounces, repo
from emailpipe.store.models import ConversationItem

AUTH_FAILED = "spf=fail smtp.mailfrom={sender}; dkim=fail header.d={domain}; dmarc=none header.from={domain}"
FOREIGN_PASS = (
    "spf=pass smtp.mailfrom=x@attacker.example; dkim=pass header.d=attacker.example;"
    " dmarc=pass header.from=attacker.example"
)
ALIGNED_PASS = "spf=pass smtp.mailfrom={sender}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}"


def _as_ses_stored(raw: bytes, sender: str, auth: str) -> bytes:
    """The raw mail as SES stores it, with SES's own block on top saying `auth`."""
    domain = sender.rpartition("@")[2]
    block = (
        f"Return-Path: <{sender}>\r\n"
        "Received: from mail.example (mail.example [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com"
        " with SMTP id abc123 for support@example.com; Mon, 23 Nov 2026 10:00:00 +0000 (UTC)\r\n"
        "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n"
        f"Authentication-Results: amazonses.com; {auth.format(sender=sender, domain=domain)}\r\n"
        "X-SES-RECEIPT: AEFBQUFBQUFBQUFH\r\n"
    )
    return block.encode() + raw


def _kept(env, key: str) -> bool:
    head = client("s3").head_object(Bucket=env.outputs["MailBucketName"], Key=key)
    return head["ContentLength"] > 0


def _dsn(failed: str, returned: str = "", sender: str = "MAILER-DAEMON@mx.customer.example") -> bytes:
    part = f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}\r\n" if returned else ""
    return (
        f"From: {sender}\r\nTo: support@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--b\r\n"
        "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n{part}--b--\r\n"
    ).encode()


def _headers_of(raw: str) -> str:
    return raw.replace("\r\n", "\n").split("\n\n", 1)[0].replace("\n", "\r\n")


def _message_id(raw: str) -> str:
    return str(message_from_string(raw, policy=policy.default)["Message-ID"])


# --- 1. forged bounces -----------------------------------------------------------------------------------------


def test_forged_bounces_of_every_shape_mark_nobody_and_notifications_go_on(env, world):
    shapes = [
        _dsn(world.user),  # a multipart/report from any MAILER-DAEMON, quoting nothing of ours
        new_email("postmaster@mx.customer.example", "Mail", "support@example.com", "Failure", "gone",
                  X_Failed_Recipients=world.user),
        new_email("help@attacker.example", "Help", "support@example.com", f"Undeliverable: {world.user}",
                  f"Final-Recipient: rfc822; {world.user}\nAction: failed"),
    ]  # fmt: skip

    outcomes = [env.deliver(raw) for raw in shapes]
    env.api.post_message(world.conversation_id, world.offline_agent, "Still there?")
    env.drain()

    assert [(o.status.value, o.reason) for o in outcomes] == [("rejected", "bounce")] * 3
    assert all(o.details["detail"].startswith("not counted") for o in outcomes)
    assert all(_kept(env, o.s3_key) for o in outcomes)
    assert not repo.get_person(world.user).bouncing
    assert bounces.get_bounce_evidence(world.user) is None
    assert len(env.outbox(world.user)) == 1


def test_a_bounce_quoting_our_notification_whose_authentication_fails_marks_nobody(env, world):
    notification = env.notification_to(world, world.user)
    dsn = _dsn(world.user, _headers_of(notification))

    dmarc_fail = env.deliver(
        _as_ses_stored(dsn, "MAILER-DAEMON@mx.customer.example", "dmarc=fail header.from={domain}")
    )
    spf_dkim_fail = env.deliver(_as_ses_stored(dsn, "MAILER-DAEMON@mx.customer.example", AUTH_FAILED))

    for outcome in (dmarc_fail, spf_dkim_fail):
        assert (outcome.status.value, outcome.reason) == ("rejected", "bounce")
        assert outcome.details["detail"] == "not counted: its authentication failed"
    assert not repo.get_person(world.user).bouncing


def test_a_genuine_bounce_records_its_evidence_and_a_later_delivery_clears_it(env, world, api_url, capsys):
    import requests

    from emailpipe.store import apikeys

    notification = env.notification_to(world, world.user)

    outcome = env.deliver(_dsn(world.user, _headers_of(notification)))
    assert cli(["person", "show", world.user]) == 0
    shown = json.loads(capsys.readouterr().out)
    key = apikeys.create_key("bounce-evidence", "read")[1]
    by_api = requests.get(f"{api_url}/v1/people/{world.user}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    delivered = {
        "notificationType": "Delivery",
        "mail": {"messageId": "ses-later", "timestamp": _iso(time.time() + 5)},
        "delivery": {"timestamp": _iso(time.time() + 5), "recipients": [world.user]},
    }
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(delivered)}}]}
    result = feedback_handler.lambda_handler(event, FakeLambdaContext("FeedbackFunction"))
    env.api.post_message(world.conversation_id, world.offline_agent, "Your mailbox works again")
    env.drain()

    assert (outcome.reason, outcome.details["detail"]) == (
        "bounce",
        "counted: 1 of 1 failed recipient(s) marked bouncing",
    )
    assert shown["bouncing"] is True
    assert by_api.status_code == 200 and by_api.json() == shown  # the API shows the same person and evidence
    evidence = shown["bounce_evidence"]
    assert evidence["source"] == "inbound_report"
    assert evidence["notification_message_id"] == _message_id(notification)
    assert evidence["report_s3_key"] == outcome.s3_key and evidence["conversation_id"] == world.conversation_id
    assert result == {"marked": 0, "cleared": 1}
    cleared = bounces.get_bounce_evidence(world.user)
    assert (cleared.cleared_by, cleared.cleared_detail) == ("delivery", "ses-later")
    assert not repo.get_person(world.user).bouncing
    assert len(env.outbox(world.user)) == 2


def test_a_bounce_for_another_recipient_than_the_notifications_marks_nobody(env, world):
    notification = env.notification_to(world, world.user)  # sent to Carol; the report names Bob

    outcome = env.deliver(_dsn(world.offline_agent, _headers_of(notification)))

    assert outcome.details["detail"].startswith("not counted: none of its 1 failed recipient(s)")
    assert not repo.get_person(world.offline_agent).bouncing


def test_an_ses_bounce_records_its_ids_and_clearing_by_hand_is_recorded(env, world, capsys):
    bounce = {
        "notificationType": "Bounce",
        "mail": {"messageId": "ses-1"},
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "feedbackId": "fb-1",
            "bouncedRecipients": [{"emailAddress": world.user}],
        },
    }
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(bounce)}}]}

    feedback_handler.lambda_handler(event, FakeLambdaContext("FeedbackFunction"))
    marked = bounces.get_bounce_evidence(world.user)
    assert cli(["person", "set", world.user, "--bouncing", "off"]) == 0
    capsys.readouterr()

    assert (marked.source, marked.ses_message_id, marked.feedback_id, marked.status) == (
        "ses_feedback",
        "ses-1",
        "fb-1",
        "Permanent/General",
    )
    cleared = bounces.get_bounce_evidence(world.user)
    assert cleared.cleared_by == "hand" and cleared.ses_message_id == "ses-1"
    assert not repo.get_person(world.user).bouncing


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


# --- 2. aligned senders ----------------------------------------------------------------------------------------


def test_spf_and_dkim_fail_without_dmarc_is_quarantined_and_kept(env, world):
    notification = env.notification_to(world, world.user)
    raw = _as_ses_stored(reply_to(notification, world.user, "Carol", "Spoofed?"), world.user, AUTH_FAILED)

    outcome = env.deliver(raw)

    assert (outcome.status.value, outcome.reason) == ("quarantined", "spf_dkim_fail")
    assert _kept(env, outcome.s3_key)
    assert [m.text for m in repo.list_messages(world.conversation_id)] == ["Hello from support"]


def test_a_staff_reply_needs_an_aligned_pass_unless_a_setting_relaxes_its_domain(env, world):
    agent = world.offline_agent
    notification = env.notification_to(world, agent)

    def reply(text: str, auth: str):
        return env.deliver(_as_ses_stored(reply_to(notification, agent, "Bob", text), agent, auth))

    foreign = reply("Refund approved", FOREIGN_PASS)
    aligned = reply("Signed and sealed", ALIGNED_PASS)
    env.api.set_setting("staff_unauthenticated_domains", "other.example, agents.example")
    relaxed = reply("From our old relay", FOREIGN_PASS)

    assert (foreign.status.value, foreign.reason) == ("rejected", "staff_not_authenticated")
    assert _kept(env, foreign.s3_key)
    assert (aligned.status.value, relaxed.status.value) == ("stored", "stored")
    texts = [m.text for m in repo.list_messages(world.conversation_id)]
    assert "Refund approved" not in texts and texts[-2:] == ["Signed and sealed", "From our old relay"]


def test_a_from_with_two_mailboxes_is_rejected_and_a_pass_for_another_domain_is_no_pass(env, world):
    notification = env.notification_to(world, world.user)
    reply = reply_to(notification, world.user, "Carol", "Two authors")
    two = reply.replace(
        f"From: Carol <{world.user}>".encode(), f"From: Carol <{world.user}>, Eve <eve@x.example>".encode()
    )
    env.api.set_setting("require_authentication", "on")

    several = env.deliver(two)
    foreign = env.deliver(_as_ses_stored(reply_to(notification, world.user, "Carol", "Hi"), world.user, FOREIGN_PASS))
    own = env.deliver(_as_ses_stored(reply_to(notification, world.user, "Carol", "Hi"), world.user, ALIGNED_PASS))

    assert (several.status.value, several.reason) == ("rejected", "multiple_from")
    assert (foreign.status.value, foreign.reason) == ("rejected", "authentication_required")
    assert own.status.value == "stored"


# --- 6. duplicate deliveries -----------------------------------------------------------------------------------


def test_the_same_email_again_under_new_keys_is_a_duplicate_of_the_first_across_ses_and_mailbox(env, world):
    notification = env.notification_to(world, world.user)
    raw = reply_to(notification, world.user, "Carol", "Sent once, delivered thrice")
    sent_before = len(env.outbox())

    first = env.deliver(raw)
    again = env.deliver(raw)
    mailbox_key = f"{env.outputs.get('InboundPrefix', 'inbound/')}mailbox/test-mailbox/1"
    blobs.put_object(env.outputs["MailBucketName"], mailbox_key, raw, "message/rfc822")
    env.drain()
    from_mailbox = repo.get_inbound(mailbox_key)

    assert first.status.value == "stored"
    for duplicate in (again, from_mailbox):
        assert (duplicate.status.value, duplicate.reason) == ("rejected", "duplicate")
        assert duplicate.details["duplicate_of"] == first.s3_key
        assert _kept(env, duplicate.s3_key)
    assert [m.text for m in repo.list_messages(world.conversation_id)].count("Sent once, delivered thrice") == 1
    assert len(env.outbox()) == sent_before + 1  # the agent was emailed once


def test_mail_without_a_message_id_is_never_a_duplicate(env, world):
    notification = env.notification_to(world, world.user)
    raw = b"\r\n".join(
        line for line in reply_to(notification, world.user, "Carol", "No id").split(b"\n")
        if not line.lower().startswith(b"message-id:")
    ).replace(b"\r\r\n", b"\r\n")  # fmt: skip

    outcomes = [env.deliver(raw), env.deliver(raw)]

    assert [o.status.value for o in outcomes] == ["stored", "stored"]


# --- 8. rate caps ----------------------------------------------------------------------------------------------


def _process_at(env, raw: bytes, n: int, at: float):
    """Process one email at a chosen time, as the inbound function would (its raw mail kept in the bucket)."""
    key = f"held/{n}"
    blobs.put_object(env.outputs["MailBucketName"], key, raw, "message/rfc822")
    inbound_handler._context.cache_clear()
    ctx = replace(inbound_handler._context(), clock=lambda: at)
    return process_email(raw, key, ctx)


def test_a_cap_of_5_lets_at_most_5_of_12_through_in_any_window_across_a_boundary(env, world):
    notification = env.notification_to(world, world.user)
    env.api.set_setting("max_emails_per_sender", "5")
    env.api.set_setting("rate_window_seconds", "10")
    start = 1_800_000_005.0  # the old fixed windows began at ...000 and ...010: a boundary after the fifth email

    outcomes = [
        _process_at(env, reply_to(notification, world.user, "Carol", f"Burst {n}"), n, start + n) for n in range(12)
    ]

    stored = [o.received_at for o in outcomes if o.status.value == "stored"]
    assert all(later - earlier >= 10 for earlier, later in zip(stored, stored[5:], strict=False))
    assert len(stored) == 7  # 5 at once, then one each time an earlier one leaves the window
    held = [o for o in outcomes if o.status.value != "stored"]
    assert {(o.status.value, o.reason) for o in held} == {("quarantined", "rate_limited_sender")}
    assert all(_kept(env, o.s3_key) for o in held)


def test_plus_tags_share_a_cap_strangers_share_their_domains_and_held_mail_opens_nothing(env, world):
    env.api.set_setting("convert_all_emails", "on")
    env.api.set_setting("max_emails_per_sender", "2")
    env.api.set_setting("max_stranger_emails_per_domain", "3")

    tagged = [
        env.deliver(new_email(f"spam+{n}@spam.example", "S", "support@example.com", "Buy", "now")) for n in range(3)
    ]
    fresh = [env.deliver(new_email(f"u{n}@many.example", "U", "support@example.com", "Hi", "help")) for n in range(4)]

    assert [o.reason for o in tagged] == ["stored", "stored", "rate_limited_sender"]
    assert [o.reason for o in fresh] == ["stored", "stored", "stored", "rate_limited_domain"]
    for held, address in ((tagged[2], "spam+2@spam.example"), (fresh[3], "u3@many.example")):
        assert held.status.value == "quarantined" and held.conversation_id is None and _kept(env, held.s3_key)
        assert repo.get_person(address) is None
        assert list(ConversationItem.gsi1.query(f"USER#{address}")) == []


# --- 10. invisible characters ----------------------------------------------------------------------------------


def test_invisible_characters_are_cleaned_out_of_stored_names_and_file_names(env, world):
    env.api.set_setting("convert_all_emails", "on")
    name = base64.b64encode("Eve\u2028Adams\u200b\ufeff".encode()).decode()
    raw = (
        f"From: =?utf-8?b?{name}?= <eve@eve.example>\r\nTo: support@example.com\r\nSubject: Files\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\nSee attached\r\n--b\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; filename*=utf-8''in%E2%80%8Bvoice%E2%80%A9%EF%BB%BF.pdf\r\n\r\n"
        "%PDF-1.4\r\n--b--\r\n"
    ).encode()

    outcome = env.deliver(raw)

    message = repo.list_messages(outcome.conversation_id)[0]
    assert outcome.status.value == "stored"
    assert repo.get_person("eve@eve.example").name == "Eve Adams"
    assert [a.filename for a in message.attachments] == ["invoice.pdf"]
