"""The events and webhook functions' connections to AWS (built once per cold start)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from emailpipe.aws import client
from emailpipe.events.fanout import EventsContext
from emailpipe.events.publish import put_events
from emailpipe.events.settings import EventsSettings, events_settings
from emailpipe.observability import metrics
from emailpipe.store import repo
from emailpipe.store import webhooks as store

if TYPE_CHECKING:
    from emailpipe.events.delivery import WebhookContext

_subscriptions: dict[str, Any] = {}


def cached_subscriptions(max_age: float, now: float | None = None) -> Sequence[store.Subscription]:
    """The subscription list, read again when older than `max_age` seconds (a small table read per batch saved)."""
    now = time.monotonic() if now is None else now
    if max_age <= 0 or "at" not in _subscriptions or now - _subscriptions["at"] > max_age:
        _subscriptions["items"] = store.list_subscriptions()
        _subscriptions["at"] = now
    items: Sequence[store.Subscription] = _subscriptions["items"]
    return items


def reset() -> None:
    """Forget cached state (the local stack re-provisions between tests)."""
    _subscriptions.clear()
    events_context.cache_clear()
    webhook_context.cache_clear()
    events_settings.cache_clear()


def send_deliveries(queue_url: str, messages: Sequence[dict[str, Any]]) -> None:
    """Queue delivery requests, ten per SendMessageBatch; a message SQS refuses is sent again, then it raises."""
    sqs = client("sqs")
    for start in range(0, len(messages), 10):
        chunk = {str(i): m for i, m in enumerate(messages[start : start + 10])}
        for _attempt in range(3):
            response = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": k, "MessageBody": json.dumps(m)} for k, m in chunk.items()],
            )
            chunk = {f["Id"]: chunk[f["Id"]] for f in response.get("Failed", [])}
            if not chunk:
                break
        else:
            raise RuntimeError(f"{len(chunk)} webhook deliveries could not be queued")
    metrics.add_metric(name="WebhooksQueued", unit=MetricUnit.Count, value=len(messages))


def _publish(settings: EventsSettings, events: Sequence[dict[str, Any]]) -> None:
    assert settings.event_bus_name is not None
    put_events(client("events").put_events, settings.event_bus_name, events)
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(events))


@cache
def events_context() -> EventsContext:
    """The EventsFunction's adapters."""
    settings = events_settings()
    repo.configure(settings.table_name)
    queue = settings.webhook_queue_url
    return EventsContext(
        decode=store.decode_image,
        conversation_of=repo.get_conversation,
        store_events=store.put_events,
        publish=(lambda events: _publish(settings, events)) if settings.event_bus_name else None,
        subscriptions=lambda: cached_subscriptions(settings.subscription_cache_seconds),
        enqueue=(lambda messages: send_deliveries(queue, messages)) if queue else None,
    )


def _delay(queue_url: str, receipt_handle: str, seconds: int) -> None:
    client("sqs").change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=int(seconds)
    )


def _record(*args: Any, **kwargs: Any) -> None:
    store.record_attempt(*args, **kwargs)
    status = kwargs.get("status")
    name = {"delivered": "WebhooksDelivered", "retrying": "WebhookRetries"}.get(str(status), "WebhooksFailed")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


@cache
def webhook_context() -> WebhookContext:
    """The WebhookFunction's adapters (the delivery modules are imported here: the events function needs none)."""
    from emailpipe.events import webhooks
    from emailpipe.events.delivery import WebhookContext

    settings = events_settings()
    repo.configure(settings.table_name)
    queue = settings.webhook_queue_url
    if queue is None:
        from emailpipe.config import ConfigError

        raise ConfigError("missing environment variables: WEBHOOK_QUEUE_URL")
    return WebhookContext(
        subscription=store.get_subscription,
        event=store.get_event,
        record=_record,
        post=lambda url, body, headers: webhooks.post(url, body, headers, allow_loopback=settings.allow_loopback),
        delay=lambda handle, seconds: _delay(queue, handle, seconds),
        clock=time.time,
        backoff_scale=settings.backoff_scale,
    )


def move_dead_letters(dead_letter_url: str, queue_url: str, limit: int = 10_000) -> int:
    """Send every dead-lettered delivery back to the webhook queue (a fresh message: eight attempts again)."""
    sqs = client("sqs")
    moved = 0
    while moved < limit:
        messages = sqs.receive_message(
            QueueUrl=dead_letter_url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved
