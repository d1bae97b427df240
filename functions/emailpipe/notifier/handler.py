"""Notifier Lambda: DynamoDB stream batch of new messages -> notification emails (or digest windows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emailpipe.batch import process_partial_response, stream_id
from emailpipe.notifier.adapters import count, notifier_context
from emailpipe.notifier.logic import notify
from emailpipe.observability import logger, metrics, traced
from emailpipe.store import repo

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def _record_handler(record: dict[str, Any]) -> None:
    if record.get("eventName") != "INSERT":
        return
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    message = repo.message_from_stream_image(image)
    if message is None:
        return
    count(notify(message, notifier_context()))


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point: a failing record is reported alone; the stream retries it and then sends it to the DLQ."""
    return process_partial_response(event, _record_handler, stream_id)
