"""The JSON shapes of the domain records, shared by the HTTP API, the events and webhooks, and the connectors.

One representation per record, so a message reads the same in `GET /v1/conversations/{id}/messages`, in a
`message.created` event and in what a connector posts onward. Times are ISO 8601 UTC strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from emailpipe.domain.models import AttachmentRef, Conversation, Department, InboundRecord, Message, Person

if TYPE_CHECKING:
    from emailpipe.domain.inboxes import Inbox


def iso(ts: float | None) -> str | None:
    """Epoch seconds as an ISO 8601 UTC time with milliseconds (`2026-12-01T20:24:45.123Z`)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def person_view(person: Person) -> dict[str, Any]:
    """A user, agent or admin."""
    view: dict[str, Any] = {"email": person.email, "name": person.name, "role": person.role.value}
    if person.role.is_staff:
        view["departments"] = list(person.departments)
        view["online"] = person.online
        view["last_seen"] = iso(person.last_seen) if person.last_seen else None
    view["bouncing"] = person.bouncing
    view["email_notifications"] = person.email_notifications
    view["unsubscribed"] = person.unsubscribed
    return view


def bounce_evidence_view(evidence: Any) -> dict[str, Any] | None:
    """Why an address is (or was) marked bouncing: the evidence's fields with a value, times as ISO 8601 UTC."""
    if evidence is None:
        return None
    view: dict[str, Any] = evidence.as_dict()
    for key in ("marked_at", "cleared_at"):
        if key in view:
            view[key] = iso(view[key]) if view[key] else None
    return view


def person_detail_view(person: Person, evidence: Any) -> dict[str, Any]:
    """One person as `GET /v1/people/{email}` and `emailpipe person show` give it: with their bounce evidence."""
    return {**person_view(person), "bounce_evidence": bounce_evidence_view(evidence)}


def inbox_view(inbox: Inbox, *, default: bool = False) -> dict[str, Any]:
    """An inbox (a piping address): from_address null sends as the address itself (`sender`); convert_all_emails
    and delimiter null follow the settings of the same name; `default` marks the deployment's own inbox."""
    return {
        "address": inbox.address,
        "default": default,
        "brand_name": inbox.brand_name,
        "from_address": inbox.from_address,
        "sender": inbox.sender,
        "department": inbox.department,
        "convert_all_emails": inbox.convert_all_emails,
        "delimiter": inbox.delimiter,
    }


def department_view(department: Department) -> dict[str, Any]:
    """A department."""
    return {"name": department.name}


def conversation_view(conversation: Conversation) -> dict[str, Any]:
    """A conversation's header."""
    return {
        "id": conversation.id,
        "user": conversation.user_email,
        "subject": conversation.subject,
        "department": conversation.department,
        "assigned_agent": conversation.assigned_agent,
        "status": conversation.status,
        "created_at": iso(conversation.created_at),
        "participants": list(conversation.participants),
        "inbox": conversation.inbox,
        "linked_from": conversation.linked_from,
        "continued_in": conversation.continued_in,
    }


def attachment_view(attachment: AttachmentRef, index: int) -> dict[str, Any]:
    """An attachment's metadata; the bytes are fetched through a short-lived link."""
    return {
        "index": index,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
    }


def message_view(message: Message) -> dict[str, Any]:
    """A chat message: `source` is chat, email or bot; `author` is null-email for the bot."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "text": message.text,
        # A long text lives in S3 and the record keeps a preview: the API's message page has the whole text.
        "text_truncated": message.text_s3_key is not None,
        "source": message.source.value,
        "author": {"email": message.author_email, "role": message.author_role.value},
        "created_at": iso(message.created_at),
        "external_id": message.external_id,
        "forwarded_by": message.forwarded_by,
        # What reply extraction cut (quoted history, signature) is kept: `?include=trimmed` returns it.
        "has_trimmed": message.trimmed_s3_key is not None,
        "attachments": [attachment_view(a, i) for i, a in enumerate(message.attachments)],
    }


def inbound_view(record: InboundRecord) -> dict[str, Any]:
    """The recorded outcome of one inbound email (the sender only as a hash: no plain address leaves the log)."""
    return {
        "s3_key": record.s3_key,
        "status": record.status.value,
        "reason": record.reason,
        "received_at": iso(record.received_at),
        "matched_by": record.matched_by,
        "conversation_id": record.conversation_id,
        "message_id": record.message_id,
        "sender_hash": record.sender_hash,
    }
