"""Feedback Lambda: SES bounce/complaint notifications via SNS -> the address is marked, sending to it stops."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from emailpipe.config import get_config
from emailpipe.domain.bounces import BounceEvidence
from emailpipe.notifier.feedback import Feedback, feedback_from_ses
from emailpipe.observability import hash_address, logger, metrics, traced
from emailpipe.store import bounces, repo

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Mark permanently bouncing addresses as bouncing (with SES's ids as evidence) and complainers as unsubscribed;
    a delivery lifts a bouncing mark set before it."""
    repo.configure(get_config().table_name)
    marked = cleared = 0
    for record in event.get("Records") or []:
        for feedback in feedback_from_ses(record["Sns"]["Message"]):
            if feedback.kind == "delivery":
                cleared += _clear_on_delivery(feedback)
                continue
            if repo.get_person(feedback.address) is None:
                continue
            if feedback.kind == "bounce":
                bounces.mark_bouncing(feedback.address, _evidence(feedback))
            else:
                repo.set_email_preferences(feedback.address, unsubscribed=True)
            marked += 1
            logger.info("address marked", extra={"kind": feedback.kind, "address": hash_address(feedback.address)})
            metrics.add_metric(name="AddressesMarked", unit=MetricUnit.Count, value=1)
    return {"marked": marked, "cleared": cleared} if cleared else {"marked": marked}


def _evidence(feedback: Feedback) -> BounceEvidence:
    return BounceEvidence(
        source="ses_feedback",
        marked_at=time.time(),
        notification_message_id=feedback.mail_message_id,
        ses_message_id=feedback.ses_message_id,
        feedback_id=feedback.feedback_id,
        status=feedback.status,
    )


def _clear_on_delivery(feedback: Feedback) -> int:
    """Lift the address's bouncing mark when this delivery succeeded after the mark was set; 1 when it did."""
    evidence = bounces.get_bounce_evidence(feedback.address)
    if evidence is None or evidence.cleared_at is not None:
        return 0
    delivered_at = feedback.at or time.time()
    if delivered_at <= evidence.marked_at:
        return 0  # a delivery that SES finished before the bounce was recorded says nothing newer
    if not bounces.clear_bouncing(feedback.address, delivered_at, "delivery", feedback.ses_message_id):
        return 0
    logger.info("bouncing mark cleared by a delivery", extra={"address": hash_address(feedback.address)})
    metrics.add_metric(name="BouncingCleared", unit=MetricUnit.Count, value=1)
    return 1
