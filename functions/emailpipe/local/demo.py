"""`emailpipe demo`: the whole story on an in-process local stack, printed as a transcript."""

from __future__ import annotations

import os
import time
import warnings
from email import message_from_string, policy
from typing import Any

from emailpipe.local.mailclient import new_email, reply_to, text_of
from emailpipe.local.stack import LocalStack, sent_emails


def _say(line: str = "") -> None:
    print(line, flush=True)


def _show_email(mail: dict[str, Any]) -> None:
    parsed = message_from_string(mail["raw"], policy=policy.default)
    _say(f"    To: {parsed['To']}")
    _say(f"    From: {parsed['From']}")
    _say(f"    Reply-To: {parsed['Reply-To']}")
    _say(f"    Subject: {parsed['Subject']}")
    _say(f"    Message-ID: {parsed['Message-ID']}")
    if parsed["References"]:
        _say(f"    References: {parsed['References']}")
    for line in text_of(mail["raw"]).strip().splitlines():
        _say(f"    | {line}")


def run_demo() -> int:
    """Run the demo story; 0 when every step behaved as the product promises."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    from emailpipe.chat import ChatApi
    from emailpipe.cli.main import deliver_raw_email
    from emailpipe.store import repo

    stack = LocalStack().start()
    try:
        assert stack.info is not None and stack.triggers is not None
        info, triggers = stack.info, stack.triggers
        repo.configure(info.outputs["TableName"])
        api = ChatApi(mail_bucket=info.outputs["MailBucketName"])
        piping = info.outputs["PipingAddress"]
        seen = 0
        counts = {"in": 0, "stored": 0, "rejected": 0, "quarantined": 0}
        problems: list[str] = []

        def new_emails() -> list[dict[str, Any]]:
            nonlocal seen
            emails = sent_emails(stack.endpoint)
            fresh, seen = emails[seen:], len(emails)
            return fresh

        def show_new(to: str | None = None, label: str = "email out:") -> list[dict[str, Any]]:
            """The emails sent since the last look (to one address, when given), printed."""
            fresh = [m for m in new_emails() if to is None or to in (m["destinations"] or [])]
            for mail in fresh:
                _say(f"  {label}")
                _show_email(mail)
            return fresh

        def pipe(raw: bytes, label: str, expect: str) -> Any:
            key = deliver_raw_email(info, raw)
            triggers.drain(wait_for_digests=True)
            record = repo.get_inbound(key)
            counts["in"] += 1
            status = record.status.value if record else "missing"
            counts[status] = counts.get(status, 0) + 1
            reason = record.reason if record else "-"
            _say(f"  inbound  {label}: {status} ({reason})")
            if status != expect:
                problems.append(f"{label}: expected {expect}, got {status} ({reason})")
            return record

        _say(f"emailpipe demo: local AWS at {stack.endpoint}, stack {info.stack_name}, piping address {piping}")
        _say()
        _say("1. The chat application sets up a department, two agents and a user")
        api.add_department("Billing")
        api.add_agent("alice@agents.example", "Alice Agent", ["Billing"])
        api.add_agent("bob@agents.example", "Bob Agent", ["Billing"])
        api.add_user("carol@customer.example", "Carol Customer")
        api.set_presence("alice@agents.example", True)
        api.set_presence("bob@agents.example", False)
        api.set_setting("digest_window_seconds", "2")
        _say("   Billing: alice@agents.example (online), bob@agents.example (offline); user carol@customer.example")
        conversation = api.open_conversation("carol@customer.example", "Billing", "Invoice 1042 is wrong")
        _say(f"   conversation {conversation.id} opened for Carol in Billing")
        _say()

        _say("2. Carol writes twice in the chat; only the offline agent is emailed, once, with both (a digest)")
        api.post_message(conversation.id, "carol@customer.example", "Hello, invoice 1042 charges me twice.")
        api.post_message(conversation.id, "carol@customer.example", "Can you fix it?")
        triggers.drain(wait_for_digests=True)
        to_bob = show_new("bob@agents.example")
        if len(to_bob) != 1:
            problems.append(f"expected one email to Bob, got {len(to_bob)}")
        _say()

        _say("3. Bob answers by replying to that email from his mail client")
        answer = "Hi Carol,\n\nsorry about that: I have refunded the second charge.\nIt shows within 3 days.\n\nBob"
        pipe(reply_to(to_bob[0]["raw"], "bob@agents.example", "Bob Agent", answer), "Bob's reply", "stored")
        to_carol = show_new("carol@customer.example")
        if len(to_carol) != 1:
            problems.append(f"expected one email to Carol, got {len(to_carol)}")
        _say()

        _say("4. Carol replies to her email; Bob gets it in the same thread (References grows)")
        pipe(
            reply_to(to_carol[0]["raw"], "carol@customer.example", "Carol Customer", "Thank you, that was quick!"),
            "Carol's reply",
            "stored",
        )
        show_new()
        api.post_message(conversation.id, "carol@customer.example", "One more thing: please send the new invoice.")
        triggers.drain(wait_for_digests=True)
        thread = show_new(
            "bob@agents.example", "email out (a chat message this time; its References now holds both earlier emails):"
        )
        references = str(message_from_string(thread[0]["raw"], policy=policy.default)["References"] or "").split()
        if len(references) != 2:
            problems.append(f"expected References to grow to 2 Message-IDs, got {len(references)}")
        _say()

        _say("5. Mail that must not become a chat message")
        forged = reply_to(to_bob[0]["raw"], "mallory@attacker.example", "Bob Agent", "Please send the refund to me.")
        pipe(forged, "a stranger replying with Bob's notification", "rejected")
        pipe(
            new_email("dave@somewhere.example", "Dave", piping, "Hello?", "Is anybody there?"),
            "a new email with no conversation token",
            "rejected",
        )
        away = reply_to(to_carol[0]["raw"], "carol@customer.example", "Carol Customer", "I am away until Monday.")
        away = away.replace(b"Subject: ", b"Auto-Submitted: auto-replied\r\nSubject: ", 1)
        pipe(away, "Carol's out-of-office auto-reply", "rejected")
        _say()

        _say("6. The conversation as the chat shows it")
        for message in api.conversation(conversation.id)[1]:
            author = message.author_email or "bot"
            first = (message.text or "").strip().splitlines()[0] if message.text.strip() else ""
            _say(f"   {author:<24} via {message.source.value:<5} {first}")
        _say()

        _chat_app_round_trip(stack, conversation.id, show_new, pipe, problems)
        _say()

        out = len(sent_emails(stack.endpoint))
        for problem in problems:
            _say(f"PROBLEM: {problem}")
        _say(
            f"demo: {counts['in']} emails in, {counts['stored']} stored, {counts['rejected']} rejected, "
            f"{out} emails out"
        )
        return 1 if problems else 0
    finally:
        stack.stop()


class _WebhookReceiver:
    """The chat application's webhook endpoint on 127.0.0.1: verifies each delivery as a receiver should."""

    def __init__(self) -> None:
        from emailpipe.local.loopback import LoopbackServer, QuietHandler

        self.secret = ""
        self.received: list[dict[str, Any]] = []
        self.refused = 0
        receiver = self

        class _Handler(QuietHandler):
            def do_POST(self) -> None:
                from standardwebhooks.webhooks import Webhook, WebhookVerificationError

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    event = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                except WebhookVerificationError:
                    receiver.refused += 1
                    self.send_response(400)
                else:
                    receiver.received.append({"id": self.headers["webhook-id"], "event": event})
                    self.send_response(204)
                self.end_headers()

        self._server = LoopbackServer(_Handler, name="emailpipe-demo-webhooks", path="/emailpipe-events").start()
        self.url = self._server.url

    def stop(self) -> None:
        self._server.stop()


def _http(url: str, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    """One JSON call to the local API, as a chat application makes it."""
    import json
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)  # noqa: S310 - the local API
    request.add_header("Authorization", f"Bearer {key}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local API on loopback
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _chat_app_round_trip(
    stack: LocalStack, conversation_id: str, show_new: Any, pipe: Any, problems: list[str]
) -> None:
    """A chat application drives emailpipe over HTTP and learns of the email reply by a signed webhook."""
    from emailpipe.local.api_server import ApiServer
    from emailpipe.local.mailclient import reply_to
    from emailpipe.store import apikeys

    assert stack.triggers is not None and stack.info is not None
    _say("7. A chat application connects over HTTP: API key, webhook, a chat message, the email reply, the webhook")
    _record, key = apikeys.create_key("demo chat app")
    api = ApiServer(stack.info).start()
    receiver = _WebhookReceiver()
    try:
        _say(f"   API at {api.url}; key created with `emailpipe api-key create` (only its hash is stored)")
        status, subscription = _http(
            api.url, "POST", "/v1/webhooks", key, {"url": receiver.url, "events": ["message.created"]}
        )
        if status != 201:
            problems.append(f"webhook subscription: HTTP {status} {subscription}")
            return
        receiver.secret = subscription["secret"]
        _say(f"   POST /v1/webhooks -> 201, subscription {subscription['id']} (secret whsec_…, shown once)")
        path = f"/v1/conversations/{conversation_id}/messages"
        body = {"author": "carol@customer.example", "text": "Could you also send a receipt?", "external_id": "chat-77"}
        status, message = _http(api.url, "POST", path, key, body)
        _say(f"   POST {path} -> {status}, message {message.get('id') if message else '-'} (source chat)")
        status_again, again = _http(api.url, "POST", path, key, body)
        _say(f"   the same POST again (a retry, same external_id) -> {status_again}, the same message, no second email")
        if status != 201 or status_again != 200 or (again or {}).get("id") != (message or {}).get("id"):
            problems.append(f"message over HTTP: {status} then {status_again}")
        stack.triggers.drain(wait_for_digests=True)
        to_bob = show_new("bob@agents.example")
        if len(to_bob) != 1:
            problems.append(f"expected one email to Bob for the HTTP message, got {len(to_bob)}")
            return
        answer = "Hi Carol,\n\nthe receipt is on its way.\n\nBob"
        pipe(reply_to(to_bob[0]["raw"], "bob@agents.example", "Bob Agent", answer), "Bob's reply to it", "stored")

        def from_email() -> list[dict[str, Any]]:
            return [r for r in receiver.received if r["event"]["data"]["message"]["source"] == "email"]

        deadline = time.monotonic() + 30
        while not from_email() and time.monotonic() < deadline:  # the webhook queue runs after the stream
            stack.triggers.drain(wait_for_digests=True)
            time.sleep(0.1)
        show_new()
        for delivery in receiver.received:
            data = delivery["event"]["data"]["message"]
            _say(
                f"   webhook {delivery['event']['type']} (webhook-id {delivery['id']}, signature verified with "
                f"standardwebhooks): source {data['source']}, author {data['author']['email']}, {data['text'][:30]!r}"
            )
        if len(from_email()) != 1 or receiver.refused:
            problems.append(f"expected one verified webhook for the email reply, got {len(from_email())}")
    finally:
        receiver.stop()
        api.stop()
