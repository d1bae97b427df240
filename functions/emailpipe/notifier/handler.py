"""Notifier Lambda: DynamoDB stream batch of new messages -> notification emails (or digest windows); a queued
automatic answer -> its one email."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

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
    if image.get("entity", {}).get("S") == "auto_answer":
        _auto_answer(image)
        return
    message = repo.message_from_stream_image(image)
    if message is None:
        return
    count(notify(message, notifier_context()))


def _auto_answer(image: dict[str, Any]) -> None:
    # Imported here: the rare record of this stream (a reply to a closed or archived conversation).
    from emailpipe.notifier.auto_answer import send_auto_answer
    from emailpipe.store.auto_answers import from_stream_image

    queued = from_stream_image(image)
    if queued is None:
        return
    request, claim = queued
    if send_auto_answer(request, notifier_context(), claim=claim).status == "sent":
        metrics.add_metric(name="AutoAnswersSent", unit=MetricUnit.Count, value=1)


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point: a failing record is reported alone; the stream retries it and then sends it to the DLQ."""
    return process_partial_response(event, _record_handler, stream_id)
