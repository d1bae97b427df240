"""Partial batch responses for the SQS and DynamoDB-stream triggers (`ReportBatchItemFailures` in template.yaml).

This is the contract of powertools' `BatchProcessor` + `process_partial_response`, kept to the two event sources we
use. We do not import powertools' batch utility because its import costs about 30 ms of every cold start on the
2-core bench machine (it loads asyncio and every one of powertools' event data classes; see benchmarks/RESULTS.md),
which alone is a fifth of `import boto3` and would put the handlers over the issue's 1.5× cold-start budget.

Behaviour, as powertools has it:
- each record is handled on its own; a record that raises is logged and reported in `batchItemFailures` (SQS by
  `messageId`, a stream by `dynamodb.SequenceNumber`), so only it is retried and then dead-lettered;
- when every record of a batch fails, the invocation itself fails (the function's Errors metric and alarm see it),
  and the whole batch is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emailpipe.observability import logger

Record = dict[str, Any]


class BatchFailedError(Exception):
    """Every record of a batch failed; the first error is the cause."""


def sqs_id(record: Record) -> str:
    """The identifier SQS expects back for a failed message."""
    return str(record["messageId"])


def stream_id(record: Record) -> str:
    """The identifier a DynamoDB stream expects back for a failed record: its sequence number."""
    return str(record["dynamodb"]["SequenceNumber"])


def process_partial_response(
    event: dict[str, Any], handle: Callable[[Record], object], item_id: Callable[[Record], str]
) -> dict[str, Any]:
    """Handle each record of `event`; report the ones that raised so that only they are retried."""
    records: list[Record] = event.get("Records") or []
    failures: list[dict[str, str]] = []
    first_error: Exception | None = None
    for record in records:
        try:
            handle(record)
        except Exception as exc:  # one bad record must not take the others down with it
            logger.exception("record failed; it alone is retried", extra={"item_id": item_id(record)})
            failures.append({"itemIdentifier": item_id(record)})
            first_error = first_error or exc
    if records and len(failures) == len(records):
        raise BatchFailedError(f"all {len(records)} records of the batch failed") from first_error
    return {"batchItemFailures": failures}
