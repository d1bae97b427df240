"""EventsFunction: a DynamoDB stream batch -> events on the bus, stored, and queued for webhook subscribers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emailpipe.batch import BatchFailedError
from emailpipe.events.adapters import events_context
from emailpipe.events.fanout import handle_records
from emailpipe.observability import logger, metrics, traced

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point: the first record that fails is reported with all after it (the stream retries from there)."""
    records = event.get("Records") or []
    failed = handle_records(records, events_context())
    if records and len(failed) == len(records):
        raise BatchFailedError(f"all {len(records)} records of the batch failed")
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
