"""MIME out: build the notification emails (no AWS)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from emailpipe.domain.delimiter import DELIMITER
from emailpipe.domain.models import Message, Role

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def header_safe(value: str, limit: int = 200) -> str:
    """A header value with CR, LF and other control characters folded to spaces (no header injection)."""
    return _CONTROL.sub(" ", value).strip()[:limit]


@dataclass(frozen=True, slots=True)
class Attached:
    """A small chat attachment carried in the email itself."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Notification:
    """Everything one notification email needs: one or more new messages (a digest) and some context."""

    from_name: str
    from_address: str
    reply_to: str
    to_name: str
    to_address: str
    subject: str
    message_id: str
    references: tuple[str, ...]
    messages: tuple[Message, ...]
    author_names: dict[str, str] = field(default_factory=dict)
    context: tuple[Message, ...] = ()
    delimiter: bool = True
    links: dict[str, str] = field(default_factory=dict)  # attachment S3 key -> expiring link
    attached: tuple[Attached, ...] = ()
    link_expiry_text: str = ""
    linked_only: dict[str, str] = field(default_factory=dict)  # attachment S3 key -> why it is not attached


def _author(message: Message, names: dict[str, str]) -> str:
    if message.author_role is Role.BOT:
        return "Bot"
    email = message.author_email or ""
    return names.get(email) or email or "Someone"


def _one_line(text: str, limit: int = 200) -> str:
    """A context line: the message's words on one line, shortened."""
    words = " ".join(text.split())
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"


def _when(message: Message) -> str:
    return datetime.fromtimestamp(message.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _text_body(n: Notification) -> str:
    lines: list[str] = []
    if n.delimiter:
        lines += [DELIMITER, ""]
    if len(n.messages) > 1:
        lines += [f"{len(n.messages)} new messages:", ""]
    for message in n.messages:
        lines += [f"{_author(message, n.author_names)} wrote ({_when(message)}):", "", message.text or "(no text)"]
        for attachment in message.attachments:
            link = n.links.get(attachment.s3_key)
            where = f" {link}" if link else ""
            why = n.linked_only.get(attachment.s3_key)
            note = f", linked only: {why}" if why else ""
            lines.append(f"[attachment: {attachment.filename}, {attachment.size} bytes{note}]{where}")
        lines.append("")
    if n.links and n.link_expiry_text:
        lines.append(f"Attachment links expire {n.link_expiry_text}.")
    if n.context:
        lines += ["", "Earlier in this conversation:"]
        for earlier in n.context:
            lines.append(f"- {_author(earlier, n.author_names)}: {_one_line(earlier.text)}")
    lines += ["", "Reply to this email to answer in the chat."]
    return "\n".join(lines) + "\n"


def _html_body(n: Notification) -> str:
    esc = html.escape
    parts = ["<!DOCTYPE html><html><body>"]
    if n.delimiter:
        parts.append(f'<p style="color:#888">{esc(DELIMITER)}</p>')
    for message in n.messages:
        parts.append(f"<p><strong>{esc(_author(message, n.author_names))}</strong> wrote ({esc(_when(message))}):</p>")
        text = esc(message.text or "(no text)").replace("\n", "<br>\n")
        parts.append(f"<div>{text}</div>")
        for attachment in message.attachments:
            label = f"{esc(attachment.filename)}, {attachment.size} bytes"
            if why := n.linked_only.get(attachment.s3_key):
                label += f" (linked only: {esc(why)})"
            link = n.links.get(attachment.s3_key)
            parts.append(f'<p>&#128206; <a href="{esc(link)}">{label}</a></p>' if link else f"<p>&#128206; {label}</p>")
    if n.context:
        parts.append('<hr><p style="color:#888">Earlier in this conversation:</p><ul>')
        for earlier in n.context:
            parts.append(f"<li>{esc(_author(earlier, n.author_names))}: {esc(_one_line(earlier.text))}</li>")
        parts.append("</ul>")
    parts.append('<p style="color:#888">Reply to this email to answer in the chat.</p></body></html>')
    return "\n".join(parts)


def _address(display_name: str, address: str) -> Address:
    local, _, domain = address.partition("@")
    return Address(display_name=header_safe(display_name), username=local, domain=domain)


def build_notification(n: Notification) -> EmailMessage:
    """The notification as a multipart/alternative email that threads and can be answered with a plain Reply."""
    mail = EmailMessage()
    mail["From"] = _address(n.from_name, n.from_address)
    mail["To"] = _address(n.to_name, n.to_address)
    mail["Reply-To"] = _address(n.from_name, n.reply_to)
    mail["Subject"] = header_safe(n.subject, limit=250)
    newest = max((m.created_at for m in n.messages), default=0.0)
    mail["Date"] = format_datetime(datetime.fromtimestamp(newest, UTC) if newest else datetime.now(UTC))
    mail["Message-ID"] = n.message_id
    if n.references:
        mail["In-Reply-To"] = n.references[-1]
        mail["References"] = " ".join(n.references[-20:])
    # Tell responders and mail servers this is machine mail, so out-of-office replies do not loop.
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(_text_body(n))
    mail.add_alternative(_html_body(n), subtype="html")
    for item in n.attached:
        maintype, _, subtype = item.content_type.partition("/")
        mail.add_attachment(
            item.data, maintype=maintype or "application", subtype=subtype or "octet-stream", filename=item.filename
        )
    return mail


@dataclass(frozen=True, slots=True)
class AutoAnswerMail:
    """The one polite automatic answer to a reply that was not posted (closed or archived conversation)."""

    from_name: str
    from_address: str
    to_name: str
    to_address: str
    subject: str  # the subject of the email answered
    message_id: str
    reason: str  # closed | archived
    inbox_address: str  # where a new email opens a new conversation
    in_reply_to: str | None = None  # the Message-ID of the email answered
    date: float = 0.0


_AUTO_ANSWER_TEXT = {
    "closed": (
        "The conversation you replied to is closed, so your message was not added to it.",
        "To reach us again, please send a new email to {address}: it opens a new conversation.",
    ),
    "archived": (
        "The conversation you replied to is archived and can no longer receive replies, so your message was not "
        "added to it.",
        "To reach us, please send a new email to {address}: it opens a new conversation.",
    ),
}


def _auto_answer_paragraphs(a: AutoAnswerMail) -> list[str]:
    what, next_step = _AUTO_ANSWER_TEXT[a.reason]
    return [
        f"Hello {a.to_name}," if a.to_name else "Hello,",
        f"Thank you for your email. {what}",
        next_step.format(address=a.inbox_address),
        "This is an automatic answer; you will not get another one today.",
        a.from_name,
    ]


def build_auto_answer(a: AutoAnswerMail) -> EmailMessage:
    """The automatic answer as a multipart/alternative email, marked `Auto-Submitted: auto-replied` (RFC 3834)."""
    subject = " ".join(a.subject.split())
    if not subject:
        subject = "Your email"
    elif not re.match(r"(?i)re\s*:", subject):
        subject = f"Re: {subject}"
    mail = EmailMessage()
    mail["From"] = _address(a.from_name, a.from_address)
    mail["To"] = _address(a.to_name, a.to_address)
    mail["Subject"] = header_safe(subject, limit=250)
    mail["Date"] = format_datetime(datetime.fromtimestamp(a.date, UTC) if a.date else datetime.now(UTC))
    mail["Message-ID"] = a.message_id
    answered = header_safe(a.in_reply_to or "", limit=900).split()
    if answered:
        # A Message-ID given without its angle brackets still threads once they are put back.
        msg_id = answered[0] if answered[0].startswith("<") else f"<{answered[0]}>"
        mail["In-Reply-To"] = msg_id
        mail["References"] = msg_id
    # An answer to an answer would loop: responders and mail servers must not reply to this one.
    mail["Auto-Submitted"] = "auto-replied"
    mail["X-Auto-Response-Suppress"] = "All"
    paragraphs = _auto_answer_paragraphs(a)
    mail.set_content("\n\n".join(paragraphs) + "\n")
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    mail.add_alternative(f"<!DOCTYPE html><html><body>\n{body}\n</body></html>", subtype="html")
    return mail
