"""The chat application's side: the functions the HTTP API, the `emailpipe` command and the connectors call.

Every chat-side rule lives here once: address validation, who may post where, settings parsing, message
de-duplication by external id, re-drive and the status figures.
"""

from __future__ import annotations

import hashlib
import mimetypes
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emailpipe.domain import tokens
from emailpipe.domain.errors import AlreadyExistsError, InvalidInputError, NotFoundError, TooLargeError
from emailpipe.domain.inboxes import Inbox, all_inboxes, is_inbox_address
from emailpipe.domain.models import (
    CLOSED_REPLY_CHOICES,
    AttachmentRef,
    Conversation,
    Department,
    InboundRecord,
    Message,
    Person,
    Role,
    Settings,
    Source,
)
from emailpipe.domain.reasons import unknown_reason_message
from emailpipe.store import blobs, chat_records, ops, repo
from emailpipe.store import inboxes as inbox_store
from emailpipe.store.paging import Page, clamp_limit, decode_cursor, encode_cursor

CONVERSATION_STATUSES = ("open", "pending", "closed", "archived")
# What one message may carry, uploaded or inline (the inline limit of the HTTP API is lower: its body limit).
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10
# A long text lives in S3 with a preview in the item (as for long emails); beyond this it is refused.
MAX_TEXT_CHARS = 1_000_000
UPLOAD_EXPIRY_SECONDS = 900
MAX_TRIMMED_BYTES = 8 * 1024 * 1024  # what reply extraction cut is read back at most this long
# People besides the user in one conversation: each gets every agent reply, so the list stays short.
MAX_PARTICIPANTS = 20
DOWNLOAD_EXPIRY_SECONDS = 300
STATUS_METRICS = (
    "EmailsReceived",
    "MessagesStored",
    "EmailsRejected",
    "EmailsQuarantined",
    "NotificationsSent",
    "NotificationsFailed",
)
_BOOLEAN_WORDS = {
    "on": True,
    "true": True,
    "1": True,
    "yes": True,
    "off": False,
    "false": False,
    "0": False,
    "no": False,
}


def known_reason(reason: str, field: str = "reason") -> str:
    """An inbound outcome's reason code as domain.reasons lists it; InvalidInputError naming `field` otherwise."""
    problem = unknown_reason_message(reason)
    if problem is not None:
        raise InvalidInputError(problem, field=field)
    return reason


def normalize_email(email: str, field: str = "email") -> str:
    """A syntactically valid address (email-validator, no DNS), lower-cased; InvalidInputError naming `field`."""
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(email, str):
        raise InvalidInputError(f"{field} must be an email address", field=field)
    try:
        validated = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInputError(f"not an email address: {exc}", field=field) from exc
    return validated.normalized.lower()


def parse_since(value: str) -> float:
    """`1h`, `30m`, `2d`, `45s` ago, or an ISO time (UTC when it names no zone), as epoch seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = value.strip()
    if value[-1:] in units and value[:-1].isdigit():
        return time.time() - int(value[:-1]) * units[value[-1]]
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError("since takes 30m, 1h, 2d or an ISO time", field="since") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def parse_setting(current: Settings, key: str, value: str | bool | int) -> bool | int | str:
    """One setting's value from text (on/off/true/false, whole numbers) or JSON (booleans, integers)."""
    if key not in Settings.KEYS:
        raise InvalidInputError(f"unknown setting {key!r}; known: {', '.join(Settings.KEYS)}", field=key)
    if isinstance(getattr(current, key), bool):
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if isinstance(value, int) or lowered not in _BOOLEAN_WORDS:
            raise InvalidInputError(f"{key} takes on or off, not {value!r}", field=key)
        return _BOOLEAN_WORDS[lowered]
    if isinstance(getattr(current, key), str):
        if not isinstance(value, str):
            raise InvalidInputError(f"{key} takes text, not {value!r}", field=key)
        if key == "closed_reply" and value.strip().lower() not in CLOSED_REPLY_CHOICES:
            raise InvalidInputError(f"closed_reply is one of {', '.join(CLOSED_REPLY_CHOICES)}", field=key)
        return value.strip().lower() if key == "closed_reply" else value.strip()
    if isinstance(value, bool):
        raise InvalidInputError(f"{key} takes a whole number, not {value!r}", field=key)
    try:
        parsed = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{key} takes a whole number, not {value!r}", field=key) from exc
    if isinstance(value, float) and value != parsed:
        raise InvalidInputError(f"{key} takes a whole number, not {value!r}", field=key)
    if parsed < 0:
        raise InvalidInputError(f"{key} cannot be negative", field=key)
    return parsed


@dataclass(frozen=True, slots=True)
class NewAttachment:
    """An attachment a chat message brings: its name, type and bytes."""

    filename: str
    content_type: str
    data: bytes

    @classmethod
    def from_path(cls, path: Path | str) -> NewAttachment:
        """A file on disk (its type guessed from its name)."""
        path = Path(path)
        return cls(path.name, mimetypes.guess_type(str(path))[0] or "application/octet-stream", path.read_bytes())


@dataclass(frozen=True, slots=True)
class Upload:
    """Where a client uploads an attachment's bytes before referencing `key` in a message."""

    key: str
    url: str
    expires_in: int
    content_type: str


@dataclass(frozen=True, slots=True)
class ChatApi:
    """Chat-side operations on one deployment (its table and mail bucket)."""

    mail_bucket: str
    attachment_prefix: str = "attachments/"
    # The deployment's own inbox (PipingAddress, BrandName): listed first and never removed.
    default_inbox: Inbox | None = None

    # ------------------------------------------------------------ departments

    def add_department(self, name: str) -> Department:
        """Create a department (AlreadyExistsError when the name is taken)."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError("a department needs a name", field="name")
        department = Department(name=" ".join(name.split()))
        repo.put_department(department)
        return department

    def list_departments(self) -> list[Department]:
        """Every department."""
        return chat_records.list_departments()

    def _known_departments(self, departments: Sequence[str]) -> tuple[str, ...]:
        known = []
        for department in departments:
            found = repo.get_department(department) if isinstance(department, str) else None
            if found is None:
                raise NotFoundError(f"no department {department!r}")
            known.append(found.name)
        return tuple(dict.fromkeys(known))

    # ------------------------------------------------------------ people

    def add_agent(self, email: str, name: str, departments: Sequence[str] = (), admin: bool = False) -> Person:
        """Register a new agent (or admin) with their departments (AlreadyExistsError when the email is taken)."""
        person = Person(
            normalize_email(email), name, Role.ADMIN if admin else Role.AGENT, self._known_departments(departments)
        )
        repo.put_person(person)
        return person

    def add_user(self, email: str, name: str) -> Person:
        """Register a new chat user (AlreadyExistsError when the email is taken)."""
        person = Person(normalize_email(email), name, Role.USER)
        repo.put_person(person)
        return person

    def upsert_person(self, email: str, name: str, role: Role, departments: Sequence[str] = ()) -> Person:
        """Create a person or replace their name, role and departments; presence and email flags are kept."""
        return self.upsert_person_created(email, name, role, departments)[0]

    def upsert_person_created(
        self, email: str, name: str, role: Role | str, departments: Sequence[str] = ()
    ) -> tuple[Person, bool]:
        """`upsert_person`, also saying whether the person was created."""
        email = normalize_email(email)
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError("a person needs a name", field="name")
        try:
            role = Role(role)
        except ValueError as exc:
            raise InvalidInputError("role is user, agent or admin", field="role") from exc
        if role is Role.BOT:
            raise InvalidInputError("role is user, agent or admin", field="role")
        if role is Role.USER and departments:
            raise InvalidInputError("a user has no departments", field="departments")
        person = Person(email, name.strip(), role, self._known_departments(departments))
        return chat_records.upsert_person(person)

    def remove_person(self, email: str) -> None:
        """Remove a person: their reply tokens stop working, because inbound mail from an unknown sender is refused."""
        email = normalize_email(email)
        if not chat_records.delete_person(email):
            raise NotFoundError(f"no person {email}")

    def get_person(self, email: str) -> Person:
        """One person."""
        email = normalize_email(email)
        person = repo.get_person(email)
        if person is None:
            raise NotFoundError(f"no person {email}")
        return person

    def bounce_evidence(self, email: str) -> Any:
        """The evidence of a person's bouncing mark (which notification, which report, when), or None."""
        from emailpipe.store import bounces

        return bounces.get_bounce_evidence(normalize_email(email))

    def set_bouncing(self, email: str, bouncing: bool) -> None:
        """Mark an address bouncing, or clear the mark once it is fixed; the evidence says it was done by hand."""
        from emailpipe.domain.bounces import BounceEvidence
        from emailpipe.store import bounces

        email = self.get_person(email).email
        if bouncing:
            bounces.mark_bouncing(email, BounceEvidence(source="hand", marked_at=time.time()))
        else:
            bounces.clear_bouncing(email, time.time(), "hand")

    def list_people(
        self, role: Role | str | None = None, cursor: str | None = None, limit: int | None = None
    ) -> Page[Person]:
        """People of one role, or of every role (admins, agents, then users), a page at a time."""
        limit = clamp_limit(limit)
        if role is not None:
            try:
                role = Role(role)
            except ValueError as exc:
                raise InvalidInputError("role is user, agent or admin", field="role") from exc
            return chat_records.page_people(role, limit, cursor)
        # One cursor across the three roles: the role being read travels inside it.
        order = (Role.ADMIN, Role.AGENT, Role.USER)
        data = decode_cursor(cursor)
        index = order.index(Role(data["role"])) if data and data.get("role") in {r.value for r in order} else 0
        inner = encode_cursor(data["k"]) if data and "start" not in data["k"] else None
        items: list[Person] = []
        while index < len(order) and len(items) < limit:
            page = chat_records.page_people(order[index], limit - len(items), inner)
            items.extend(page.items)
            if page.next:
                inner = page.next
                break
            index, inner = index + 1, None
        if index >= len(order):
            return Page(items, None)
        if inner is None:  # the page ended exactly at a role's end: the next page starts the next role
            return Page(items, _role_start_cursor(order[index]))
        return Page(items, encode_cursor(decode_cursor(inner)["k"], role=order[index].value))  # type: ignore[index]

    def set_presence(self, email: str, online: bool) -> None:
        """Mark an agent online (seen now) or offline: one conditional write, NotFoundError when there is none."""
        email = normalize_email(email)
        if not isinstance(online, bool):
            raise InvalidInputError("online is true or false", field="online")
        if not chat_records.set_presence_once(email, online, time.time()):
            raise NotFoundError(f"no person {email}")

    # ------------------------------------------------------------ settings

    def settings(self) -> Settings:
        """The current settings."""
        return repo.get_settings()

    def set_setting(self, key: str, value: str) -> Settings:
        """Change one setting; booleans take on/off/true/false, numbers take integers."""
        return self.set_settings({key: value})

    def set_settings(self, changes: Mapping[str, str | bool | int]) -> Settings:
        """Change several settings at once (all or none; one write)."""
        current = repo.get_settings()
        parsed: dict[str, Any] = {key: parse_setting(current, key, value) for key, value in changes.items()}
        updated = replace(current, **parsed)
        repo.put_settings(updated)
        return updated

    # ------------------------------------------------------------ inboxes

    def list_inboxes(self) -> tuple[Inbox, ...]:
        """The deployment's default inbox first (as changed, when it was), then every added inbox."""
        stored = inbox_store.list_inboxes()
        if self.default_inbox is None:
            return stored
        return all_inboxes(self.default_inbox, Settings(inboxes=stored))

    def add_inbox(
        self,
        address: str,
        brand_name: str,
        from_address: str | None = None,
        department: str | None = None,
        convert_all_emails: bool | str | None = None,
        delimiter: bool | str | None = None,
    ) -> Inbox:
        """Add a piping address (AlreadyExistsError when it is an inbox already)."""
        address = self._inbox_address(address)
        if self.default_inbox is not None and address == self.default_inbox.address:
            raise AlreadyExistsError(f"{address} is the deployment's default inbox; change it with update_inbox")
        inbox = self._checked_inbox(
            Inbox(
                address=address,
                brand_name=_brand(brand_name),
                from_address=_optional_email(from_address, "from_address"),
                department=self._inbox_department(department),
                convert_all_emails=_optional_flag(convert_all_emails, "convert_all_emails"),
                delimiter=_optional_flag(delimiter, "delimiter"),
            )
        )
        inbox_store.put_inbox(inbox, exists=False)
        return inbox

    def update_inbox(
        self,
        address: str,
        brand_name: str | None = None,
        from_address: str | None = None,
        department: str | None = None,
        convert_all_emails: bool | str | None = None,
        delimiter: bool | str | None = None,
    ) -> Inbox:
        """Change an inbox (the default one too): None leaves a field; "" clears from_address or department, and
        sets convert_all_emails or delimiter back to the setting of the same name."""
        address = normalize_email(address, field="address")
        current = next((inbox for inbox in self.list_inboxes() if inbox.address == address), None)
        if current is None:
            raise NotFoundError(f"no inbox {address}")
        changes: dict[str, Any] = {}
        if brand_name is not None:
            changes["brand_name"] = _brand(brand_name)
        if from_address is not None:
            changes["from_address"] = _optional_email(from_address or None, "from_address")
        if department is not None:
            changes["department"] = self._inbox_department(department or None)
        for name, value in (("convert_all_emails", convert_all_emails), ("delimiter", delimiter)):
            if value is not None:
                changes[name] = _optional_flag(value if value != "" else None, name)
        inbox = self._checked_inbox(replace(current, **changes))
        is_default = self.default_inbox is not None and address == self.default_inbox.address
        # The default inbox exists without being stored: its first change stores it (then it wins over the template).
        inbox_store.put_inbox(inbox, exists=None if is_default else True)
        return inbox

    def remove_inbox(self, address: str) -> None:
        """Remove an added inbox; mail to it is then treated as mail to no inbox (the default cannot be removed)."""
        address = normalize_email(address, field="address")
        if self.default_inbox is not None and address == self.default_inbox.address:
            raise InvalidInputError("the deployment's default inbox cannot be removed", field="address")
        if not inbox_store.remove_inbox(address):
            raise NotFoundError(f"no inbox {address}")

    def _inbox_address(self, address: str) -> str:
        address = normalize_email(address, field="address")
        if "+" in address.partition("@")[0]:
            # Plus-addresses carry reply tokens: an inbox is always a base address.
            raise InvalidInputError("an inbox address has no +tag", field="address")
        return address

    def _inbox_department(self, department: str | None) -> str | None:
        if department is None:
            return None
        found = repo.get_department(department) if isinstance(department, str) else None
        if found is None:
            raise InvalidInputError(f"no department {department!r}", field="department")
        return found.name

    def _checked_inbox(self, inbox: Inbox) -> Inbox:
        """Refuse an inbox whose address or From identity is another inbox's or a registered person's."""
        others = [other for other in self.list_inboxes() if other.address != inbox.address]
        for name, value in (("address", inbox.address), ("from_address", inbox.from_address)):
            if value is None:
                continue
            if is_inbox_address(others, value):
                raise InvalidInputError(f"{value} belongs to another inbox", field=name)
            if repo.get_person(value) is not None:
                # Mail from an inbox address is never taken as a person's: that person could no longer write.
                raise InvalidInputError(f"{value} is a registered person's address", field=name)
        return inbox

    # ------------------------------------------------------------ conversations

    def open_conversation(self, user_email: str, department: str | None = None, subject: str = "") -> Conversation:
        """Open a conversation for a registered user."""
        user = repo.get_person(normalize_email(user_email, field="user"))
        if user is None:
            raise NotFoundError(f"no user {user_email}")
        if not isinstance(subject, str):
            raise InvalidInputError("subject is text", field="subject")
        if department is not None:
            found = repo.get_department(department) if isinstance(department, str) else None
            if found is None:
                raise NotFoundError(f"no department {department!r}")
            department = found.name
        conversation = Conversation(
            id=tokens.new_conversation_id(),
            user_email=user.email,
            subject=" ".join(subject.split()),
            department=department,
            created_at=time.time(),
        )
        repo.put_conversation(conversation)
        return conversation

    def get_conversation(self, conversation_id: str) -> Conversation:
        """One conversation's header."""
        conversation = repo.get_conversation(conversation_id)
        if conversation is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        return conversation

    def list_conversations(
        self,
        *,
        user: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Conversation]:
        """A user's conversations (optionally of one status), or every conversation of one status."""
        limit = clamp_limit(limit)
        if status is not None and status not in CONVERSATION_STATUSES:
            raise InvalidInputError(f"status is one of {', '.join(CONVERSATION_STATUSES)}", field="status")
        if user is not None:
            return chat_records.page_conversations_of_user(normalize_email(user, field="user"), status, limit, cursor)
        if status is None:
            raise InvalidInputError("list conversations by user or by status", field="user")
        return chat_records.page_conversations_by_status(status, limit, cursor)

    def update_conversation(
        self,
        conversation_id: str,
        *,
        status: str | None = None,
        department: str | None = None,
        assigned_agent: str | None = None,
    ) -> Conversation:
        """Change status, department or assigned agent (None: unchanged; "": clear department or agent)."""
        if status is not None and status not in CONVERSATION_STATUSES:
            raise InvalidInputError(f"status is one of {', '.join(CONVERSATION_STATUSES)}", field="status")
        if department:
            department = self._known_departments([department])[0]
        if assigned_agent:
            agent = repo.get_person(normalize_email(assigned_agent, field="assigned_agent"))
            if agent is None or not agent.role.is_staff:
                raise InvalidInputError("assigned_agent is not an agent or admin", field="assigned_agent")
            assigned_agent = agent.email
        updated = chat_records.update_conversation(
            conversation_id, status=status, department=department, assigned_agent=assigned_agent
        )
        if updated is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        return updated

    def close_conversation(self, conversation_id: str) -> Conversation:
        """Close a conversation (a reply by email then follows the setting closed_reply)."""
        return self.update_conversation(conversation_id, status="closed")

    def reopen_conversation(self, conversation_id: str) -> Conversation:
        """Open a closed or archived conversation again."""
        return self.update_conversation(conversation_id, status="open")

    def archive_conversation(self, conversation_id: str) -> Conversation:
        """Archive a conversation: replies by email to it are never posted."""
        return self.update_conversation(conversation_id, status="archived")

    # ------------------------------------------------------------ participants

    def add_participant(self, conversation_id: str, email: str, name: str | None = None) -> Conversation:
        """Add a person who gets the agents' replies by email (a new address becomes a user); idempotent."""
        return self.add_participant_created(conversation_id, email, name)[0]

    def add_participant_created(
        self, conversation_id: str, email: str, name: str | None = None
    ) -> tuple[Conversation, bool]:
        """`add_participant`, also saying whether the address was added now (False: it was a participant already)."""
        email = normalize_email(email)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InvalidInputError("name is a non-empty text", field="name")
        conversation = self.get_conversation(conversation_id)
        if email == conversation.user_email:
            raise InvalidInputError("the conversation's user takes part already", field="email")
        if email in conversation.participants:
            return conversation, False
        person = repo.get_person(email)
        if person is not None and person.role is not Role.USER:
            # An agent answers as staff (recognised by address in a Cc or reply-all); assign them instead.
            raise InvalidInputError("an agent or admin is never a participant", field="email")
        if self._is_inbox_address(email):
            raise InvalidInputError("an inbox address cannot be a participant", field="email")
        if len(conversation.participants) >= MAX_PARTICIPANTS:
            raise InvalidInputError(f"a conversation has at most {MAX_PARTICIPANTS} participants", field="email")
        if person is None:
            display = " ".join(name.split()) if name else email.partition("@")[0]
            repo.ensure_person(Person(email, display, Role.USER))
        updated, outcome = chat_records.add_participant(conversation.id, email, MAX_PARTICIPANTS)
        if updated is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        if outcome == "full":
            raise InvalidInputError(f"a conversation has at most {MAX_PARTICIPANTS} participants", field="email")
        return updated, outcome == "added"

    def remove_participant(self, conversation_id: str, email: str) -> Conversation:
        """Remove a participant: no more replies by email, and mail from them to the conversation is refused."""
        email = normalize_email(email)
        updated, removed = chat_records.remove_participant(conversation_id, email)
        if updated is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        if not removed:
            raise NotFoundError(f"{email} is not a participant of conversation {conversation_id}")
        return updated

    def _is_inbox_address(self, email: str) -> bool:
        # A notification to an inbox would come straight back in as a new email.
        return is_inbox_address(self.list_inboxes(), email)

    # ------------------------------------------------------------ messages

    def post_message(
        self,
        conversation_id: str,
        author: str,
        text: str,
        attachments: Sequence[NewAttachment | Path] = (),
        external_id: str | None = None,
    ) -> tuple[Message, bool]:
        """Post a chat message as `author` (an email, or "bot" for the chatbot).

        Returns (message, created): with an `external_id` already used in the conversation, the message stored
        then and False, and nothing is stored or emailed again."""
        conversation = self.get_conversation(conversation_id)
        if not isinstance(text, str):
            raise InvalidInputError("text is a string", field="text")
        if external_id is not None and (not isinstance(external_id, str) or not 0 < len(external_id) <= 200):
            raise InvalidInputError("external_id is a string of 1 to 200 characters", field="external_id")
        if not isinstance(author, str):
            raise InvalidInputError("author is an email address or bot", field="author")
        if author.strip().lower() == "bot":
            author_email, role, source = None, Role.BOT, Source.BOT
        else:
            person = repo.get_person(normalize_email(author, field="author"))
            if person is None:
                raise NotFoundError(f"no person {author}")
            members = (conversation.user_email, *conversation.participants)
            if person.role is Role.USER and person.email not in members:
                raise InvalidInputError(
                    "a user can only post in their own conversation or one they take part in", field="author"
                )
            author_email, role, source = person.email, person.role, Source.CHAT
        files = [a if isinstance(a, NewAttachment) else NewAttachment.from_path(a) for a in attachments]
        if len(files) > MAX_ATTACHMENTS:
            raise InvalidInputError(f"at most {MAX_ATTACHMENTS} attachments", field="attachments")
        if not text.strip() and not files:
            raise InvalidInputError("a message needs text or an attachment", field="text")
        if len(text) > MAX_TEXT_CHARS:
            raise TooLargeError(f"a message's text is at most {MAX_TEXT_CHARS} characters", field="text")
        for index, file in enumerate(files):
            if len(file.data) > MAX_ATTACHMENT_BYTES:
                raise TooLargeError(
                    f"attachment larger than {MAX_ATTACHMENT_BYTES} bytes", field=f"attachments[{index}]"
                )
        message_id = secrets.token_hex(12)
        refs = []
        for index, file in enumerate(files):
            name = Path(file.filename).name or f"attachment-{index}"
            key = f"{self.attachment_prefix}{conversation.id}/{message_id}/{index}-{name}"
            blobs.put_object(self.mail_bucket, key, file.data, file.content_type)
            refs.append(
                AttachmentRef(name, file.content_type, len(file.data), hashlib.sha256(file.data).hexdigest(), key)
            )
        stored_text, text_s3_key = text, None
        if blobs.is_long_text(text):
            # The whole text lives in S3 and the item keeps a preview; notifications and the API read the whole.
            text_s3_key = blobs.text_key(conversation.id, message_id)
            blobs.put_object(self.mail_bucket, text_s3_key, text.encode("utf-8"), "text/plain; charset=utf-8")
            stored_text = blobs.preview(text)
        message = Message(
            id=message_id,
            conversation_id=conversation.id,
            author_email=author_email,
            author_role=role,
            text=stored_text,
            source=source,
            created_at=time.time(),
            attachments=tuple(refs),
            external_id=external_id,
            text_s3_key=text_s3_key,
        )
        # As stored: a long text is its preview here (the answer, and an Idempotency-Key's record of it, stay small);
        # list_messages gives the whole text.
        return chat_records.put_message_once(message)

    def with_full_text(self, message: Message) -> Message:
        """The message with its whole text (read from S3 when the record keeps only a preview)."""
        if not message.text_s3_key:
            return message
        return replace(message, text=blobs.full_text(self.mail_bucket, message), text_s3_key=None)

    def list_messages(self, conversation_id: str, cursor: str | None = None, limit: int | None = None) -> Page[Message]:
        """A conversation's messages, oldest first, a page at a time."""
        limit = clamp_limit(limit)
        self.get_conversation(conversation_id)
        page = chat_records.page_messages(conversation_id, limit, cursor)
        # A long emailed text keeps only a preview in the item; the chat gets the whole of it.
        items = [self.with_full_text(m) for m in page.items]
        return Page(items, page.next)

    def get_message(self, conversation_id: str, message_id: str) -> Message:
        """One message of a conversation, with its whole text."""
        return self.with_full_text(self._stored_message(conversation_id, message_id))

    def _stored_message(self, conversation_id: str, message_id: str) -> Message:
        message = chat_records.get_message(conversation_id, message_id)
        if message is None:
            raise NotFoundError(f"no message {message_id} in conversation {conversation_id}")
        return message

    def trimmed_text(self, message: Message) -> str | None:
        """What reply extraction cut from an emailed message (quoted history, signature), or None if nothing was."""
        if not message.trimmed_s3_key:
            return None
        return blobs.read_object(self.mail_bucket, message.trimmed_s3_key, MAX_TRIMMED_BYTES).decode("utf-8", "replace")

    def new_upload(self, conversation_id: str, filename: str, content_type: str) -> Upload:
        """A presigned PUT for one attachment of a coming message in this conversation."""
        self.get_conversation(conversation_id)
        if not isinstance(filename, str) or not Path(filename).name:
            raise InvalidInputError("filename is required", field="filename")
        if not isinstance(content_type, str) or "/" not in content_type:
            raise InvalidInputError("content_type is a MIME type such as image/png", field="content_type")
        key = f"{self.attachment_prefix}uploads/{conversation_id}/{secrets.token_hex(12)}/{Path(filename).name}"
        url = ops.presigned_put_url(self.mail_bucket, key, content_type, UPLOAD_EXPIRY_SECONDS)
        return Upload(key=key, url=url, expires_in=UPLOAD_EXPIRY_SECONDS, content_type=content_type)

    def uploaded_attachment(self, conversation_id: str, key: str, field: str = "attachments") -> NewAttachment:
        """The attachment uploaded through `new_upload` under `key` (in this conversation)."""
        prefix = f"{self.attachment_prefix}uploads/{conversation_id}/"
        if not isinstance(key, str) or not key.startswith(prefix) or ".." in key:
            raise InvalidInputError("key is not an upload of this conversation", field=field)
        size = ops.object_size(self.mail_bucket, key)
        if size is None:
            raise InvalidInputError("nothing was uploaded under this key", field=field)
        if size > MAX_ATTACHMENT_BYTES:
            raise TooLargeError(f"attachment larger than {MAX_ATTACHMENT_BYTES} bytes", field=field)
        data = blobs.read_object(self.mail_bucket, key, MAX_ATTACHMENT_BYTES)
        name = key.rsplit("/", 1)[-1]
        return NewAttachment(name, mimetypes.guess_type(name)[0] or "application/octet-stream", data)

    def attachment_link(self, conversation_id: str, message_id: str, index: int) -> tuple[AttachmentRef, str, int]:
        """A short-lived download link of one attachment: (its metadata, the link, seconds it lasts)."""
        message = self._stored_message(conversation_id, message_id)
        if not 0 <= index < len(message.attachments):
            raise NotFoundError(f"message {message_id} has no attachment {index}")
        attachment = message.attachments[index]
        return (
            attachment,
            blobs.presigned_url(self.mail_bucket, attachment.s3_key, DOWNLOAD_EXPIRY_SECONDS),
            DOWNLOAD_EXPIRY_SECONDS,
        )

    def participant_warnings(self, conversation: Conversation) -> list[str]:
        """What the chat should show about the user's and participants' addresses (bouncing, unsubscribed)."""
        warnings = []
        for email in (conversation.user_email, *conversation.participants):
            person = repo.get_person(email)
            if person is None:
                continue
            if person.bouncing:
                warnings.append(f"{person.email}: bouncing, emails to it are not sent")
            if person.unsubscribed:
                warnings.append(f"{person.email}: unsubscribed from all email")
        return warnings

    def conversation(self, conversation_id: str) -> tuple[Conversation, list[Message]]:
        """A conversation and all its messages."""
        conversation = self.get_conversation(conversation_id)
        return conversation, repo.list_messages(conversation_id)

    # ------------------------------------------------------------ operations: inbound log, re-drive, status

    def inbound_log(
        self, since: float = 0.0, reason: str | None = None, cursor: str | None = None, limit: int | None = None
    ) -> Page[InboundRecord]:
        """Recorded inbound outcomes since a time (optionally of one reason), oldest first."""
        if reason is not None:
            known_reason(reason)
        return chat_records.page_inbound(since, reason, clamp_limit(limit), cursor)

    def redrive(self, s3_key: str, inbound_queue_url: str) -> tuple[InboundRecord, bool]:
        """Send a recorded email through the inbound function again (as a new S3 event on its queue).

        Returns (its outcome so far, queued): an email already stored is not queued again."""
        before = repo.get_inbound(s3_key)
        if before is None:
            raise NotFoundError(f"no inbound email recorded at {s3_key}")
        if before.status.value == "stored":
            return before, False
        ops.send_redrive(inbound_queue_url, self.mail_bucket, s3_key)
        return before, True

    def status(self, hours: float, *, local: bool, dead_letter_queues: Mapping[str, str]) -> dict[str, Any]:
        """The last hours' figures: CloudWatch sums on AWS, the local stack's own records locally; DLQ depths."""
        since = time.time() - hours * 3600
        reasons: dict[str, int] = {}
        if local:
            records = repo.list_inbound(since)
            for record in records:
                if record.status.value != "stored":
                    label = f"{record.status.value}:{record.reason}"
                    reasons[label] = reasons.get(label, 0) + 1
            deliveries = repo.delivery_counts_since(since)
            sums: dict[str, float] = {
                "EmailsReceived": len(records),
                "MessagesStored": sum(r.status.value == "stored" for r in records),
                "EmailsRejected": sum(r.status.value == "rejected" for r in records),
                "EmailsQuarantined": sum(r.status.value == "quarantined" for r in records),
                "NotificationsSent": deliveries.get("sent", 0),
                "NotificationsFailed": deliveries.get("failed", 0) + deliveries.get("failed_permanent", 0),
            }
            source = "local stack records"
        else:
            sums = ops.metric_sums(STATUS_METRICS, since)
            source = "CloudWatch metrics (namespace emailpipe)"
        dlq = ops.queue_depths({name: url for name, url in dead_letter_queues.items() if url})
        return {"since": since, "source": source, "metrics": sums, "reasons": reasons, "dlq": dlq}


MAX_BRAND_CHARS = 40
_BRAND_FORBIDDEN = set('|<>"\\@')


def _brand(value: Any) -> str:
    """A brand name for the `<brand>| <token>` display name: short, one line, none of the characters it splits on."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError("an inbox needs a brand name", field="brand_name")
    brand = " ".join(value.split())
    if len(brand) > MAX_BRAND_CHARS or _BRAND_FORBIDDEN & set(brand) or not brand.isprintable():
        raise InvalidInputError(
            f'a brand name is at most {MAX_BRAND_CHARS} printable characters, without | < > " \\ @',
            field="brand_name",
        )
    return brand


def _optional_email(value: str | None, field: str) -> str | None:
    return None if value is None else normalize_email(value, field=field)


def _optional_flag(value: bool | str | None, field: str) -> bool | None:
    """on/off (or true/false) for an inbox's own choice; None: the setting of the same name applies."""
    if value is None or isinstance(value, bool):
        return value
    lowered = value.strip().lower() if isinstance(value, str) else None
    if lowered not in _BOOLEAN_WORDS:
        raise InvalidInputError(f"{field} takes on or off, not {value!r}", field=field)
    return _BOOLEAN_WORDS[lowered]


def _role_start_cursor(role: Role) -> str:
    # A cursor that starts the next role from its beginning (there is no key of its own to start after).
    return encode_cursor({"start": {"S": role.value}}, role=role.value)  # type: ignore[return-value]


__all__ = ["AlreadyExistsError", "ChatApi", "NewAttachment", "Page", "Upload", "normalize_email", "parse_since"]
