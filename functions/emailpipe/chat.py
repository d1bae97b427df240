"""The chat application's side: the functions the chat app (and the `emailpipe` command) call."""

from __future__ import annotations

import hashlib
import mimetypes
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path

from emailpipe.domain import tokens
from emailpipe.domain.errors import InvalidInputError, NotFoundError
from emailpipe.domain.models import (
    AttachmentRef,
    Conversation,
    Department,
    Message,
    Person,
    Role,
    Settings,
    Source,
)
from emailpipe.store import blobs, repo


def normalize_email(email: str) -> str:
    """Addresses are compared lower-cased and without surrounding blanks."""
    value = email.strip().lower()
    if "@" not in value or any(c.isspace() for c in value):
        raise InvalidInputError(f"not an email address: {email!r}")
    return value


@dataclass(frozen=True, slots=True)
class ChatApi:
    """Chat-side operations on one deployment (its table and mail bucket)."""

    mail_bucket: str
    attachment_prefix: str = "attachments/"

    def add_department(self, name: str) -> Department:
        """Create a department."""
        if not name.strip():
            raise InvalidInputError("a department needs a name")
        department = Department(name=name.strip())
        repo.put_department(department)
        return department

    def add_agent(self, email: str, name: str, departments: list[str] = (), admin: bool = False) -> Person:  # type: ignore[assignment]
        """Register an agent (or admin) with their departments."""
        known = []
        for department in departments:
            found = repo.get_department(department)
            if found is None:
                raise NotFoundError(f"no department {department!r}")
            known.append(found.name)
        person = Person(normalize_email(email), name, Role.ADMIN if admin else Role.AGENT, tuple(known))
        repo.put_person(person)
        return person

    def add_user(self, email: str, name: str) -> Person:
        """Register a chat user."""
        person = Person(normalize_email(email), name, Role.USER)
        repo.put_person(person)
        return person

    def set_presence(self, email: str, online: bool) -> None:
        """Mark an agent online (seen now) or offline."""
        email = normalize_email(email)
        if repo.get_person(email) is None:
            raise NotFoundError(f"no person {email}")
        repo.set_presence(email, online, time.time())

    def settings(self) -> Settings:
        """The current settings."""
        return repo.get_settings()

    def set_setting(self, key: str, value: str) -> Settings:
        """Change one setting; booleans take on/off/true/false, numbers take integers."""
        current = repo.get_settings()
        if key not in Settings.KEYS:
            raise InvalidInputError(f"unknown setting {key!r}; known: {', '.join(Settings.KEYS)}")
        if isinstance(getattr(current, key), bool):
            lowered = value.strip().lower()
            if lowered not in {"on", "off", "true", "false", "1", "0", "yes", "no"}:
                raise InvalidInputError(f"{key} takes on or off, not {value!r}")
            parsed: bool | int = lowered in {"on", "true", "1", "yes"}
        else:
            try:
                parsed = int(value)
            except ValueError as exc:
                raise InvalidInputError(f"{key} takes a whole number, not {value!r}") from exc
            if parsed < 0:
                raise InvalidInputError(f"{key} cannot be negative")
        updated = replace(current, **{key: parsed})
        repo.put_settings(updated)
        return updated

    def open_conversation(self, user_email: str, department: str | None = None, subject: str = "") -> Conversation:
        """Open a conversation for a registered user."""
        user = repo.get_person(normalize_email(user_email))
        if user is None:
            raise NotFoundError(f"no user {user_email}")
        if department is not None:
            found = repo.get_department(department)
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

    def post_message(self, conversation_id: str, author: str, text: str, attachments: list[Path] = ()) -> Message:  # type: ignore[assignment]
        """Post a chat message as `author` (an email, or "bot" for the chatbot)."""
        conversation = repo.get_conversation(conversation_id)
        if conversation is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        if author.strip().lower() == "bot":
            author_email, role, source = None, Role.BOT, Source.BOT
        else:
            person = repo.get_person(normalize_email(author))
            if person is None:
                raise NotFoundError(f"no person {author}")
            if person.role is Role.USER and person.email != conversation.user_email:
                raise InvalidInputError("a user can only post in their own conversation")
            author_email, role, source = person.email, person.role, Source.CHAT
        message_id = secrets.token_hex(12)
        refs = []
        for index, path in enumerate(attachments):
            data = Path(path).read_bytes()
            content_type = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
            key = f"{self.attachment_prefix}{conversation.id}/{message_id}/{index}-{Path(path).name}"
            blobs.put_object(self.mail_bucket, key, data, content_type)
            refs.append(AttachmentRef(Path(path).name, content_type, len(data), hashlib.sha256(data).hexdigest(), key))
        message = Message(
            id=message_id,
            conversation_id=conversation.id,
            author_email=author_email,
            author_role=role,
            text=text,
            source=source,
            created_at=time.time(),
            attachments=tuple(refs),
        )
        repo.put_message(message)
        return message

    def participant_warnings(self, conversation: Conversation) -> list[str]:
        """What the chat should show about the user's email address (bouncing, unsubscribed)."""
        user = repo.get_person(conversation.user_email)
        if user is None:
            return []
        warnings = []
        if user.bouncing:
            warnings.append(f"{user.email}: bouncing, emails to it are not sent")
        if user.unsubscribed:
            warnings.append(f"{user.email}: unsubscribed from all email")
        return warnings

    def conversation(self, conversation_id: str) -> tuple[Conversation, list[Message]]:
        """A conversation and its messages."""
        conversation = repo.get_conversation(conversation_id)
        if conversation is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        return conversation, repo.list_messages(conversation_id)
