"""Mailbox ingress Lambda: on each scheduled event, copy the configured mailbox's new mail into the inbound prefix."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from emailpipe.config import ConfigError, get_config
from emailpipe.ingress import mailbox
from emailpipe.ingress.logic import MailboxClient, PollResult, poll_mailbox
from emailpipe.ingress.settings import MailboxConfigError, MailboxSettings, parse_settings
from emailpipe.observability import count_with_reason, logger, metrics, traced
from emailpipe.store import blobs, mailbox_state, repo

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

MAILBOX_ENV = "MAILBOX_SECRET_ID"
MORE_MAILBOXES_ENV = "MAILBOX_SECRET_IDS"  # more mailboxes (one per inbox, say), comma-separated
# The lease outlives the invocation a little, so a run killed by its timeout frees the mailbox soon after.
_LEASE_MARGIN_SECONDS = 30.0


@cache
def _secret_ids() -> tuple[str, ...]:
    secret_id = os.environ.get(MAILBOX_ENV, "")
    if not secret_id:
        raise ConfigError(f"missing environment variables: {MAILBOX_ENV}")
    more = [name.strip() for name in os.environ.get(MORE_MAILBOXES_ENV, "").split(",") if name.strip()]
    return tuple(dict.fromkeys([secret_id, *more]))


def poll_all(
    secret_ids: Sequence[str], remaining: Callable[[], float], poll: Callable[[str, Callable[[], float]], PollResult]
) -> list[PollResult]:
    """Poll each mailbox in turn, each within a fair share of the time left, so a backlog in one starves no other.

    A mailbox's share is the time left divided by the mailboxes still to poll: what one leaves unused goes to the
    next. Its run stops taking new messages near the end of its share (poll_mailbox's own margin)."""

    def share_of(left: float, share: float) -> Callable[[], float]:
        # `remaining` as the run sees it: the time of its share, ending where the share ends.
        return lambda: share - (left - remaining())

    results = []
    for index, secret_id in enumerate(secret_ids):
        left = remaining()
        results.append(poll(secret_id, share_of(left, left / (len(secret_ids) - index))))
    return results


def run_poll(
    secret_id: str,
    *,
    table_name: str,
    bucket: str,
    inbound_prefix: str,
    remaining: Callable[[], float] | None = None,
    lease_seconds: float = 900.0,
    connect: Callable[[MailboxSettings], MailboxClient] = mailbox.connect,
) -> PollResult:
    """One poll of the mailbox in `secret_id`; the Lambda, `emailpipe mailbox poll` and the tests call this."""
    repo.configure(table_name)
    try:
        settings = parse_settings(mailbox_state.read_secret(secret_id))
    except (GetParameterError, MailboxConfigError) as exc:
        # No mailbox id without valid settings, so nothing to record in the table: the log and metric say it.
        reason = "bad_config" if isinstance(exc, MailboxConfigError) else "secret_unreadable"
        result = PollResult(mailbox_id="-", status="error", error=reason, detail=str(exc)[:300], problems=[reason])
        _report(result)
        return result
    result = poll_mailbox(
        settings,
        connect=lambda: connect(settings),
        store_raw=lambda key, data: blobs.put_object(
            bucket, key, data, "message/rfc822", metadata=settings.object_metadata
        ),
        state=mailbox_state,
        clock=time.time,
        inbound_prefix=inbound_prefix,
        lease_seconds=lease_seconds,
        remaining=remaining,
    )
    _report(result)
    return result


def _report(result: PollResult) -> None:
    if result.copied:
        metrics.add_metric(name="MailboxMessagesCopied", unit=MetricUnit.Count, value=result.copied)
    for reason in result.problems:
        # Counted overall (what the alarm reads; alarms cannot sum over reasons) and by reason.
        count_with_reason("MailboxErrors", reason)
    summary = {k: v for k, v in asdict(result).items() if k != "copied_keys"}
    if result.status == "error":
        logger.error("mailbox poll failed", extra=summary)
    else:
        logger.info("mailbox polled", extra=summary)


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point of the schedule; returns normally after recording any error, so a failure never loops."""
    config = get_config()

    def poll(secret_id: str, remaining: Callable[[], float]) -> PollResult:
        return run_poll(
            secret_id,
            table_name=config.table_name,
            bucket=config.mail_bucket,
            inbound_prefix=config.inbound_prefix,
            remaining=remaining,
            lease_seconds=context.get_remaining_time_in_millis() / 1000 + _LEASE_MARGIN_SECONDS,
        )

    results = poll_all(_secret_ids(), lambda: context.get_remaining_time_in_millis() / 1000, poll)
    summaries = [{k: v for k, v in asdict(result).items() if k != "copied_keys"} for result in results]
    return summaries[0] if len(summaries) == 1 else {"mailboxes": summaries}
