"""PynamoDB models of the single emailpipe table: every entity shares pk/sk and one global index.

| entity       | pk                  | sk                         | gsi1pk            | gsi1sk        |
|--------------|---------------------|----------------------------|-------------------|---------------|
| person       | PERSON#<email>      | PROFILE                    | ROLE#<role>       | <email>       |
| department   | DEPT#<name lower>   | DEPT                       | DEPARTMENTS       | <name>        |
| conversation | CONV#<id>           | META                       | USER#<email>      | <created iso> |
|              |                     | (gsi2: STATUS#<status>, <created iso>)                         |
| external id  | CONV#<id>           | EXT#<external id>          | -                 | -             |
| api key      | APIKEY#<id>         | KEY                        | APIKEYS           | <id>          |
| message      | CONV#<id>           | MSG#<created>#<message id> | -                 | -             |
| thread       | CONV#<id>           | THREAD#<recipient email>   | -                 | -             |
| pending      | CONV#<id>           | PENDING#<recipient email>  | -                 | -             |
| delivery     | DELIVERY#<msg id>   | TO#<recipient email>       | -                 | -             |
| settings     | SETTINGS            | GLOBAL                     | -                 | -             |
| inbound      | INBOUND#<s3 key>    | OUTCOME                    | INBOUND#<day>#<n> | <received iso>#<s3 key> |
| inbound days | INBOUNDLOG          | DAYS                       | -                 | -             |
| rate log     | RATE#<scope>#<key>  | LOG                        | -                 | -             |
| email id     | EMAILID#<sha256>    | FIRST                      | -                 | -             |
| thread id    | MSGID#<sha256>      | CONV                       | -                 | -             |
| mailbox      | MAILBOX#<id>        | STATUS                     | -                 | -             |
| mailbox_lease| MAILBOX#<id>        | LEASE                      | -                 | -             |
| mailbox_msg  | MAILBOX#<id>        | UID#<v>#<uid> or UIDL#<u>  | -                 | -             |
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class Gsi1(GlobalSecondaryIndex):
    """The one secondary index: people by role, conversations by user, inbound outcomes by time."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex):
    """Conversations by status (the API's `GET /v1/conversations?status=`)."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Item(Model):
    """Base of every entity; `configure()` points all of them at the table."""

    class Meta:
        table_name = "emailpipe"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute()


class IndexedItem(Item):
    """An entity that also appears in gsi1."""

    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()
    # Only conversations fill gsi2 (by status); it is declared here so that the one shared connection, made from
    # this class's schema (repo.configure), knows both indexes.
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi2 = Gsi2()


class PersonItem(IndexedItem):
    """A user, agent or admin."""

    email = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    departments: ListAttribute[Any] = ListAttribute(of=UnicodeAttribute, default=list)
    online = BooleanAttribute(default=False)
    last_seen = NumberAttribute(default=0)
    bouncing = BooleanAttribute(default=False)
    # Why `bouncing` was set (and when it was cleared): see store/bounces.py and domain/bounces.py.
    bounce_evidence: MapAttribute[str, Any] = MapAttribute(null=True)
    email_notifications = BooleanAttribute(default=True)
    unsubscribed = BooleanAttribute(default=False)
    created_at = NumberAttribute(default=0)


class DepartmentItem(IndexedItem):
    """A department."""

    name = UnicodeAttribute()


class ConversationItem(IndexedItem):
    """A conversation's header."""

    id = UnicodeAttribute()
    user_email = UnicodeAttribute()
    subject = UnicodeAttribute(default="")
    department = UnicodeAttribute(null=True)
    assigned_agent = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="open")
    created_at = NumberAttribute(default=0)
    participants: ListAttribute[Any] = ListAttribute(
        of=UnicodeAttribute, null=True
    )  # besides the user: they get agent replies
    inbox = UnicodeAttribute(null=True)  # its inbox's piping address; absent: the default inbox
    linked_from = UnicodeAttribute(null=True)  # the closed conversation it was opened from (closed_reply=new)
    continued_in = UnicodeAttribute(null=True)  # closed: the conversation later replies go to (closed_reply=new)


class AttachmentMap(MapAttribute):
    """An attachment kept in S3."""

    filename = UnicodeAttribute()
    content_type = UnicodeAttribute()
    size = NumberAttribute()
    sha256 = UnicodeAttribute()
    s3_key = UnicodeAttribute()


class MessageItem(Item):
    """A chat message; its INSERT on the stream drives the notifier."""

    id = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    author_email = UnicodeAttribute(null=True)
    author_role = UnicodeAttribute()
    text = UnicodeAttribute(default="")
    source = UnicodeAttribute()
    created_at = NumberAttribute()
    attachments = ListAttribute(of=AttachmentMap, default=list)
    email_message_id = UnicodeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)
    text_s3_key = UnicodeAttribute(null=True)  # the full text in the mail bucket when `text` is only its preview
    forwarded_by = UnicodeAttribute(null=True)  # the agent who forwarded the original sender's email
    raw_s3_key = UnicodeAttribute(null=True)  # the raw email it came from
    trimmed_s3_key = UnicodeAttribute(null=True)  # what reply extraction cut from it, as text in the mail bucket
    also_to: ListAttribute[Any] = ListAttribute(
        of=UnicodeAttribute, null=True
    )  # who got the email directly (To and Cc)


class ExternalIdItem(Item):
    """The guard that makes a chat product's message id unique in a conversation; points at the message."""

    message_sk = UnicodeAttribute()


class ApiKeyItem(IndexedItem):
    """An HTTP API key: only the SHA-256 of the key is kept."""

    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    scope = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    created_at = NumberAttribute()
    last_used = NumberAttribute(null=True)
    revoked_at = NumberAttribute(null=True)


class ThreadItem(Item):
    """The Message-IDs of the notifications one recipient got in one conversation, oldest first."""

    message_ids: ListAttribute[Any] = ListAttribute(of=UnicodeAttribute, default=list)


class DeliveryItem(Item):
    """One (message, recipient) notification; its conditional creation makes each send happen once."""

    status = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    mail_message_id = UnicodeAttribute(null=True)
    ses_message_id = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    updated_at = NumberAttribute(default=0)


class SettingsItem(Item):
    """Product settings."""

    delimiter = BooleanAttribute(default=True)
    convert_all_emails = BooleanAttribute(default=False)
    human_takeover = BooleanAttribute(default=False)
    bot_answer_wait_seconds = NumberAttribute(default=30)
    offline_after_seconds = NumberAttribute(default=300)
    quarantine_spam = BooleanAttribute(default=True)
    require_authentication = BooleanAttribute(default=False)
    max_emails_per_sender = NumberAttribute(default=20)
    max_emails_per_conversation = NumberAttribute(default=20)
    rate_window_seconds = NumberAttribute(default=600)
    digest_window_seconds = NumberAttribute(default=120)
    attach_max_bytes = NumberAttribute(default=256 * 1024)
    link_expiry_seconds = NumberAttribute(default=7 * 24 * 3600)
    staff_unauthenticated_domains = UnicodeAttribute(null=True)
    max_stranger_emails_per_domain = NumberAttribute(default=50)
    token_lifetime_days = NumberAttribute(default=180)
    never_attach_types = UnicodeAttribute(null=True)
    cc_join = BooleanAttribute(null=True)
    closed_reply = UnicodeAttribute(null=True)
    staff_forwards = BooleanAttribute(null=True)
    # The extra inboxes as a JSON list (store/inboxes.py writes it under `inboxes_version`; settings writes keep it).
    inboxes = UnicodeAttribute(null=True)
    inboxes_version = NumberAttribute(null=True)


class PendingItem(Item):
    """Messages waiting for one recipient's digest email in one conversation (the open window)."""

    window_id = UnicodeAttribute(null=True)
    opened_at = NumberAttribute(null=True)
    message_ids = UnicodeSetAttribute(null=True)


class RateLogItem(Item):
    """The times of the emails posted under one cap within its sliding window; `version` guards each rewrite."""

    times: ListAttribute[Any] = ListAttribute(of=NumberAttribute, default=list)
    version = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)


class ThreadIdItem(Item):
    """A stored email's Message-ID -> its conversation, so a reply-all to that email (no token) finds it."""

    conversation_id = UnicodeAttribute()


class EmailIdItem(Item):
    """The first stored copy of one email (its sender and Message-ID): later copies are recorded as duplicates."""

    s3_key = UnicodeAttribute()
    stored_at = NumberAttribute(default=0)


class InboundItem(IndexedItem):
    """The outcome of one inbound email."""

    s3_key = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute()
    received_at = NumberAttribute()
    matched_by = UnicodeAttribute(null=True)
    conversation_id = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    sender_hash = UnicodeAttribute(null=True)
    email_message_id = UnicodeAttribute(null=True)
    details: MapAttribute[str, Any] = MapAttribute(default=dict)
    attempts = NumberAttribute(default=1)


class InboundDaysItem(Item):
    """The days (UTC, YYYY-MM-DD) that have inbound outcomes: where a read of the sharded inbound log starts."""

    days = UnicodeSetAttribute(null=True)


class MailboxStatusItem(Item):
    """One polled IMAP/POP3 mailbox: its UIDVALIDITY, copied-UID high-water mark, last run and last error."""

    uidvalidity = UnicodeAttribute(null=True)
    last_uid = NumberAttribute(default=0)
    last_run = NumberAttribute(null=True)
    last_success = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    last_error_detail = UnicodeAttribute(null=True)
    last_error_at = NumberAttribute(null=True)
    consecutive_errors = NumberAttribute(default=0)
    copied_total = NumberAttribute(default=0)
    skipped_total = NumberAttribute(default=0)
    last_copied = NumberAttribute(default=0)
    last_skipped = NumberAttribute(default=0)
    last_failed = NumberAttribute(default=0)
    pending = NumberAttribute(default=0)


class MailboxLeaseItem(Item):
    """The one run allowed to poll a mailbox until `expires_at` (also the table's TTL attribute)."""

    owner = UnicodeAttribute()
    expires_at = NumberAttribute()


class MailboxMessageItem(Item):
    """One message of a polled mailbox: copying -> copied -> done, or skipped/error/failed, with why."""

    status = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    updated_at = NumberAttribute(default=0)
    s3_key = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    size = NumberAttribute(null=True)


ALL_MODELS: tuple[type[Model], ...] = (
    Item,
    IndexedItem,
    PersonItem,
    DepartmentItem,
    ConversationItem,
    MessageItem,
    ThreadItem,
    DeliveryItem,
    SettingsItem,
    InboundItem,
    InboundDaysItem,
    MailboxStatusItem,
    MailboxLeaseItem,
    MailboxMessageItem,
    PendingItem,
    ExternalIdItem,
    ApiKeyItem,
    RateLogItem,
    EmailIdItem,
    ThreadIdItem,
)
