"""Webhook subscriptions, stored events and delivery attempts; and the reader of the table stream's images.

| entity           | pk                 | sk                  | gsi1pk   | gsi1sk        |
|------------------|--------------------|---------------------|----------|---------------|
| webhook          | WEBHOOK#<id>       | SUBSCRIPTION        | WEBHOOKS | <created iso> |
| webhook_delivery | WEBHOOK#<id>       | DELIVERY#<event id> | -        | -             |
| event            | EVENT#<event id>   | EVENT               | -        | -             |

Events and delivery records expire by the table's TTL (`expires_at`, 30 days): `webhook redeliver` works that long.
None of these entities passes the EventsFunction's stream filter, so storing an event makes no event.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError

from emailpipe.domain.models import Conversation, InboundRecord, Message, Person
from emailpipe.store import repo
from emailpipe.store.models import (
    ConversationItem,
    DeliveryItem,
    InboundItem,
    IndexedItem,
    Item,
    MessageItem,
    PersonItem,
)

EVENT_RETENTION_SECONDS = 30 * 24 * 3600


class WebhookItem(IndexedItem):
    """A webhook subscription: where to POST, the signing secret, which event types, and the last outcome."""

    id = UnicodeAttribute()
    url = UnicodeAttribute()
    secret = UnicodeAttribute()
    events: ListAttribute[Any] = ListAttribute(of=UnicodeAttribute, default=list)
    description = UnicodeAttribute(default="")
    created_at = NumberAttribute(default=0)
    last_status = UnicodeAttribute(null=True)
    last_http_status = NumberAttribute(null=True)
    last_event_id = UnicodeAttribute(null=True)
    last_attempt_at = NumberAttribute(null=True)


class WebhookDeliveryItem(Item):
    """The delivery of one event to one subscription: its latest status and how many attempts so far."""

    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    status = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    http_status = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    updated_at = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)


class EventItem(Item):
    """One event as published: the exact JSON text, so every delivery (and redelivery) signs the same bytes."""

    type = UnicodeAttribute()
    body = UnicodeAttribute()
    created_at = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)


_MODELS = (WebhookItem, WebhookDeliveryItem, EventItem)


def _bind() -> None:
    repo.share_connection(_MODELS)


_iso = repo._iso


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Subscription:
    """A webhook subscription; `events` empty means every event type."""

    id: str
    url: str
    secret: str
    events: tuple[str, ...] = ()
    description: str = ""
    created_at: float = 0.0
    last_status: str | None = None
    last_http_status: int | None = None
    last_event_id: str | None = None
    last_attempt_at: float | None = None

    def wants(self, event_type: str) -> bool:
        """Whether an event of this type goes to this subscription (`message.*` matches a whole family)."""
        if not self.events:
            return True
        family = event_type.split(".", 1)[0] + ".*"
        return event_type in self.events or family in self.events or "*" in self.events


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as it was published."""

    id: str
    type: str
    body: str
    created_at: float


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """The state of one event's delivery to one subscription."""

    subscription_id: str
    event_id: str
    event_type: str
    status: str  # delivered | retrying | failed | blocked | dead
    attempts: int
    http_status: int | None
    error: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class DeliveryImage:
    """A notifier delivery item as the stream shows it: one (message, recipient) send or skip."""

    message_id: str
    recipient: str
    conversation_id: str
    status: str
    error: str | None = None


# ---------------------------------------------------------------- subscriptions


def _subscription_from(item: WebhookItem) -> Subscription:
    return Subscription(
        id=item.id,
        url=item.url,
        secret=item.secret,
        events=tuple(item.events or ()),
        description=item.description or "",
        created_at=float(item.created_at or 0),
        last_status=item.last_status,
        last_http_status=int(item.last_http_status) if item.last_http_status is not None else None,
        last_event_id=item.last_event_id,
        last_attempt_at=float(item.last_attempt_at) if item.last_attempt_at is not None else None,
    )


def put_subscription(subscription: Subscription) -> None:
    """Create a subscription (its id is new)."""
    _bind()
    WebhookItem(
        pk=f"WEBHOOK#{subscription.id}",
        sk="SUBSCRIPTION",
        entity="webhook",
        gsi1pk="WEBHOOKS",
        gsi1sk=_iso(subscription.created_at),
        id=subscription.id,
        url=subscription.url,
        secret=subscription.secret,
        events=list(subscription.events),
        description=subscription.description,
        created_at=subscription.created_at,
    ).save(condition=WebhookItem.pk.does_not_exist())


def get_subscription(subscription_id: str) -> Subscription | None:
    """The subscription, or None."""
    _bind()
    try:
        return _subscription_from(WebhookItem.get(f"WEBHOOK#{subscription_id}", "SUBSCRIPTION"))
    except WebhookItem.DoesNotExist:
        return None


def list_subscriptions() -> list[Subscription]:
    """Every subscription, oldest first."""
    _bind()
    return [_subscription_from(i) for i in WebhookItem.gsi1.query("WEBHOOKS")]


def delete_subscription(subscription_id: str) -> bool:
    """Remove a subscription; False when there was none. Its delivery records expire on their own."""
    _bind()
    try:
        WebhookItem(pk=f"WEBHOOK#{subscription_id}", sk="SUBSCRIPTION").delete(condition=WebhookItem.pk.exists())
    except DeleteError as exc:
        if repo._is_conditional_failure(exc):
            return False
        raise
    return True


# ---------------------------------------------------------------- events


def put_events(events: Sequence[StoredEvent], now: float | None = None) -> None:
    """Store published events (one batch request per 25); a retried stream batch rewrites the same ids."""
    _bind()
    expires = int((now or time.time()) + EVENT_RETENTION_SECONDS)
    with EventItem.batch_write() as batch:
        for event in events:
            batch.save(
                EventItem(
                    pk=f"EVENT#{event.id}",
                    sk="EVENT",
                    entity="event",
                    type=event.type,
                    body=event.body,
                    created_at=event.created_at,
                    expires_at=expires,
                )
            )


def get_event(event_id: str) -> StoredEvent | None:
    """A stored event (kept 30 days), or None."""
    _bind()
    try:
        item = EventItem.get(f"EVENT#{event_id}", "EVENT")
    except EventItem.DoesNotExist:
        return None
    return StoredEvent(event_id, item.type, item.body, float(item.created_at or 0))


# ---------------------------------------------------------------- delivery attempts


def record_attempt(
    subscription_id: str,
    event_id: str,
    event_type: str,
    *,
    status: str,
    http_status: int | None,
    error: str | None,
    now: float,
) -> None:
    """Record one delivery attempt's outcome on the (event, subscription) record and on the subscription."""
    _bind()
    actions: list[Any] = [
        WebhookDeliveryItem.entity.set("webhook_delivery"),
        WebhookDeliveryItem.event_id.set(event_id),
        WebhookDeliveryItem.event_type.set(event_type),
        WebhookDeliveryItem.status.set(status),
        WebhookDeliveryItem.attempts.add(1),
        WebhookDeliveryItem.updated_at.set(now),
        WebhookDeliveryItem.expires_at.set(int(now + EVENT_RETENTION_SECONDS)),
    ]
    actions.append(
        WebhookDeliveryItem.http_status.set(http_status)
        if http_status is not None
        else WebhookDeliveryItem.http_status.remove()
    )
    actions.append(WebhookDeliveryItem.error.set(error[:300]) if error else WebhookDeliveryItem.error.remove())
    WebhookDeliveryItem(pk=f"WEBHOOK#{subscription_id}", sk=f"DELIVERY#{event_id}").update(actions=actions)
    sub_actions: list[Any] = [
        WebhookItem.last_status.set(status),
        WebhookItem.last_event_id.set(event_id),
        WebhookItem.last_attempt_at.set(now),
        WebhookItem.last_http_status.set(http_status)
        if http_status is not None
        else WebhookItem.last_http_status.remove(),
    ]
    try:
        WebhookItem(pk=f"WEBHOOK#{subscription_id}", sk="SUBSCRIPTION").update(
            actions=sub_actions, condition=WebhookItem.pk.exists()
        )
    except Exception as exc:  # the subscription was removed meanwhile: nothing to show the outcome on
        if not repo._is_conditional_failure(exc):
            raise


def _delivery_from(subscription_id: str, item: WebhookDeliveryItem) -> DeliveryRecord:
    return DeliveryRecord(
        subscription_id=subscription_id,
        event_id=item.event_id,
        event_type=item.event_type,
        status=item.status,
        attempts=int(item.attempts or 0),
        http_status=int(item.http_status) if item.http_status is not None else None,
        error=item.error,
        updated_at=float(item.updated_at or 0),
    )


def get_delivery(subscription_id: str, event_id: str) -> DeliveryRecord | None:
    """The delivery record of one event to one subscription, or None."""
    _bind()
    try:
        item = WebhookDeliveryItem.get(f"WEBHOOK#{subscription_id}", f"DELIVERY#{event_id}", consistent_read=True)
    except WebhookDeliveryItem.DoesNotExist:
        return None
    return _delivery_from(subscription_id, item)


def list_deliveries(subscription_id: str, limit: int = 100) -> list[DeliveryRecord]:
    """The delivery records of a subscription, newest first (at most `limit`)."""
    _bind()
    items = WebhookDeliveryItem.query(
        f"WEBHOOK#{subscription_id}", WebhookDeliveryItem.sk.startswith("DELIVERY#"), consistent_read=True
    )
    found = [_delivery_from(subscription_id, i) for i in items]
    return sorted(found, key=lambda d: d.updated_at, reverse=True)[:limit]


# ---------------------------------------------------------------- stream images


def decode_image(image: dict[str, Any]) -> Message | Conversation | Person | InboundRecord | DeliveryImage | None:
    """The domain record in a stream image (NewImage or OldImage), or None for entities that make no event."""
    entity = (image.get("entity") or {}).get("S")
    if entity == "message":
        return repo._message_from(MessageItem.from_raw_data(image))
    if entity == "conversation":
        return repo._conversation_from(ConversationItem.from_raw_data(image))
    if entity == "person":
        return repo._person_from(PersonItem.from_raw_data(image))
    if entity == "inbound":
        return repo._inbound_from(InboundItem.from_raw_data(image))
    if entity == "delivery":
        item = DeliveryItem.from_raw_data(image)
        if not item.pk.startswith("DELIVERY#") or item.pk.startswith("DELIVERY#digest-"):
            return None  # a digest's claim: each of its messages gets a delivery item of its own
        return DeliveryImage(
            message_id=item.pk.removeprefix("DELIVERY#"),
            recipient=item.sk.removeprefix("TO#"),
            conversation_id=item.conversation_id,
            status=item.status,
            error=item.error,
        )
    return None
