"""Notifier: a new chat message -> the people who must know -> one email each, sent once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from emailpipe.domain import tokens
from emailpipe.domain.models import Conversation, Message, Person
from emailpipe.domain.routing import recipients_for
from emailpipe.mail.compose import Notification, build_notification
from emailpipe.observability import hash_address, logger
from emailpipe.store import repo

CONTEXT_MESSAGES = 3


class PermanentSendError(Exception):
    """SES refused the email for good (rejected address, unverified identity): record it, do not retry."""


@dataclass(frozen=True, slots=True)
class NotifierContext:
    """What the notifier needs from the outside world."""

    piping_address: str
    brand_name: str
    keys: Callable[[], Sequence[bytes]]
    send: Callable[[bytes, str], str]  # (raw MIME, recipient) -> SES message id; raises PermanentSendError
    clock: Callable[[], float]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one recipient of one message."""

    recipient: str
    status: str  # sent | duplicate | failed


def notify(message: Message, ctx: NotifierContext) -> list[Delivery]:
    """Email every recipient of `message` once; a transient SES failure raises so the record is retried."""
    conversation = repo.get_conversation(message.conversation_id)
    if conversation is None:
        logger.warning("message of an unknown conversation", extra={"conversation_id": message.conversation_id})
        return []
    settings = repo.get_settings()
    user = repo.get_person(conversation.user_email)
    staff = repo.list_staff() if message.author_role.value == "user" else []
    now = ctx.clock()
    recipients = recipients_for(message, conversation, user, staff, settings, now)
    deliveries: list[Delivery] = []
    context: tuple[Message, ...] | None = None
    for recipient in recipients:
        if not repo.claim_delivery(message.id, recipient.email, conversation.id, now):
            deliveries.append(Delivery(recipient.email, "duplicate"))
            continue
        if context is None:
            context = _context_before(message)
        deliveries.append(_send_one(message, conversation, recipient, context, settings.delimiter, user, staff, ctx))
    return deliveries


def _context_before(message: Message) -> tuple[Message, ...]:
    earlier = [m for m in repo.list_messages(message.conversation_id) if m.created_at < message.created_at]
    return tuple(earlier[-CONTEXT_MESSAGES:])


def _author_name(message: Message, user: Person | None, staff: list[Person]) -> str:
    author = (message.author_email or "").lower()
    if user is not None and user.email == author:
        return user.name
    for person in staff:
        if person.email == author:
            return person.name
    found = repo.get_person(author) if author else None
    return found.name if found else author


def _send_one(
    message: Message,
    conversation: Conversation,
    recipient: Person,
    context: tuple[Message, ...],
    delimiter: bool,
    user: Person | None,
    staff: list[Person],
    ctx: NotifierContext,
) -> Delivery:
    token = tokens.make_token(ctx.keys(), conversation.id, recipient.email)
    domain = ctx.piping_address.rpartition("@")[2]
    mail_message_id = tokens.message_id(token, domain)
    previous = repo.thread_message_ids(conversation.id, recipient.email)
    subject = (
        f"Re: {conversation.subject}"
        if conversation.subject
        else f"{ctx.brand_name} conversation {conversation.id[:6]}"
    )
    mail = build_notification(
        Notification(
            from_name=tokens.display_name(ctx.brand_name, token),
            from_address=ctx.piping_address,
            reply_to=tokens.plus_address(ctx.piping_address, token),
            to_name=recipient.name,
            to_address=recipient.email,
            subject=subject,
            message_id=mail_message_id,
            references=tuple(previous),
            message=message,
            author_name=_author_name(message, user, staff),
            context=context,
            delimiter=delimiter,
        )
    )
    try:
        ses_id = ctx.send(bytes(mail), recipient.email)
    except PermanentSendError as exc:
        repo.finish_delivery(message.id, recipient.email, status="failed_permanent", now=ctx.clock(), error=str(exc))
        logger.warning("notification refused", extra={"recipient": hash_address(recipient.email), "error": str(exc)})
        return Delivery(recipient.email, "failed")
    except Exception:
        # Let the stream retry this record; the claim is released so the retry may send.
        repo.finish_delivery(message.id, recipient.email, status="failed", now=ctx.clock())
        raise
    repo.finish_delivery(
        message.id,
        recipient.email,
        status="sent",
        now=ctx.clock(),
        mail_message_id=mail_message_id,
        ses_message_id=ses_id,
    )
    repo.append_thread_message_id(conversation.id, recipient.email, mail_message_id)
    logger.info("notification sent", extra={"recipient": hash_address(recipient.email), "message_id": message.id})
    return Delivery(recipient.email, "sent")
