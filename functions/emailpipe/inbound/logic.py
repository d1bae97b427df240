"""Inbound: one raw email -> parse -> match -> authorize -> extract -> store, with one recorded outcome."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from emailpipe.domain import tokens, trust
from emailpipe.domain.errors import RejectedError
from emailpipe.domain.models import (
    AttachmentRef,
    Conversation,
    InboundRecord,
    Message,
    Outcome,
    Person,
    Role,
    Settings,
    Source,
)
from emailpipe.domain.reply import extract_from_message
from emailpipe.mail.dropped import dropped
from emailpipe.mail.parse import ParsedEmail, parse_email
from emailpipe.observability import hash_address
from emailpipe.store import blobs, repo

_SAFE_KEY = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class InboundContext:
    """What the inbound logic needs from the outside world."""

    piping_address: str
    attachment_prefix: str
    keys: Callable[[], Sequence[bytes]]
    put_attachment: Callable[[str, bytes, str], None]
    clock: Callable[[], float]
    # SES ingress trusts SES's own header block; mailbox ingress trusts its provider's authserv-ids instead.
    ses_ingress: bool = True
    trusted_authserv_ids: tuple[str, ...] = (trust.SES_AUTHSERV_ID,)


@dataclass(frozen=True, slots=True)
class Match:
    """How an email was matched to a conversation."""

    conversation_id: str
    token: str | None
    method: str


def message_id_for(s3_key: str) -> str:
    """The chat message id of an email: derived from its S3 key, so processing it twice stores one message."""
    return hashlib.sha256(s3_key.encode("utf-8")).hexdigest()[:24]


def process_email(raw: bytes, s3_key: str, ctx: InboundContext) -> InboundRecord:
    """Turn one raw email into a stored chat message, or a recorded rejection; always returns the outcome."""
    received_at = ctx.clock()
    parsed = parse_email(raw)
    record = InboundRecord(
        s3_key=s3_key,
        status=Outcome.REJECTED,
        reason="",
        received_at=received_at,
        sender_hash=hash_address(parsed.sender.email if parsed.sender else None),
        email_message_id=parsed.message_id,
    )
    try:
        message, matched_by, settings = _accept(parsed, s3_key, received_at, ctx)
    except RejectedError as exc:
        record = replace(
            record, status=exc.status, reason=exc.reason, details={"detail": exc.detail} if exc.detail else {}
        )
        if not repo.record_outcome(record):
            return repo.get_inbound(s3_key) or record
        return record
    record = replace(
        record,
        status=Outcome.STORED,
        reason="stored",
        matched_by=matched_by,
        conversation_id=message.conversation_id,
        message_id=message.id,
        details=dropped(parsed),  # what the limits left out, if anything: never silently
    )
    limits = (
        repo.RateLimit(
            "sender", record.sender_hash or "-", settings.max_emails_per_sender, settings.rate_window_seconds
        ),
        repo.RateLimit(
            "conversation", message.conversation_id, settings.max_emails_per_conversation, settings.rate_window_seconds
        ),
    )
    try:
        result = repo.store_inbound_message(message, record, limits)
    except Exception as exc:
        error = repo.permanent_error_code(exc)
        if error is None:
            raise  # throttling, a conflict, the network: SQS retries
        # A retry cannot fix it (an item over 400 KB): recorded and kept, `emailpipe redrive` once it is fixed.
        details = {**record.details, "error": error, "detail": str(getattr(exc, "cause_response_message", exc))[:300]}
        record = replace(record, status=Outcome.QUARANTINED, reason="store_failed", message_id=None, details=details)
        repo.record_outcome(record)
        return record
    if result == "duplicate":
        # Stored by an earlier delivery of the same S3 event: success, not an error.
        return repo.get_inbound(s3_key) or record
    if result != "stored":
        # Over a cap: kept and recorded, not posted; `emailpipe redrive` can post it later.
        record = replace(record, status=Outcome.QUARANTINED, reason=result.replace(":", "_"), message_id=None)
        repo.record_outcome(record)
    return record


def _accept(parsed: ParsedEmail, s3_key: str, received_at: float, ctx: InboundContext) -> tuple[Message, str, Settings]:
    if parsed.status != "accepted":
        raise RejectedError(parsed.reason or "unparseable")
    if parsed.sender is None or "@" not in parsed.sender.email:
        raise RejectedError("no_sender")
    sender = parsed.sender.email.strip().lower()
    if _is_piping_address(sender, ctx.piping_address):
        raise RejectedError("from_piping_address")
    machine = trust.machine_reason_of(parsed)
    if machine == "bounce":
        _mark_bouncing(trust.bounced_recipients_of(parsed))
    if machine is not None:
        # Bounces, auto-replies and bulk mail never become chat messages, so no reply loop can start.
        raise RejectedError(machine)
    settings = repo.get_settings()
    verdicts = trust.trusted_verdicts(
        parsed.headers, trusted_authserv_ids=ctx.trusted_authserv_ids, ses=ctx.ses_ingress
    )
    decision = trust.verdict_outcome(
        verdicts, quarantine_spam=settings.quarantine_spam, require_pass=settings.require_authentication
    )
    if decision is not None:
        status, reason = decision
        raise RejectedError(reason, quarantine=status == "quarantined")
    person = repo.get_person(sender)
    match = _match(parsed, sender, ctx)
    if match is None:
        return _convert(parsed, sender, person, settings, s3_key, received_at, ctx)
    if match.token and tokens.expired(match.token, received_at, settings.token_lifetime_days):
        raise RejectedError("token_expired")
    if person is None:
        raise RejectedError("unknown_sender")
    conversation = repo.get_conversation(match.conversation_id)
    if conversation is None:
        raise RejectedError("unknown_conversation")
    if person.role.is_staff:
        role = person.role
    elif person.email == conversation.user_email:
        role = Role.USER
    else:
        raise RejectedError("sender_not_participant")
    message = _message(parsed, conversation.id, sender, role, settings, s3_key, received_at, ctx)
    return message, match.method, settings


def _mark_bouncing(addresses: Sequence[str]) -> None:
    # Only people we email can be marked: a forged bounce naming a stranger changes nothing.
    for address in addresses:
        if repo.get_person(address) is not None:
            repo.set_bouncing(address, True)


def _is_piping_address(address: str, piping_address: str) -> bool:
    local, _, domain = address.rpartition("@")
    piping_local, _, piping_domain = piping_address.rpartition("@")
    return domain == piping_domain and local.split("+", 1)[0] == piping_local


def _candidates(parsed: ParsedEmail, ctx: InboundContext) -> list[tuple[str, str]]:
    """Token candidates in order of trust: display name, plus-address, then our Message-IDs in the thread."""
    found: list[tuple[str, str]] = []
    for address in parsed.recipients:
        email = address.email.strip().lower()
        if _is_piping_address(email, ctx.piping_address) and (token := tokens.find_token(address.name)):
            found.append((token, "display_name"))
    for address in parsed.recipients:
        if token := tokens.token_from_plus_address(address.email, ctx.piping_address):
            found.append((token, "plus_address"))
    domain = ctx.piping_address.rpartition("@")[2]
    for reference in [parsed.in_reply_to or "", *reversed(parsed.references)]:
        if reference.lower().rstrip(">").endswith("@" + domain) and (token := tokens.find_token(reference)):
            found.append((token, "message_id"))
    return found


def _match(parsed: ParsedEmail, sender: str, ctx: InboundContext) -> Match | None:
    candidates = _candidates(parsed, ctx)
    if not candidates:
        return None
    keys = ctx.keys()
    for token, method in candidates:
        if tokens.verify_token(keys, token, sender):
            return Match(tokens.split_token(token)[0], token, method)
    # A token is present but none was issued to this sender: forged, guessed, or forwarded to someone else.
    raise RejectedError("token_not_valid_for_sender")


def _convert(
    parsed: ParsedEmail,
    sender: str,
    person: Person | None,
    settings: Settings,
    s3_key: str,
    received_at: float,
    ctx: InboundContext,
) -> tuple[Message, str, Settings]:
    """Convert-all-emails: mail without a token opens a new conversation of its sender."""
    if not settings.convert_all_emails:
        raise RejectedError("no_conversation_token")
    if person is not None and person.role.is_staff:
        raise RejectedError("staff_mail_without_token")
    if person is None:
        name = (parsed.sender.name if parsed.sender else "") or sender.split("@", 1)[0]
        person = Person(email=sender, name=name, role=Role.USER)
        repo.ensure_person(person)
    conversation = Conversation(
        id=tokens.conversation_id_from("conversation:" + s3_key),
        user_email=person.email,
        subject=parsed.subject,
        created_at=received_at,
    )
    repo.ensure_conversation(conversation)
    message = _message(parsed, conversation.id, sender, Role.USER, settings, s3_key, received_at, ctx)
    return message, "convert_all_emails", settings


def _message(
    parsed: ParsedEmail,
    conversation_id: str,
    sender: str,
    role: Role,
    settings: Settings,
    s3_key: str,
    received_at: float,
    ctx: InboundContext,
) -> Message:
    text = extract_from_message(parsed.text, parsed.html, delimiter=settings.delimiter)
    message_id = message_id_for(s3_key)
    text_s3_key = None
    if blobs.is_long_text(text):
        # The whole text lives in S3 and the item keeps a preview; notifications and the API read the whole text.
        text_s3_key = blobs.text_key(conversation_id, message_id)
        ctx.put_attachment(text_s3_key, text.encode("utf-8"), "text/plain; charset=utf-8")
        text = blobs.preview(text)
    attachments = []
    for index, attachment in enumerate(parsed.attachments):
        name = _SAFE_KEY.sub("_", attachment.filename)[:100] or "attachment"
        key = f"{ctx.attachment_prefix}{conversation_id}/{message_id}/{index}-{name}"
        ctx.put_attachment(key, attachment.payload, attachment.content_type)
        attachments.append(
            AttachmentRef(attachment.filename, attachment.content_type, attachment.size, attachment.sha256, key)
        )
    if not text and not attachments:
        raise RejectedError("empty_reply")
    return Message(
        id=message_id,
        conversation_id=conversation_id,
        author_email=sender,
        author_role=role,
        text=text,
        source=Source.EMAIL,
        created_at=received_at,
        attachments=tuple(attachments),
        email_message_id=parsed.message_id,
        text_s3_key=text_s3_key,
    )
