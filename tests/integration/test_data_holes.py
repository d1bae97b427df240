"""Issue 12's data holes, end to end against the local stack: what a user sees when the input is the bad one."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import replace
from email import message_from_string, policy

from emailpipe.aws import client
from emailpipe.cli.main import main as cli
from emailpipe.domain import tokens
from emailpipe.domain.delimiter import DELIMITER
from emailpipe.local.mailclient import new_email, reply_to
from emailpipe.store import blobs, keys, repo


def _raw_kept(env, outcome) -> bool:
    head = client("s3").head_object(Bucket=env.outputs["MailBucketName"], Key=outcome.s3_key)
    return int(head["ContentLength"]) > 0


def _parsed(raw: str):
    return message_from_string(raw, policy=policy.default)


# ---------------------------------------------------------------- 3. token lifetime


def test_a_reply_to_a_notification_older_than_the_token_lifetime_is_rejected_and_kept(env, world):
    key = keys.token_keys(env.outputs["TokenSecretName"])
    old = tokens.make_token(key, world.conversation_id, world.user, issued_at=time.time() - 181 * tokens.DAY_SECONDS)
    fresh = tokens.make_token(key, world.conversation_id, world.user)
    to = f'"AiX| {{}}" <{env.outputs["PipingAddress"]}>'

    expired = env.deliver(new_email(world.user, "Carol", to.format(old), "Re: Invoice 1042", "Still broken"))
    accepted = env.deliver(new_email(world.user, "Carol", to.format(fresh), "Re: Invoice 1042", "Still broken"))

    assert (expired.status.value, expired.reason) == ("rejected", "token_expired")
    assert _raw_kept(env, expired)
    assert accepted.status.value == "stored"
    assert [m.text for m in repo.list_messages(world.conversation_id)] == ["Still broken"]


def test_a_shorter_token_lifetime_applies_to_notifications_already_sent(env, world):
    notification = env.notification_to(world, world.user)
    settings = env.api.set_setting("token_lifetime_days", "0")

    outcome = env.deliver(reply_to(notification, world.user, "Carol", "Thanks"))

    assert settings.token_lifetime_days == 0
    assert (outcome.status.value, outcome.reason) == ("rejected", "token_expired")
    assert env.api.settings().token_lifetime_days == 0
    assert "never_attach_types" in env.api.settings().KEYS


def test_a_removed_persons_notifications_stop_working_at_once(env, world, capsys):
    notification = env.notification_to(world, world.user)

    assert cli(["person", "remove", world.user]) == 0
    outcome = env.deliver(reply_to(notification, world.user, "Carol", "Still there?"))

    assert json.loads(capsys.readouterr().out) == {"removed": world.user}
    assert (outcome.status.value, outcome.reason) == ("rejected", "unknown_sender")
    assert _raw_kept(env, outcome)


# ---------------------------------------------------------------- 4. big replies


def test_a_reply_with_600_kb_of_pasted_text_is_stored_and_emailed_whole(env, world):
    notification = env.notification_to(world, world.user)
    pasted = "\n".join(
        f"2026-12-01T10:{i // 60 % 60:02d}:{i % 60:02d} worker-{i} job finished in {i} ms" for i in range(12_000)
    )
    pasted += "\nLAST LINE OF THE LOG"
    assert len(pasted.encode()) > 600_000

    outcome = env.deliver(reply_to(notification, world.user, "Carol", "Here is the log:\n\n" + pasted))

    assert outcome.status.value == "stored" and outcome.details == {}
    message = repo.list_messages(world.conversation_id)[-1]
    assert message.text_s3_key == f"messages/{world.conversation_id}/{message.id}.txt"
    assert len(message.text) < 5000 and message.text.startswith("Here is the log:")
    whole = blobs.full_text(env.outputs["MailBucketName"], message)
    assert whole.startswith("Here is the log:") and whole.endswith("LAST LINE OF THE LOG")
    to_agent = env.outbox(world.offline_agent)[-1]["raw"]
    body = _parsed(to_agent).get_body(("plain",)).get_content()
    assert "LAST LINE OF THE LOG" in body and "worker-11999 job finished" in body


def test_a_reply_whose_item_is_still_too_big_is_recorded_store_failed_and_can_be_redriven(running, world, capsys):
    env = running
    notification = env.notification_to(world, world.user)
    # 995 names of 190 characters: about 470 KB of attachment metadata in the message item.
    files = [(f"{i:04d}-{'quarterly-report-' * 11}.txt", b"x", "text/plain") for i in range(995)]

    raw = reply_to(notification, world.user, "Carol", "All the files", attachments=files)
    outcome = env.deliver(raw)

    assert (outcome.status.value, outcome.reason) == ("quarantined", "store_failed")
    assert outcome.details["error"] in ("ValidationException", "TransactionCanceledException:ValidationError")
    assert "size" in outcome.details["detail"]
    assert _raw_kept(env, outcome)
    assert repo.list_messages(world.conversation_id)[-1].author_email == world.offline_agent  # nothing posted
    assert [r.reason for r in repo.list_inbound() if r.s3_key == outcome.s3_key] == ["store_failed"]

    assert cli(["redrive", outcome.s3_key, "--timeout", "60"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["status"], again["reason"]) == ("quarantined", "store_failed")
    assert again["received_at"] > outcome.received_at


# ---------------------------------------------------------------- 5. the delimiter


def test_only_our_delimiter_cuts_a_reply_and_hash_lines_of_the_message_stay(env, world):
    notification = env.notification_to(world, world.user)
    assert DELIMITER in notification
    text = "### Attempt 1 ###\nReset the router.\n\n### Attempt 2 ###\nCalled support #42 ### no luck."

    outcome = env.deliver(reply_to(notification, world.user, "Carol", text))

    assert outcome.status.value == "stored"
    assert repo.list_messages(world.conversation_id)[-1].text == text


# ---------------------------------------------------------------- 7. active attachments

_FILES = [
    ("page.html", b"<html><script>alert(document.domain)</script></html>", "text/html"),
    ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/svg+xml"),
    ("invoice.pdf", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "application/pdf"),
    ("real.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf"),
    ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png"),
]


def test_active_attachments_download_as_bytes_and_are_never_attached_to_notifications(env, world):
    notification = env.notification_to(world, world.offline_agent)

    outcome = env.deliver(reply_to(notification, world.offline_agent, "Bob", "Files attached", attachments=_FILES))

    assert outcome.status.value == "stored"
    message = repo.list_messages(world.conversation_id)[-1]
    s3 = client("s3")
    stored = {
        a.filename: s3.head_object(Bucket=env.outputs["MailBucketName"], Key=a.s3_key) for a in message.attachments
    }
    for name in ("page.html", "logo.svg", "invoice.pdf"):
        assert stored[name]["ContentType"] == "application/octet-stream", name
    assert stored["photo.png"]["ContentType"] == "image/png"
    assert all(head["ContentDisposition"].startswith("attachment;") for head in stored.values())

    mail = _parsed(env.outbox(world.user)[-1]["raw"])
    attached = sorted(part.get_filename() for part in mail.iter_attachments())
    assert attached == ["photo.png", "real.pdf"]
    text = mail.get_body(("plain",)).get_content()
    links = {
        line.split("[attachment: ")[1].split(",")[0]: line.rsplit(" ", 1)[-1]
        for line in text.splitlines()
        if line.startswith("[attachment: ")
    }
    assert set(links) == {name for name, _, _ in _FILES}
    lines = {
        line.split("[attachment: ")[1].split(",")[0]: line for line in text.splitlines() if "[attachment: " in line
    }
    assert "linked only: a file type that is never attached" in lines["page.html"]
    assert "linked only: its content is not what its name says" in lines["invoice.pdf"]
    assert "linked only" not in lines["photo.png"]
    for name in ("page.html", "invoice.pdf", "photo.png"):
        with urllib.request.urlopen(links[name]) as response:  # noqa: S310 - the local stack's presigned link
            disposition = response.headers["Content-Disposition"]
            content_type = response.headers["Content-Type"]
        assert disposition.startswith("attachment;") and f"filename*=UTF-8''{name}" in disposition, name
        assert (content_type == "application/octet-stream") == (name != "photo.png"), (name, content_type)


def test_the_never_attach_setting_decides_which_types_are_linked_only(env, world):
    repo.put_settings(replace(repo.get_settings(), never_attach_types="png"))  # `emailpipe settings set` does this
    notification = env.notification_to(world, world.offline_agent)

    env.deliver(reply_to(notification, world.offline_agent, "Bob", "Files attached", attachments=_FILES))

    mail = _parsed(env.outbox(world.user)[-1]["raw"])
    assert sorted(part.get_filename() for part in mail.iter_attachments()) == ["logo.svg", "page.html", "real.pdf"]


# ---------------------------------------------------------------- 9. silent truncation


def test_attachments_over_the_part_limit_are_named_in_the_outcome(env, world):
    env.api.set_setting("attach_max_bytes", "0")  # link only: the test is about the inbound side
    notification = env.notification_to(world, world.user)
    files = [(f"f{i}.txt", b"x", "text/plain") for i in range(1000)]

    outcome = env.deliver(reply_to(notification, world.user, "Carol", "A thousand files", attachments=files))

    message = repo.list_messages(world.conversation_id)[-1]
    assert outcome.status.value == "stored"
    assert len(message.attachments) == 998
    assert outcome.details["dropped_parts"] == (
        "2 MIME parts (attachments or body parts) not read: over the limit of 1000 parts"
    )
