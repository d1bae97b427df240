"""Notifier Lambda: DynamoDB stream batch of new messages -> notification emails through SES."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from emailpipe.aws import client
from emailpipe.config import get_config
from emailpipe.notifier.logic import NotifierContext, PermanentSendError, notify
from emailpipe.observability import logger, metrics
from emailpipe.store import keys, repo

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

# SES answers that will not change on retry.
_PERMANENT = {
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "SendingPausedException",
    "BadRequestException",
    "NotFoundException",
}


def send_raw(piping_address: str, raw: bytes, recipient: str) -> str:
    """Send one raw email to one recipient through SES v2 (botocore retries throttling with backoff)."""
    try:
        response = client("sesv2").send_email(
            FromEmailAddress=piping_address,
            Destination={"ToAddresses": [recipient]},
            Content={"Raw": {"Data": raw}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _PERMANENT:
            raise PermanentSendError(exc.response["Error"].get("Code", "")) from exc
        raise
    return str(response.get("MessageId", ""))


@cache
def _context() -> NotifierContext:
    config = get_config()
    repo.configure(config.table_name)
    return NotifierContext(
        piping_address=config.piping_address,
        brand_name=config.brand_name,
        keys=lambda: keys.token_keys(config.token_secret_id),
        send=lambda raw, recipient: send_raw(config.piping_address, raw, recipient),
        clock=time.time,
    )


def _record_handler(record: DynamoDBRecord) -> None:
    image = (record.raw_event.get("dynamodb") or {}).get("NewImage") or {}
    if record.raw_event.get("eventName") != "INSERT":
        return
    message = repo.message_from_stream_image(image)
    if message is None:
        return
    for delivery in notify(message, _context()):
        if delivery.status == "sent":
            metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=1)
        elif delivery.status == "failed":
            metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point: a failing record is reported alone; the stream retries it and then sends it to the DLQ."""
    return process_partial_response(event=event, record_handler=_record_handler, processor=processor, context=context)
