"""MIME out: build the notification emails (no AWS)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formatdate

from emailpipe.domain.models import Message, Role
from emailpipe.domain.reply import DELIMITER

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header_safe(value: str, limit: int = 200) -> str:
    """A header value with CR, LF and other control characters folded to spaces (no header injection)."""
    return _CONTROL.sub(" ", value).strip()[:limit]


@dataclass(frozen=True, slots=True)
class Notification:
    """Everything one notification email needs."""

    from_name: str
    from_address: str
    reply_to: str
    to_name: str
    to_address: str
    subject: str
    message_id: str
    references: tuple[str, ...]
    message: Message
    author_name: str
    context: tuple[Message, ...] = ()
    delimiter: bool = True


def _author_label(message: Message, author_name: str) -> str:
    if message.author_role is Role.BOT:
        return "Bot"
    return author_name or (message.author_email or "Someone")


def _text_body(n: Notification) -> str:
    lines: list[str] = []
    if n.delimiter:
        lines += [DELIMITER, ""]
    lines += [f"{_author_label(n.message, n.author_name)} wrote:", "", n.message.text or "(no text)"]
    for attachment in n.message.attachments:
        lines.append(f"[attachment: {attachment.filename}, {attachment.size} bytes]")
    if n.context:
        lines += ["", "Earlier in this conversation:"]
        for earlier in n.context:
            lines.append(f"- {earlier.author_email or 'Bot'}: {earlier.text[:300]}")
    lines += ["", "Reply to this email to answer in the chat."]
    return "\n".join(lines) + "\n"


def _html_body(n: Notification) -> str:
    esc = html.escape
    parts = ["<!DOCTYPE html><html><body>"]
    if n.delimiter:
        parts.append(f'<p style="color:#888">{esc(DELIMITER)}</p>')
    parts.append(f"<p><strong>{esc(_author_label(n.message, n.author_name))}</strong> wrote:</p>")
    text = esc(n.message.text or "(no text)").replace("\n", "<br>\n")
    parts.append(f'<div style="white-space:normal">{text}</div>')
    for attachment in n.message.attachments:
        parts.append(f"<p>[attachment: {esc(attachment.filename)}, {attachment.size} bytes]</p>")
    if n.context:
        parts.append('<hr><p style="color:#888">Earlier in this conversation:</p><ul>')
        for earlier in n.context:
            parts.append(f"<li>{esc(earlier.author_email or 'Bot')}: {esc(earlier.text[:300])}</li>")
        parts.append("</ul>")
    parts.append('<p style="color:#888">Reply to this email to answer in the chat.</p></body></html>')
    return "\n".join(parts)


def build_notification(n: Notification) -> EmailMessage:
    """The notification as a multipart/alternative email that threads and can be answered with a plain Reply."""
    mail = EmailMessage()
    from_local, _, from_domain = n.from_address.partition("@")
    mail["From"] = Address(display_name=header_safe(n.from_name), username=from_local, domain=from_domain)
    to_local, _, to_domain = n.to_address.partition("@")
    mail["To"] = Address(display_name=header_safe(n.to_name), username=to_local, domain=to_domain)
    reply_local, _, reply_domain = n.reply_to.partition("@")
    mail["Reply-To"] = Address(display_name=header_safe(n.from_name), username=reply_local, domain=reply_domain)
    mail["Subject"] = header_safe(n.subject, limit=250)
    mail["Date"] = formatdate(localtime=False) if not n.message.created_at else _date(n.message.created_at)
    mail["Message-ID"] = n.message_id
    if n.references:
        mail["In-Reply-To"] = n.references[-1]
        mail["References"] = " ".join(n.references[-20:])
    # Tell responders and mail servers this is machine mail, so out-of-office replies do not loop.
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(_text_body(n))
    mail.add_alternative(_html_body(n), subtype="html")
    return mail


def _date(ts: float) -> str:
    from datetime import UTC, datetime

    return format_datetime(datetime.fromtimestamp(ts, UTC))
