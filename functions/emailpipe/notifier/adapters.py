"""The notifier's connections to AWS: SES sending, the digest delay queue, attachment links (built once)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from functools import cache

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from emailpipe.aws import client
from emailpipe.config import Config, get_config
from emailpipe.notifier.logic import Delivery, NotifierContext, PermanentSendError
from emailpipe.observability import metrics
from emailpipe.store import blobs, keys, repo

# SES answers that will not change on retry.
_PERMANENT = {
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "SendingPausedException",
    "BadRequestException",
    "NotFoundException",
}
_MAX_SQS_DELAY = 900


def send_raw(config: Config, raw: bytes, recipient: str, from_address: str | None = None) -> str:
    """Send one raw email to one recipient through SES v2 (botocore retries throttling with back-off)."""
    request = {
        "FromEmailAddress": from_address or config.piping_address,
        "Destination": {"ToAddresses": [recipient]},
        "Content": {"Raw": {"Data": raw}},
    }
    if config.configuration_set:
        request["ConfigurationSetName"] = config.configuration_set
    try:
        response = client("sesv2").send_email(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _PERMANENT:
            raise PermanentSendError(exc.response["Error"].get("Code", "")) from exc
        raise
    return str(response.get("MessageId", ""))


def schedule_digest(config: Config, conversation_id: str, recipient: str, window_id: str, delay: int) -> None:
    """Ask for the digest to be sent after `delay` seconds, through the SQS delay queue (no Lambda waits)."""
    assert config.digest_queue_url is not None
    body = {"conversation_id": conversation_id, "recipient": recipient, "window_id": window_id}
    client("sqs").send_message(
        QueueUrl=config.digest_queue_url,
        MessageBody=json.dumps(body),
        DelaySeconds=max(0, min(int(delay), _MAX_SQS_DELAY)),
    )


@cache
def notifier_context() -> NotifierContext:
    """The notifier's adapters, built once per cold start."""
    config = get_config()
    repo.configure(config.table_name)
    return NotifierContext(
        piping_address=config.piping_address,
        brand_name=config.brand_name,
        keys=lambda: keys.token_keys(config.token_secret_id),
        send=lambda raw, recipient, from_address: send_raw(config, raw, recipient, from_address),
        clock=time.time,
        schedule_digest=((lambda c, r, w, d: schedule_digest(config, c, r, w, d)) if config.digest_queue_url else None),
        presign=lambda key, seconds, filename=None, active=False: blobs.presigned_url(
            config.mail_bucket, key, seconds, filename=filename, active=active
        ),
        read_attachment=lambda key: blobs.read_object(config.mail_bucket, key, 10 * 1024 * 1024),
        full_text=lambda message: blobs.full_text(config.mail_bucket, message),
    )


def count(deliveries: Iterable[Delivery]) -> None:
    """One metric per business outcome."""
    for delivery in deliveries:
        if delivery.status == "sent":
            metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=1)
            if delivery.latency is not None:
                # Chat message written -> email accepted by SES; includes any digest window by design.
                metrics.add_metric(name="EndToEndLatency", unit=MetricUnit.Milliseconds, value=delivery.latency * 1000)
        elif delivery.status == "failed":
            metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)
