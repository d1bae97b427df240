"""Feedback Lambda: SES bounce/complaint notifications via SNS -> the address is marked, sending to it stops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from emailpipe.config import get_config
from emailpipe.notifier.feedback import feedback_from_ses
from emailpipe.observability import hash_address, logger, metrics, traced
from emailpipe.store import repo

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Mark permanently bouncing addresses as bouncing and complainers as unsubscribed."""
    repo.configure(get_config().table_name)
    marked = 0
    for record in event.get("Records") or []:
        for feedback in feedback_from_ses(record["Sns"]["Message"]):
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
