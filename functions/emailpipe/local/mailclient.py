"""A tiny mail client for the demo and the tests: writes mail the way people's clients do."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr


def text_of(raw: bytes | str) -> str:
    """The text/plain part of a raw email."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    mail = message_from_bytes(data, policy=policy.default)
    body = mail.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""


def reply_to(
    original: bytes | str,
    sender: str,
    sender_name: str,
    text: str,
    *,
    attachments: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
    quote: bool = True,
) -> bytes:
    """A reply to `original` as Gmail writes it: to its Reply-To, threaded, with the quoted original below."""
    data = original.encode("utf-8") if isinstance(original, str) else original
    mail = message_from_bytes(data, policy=policy.default)
    reply = EmailMessage()
    reply["From"] = f"{sender_name} <{sender}>"
    reply["To"] = str(mail.get("Reply-To") or mail.get("From"))
    subject = str(mail.get("Subject", ""))
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["Date"] = format_datetime(datetime.now(UTC))
    reply["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    original_id = str(mail.get("Message-ID", "")).strip()
    if original_id:
        reply["In-Reply-To"] = original_id
        reply["References"] = " ".join(filter(None, [str(mail.get("References", "")).strip(), original_id]))
    body = text.rstrip("\n") + "\n"
    if quote:
        who = parseaddr(str(mail.get("From", "")))
        header = f"On {mail.get('Date', 'a day')}, {who[0] or who[1]} <{who[1]}> wrote:"
        quoted = "\n".join("> " + line if line else ">" for line in text_of(data).splitlines())
        body += f"\n{header}\n{quoted}\n"
    reply.set_content(body)
    for filename, payload, content_type in attachments:
        maintype, _, subtype = content_type.partition("/")
        reply.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(reply)


def new_email(sender: str, sender_name: str, to: str, subject: str, text: str, **headers: str) -> bytes:
    """A fresh email (not a reply)."""
    mail = EmailMessage()
    mail["From"] = f"{sender_name} <{sender}>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return bytes(mail)
