"""The event types and the one builder that turns a DynamoDB stream record into an event (or into nothing).

Every write path (inbound, the API, the CLI, the notifier, SES feedback) changes the table, so the table's stream
(NEW_AND_OLD_IMAGES) is the single source of events. An event is
`{"id": "evt_…", "type", "timestamp", "version", "data"}`; docs/events.schema.json is its JSON Schema. The id is
derived from the stream record's eventID, so a retried stream batch yields the same ids (receivers dedupe by it).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from emailpipe.domain.models import Conversation, InboundRecord, Message, Person
from emailpipe.store.webhooks import DeliveryImage
from emailpipe.views import conversation_view, inbound_view, iso, message_view, person_view

VERSION = 1

MESSAGE_CREATED = "message.created"
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
INBOUND_STORED = "inbound.stored"
INBOUND_REJECTED = "inbound.rejected"
INBOUND_QUARANTINED = "inbound.quarantined"
NOTIFICATION_SENT = "notification.sent"
NOTIFICATION_SKIPPED = "notification.skipped"
NOTIFICATION_FAILED = "notification.failed"
PERSON_BOUNCING = "person.bouncing"

EVENT_TYPES = (
    MESSAGE_CREATED,
    CONVERSATION_CREATED,
    CONVERSATION_UPDATED,
    INBOUND_STORED,
    INBOUND_REJECTED,
    INBOUND_QUARANTINED,
    NOTIFICATION_SENT,
    NOTIFICATION_SKIPPED,
    NOTIFICATION_FAILED,
    PERSON_BOUNCING,
)

# The conversation fields whose change is a `conversation.updated` (the view's fields less the immutable ones).
_CONVERSATION_FIELDS = ("subject", "department", "assigned_agent", "status", "user")


Image = Message | Conversation | Person | InboundRecord | DeliveryImage


def event_id(stream_event_id: str, event_type: str) -> str:
    """`evt_` + 26 base32 characters of a hash of the stream record's id: the same record, the same event id."""
    digest = hashlib.sha256(f"{stream_event_id}:{event_type}".encode()).digest()
    return "evt_" + base64.b32encode(digest).decode("ascii")[:26].lower()


def make_event(event_type: str, source_id: str, timestamp: float, data: dict[str, Any]) -> dict[str, Any]:
    """An event body (the JSON published to the bus and POSTed to webhooks)."""
    return {
        "id": event_id(source_id, event_type),
        "type": event_type,
        "timestamp": iso(timestamp),
        "version": VERSION,
        "data": data,
    }


def build_event(
    record: dict[str, Any],
    decode: Callable[[dict[str, Any]], Image | None],
    conversation_of: Callable[[str], Conversation | None],
) -> dict[str, Any] | None:
    """The event a stream record stands for, or None (a write nobody subscribes to, or no change worth telling).

    `decode` turns a stream image into a domain record (the store's reader); `conversation_of` reads a conversation
    for `message.created`, whose data carries it.
    """
    name = record.get("eventName")
    if name not in ("INSERT", "MODIFY"):
        return None
    stream = record.get("dynamodb") or {}
    new = decode(stream.get("NewImage") or {})
    if new is None:
        return None
    old = decode(stream["OldImage"]) if name == "MODIFY" and stream.get("OldImage") else None
    when = float(stream.get("ApproximateCreationDateTime") or 0)
    source_id = str(record.get("eventID") or stream.get("SequenceNumber") or "")
    built = _typed(new, old, conversation_of)
    if built is None:
        return None
    event_type, data, fallback_time = built
    return make_event(event_type, source_id, when or fallback_time, data)


def _typed(
    new: Image, old: Image | None, conversation_of: Callable[[str], Conversation | None]
) -> tuple[str, dict[str, Any], float] | None:
    if isinstance(new, Message):
        if old is not None:
            return None  # a message is written once; a re-write is not a new message
        conversation = conversation_of(new.conversation_id)
        data = {"message": message_view(new), "conversation": conversation_view(conversation) if conversation else None}
        return MESSAGE_CREATED, data, new.created_at
    if isinstance(new, Conversation):
        if not isinstance(old, Conversation):
            return CONVERSATION_CREATED, {"conversation": conversation_view(new)}, new.created_at
        before, after = conversation_view(old), conversation_view(new)
        changes = {f: {"old": before[f], "new": after[f]} for f in _CONVERSATION_FIELDS if before[f] != after[f]}
        if not changes:
            return None
        return CONVERSATION_UPDATED, {"conversation": after, "changes": changes}, 0.0
    if isinstance(new, InboundRecord):
        if isinstance(old, InboundRecord) and (old.status, old.reason) == (new.status, new.reason):
            return None
        return f"inbound.{new.status.value}", {"inbound": inbound_view(new), "reason": new.reason}, new.received_at
    if isinstance(new, Person):
        if new.bouncing and not (isinstance(old, Person) and old.bouncing):
            return PERSON_BOUNCING, {"person": person_view(new)}, 0.0
        return None
    if isinstance(new, DeliveryImage):
        return _notification(new, old if isinstance(old, DeliveryImage) else None)
    return None


def _notification(new: DeliveryImage, old: DeliveryImage | None) -> tuple[str, dict[str, Any], float] | None:
    if old is not None and old.status == new.status:
        return None
    data: dict[str, Any] = {
        "message_id": new.message_id,
        "conversation_id": new.conversation_id,
        "recipient": new.recipient,
    }
    if new.status == "sent":
        return NOTIFICATION_SENT, data, 0.0
    if new.status.startswith("skipped_"):
        return NOTIFICATION_SKIPPED, {**data, "reason": new.status.removeprefix("skipped_")}, 0.0
    if new.status in ("failed", "failed_permanent"):
        # A transient failure is retried by the notifier (a later notification.sent may follow); a permanent one
        # (SES refused the address) is final.
        permanent = new.status == "failed_permanent"
        return NOTIFICATION_FAILED, {**data, "permanent": permanent, "error": new.error if permanent else None}, 0.0
    return None  # "sending": a claim, not an outcome
