"""Inbound: one raw email -> parse -> match -> authorize -> extract -> store, with one recorded outcome."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from emailpipe.domain import tokens, trust
from emailpipe.domain.bounces import BounceEvidence
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
from emailpipe.store import blobs, bounces, repo

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
        message, matched_by, settings, opened, rate_logs = _accept(parsed, s3_key, received_at, ctx)
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
    limits = _limits(message, settings, opened)
    try:
        result = repo.store_inbound_message(
            message,
            record,
            limits,
            conversation=opened.conversation if opened else None,
            new_person=opened.new_person if opened else None,
            email_key=email_key(message.author_email or "", parsed.message_id),
            rate_logs=rate_logs,
        )
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
    if result == "stored":
        return record
    # Nothing was stored: a conversation this email would have opened does not exist.
    not_stored = replace(record, message_id=None, conversation_id=None if opened else record.conversation_id)
    if result.startswith("duplicate_of:"):
        # The same email (sender and Message-ID) came again under another S3 key: a mail server's retry, or the
        # same mail through SES and a polled mailbox. Recorded, pointing at the first copy; nothing is posted again.
        first = result.partition(":")[2]
        details = {**record.details, "duplicate_of": first}
        record = replace(not_stored, status=Outcome.REJECTED, reason="duplicate", details=details)
    else:
        # Over a cap: kept and recorded, not posted; `emailpipe redrive` can post it later.
        record = replace(not_stored, status=Outcome.QUARANTINED, reason=result.replace(":", "_"))
    if not repo.record_outcome(record):
        return repo.get_inbound(s3_key) or record
    return record


@dataclass(frozen=True, slots=True)
class Opened:
    """What a convert-all email creates with its message, in the same transaction: its conversation, its writer."""

    conversation: Conversation
    new_person: Person | None


def email_key(sender: str, message_id: str | None) -> str | None:
    """The key of one email across deliveries: its sender and Message-ID; None (never a duplicate) without one."""
    if not message_id or not message_id.strip() or not sender:
        return None
    return hashlib.sha256(f"{sender.strip().lower()}|{message_id.strip()}".encode()).hexdigest()


def rate_sender(address: str) -> str:
    """The sender a cap counts: lower-cased, without a plus tag (`spam+1@` and `spam+2@` are one sender)."""
    local, at, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}{at}{domain}" if at else address.strip().lower()


def _rate_keys(sender: str, conversation_id: str) -> dict[str, str]:
    """The key of each cap that an email from `sender` into the conversation may count against, by scope."""
    normal = rate_sender(sender)
    return {
        "sender": hash_address(normal),
        "conversation": conversation_id,
        "domain": hash_address(normal.rpartition("@")[2]),
    }


def _limits(message: Message, settings: Settings, opened: Opened | None) -> tuple[repo.RateLimit, ...]:
    window = settings.rate_window_seconds
    keys = _rate_keys(message.author_email or "", message.conversation_id)
    limits = [
        repo.RateLimit("sender", keys["sender"], settings.max_emails_per_sender, window),
        repo.RateLimit("conversation", keys["conversation"], settings.max_emails_per_conversation, window),
    ]
    if opened is not None and opened.new_person is not None:
        # A stranger (convert-all mail from an address without a person record): their domain is capped too, so
        # that a thousand fresh addresses at one domain are not a thousand first emails.
        limits.append(repo.RateLimit("domain", keys["domain"], settings.max_stranger_emails_per_domain, window))
    return tuple(limits)


def _accept(
    parsed: ParsedEmail, s3_key: str, received_at: float, ctx: InboundContext
) -> tuple[Message, str, Settings, Opened | None, repo.RateLogs]:
    if parsed.status != "accepted":
        raise RejectedError(parsed.reason or "unparseable")
    if parsed.sender is None or "@" not in parsed.sender.email:
        raise RejectedError("no_sender")
    sender = parsed.sender.email.strip().lower()
    if _is_piping_address(sender, ctx.piping_address):
        raise RejectedError("from_piping_address")
    if parsed.from_count > 1:
        # Which of several authors is the sender? Verdicts and tokens would be about one, the chat shows another.
        raise RejectedError("multiple_from")
    from_domain = sender.rpartition("@")[2]
    verdicts = trust.trusted_verdicts(
        parsed.headers, trusted_authserv_ids=ctx.trusted_authserv_ids, ses=ctx.ses_ingress, from_domain=from_domain
    )
    machine = trust.machine_reason_of(parsed)
    if machine == "bounce":
        raise RejectedError("bounce", _count_bounce(parsed, verdicts, s3_key, received_at, ctx))
    if machine is not None:
        # Bounces, auto-replies and bulk mail never become chat messages, so no reply loop can start.
        raise RejectedError(machine)
    settings = repo.get_settings()
    decision = trust.verdict_outcome(
        verdicts, quarantine_spam=settings.quarantine_spam, require_pass=settings.require_authentication
    )
    if decision is not None:
        status, reason = decision
        raise RejectedError(reason, quarantine=status == "quarantined")
    match = _match(parsed, sender, ctx)
    conversation_id = match.conversation_id if match else _converted_conversation_id(s3_key)
    # One request reads the sender, the conversation and every cap's log (the store needs no read of its own).
    log_keys = [repo.rate_log_pk(scope, key) for scope, key in _rate_keys(sender, conversation_id).items()]
    reads = repo.read_for_inbound(sender, match.conversation_id if match else None, log_keys)
    person = reads.person
    if match is None:
        return (*_convert(parsed, sender, person, settings, s3_key, received_at, ctx), reads.rate_logs)
    if match.token and tokens.expired(match.token, received_at, settings.token_lifetime_days):
        raise RejectedError("token_expired")
    if person is None:
        raise RejectedError("unknown_sender")
    conversation = reads.conversation
    if conversation is None:
        raise RejectedError("unknown_conversation")
    if person.role.is_staff:
        # Staff email the customer in their own name through us: a verdict must show the mail is theirs.
        if reason := trust.staff_reply_outcome(verdicts, from_domain, settings.staff_unauthenticated_domains):
            raise RejectedError(reason)
        role = person.role
    elif person.email == conversation.user_email:
        role = Role.USER
    else:
        raise RejectedError("sender_not_participant")
    message = _message(parsed, conversation.id, sender, role, settings, s3_key, received_at, ctx)
    return message, match.method, settings, None, reads.rate_logs


def _converted_conversation_id(s3_key: str) -> str:
    """The id of the conversation a convert-all email opens: derived from its S3 key, so it is opened once."""
    return tokens.conversation_id_from("conversation:" + s3_key)


def _count_bounce(
    parsed: ParsedEmail, verdicts: trust.Verdicts, s3_key: str, received_at: float, ctx: InboundContext
) -> str:
    """Mark the addresses a delivery report names, when it proves it is about our notification; say what counted.

    Anyone can send mail that looks like a bounce. A report counts only for a recipient we sent the notification it
    quotes to: one of its Message-IDs at our domain is in that recipient's thread of sent notifications, or a reply
    token it quotes was issued to that recipient. A report whose authentication failed counts for nobody.
    """
    if trust.authentication_failed(verdicts):
        return "not counted: its authentication failed"
    recipients = trust.bounced_recipients_of(parsed)
    if not recipients:
        return "not counted: it names no failed recipient"
    message_ids, quoted_tokens = trust.bounce_references(parsed, ctx.piping_address)
    if not message_ids and not quoted_tokens:
        return "not counted: it quotes no notification of ours"
    marked = 0
    for address in recipients:
        evidence = _bounce_evidence(address, message_ids, quoted_tokens, ctx)
        if evidence is not None and bounces.mark_bouncing(
            address, replace(evidence, report_s3_key=s3_key, marked_at=received_at)
        ):
            marked += 1
    if not marked:
        return f"not counted: none of its {len(recipients)} failed recipient(s) was sent the notification it quotes"
    return f"counted: {marked} of {len(recipients)} failed recipient(s) marked bouncing"


def _bounce_evidence(
    address: str, message_ids: Sequence[str], quoted_tokens: Sequence[str], ctx: InboundContext
) -> BounceEvidence | None:
    for mail_message_id in message_ids:
        token = tokens.find_token(mail_message_id.lower())
        if token is None:
            continue
        conversation_id = tokens.split_token(token)[0]
        if bounces.was_sent(conversation_id, address, mail_message_id):
            return BounceEvidence(
                source="inbound_report",
                marked_at=0.0,
                notification_message_id=mail_message_id,
                conversation_id=conversation_id,
            )
    keys = ctx.keys() if quoted_tokens else ()
    for token in quoted_tokens:
        if tokens.verify_token(keys, token, address):
            return BounceEvidence(source="inbound_report", marked_at=0.0, conversation_id=tokens.split_token(token)[0])
    return None


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
) -> tuple[Message, str, Settings, Opened]:
    """Convert-all-emails: mail without a token opens a new conversation of its sender.

    The conversation (and a new sender's person record) are written with the message, in its transaction: mail
    that is quarantined or a duplicate opens nothing.
    """
    if not settings.convert_all_emails:
        raise RejectedError("no_conversation_token")
    if person is not None and person.role.is_staff:
        raise RejectedError("staff_mail_without_token")
    new_person = None
    if person is None:
        name = (parsed.sender.name if parsed.sender else "") or sender.split("@", 1)[0]
        person = new_person = Person(email=sender, name=name, role=Role.USER)
    conversation = Conversation(
        id=_converted_conversation_id(s3_key),
        user_email=person.email,
        subject=parsed.subject,
        created_at=received_at,
    )
    message = _message(parsed, conversation.id, sender, Role.USER, settings, s3_key, received_at, ctx)
    return message, "convert_all_emails", settings, Opened(conversation, new_person)


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
