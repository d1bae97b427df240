"""The EventsFunction's logic: stream records -> events -> stored, put on the bus, queued for each subscriber."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from emailpipe.domain.models import Conversation
from emailpipe.events.publish import PublishError
from emailpipe.events.schema import Image, build_event
from emailpipe.observability import logger
from emailpipe.store.webhooks import StoredEvent, Subscription


@dataclass(frozen=True, slots=True)
class EventsContext:
    """The adapters the fan-out works with (the handler builds the real ones; tests may pass others)."""

    decode: Callable[[dict[str, Any]], Image | None]
    conversation_of: Callable[[str], Conversation | None]
    store_events: Callable[[Sequence[StoredEvent]], None]
    publish: Callable[[Sequence[dict[str, Any]]], None] | None
    subscriptions: Callable[[], Sequence[Subscription]]
    enqueue: Callable[[Sequence[dict[str, Any]]], None] | None


def body_of(event: dict[str, Any]) -> str:
    """The one JSON text of an event: stored, signed and POSTed as is."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def deliveries_for(event: dict[str, Any], subscriptions: Sequence[Subscription]) -> list[dict[str, Any]]:
    """One webhook-queue message per subscription that wants this event type."""
    return [
        {"event_id": event["id"], "event_type": event["type"], "subscription_id": s.id}
        for s in subscriptions
        if s.wants(event["type"])
    ]


def handle_records(records: Sequence[dict[str, Any]], ctx: EventsContext) -> list[str]:
    """Turn a stream batch into events; the sequence numbers to retry (the first failed record and all after it).

    A stream retries from the first failed record, and event ids are deterministic per record, so the events of
    a retried record come out with the ids they had (the bus and webhook receivers dedupe by id).
    """
    events: list[tuple[int, dict[str, Any]]] = []
    failed_from = len(records)
    for index, record in enumerate(records):
        try:
            event = build_event(record, ctx.decode, ctx.conversation_of)
        except Exception:  # a record we cannot read: it and the ones after it are retried, then dead-lettered
            logger.exception("stream record not turned into an event", extra={"item_id": _sequence(record)})
            failed_from = index
            break
        if event is not None:
            events.append((index, event))
    if events:
        now = time.time()
        ctx.store_events([StoredEvent(e["id"], e["type"], body_of(e), now) for _, e in events])
        if ctx.publish is not None:
            try:
                ctx.publish([e for _, e in events])
            except PublishError as exc:
                logger.exception("events not published; their records are retried")
                unpublished = set(exc.failed)
                failed_from = min([failed_from] + [i for i, e in events if e["id"] in unpublished])
        ready = [e for i, e in events if i < failed_from]
        if ready and ctx.enqueue is not None:
            subscriptions = ctx.subscriptions()
            messages = [m for e in ready for m in deliveries_for(e, subscriptions)]
            if messages:
                ctx.enqueue(messages)
        for event in ready:
            logger.info("event published", extra={"event_id": event["id"], "type": event["type"]})
    return [_sequence(r) for r in records[failed_from:]]


def _sequence(record: dict[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
