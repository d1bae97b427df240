"""Digest Lambda: a delayed SQS message per open window -> one email with every message collected."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from emailpipe.batch import process_partial_response, sqs_id
from emailpipe.notifier.adapters import count, notifier_context
from emailpipe.notifier.logic import send_digest
from emailpipe.observability import logger, metrics, traced

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def _record_handler(record: dict[str, Any]) -> None:
    body = json.loads(record["body"])
    count([send_digest(body["conversation_id"], body["recipient"], body["window_id"], notifier_context())])


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point: a failed digest is retried by SQS, then dead-lettered."""
    return process_partial_response(event, _record_handler, sqs_id)
