"""Webhook deliveries over real HTTP to a receiver on 127.0.0.1, verified with the `standardwebhooks` library."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from emailpipe.events import subscriptions
from emailpipe.local.stack import Triggers
from emailpipe.store import apikeys
from emailpipe.store import webhooks as store

BIN = Path(sys.executable).parent / "emailpipe"


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers from a script (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[int] = []
        receiver = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                code = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, secret: str) -> list[dict[str, Any]]:
        """Every delivery, each verified (signature, id, timestamp) with the reference library."""
        return [Webhook(secret).verify(r["body"], r["headers"]) for r in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _api(api_url: str) -> Callable[..., Any]:
    _record, key = apikeys.create_key("webhook-tests", "write")

    def call(method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {key}"}
        return requests.request(method, f"{api_url}{path}", headers=headers, timeout=30, **kwargs)

    return call


def _drain_until(env, done: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        env.drain()
        if done():
            return
        time.sleep(0.05)
    raise AssertionError("the condition was not reached")


def _run(env, *args: str) -> list[str]:
    environment = dict(os.environ, AWS_ENDPOINT_URL=env.stack.endpoint)
    result = subprocess.run([str(BIN), *args], capture_output=True, env=environment, timeout=120, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().strip().splitlines()


def test_a_subscriber_gets_every_event_signed_and_verifiable_with_the_reference_library(env, world, api_url, receiver):
    api = _api(api_url)
    created = api("POST", "/v1/webhooks", json={"url": receiver.url, "events": ["message.created", "notification.*"]})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]

    env.api.post_message(world.conversation_id, world.user, "My invoice is wrong")
    _drain_until(env, lambda: len(receiver.requests) >= 2)

    events = receiver.events(secret)
    assert sorted(e["type"] for e in events) == ["message.created", "notification.sent"]
    assert all(r["headers"]["webhook-id"] == e["id"] for r, e in zip(receiver.requests, events, strict=True))
    assert all(r["headers"]["content-type"] == "application/json" for r in receiver.requests)
    message = next(e for e in events if e["type"] == "message.created")
    assert message["data"]["message"]["text"] == "My invoice is wrong"
    listed = api("GET", "/v1/webhooks").json()["items"]
    assert [(w["id"], w["last_delivery"]["status"]) for w in listed] == [(created.json()["id"], "delivered")]
    assert "secret" not in listed[0]
    shown = api("GET", f"/v1/webhooks/{created.json()['id']}").json()
    assert {d["status"] for d in shown["deliveries"]} == {"delivered"} and len(shown["deliveries"]) == 2


def test_a_receiver_that_fails_twice_gets_the_event_a_third_time_with_the_same_webhook_id(env, world, receiver):
    subscription = subscriptions.subscribe(receiver.url, ["message.created"], allow_loopback=True)
    receiver.answers = [500, 503]

    env.api.post_message(world.conversation_id, world.user, "Hello?")
    _drain_until(env, lambda: len(receiver.requests) >= 3)

    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == 3 and len(set(ids)) == 1
    assert len({r["headers"]["webhook-signature"] for r in receiver.requests}) >= 1
    receiver.events(subscription.secret)  # every attempt verifies
    delivery = store.get_delivery(subscription.id, ids[0])
    assert delivery is not None and (delivery.status, delivery.attempts) == ("delivered", 3)


def test_after_every_attempt_fails_the_delivery_is_dead_lettered_and_redelivered_with_the_same_id(env, world, receiver):
    subscription = subscriptions.subscribe(receiver.url, ["message.created"], allow_loopback=True)
    receiver.answers = [500] * 8

    env.api.post_message(world.conversation_id, world.user, "Anyone?")
    _drain_until(env, lambda: len(receiver.requests) >= 8)
    env.drain()
    event_id = receiver.requests[0]["headers"]["webhook-id"]
    dead = store.get_delivery(subscription.id, event_id)
    assert dead is not None and (dead.status, dead.attempts) == ("dead", 8)
    env.drain()  # the next receive moves it to the dead-letter queue instead of delivering it
    assert len(receiver.requests) == 8

    assert json.loads(_run(env, "webhook", "redeliver", "--dead-letters")[-1]) == {"redelivered_dead_letters": 1}
    _drain_until(env, lambda: len(receiver.requests) == 9)
    assert json.loads(_run(env, "webhook", "redeliver", event_id)[-1])["subscriptions"] == [subscription.id]
    _drain_until(env, lambda: len(receiver.requests) == 10)

    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {event_id}
    assert [e["id"] for e in receiver.events(subscription.secret)] == [event_id] * 10
    listed = _run(env, "webhook", "list")
    assert listed[-1].startswith(subscription.id) and "last: delivered 200" in listed[-1]


def test_the_cli_prints_the_secret_on_its_last_line_and_removes_subscriptions(env, receiver):
    lines = _run(env, "webhook", "add", receiver.url, "--events", "message.created,inbound.*")
    view = json.loads(lines[0])

    assert lines[-1].startswith("whsec_")
    assert view["events"] == ["message.created", "inbound.*"]
    assert store.get_subscription(view["id"]).secret == lines[-1]  # type: ignore[union-attr]
    _run(env, "webhook", "remove", view["id"])
    assert store.get_subscription(view["id"]) is None


@pytest.fixture
def deployment_mode(env):
    """The triggers with the deployment's URL rules (no loopback), as WEBHOOK_ALLOW_LOOPBACK is off in AWS."""
    env.stack.triggers = Triggers(env.stack.info, local=False)
    yield env
    env.stack.triggers = Triggers(env.stack.info, local=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/hooks",
        "http://hooks.example/",
        "https://localhost/hooks",  # a host name that resolves to a non-public address
        "RECEIVER",  # http://127.0.0.1:port, allowed only by the local stack
    ],
)
def test_in_deployment_mode_unsafe_urls_are_refused_at_subscribe_time(deployment_mode, api_url, receiver, url):
    api = _api(api_url)
    url = receiver.url if url == "RECEIVER" else url

    response = api("POST", "/v1/webhooks", json={"url": url})

    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "url"
    assert store.list_subscriptions() == []


def test_in_deployment_mode_an_unsafe_url_is_refused_again_at_delivery_time(deployment_mode, world, receiver):
    env = deployment_mode
    # A subscription whose URL was acceptable once (say, DNS answered a public address then) and is not now.
    subscription = store.Subscription("wh_stale", receiver.url, "whsec_" + "A" * 44, ("message.created",), "", 1.0)
    store.put_subscription(subscription)

    env.api.post_message(world.conversation_id, world.user, "Hello")
    env.drain()

    assert receiver.requests == []
    deliveries = store.list_deliveries(subscription.id)
    assert [(d.status, d.attempts) for d in deliveries] == [("blocked", 1)]
    assert "not public" in (deliveries[0].error or "")
