"""The domain's records as plain dataclasses: what the store reads and writes and the logic reasons about."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from emailpipe.domain.inboxes import Inbox
from emailpipe.records import Record

CLOSED_REPLY_CHOICES = ("reopen", "new", "reject")


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


@dataclass(frozen=True, repr=False, eq=False)
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


@dataclass(frozen=True, repr=False, eq=False)
class Department(Record):
    """A group of agents that a conversation can be routed to."""

    name: str


@dataclass(frozen=True, repr=False, eq=False)
class Conversation(Record):
    """A chat conversation between one user and the support team."""

    id: str
    user_email: str
    subject: str = ""
    department: str | None = None
    assigned_agent: str | None = None
    status: str = "open"  # open | pending | closed | archived (chat.CONVERSATION_STATUSES)
    created_at: float = 0.0
    # People besides the user who get agent replies by email and may reply (added by an agent, or by `cc_join`).
    participants: tuple[str, ...] = ()
    inbox: str | None = None  # the piping address of its inbox; None: the deployment's default inbox
    linked_from: str | None = None  # the closed conversation a reply opened this one from (closed_reply=new)
    continued_in: str | None = None  # closed: the conversation its first later reply opened (closed_reply=new)


@dataclass(frozen=True, repr=False, eq=False)
class AttachmentRef(Record):
    """An attachment stored in S3 beside a message."""

    filename: str
    content_type: str
    size: int
    sha256: str
    s3_key: str


@dataclass(frozen=True, repr=False, eq=False)
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
    external_id: str | None = None  # the chat product's own id of this message (unique per conversation)
    text_s3_key: str | None = None  # a long text lives in S3 there; `text` is then its preview (blobs.full_text)
    forwarded_by: str | None = None  # an agent who forwarded the original sender's email into a new conversation
    raw_s3_key: str | None = None  # the raw email this message came from (kept in the mail bucket)
    trimmed_s3_key: str | None = None  # what reply extraction cut (quoted history, signature), kept in S3
    # Who got this email directly (its To and Cc besides our inboxes): they are not emailed it a second time.
    also_to: tuple[str, ...] = ()


@dataclass(frozen=True, repr=False, eq=False)
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
    # Convert-all mail from senders without a person record, per sender domain (within rate_window_seconds).
    max_stranger_emails_per_domain: int = 50
    rate_window_seconds: int = 600
    digest_window_seconds: int = 120
    attach_max_bytes: int = 256 * 1024
    link_expiry_seconds: int = 7 * 24 * 3600
    # Staff domains whose replies post without an aligned SPF/DKIM/DMARC pass (comma-separated; subdomains included).
    staff_unauthenticated_domains: str = ""
    token_lifetime_days: int = 180  # a reply token is rejected (token_expired) this long after its issue day
    # File types linked but never attached to notifications (comma-separated extensions; see domain/attachments.py).
    never_attach_types: str = "html,htm,svg,js,mjs,exe,bat,cmd,com,scr,ps1,vbs,jar,msi,sh,app,dll,hta"
    # People a participant puts in Cc of an email to a conversation join it as participants.
    cc_join: bool = False
    # A reply by email to a closed conversation: reopen it, open a new one linked to it, or reject it.
    closed_reply: str = "reopen"
    # An agent's forward of a customer's email (to the piping address or support+new@) opens a conversation of
    # the original sender, even without convert_all_emails.
    staff_forwards: bool = False
    # The deployment's extra inboxes (domain/inboxes.py), kept with the settings so each email reads them at once;
    # not a key of `settings set` (emailpipe inbox add|remove).
    inboxes: tuple[Inbox, ...] = ()

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
        "max_stranger_emails_per_domain",
        "rate_window_seconds",
        "digest_window_seconds",
        "attach_max_bytes",
        "link_expiry_seconds",
        "staff_unauthenticated_domains",
        "token_lifetime_days",
        "never_attach_types",
        "cc_join",
        "closed_reply",
        "staff_forwards",
    )


@dataclass(frozen=True, repr=False, eq=False)
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
