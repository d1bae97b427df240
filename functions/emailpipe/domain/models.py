"""The domain's records as plain dataclasses: what the store reads and writes and the logic reasons about."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from emailpipe.records import FACTORY, Record


class Role(StrEnum):
    """Who wrote a message or who a person is."""

    USER = "user"
    AGENT = "agent"
    ADMIN = "admin"
    BOT = "bot"

    @property
    def is_staff(self) -> bool:
        """Agents and admins answer conversations."""
        return self in (Role.AGENT, Role.ADMIN)


class Source(StrEnum):
    """Where a message came from."""

    CHAT = "chat"
    EMAIL = "email"
    BOT = "bot"


class Outcome(StrEnum):
    """The recorded result of one inbound email."""

    STORED = "stored"
    REJECTED = "rejected"
    QUARANTINED = "quarantined"


@dataclass(frozen=True, init=False, repr=False, eq=False)
class Person(Record):
    """A user, agent or admin, identified by their (unique, lower-case) email address."""

    email: str
    name: str
    role: Role
    departments: tuple[str, ...] = ()
    online: bool = False
    last_seen: float = 0.0
    bouncing: bool = False
    email_notifications: bool = True  # staff: email me about user messages; users get agent answers regardless
    unsubscribed: bool = False  # an explicit unsubscribe from all email (or a complaint): nothing is sent

    def __init__(
        self,
        email: str,
        name: str,
        role: Role,
        departments: tuple[str, ...] = (),
        online: bool = False,
        last_seen: float = 0.0,
        bouncing: bool = False,
        email_notifications: bool = True,
        unsubscribed: bool = False,
    ) -> None:
        object.__setattr__(self, "email", email)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "departments", departments)
        object.__setattr__(self, "online", online)
        object.__setattr__(self, "last_seen", last_seen)
        object.__setattr__(self, "bouncing", bouncing)
        object.__setattr__(self, "email_notifications", email_notifications)
        object.__setattr__(self, "unsubscribed", unsubscribed)


@dataclass(frozen=True, init=False, repr=False, eq=False)
class Department(Record):
    """A group of agents that a conversation can be routed to."""

    name: str

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "name", name)


@dataclass(frozen=True, init=False, repr=False, eq=False)
class Conversation(Record):
    """A chat conversation between one user and the support team."""

    id: str
    user_email: str
    subject: str = ""
    department: str | None = None
    assigned_agent: str | None = None
    status: str = "open"
    created_at: float = 0.0

    def __init__(
        self,
        id: str,
        user_email: str,
        subject: str = "",
        department: str | None = None,
        assigned_agent: str | None = None,
        status: str = "open",
        created_at: float = 0.0,
    ) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "user_email", user_email)
        object.__setattr__(self, "subject", subject)
        object.__setattr__(self, "department", department)
        object.__setattr__(self, "assigned_agent", assigned_agent)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "created_at", created_at)


@dataclass(frozen=True, init=False, repr=False, eq=False)
class AttachmentRef(Record):
    """An attachment stored in S3 beside a message."""

    filename: str
    content_type: str
    size: int
    sha256: str
    s3_key: str

    def __init__(
        self,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        s3_key: str,
    ) -> None:
        object.__setattr__(self, "filename", filename)
        object.__setattr__(self, "content_type", content_type)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "sha256", sha256)
        object.__setattr__(self, "s3_key", s3_key)


@dataclass(frozen=True, init=False, repr=False, eq=False)
class Message(Record):
    """One chat message."""

    id: str
    conversation_id: str
    author_email: str | None
    author_role: Role
    text: str
    source: Source
    created_at: float
    attachments: tuple[AttachmentRef, ...] = ()
    email_message_id: str | None = None

    def __init__(
        self,
        id: str,
        conversation_id: str,
        author_email: str | None,
        author_role: Role,
        text: str,
        source: Source,
        created_at: float,
        attachments: tuple[AttachmentRef, ...] = (),
        email_message_id: str | None = None,
    ) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "conversation_id", conversation_id)
        object.__setattr__(self, "author_email", author_email)
        object.__setattr__(self, "author_role", author_role)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "created_at", created_at)
        object.__setattr__(self, "attachments", attachments)
        object.__setattr__(self, "email_message_id", email_message_id)


@dataclass(frozen=True, init=False, repr=False, eq=False)
class Settings(Record):
    """Product settings an admin can change at run time."""

    delimiter: bool = True
    convert_all_emails: bool = False
    human_takeover: bool = False
    bot_answer_wait_seconds: int = 30  # human takeover: how long agents' emails wait for the bot's answer
    offline_after_seconds: int = 300
    quarantine_spam: bool = True
    require_authentication: bool = False
    max_emails_per_sender: int = 20
    max_emails_per_conversation: int = 20
    rate_window_seconds: int = 600
    digest_window_seconds: int = 120
    attach_max_bytes: int = 256 * 1024
    link_expiry_seconds: int = 7 * 24 * 3600

    KEYS = (
        "delimiter",
        "convert_all_emails",
        "human_takeover",
        "bot_answer_wait_seconds",
        "offline_after_seconds",
        "quarantine_spam",
        "require_authentication",
        "max_emails_per_sender",
        "max_emails_per_conversation",
        "rate_window_seconds",
        "digest_window_seconds",
        "attach_max_bytes",
        "link_expiry_seconds",
    )

    def __init__(
        self,
        delimiter: bool = True,
        convert_all_emails: bool = False,
        human_takeover: bool = False,
        bot_answer_wait_seconds: int = 30,
        offline_after_seconds: int = 300,
        quarantine_spam: bool = True,
        require_authentication: bool = False,
        max_emails_per_sender: int = 20,
        max_emails_per_conversation: int = 20,
        rate_window_seconds: int = 600,
        digest_window_seconds: int = 120,
        attach_max_bytes: int = 256 * 1024,
        link_expiry_seconds: int = 7 * 24 * 3600,
    ) -> None:
        object.__setattr__(self, "delimiter", delimiter)
        object.__setattr__(self, "convert_all_emails", convert_all_emails)
        object.__setattr__(self, "human_takeover", human_takeover)
        object.__setattr__(self, "bot_answer_wait_seconds", bot_answer_wait_seconds)
        object.__setattr__(self, "offline_after_seconds", offline_after_seconds)
        object.__setattr__(self, "quarantine_spam", quarantine_spam)
        object.__setattr__(self, "require_authentication", require_authentication)
        object.__setattr__(self, "max_emails_per_sender", max_emails_per_sender)
        object.__setattr__(self, "max_emails_per_conversation", max_emails_per_conversation)
        object.__setattr__(self, "rate_window_seconds", rate_window_seconds)
        object.__setattr__(self, "digest_window_seconds", digest_window_seconds)
        object.__setattr__(self, "attach_max_bytes", attach_max_bytes)
        object.__setattr__(self, "link_expiry_seconds", link_expiry_seconds)


@dataclass(frozen=True, init=False, repr=False, eq=False)
class InboundRecord(Record):
    """The outcome of one inbound email, keyed by its S3 object."""

    s3_key: str
    status: Outcome
    reason: str
    received_at: float
    matched_by: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
    sender_hash: str | None = None
    email_message_id: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    def __init__(
        self,
        s3_key: str,
        status: Outcome,
        reason: str,
        received_at: float,
        matched_by: str | None = None,
        conversation_id: str | None = None,
        message_id: str | None = None,
        sender_hash: str | None = None,
        email_message_id: str | None = None,
        details: dict[str, str] = FACTORY,
    ) -> None:
        object.__setattr__(self, "s3_key", s3_key)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "received_at", received_at)
        object.__setattr__(self, "matched_by", matched_by)
        object.__setattr__(self, "conversation_id", conversation_id)
        object.__setattr__(self, "message_id", message_id)
        object.__setattr__(self, "sender_hash", sender_hash)
        object.__setattr__(self, "email_message_id", email_message_id)
        object.__setattr__(self, "details", dict() if details is FACTORY else details)
