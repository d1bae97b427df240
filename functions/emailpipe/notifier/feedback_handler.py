"""Feedback Lambda: SES bounce/complaint notifications via SNS -> the address is marked, sending to it stops."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from emailpipe.config import get_config
from emailpipe.notifier.feedback import feedback_from_ses
from emailpipe.observability import hash_address, logger, metrics, traced
from emailpipe.store import repo


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    """Mark permanently bouncing addresses as bouncing and complainers as unsubscribed."""
    repo.configure(get_config().table_name)
    marked = 0
    for record in event.records:
        for feedback in feedback_from_ses(record.sns.message):
            if repo.get_person(feedback.address) is None:
                continue
            if feedback.kind == "bounce":
                repo.set_bouncing(feedback.address, True)
            else:
                repo.set_email_preferences(feedback.address, unsubscribed=True)
            marked += 1
            logger.info("address marked", extra={"kind": feedback.kind, "address": hash_address(feedback.address)})
            metrics.add_metric(name="AddressesMarked", unit=MetricUnit.Count, value=1)
    return {"marked": marked}
