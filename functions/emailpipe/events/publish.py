"""EventBridge PutEvents: entries in requests of at most 10, the failed entries of a request retried."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from emailpipe.observability import logger

SOURCE = "emailpipe"
MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
ATTEMPTS = 4


class PublishError(RuntimeError):
    """Some events could not be put on the bus after retries; `failed` holds their ids."""

    def __init__(self, failed: Sequence[str], detail: str) -> None:
        super().__init__(f"{len(failed)} events not published: {detail}")
        self.failed = tuple(failed)


def _entry(bus: str, event: dict[str, Any]) -> dict[str, Any]:
    detail = json.dumps(event)
    if len(detail.encode()) > MAX_REQUEST_BYTES - 1024:
        # Over EventBridge's 256 KB entry limit (a very long message): the bus gets the envelope and
        # `data.truncated`; webhooks (and redeliveries) still get the whole event.
        logger.warning("event too large for the bus; data left out", extra={"event_id": event["id"]})
        detail = json.dumps({**event, "data": {"truncated": True}})
    return {"Source": SOURCE, "DetailType": event["type"], "Detail": detail, "EventBusName": bus}


def _size(entry: dict[str, Any]) -> int:
    # EventBridge's own measure: Source, DetailType and Detail in UTF-8 (plus Time and resources, unused here).
    return sum(len(entry[k].encode()) for k in ("Source", "DetailType", "Detail"))


def _chunks(entries: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[list[tuple[dict[str, Any], dict[str, Any]]]]:
    chunks: list[list[tuple[dict[str, Any], dict[str, Any]]]] = []
    size = 0
    for pair in entries:
        entry_size = _size(pair[1])
        if not chunks or len(chunks[-1]) >= MAX_ENTRIES or size + entry_size > MAX_REQUEST_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(pair)
        size += entry_size
    return chunks


def put_events(
    put: Callable[..., dict[str, Any]],
    bus: str,
    events: Sequence[dict[str, Any]],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Put every event on the bus; entries EventBridge refuses are retried, and PublishError names what is left."""
    pending = [(event, _entry(bus, event)) for event in events]
    for attempt in range(ATTEMPTS):
        failed: list[tuple[dict[str, Any], dict[str, Any]]] = []
        errors: list[str] = []
        for chunk in _chunks(pending):
            response = put(Entries=[entry for _, entry in chunk])
            if not response.get("FailedEntryCount"):
                continue
            for pair, result in zip(chunk, response.get("Entries", []), strict=False):
                if result.get("ErrorCode"):
                    failed.append(pair)
                    errors.append(str(result.get("ErrorCode")))
        if not failed:
            return
        logger.warning("events refused by the bus; retrying", extra={"count": len(failed), "errors": errors[:3]})
        pending = failed
        if attempt + 1 < ATTEMPTS:
            sleep(0.2 * 2**attempt)
    raise PublishError([event["id"] for event, _ in pending], ", ".join(sorted(set(errors))))
