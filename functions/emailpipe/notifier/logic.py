"""Notifier: a new chat message -> the people who must know -> one email each (or one digest), sent once.

With a digest window (setting `digest_window_seconds` > 0) a recipient's new messages collect in a pending
item; the first one schedules a delayed "send the digest" message (an SQS delay queue, so no Lambda waits),
and when it fires every message collected by then goes out in one email. With a window of 0 each message is
sent at once. Either way each (message, recipient) pair is emailed at most once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from emailpipe.domain import attachments as active_files
from emailpipe.domain import inboxes, tokens
from emailpipe.domain.inboxes import Inbox
from emailpipe.domain.models import Conversation, Message, Person, Role, Settings
from emailpipe.domain.routing import (
    bot_answered,
    bot_is_answering,
    delivery_block,
    is_member,
    is_offline,
    recipients_for,
    staff_candidates,
)
from emailpipe.mail.compose import Attached, Notification, build_notification
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
    send: Callable[[bytes, str, str], str]  # (raw MIME, recipient, From) -> SES message id; PermanentSendError
    clock: Callable[[], float]
    schedule_digest: Callable[[str, str, str, int], None] | None = None  # (conversation, recipient, window, delay)
    presign: Callable[..., str] | None = None  # (S3 key, seconds, filename, active) -> expiring download link
    read_attachment: Callable[[str], bytes] | None = None
    full_text: Callable[[Message], str] | None = None  # a long message's whole text (blobs.full_text)

    @property
    def default_inbox(self) -> Inbox:
        """The deployment's own inbox, from its template parameters."""
        return Inbox(address=self.piping_address, brand_name=self.brand_name)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one recipient of one message."""

    recipient: str
    status: str  # sent | queued | duplicate | failed | skipped_<reason>
    latency: float | None = None  # seconds from the oldest message written to its email accepted by SES


# A stream record is never given to two invocations at once, so a claim still `sending` when it comes again was
# left by an attempt that died: take it over at once. A digest's queue message may arrive twice at once, so its
# claim is taken over only after the function's timeout (60 s) has surely ended the attempt that made it.
STREAM_CLAIM_ABANDONED_AFTER = 0.0
QUEUE_CLAIM_ABANDONED_AFTER = 120.0


def notify(message: Message, ctx: NotifierContext) -> list[Delivery]:
    """Email (or queue for the digest) every recipient of `message`; a transient SES failure raises to retry.

    DynamoDB requests: one Query of the conversation's partition (header, messages, threads), one BatchGetItem
    of everyone concerned (fresh presence and preferences), one BatchWriteItem of the skips if any; then per
    recipient the claim and, once SES accepted the email, one transaction (delivery and thread). The settings and
    the staff list are read at most once per SETTINGS_MAX_AGE_SECONDS per container.
    """
    view = repo.read_conversation(message.conversation_id)
    conversation = view.conversation
    if conversation is None:
        logger.warning("message of an unknown conversation", extra={"conversation_id": message.conversation_id})
        return []
    settings = repo.cached_settings()
    answer = message.author_role is not Role.USER
    # Who may be emailed comes from the cached staff list; whether they are, from their profiles read now.
    candidates = [] if answer else staff_candidates(conversation, repo.cached_staff())
    participants = list(conversation.participants) if answer else []
    authors = [m.author_email for m in (*view.messages, message) if m.author_email]
    people = _people([conversation.user_email, *(p.email for p in candidates), *participants, *authors])
    staff = [people[p.email] for p in candidates if p.email in people]
    now = ctx.clock()
    routing = recipients_for(
        message,
        conversation,
        people.get(conversation.user_email),
        staff,
        settings,
        now,
        [people[e] for e in participants if e in people],
    )
    repo.record_skips([(message.id, p.email, reason) for p, reason in routing.skipped], conversation.id, now)
    deliveries = [Delivery(p.email, f"skipped_{reason}") for p, reason in routing.skipped]
    window = settings.digest_window_seconds
    if message.author_role is Role.USER and bot_is_answering(conversation, settings):
        # Agents' emails wait for the chatbot; if it answered by then, no agent is emailed (send_digest).
        window = max(window, settings.bot_answer_wait_seconds)
    if ctx.schedule_digest is None:
        window = 0
    content: _Content | None = None
    for person in routing.recipients:
        if window > 0:
            deliveries.append(_queue(message, conversation, person, window, now, ctx))
        elif not repo.claim_delivery(
            message.id, person.email, conversation.id, now, abandoned_after=STREAM_CLAIM_ABANDONED_AFTER
        ):
            deliveries.append(Delivery(person.email, "duplicate"))
        else:
            # What the email shows is the same for every recipient of the message: built once.
            content = content or _content((message,), view.messages, people, settings, ctx)
            thread = view.threads.get(person.email, [])
            deliveries.append(_send(conversation, person, content, settings, ctx, claim_key=message.id, thread=thread))
    return deliveries


def _people(emails: Sequence[str]) -> dict[str, Person]:
    """The people of these addresses who exist, read now in one BatchGetItem (per 100)."""
    return {p.email: p for p in repo.get_people(list(dict.fromkeys(e.lower() for e in emails)))}


def _queue(
    message: Message, conversation: Conversation, person: Person, window: int, now: float, ctx: NotifierContext
) -> Delivery:
    if repo.get_delivery_status(message.id, person.email) is not None:
        return Delivery(person.email, "duplicate")  # a re-delivered stream record: already sent or queued
    proposed = secrets.token_hex(8)
    in_force = repo.add_pending(conversation.id, person.email, message.id, proposed, now)
    if in_force == proposed:
        assert ctx.schedule_digest is not None
        ctx.schedule_digest(conversation.id, person.email, in_force, window)
    return Delivery(person.email, "queued")


def send_digest(conversation_id: str, recipient: str, window_id: str, ctx: NotifierContext) -> Delivery:
    """Send the messages collected in a recipient's window as one email (called when the delay has passed)."""
    view = repo.read_conversation(conversation_id, consistent=True)  # the window as written, not a stale copy
    pending = view.pending.get(recipient)
    if pending is None or pending.window_id != window_id:
        return Delivery(recipient, "duplicate")
    conversation = view.conversation
    everything = view.messages
    messages = tuple(m for m in everything if m.id in pending.message_ids)
    people = _people([recipient, *(m.author_email for m in everything if m.author_email)])
    person = people.get(recipient)
    now = ctx.clock()
    settings = repo.cached_settings()
    if conversation is None or person is None or not messages:
        _close(conversation_id, recipient, pending.window_id, pending.message_ids, settings, ctx)
        return Delivery(recipient, "duplicate")
    # Presence and preferences are read again now: an agent who came back online saw the messages in the chat.
    reason = delivery_block(person, for_user_answer=not person.role.is_staff)
    if reason is None and person.role.is_staff and not is_offline(person, settings, now):
        reason = "online"
    if reason is None and not person.role.is_staff and not is_member(person.email, conversation):
        reason = "not_participant"  # removed from the conversation while the digest waited
    staff_waiting_for_bot = person.role.is_staff and bot_is_answering(conversation, settings)
    if reason is None and staff_waiting_for_bot and bot_answered(messages, everything):
        reason = "bot_answered"
    if reason is not None:
        repo.record_skips([(m.id, recipient, reason) for m in messages], conversation_id, now)
        _close(conversation_id, recipient, pending.window_id, pending.message_ids, settings, ctx)
        return Delivery(recipient, f"skipped_{reason}")
    claim_key = f"digest-{window_id}"
    if not repo.claim_delivery(claim_key, recipient, conversation_id, now, abandoned_after=QUEUE_CLAIM_ABANDONED_AFTER):
        if repo.get_delivery_status(claim_key, recipient) == "sent":
            _close(conversation_id, recipient, pending.window_id, pending.message_ids, settings, ctx)
        return Delivery(recipient, "duplicate")
    delivery = _send(
        conversation,
        person,
        _content(messages, everything, people, settings, ctx),
        settings,
        ctx,
        claim_key=claim_key,
        thread=view.threads.get(recipient, []),
    )
    _close(conversation_id, recipient, pending.window_id, pending.message_ids, settings, ctx)
    return delivery


def _close(
    conversation_id: str, recipient: str, window_id: str, sent: frozenset[str], settings: Settings, ctx: NotifierContext
) -> None:
    next_window = secrets.token_hex(8)
    if repo.close_pending(conversation_id, recipient, window_id, sent, next_window) and ctx.schedule_digest:
        ctx.schedule_digest(conversation_id, recipient, next_window, max(settings.digest_window_seconds, 1))


def _context_before(messages: Sequence[Message], everything: Sequence[Message]) -> tuple[Message, ...]:
    first = min(m.created_at for m in messages)
    earlier = [m for m in everything if m.created_at < first]
    return tuple(earlier[-CONTEXT_MESSAGES:])


def _attachments(
    messages: Sequence[Message], settings: Settings, ctx: NotifierContext
) -> tuple[dict[str, str], tuple[Attached, ...], dict[str, str]]:
    """Links for every attachment, the small harmless ones attached, and why each other one is only linked."""
    links: dict[str, str] = {}
    attached: list[Attached] = []
    linked_only: dict[str, str] = {}
    never = active_files.parse_types(settings.never_attach_types)
    for message in messages:
        for attachment in message.attachments:
            name, ctype = attachment.filename, attachment.content_type
            if ctx.presign is not None:
                active = active_files.is_active(name, ctype)
                links[attachment.s3_key] = ctx.presign(attachment.s3_key, settings.link_expiry_seconds, name, active)
            if not active_files.may_attach(name, ctype, b"", never):
                linked_only[attachment.s3_key] = "a file type that is never attached"
            elif attachment.size > settings.attach_max_bytes:
                linked_only[attachment.s3_key] = f"over {settings.attach_max_bytes} bytes"
            elif ctx.read_attachment is not None:
                data = ctx.read_attachment(attachment.s3_key)
                if active_files.may_attach(name, ctype, data[: active_files.SNIFF_BYTES], never):
                    attached.append(Attached(name, ctype, data))
                else:
                    # Markup disguised as another type (a .pdf holding <html>): the link downloads it as bytes.
                    linked_only[attachment.s3_key] = "its content is not what its name says"
                    if ctx.presign is not None:
                        links[attachment.s3_key] = ctx.presign(
                            attachment.s3_key, settings.link_expiry_seconds, name, True
                        )
    return links, tuple(attached), linked_only


def _with_full_text(message: Message, ctx: NotifierContext) -> Message:
    """The message with its whole text when the stored item keeps only a preview of a long one."""
    if not message.text_s3_key:
        return message
    if ctx.full_text is not None:
        return replace(message, text=ctx.full_text(message))
    if ctx.read_attachment is not None:
        return replace(message, text=ctx.read_attachment(message.text_s3_key).decode("utf-8"))
    return message


@dataclass(frozen=True, slots=True)
class _Content:
    """What a notification shows, the same for every recipient of the same messages."""

    messages: tuple[Message, ...]
    context: tuple[Message, ...]
    author_names: dict[str, str]
    links: dict[str, str]
    attached: tuple[Attached, ...]
    linked_only: dict[str, str]


def _content(
    messages: tuple[Message, ...],
    everything: Sequence[Message],
    people: dict[str, Person],
    settings: Settings,
    ctx: NotifierContext,
) -> _Content:
    links, attached, linked_only = _attachments(messages, settings, ctx)
    context = _context_before(messages, everything)
    # The notification shows the whole text; the stored item of a long message keeps only a preview.
    messages = tuple(_with_full_text(m, ctx) for m in messages)
    names = {p.email: p.name for p in people.values()}
    return _Content(messages, context, names, links, attached, linked_only)


def _send(
    conversation: Conversation,
    recipient: Person,
    content: _Content,
    settings: Settings,
    ctx: NotifierContext,
    *,
    claim_key: str,
    thread: Sequence[str],
) -> Delivery:
    messages = content.messages
    # Every notification of a conversation comes from its inbox: its brand, its From identity, its reply domain.
    inbox = inboxes.of_conversation(inboxes.all_inboxes(ctx.default_inbox, settings), conversation.inbox)
    token = tokens.make_token(ctx.keys(), conversation.id, recipient.email, issued_at=ctx.clock())
    mail_message_id = tokens.message_id(token, inbox.domain)
    subject = (
        f"Re: {conversation.subject}"
        if conversation.subject
        else f"{inbox.brand_name} conversation {conversation.id[:6]}"
    )
    mail = build_notification(
        Notification(
            from_name=tokens.display_name(inbox.brand_name, token),
            from_address=inbox.sender,
            reply_to=tokens.plus_address(inbox.address, token),
            to_name=recipient.name,
            to_address=recipient.email,
            subject=subject,
            message_id=mail_message_id,
            references=tuple(thread),
            messages=messages,
            author_names=content.author_names,
            context=content.context,
            delimiter=settings.delimiter,
            links=content.links,
            attached=content.attached,
            linked_only=content.linked_only,
            link_expiry_text=f"after {settings.link_expiry_seconds // 3600} hours" if content.links else "",
        )
    )
    try:
        ses_id = ctx.send(bytes(mail), recipient.email, inbox.sender)
    except PermanentSendError as exc:
        repo.finish_delivery(claim_key, recipient.email, status="failed_permanent", now=ctx.clock(), error=str(exc))
        for message in messages:
            if message.id != claim_key:  # a digest: each of its messages shows the refusal too
                repo.record_skip(message.id, recipient.email, conversation.id, "send_refused", ctx.clock())
        logger.warning("notification refused", extra={"recipient": hash_address(recipient.email), "error": str(exc)})
        return Delivery(recipient.email, "failed")
    except Exception:
        # Let the trigger retry; the claim is released so the retry may send.
        repo.finish_delivery(claim_key, recipient.email, status="failed", now=ctx.clock())
        raise
    now = ctx.clock()
    repo.record_delivery_sent(
        claim_key, recipient.email, conversation.id, now=now, mail_message_id=mail_message_id, ses_message_id=ses_id
    )
    if len(messages) > 1 or claim_key != messages[0].id:
        repo.record_sent([m.id for m in messages], recipient.email, conversation.id, mail_message_id, now)
    logger.info(
        "notification sent",
        extra={"recipient": hash_address(recipient.email), "messages": len(messages), "conversation": conversation.id},
    )
    return Delivery(recipient.email, "sent", latency=now - min(m.created_at for m in messages))
