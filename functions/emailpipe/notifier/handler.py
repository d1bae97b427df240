"""Notifier Lambda: DynamoDB stream batch of new messages -> notification emails (or digest windows)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from emailpipe.notifier.adapters import count, notifier_context
from emailpipe.notifier.logic import notify
from emailpipe.observability import logger, metrics, traced
from emailpipe.store import repo

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _record_handler(record: DynamoDBRecord) -> None:
    if record.raw_event.get("eventName") != "INSERT":
        return
    image = (record.raw_event.get("dynamodb") or {}).get("NewImage") or {}
    message = repo.message_from_stream_image(image)
    if message is None:
        return
    count(notify(message, notifier_context()))


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point: a failing record is reported alone; the stream retries it and then sends it to the DLQ."""
    return process_partial_response(event=event, record_handler=_record_handler, processor=processor, context=context)
