"""Inbound: one raw email -> parse -> match -> authorize -> extract -> store, with one recorded outcome."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from emailpipe.domain import forwards, inboxes, tokens, trust
from emailpipe.domain.bounces import BounceEvidence
from emailpipe.domain.errors import RejectedError
from emailpipe.domain.inboxes import Inbox
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
from emailpipe.domain.names import clean_name
from emailpipe.domain.reply import extract_parts
from emailpipe.domain.reply_patterns import strip_subject_prefixes
from emailpipe.domain.routing import is_member
from emailpipe.mail.dropped import dropped
from emailpipe.mail.parse import ParsedEmail, parse_email
from emailpipe.mail.parts import Attachment
from emailpipe.observability import hash_address
from emailpipe.store import auto_answers, blobs, bounces, repo

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
    brand_name: str = "AiX"

    @property
    def default_inbox(self) -> Inbox:
        """The deployment's own inbox, from its template parameters."""
        return Inbox(address=self.piping_address, brand_name=self.brand_name)


@dataclass(frozen=True, slots=True)
class Match:
    """How an email was matched to a conversation."""

    conversation_id: str
    token: str | None
    method: str
    inbox: str | None = None  # the inbox address the token was found on
    for_sender: bool = True  # False: the token (or thread) is another member's: a reply-all, checked once read


def message_id_for(s3_key: str) -> str:
    """The chat message id of an email: derived from its S3 key, so processing it twice stores one message."""
    return hashlib.sha256(s3_key.encode("utf-8")).hexdigest()[:24]


def process_email(raw: bytes, s3_key: str, ctx: InboundContext, mailbox_inbox: str | None = None) -> InboundRecord:
    """Turn one raw email into a stored chat message, or a recorded rejection; always returns the outcome.

    `mailbox_inbox` is the inbox of the polled mailbox the email was copied from, if any: the email's inbox when it
    is addressed to none (Bcc'd, or relayed)."""
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
        accepted = _accept(parsed, s3_key, received_at, ctx, mailbox_inbox)
    except RejectedError as exc:
        record = replace(
            record, status=exc.status, reason=exc.reason, details={"detail": exc.detail} if exc.detail else {}
        )
        if not repo.record_outcome(record):
            return repo.get_inbound(s3_key) or record
        return record
    message = accepted.message
    record = replace(
        record,
        status=Outcome.STORED,
        reason="stored",
        matched_by=accepted.matched_by,
        conversation_id=message.conversation_id,
        message_id=message.id,
        # What the limits left out, if anything (never silently), and the path the email took.
        details={**dropped(parsed), **accepted.details},
    )
    limits = _limits(message, accepted.settings, accepted)
    try:
        result = repo.store_inbound_message(
            message,
            record,
            limits,
            conversation=accepted.opened,
            new_people=accepted.new_people,
            change=accepted.change,
            email_key=email_key(message.author_email or "", parsed.message_id),
            thread_key=repo.thread_key(parsed.message_id) if parsed.message_id else None,
            rate_logs=accepted.rate_logs,
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
    opened = accepted.opened is not None
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
class Accepted:
    """An email that will be posted, with everything its transaction writes besides the message."""

    message: Message
    matched_by: str
    settings: Settings
    rate_logs: repo.RateLogs
    opened: Conversation | None = None  # the conversation it opens (convert-all, a forward, a closed one's successor)
    new_people: tuple[Person, ...] = ()  # its writer or its Cc'd people, when they have no person record yet
    change: repo.ConversationChange | None = None  # reopened, participants joined
    details: dict[str, str] = field(default_factory=dict)


def email_key(sender: str, message_id: str | None) -> str | None:
    """The key of one email across deliveries: its sender and Message-ID; None (never a duplicate) without one."""
    if not message_id or not message_id.strip() or not sender:
        return None
    return hashlib.sha256(f"{sender.strip().lower()}|{message_id.strip()}".encode()).hexdigest()


def rate_sender(address: str) -> str:
    """The sender a cap counts: lower-cased, without a plus tag (`spam+1@` and `spam+2@` are one sender)."""
    return inboxes.base_address(address)


def _rate_keys(sender: str, conversation_id: str) -> dict[str, str]:
    """The key of each cap that an email from `sender` into the conversation may count against, by scope."""
    normal = rate_sender(sender)
    return {
        "sender": hash_address(normal),
        "conversation": conversation_id,
        "domain": hash_address(normal.rpartition("@")[2]),
    }


def _limits(message: Message, settings: Settings, accepted: Accepted) -> tuple[repo.RateLimit, ...]:
    window = settings.rate_window_seconds
    keys = _rate_keys(message.author_email or "", message.conversation_id)
    limits = [
        repo.RateLimit("sender", keys["sender"], settings.max_emails_per_sender, window),
        repo.RateLimit("conversation", keys["conversation"], settings.max_emails_per_conversation, window),
    ]
    if accepted.opened is not None and any(p.email == message.author_email for p in accepted.new_people):
        # A stranger (convert-all mail from an address without a person record): their domain is capped too, so
        # that a thousand fresh addresses at one domain are not a thousand first emails.
        limits.append(repo.RateLimit("domain", keys["domain"], settings.max_stranger_emails_per_domain, window))
    return tuple(limits)


def _accept(
    parsed: ParsedEmail, s3_key: str, received_at: float, ctx: InboundContext, mailbox_inbox: str | None
) -> Accepted:
    if parsed.status != "accepted":
        raise RejectedError(parsed.reason or "unparseable")
    if parsed.sender is None or "@" not in parsed.sender.email:
        raise RejectedError("no_sender")
    sender = parsed.sender.email.strip().lower()
    settings = repo.cached_settings()  # with the inboxes: which addresses are ours decides what follows
    boxes = inboxes.all_inboxes(ctx.default_inbox, settings)
    if inboxes.is_inbox_address(boxes, sender):
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
        raise RejectedError("bounce", _count_bounce(parsed, verdicts, s3_key, received_at, ctx, boxes))
    if machine is not None:
        # Bounces, auto-replies and bulk mail never become chat messages, so no reply loop can start.
        raise RejectedError(machine)
    decision = trust.verdict_outcome(
        verdicts, quarantine_spam=settings.quarantine_spam, require_pass=settings.require_authentication
    )
    if decision is not None:
        status, reason = decision
        raise RejectedError(reason, quarantine=status == "quarantined")
    addressed = inboxes.all_addressed(boxes, [a.email for a in parsed.recipients])
    copied = _copied(parsed, sender, boxes)
    mail = _Mail(parsed, sender, from_domain, verdicts, s3_key, received_at, settings, boxes, addressed, copied)
    match = _match(parsed, sender, boxes, ctx)
    forward = None
    if match is None:
        forward = forwards.find_forward(parsed)
        if forward is None and not _asks_for_new(parsed, boxes):
            # A forward keeps the forwarded email's References (Gmail): it opens a conversation, it answers none.
            match = _thread_match(parsed, boxes)
    conversation_id = match.conversation_id if match else _converted_conversation_id(s3_key)
    # One request reads the sender, the conversation, every cap's log and the Cc'd people (the store reads nothing).
    rate_keys = _rate_keys(sender, conversation_id)
    if match is not None:
        # Only a stranger's new conversation counts against its domain's cap (_limits): a reply never reads that
        # log, which every sender of a large domain (gmail.com) would otherwise read with each email.
        del rate_keys["domain"]
    log_keys = [repo.rate_log_pk(scope, key) for scope, key in rate_keys.items()]
    # cc_join trusts the email's own To and Cc: only for mail no trusted verdict calls unauthenticated.
    join = settings.cc_join and not trust.staff_reply_outcome(verdicts, from_domain)
    joinable = copied[:MAX_CC_READ] if join else ()
    reads = repo.read_for_inbound(sender, match.conversation_id if match else None, log_keys, joinable)
    if match is None:
        inbox = addressed[0] if addressed else inboxes.of_conversation(boxes, mailbox_inbox)
        return _convert(mail, reads, inbox, joinable, forward, ctx)
    if match.token and tokens.expired(match.token, received_at, settings.token_lifetime_days):
        raise RejectedError("token_expired")
    conversation = reads.conversation
    if not match.for_sender:
        _check_reply_all(match, conversation, reads.person, sender, ctx)
    if reads.person is None:
        raise RejectedError("unknown_sender")
    if conversation is None:
        raise RejectedError("unknown_conversation")
    inbox = inboxes.of_conversation(boxes, conversation.inbox)
    if (match.inbox is not None and match.inbox != inbox.address) or (addressed and inbox not in addressed):
        # One inbox's conversation answered at another inbox: never posted across brands, whatever carried it.
        raise RejectedError("wrong_inbox")
    role = _author_role(mail, reads.person, conversation)
    if match.method == "thread" and not role.is_staff and trust.staff_reply_outcome(verdicts, from_domain):
        # No token proves who wrote it: a reply matched by its thread alone needs mail that is the sender's own.
        raise RejectedError("thread_not_authenticated")
    if not role.is_staff and trust.sender_unproven(verdicts):
        # A token proves the mail answers a notification, not who wrote it (everyone in a Cc saw the token).
        raise RejectedError("reply_not_authenticated", quarantine=True)
    return _reply(mail, match, conversation, role, reads, inbox, joinable, ctx)


@dataclass(frozen=True, slots=True)
class _Mail:
    """One inbound email, accepted so far, and what it was read against."""

    parsed: ParsedEmail
    sender: str
    from_domain: str
    verdicts: trust.Verdicts
    s3_key: str
    received_at: float
    settings: Settings
    inboxes: tuple[Inbox, ...]
    addressed: tuple[Inbox, ...]  # the inboxes among its recipients, in their order
    copied: tuple[str, ...]  # the people it is also addressed to (To and Cc besides our inboxes and its sender)


def _check_reply_all(
    match: Match, conversation: Conversation | None, person: Person | None, sender: str, ctx: InboundContext
) -> None:
    """A token or thread of someone else in the conversation: a reply-all by an agent or a participant.

    The token must have been issued to the conversation's user or one of its participants, and the sender must be
    staff or a participant; otherwise it is a notification forwarded to an outsider, or a guess."""
    refused = "token_not_valid_for_sender" if match.token else "sender_not_participant"
    if conversation is None or person is None:
        raise RejectedError(refused)
    members = (conversation.user_email, *conversation.participants)
    if match.token and not any(tokens.verify_token(ctx.keys(), match.token, member) for member in members):
        raise RejectedError("token_not_valid_for_sender")
    if not (person.role.is_staff or sender in members):
        raise RejectedError(refused)


def _author_role(mail: _Mail, person: Person, conversation: Conversation) -> Role:
    if person.role.is_staff:
        # Staff email the customer in their own name through us: a verdict must show the mail is theirs.
        reason = trust.staff_reply_outcome(mail.verdicts, mail.from_domain, mail.settings.staff_unauthenticated_domains)
        if reason:
            raise RejectedError(reason)
        return person.role
    if is_member(mail.sender, conversation):
        return Role.USER
    # Not (or no longer) in the conversation: a removed participant's tokens stop here.
    raise RejectedError("sender_not_participant")


def _reply(
    mail: _Mail,
    match: Match,
    conversation: Conversation,
    role: Role,
    reads: repo.InboundReads,
    inbox: Inbox,
    copied: Sequence[str],
    ctx: InboundContext,
) -> Accepted:
    """A reply into a matched conversation: posted, into a successor when closed (closed_reply), or refused."""
    settings = inboxes.effective_settings(mail.settings, inbox)
    joining, new_people = _joining(mail, conversation, role, reads, copied)
    details: dict[str, str] = {"joined": str(len(joining))} if joining else {}
    if conversation.status == "archived":
        _refuse_closed(mail, conversation, inbox, "archived")
    if conversation.status == "closed":
        rule = settings.closed_reply
        if rule == "reject":
            _refuse_closed(mail, conversation, inbox, "closed")
        if rule == "new":
            if continued := _continued(mail, conversation, role, reads, settings, match, ctx):
                return continued
            successor = replace(
                conversation,
                id=_converted_conversation_id(mail.s3_key),
                status="open",
                assigned_agent=None,
                participants=(*conversation.participants, *joining),
                linked_from=conversation.id,
                continued_in=None,
                created_at=mail.received_at,
            )
            message = _message(mail, successor.id, mail.sender, role, settings, ctx)
            details |= {"closed_reply": "new", "linked_from": conversation.id}
            # Later replies to the closed conversation go on in this one, not in a new one each.
            successor_change = repo.ConversationChange(conversation.id, continued_in=successor.id)
            return Accepted(
                message, match.method, settings, reads.rate_logs, successor, new_people, successor_change, details
            )
        details["closed_reply"] = "reopened"
    change: repo.ConversationChange | None = None
    if joining or conversation.status == "closed":
        change = repo.ConversationChange(conversation.id, conversation.status == "closed", joining)
    message = _message(mail, conversation.id, mail.sender, role, settings, ctx)
    return Accepted(message, match.method, settings, reads.rate_logs, None, new_people, change, details)


def _continued(
    mail: _Mail,
    conversation: Conversation,
    role: Role,
    reads: repo.InboundReads,
    settings: Settings,
    match: Match,
    ctx: InboundContext,
) -> Accepted | None:
    """A reply to a closed conversation that an earlier reply continued elsewhere: posted there while it is open."""
    if not conversation.continued_in:
        return None
    successor = repo.get_conversation(conversation.continued_in)
    if successor is None or successor.status in ("closed", "archived"):
        return None  # that one ended too: a new conversation opens again
    if not role.is_staff and not is_member(mail.sender, successor):
        raise RejectedError("sender_not_participant")
    message = _message(mail, successor.id, mail.sender, role, settings, ctx)
    details = {"closed_reply": "continued", "linked_from": conversation.id}
    return Accepted(message, match.method, settings, reads.rate_logs, details=details)


def _refuse_closed(mail: _Mail, conversation: Conversation, inbox: Inbox, why: str) -> None:
    """Not posted: the sender gets one polite automatic answer (at most one a day per sender), and it is recorded."""
    answer = auto_answers.AutoAnswer(
        recipient=mail.sender,
        recipient_name=mail.parsed.sender.name if mail.parsed.sender else "",
        conversation_id=conversation.id,
        inbox=inbox.address,
        subject=conversation.subject or mail.parsed.subject,
        email_message_id=mail.parsed.message_id,
        reason=why,
        s3_key=mail.s3_key,
    )
    queued = auto_answers.queue_auto_answer(answer, mail.received_at)
    detail = "automatic answer queued" if queued else "no automatic answer: one was sent to this sender today"
    raise RejectedError(f"conversation_{why}", detail)


# People a participant can bring into a conversation with one email (cc_join), and in all.
MAX_PARTICIPANTS = 20
# Recipients of one email kept as having had it directly, and the ones read to see who may join (staff may not).
MAX_ALSO_TO = 100
MAX_CC_READ = 60


def _copied(parsed: ParsedEmail, sender: str, boxes: Sequence[Inbox]) -> tuple[str, ...]:
    """The people an email is also addressed to (To and Cc besides our inboxes and its sender)."""
    found = []
    for address in (*parsed.to, *parsed.cc):
        email = address.email.strip().lower()
        if _plausible(email) and email != sender and not inboxes.is_inbox_address(boxes, email):
            found.append(email)
    return tuple(dict.fromkeys(found))[:MAX_ALSO_TO]


_PLAUSIBLE = re.compile(r"[^@\s<>()\[\],;:\"]{1,64}@[^@\s<>()\[\],;:\"./]+(?:\.[^@\s<>()\[\],;:\"./]+)+")


def _plausible(address: str) -> bool:
    """A mailbox address someone could be emailed at (no group syntax, no stray quoting), not a full validation."""
    return len(address) <= 254 and _PLAUSIBLE.fullmatch(address) is not None


def _joining(
    mail: _Mail, conversation: Conversation, role: Role, reads: repo.InboundReads, copied: Sequence[str]
) -> tuple[tuple[str, ...], tuple[Person, ...]]:
    """cc_join: the Cc'd people who join the conversation, and the person records of those who are new.

    Only the user or a participant brings people in; a registered agent or admin in Cc is recognised as staff and
    never becomes a participant."""
    if not copied or role.is_staff or role is Role.BOT:
        return (), ()
    present = {conversation.user_email, *conversation.participants}
    room = MAX_PARTICIPANTS - len(conversation.participants)
    joining: list[str] = []
    new_people: list[Person] = []
    names = {a.email.strip().lower(): a.name for a in (*mail.parsed.to, *mail.parsed.cc)}
    for email in copied:
        if email in present or len(joining) >= room:
            continue
        person = reads.others.get(email)
        if person is not None and person.role.is_staff:
            continue
        joining.append(email)
        if person is None:
            new_people.append(
                Person(email=email, name=clean_name(names.get(email, "")) or email.split("@")[0], role=Role.USER)
            )
    return tuple(joining), tuple(new_people)


def _converted_conversation_id(s3_key: str) -> str:
    """The id of the conversation a convert-all email opens: derived from its S3 key, so it is opened once."""
    return tokens.conversation_id_from("conversation:" + s3_key)


def _count_bounce(
    parsed: ParsedEmail,
    verdicts: trust.Verdicts,
    s3_key: str,
    received_at: float,
    ctx: InboundContext,
    boxes: Sequence[Inbox],
) -> str:
    """Mark the addresses a delivery report names, when it proves it is about our notification; say what counted.

    Anyone can send mail that looks like a bounce. A report counts only for a recipient we sent the notification it
    quotes to: one of its Message-IDs at an inbox's domain is in that recipient's thread of sent notifications, or
    a reply token it quotes was issued to that recipient. A report whose authentication failed counts for nobody.
    """
    if trust.authentication_failed(verdicts):
        return "not counted: its authentication failed"
    recipients = trust.bounced_recipients_of(parsed)
    if not recipients:
        return "not counted: it names no failed recipient"
    message_ids: list[str] = []
    quoted_tokens: list[str] = []
    for inbox in boxes:
        ids, found = trust.bounce_references(parsed, inbox.address)
        message_ids += [m for m in ids if m not in message_ids]
        quoted_tokens += [t for t in found if t not in quoted_tokens]
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


@dataclass(frozen=True, slots=True)
class _Candidate:
    token: str
    method: str
    inbox: str | None  # the inbox address it was found on; None for a Message-ID (a domain may hold several)


def _candidates(parsed: ParsedEmail, boxes: Sequence[Inbox]) -> list[_Candidate]:
    """Token candidates in order of trust: display name, plus-address, then our Message-IDs in the thread."""
    found: list[_Candidate] = []
    for address in parsed.recipients:
        inbox = inboxes.find(boxes, address.email)
        if inbox is not None and (token := tokens.find_token(address.name)):
            found.append(_Candidate(token, "display_name", inbox.address))
    for address in parsed.recipients:
        inbox = inboxes.find(boxes, address.email)
        if inbox is not None and (token := tokens.token_from_plus_address(address.email, inbox.address)):
            found.append(_Candidate(token, "plus_address", inbox.address))
    domains = {inbox.domain for inbox in boxes}
    for reference in [parsed.in_reply_to or "", *reversed(parsed.references)]:
        domain = reference.lower().rstrip(">").rpartition("@")[2]
        if domain in domains and (token := tokens.find_token(reference)):
            found.append(_Candidate(token, "message_id", None))
    return found


def _match(parsed: ParsedEmail, sender: str, boxes: Sequence[Inbox], ctx: InboundContext) -> Match | None:
    candidates = _candidates(parsed, boxes)
    if not candidates:
        return None
    keys = ctx.keys()
    for candidate in candidates:
        if tokens.verify_token(keys, candidate.token, sender):
            return Match(tokens.split_token(candidate.token)[0], candidate.token, candidate.method, candidate.inbox)
    # A token, but none issued to this sender: an agent's or a participant's reply-all (checked against the
    # conversation once it is read), or a notification forwarded to someone else, or a forgery.
    first = candidates[0]
    return Match(tokens.split_token(first.token)[0], first.token, first.method, first.inbox, for_sender=False)


def _asks_for_new(parsed: ParsedEmail, boxes: Sequence[Inbox]) -> bool:
    """True when the email goes to `support+new@…` of an inbox: a new conversation is asked for."""
    for address in parsed.recipients:
        local, _, domain = address.email.strip().lower().rpartition("@")
        if local.endswith("+new") and inboxes.find(boxes, address.email) is not None:
            return True
    return False


def _thread_match(parsed: ParsedEmail, boxes: Sequence[Inbox]) -> Match | None:
    """No token: a reply to an email stored earlier (a reply-all to the customer's own email), by its Message-ID."""
    references = [r for r in [parsed.in_reply_to or "", *reversed(parsed.references)] if r.strip()]
    if not references:
        return None
    conversation_id = repo.conversation_of_thread(references)
    if conversation_id is None:
        return None
    return Match(conversation_id, None, "thread", None, for_sender=False)


def _convert(
    mail: _Mail,
    reads: repo.InboundReads,
    inbox: Inbox,
    copied: Sequence[str],
    forward: forwards.Forwarded | None,
    ctx: InboundContext,
) -> Accepted:
    """Mail without a conversation: an agent's forward of a customer's email, or (convert-all) a new conversation.

    The conversation (and the new people it brings) are written with the message, in its transaction: mail that is
    quarantined or a duplicate opens nothing.
    """
    settings = inboxes.effective_settings(mail.settings, inbox)
    person = reads.person
    if person is not None and person.role.is_staff:
        return _forwarded(mail, person, forward, reads, inbox, settings, ctx)
    if not settings.convert_all_emails:
        raise RejectedError("no_conversation_token")
    new_people: list[Person] = []
    if person is None:
        name = clean_name(mail.parsed.sender.name if mail.parsed.sender else "") or mail.sender.split("@", 1)[0]
        person = Person(email=mail.sender, name=name, role=Role.USER)
        new_people.append(person)
    conversation = Conversation(
        id=_converted_conversation_id(mail.s3_key),
        user_email=person.email,
        subject=mail.parsed.subject,
        department=inbox.department,
        inbox=None if inbox is mail.inboxes[0] else inbox.address,
        created_at=mail.received_at,
    )
    joining, strangers = _joining(mail, conversation, Role.USER, reads, copied)
    conversation = replace(conversation, participants=joining)
    message = _message(mail, conversation.id, mail.sender, Role.USER, settings, ctx)
    details = {"joined": str(len(joining))} if joining else {}
    return Accepted(
        message, "convert_all_emails", settings, reads.rate_logs, conversation, (*new_people, *strangers), None, details
    )


def _forwarded(
    mail: _Mail,
    agent: Person,
    found: forwards.Forwarded | None,
    reads: repo.InboundReads,
    inbox: Inbox,
    settings: Settings,
    ctx: InboundContext,
) -> Accepted:
    """An agent forwards a customer's email: a new conversation of the original sender, assigned to the agent."""
    if found is None or not found.sender_email:
        raise RejectedError("staff_mail_without_token")
    if not (settings.convert_all_emails or settings.staff_forwards):
        raise RejectedError("staff_forward_not_enabled")
    if reason := trust.staff_reply_outcome(mail.verdicts, mail.from_domain, settings.staff_unauthenticated_domains):
        raise RejectedError(reason)  # a conversation in a customer's name needs mail that is really the agent's
    customer_email = found.sender_email.strip().lower()
    if inboxes.is_inbox_address(mail.inboxes, customer_email) or customer_email == mail.sender:
        raise RejectedError("forward_without_customer")
    customer = repo.get_person(customer_email)
    if customer is not None and customer.role.is_staff:
        raise RejectedError("forward_of_staff_mail")
    new_people = []
    if customer is None:
        name = clean_name(found.sender_name) or customer_email.split("@", 1)[0]
        customer = Person(email=customer_email, name=name, role=Role.USER)
        new_people.append(customer)
    conversation = Conversation(
        id=_converted_conversation_id(mail.s3_key),
        user_email=customer.email,
        subject=found.subject or strip_subject_prefixes(mail.parsed.subject),
        department=inbox.department,
        assigned_agent=agent.email,
        inbox=None if inbox is mail.inboxes[0] else inbox.address,
        created_at=mail.received_at,
    )
    source = found.inner or mail.parsed
    files = (
        source.attachments
        if found.inner is not None
        else [mail.parsed.attachments[i] for i in found.attachment_indexes]
    )
    message_id = message_id_for(mail.s3_key)
    message = Message(
        id=message_id,
        conversation_id=conversation.id,
        author_email=customer.email,
        author_role=Role.USER,
        text="",
        source=Source.EMAIL,
        created_at=mail.received_at,
        attachments=_store_attachments(files, conversation.id, message_id, ctx),
        email_message_id=mail.parsed.message_id,
        forwarded_by=agent.email,
        raw_s3_key=mail.s3_key,
    )
    # The forwarded content is the message, whole: a forward is content, not quoted history. The agent's own note
    # above it is internal: not part of the customer's message (the raw email keeps it).
    message = _with_text(message, found.text, "", ctx)
    details = {"forwarded_by": hash_address(agent.email)}
    return Accepted(message, "staff_forward", settings, reads.rate_logs, conversation, tuple(new_people), None, details)


def _store_attachments(
    files: Sequence[Attachment], conversation_id: str, message_id: str, ctx: InboundContext
) -> tuple[AttachmentRef, ...]:
    refs = []
    for index, attachment in enumerate(files):
        if attachment.inline:
            continue  # a signature's logo or icon: part of the HTML body's look, not a file of the message
        name = _SAFE_KEY.sub("_", attachment.filename)[:100] or "attachment"
        key = f"{ctx.attachment_prefix}{conversation_id}/{message_id}/{index}-{name}"
        ctx.put_attachment(key, attachment.payload, attachment.content_type)
        refs.append(
            AttachmentRef(attachment.filename, attachment.content_type, attachment.size, attachment.sha256, key)
        )
    return tuple(refs)


def _with_text(message: Message, text: str, trimmed: str, ctx: InboundContext) -> Message:
    """The message with its text (a long one kept in S3 with a preview) and what was trimmed from it (in S3)."""
    if not text and not message.attachments:
        raise RejectedError("empty_reply")
    text_s3_key = trimmed_s3_key = None
    if blobs.is_long_text(text):
        # The whole text lives in S3 and the item keeps a preview; notifications and the API read the whole text.
        text_s3_key = blobs.text_key(message.conversation_id, message.id)
        ctx.put_attachment(text_s3_key, text.encode("utf-8"), "text/plain; charset=utf-8")
        text = blobs.preview(text)
    if trimmed.strip():
        # The quoted notification carries the reader's own reply token: never shown onward with the trimmed part.
        trimmed = tokens.TOKEN_PATTERN.sub("[reply token]", trimmed)
        trimmed_s3_key = blobs.trimmed_key(message.conversation_id, message.id)
        ctx.put_attachment(trimmed_s3_key, trimmed.encode("utf-8"), "text/plain; charset=utf-8")
    return replace(message, text=text, text_s3_key=text_s3_key, trimmed_s3_key=trimmed_s3_key)


def _message(
    mail: _Mail, conversation_id: str, sender: str, role: Role, settings: Settings, ctx: InboundContext
) -> Message:
    parsed = mail.parsed
    parts = extract_parts(parsed.text, parsed.html, delimiter=settings.delimiter, subject=parsed.subject)
    message_id = message_id_for(mail.s3_key)
    message = Message(
        id=message_id,
        conversation_id=conversation_id,
        author_email=sender,
        author_role=role,
        text="",
        source=Source.EMAIL,
        created_at=mail.received_at,
        attachments=_store_attachments(parsed.attachments, conversation_id, message_id, ctx),
        email_message_id=parsed.message_id,
        raw_s3_key=mail.s3_key,
        also_to=mail.copied,
    )
    return _with_text(message, parts.reply, parts.trimmed, ctx)
