"""Mailbox ingress logic with an in-memory mailbox and state store: progress, retries and settings (no network)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from emailpipe.ingress.logic import Listed, MessageError, PollResult, RemoteMessage, poll_mailbox
from emailpipe.ingress.mailbox import arrival_time
from emailpipe.ingress.settings import MailboxConfigError, parse_settings

SETTINGS = parse_settings('{"host": "imap.example.test", "username": "u", "password": "p"}')


@dataclass
class State:
    """The store/mailbox_state.py functions over dicts."""

    status: dict[str, Any] = field(default_factory=dict)
    items: dict[str, Any] = field(default_factory=dict)
    lease: str | None = None

    def acquire_lease(self, mailbox_id, owner, now, seconds):
        if self.lease:
            return False
        self.lease = owner
        return True

    def release_lease(self, mailbox_id, owner):
        self.lease = None

    def get_status(self, mailbox_id):
        return _Obj(**self.status) if self.status else None

    def record_run(self, mailbox_id, now, *, uidvalidity=None, last_uid=None, **counts):
        self.status.update({k: v for k, v in {"uidvalidity": uidvalidity, "last_uid": last_uid}.items() if v})
        self.status["last"] = counts

    def message_states(self, mailbox_id, prefix, start=""):
        return {k: v for k, v in self.items.items() if k.startswith(prefix) and k >= prefix + start}

    def claim_message(self, mailbox_id, key, now, stale_after, retry_statuses):
        item = self.items.get(key)
        if item is not None and item.status not in retry_statuses:
            return False
        self.items[key] = _Obj(status="copying", attempts=(item.attempts if item else 0) + 1)
        return True

    def set_message(self, mailbox_id, key, status, now, **fields):
        self.items[key] = replace(self.items[key], status=status)

    def record_skipped(self, mailbox_id, key, reason, now, size=None):
        if key in self.items:
            return False
        self.items[key] = _Obj(status="skipped", attempts=0)
        return True


@dataclass(frozen=True)
class _Obj:
    status: str = ""
    attempts: int = 0
    uidvalidity: str | None = None
    last_uid: int = 0
    last: Any = None


class FakeImap:
    """A folder of UIDs 1..n; `broken` UIDs fail to fetch."""

    uidvalidity = "7"
    state_prefix = "UID#7#"
    lists_handled = False

    def __init__(self, sizes: dict[int, int], broken: set[int] = frozenset()) -> None:
        self.sizes, self.broken, self.marked = sizes, broken, []

    def list_new(self, after_uid, since):
        return [Listed(f"UID#7#{u:010d}", u) for u in sorted(self.sizes) if u > after_uid and u not in self.marked]

    def describe(self, listed):
        return [RemoteMessage(i.key, f"7-{i.uid}", str(i.uid), self.sizes[i.uid], None, i.uid) for i in listed]

    def fetch(self, message):
        if message.uid in self.broken:
            raise MessageError("fetch_failed", "NO")
        return b"x" * message.size

    def mark_handled(self, message):
        self.marked.append(message.uid)

    def close(self):
        pass


def _poll(client: FakeImap, state: State, settings=SETTINGS) -> Any:
    stored: dict[str, bytes] = {}
    result = poll_mailbox(
        settings,
        connect=lambda: client,
        store_raw=stored.__setitem__,
        state=state,
        clock=lambda: 1000.0,
        inbound_prefix="inbound/",
    )
    return result, stored


def test_the_high_water_mark_stops_before_the_first_message_still_waiting():
    client, state = FakeImap({1: 10, 2: 10, 3: 10}, broken={2}), State()

    result, stored = _poll(client, state)

    assert (result.copied, result.problems, result.pending) == (2, ["fetch_failed"], 1)
    assert sorted(stored) == [
        f"inbound/mailbox/{SETTINGS.mailbox_id}/7-1",
        f"inbound/mailbox/{SETTINGS.mailbox_id}/7-3",
    ]
    assert state.status["last_uid"] == 1


def test_a_message_failing_every_time_is_given_up_and_passed_over_after_five_attempts():
    client, state = FakeImap({1: 10, 2: 10}, broken={1}), State()

    results = [_poll(client, state)[0] for _ in range(7)]

    assert [r.problems for r in results] == [["fetch_failed"]] * 5 + [["message_failed"], []]
    assert state.items[f"UID#7#{1:010d}"].status == "failed"
    assert (state.status["last_uid"], client.marked) == (1, [2])  # left unmarked on the server for a person


def test_batches_are_bounded_and_a_too_large_message_is_recorded_once():
    client, state = FakeImap({1: 10, 2: 999, 3: 10, 4: 10}), State()
    settings = replace(SETTINGS, batch_size=2, max_bytes=100)

    first, _ = _poll(client, state, settings)
    second, _ = _poll(client, state, settings)

    assert (first.copied, first.skipped, first.pending) == (1, 1, 2)
    assert (second.copied, second.skipped, second.problems) == (2, 0, [])
    assert client.marked == [1, 3, 4]


def test_settings_name_every_problem_and_fill_in_default_ports():
    with pytest.raises(MailboxConfigError) as raised:
        parse_settings('{"protocol": "smtp", "tls": "none", "mark": "move"}')

    message = str(raised.value)
    for expected in ("protocol", "tls", "host is required", "username is required", "password is required"):
        assert expected in message
    pop3 = parse_settings('{"protocol": "pop3", "tls": "starttls", "host": "h", "username": "u", "password": "p"}')
    assert (pop3.port, SETTINGS.port, SETTINGS.folder) == (110, 993, "INBOX")
    assert "password" not in repr(pop3)  # settings may be logged; the password never is


def test_the_arrival_time_comes_from_the_topmost_received_header():
    headers = (
        b"Received: by mx.example.test with SMTP id 1;\r\n Tue, 03 Feb 2026 10:00:00 +0000\r\n"
        b"Received: from sender.example by relay; Mon, 02 Feb 2026 09:00:00 +0000\r\n"
        b"Date: Sun, 01 Feb 2026 08:00:00 +0000\r\n"
    )

    assert arrival_time(headers) == 1770112800.0
    assert arrival_time(b"Date: Sun, 01 Feb 2026 08:00:00 +0000\r\n") == 1769932800.0


def test_several_mailboxes_are_polled_in_turn_each_within_a_fair_share_of_the_time():
    from emailpipe.ingress.handler import poll_all

    clock = {"left": 90.0}
    seen: list[tuple[str, float]] = []

    def poll(secret_id, remaining):
        seen.append((secret_id, round(remaining(), 1)))
        clock["left"] -= {"a": 20.0, "b": 5.0, "c": 1.0}[secret_id]  # the time each run took
        return PollResult(mailbox_id=secret_id)

    results = poll_all(["a", "b", "c"], lambda: clock["left"], poll)

    assert [r.mailbox_id for r in results] == ["a", "b", "c"]
    # a gets a third of 90 s; b half of the 70 s left (a's unused time included); c all of the last 65 s.
    assert seen == [("a", 30.0), ("b", 35.0), ("c", 65.0)]


# ---------------------------------------------------------------- OAuth settings and SASL (pure)


def _oauth_settings(oauth: object, **extra: object) -> str:
    import json

    return json.dumps({"host": "outlook.office365.com", "username": "support@contoso.example", "oauth": oauth, **extra})


def test_oauth_settings_name_every_problem_and_never_a_secret():
    cases = [
        ({"provider": "microsoft"}, ["oauth.tenant_id is required", "oauth.client_id is required", "client_secret"]),
        (
            {"provider": "microsoft", "tenant_id": "t", "client_id": "c", "client_secret": "s", "thumbprint": "AB"},
            ["not both"],
        ),
        (
            {
                "provider": "microsoft",
                "tenant_id": "t",
                "client_id": "c",
                "client_secret": "s",
                "authority": "http://x",
            },
            ["https"],
        ),
        ({"provider": "google"}, ["oauth.client_id is required", "oauth.refresh_token is required"]),
        ({"provider": "google", "service_account": {"client_email": "x"}}, ["key file's JSON"]),
        ({"provider": "yahoo"}, ["microsoft or google"]),
        (
            {"provider": "google", "refresh_token": "r", "client_id": "c", "client_secret": "s", "mechanism": "plain"},
            ["oauthbearer or xoauth2"],
        ),
        ("a string", ["JSON object"]),
    ]
    for oauth, expected in cases:
        with pytest.raises(MailboxConfigError) as raised:
            parse_settings(_oauth_settings(oauth))
        for text in expected:
            assert text in str(raised.value), (oauth, str(raised.value))
    with pytest.raises(MailboxConfigError, match="either password or oauth"):
        parse_settings(_oauth_settings({"provider": "yahoo"}, password="p"))

    settings = parse_settings(
        _oauth_settings({"provider": "microsoft", "tenant_id": "t", "client_id": "c", "client_secret": "s3cr3t-value"})
    )
    assert settings.oauth is not None
    assert (settings.oauth.flow, settings.oauth.scope) == ("client_secret", "https://outlook.office365.com/.default")
    assert settings.oauth.authority == "https://login.microsoftonline.com"
    assert "s3cr3t-value" not in repr(settings)


def test_a_service_account_key_file_is_taken_as_json_text_or_object():
    account = {"client_email": "sa@p.iam.gserviceaccount.com", "private_key": "-----BEGIN PRIVATE KEY-----x"}
    import json

    for value in (account, json.dumps(account)):
        settings = parse_settings(_oauth_settings({"provider": "google", "service_account": value}))
        assert settings.oauth is not None
        assert (settings.oauth.flow, settings.oauth.token_uri) == (
            "service_account",
            "https://oauth2.googleapis.com/token",
        )
        assert settings.oauth.scope == "https://mail.google.com/"
        assert "PRIVATE KEY" not in repr(settings)


def test_the_sasl_messages_are_the_ones_the_providers_document():
    from emailpipe.ingress.oauth import choose_mechanism, sasl_response

    # Google's and Microsoft's XOAUTH2; RFC 7628's OAUTHBEARER with the GS2 header's saslname escaped.
    assert (
        sasl_response("XOAUTH2", "a@b.example", "tok", "imap.example", 993)
        == b"user=a@b.example\x01auth=Bearer tok\x01\x01"
    )
    assert sasl_response("OAUTHBEARER", "a,b=c@d.example", "tok", "imap.example", 993) == (
        b"n,a=a=2Cb=3Dc@d.example,\x01host=imap.example\x01port=993\x01auth=Bearer tok\x01\x01"
    )
    assert choose_mechanism({"PLAIN", "XOAUTH2", "OAUTHBEARER"}, None) == "OAUTHBEARER"
    assert choose_mechanism({"PLAIN", "XOAUTH2"}, None) == "XOAUTH2"
    assert choose_mechanism({"XOAUTH2", "OAUTHBEARER"}, "xoauth2") == "XOAUTH2"
    for offered, wanted in (({"PLAIN"}, None), ({"XOAUTH2"}, "oauthbearer")):
        with pytest.raises(Exception, match="auth_failed"):
            choose_mechanism(offered, wanted)
