"""Recognise a forwarded email and read the original sender, subject, date and content out of it (pure, no I/O).

Mail clients forward in two ways. Inline, the original sits in the body below a marker and a header block:
Gmail, Thunderbird and Yahoo write a marker line ("---------- Forwarded message ---------", "-------- Weitergeleitete
Nachricht --------", "----- Forwarded Message -----"), Apple Mail "Begin forwarded message:", each in its user's
language, then From/Date/Subject/To fields. Outlook (desktop, OWA, mobile) writes no marker: a forward is an
underscore rule or "-----Original Message-----" and a "From: … Sent: … To: … Subject: …" block, exactly as a reply
is, so only the subject's prefix ("FW:", "WG:", "TR:", "RV:", "I:", "Doorst:"…) tells the two apart. As an
attachment, the original is a message/rfc822 part, with little or no body around it.

A reply ("Re:", "On … wrote:", '>' quotes) is never a forward: the first history in the body must be the forward.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emailpipe.domain import reply_patterns as P
from emailpipe.domain.html_text import html_to_text, strip_markers
from emailpipe.domain.names import clean_name
from emailpipe.domain.reply import extract_reply
from emailpipe.domain.reply_quotes import FORWARD, find_history
from emailpipe.records import Record

if TYPE_CHECKING:  # mail.parse imports domain.reply, so the parser is imported where an attached email is read
    from emailpipe.mail.parse import ParsedEmail

# Lines of a body that are looked at: a forward's marker sits near the top, below a short note.
_MAX_LINES = 20_000
_MAX_TEXT_CHARS = 2_000_000
# Lines between a marker and its header block ("Begin forwarded message:", blank line, "From: ...").
_MARKER_GAP = 3
# A header block's fields, each with at most this many wrapped lines ("Subject: Two\nline subject").
_MAX_FIELDS = 12
_MAX_WRAPS = 2
# Without a forward prefix in the subject, an attached email is the forward only when the body around it is no longer
# than this ("see below", a signature): a longer text is an email of its own that carries another as a file.
_MAX_NOTE_CHARS = 300

# An address as header blocks write it: bare, in <>, in [mailto:], in (), with or without mailto:.
_ADDRESS_RE = re.compile(r"(?:mailto:)?([^\s<>()\[\]\"',;:@]{1,64}@[^\s<>()\[\]\"',;:@]{1,255}\.[^\W_]{2,63})", re.I)
_BRACKETS_RE = re.compile(r"[<\[(]\s*(?:mailto:)?\s*[^\s<>()\[\]]+@[^\s<>()\[\]]+\s*[>\])]", re.I)
_REPORT_TYPES = ("message/delivery-status", "message/disposition-notification", "message/feedback-report")


@dataclass(frozen=True, repr=False, eq=False)
class Forwarded(Record):
    """The email an incoming email forwards: who wrote it, what it said, and which attachments came with it."""

    sender_email: str  # lower-case
    sender_name: str
    subject: str
    date: str | None  # as the forward's header block wrote it (or the attached email's Date, ISO 8601)
    text: str  # the forwarded content, without the forward's header block and the forwarder's note
    note: str  # what the forwarder wrote above the forward, without quotes and signature; may be ""
    # Indexes into the outer email's attachments that belong to the forwarded email (inline forward: all but an
    # attached email's own part; forward as attachment: none, the attachments are inner.attachments).
    attachment_indexes: tuple[int, ...] = ()
    inner: ParsedEmail | None = None  # a forward as attachment: the attached email, parsed


def find_forward(parsed: ParsedEmail) -> Forwarded | None:
    """Return the email `parsed` forwards, inline or attached, or None (not a forward, or no sender address in it)."""
    if any(a.content_type in _REPORT_TYPES for a in parsed.attachments):
        return None  # a delivery or feedback report carries the bounced email, it does not forward it
    lines = _body_lines(parsed.text, parsed.html)
    forward_subject = P.is_forward_subject(parsed.subject)
    history = find_history(lines, forward_subject=forward_subject)
    if history is not None and history[1] == FORWARD:
        # A rendered HTML header puts each field on its line (<br>, <tr>): a line that is no field is the body, which
        # Outlook's markup does not set apart with a blank line. Plain text may wrap a long value.
        wraps = 0 if not (parsed.text and parsed.text.strip()) else _MAX_WRAPS
        found = _inline(lines, history[0], parsed, wraps)
        if found is not None:
            return found
    if history is None or history[1] == FORWARD:
        return _attached(lines, parsed, forward_subject)
    return None


def strip_forward_prefixes(subject: str) -> str:
    """The subject without its leading "Fwd:"/"FW:"/"Re:" prefixes: the subject of the conversation a forward opens."""
    return P.strip_subject_prefixes(subject)


def _body_lines(text: str | None, html: str | None) -> list[str]:
    """The body as lines: the text part, or the HTML part rendered in full (quoted blocks included)."""
    if text and text.strip():
        body = text
    elif html and html.strip():
        body = html_to_text(html[:_MAX_TEXT_CHARS])
    else:
        return []
    body = body[:_MAX_TEXT_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    return [strip_markers(line).rstrip() for line in body.split("\n", _MAX_LINES)[:_MAX_LINES]]


def _inline(lines: list[str], start: int, parsed: ParsedEmail, wraps: int) -> Forwarded | None:
    """Read the forward whose marker (or Outlook rule or header block) is line `start`."""
    first = _header_start(lines, start)
    if first is None:
        return None
    fields, end = _header_fields(lines, first, wraps)
    sender = fields.get("from")
    address = _address(sender or "")
    if address is None:
        return None
    email, name = address
    subject = fields.get("subject") or P.strip_subject_prefixes(parsed.subject)
    return Forwarded(
        sender_email=email,
        sender_name=name,
        subject=" ".join(subject.split()),
        date=fields.get("sent"),
        text=_join(lines[end:]),
        note=_note(lines[:start]),
        attachment_indexes=tuple(i for i, a in enumerate(parsed.attachments) if a.content_type != "message/rfc822"),
    )


def _header_start(lines: list[str], start: int) -> int | None:
    """The first field line of the header block that belongs to the forward starting at line `start`."""
    line = lines[start][: P.MAX_LINE]
    if P.field_kind(line) is not None:
        return start  # an Outlook block with no rule above it
    if not (P.is_forward_marker(line) or P.is_original_message(line) or P.is_long_separator(line)):
        return None
    for j in range(start + 1, min(len(lines), start + 1 + _MARKER_GAP)):
        if lines[j].strip():
            return j if P.field_kind(lines[j][: P.MAX_LINE]) is not None else None
    return None


def _header_fields(lines: list[str], first: int, max_wraps: int) -> tuple[dict[str, str], int]:
    """The header block's fields by kind ('from', 'sent', 'to', 'cc', 'subject'; the first of each kind) and the
    index of the first line below it. A value may wrap over max_wraps more lines ("From: Jane Doe\\n<jane@x.org>"),
    a list of recipients over more."""
    fields: dict[str, str] = {}
    kind: str | None = None
    wraps = 0
    count = 0
    j = first
    while j < len(lines):
        line = lines[j][: P.MAX_LINE]
        if not line.strip():
            break
        found = P.field_kind(line)
        if found is None and P.GENERIC_FIELD_RE.match(line) and not P.EMAILISH_RE.match(line.strip()):
            found = "other"  # a field this module does not read: Reply-To, Organization, Importance, Time...
        if found is not None:
            count += 1
            if count > _MAX_FIELDS:
                break
            kind, wraps = found, 0
            value = line[min(at for at in (line.find(":"), line.find("：")) if at >= 0) + 1 :]
            if kind not in fields:
                fields[kind] = value.strip()
            elif kind != "other":
                kind = "seen"  # a second From/Subject is not this header's; its wrapped lines are skipped too
        else:
            wraps += 1
            if kind is None or wraps > max_wraps and not (max_wraps and kind in ("to", "cc")):
                break  # the forwarded body follows the header block with no blank line in between
            if kind in fields and kind != "other":
                fields[kind] = f"{fields[kind]} {line.strip()}".strip()
        j += 1
    return fields, j


def _address(value: str) -> tuple[str, str] | None:
    """(address lower-cased, display name) of a From value: `Name <a@b>`, `"Name" <a@b>`, `a@b`, `Name [mailto:a@b]`,
    `Name <mailto:a@b>`, `Name (a@b)`; None without an address."""
    match = _ADDRESS_RE.search(value)
    if match is None:
        return None
    email = match.group(1).strip(".").lower()
    name = _BRACKETS_RE.sub(" ", value, count=1) if _BRACKETS_RE.search(value) else value.replace(match.group(0), " ")
    name = clean_name(" ".join(name.split())).strip(" \"'“”‘’*")
    if name.lower() in ("", email, f"mailto:{email}"):
        name = ""
    return email, name


def _join(lines: list[str]) -> str:
    """The lines as one text: trailing spaces gone, blank-line runs collapsed, the ends trimmed."""
    out: list[str] = []
    for line in lines:
        if not line.strip() and (not out or not out[-1]):
            continue
        out.append(line.rstrip())
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _note(lines: list[str]) -> str:
    """What the forwarder wrote above the forward, without their signature."""
    text = _join(lines)
    return extract_reply(text, delimiter=False) if text else ""


def _attached(lines: list[str], parsed: ParsedEmail, forward_subject: bool) -> Forwarded | None:
    """The forward as an attached email: the first message/rfc822 attachment, when little else surrounds it."""
    index = next((i for i, a in enumerate(parsed.attachments) if a.content_type == "message/rfc822"), None)
    if index is None:
        return None
    note = _note(lines)
    if len(note) > _MAX_NOTE_CHARS and not forward_subject:
        return None
    from emailpipe.mail.parse import parse_email

    inner = parse_email(parsed.attachments[index].payload)
    if inner.sender is None or "@" not in inner.sender.email:
        return None
    return Forwarded(
        sender_email=inner.sender.email.lower(),
        sender_name=inner.sender.name,
        subject=inner.subject or P.strip_subject_prefixes(parsed.subject),
        date=inner.date,
        text=_join(_body_lines(inner.text, inner.html)),
        note=note,
        attachment_indexes=(),
        inner=inner,
    )
