"""Inbound Lambda: SQS batch of S3 'object created' events -> one recorded outcome per email."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit

from emailpipe.batch import process_partial_response, sqs_id
from emailpipe.config import get_config
from emailpipe.domain.models import InboundRecord, Outcome
from emailpipe.inbound.logic import InboundContext, process_email
from emailpipe.mail.parse import MAX_EMAIL_BYTES
from emailpipe.observability import count_with_reason, logger, metrics, traced
from emailpipe.store import blobs, keys, repo

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def _context(from_mailbox: bool = False) -> InboundContext:
    config = get_config()
    repo.configure(config.table_name)
    context = InboundContext(
        piping_address=config.piping_address,
        attachment_prefix=config.attachment_prefix,
        keys=lambda: keys.token_keys(config.token_secret_id),
        put_attachment=lambda key, data, content_type: blobs.put_object(config.mail_bucket, key, data, content_type),
        clock=time.time,
        brand_name=config.brand_name,
    )
    if not from_mailbox:
        return context
    # Mail copied from a mailbox (ingress/) carries its provider's Authentication-Results, not SES's block.
    authserv_ids = os.environ.get("MAILBOX_TRUSTED_AUTHSERV_IDS", "").split(",")
    return replace(context, ses_ingress=False, trusted_authserv_ids=tuple(a.strip() for a in authserv_ids if a.strip()))


def handle_s3_object(bucket: str, key: str) -> InboundRecord:
    """Process one stored email; the same function serves the Lambda, `emailpipe redrive` and the local stack."""
    from_mailbox = key.startswith(f"{get_config().inbound_prefix}mailbox/")
    ctx = _context(from_mailbox)
    # The object name SES writes is its message id: the correlation id across logs, metrics and the outcome.
    logger.set_correlation_id(key.rsplit("/", 1)[-1])
    logger.append_keys(s3_key=key)
    try:
        raw, metadata = blobs.read_object_with_metadata(bucket, key, MAX_EMAIL_BYTES)
        # A polled mailbox may belong to one inbox: the ingress writes it into its copies' metadata.
        mailbox_inbox = (metadata.get("emailpipe-inbox") or None) if from_mailbox else None
    except blobs.TooLargeError as exc:
        record = InboundRecord(
            s3_key=key,
            status=Outcome.REJECTED,
            reason="too_large",
            received_at=ctx.clock(),
            details={"size": str(exc.size)},
        )
        repo.record_outcome(record)
    except Exception as exc:
        # The raw mail could not be read (S3 failing, throttling, the network): recorded at once like a failure
        # further on, so that the email has an outcome while SQS retries it, and `redrive` works once in the DLQ.
        _record_failure(key, ctx.clock(), exc)
        raise
    else:
        try:
            record = process_email(raw, key, ctx, mailbox_inbox)
        except Exception as exc:
            _record_failure(key, ctx.clock(), exc)
            raise  # SQS retries (then dead-letters) it; the outcome already says why it is not posted yet
    _count(record)
    logger.info(
        "inbound email processed",
        extra={
            "status": record.status.value,
            "reason": record.reason,
            "matched_by": record.matched_by,
            "conversation_id": record.conversation_id,
            "sender": record.sender_hash,
        },
    )
    return record


def _record_failure(key: str, now: float, exc: Exception) -> None:
    """Give an email whose processing raised an outcome at once, so none is ever without one (`redrive` works)."""
    record = InboundRecord(
        s3_key=key,
        status=Outcome.QUARANTINED,
        reason="processing_failed",
        received_at=now,
        details={"error": type(exc).__name__},
    )
    try:
        repo.record_outcome(record)
    except Exception:  # the store itself is failing: the retry will try again
        logger.exception("outcome of a failed email not recorded")


def _count(record: InboundRecord) -> None:
    metrics.add_metric(name="EmailsReceived", unit=MetricUnit.Count, value=1)
    if record.status is Outcome.STORED:
        metrics.add_metric(name="MessagesStored", unit=MetricUnit.Count, value=1)
        return
    name = "EmailsRejected" if record.status is Outcome.REJECTED else "EmailsQuarantined"
    count_with_reason(name, record.reason)


def _record_handler(record: dict[str, Any]) -> None:
    body: dict[str, Any] = json.loads(record["body"])
    if body.get("Event") == "s3:TestEvent":
        return
    for s3_record in body.get("Records", []):
        s3 = s3_record["s3"]
        handle_s3_object(s3["bucket"]["name"], unquote_plus(s3["object"]["key"]))


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point: a failed email is reported alone and retried by SQS, then dead-lettered."""
    return process_partial_response(event, _record_handler, sqs_id)
