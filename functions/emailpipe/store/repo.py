"""Reads and writes of the domain records: the only code that talks to DynamoDB."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from emailpipe import aws
from emailpipe.domain.errors import AlreadyExistsError
from emailpipe.domain.inboxes import Inbox
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
    EmailIdItem,
    InboundDaysItem,
    InboundItem,
    IndexedItem,
    Item,
    MessageItem,
    PendingItem,
    PersonItem,
    RateLogItem,
    SettingsItem,
    ThreadIdItem,
    ThreadItem,
)

_CONDITIONAL_FAILED = "ConditionalCheckFailedException"
_TRANSACTION_CONDITION_FAILED = "ConditionalCheckFailed"  # a transaction's cancellation reason code


class _SharedSessionConnection(Connection):
    """pynamodb's connection, its client made from emailpipe.aws's one botocore session under that module's lock.

    pynamodb makes a botocore session per connection and thread, and each parses botocore's DynamoDB model and
    endpoint data again (about 0.25 s of CPU): once per cold start beside boto3's own session, and once per thread
    and per `configure` where a process runs several invocations (the local stack, the tests).
    """

    @property
    def session(self) -> Any:
        return aws.botocore_session()

    @property
    def client(self) -> Any:
        with aws.creating_client():
            return Connection.client.fget(self)  # type: ignore[attr-defined]


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
    shared.connection.__class__ = _SharedSessionConnection  # the same object and state, made on the shared session
    for model in ALL_MODELS:
        model._connection = shared
    _shared["connection"] = shared.connection


def share_connection(models: Sequence[type[Item]]) -> None:
    """Give models defined outside store/models.py the one connection `configure` made (no client of their own)."""
    shared = IndexedItem._connection
    if shared is not None:
        for model in models:
            model._connection = shared


def _connection() -> Connection:
    if "connection" not in _shared:
        _shared["connection"] = _SharedSessionConnection(region=Item.Meta.region)
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
    item = _person_item(person)
    forget_staff()
    try:
        item.save(condition=PersonItem.pk.does_not_exist())
    except PutError as exc:
        if _is_conditional_failure(exc):
            raise AlreadyExistsError(f"a person with that email exists: {person.email}") from exc
        raise


def _person_item(person: Person) -> PersonItem:
    return PersonItem(
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


def get_people(emails: Sequence[str]) -> list[Person]:
    """The people of these addresses who exist, in one BatchGetItem (in the order given)."""
    keys = list(dict.fromkeys((f"PERSON#{email}", "PROFILE") for email in emails))
    found = {item.email: _person_from(item) for item in PersonItem.batch_get(keys)} if keys else {}
    return [found[email] for email in dict.fromkeys(emails) if email in found]


def list_staff() -> list[Person]:
    """Every agent and admin."""
    people: list[Person] = []
    for role in (Role.AGENT, Role.ADMIN):
        people.extend(_person_from(i) for i in PersonItem.gsi1.query(f"ROLE#{role.value}"))
    return people


def cached_staff(now: float | None = None) -> list[Person]:
    """Every agent and admin as listed at most SETTINGS_MAX_AGE_SECONDS ago: who may be emailed, by role and
    department. Their presence and preferences in it may be that old too: read the people again (get_people)
    before deciding on them."""
    return _fresh(_staff_cache, list_staff, now)


def forget_staff() -> None:
    """Drop the cached staff list (after this process added, changed or removed a person)."""
    _staff_cache.clear()


def update_person(email: str, actions: list, condition: Any = None) -> bool:
    """Apply `actions` to an existing person (and `condition`) in one conditional write; False when it fails."""
    exists = PersonItem.pk.exists()
    try:
        PersonItem(pk=f"PERSON#{email}", sk="PROFILE").update(
            actions=actions, condition=exists if condition is None else exists & condition
        )
    except UpdateError as exc:
        if _is_conditional_failure(exc):
            return False
        raise
    return True


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
    actions: list[Action] = []
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
        participants=tuple(dict.fromkeys(item.participants or ())),  # two emails may add one person at once
        inbox=item.inbox,
        linked_from=item.linked_from,
        continued_in=item.continued_in,
    )


def put_conversation(conversation: Conversation) -> None:
    """Create a conversation."""
    _conversation_item(conversation).save(condition=ConversationItem.pk.does_not_exist())


def _conversation_item(conversation: Conversation) -> ConversationItem:
    return ConversationItem(
        pk=f"CONV#{conversation.id}",
        sk="META",
        entity="conversation",
        gsi1pk=f"USER#{conversation.user_email}",
        gsi1sk=_iso(conversation.created_at),
        gsi2pk=f"STATUS#{conversation.status}",
        gsi2sk=_iso(conversation.created_at),
        id=conversation.id,
        user_email=conversation.user_email,
        subject=conversation.subject,
        department=conversation.department,
        assigned_agent=conversation.assigned_agent,
        status=conversation.status,
        created_at=conversation.created_at,
        participants=list(conversation.participants) or None,
        inbox=conversation.inbox,
        linked_from=conversation.linked_from,
        continued_in=conversation.continued_in,
    )


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
        forwarded_by=message.forwarded_by,
        raw_s3_key=message.raw_s3_key,
        trimmed_s3_key=message.trimmed_s3_key,
        also_to=list(message.also_to) or None,
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
        forwarded_by=item.forwarded_by,
        raw_s3_key=item.raw_s3_key,
        trimmed_s3_key=item.trimmed_s3_key,
        also_to=tuple(item.also_to or ()),
    )


@dataclass(frozen=True, slots=True)
class ConversationView:
    """Everything under a conversation's key that the notifier reads, from one Query."""

    conversation: Conversation | None
    messages: list[Message]  # oldest first
    threads: dict[str, list[str]]  # recipient -> Message-IDs of the notifications they got, oldest first
    pending: dict[str, Pending]  # recipient -> open digest window


def read_conversation(conversation_id: str, *, consistent: bool = False) -> ConversationView:
    """The conversation's header, messages, notification threads and digest windows: its whole partition in one
    Query (more pages only past 1 MB), instead of a request for each."""
    connection = _connection()
    conversation: Conversation | None = None
    messages: list[Message] = []
    threads: dict[str, list[str]] = {}
    pending: dict[str, Pending] = {}
    start: Any = None
    while True:
        page = connection.query(
            Item.Meta.table_name, f"CONV#{conversation_id}", consistent_read=consistent, exclusive_start_key=start
        )
        for raw in page.get("Items", []):
            sk = raw["sk"]["S"]
            if sk == "META":
                conversation = _conversation_from(ConversationItem.from_raw_data(raw))
            elif sk.startswith("MSG#"):
                messages.append(_message_from(MessageItem.from_raw_data(raw)))
            elif sk.startswith("THREAD#"):
                threads[sk.removeprefix("THREAD#")] = list(ThreadItem.from_raw_data(raw).message_ids or [])
            elif sk.startswith("PENDING#"):
                window = _pending_from(PendingItem.from_raw_data(raw))
                if window is not None:
                    pending[sk.removeprefix("PENDING#")] = window
        start = page.get("LastEvaluatedKey")
        if not start:
            return ConversationView(conversation, messages, threads, pending)


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


# Every email reads the settings: one item that all traffic would share. The functions keep what they read for a
# short time instead, so a change applies within SETTINGS_MAX_AGE_SECONDS (environment; 10 by default, 0 reads
# every time). The API and the CLI read and write through get_settings, never the cache, and a write in this
# process clears it.
# The staff list (who may be emailed about a user message) is kept the same way.
DEFAULT_SETTINGS_MAX_AGE = 10.0
_T = TypeVar("_T")
_settings_cache: dict[str, tuple[float, Settings]] = {}
_staff_cache: dict[str, tuple[float, list[Person]]] = {}


def _max_age() -> float:
    try:
        return float(os.environ.get("SETTINGS_MAX_AGE_SECONDS") or DEFAULT_SETTINGS_MAX_AGE)
    except ValueError:
        return DEFAULT_SETTINGS_MAX_AGE  # a typo in the environment must not stop the mail


def cached_settings(now: float | None = None) -> Settings:
    """The product settings as read at most SETTINGS_MAX_AGE_SECONDS ago (the per-email paths)."""
    return _fresh(_settings_cache, get_settings, now)


def _fresh(cache: dict[str, tuple[float, _T]], load: Callable[[], _T], now: float | None) -> _T:
    """The value `cache` holds if it was loaded at most SETTINGS_MAX_AGE_SECONDS ago, else `load()` kept there."""
    now = time.monotonic() if now is None else now
    hit = cache.get("value")
    if hit is not None and 0 <= now - hit[0] < _max_age():
        return hit[1]
    value = load()
    cache["value"] = (now, value)
    return value


def forget_settings() -> None:
    """Drop the cached settings (after this process changed them)."""
    _settings_cache.clear()


def clear_caches() -> None:
    """Forget what this process keeps between requests: the settings, the staff and the inbound days it listed."""
    _settings_cache.clear()
    _staff_cache.clear()
    _days_noted.clear()


def get_settings() -> Settings:
    """The product settings (defaults when never set), read now."""
    try:
        item = SettingsItem.get("SETTINGS", "GLOBAL")
    except SettingsItem.DoesNotExist:
        return Settings()
    defaults = Settings()
    values: dict[str, Any] = {}
    for key in Settings.KEYS:
        value = getattr(item, key, None)
        default = getattr(defaults, key)
        values[key] = default if value is None else type(default)(value)
    return Settings(**values, inboxes=inboxes_from_json(item.inboxes))


def inboxes_from_json(text: str | None) -> tuple[Inbox, ...]:
    """The extra inboxes kept in the settings item (a JSON list of their fields)."""
    if not text:
        return ()
    names = {f.name for f in fields(Inbox)}
    return tuple(Inbox(**{k: v for k, v in entry.items() if k in names}) for entry in json.loads(text))


def put_settings(settings: Settings) -> None:
    """Write the product settings (Settings.KEYS); the inboxes kept in the same item are left as they are."""
    forget_settings()
    SettingsItem(pk="SETTINGS", sk="GLOBAL").update(
        actions=[
            SettingsItem.entity.set("settings"),
            *(getattr(SettingsItem, key).set(getattr(settings, key)) for key in Settings.KEYS),
        ]
    )


# ---------------------------------------------------------------- inbound outcomes


# The inbound log's index key is written sharded: every outcome under one partition key would cap the whole stack
# at one partition's write rate (about 1,000 a second; docs/capacity.md). The key is the UTC day of receipt and a
# shard from the S3 key's hash, so a day's outcomes spread over INBOUND_SHARDS partitions; its sort key is the
# receipt time and the S3 key, unique, so the shards merge into one order. Readers query every shard of every
# day listed in the INBOUNDLOG item, which each process adds a day to once, and the key "INBOUND" that outcomes
# recorded before sharding have. INBOUND_SHARDS may grow, never shrink: a read queries this many shards.
INBOUND_SHARDS = 16
LEGACY_INBOUND_KEY = "INBOUND"
_days_noted: set[str] = set()


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def inbound_index_key(s3_key: str, received_at: float) -> tuple[str, str]:
    """(gsi1pk, gsi1sk) of an inbound outcome."""
    shard = int.from_bytes(hashlib.sha256(s3_key.encode("utf-8")).digest()[:4], "big") % INBOUND_SHARDS
    return f"INBOUND#{_day(received_at)}#{shard:02d}", f"{_iso(received_at)}#{s3_key}"


def _note_inbound_day(received_at: float) -> None:
    """List the outcome's day for readers; one small write per process and day (a set ADD, so idempotent)."""
    day = _day(received_at)
    if day in _days_noted:
        return
    InboundDaysItem(pk="INBOUNDLOG", sk="DAYS").update(
        actions=[InboundDaysItem.days.add({day}), InboundDaysItem.entity.set("inbound_days")]
    )
    _days_noted.add(day)


def inbound_partitions(since: float, from_day: str = "") -> list[str]:
    """Every index partition that may hold an outcome received at or after `since` (and on or after `from_day`),
    the legacy one first, then each day's shards, days in order."""
    try:
        days = InboundDaysItem.get("INBOUNDLOG", "DAYS", consistent_read=True).days or set()
    except InboundDaysItem.DoesNotExist:
        days = set()
    first = max(_day(since) if since > 0 else "", from_day)
    shards = [f"{day}#{n:02d}" for day in sorted(d for d in days if d >= first) for n in range(INBOUND_SHARDS)]
    return [LEGACY_INBOUND_KEY, *(f"INBOUND#{key}" for key in shards)]


def _inbound_item(record: InboundRecord) -> InboundItem:
    gsi1pk, gsi1sk = inbound_index_key(record.s3_key, record.received_at)
    return InboundItem(
        pk=f"INBOUND#{record.s3_key}",
        sk="OUTCOME",
        entity="inbound",
        gsi1pk=gsi1pk,
        gsi1sk=gsi1sk,
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


def store_inbound_message(
    message: Message,
    record: InboundRecord,
    limits: Sequence[RateLimit] = (),
    *,
    conversation: Conversation | None = None,
    new_people: Sequence[Person] = (),
    change: ConversationChange | None = None,
    email_key: str | None = None,
    thread_key: str | None = None,
    rate_logs: RateLogs | None = None,
) -> str:
    """Store the message with everything that exists only because of it, in one transaction.

    The transaction holds the `stored` outcome, the message, the conversation it opens and the strangers it brings
    (its writer under convert-all, the people it puts in Cc under cc_join), the change it makes to its conversation
    (reopened, participants joined), the first-copy guard of the email (`email_key`: a hash of its sender and
    Message-ID), its thread entry (`thread_key`: its Message-ID, so a reply-all to it finds the conversation) and the
    sliding-window log of every cap. So a quarantined or duplicate email leaves nothing behind.

    Returns "stored"; "duplicate" (this S3 object was stored before); "duplicate_of:<s3 key>" (the same email was
    stored from another S3 object); or "rate_limited:<scope>" (that cap already counts `limit` emails within the
    last `window_seconds`: a sliding window, so no burst at a window boundary gets more through). `rate_logs` are
    the caps' logs read already (read_for_inbound), so the usual email costs no read here; a retry reads again.
    """
    _note_inbound_day(record.received_at)
    not_stored_yet = InboundItem.pk.does_not_exist() | (InboundItem.status != Outcome.STORED.value)
    now = record.received_at
    for attempt in range(_RATE_LOG_ATTEMPTS):
        logs = rate_logs if attempt == 0 and rate_logs is not None else _rate_logs(limits)
        writes: list[tuple[RateLimit, RateLogItem, Any]] = []
        for limit in limits:
            times, version = logs.get(_rate_log_pk(limit), ((), None))
            recent = sorted(t for t in times if t > now - limit.window_seconds)
            if limit.limit <= 0 or len(recent) >= limit.limit:
                # Over the cap: a later copy of an email stored before is still a duplicate, not a quarantine.
                first = first_copy(email_key) if email_key else None
                if first is not None and first != record.s3_key:
                    return f"duplicate_of:{first}"
                return f"rate_limited:{limit.scope}"
            item = RateLogItem(
                pk=_rate_log_pk(limit),
                sk="LOG",
                entity="rate",
                times=[*recent[-(limit.limit - 1) :], now] if limit.limit > 1 else [now],
                version=(version or 0) + 1,
                expires_at=int(now + limit.window_seconds) + 1,
            )
            unchanged = RateLogItem.version.does_not_exist() if version is None else RateLogItem.version == version
            writes.append((limit, item, unchanged))
        parts: list[str] = []
        try:
            with TransactWrite(connection=_connection()) as transaction:
                if email_key:
                    guard = EmailIdItem(
                        pk=f"EMAILID#{email_key}", sk="FIRST", entity="email_id", s3_key=record.s3_key, stored_at=now
                    )
                    transaction.save(
                        guard, condition=EmailIdItem.pk.does_not_exist() | (EmailIdItem.s3_key == record.s3_key)
                    )
                    parts.append("email_id")
                for limit, item, unchanged in writes:
                    transaction.save(item, condition=unchanged)
                    parts.append(f"rate:{limit.scope}")
                for person in new_people:
                    transaction.save(_person_item(person), condition=PersonItem.pk.does_not_exist())
                    parts.append(f"person:{person.email}")
                transaction.save(_inbound_item(record), condition=not_stored_yet)
                parts.append("inbound")
                if conversation is not None:
                    # Its id derives from this S3 key, which the outcome's condition already makes new.
                    transaction.save(_conversation_item(conversation))
                    parts.append("conversation")
                if change is not None:
                    transaction.update(
                        ConversationItem(pk=f"CONV#{change.conversation_id}", sk="META"),
                        actions=_change_actions(change),
                        condition=ConversationItem.pk.exists(),
                    )
                    parts.append("change")
                if thread_key:
                    thread = ThreadIdItem(
                        pk=f"MSGID#{thread_key}", sk="CONV", entity="thread_id", conversation_id=message.conversation_id
                    )
                    # The first email with a Message-ID keeps it: anyone can send mail under a Message-ID they saw.
                    first = ThreadIdItem.pk.does_not_exist() | (ThreadIdItem.conversation_id == message.conversation_id)
                    transaction.save(thread, condition=first)
                    parts.append("thread_id")
                transaction.save(_message_item(message), condition=MessageItem.pk.does_not_exist())
                parts.append("message")
        except TransactWriteError as exc:
            reasons = list(getattr(exc, "cancellation_reasons", None) or [])
            failed = {
                parts[i] for i, r in enumerate(reasons) if r is not None and r.code == _TRANSACTION_CONDITION_FAILED
            }
            if not failed:
                raise
            if failed & {"inbound", "message"}:
                return "duplicate"
            if "email_id" in failed:
                return f"duplicate_of:{first_copy(email_key) if email_key else ''}"
            if "thread_id" in failed:
                thread_key = None  # another conversation's email had this Message-ID first: store without the entry
                if failed == {"thread_id"}:
                    continue
            if "change" in failed:
                return "rate_limited:conversation_gone"  # deleted meanwhile: kept and recorded, not posted
            taken = {part.partition(":")[2] for part in failed if part.startswith("person:")}
            # Another email created these people meanwhile: keep their records.
            new_people = [person for person in new_people if person.email not in taken]
            # Otherwise a cap's log changed meanwhile (a concurrent email): read it again and decide again.
            continue
        return "stored"
    raise RuntimeError("inbound store: the rate logs kept changing; the queue retries this email")


@dataclass(frozen=True, slots=True)
class ConversationChange:
    """What an inbound email changes in its conversation: reopen it, and the participants it adds."""

    conversation_id: str
    reopen: bool = False
    add_participants: tuple[str, ...] = ()
    continued_in: str | None = None  # the conversation a reply to this closed one opened


def _change_actions(change: ConversationChange) -> list[Any]:
    actions: list[Any] = []
    if change.reopen:
        actions += [ConversationItem.status.set("open"), ConversationItem.gsi2pk.set("STATUS#open")]
    if change.continued_in:
        actions.append(ConversationItem.continued_in.set(change.continued_in))
    if change.add_participants:
        joined = ConversationItem.participants
        actions.append(joined.set((joined | []).append(list(change.add_participants))))
    return actions


def thread_key(mail_message_id: str) -> str:
    """The key of an email's thread entry: a hash of its Message-ID."""
    return hashlib.sha256(mail_message_id.strip().lower().encode("utf-8")).hexdigest()


def conversation_of_thread(mail_message_ids: Sequence[str]) -> str | None:
    """The conversation of the first of these Message-IDs that a stored email had (one BatchGetItem), or None."""
    keys = list(dict.fromkeys(thread_key(m) for m in mail_message_ids if m and m.strip()))[:_THREAD_LOOKUPS]
    if not keys:
        return None
    found = {item.pk: item.conversation_id for item in ThreadIdItem.batch_get([(f"MSGID#{k}", "CONV") for k in keys])}
    return next((found[f"MSGID#{k}"] for k in keys if f"MSGID#{k}" in found), None)


_THREAD_LOOKUPS = 20
_RATE_LOG_ATTEMPTS = 5
# {pk of a cap's log: (the times it holds, its version)}; a cap without a log is absent.
RateLogs = dict[str, tuple[tuple[float, ...], int | None]]


def _rate_log_pk(limit: RateLimit) -> str:
    return rate_log_pk(limit.scope, limit.key)


def rate_log_pk(scope: str, key: str) -> str:
    """The key of a cap's sliding-window log."""
    return f"RATE#{scope}#{key}"


def _rate_log_entry(item: RateLogItem) -> tuple[tuple[float, ...], int | None]:
    return tuple(float(t) for t in item.times or ()), int(item.version or 0)


def _rate_logs(limits: Sequence[RateLimit]) -> RateLogs:
    """The caps' logs, read consistently in one request."""
    if not limits:
        return {}
    keys = list(dict.fromkeys((_rate_log_pk(limit), "LOG") for limit in limits))
    return {item.pk: _rate_log_entry(item) for item in RateLogItem.batch_get(keys, consistent_read=True)}


@dataclass(frozen=True, slots=True)
class InboundReads:
    """What the inbound path reads about one email: its sender, its conversation and the logs of its caps."""

    person: Person | None
    conversation: Conversation | None
    rate_logs: RateLogs
    others: dict[str, Person]  # the people of `others` who exist, by address


def read_for_inbound(
    email: str, conversation_id: str | None, rate_log_pks: Sequence[str], others: Sequence[str] = ()
) -> InboundReads:
    """The sender's person, the conversation, the caps' logs and other people (an email's Cc) in one consistent
    BatchGetItem request."""
    email = email.strip().lower()
    keys = [(f"PERSON#{email}", "PROFILE"), *((pk, "LOG") for pk in rate_log_pks)]
    keys += [(f"PERSON#{other}", "PROFILE") for other in others]
    if conversation_id:
        keys.append((f"CONV#{conversation_id}", "META"))
    pending = [{"pk": pk, "sk": sk} for pk, sk in dict.fromkeys(keys)]
    person = conversation = None
    logs: RateLogs = {}
    people: dict[str, Person] = {}
    while pending:
        page, unprocessed = Item._batch_get_page(pending, consistent_read=True, attributes_to_get=None)
        for raw in page or []:
            entity = raw.get("entity", {}).get("S")
            if entity == "person":
                found = _person_from(PersonItem.from_raw_data(raw))
                if found.email == email:
                    person = found
                else:
                    people[found.email] = found
            elif entity == "conversation":
                conversation = _conversation_from(ConversationItem.from_raw_data(raw))
            elif entity == "rate":
                item = RateLogItem.from_raw_data(raw)
                logs[item.pk] = _rate_log_entry(item)
        pending = [{"pk": k["pk"]["S"], "sk": k["sk"]["S"]} for k in unprocessed or []]
    return InboundReads(person, conversation, logs, people)


def first_copy(email_key: str) -> str | None:
    """The S3 key of the first stored copy of the email with this key (see store_inbound_message), or None."""
    try:
        return EmailIdItem.get(f"EMAILID#{email_key}", "FIRST", consistent_read=True).s3_key
    except EmailIdItem.DoesNotExist:
        return None


def record_outcome(record: InboundRecord) -> bool:
    """Record a rejected or quarantined outcome, never overwriting a stored one; False when it was stored."""
    _note_inbound_day(record.received_at)
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
    """Inbound outcomes received at or after `since`, oldest first (every shard of every day, merged)."""
    items = [
        item
        for partition in inbound_partitions(since)
        for item in InboundItem.gsi1.query(partition, InboundItem.gsi1sk >= _iso(since))
    ]
    items.sort(key=lambda item: item.gsi1sk)
    return [_inbound_from(item) for item in items]


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


def claim_delivery(
    message_id: str, recipient: str, conversation_id: str, now: float, *, abandoned_after: float | None = None
) -> bool:
    """Claim the one send of `message_id` to `recipient`; False when it was sent (or is being sent) already.

    A claim whose send failed may be taken again. With `abandoned_after`, so may a claim still `sending` that
    was made at least that many seconds ago: the attempt that made it died between the claim and the record
    of its end (a Lambda killed or timed out). The caller says when that is certain: 0 for a stream record,
    which Lambda never gives to two invocations at once (a later attempt starts after the earlier one ended);
    longer than the function's timeout for a queue message, which may be delivered twice at once.
    """
    item = _delivery_item(message_id, recipient, conversation_id, "sending", now)
    condition = DeliveryItem.pk.does_not_exist() | (DeliveryItem.status == "failed")
    if abandoned_after is not None:
        condition = condition | (
            (DeliveryItem.status == "sending") & (DeliveryItem.updated_at <= now - abandoned_after)
        )
    try:
        item.save(condition=condition)
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
    actions: list[Action] = [DeliveryItem.status.set(status), DeliveryItem.updated_at.set(now)]
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


def record_skips(skips: Sequence[tuple[str, str, str]], conversation_id: str, now: float) -> None:
    """Record each (message id, recipient, reason) that was deliberately not emailed: one BatchWriteItem per 25."""
    if not skips:
        return
    with DeliveryItem.batch_write() as batch:
        for message_id, recipient, reason in skips:
            batch.save(_delivery_item(message_id, recipient, conversation_id, f"skipped_{reason}", now))


def record_delivery_sent(
    claim_key: str,
    recipient: str,
    conversation_id: str,
    *,
    now: float,
    mail_message_id: str,
    ses_message_id: str | None,
) -> None:
    """A claimed send was accepted by SES: its delivery and the recipient's thread (the Message-ID the next
    notification refers to), in one transaction."""
    actions: list[Action] = [
        DeliveryItem.status.set("sent"),
        DeliveryItem.updated_at.set(now),
        DeliveryItem.mail_message_id.set(mail_message_id),
    ]
    if ses_message_id:
        actions.append(DeliveryItem.ses_message_id.set(ses_message_id))
    thread = ThreadItem(pk=f"CONV#{conversation_id}", sk=f"THREAD#{recipient}")
    with TransactWrite(connection=_connection()) as transaction:
        transaction.update(DeliveryItem(pk=f"DELIVERY#{claim_key}", sk=f"TO#{recipient}"), actions=actions)
        transaction.update(
            thread,
            actions=[
                ThreadItem.entity.set("thread"),
                ThreadItem.message_ids.set((ThreadItem.message_ids | []).append([mail_message_id])),
            ],
        )


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
    return _pending_from(item)


def _pending_from(item: PendingItem) -> Pending | None:
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
