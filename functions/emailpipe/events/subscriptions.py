"""Webhook subscriptions as the API and the CLI manage them (one implementation for both), and redelivery."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from emailpipe.domain.errors import InvalidInputError, NotFoundError
from emailpipe.events.schema import EVENT_TYPES
from emailpipe.events.webhooks import Resolver, UnsafeUrlError, check_url, new_secret, system_resolver
from emailpipe.store import webhooks as store
from emailpipe.store.webhooks import Subscription
from emailpipe.views import iso

_FAMILIES = {t.split(".", 1)[0] + ".*" for t in EVENT_TYPES}


def subscription_view(subscription: Subscription) -> dict[str, Any]:
    """A subscription as the API and CLI show it (never its secret, which is shown once, at creation)."""
    return {
        "id": subscription.id,
        "url": subscription.url,
        "events": list(subscription.events),
        "description": subscription.description,
        "created_at": iso(subscription.created_at),
        "last_delivery": None
        if subscription.last_status is None
        else {
            "status": subscription.last_status,
            "http_status": subscription.last_http_status,
            "event_id": subscription.last_event_id,
            "at": iso(subscription.last_attempt_at),
        },
    }


def delivery_view(delivery: store.DeliveryRecord) -> dict[str, Any]:
    """One event's delivery to one subscription."""
    return {
        "event_id": delivery.event_id,
        "type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "http_status": delivery.http_status,
        "error": delivery.error,
        "updated_at": iso(delivery.updated_at),
    }


def check_event_types(events: Sequence[str]) -> tuple[str, ...]:
    """The event filter, each entry a known type, a family (`message.*`) or `*` (400 naming `events` if not)."""
    cleaned = tuple(dict.fromkeys(e.strip() for e in events if e.strip()))
    unknown = [e for e in cleaned if e not in EVENT_TYPES and e not in _FAMILIES and e != "*"]
    if unknown:
        raise InvalidInputError(
            f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)} (or a family such as message.*)",
            field="events",
        )
    return cleaned


def subscribe(
    url: str,
    events: Sequence[str] = (),
    description: str = "",
    *,
    allow_loopback: bool = False,
    resolve: Resolver = system_resolver,
    clock: Callable[[], float] = time.time,
) -> Subscription:
    """Create a subscription after checking its URL (https, public addresses only); it holds a new secret."""
    try:
        check_url(url, allow_loopback=allow_loopback, resolve=resolve)
    except UnsafeUrlError as exc:
        raise InvalidInputError(f"url: {exc}", field="url") from exc
    subscription = Subscription(
        id="wh_" + secrets.token_hex(8),
        url=url.strip(),
        secret=new_secret(),
        events=check_event_types(events),
        description=description.strip()[:200],
        created_at=clock(),
    )
    store.put_subscription(subscription)
    return subscription


def get(subscription_id: str) -> Subscription:
    """The subscription (NotFoundError when there is none)."""
    found = store.get_subscription(subscription_id)
    if found is None:
        raise NotFoundError(f"no webhook subscription {subscription_id}")
    return found


def remove(subscription_id: str) -> None:
    """Remove a subscription; deliveries still queued for it are dropped."""
    if not store.delete_subscription(subscription_id):
        raise NotFoundError(f"no webhook subscription {subscription_id}")


def redeliver(
    event_id: str, send: Callable[[Sequence[dict[str, Any]]], None], subscription_id: str | None = None
) -> list[str]:
    """Queue a stored event again (same id, so receivers dedupe) for one or every matching subscription."""
    event = store.get_event(event_id)
    if event is None:
        raise NotFoundError(f"no stored event {event_id} (events are kept 30 days)")
    targets = (
        [get(subscription_id)] if subscription_id else [s for s in store.list_subscriptions() if s.wants(event.type)]
    )
    messages = [{"event_id": event.id, "event_type": event.type, "subscription_id": s.id} for s in targets]
    if messages:
        send(messages)
    return [s.id for s in targets]
