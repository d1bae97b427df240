"""Pure mapping between Support Board's payloads and emailpipe's records: no I/O, no AWS.

The shapes are the ones Support Board's public source sends and answers (docs/support-board.md, "Assumptions").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emailpipe.domain.errors import InvalidInputError
from emailpipe.domain.models import Role

# Webhooks the connector acts on; every other name is answered "ignored" and recorded.
MESSAGE_SENT = "message-sent"
STATUS_UPDATED = "conversation-status-updated"
HANDLED = frozenset({MESSAGE_SENT, STATUS_UPDATED})

STAFF_TYPES = frozenset({"agent", "admin"})
USER_TYPES = frozenset({"user", "lead", "visitor"})
ARCHIVED, TRASH = 3, 4


class InvalidWebhookError(InvalidInputError):
    """A webhook body that is not what Support Board sends; `field` names the offending part."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}", field=field)
        self.detail = detail


def sb_id(value: Any, field: str) -> str:
    """Support Board ids are integers, sent as numbers or as strings; emailpipe keeps them as decimal strings."""
    if isinstance(value, bool) or value is None:
        raise InvalidWebhookError(field, "missing or not an id")
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise InvalidWebhookError(field, f"not a Support Board id: {text[:40]!r}")
    return str(int(text))


def optional_id(value: Any) -> str | None:
    """An id when there is one (departments and agents are often empty, null or -1)."""
    text = str(value).strip() if value is not None else ""
    return str(int(text)) if text.isdigit() and int(text) > 0 else None


@dataclass(frozen=True, slots=True)
class Envelope:
    """The body of every Support Board webhook: `{function, key, data, sender-url}`."""

    function: str
    key: str
    data: Any
    sender_url: str


def parse_envelope(body: Any) -> Envelope:
    """Check the outer shape (the key itself is checked by the caller, in constant time)."""
    if not isinstance(body, Mapping):
        raise InvalidWebhookError("body", "a JSON object is expected")
    function = body.get("function")
    if not isinstance(function, str) or not function:
        raise InvalidWebhookError("function", "missing")
    key = body.get("key")
    if not isinstance(key, str):
        raise InvalidWebhookError("key", "missing")
    sender_url = body.get("sender-url")
    return Envelope(function, key, body.get("data"), sender_url if isinstance(sender_url, str) else "")


@dataclass(frozen=True, slots=True)
class MessageSent:
    """`message-sent`: a message stored in Support Board (by the user, an agent, the bot or the API)."""

    message_id: str
    sender_id: str
    conversation_id: str
    conversation_user_id: str | None
    text: str
    attachments: tuple[tuple[str, str], ...]

    @property
    def sent_by_conversation_user(self) -> bool:
        """The sender owns the conversation (the data carries no user_type)."""
        return self.conversation_user_id == self.sender_id


def parse_message_sent(data: Any) -> MessageSent:
    """The data of `message-sent`, as sb_send_message sends it."""
    if not isinstance(data, Mapping):
        raise InvalidWebhookError("data", "a JSON object is expected")
    text = data.get("message")
    if text is not None and not isinstance(text, str):
        raise InvalidWebhookError("data.message", "not a string")
    return MessageSent(
        message_id=sb_id(data.get("message_id"), "data.message_id"),
        sender_id=sb_id(data.get("user_id"), "data.user_id"),
        conversation_id=sb_id(data.get("conversation_id"), "data.conversation_id"),
        conversation_user_id=optional_id(data.get("conversation_user_id")),
        text=text or "",
        attachments=parse_attachments(data.get("attachments"), "data.attachments"),
    )


def parse_attachments(value: Any, field: str) -> tuple[tuple[str, str], ...]:
    """Support Board attachments: `[[name, url], ...]` (a third element, image size, is ignored)."""
    if value in (None, "", []):
        return ()
    if not isinstance(value, list):
        raise InvalidWebhookError(field, "a list of [name, url] is expected")
    found = []
    for index, item in enumerate(value):
        if not isinstance(item, list) or len(item) < 2 or not all(isinstance(v, str) for v in item[:2]):
            raise InvalidWebhookError(f"{field}[{index}]", "[name, url] is expected")
        found.append((item[0], item[1]))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class StatusUpdated:
    """`conversation-status-updated`."""

    conversation_id: str
    status_code: int


def parse_status_updated(data: Any) -> StatusUpdated:
    """The data of `conversation-status-updated`: `{conversation_id, status_code}`."""
    if not isinstance(data, Mapping):
        raise InvalidWebhookError("data", "a JSON object is expected")
    code = str(data.get("status_code", "")).strip()
    if not code.lstrip("-").isdigit():
        raise InvalidWebhookError("data.status_code", "not a status code")
    return StatusUpdated(sb_id(data.get("conversation_id"), "data.conversation_id"), int(code))


def conversation_status(status_code: int) -> str:
    """emailpipe's status for a Support Board status code: archived, trash (closed), or else open."""
    if status_code == ARCHIVED:
        return "archived"
    if status_code == TRASH:
        return "closed"
    return "open"


@dataclass(frozen=True, slots=True)
class PersonSpec:
    """What emailpipe keeps of a Support Board user, agent or admin."""

    email: str
    name: str
    role: Role
    departments: tuple[str, ...] = ()


def role_of(user_type: str) -> Role | None:
    """emailpipe's role for a Support Board user_type (None for the bot and unknown types)."""
    if user_type == "admin":
        return Role.ADMIN
    if user_type == "agent":
        return Role.AGENT
    if user_type in USER_TYPES:
        return Role.USER
    return None


def person_from_user(user: Mapping[str, Any], department_names: Mapping[str, str]) -> PersonSpec | None:
    """A Support Board user row (get-user) as an emailpipe person; None without an email or for the bot."""
    role = role_of(str(user.get("user_type") or ""))
    email = str(user.get("email") or "").strip()
    if role is None or not email:
        return None
    name = " ".join(p for p in (str(user.get("first_name") or ""), str(user.get("last_name") or "")) if p).strip()
    if name.startswith("User #") or not name:
        name = email.split("@", 1)[0]
    departments: tuple[str, ...] = ()
    department = optional_id(user.get("department"))
    if role.is_staff and department and department in department_names:
        departments = (department_names[department],)
    return PersonSpec(email=email, name=name, role=role, departments=departments)


def department_names(departments: Any) -> dict[str, str]:
    """get-departments' answer `{id: {name, color, image}}` as `{id: name}` (a list of rows is accepted too)."""
    rows: list[tuple[Any, Any]] = []
    if isinstance(departments, Mapping):
        rows = list(departments.items())
    elif isinstance(departments, list):
        rows = [(d.get("id") or d.get("department-id"), d) for d in departments if isinstance(d, Mapping)]
    names = {}
    for key, value in rows:
        name = value.get("name") if isinstance(value, Mapping) else value
        ident = optional_id(key)
        if ident and isinstance(name, str) and name.strip():
            names[ident] = " ".join(name.split())
    return names


def chat_text(text: str, attachments: Sequence[tuple[str, str]]) -> str:
    """The emailpipe text of a Support Board message: its text, then one line per attachment (name and link)."""
    lines = [text.strip()] if text.strip() else []
    lines += [f"{name}: {url}" for name, url in attachments]
    return "\n".join(lines)


def text_hash(text: str) -> str:
    """A hash of a text that survives Support Board's rewriting of blanks (\\r and tabs to \\n, runs of newlines)."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:32]


def same_text(a: str, b: str) -> bool:
    """Two texts that differ only in blanks."""
    return text_hash(a) == text_hash(b)


def outbound_text(text: str, attachment_links: Sequence[tuple[str, str]]) -> tuple[str, list[list[str]]]:
    """What send-message gets for an emailed message: its text and `[[name, url], ...]` attachments."""
    return text, [[name, url] for name, url in attachment_links]


def display_name(person_name: str, email: str) -> tuple[str, str]:
    """A person's first and last name for add-user (Support Board keeps them apart)."""
    parts = person_name.split()
    if not parts:
        return email.split("@", 1)[0], ""
    return parts[0], " ".join(parts[1:])
