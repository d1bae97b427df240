"""Mailbox ingress against a real dovecot (IMAP and POP3 on 127.0.0.1) and the embedded moto stack."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from emailpipe.aws import client
from emailpipe.cli.main import main as cli
from emailpipe.inbound import handler as inbound_handler
from emailpipe.ingress import mailbox as mailbox_adapter
from emailpipe.ingress.handler import poll_all, run_poll
from emailpipe.ingress.logic import PollResult
from emailpipe.ingress.settings import parse_settings
from emailpipe.local.mailclient import new_email, reply_to
from emailpipe.local.stack import LocalStack
from emailpipe.store import mailbox_state, repo

from .mailbox_server import MailServer, ensure_dovecot, start_mail_server

PROVIDER = "mx.mail.test"


@pytest.fixture(scope="session")
def mail_server() -> Any:
    reason = ensure_dovecot()
    if reason:
        pytest.skip(reason)
    server = start_mail_server()
    yield server
    server.stop()


@dataclass
class Mailbox:
    """One fresh dovecot user, its secret in the local Secrets Manager, and a way to poll it."""

    server: MailServer
    outputs: dict[str, str]
    user: str
    password: str
    secret_id: str = ""

    def configure(self, **overrides: Any) -> str:
        settings = {
            "protocol": "imap",
            "host": "127.0.0.1",
            "port": self.server.ports["imaps"],
            "tls": "ssl",
            "username": self.user,
            "password": self.password,
            "ca_bundle": self.server.ca_pem,
            "timeout": 5,
        }
        settings.update(overrides)
        settings = {k: v for k, v in settings.items() if v is not None}
        # A new name per configuration: the secrets provider caches values by name.
        self.secret_id = f"test/mailbox-{uuid.uuid4().hex[:12]}"
        client("secretsmanager").create_secret(Name=self.secret_id, SecretString=json.dumps(settings))
        return self.secret_id

    @property
    def mailbox_id(self) -> str:
        return parse_settings(mailbox_state.read_secret(self.secret_id)).mailbox_id

    def poll(self, **kwargs: Any) -> PollResult:
        return run_poll(
            self.secret_id,
            table_name=self.outputs["TableName"],
            bucket=self.outputs["MailBucketName"],
            inbound_prefix=self.outputs["InboundPrefix"],
            **kwargs,
        )

    def deliver(self, raw: bytes, when: float | None = None) -> int:
        return self.server.deliver(self.user, raw, when=when)

    def objects(self) -> dict[str, bytes]:
        s3 = client("s3")
        bucket = self.outputs["MailBucketName"]
        prefix = f"{self.outputs['InboundPrefix']}mailbox/{self.mailbox_id}/"
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}

    def status(self) -> mailbox_state.MailboxStatus | None:
        return mailbox_state.get_status(self.mailbox_id)

    def server_copy(self, uid: int) -> bytes:
        conn = self.server.imap(self.user)
        try:
            conn.select("INBOX", readonly=True)
            _, data = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
            return next(part[1] for part in data if isinstance(part, tuple))
        finally:
            conn.logout()


def _mailbox(server: MailServer, outputs: dict[str, str]) -> Mailbox:
    user, password = server.add_user()
    box = Mailbox(server, outputs, user, password)
    box.configure()
    return box


@pytest.fixture
def mailbox(env, mail_server, monkeypatch) -> Mailbox:
    """A mailbox on a freshly provisioned stack whose inbound function trusts the test provider's verdicts."""
    monkeypatch.setenv("MAILBOX_TRUSTED_AUTHSERV_IDS", PROVIDER)
    inbound_handler._context.cache_clear()
    return _mailbox(mail_server, env.outputs)


@pytest.fixture
def quick_mailbox(server: LocalStack, mail_server) -> Mailbox:
    """A mailbox on the already running stack (no re-provisioning): for tests that need no chat world."""
    assert server.info is not None
    repo.configure(server.info.outputs["TableName"])
    return _mailbox(mail_server, server.info.outputs)


class CrashOnce:
    """A mailbox session that dies (like a killed Lambda) the first time it is asked to mark a message."""

    crashed = False

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def mark_handled(self, message: Any) -> None:
        if not CrashOnce.crashed:
            CrashOnce.crashed = True
            raise KeyboardInterrupt("simulated crash after the copy, before the mark")
        self._inner.mark_handled(message)


# ---------------------------------------------------------------- the happy path


def assert_a_reply_becomes_one_chat_message(env: Any, world: Any, mailbox: Mailbox) -> int:
    """An agent's emailed reply in the mailbox, polled twice: one chat message, the copy byte for byte as the
    server holds it, and the message flagged; returns its UID."""
    notification = env.notification_to(world, world.offline_agent, "My invoice is wrong")
    uid = mailbox.deliver(reply_to(notification, world.offline_agent, "Bob", "Refunded the double charge."))

    first = mailbox.poll()
    env.drain()
    second = mailbox.poll()
    env.drain()

    assert (first.status, first.copied, second.copied) == ("ok", 1, 0)
    messages = repo.list_messages(world.conversation_id)
    assert [(m.author_email, m.source.value) for m in messages] == [
        (world.user, "chat"),
        (world.offline_agent, "email"),
    ]
    assert messages[1].text.startswith("Refunded the double charge.")
    objects = mailbox.objects()
    assert list(objects) == [f"inbound/mailbox/{mailbox.mailbox_id}/{mailbox.status().uidvalidity}-{uid}"]
    assert list(objects.values()) == [mailbox.server_copy(uid)]
    assert "$EmailpipeCopied" in mail_flags(mailbox)[uid] and "\\Seen" in mail_flags(mailbox)[uid]
    return uid


def test_a_reply_in_an_imap_mailbox_becomes_one_chat_message_and_is_flagged(env, world, mailbox):
    uid = assert_a_reply_becomes_one_chat_message(env, world, mailbox)

    status = mailbox.status()
    assert (status.last_error, status.copied_total, status.last_uid) == (None, 1, uid)


def test_one_mailbox_per_inbox_each_copy_lands_in_its_own_inbox(env, world, mailbox, mail_server):
    client("ses").verify_domain_identity(Domain="brand-b.example")  # the operator verifies each inbox's domain
    env.api.add_inbox("billing@brand-b.example", "BrandB", department="Sales", convert_all_emails=True)
    billing = _mailbox(mail_server, env.outputs)
    billing.configure(inbox="billing@brand-b.example")
    notification = env.notification_to(world, world.offline_agent, "My invoice is wrong")
    mailbox.deliver(reply_to(notification, world.offline_agent, "Bob", "Refunded the double charge."))
    # Sent to a list that forwards to the billing mailbox: addressed to no inbox, so the mailbox's inbox counts.
    billing.deliver(new_email("frank@shopper.example", "Frank", "accounts@brand-b.example", "Refund", "Refund me."))

    results = poll_all(
        [mailbox.secret_id, billing.secret_id],
        lambda: 60.0,
        lambda sid, rem: run_poll(
            sid,
            table_name=env.outputs["TableName"],
            bucket=env.outputs["MailBucketName"],
            inbound_prefix=env.outputs["InboundPrefix"],
            remaining=rem,
        ),
    )
    env.drain()

    assert [(r.status, r.copied) for r in results] == [("ok", 1), ("ok", 1)]
    assert repo.list_messages(world.conversation_id)[-1].text == "Refunded the double charge."
    opened = [r for r in repo.list_inbound() if r.matched_by == "convert_all_emails"]
    assert len(opened) == 1
    conversation = env.api.get_conversation(opened[0].conversation_id)
    assert (conversation.user_email, conversation.inbox, conversation.department) == (
        "frank@shopper.example",
        "billing@brand-b.example",
        "Sales",
    )


def mail_flags(mailbox: Mailbox) -> dict[int, str]:
    return mailbox.server.folder(mailbox.user)


def test_a_reply_in_a_pop3_mailbox_becomes_one_chat_message_and_is_deleted(env, world, mailbox):
    mailbox.configure(protocol="pop3", port=mailbox.server.ports["pop3s"], delete_after_copy=True)
    notification = env.notification_to(world, world.user, "My invoice is wrong")
    mailbox.deliver(reply_to(notification, world.user, "Carol", "Number 1042."))

    first = mailbox.poll()
    second = mailbox.poll()
    env.drain()

    assert (first.status, first.copied, second.copied) == ("ok", 1, 0)
    messages = repo.list_messages(world.conversation_id)
    assert [(m.author_email, m.source.value) for m in messages][-1] == (world.user, "email")
    assert len(mailbox.objects()) == 1
    assert mail_flags(mailbox) == {}


def test_pop3_without_delete_leaves_the_mail_and_copies_it_once(quick_mailbox):
    box = quick_mailbox
    box.configure(protocol="pop3", tls="starttls", port=box.server.ports["pop3"])
    box.deliver(new_email("dana@customer.example", "Dana", "support@example.com", "Hello", "Hi"))

    results = [box.poll(), box.poll()]

    assert [(r.status, r.copied) for r in results] == [("ok", 1), ("ok", 0)]
    assert len(mail_flags(box)) == 1
    assert len(box.objects()) == 1


# ---------------------------------------------------------------- exactly once


def test_a_crash_between_copy_and_mark_is_replayed_without_a_duplicate(env, world, mailbox):
    notification = env.notification_to(world, world.offline_agent, "My invoice is wrong")
    uid = mailbox.deliver(reply_to(notification, world.offline_agent, "Bob", "Refunded."))
    CrashOnce.crashed = False

    with pytest.raises(KeyboardInterrupt):
        mailbox.poll(connect=lambda settings: CrashOnce(mailbox_adapter.connect(settings)))
    assert "$EmailpipeCopied" not in mail_flags(mailbox)[uid]
    replay = mailbox.poll()
    env.drain()

    assert (replay.status, replay.copied) == ("ok", 0)  # already copied: only the mark was repeated
    assert "$EmailpipeCopied" in mail_flags(mailbox)[uid]
    emails = [m for m in repo.list_messages(world.conversation_id) if m.source.value == "email"]
    assert len(emails) == 1
    assert len(mailbox.objects()) == 1


def test_a_run_killed_after_the_upload_is_replayed_to_the_same_key_once_its_lease_expires(quick_mailbox, monkeypatch):
    box = quick_mailbox
    uid = box.deliver(new_email("dana@customer.example", "Dana", "support@example.com", "Hello", "Hi"))
    real_set_message = mailbox_state.set_message

    def killed(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt("killed after the S3 put, before recording it")

    monkeypatch.setattr(mailbox_state, "set_message", killed)
    monkeypatch.setattr(mailbox_state, "release_lease", lambda *a: None)  # a killed run releases nothing
    with pytest.raises(KeyboardInterrupt):
        box.poll(lease_seconds=1)
    monkeypatch.setattr(mailbox_state, "set_message", real_set_message)
    busy = box.poll()
    time.sleep(2.1)
    replay = box.poll(lease_seconds=1)

    assert busy.status == "busy"
    assert (replay.status, replay.copied) == ("ok", 1)
    assert len(box.objects()) == 1  # the same key overwritten: the inbound function stores one message per key
    assert "$EmailpipeCopied" in mail_flags(box)[uid]


def test_a_second_run_takes_nothing_while_the_first_holds_the_lease(quick_mailbox):
    box = quick_mailbox
    uid = box.deliver(new_email("dana@customer.example", "Dana", "support@example.com", "Hello", "Hi"))
    assert mailbox_state.acquire_lease(box.mailbox_id, "the-other-run", time.time(), 300)

    blocked = box.poll()
    mailbox_state.release_lease(box.mailbox_id, "the-other-run")
    after = box.poll()

    assert (blocked.status, blocked.copied) == ("busy", 0)
    assert "$EmailpipeCopied" in mail_flags(box)[uid]
    assert (after.status, after.copied) == ("ok", 1)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"password": "wrong"}, "auth_failed"),
        ({"ca_bundle": None}, "tls_failed"),  # the self-signed certificate is not trusted by the system store
        ({"port": 1}, "unreachable"),
        ({"folder": "No Such Folder"}, "folder_missing"),
    ],
)
def test_a_mailbox_that_cannot_be_used_is_recorded_and_the_run_returns(quick_mailbox, overrides, reason):
    box = quick_mailbox
    box.configure(**overrides)

    result = box.poll()

    assert (result.status, result.error, result.problems) == ("error", reason, [reason])
    status = box.status()
    assert (status.last_error, status.consecutive_errors) == (reason, 1)
    assert status.last_error_detail


def test_a_message_over_the_size_limit_is_skipped_once_and_the_others_continue(quick_mailbox):
    box = quick_mailbox
    box.configure(tls="starttls", port=box.server.ports["imap"], max_bytes=4000)
    big = box.deliver(new_email("dana@customer.example", "Dana", "support@example.com", "Big", "x" * 6000))
    small = box.deliver(new_email("dana@customer.example", "Dana", "support@example.com", "Small", "Hi"))

    first = box.poll()
    second = box.poll()

    assert (first.copied, first.skipped, first.problems) == (1, 1, ["too_large"])
    assert (second.copied, second.skipped, second.problems) == (0, 0, [])
    skipped = mailbox_state.message_states(box.mailbox_id, f"UID#{box.status().uidvalidity}#")
    assert [(s.status, s.reason) for s in skipped.values() if s.key.endswith(f"{big:010d}")] == [
        ("skipped", "too_large")
    ]
    flags = mail_flags(box)
    assert "$EmailpipeCopied" not in flags[big]  # left on the server for a person
    assert "$EmailpipeCopied" in flags[small]


# ---------------------------------------------------------------- settings


def test_move_mode_moves_the_copied_message_to_the_folder_creating_it(quick_mailbox):
    box = quick_mailbox
    box.configure(mark="move", move_to="Piped")
    box.deliver(new_email("dana@customer.example", "Dana", "support@example.com", "Hello", "Hi"))

    result = box.poll()

    assert (result.status, result.copied) == ("ok", 1)
    assert mail_flags(box) == {}
    assert len(box.server.folder(box.user, "Piped")) == 1


def test_a_first_run_takes_only_mail_after_the_start_date_in_bounded_batches(quick_mailbox):
    box = quick_mailbox
    now = time.time()
    for day in (10, 5, 2):
        box.deliver(new_email("old@customer.example", "Old", "support@example.com", "Old", "o"), when=now - day * 86400)
    for n in range(3):
        box.deliver(new_email("new@customer.example", "New", "support@example.com", f"New {n}", "n"), when=now - 60)
    box.configure(start_date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)), batch_size=2)

    runs = [box.poll() for _ in range(3)]

    assert [(r.copied, r.pending) for r in runs] == [(2, 1), (1, 0), (0, 0)]
    assert box.status().last_uid == 6
    assert [("$EmailpipeCopied" in flags) for flags in mail_flags(box).values()] == [False] * 3 + [True] * 3


# ---------------------------------------------------------------- trust


def test_mailbox_mail_is_judged_by_the_providers_authentication_results(env, world, mailbox):
    notification = env.notification_to(world, world.user, "My invoice is wrong")
    raw = reply_to(notification, world.user, "Carol", "Spoofed")
    provider_header = f"Authentication-Results: {PROVIDER}; dmarc=fail header.from=customer.example\r\n".encode()
    mailbox.deliver(provider_header + raw)

    result = mailbox.poll()
    env.drain()

    key = result.copied_keys[0]
    outcome = repo.get_inbound(key)
    assert (outcome.status.value, outcome.reason) == ("rejected", "dmarc_fail")


# ---------------------------------------------------------------- the command line


def test_mailbox_test_and_poll_commands_report_what_they_find(quick_mailbox, capsys):
    box = quick_mailbox
    box.deliver(new_email("dana@customer.example", "Dana", "support@example.com", "Hello", "Hi"))

    assert cli(["mailbox", "test", "--secret", box.secret_id]) == 0
    tested = capsys.readouterr().out
    assert cli(["mailbox", "poll", "--secret", box.secret_id]) == 0
    polled = json.loads(capsys.readouterr().out)

    assert "logged in" in tested and "1 new message" in tested
    assert (polled["status"], polled["copied"]) == ("ok", 1)
