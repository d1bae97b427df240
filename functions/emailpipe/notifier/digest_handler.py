"""Digest Lambda: a delayed SQS message per open window -> one email with every message collected."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from emailpipe.notifier.adapters import count, notifier_context
from emailpipe.notifier.logic import send_digest
from emailpipe.observability import logger, metrics, traced

processor = BatchProcessor(event_type=EventType.SQS)


def _record_handler(record: SQSRecord) -> None:
    body = json.loads(record.body)
    count([send_digest(body["conversation_id"], body["recipient"], body["window_id"], notifier_context())])


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point: a failed digest is retried by SQS, then dead-lettered."""
    return process_partial_response(event=event, record_handler=_record_handler, processor=processor, context=context)
