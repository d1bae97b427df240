"""Reads and writes of the domain records: the only code that talks to DynamoDB."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from emailpipe.domain.errors import AlreadyExistsError
from emailpipe.domain.models import (
    AttachmentRef,
    Conversation,
    Department,
    InboundRecord,
    Message,
    Outcome,
    Person,
    Role,
    Settings,
    Source,
)
from emailpipe.store.models import (
    ALL_MODELS,
    AttachmentMap,
    ConversationItem,
    DeliveryItem,
    DepartmentItem,
    InboundItem,
    IndexedItem,
    Item,
    MessageItem,
    PendingItem,
    PersonItem,
    RateItem,
    SettingsItem,
    ThreadItem,
)

_CONDITIONAL_FAILED = "ConditionalCheckFailedException"
_TRANSACTION_CONDITION_FAILED = "ConditionalCheckFailed"  # a transaction's cancellation reason code


_shared: dict[str, Connection] = {}


def configure(table_name: str, region: str | None = None) -> None:
    """Point every model at `table_name` (the endpoint comes from AWS_ENDPOINT_URL, as for boto3).

    All models share one connection (one botocore client): pynamodb would otherwise create a client per model
    class and per transaction, which costs about 50 ms of CPU each, on every cold start and every stored email.
    """
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    Item.Meta.table_name = table_name
    Item.Meta.region = region
    for model in ALL_MODELS:
        model._connection = None
    # IndexedItem's schema knows the table keys and the index, so its connection serves every entity.
    shared = IndexedItem._get_connection()
    for model in ALL_MODELS:
        model._connection = shared
    _shared["connection"] = shared.connection


def _connection() -> Connection:
    if "connection" not in _shared:
        _shared["connection"] = Connection(region=Item.Meta.region)
    return _shared["connection"]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _is_conditional_failure(exc: Exception) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    if cause == _CONDITIONAL_FAILED:
        return True
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return any(reason is not None and reason.code == _TRANSACTION_CONDITION_FAILED for reason in reasons)


# ---------------------------------------------------------------- people


def _person_from(item: PersonItem) -> Person:
    return Person(
        email=item.email,
        name=item.name,
        role=Role(item.role),
        departments=tuple(item.departments or ()),
        online=bool(item.online),
        last_seen=float(item.last_seen or 0),
        bouncing=bool(item.bouncing),
        email_notifications=item.email_notifications is not False,
        unsubscribed=bool(item.unsubscribed),
    )


def put_person(person: Person) -> None:
    """Create a person; their email must be new."""
    item = PersonItem(
        pk=f"PERSON#{person.email}",
        sk="PROFILE",
        entity="person",
        gsi1pk=f"ROLE#{person.role.value}",
        gsi1sk=person.email,
        email=person.email,
        name=person.name,
        role=person.role.value,
        departments=list(person.departments),
        online=person.online,
        last_seen=person.last_seen,
        bouncing=person.bouncing,
        email_notifications=person.email_notifications,
        unsubscribed=person.unsubscribed,
        created_at=time.time(),
    )
    try:
        item.save(condition=PersonItem.pk.does_not_exist())
    except PutError as exc:
        if _is_conditional_failure(exc):
            raise AlreadyExistsError(f"a person with that email exists: {person.email}") from exc
        raise


def ensure_person(person: Person) -> None:
    """Create a person unless one with that email exists."""
    with contextlib.suppress(AlreadyExistsError):
        put_person(person)


def get_person(email: str) -> Person | None:
    """The person with this email, or None."""
    try:
        return _person_from(PersonItem.get(f"PERSON#{email.strip().lower()}", "PROFILE"))
    except PersonItem.DoesNotExist:
        return None


def list_staff() -> list[Person]:
    """Every agent and admin."""
    people: list[Person] = []
    for role in (Role.AGENT, Role.ADMIN):
        people.extend(_person_from(i) for i in PersonItem.gsi1.query(f"ROLE#{role.value}"))  # type: ignore[arg-type]
    return people


def set_presence(email: str, online: bool, now: float) -> None:
    """Mark a person online (seen now) or offline."""
    PersonItem(pk=f"PERSON#{email}", sk="PROFILE").update(
        actions=[PersonItem.online.set(online), PersonItem.last_seen.set(now)],
        condition=PersonItem.pk.exists(),
    )


def set_bouncing(email: str, bouncing: bool) -> None:
    """Mark an address as bouncing (notifications to it stop) or fixed."""
    PersonItem(pk=f"PERSON#{email}", sk="PROFILE").update(
        actions=[PersonItem.bouncing.set(bouncing)], condition=PersonItem.pk.exists()
    )


def set_email_preferences(email: str, *, notifications: bool | None = None, unsubscribed: bool | None = None) -> None:
    """Change whether a person wants notification emails, or has unsubscribed from all email."""
    actions = []
    if notifications is not None:
        actions.append(PersonItem.email_notifications.set(notifications))
    if unsubscribed is not None:
        actions.append(PersonItem.unsubscribed.set(unsubscribed))
    if actions:
        PersonItem(pk=f"PERSON#{email}", sk="PROFILE").update(actions=actions, condition=PersonItem.pk.exists())


# ---------------------------------------------------------------- departments


def put_department(department: Department) -> None:
    """Create a department; its name must be new."""
    item = DepartmentItem(
        pk=f"DEPT#{department.name.lower()}",
        sk="DEPT",
        entity="department",
        gsi1pk="DEPARTMENTS",
        gsi1sk=department.name.lower(),
        name=department.name,
    )
    try:
        item.save(condition=DepartmentItem.pk.does_not_exist())
    except PutError as exc:
        if _is_conditional_failure(exc):
            raise AlreadyExistsError(f"department exists: {department.name}") from exc
        raise


def get_department(name: str) -> Department | None:
    """The department of that name (case-insensitive), or None."""
    try:
        return Department(name=DepartmentItem.get(f"DEPT#{name.lower()}", "DEPT").name)
    except DepartmentItem.DoesNotExist:
        return None


# ---------------------------------------------------------------- conversations and messages


def _conversation_from(item: ConversationItem) -> Conversation:
    return Conversation(
        id=item.id,
        user_email=item.user_email,
        subject=item.subject or "",
        department=item.department,
        assigned_agent=item.assigned_agent,
        status=item.status,
        created_at=float(item.created_at or 0),
    )


def put_conversation(conversation: Conversation) -> None:
    """Create a conversation."""
    ConversationItem(
        pk=f"CONV#{conversation.id}",
        sk="META",
        entity="conversation",
        gsi1pk=f"USER#{conversation.user_email}",
        gsi1sk=_iso(conversation.created_at),
        id=conversation.id,
        user_email=conversation.user_email,
        subject=conversation.subject,
        department=conversation.department,
        assigned_agent=conversation.assigned_agent,
        status=conversation.status,
        created_at=conversation.created_at,
    ).save(condition=ConversationItem.pk.does_not_exist())


def ensure_conversation(conversation: Conversation) -> None:
    """Create a conversation unless it exists (a re-processed email that opened it)."""
    try:
        put_conversation(conversation)
    except PutError as exc:
        if not _is_conditional_failure(exc):
            raise


def get_conversation(conversation_id: str) -> Conversation | None:
    """The conversation, or None."""
    try:
        return _conversation_from(ConversationItem.get(f"CONV#{conversation_id}", "META"))
    except ConversationItem.DoesNotExist:
        return None


def _message_item(message: Message) -> MessageItem:
    return MessageItem(
        pk=f"CONV#{message.conversation_id}",
        sk=f"MSG#{_iso(message.created_at)}#{message.id}",
        entity="message",
        id=message.id,
        conversation_id=message.conversation_id,
        author_email=message.author_email,
        author_role=message.author_role.value,
        text=message.text,
        source=message.source.value,
        created_at=message.created_at,
        attachments=[
            AttachmentMap(
                filename=a.filename, content_type=a.content_type, size=a.size, sha256=a.sha256, s3_key=a.s3_key
            )
            for a in message.attachments
        ],
        email_message_id=message.email_message_id,
        external_id=message.external_id,
        text_s3_key=message.text_s3_key,
    )


def _message_from(item: MessageItem) -> Message:
    return Message(
        id=item.id,
        conversation_id=item.conversation_id,
        author_email=item.author_email,
        author_role=Role(item.author_role),
        text=item.text or "",
        source=Source(item.source),
        created_at=float(item.created_at),
        attachments=tuple(
            AttachmentRef(
                filename=a.filename, content_type=a.content_type, size=int(a.size), sha256=a.sha256, s3_key=a.s3_key
            )
            for a in (item.attachments or [])
        ),
        email_message_id=item.email_message_id,
        external_id=item.external_id,
        text_s3_key=item.text_s3_key,
    )


def put_message(message: Message) -> None:
    """Store a chat message (from the chat application or the bot)."""
    _message_item(message).save(condition=MessageItem.pk.does_not_exist())


def list_messages(conversation_id: str) -> list[Message]:
    """The messages of a conversation, oldest first."""
    items = MessageItem.query(f"CONV#{conversation_id}", MessageItem.sk.startswith("MSG#"))
    return [_message_from(item) for item in items]


def message_from_stream_image(image: dict) -> Message | None:
    """The message in a DynamoDB stream NewImage, or None when the image is another entity."""
    if image.get("entity", {}).get("S") != "message":
        return None
    return _message_from(MessageItem.from_raw_data(image))


# ---------------------------------------------------------------- settings


def get_settings() -> Settings:
    """The product settings (defaults when never set)."""
    try:
        item = SettingsItem.get("SETTINGS", "GLOBAL")
    except SettingsItem.DoesNotExist:
        return Settings()
    defaults = Settings()
    values = {}
    for key in Settings.KEYS:
        value = getattr(item, key, None)
        default = getattr(defaults, key)
        values[key] = default if value is None else type(default)(value)
    return Settings(**values)


def put_settings(settings: Settings) -> None:
    """Replace the product settings."""
    SettingsItem(
        pk="SETTINGS", sk="GLOBAL", entity="settings", **{key: getattr(settings, key) for key in Settings.KEYS}
    ).save()


# ---------------------------------------------------------------- inbound outcomes


def _inbound_item(record: InboundRecord) -> InboundItem:
    return InboundItem(
        pk=f"INBOUND#{record.s3_key}",
        sk="OUTCOME",
        entity="inbound",
        gsi1pk="INBOUND",
        gsi1sk=_iso(record.received_at),
        s3_key=record.s3_key,
        status=record.status.value,
        reason=record.reason,
        received_at=record.received_at,
        matched_by=record.matched_by,
        conversation_id=record.conversation_id,
        message_id=record.message_id,
        sender_hash=record.sender_hash,
        email_message_id=record.email_message_id,
        details=dict(record.details),
    )


def _inbound_from(item: InboundItem) -> InboundRecord:
    return InboundRecord(
        s3_key=item.s3_key,
        status=Outcome(item.status),
        reason=item.reason,
        received_at=float(item.received_at),
        matched_by=item.matched_by,
        conversation_id=item.conversation_id,
        message_id=item.message_id,
        sender_hash=item.sender_hash,
        email_message_id=item.email_message_id,
        details=dict(item.details.as_dict() if item.details else {}),
    )


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` posted emails per `scope` key (a sender hash, a conversation) per window."""

    scope: str
    key: str
    limit: int
    window_seconds: int


def store_inbound_message(message: Message, record: InboundRecord, limits: Sequence[RateLimit] = ()) -> str:
    """Store the message, its `stored` outcome and the rate counters in one transaction.

    Returns "stored", "duplicate" (this email was stored before) or "rate_limited:<scope>" (a cap is reached).
    """
    not_stored_yet = InboundItem.pk.does_not_exist() | (InboundItem.status != Outcome.STORED.value)
    try:
        with TransactWrite(connection=_connection()) as transaction:
            transaction.save(_inbound_item(record), condition=not_stored_yet)
            transaction.save(_message_item(message), condition=MessageItem.pk.does_not_exist())
            for limit in limits:
                window = int(record.received_at // limit.window_seconds) * limit.window_seconds
                transaction.update(
                    RateItem(pk=f"RATE#{limit.scope}#{limit.key}", sk=f"W#{window}"),
                    actions=[
                        RateItem.count.add(1),
                        RateItem.entity.set("rate"),
                        RateItem.expires_at.set(window + 2 * limit.window_seconds),
                    ],
                    # A cap of 0 holds every email back (the comparison is false on a missing counter).
                    condition=(RateItem.count.does_not_exist() | (RateItem.count < limit.limit))
                    if limit.limit > 0
                    else RateItem.count < 0,
                )
    except TransactWriteError as exc:
        reasons = list(getattr(exc, "cancellation_reasons", None) or [])
        failed = [i for i, r in enumerate(reasons) if r is not None and r.code == _TRANSACTION_CONDITION_FAILED]
        if not failed:
            raise
        if failed[0] < 2:
            return "duplicate"
        return f"rate_limited:{limits[failed[0] - 2].scope}"
    return "stored"


def record_outcome(record: InboundRecord) -> bool:
    """Record a rejected or quarantined outcome, never overwriting a stored one; False when it was stored."""
    try:
        _inbound_item(record).save(
            condition=InboundItem.pk.does_not_exist() | (InboundItem.status != Outcome.STORED.value)
        )
    except PutError as exc:
        if _is_conditional_failure(exc):
            return False
        raise
    return True


# DynamoDB answers a retry can fix; any other answer to a write is permanent (an item over 400 KB, a bad request).
_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
# Cancellation reasons of a transaction that a retry cannot fix.
_PERMANENT_REASONS = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded"})


def permanent_error_code(exc: BaseException) -> str | None:
    """The DynamoDB error code of a failed write that no retry can fix (`ValidationException` for an item over
    400 KB, ...), or None when the failure may pass (throttling, a conflict, the network) or is not DynamoDB's.
    """
    if not isinstance(exc, PynamoDBException):
        return None
    code = exc.cause_response_code
    if code == "TransactionCanceledException":
        reasons = [r.code for r in getattr(exc, "cancellation_reasons", None) or [] if r is not None]
        return next((f"{code}:{reason}" for reason in reasons if reason in _PERMANENT_REASONS), None)
    if code is None or code in _RETRYABLE_CODES:
        return None
    return code


def get_inbound(s3_key: str) -> InboundRecord | None:
    """The recorded outcome of the email stored at `s3_key`, or None."""
    try:
        return _inbound_from(InboundItem.get(f"INBOUND#{s3_key}", "OUTCOME", consistent_read=True))
    except InboundItem.DoesNotExist:
        return None


def list_inbound(since: float = 0.0) -> list[InboundRecord]:
    """Inbound outcomes received at or after `since`, oldest first."""
    items = InboundItem.gsi1.query("INBOUND", InboundItem.gsi1sk >= _iso(since))  # type: ignore[arg-type]
    return [_inbound_from(item) for item in items]  # type: ignore[arg-type]


# ---------------------------------------------------------------- deliveries and threads


def _delivery_item(
    message_id: str, recipient: str, conversation_id: str, status: str, now: float, mail_message_id: str | None = None
) -> DeliveryItem:
    return DeliveryItem(
        pk=f"DELIVERY#{message_id}",
        sk=f"TO#{recipient}",
        entity="delivery",
        status=status,
        conversation_id=conversation_id,
        mail_message_id=mail_message_id,
        updated_at=now,
    )


def claim_delivery(message_id: str, recipient: str, conversation_id: str, now: float) -> bool:
    """Claim the one send of `message_id` to `recipient`; False when it was sent (or is being sent) already."""
    item = _delivery_item(message_id, recipient, conversation_id, "sending", now)
    try:
        item.save(condition=DeliveryItem.pk.does_not_exist() | (DeliveryItem.status == "failed"))
    except PutError as exc:
        if _is_conditional_failure(exc):
            return False
        raise
    return True


def finish_delivery(
    message_id: str,
    recipient: str,
    *,
    status: str,
    now: float,
    mail_message_id: str | None = None,
    ses_message_id: str | None = None,
    error: str | None = None,
) -> None:
    """Record how a claimed send ended: sent or failed."""
    actions = [DeliveryItem.status.set(status), DeliveryItem.updated_at.set(now)]
    if mail_message_id:
        actions.append(DeliveryItem.mail_message_id.set(mail_message_id))
    if ses_message_id:
        actions.append(DeliveryItem.ses_message_id.set(ses_message_id))
    if error:
        actions.append(DeliveryItem.error.set(error[:500]))
    DeliveryItem(pk=f"DELIVERY#{message_id}", sk=f"TO#{recipient}").update(actions=actions)


def record_skip(message_id: str, recipient: str, conversation_id: str, reason: str, now: float) -> None:
    """Record that a recipient was deliberately not emailed about a message, and why."""
    _delivery_item(message_id, recipient, conversation_id, f"skipped_{reason}", now).save()


def record_sent(
    message_ids: Sequence[str], recipient: str, conversation_id: str, mail_message_id: str, now: float
) -> None:
    """Mark each message of a digest as sent to `recipient` (one batch request)."""
    with DeliveryItem.batch_write() as batch:
        for message_id in message_ids:
            batch.save(_delivery_item(message_id, recipient, conversation_id, "sent", now, mail_message_id))


def get_delivery_status(message_id: str, recipient: str) -> str | None:
    """The status of a (message, recipient) send, or None."""
    try:
        return DeliveryItem.get(f"DELIVERY#{message_id}", f"TO#{recipient}", consistent_read=True).status
    except DeliveryItem.DoesNotExist:
        return None


@dataclass(frozen=True, slots=True)
class Pending:
    """The open digest window of one recipient in one conversation."""

    window_id: str
    opened_at: float
    message_ids: frozenset[str]


def add_pending(conversation_id: str, recipient: str, message_id: str, window_id: str, now: float) -> str:
    """Add a message to the recipient's open window (opening `window_id` if none is open); the window in force."""
    item = PendingItem(pk=f"CONV#{conversation_id}", sk=f"PENDING#{recipient}")
    item.update(
        actions=[
            PendingItem.entity.set("pending"),
            PendingItem.message_ids.add({message_id}),
            PendingItem.window_id.set(PendingItem.window_id | window_id),
            PendingItem.opened_at.set(PendingItem.opened_at | now),
        ]
    )
    return str(item.window_id)


def get_pending(conversation_id: str, recipient: str) -> Pending | None:
    """The open window, or None."""
    try:
        item = PendingItem.get(f"CONV#{conversation_id}", f"PENDING#{recipient}", consistent_read=True)
    except PendingItem.DoesNotExist:
        return None
    if not item.window_id or not item.message_ids:
        return None
    return Pending(item.window_id, float(item.opened_at or 0), frozenset(item.message_ids))


def close_pending(conversation_id: str, recipient: str, window_id: str, sent: frozenset[str], next_window: str) -> bool:
    """Remove the sent messages from the window; True when messages arrived meanwhile and `next_window` is open."""
    item = PendingItem(pk=f"CONV#{conversation_id}", sk=f"PENDING#{recipient}")
    try:
        item.update(
            actions=[PendingItem.message_ids.delete(set(sent)), PendingItem.window_id.set(next_window)],
            condition=PendingItem.window_id == window_id,
        )
    except UpdateError as exc:
        if _is_conditional_failure(exc):
            return False  # closed by an earlier attempt
        raise
    if item.message_ids:
        return True
    try:
        item.delete(condition=PendingItem.message_ids.does_not_exist() & (PendingItem.window_id == next_window))
    except DeleteError as exc:
        if _is_conditional_failure(exc):
            return True  # a message slipped in between: the next window carries it
        raise
    return False


def delivery_counts_since(since: float) -> dict[str, int]:
    """Deliveries by status since a time, by scanning: for the local stack's `emailpipe status` only."""
    counts: dict[str, int] = {}
    for item in DeliveryItem.scan((DeliveryItem.entity == "delivery") & (DeliveryItem.updated_at >= since)):
        counts[item.status] = counts.get(item.status, 0) + 1
    return counts


def thread_message_ids(conversation_id: str, recipient: str) -> list[str]:
    """The Message-IDs of earlier notifications to `recipient` in this conversation, oldest first."""
    try:
        return list(ThreadItem.get(f"CONV#{conversation_id}", f"THREAD#{recipient}").message_ids or [])
    except ThreadItem.DoesNotExist:
        return []


def append_thread_message_id(conversation_id: str, recipient: str, mail_message_id: str) -> None:
    """Remember a notification's Message-ID for the next one's In-Reply-To and References."""
    ThreadItem(pk=f"CONV#{conversation_id}", sk=f"THREAD#{recipient}").update(
        actions=[
            ThreadItem.entity.set("thread"),
            ThreadItem.message_ids.set((ThreadItem.message_ids | []).append([mail_message_id])),
        ]
    )
