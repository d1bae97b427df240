"""WebhookFunction: queued (event, subscription) pairs -> signed POSTs; failures come back with back-off."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emailpipe.batch import process_partial_response, sqs_id
from emailpipe.events import webhooks  # noqa: F401 - imported at init, not on the first delivery
from emailpipe.events.adapters import webhook_context
from emailpipe.events.delivery import deliver
from emailpipe.observability import logger, metrics, traced

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point. A receiver's failure is an expected outcome: its message is reported for retry (visibility
    already set to the back-off) without failing the invocation; only our own errors go through the batch contract."""
    ctx = webhook_context()
    retry: list[dict[str, str]] = []

    def handle(record: dict[str, Any]) -> None:
        if not deliver(record, ctx):
            retry.append({"itemIdentifier": sqs_id(record)})

    result = process_partial_response(event, handle, sqs_id)
    result["batchItemFailures"] = result["batchItemFailures"] + retry
    return result
