"""The WebhookFunction's logic: one queued (event, subscription) pair -> one signed POST -> recorded outcome."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emailpipe.events.webhooks import MAX_ATTEMPTS, Attempt, headers_for, retry_delay
from emailpipe.observability import logger
from emailpipe.store.webhooks import StoredEvent, Subscription


@dataclass(frozen=True, slots=True)
class WebhookContext:
    """The adapters a delivery works with."""

    subscription: Callable[[str], Subscription | None]
    event: Callable[[str], StoredEvent | None]
    record: Callable[..., None]
    post: Callable[[str, bytes, dict[str, str]], Attempt]
    delay: Callable[[str, int], None]  # (receipt handle, seconds): when SQS shows the message again
    clock: Callable[[], float]
    backoff_scale: float = 1.0


def deliver(message: dict[str, Any], ctx: WebhookContext) -> bool:
    """Make one delivery attempt of an SQS message; False when it must be retried (its next visibility is set)."""
    request = json.loads(message["body"])
    subscription_id, event_id = request["subscription_id"], request["event_id"]
    attempt_number = int((message.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
    subscription = ctx.subscription(subscription_id)
    if subscription is None:
        logger.info("webhook subscription removed; delivery dropped", extra={"subscription_id": subscription_id})
        return True
    stored = ctx.event(event_id)
    event_type = stored.type if stored else str(request.get("event_type", ""))
    if stored is None:
        ctx.record(
            subscription_id, event_id, event_type, status="failed", http_status=None, error="event expired",
            now=ctx.clock(),
        )  # fmt: skip
        logger.warning("webhook event expired before delivery", extra={"event_id": event_id})
        return True
    body = stored.body.encode("utf-8")
    now = ctx.clock()
    attempt = ctx.post(subscription.url, body, headers_for(subscription.secret, event_id, int(now), body))
    status = attempt.status
    if status == "retry" and attempt_number >= MAX_ATTEMPTS:
        status = "dead"  # the queue moves it to WebhookDeadLetterQueue on the next receive
    elif status == "retry":
        status = "retrying"
    ctx.record(
        subscription_id, event_id, event_type, status=status, http_status=attempt.http_status, error=attempt.error,
        now=ctx.clock(),
    )  # fmt: skip
    log = {
        "subscription_id": subscription_id,
        "event_id": event_id,
        "status": status,
        "http_status": attempt.http_status,
        "attempt": attempt_number,
    }
    if attempt.status != "retry":
        (logger.info if status == "delivered" else logger.warning)("webhook delivery", extra=log)
        return True
    delay = 0 if status == "dead" else retry_delay(attempt_number, ctx.backoff_scale)
    ctx.delay(message["receiptHandle"], delay)
    logger.warning("webhook delivery failed; retried later", extra={**log, "retry_in": delay, "error": attempt.error})
    return False
