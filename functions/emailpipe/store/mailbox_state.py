"""State of mailbox ingress in DynamoDB (lease, status, one item per message) and the mailbox secret.

Per mailbox (pk `MAILBOX#<id>`): `STATUS` (UIDVALIDITY, UID high-water mark, last run, last error, counts),
`LEASE` (the one run polling it) and one item per message seen (`UID#<uidvalidity>#<uid, 10 digits>` for IMAP,
`UIDL#<uidl>` for POP3) whose status moves copying -> copied -> done, or ends as skipped, error or failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.update import Action

from emailpipe.aws import client
from emailpipe.store.models import MailboxLeaseItem, MailboxMessageItem, MailboxStatusItem

_CONDITIONAL_FAILED = "ConditionalCheckFailedException"
# A password change should take effect within a minute or two, not after a long cache.
_SECRET_MAX_AGE_SECONDS = 60
_DETAIL_CHARS = 300


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    """The recorded state of one mailbox."""

    mailbox_id: str
    uidvalidity: str | None = None
    last_uid: int = 0
    last_run: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    last_error_detail: str | None = None
    last_error_at: float | None = None
    consecutive_errors: int = 0
    copied_total: int = 0
    skipped_total: int = 0
    last_copied: int = 0
    last_skipped: int = 0
    last_failed: int = 0
    pending: int = 0


@dataclass(frozen=True, slots=True)
class MessageState:
    """The recorded state of one message of a mailbox."""

    key: str
    status: str
    attempts: int = 0
    updated_at: float = 0.0
    s3_key: str | None = None
    reason: str | None = None


def _pk(mailbox_id: str) -> str:
    return f"MAILBOX#{mailbox_id}"


def _conditional_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == _CONDITIONAL_FAILED


# ---------------------------------------------------------------- secret


@cache
def _provider() -> SecretsProvider:
    return SecretsProvider(boto3_client=client("secretsmanager"))


def read_secret(secret_id: str) -> str:
    """The mailbox secret's JSON text (cached briefly, like every powertools parameter)."""
    return str(_provider().get(secret_id, max_age=_SECRET_MAX_AGE_SECONDS))


def reset() -> None:
    """Forget the secrets provider and its cache (a new endpoint, e.g. a new local stack)."""
    _provider.cache_clear()


# ---------------------------------------------------------------- lease


def acquire_lease(mailbox_id: str, owner: str, now: float, seconds: float) -> bool:
    """Take the mailbox for `seconds` unless another run holds an unexpired lease; True when taken."""
    item = MailboxLeaseItem(
        pk=_pk(mailbox_id), sk="LEASE", entity="mailbox_lease", owner=owner, expires_at=int(now + seconds)
    )
    try:
        item.save(condition=MailboxLeaseItem.pk.does_not_exist() | (MailboxLeaseItem.expires_at < int(now)))
    except PutError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True


def release_lease(mailbox_id: str, owner: str) -> None:
    """Give the mailbox back, unless the lease expired and another run took it meanwhile."""
    try:
        MailboxLeaseItem(pk=_pk(mailbox_id), sk="LEASE").delete(condition=MailboxLeaseItem.owner == owner)
    except DeleteError as exc:
        if not _conditional_failed(exc):
            raise


# ---------------------------------------------------------------- status


def get_status(mailbox_id: str) -> MailboxStatus | None:
    """The mailbox's recorded status, or None before its first run."""
    try:
        item = MailboxStatusItem.get(_pk(mailbox_id), "STATUS", consistent_read=True)
    except MailboxStatusItem.DoesNotExist:
        return None
    return MailboxStatus(
        mailbox_id=mailbox_id,
        uidvalidity=item.uidvalidity,
        last_uid=int(item.last_uid or 0),
        last_run=item.last_run,
        last_success=item.last_success,
        last_error=item.last_error,
        last_error_detail=item.last_error_detail,
        last_error_at=item.last_error_at,
        consecutive_errors=int(item.consecutive_errors or 0),
        copied_total=int(item.copied_total or 0),
        skipped_total=int(item.skipped_total or 0),
        last_copied=int(item.last_copied or 0),
        last_skipped=int(item.last_skipped or 0),
        last_failed=int(item.last_failed or 0),
        pending=int(item.pending or 0),
    )


def record_run(
    mailbox_id: str,
    now: float,
    *,
    error: str | None = None,
    detail: str | None = None,
    uidvalidity: str | None = None,
    last_uid: int | None = None,
    copied: int = 0,
    skipped: int = 0,
    failed: int = 0,
    pending: int = 0,
) -> None:
    """Record how a run ended: its counts, the progress made and the error that stopped it (if any)."""
    item = MailboxStatusItem(pk=_pk(mailbox_id), sk="STATUS")
    actions: list[Action] = [
        MailboxStatusItem.entity.set("mailbox"),
        MailboxStatusItem.last_run.set(now),
        MailboxStatusItem.last_copied.set(copied),
        MailboxStatusItem.last_skipped.set(skipped),
        MailboxStatusItem.last_failed.set(failed),
        MailboxStatusItem.pending.set(pending),
        MailboxStatusItem.copied_total.add(copied),
        MailboxStatusItem.skipped_total.add(skipped),
    ]
    if uidvalidity is not None:
        actions.append(MailboxStatusItem.uidvalidity.set(uidvalidity))
    if last_uid is not None:
        actions.append(MailboxStatusItem.last_uid.set(last_uid))
    if error:
        shown = (detail or "")[:_DETAIL_CHARS]
        actions += [
            MailboxStatusItem.last_error.set(error),
            MailboxStatusItem.last_error_detail.set(shown) if shown else MailboxStatusItem.last_error_detail.remove(),
            MailboxStatusItem.last_error_at.set(now),
            MailboxStatusItem.consecutive_errors.add(1),
        ]
    else:
        # The last error stays readable (last_error_at says when); consecutive_errors says it is over.
        actions += [MailboxStatusItem.last_success.set(now), MailboxStatusItem.consecutive_errors.set(0)]
    item.update(actions=actions)


# ---------------------------------------------------------------- messages


def _message_from(item: MailboxMessageItem) -> MessageState:
    return MessageState(
        key=item.sk,
        status=item.status,
        attempts=int(item.attempts or 0),
        updated_at=float(item.updated_at or 0),
        s3_key=item.s3_key,
        reason=item.reason,
    )


def message_states(mailbox_id: str, prefix: str, start: str = "") -> dict[str, MessageState]:
    """Recorded messages whose key starts with `prefix` and sorts at or after `prefix + start`, by key."""
    # Keys hold printable ASCII only (UIDs, UIDVALIDITY, POP3 UIDLs are 0x21-0x7E), so DEL bounds the range.
    condition = MailboxMessageItem.sk.between(prefix + start, prefix + "\x7f")
    items = MailboxMessageItem.query(_pk(mailbox_id), condition, consistent_read=True)
    return {item.sk: _message_from(item) for item in items}


def claim_message(mailbox_id: str, key: str, now: float, stale_after: float, retry_statuses: tuple[str, ...]) -> bool:
    """Mark a message "copying" (one more attempt) unless it is recorded otherwise; True when this run has it.

    A message may be claimed when it was never seen, when its status is one of `retry_statuses`, or when it is
    "copying" since before `now - stale_after` (the run copying it died).
    """
    condition = (
        MailboxMessageItem.pk.does_not_exist()
        | MailboxMessageItem.status.is_in(*retry_statuses)
        | ((MailboxMessageItem.status == "copying") & (MailboxMessageItem.updated_at < now - stale_after))
    )
    try:
        MailboxMessageItem(pk=_pk(mailbox_id), sk=key).update(
            actions=[
                MailboxMessageItem.entity.set("mailbox_msg"),
                MailboxMessageItem.status.set("copying"),
                MailboxMessageItem.updated_at.set(now),
                MailboxMessageItem.attempts.add(1),
            ],
            condition=condition,
        )
    except UpdateError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True


def set_message(
    mailbox_id: str,
    key: str,
    status: str,
    now: float,
    *,
    s3_key: str | None = None,
    reason: str | None = None,
    size: int | None = None,
) -> None:
    """Move a message to `status` (copied, done, error, failed, skipped), keeping what is not given."""
    actions: list[Action] = [
        MailboxMessageItem.entity.set("mailbox_msg"),
        MailboxMessageItem.status.set(status),
        MailboxMessageItem.updated_at.set(now),
    ]
    if s3_key is not None:
        actions.append(MailboxMessageItem.s3_key.set(s3_key))
    if reason is not None:
        actions.append(MailboxMessageItem.reason.set(reason[:_DETAIL_CHARS]))
    if size is not None:
        actions.append(MailboxMessageItem.size.set(size))
    MailboxMessageItem(pk=_pk(mailbox_id), sk=key).update(actions=actions)


def record_skipped(mailbox_id: str, key: str, reason: str, now: float, size: int | None = None) -> bool:
    """Record a message that will not be copied (too large, older than the start), once; True the first time."""
    item = MailboxMessageItem(
        pk=_pk(mailbox_id),
        sk=key,
        entity="mailbox_msg",
        status="skipped",
        reason=reason,
        size=size,
        updated_at=now,
    )
    try:
        item.save(condition=MailboxMessageItem.pk.does_not_exist())
    except PutError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True
