"""Webhooks: Standard Webhooks signatures (checked by the reference library), URL checks, pinned POSTs, back-off."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from emailpipe.events import webhooks
from emailpipe.events.delivery import WebhookContext, deliver
from emailpipe.events.webhooks import Attempt, UnsafeUrlError, check_url
from emailpipe.local.stack import load_template
from emailpipe.store.webhooks import StoredEvent, Subscription


def test_a_signed_delivery_verifies_with_the_standard_webhooks_reference_library():
    secret = webhooks.new_secret()
    body = b'{"id":"evt_x","type":"message.created"}'
    import time

    headers = webhooks.headers_for(secret, "evt_x", int(time.time()), body)

    assert secret.startswith("whsec_")
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(Exception):  # noqa: B017 - the library raises its own WebhookVerificationError
        Webhook(webhooks.new_secret()).verify(body, headers)


def _resolver(table: dict[str, list[str]]) -> Any:
    return lambda host, _port: table[host]


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example/",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "https://172.16.5.4/",
        "https://192.168.1.1/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://[fc00::1]/",
        "https://[fe80::1]/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://user:pw@hooks.example/",
        "ftp://hooks.example/",
        "https://private.example/",
        "https://mixed.example/",
        "https://metadata.example/",
    ],
)
def test_urls_that_are_not_https_to_public_addresses_are_refused(url: str):
    resolve = _resolver(
        {
            "hooks.example": ["93.184.216.34"],
            "private.example": ["10.1.2.3"],
            "mixed.example": ["93.184.216.34", "192.168.0.10"],
            "metadata.example": ["::ffff:169.254.169.254"],
        }
    )

    with pytest.raises(UnsafeUrlError):
        check_url(url, resolve=resolve)


def test_https_to_public_addresses_is_accepted_and_pinned_to_the_checked_address():
    target = check_url("https://hooks.example:8443/in?x=1", resolve=_resolver({"hooks.example": ["93.184.216.34"]}))

    assert (target.host, target.port, target.path, target.address) == (
        "hooks.example",
        8443,
        "/in?x=1",
        "93.184.216.34",
    )
    assert check_url("https://[2606:4700::1111]/").address == "2606:4700::1111"


def test_the_local_stack_allows_http_to_loopback_only():
    assert check_url("http://127.0.0.1:9000/", allow_loopback=True).address == "127.0.0.1"
    with pytest.raises(UnsafeUrlError):
        check_url("http://127.0.0.1:9000/")
    with pytest.raises(UnsafeUrlError):
        check_url("http://10.0.0.1/", allow_loopback=True)


class _Receiver(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []
    answer = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.seen.append({"headers": dict(self.headers), "body": body})
        self.send_response(_Receiver.answer)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[int]:
    _Receiver.seen = []
    _Receiver.answer = 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_post_goes_to_the_checked_address_whatever_the_name_resolves_to_later(receiver: int):
    # "rebind.test" resolves (once, through the resolver given) to loopback; no second lookup happens: the
    # connection goes to that address with the URL's host in the Host header.
    url = f"http://rebind.test:{receiver}/hook"
    answers = iter([["127.0.0.1"]])

    attempt = webhooks.post(
        url, b"{}", {"content-type": "application/json"}, allow_loopback=True, resolve=lambda h, p: next(answers)
    )

    assert attempt == Attempt("delivered", 200, None)
    assert _Receiver.seen[0]["headers"]["Host"] == f"rebind.test:{receiver}"


ANSWERS = [(204, "delivered"), (500, "retry"), (503, "retry"), (429, "retry"), (408, "retry"), (404, "failed")]


@pytest.mark.parametrize(("code", "status"), [*ANSWERS, (401, "failed"), (301, "failed")])
def test_answers_are_delivered_retried_or_given_up(receiver: int, code: int, status: str):
    _Receiver.answer = code

    attempt = webhooks.post(f"http://127.0.0.1:{receiver}/", b"{}", {}, allow_loopback=True)

    assert (attempt.status, attempt.http_status) == (status, code)


def test_an_unreachable_receiver_is_retried_and_an_unsafe_url_is_blocked_at_delivery_time():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert webhooks.post(f"http://127.0.0.1:{port}/", b"{}", {}, allow_loopback=True).status == "retry"
    assert webhooks.post("https://169.254.169.254/", b"{}", {}).status == "blocked"


def test_the_retry_schedule_spans_more_than_a_day_within_the_queues_receive_count():
    queue = load_template()["Resources"]["WebhookQueue"]["Properties"]
    delays = [webhooks.retry_delay(n) for n in range(1, webhooks.MAX_ATTEMPTS)]

    assert delays == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert sum(delays) >= 24 * 3600
    assert max(delays) <= 43200  # SQS's visibility cap
    assert queue["RedrivePolicy"]["maxReceiveCount"] == webhooks.MAX_ATTEMPTS
    assert queue["MessageRetentionPeriod"] >= 4 * 24 * 3600
    assert webhooks.retry_delay(3, scale=0) == 0


# ---------------------------------------------------------------- one delivery


def _ctx(answer: str, recorded: list[dict[str, Any]], delays: list[int]) -> WebhookContext:
    subscription = Subscription("wh_1", "https://hooks.example/", webhooks.new_secret())
    event = StoredEvent("evt_1", "message.created", '{"id":"evt_1"}', 1.7e9)
    return WebhookContext(
        subscription=lambda _id: subscription,
        event=lambda _id: event,
        record=lambda *a, **k: recorded.append({"args": a, **k}),
        post=lambda url, body, headers: Attempt(answer, 500 if answer == "retry" else 200),
        delay=lambda _handle, seconds: delays.append(seconds),
        clock=lambda: 1.7e9,
    )


def _message(receive_count: int) -> dict[str, Any]:
    body = json.dumps({"event_id": "evt_1", "subscription_id": "wh_1", "event_type": "message.created"})
    return {"body": body, "receiptHandle": "rh", "attributes": {"ApproximateReceiveCount": str(receive_count)}}


def test_a_failed_attempt_is_recorded_and_shown_again_after_its_back_off():
    recorded: list[dict[str, Any]] = []
    delays: list[int] = []

    assert deliver(_message(2), _ctx("retry", recorded, delays)) is False
    assert delays == [300]
    assert recorded[0]["status"] == "retrying" and recorded[0]["http_status"] == 500


def test_the_last_attempt_is_recorded_dead_and_left_for_the_dead_letter_queue():
    recorded: list[dict[str, Any]] = []
    delays: list[int] = []

    assert deliver(_message(webhooks.MAX_ATTEMPTS), _ctx("retry", recorded, delays)) is False
    assert recorded[0]["status"] == "dead" and delays == [0]


def test_a_delivered_attempt_is_recorded_and_done():
    recorded: list[dict[str, Any]] = []

    assert deliver(_message(1), _ctx("delivered", recorded, [])) is True
    assert recorded[0]["status"] == "delivered"


@pytest.fixture
def tls_receiver(tmp_path: Any) -> Iterator[tuple[int, Any]]:
    """An HTTPS receiver on 127.0.0.1 with a certificate for `hooks.test` only (made with the openssl command)."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hooks.test",
         "-addext", "subjectAltName=DNS:hooks.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    _Receiver.seen = []
    _Receiver.answer = 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client_context = ssl.create_default_context(cafile=str(cert))
    yield server.server_address[1], client_context
    server.shutdown()
    server.server_close()


def test_https_is_pinned_to_the_checked_address_and_verifies_the_certificate_of_the_urls_host(tls_receiver):
    port, context = tls_receiver
    to_loopback = _resolver({"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})

    good = webhooks.post(
        f"https://hooks.test:{port}/in", b"{}", {}, allow_loopback=True, resolve=to_loopback, context=context
    )
    wrong_name = webhooks.post(
        f"https://other.test:{port}/in", b"{}", {}, allow_loopback=True, resolve=to_loopback, context=context
    )

    assert good == Attempt("delivered", 200, None)
    assert wrong_name.status == "retry" and "CERTIFICATE_VERIFY_FAILED" in (wrong_name.error or "")
    assert len(_Receiver.seen) == 1
