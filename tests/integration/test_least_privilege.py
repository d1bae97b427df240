"""Every AWS call a function makes is allowed by that function's own role in the template.

moto does not enforce IAM, so a function whose code gained a call its policy lacks (a BatchGetItem, a
transaction's ConditionCheck) passes every other test and fails on AWS with AccessDenied. Here the whole loop
runs with a botocore hook on every client that records, for the function whose handler is running, the IAM
actions each request needs (a transaction needs the action of each of its items); each must be in the
function's role (its inline policies, every Fn::If branch) in the transformed template.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from typing import Any

import botocore.session
import pytest
import requests

from emailpipe.aws import reset_clients
from emailpipe.local.mailclient import reply_to
from emailpipe.local.stack import FakeLambdaContext, Triggers, load_template, transform_template
from emailpipe.notifier import feedback_handler
from emailpipe.store import apikeys, repo

_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("function", default=None)

# botocore's service id (in event names) -> IAM prefix, where they differ.
_PREFIX = {
    "sesv2": "ses",
    "secrets-manager": "secretsmanager",
    "eventbridge": "events",
    "dynamodb-streams": "dynamodb",
    "cloudwatch-logs": "logs",
}
# Operations authorized under another action's name.
_ACTION = {
    "s3:HeadObject": ["s3:GetObject"],
    "s3:ListObjectsV2": ["s3:ListBucket"],
    "s3:HeadBucket": ["s3:ListBucket"],
    "s3:CopyObject": ["s3:GetObject", "s3:PutObject"],
    "s3:DeleteObjects": ["s3:DeleteObject"],
    "sqs:SendMessageBatch": ["sqs:SendMessage"],
    "sqs:DeleteMessageBatch": ["sqs:DeleteMessage"],
    "dynamodb:TransactGetItems": ["dynamodb:GetItem"],
}
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


class Recorder:
    """The IAM actions of every request made while a function's handler runs, by function."""

    def __init__(self) -> None:
        self.actions: dict[str, set[str]] = defaultdict(set)
        self._original: Any = None

    def install(self) -> None:
        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            created = original(session, *args, **kwargs)
            created.meta.events.register("provide-client-params", recorder._on_params)
            return created

        self._original = original
        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    def uninstall(self) -> None:
        botocore.session.Session.create_client = self._original  # type: ignore[method-assign]

    def _on_params(self, params: dict[str, Any], event_name: str, **_: Any) -> None:
        function = _function.get()
        if function is None:
            return
        _, service, operation = event_name.split(".", 2)
        action = f"{_PREFIX.get(service, service)}:{operation}"
        if action == "dynamodb:TransactWriteItems":
            needed = [f"dynamodb:{_TRANSACT[kind]}" for item in params["TransactItems"] for kind in item]
        else:
            needed = _ACTION.get(action, [action])
        self.actions[function].update(needed)

    def wrap(self, function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(event: Any, context: Any) -> Any:
            token = _function.set(function)
            try:
                return handler(event, context)
            finally:
                _function.reset(token)

        return wrapped


def _allowed(transformed: dict[str, Any], function: str) -> set[str]:
    """Every action the function's role allows in some branch of its inline policies."""
    role = transformed["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("Effect") == "Allow" and "Action" in node:
                value = node["Action"]
                actions.update([value] if isinstance(value, str) else value)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(transformed["Resources"][role]["Properties"].get("Policies", []))
    return actions


@pytest.fixture
def recorder(env: Any) -> Iterator[Recorder]:
    rec = Recorder()
    rec.install()
    # Clients made before the hook was installed are made again.
    reset_clients()
    Triggers._reset_caches()
    repo.configure(env.outputs["TableName"])
    triggers = env.stack.triggers
    for function, handler in list(triggers._handlers.items()):
        triggers._handlers[function] = rec.wrap(function, handler)
    try:
        yield rec
    finally:
        rec.uninstall()
        for function, handler in list(triggers._handlers.items()):
            triggers._handlers[function] = getattr(handler, "__wrapped__", handler)
        env.stack.reset()


def test_every_call_of_every_function_is_allowed_by_its_own_role(env, world, recorder):
    from emailpipe.local.api_server import ApiServer

    server = ApiServer(env.stack.info).start()
    server._handler = recorder.wrap("ApiFunction", server._handler)
    _record, key = apikeys.create_key("least-privilege", "write")
    headers = {"Authorization": f"Bearer {key}"}

    def api(method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{server.url}{path}", headers=headers, timeout=30, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    conversation = world.conversation_id
    try:
        # The chat product through the API: a webhook subscriber, a user message, presence, listings.
        api("POST", "/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks", "events": ["message.created"]})
        api("POST", f"/v1/conversations/{conversation}/messages", json={"author": world.user, "text": "Invoice?"})
        api("PUT", f"/v1/agents/{world.online_agent}/presence", json={"online": True})
        api("GET", f"/v1/conversations/{conversation}/messages")
        api("GET", "/v1/inbound")
        env.drain()
    finally:
        server.stop()

    # The agent answers by email with an attachment; the user is notified (the attachment read and attached).
    notification = env.outbox(world.offline_agent)[-1]["raw"]
    reply = message_from_bytes(
        reply_to(notification, world.offline_agent, "Bob", "Refunded, receipt attached.\n\nBob"), policy=policy.default
    )
    reply.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf")
    assert env.deliver(bytes(reply)).status.value == "stored"
    env.drain()
    assert "receipt.pdf" in env.outbox(world.user)[-1]["raw"]

    # A digest window, and a bounce from SES.
    env.api.set_setting("digest_window_seconds", "1")
    env.api.post_message(conversation, world.user, "Thanks, one more question")
    env.drain(wait_for_digests=True)
    bounce = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": world.user}]},
    }
    recorder.wrap("FeedbackFunction", feedback_handler.lambda_handler)(
        {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(bounce)}}]},
        FakeLambdaContext("FeedbackFunction"),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "WebhookFunction" not in recorder.actions:
        env.drain()
        time.sleep(0.1)

    transformed = transform_template(load_template())
    seen = {f for f, actions in recorder.actions.items() if actions}
    assert {"InboundFunction", "NotifierFunction", "DigestFunction", "EventsFunction", "FeedbackFunction"} <= seen
    missing = {
        function: sorted(actions - _allowed(transformed, function))
        for function, actions in recorder.actions.items()
        if actions - _allowed(transformed, function)
    }
    assert missing == {}, f"calls the template's roles do not allow: {missing}"
