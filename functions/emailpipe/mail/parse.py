"""MIME in: turn the raw bytes of an inbound email into a ParsedEmail (pure Python, no AWS).

Design. The message is parsed ONCE, by the standard library's compat32 parser (`email.message_from_bytes`,
the same parser mail-parser itself calls); when mail-parser is needed, its `MailParser` is built on that same
tree, so the bytes are never parsed twice. What each field comes from, and why:

* Addresses (From, To, Cc, Reply-To) and Date. Plain ones (printable ASCII lists of `local@domain` or
  `Name <local@domain>`, one header each, and a date with its zone; see `_plain_addresses`) are read by the
  stdlib, which gives the same pairs and instant as mail-parser (the date in UTC, as mail-parser gives it):
  most mail, and then mail-parser is not even imported, which keeps it off the cold start. Otherwise
  mail-parser first: its address lexer decodes RFC 2047 display names in context, reads an address used as
  a display name as a name, and its date parser copes with many broken dates. It drops addresses without an
  `@` and everything after the first header of a name, so the stdlib `getaddresses` over every raw header
  fills the gaps (defect `address_recovered:<header>`). Raw 8-bit bytes are decoded before an address
  header is read (mail-parser would show them as escapes, so it is not used for that header); comments are
  not part of a display name (`_drop_name_comments`); the sender is the first From header that names a
  mailbox; To, Cc and Reply-To keep only `local@domain` (defect `address_invalid:<header>`).
* Headers, Subject, Message-ID, In-Reply-To, References: our own decoder over `raw_items()` (mail-parser
  adds nothing there but keeps folds and returns undecodable 8-bit bytes as `\\udcXX` escapes). Raw 8-bit
  header bytes are read together in one charset (`_header_charset`, see mime_text.decode_header_bytes).
* Bodies and attachments: our own iterative walk of the stdlib tree, which is authoritative. mail-parser
  decodes unknown charsets to U+FFFD, puts parts with no filename and no Content-ID in `text_not_managed`,
  and hands attachments back as base64 text; the walk keeps the real bytes, decodes text with
  charset-normalizer when the label is wrong, and names untyped parts.

Byte-level repairs and limits run before parsing (see mime_raw), because the stdlib parser is recursive
and costs about 20 us per part: the size is checked first (too_large), then the header section
(headers_too_large over MAX_HEADER_BYTES); a `boundary=` folded mid-value is unfolded; multiparts nested
deeper than MAX_DEPTH are neutralised and attached messages past the MAX_DEPTH-th are kept as opaque
parts (defect too_deep); and the message is cut after MAX_DELIMITER_LINES `--` lines (too_many_parts).
When the stdlib ends the headers on an odd line (its MissingHeaderBodySeparatorDefect) or finds none, the
header block is mended (mime_raw.repair_header_block, defect header_block_repaired) and parsed again.

Cost, measured by benchmarks/bench_parse.py: the whole of parse_email (compat32 parse, mail-parser where
needed, walk, decoding) takes less CPU than `email.message_from_bytes(raw, policy=policy.default)` alone,
since the compat32 parse is about four times cheaper than the default policy's.
"""

from __future__ import annotations

import email
import logging
import re
from dataclasses import dataclass
from datetime import UTC
from email import errors
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from emailpipe.domain.names import clean_name
from emailpipe.domain.reply import extract_from_message
from emailpipe.domain.reply_patterns import lazy
from emailpipe.domain.tokens import find_token
from emailpipe.mail.mime_raw import (
    header_block_length,
    limit_message_nesting,
    limit_nesting,
    repair_folded_boundaries,
    repair_header_block,
    truncate_parts,
)
from emailpipe.mail.mime_text import (
    clean_line,
    decode_header_bytes,
    decode_header_value,
    decode_words,
    encoded_word_charsets,
    first_declared_charset,
    has_raw_bytes,
    lookup,
    needs_decoding,
    undo_surrogates,
)
from emailpipe.mail.parts import (  # noqa: F401 - Attachment, MAX_PARTS, sanitize_filename are imported from here
    MAX_DEPTH,
    MAX_PARTS,
    Attachment,
    Parts,
    sanitize_filename,
)
from emailpipe.records import Record

MAX_EMAIL_BYTES = 40 * 1024 * 1024  # SES maximum
MAX_HEADER_BYTES = 256 * 1024
# Delimiter lines kept before the rest is cut off: several per kept part, since not every `--` line is one.
MAX_DELIMITER_LINES = 5 * MAX_PARTS

_log = logging.getLogger(__name__)
# mail-parser logs a warning for every part type it does not handle: noise on each ordinary message.
logging.getLogger("mailparser").setLevel(logging.ERROR)

_MSG_ID = re.compile(r"<[^<>\s]*>")
# `@` and a dotted domain, however broken the address around it (`@evil.example`, `<@evil.example>`).
_NAMES_DOMAIN = lazy(lambda: r"@[\w-]+(?:\.[\w-]+)+", 0)  # read only when the first From is garbage


@dataclass(frozen=True, repr=False, eq=False)
class Address(Record):
    """One mailbox: display name and address (domain lower-cased; may lack '@' only if the original did)."""

    name: str
    email: str


@dataclass(frozen=True, repr=False, eq=False)
class ParsedEmail(Record):
    """The parts of an inbound email the pipeline uses, and whether it is accepted."""

    status: str
    reason: str | None
    sender: Address | None
    recipients: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    date: str | None
    headers: tuple[tuple[str, str], ...]
    text: str | None
    html: str | None
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...]
    # Mailboxes the From header(s) name; more than one is refused by the inbound path (see domain/trust.py).
    from_count: int = 1


def _rejected(reason: str, defects: tuple[str, ...] = ()) -> ParsedEmail:
    """Return an empty rejected ParsedEmail."""
    return ParsedEmail(
        status="rejected",
        reason=reason,
        sender=None,
        recipients=(),
        to=(),
        cc=(),
        reply_to=(),
        subject="",
        message_id=None,
        in_reply_to=None,
        references=(),
        date=None,
        headers=(),
        text=None,
        html=None,
        attachments=(),
        defects=defects,
    )


def parse_email(raw: bytes, *, max_bytes: int = MAX_EMAIL_BYTES) -> ParsedEmail:
    """Parse raw RFC 822 bytes into a ParsedEmail; rejects rather than raises on bad input."""
    if len(raw) > max_bytes:
        return _rejected("too_large")
    try:
        if header_block_length(raw) > MAX_HEADER_BYTES:
            # Header parsing is the slowest per byte (addresses above all); a To of 5,000 people fits in 256 KiB.
            return _rejected("headers_too_large")
        return _Parser(bytes(raw)).parse()
    except RecursionError:
        # A safety net: multipart and message/rfc822 nesting are both bounded before parsing.
        return _rejected("too_deep", ("exception:RecursionError",))
    except Exception as exc:
        _log.exception("unparseable message")
        return _rejected("unparseable", (f"exception:{type(exc).__name__}",))


def _normalise_address(name: str, addr: str) -> Address | None:
    """Build an Address with a single-line name and a lower-cased domain, or None when there is no address."""
    addr = clean_line(addr)
    if not addr:
        return None
    local, at, domain = addr.rpartition("@")
    if at:
        addr = f"{local}@{domain.lower()}"
    name = clean_name(clean_line(name))
    return Address(name=name if name != addr else "", email=addr)


def _is_mailbox(addr: str) -> bool:
    """True for `local@domain`: a word such as `undisclosed-recipients`, `xxx` or `unknown` names nobody."""
    local, at, domain = addr.rpartition("@")
    return bool(at and local and domain.strip(".")) and " " not in addr  # clean_line made tabs and controls spaces


def _drop_name_comments(value: str) -> tuple[str, list[str]]:
    """Remove the comments of address items that have a display name and an angle address; return the value and
    the comments it rewrote.

    `MAILER-DAEMON (Mail Delivery System) <postmaster@x>` names MAILER-DAEMON: RFC 5322 comments are not part
    of the phrase. An item without a phrase keeps its comment, since for `postmaster@x (Mail Delivery System)`
    the comment is the only name (the RFC 822 form, and what the stdlib reads). Quoted strings are left alone.
    """
    if "(" not in value:
        return value, []
    items: list[list[tuple[bool, str]]] = [[]]
    text: list[str] = []
    comment: list[str] = []
    depth = 0
    quoted = angle = escaped = False
    for char in value:
        into = comment if depth else text
        if escaped:
            into.append(char)
            escaped = False
        elif char == "\\" and (quoted or depth):
            into.append(char)
            escaped = True
        elif depth:
            depth += char == "("
            depth -= char == ")"
            if depth:
                comment.append(char)
            else:
                items[-1].append((True, "".join(comment)))
                comment = []
        elif quoted:
            text.append(char)
            quoted = char != '"'
        elif char == "(":
            items[-1].append((False, "".join(text)))
            text, depth = [], 1
        else:
            text.append(char)
            quoted = char == '"'
            angle = (angle or char == "<") and char != ">"
            if char in ",;:" and not angle:
                items[-1].append((False, "".join(text)))
                text = []
                items.append([])
    if depth:  # an unclosed comment stays as written
        text = ["(", *comment, *text]
    items[-1].append((False, "".join(text)))
    out: list[str] = []
    dropped: list[str] = []
    for pieces in items:
        plain = "".join(piece for is_comment, piece in pieces if not is_comment)
        angle = "<" in plain
        named = angle and plain.split("<", 1)[0].strip(" \t,;:")
        before_angle = True
        for is_comment, piece in pieces:
            if not is_comment:
                out.append(piece)
                before_angle = before_angle and "<" not in piece
            elif named:
                dropped.append(piece)
                out.append(" ")
            elif angle and before_angle:
                # `(Support desk) <help@x>`: the comment is the only name; the stdlib would keep its parentheses.
                dropped.append(piece)
                escaped_name = piece.replace("\\", "\\\\").replace('"', '\\"')
                out.append(f'"{escaped_name}"')
            else:
                out.append(f"({piece})")
    return "".join(out), dropped


class _Parser:
    """One parse of one message; collects defects as it goes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.defects: list[str] = []
        # The first non-ASCII charset a header's encoded words used: the best guess for an unlabelled body.
        self.charset_hint: str | None = None
        # The charset of the raw 8-bit bytes in the top-level headers, when there are any (see _header_charset).
        self.header_charset: str | None = None
        self.from_count = 1

    def defect(self, code: str | None) -> None:
        """Record a recovery once."""
        if code and code not in self.defects:
            self.defects.append(code)

    def parse(self) -> ParsedEmail:
        """Run every stage and decide accepted or rejected."""
        raw, folded = repair_folded_boundaries(self.raw)
        if folded:
            self.defect("folded_boundary")
        raw, cut = limit_nesting(raw, MAX_DEPTH)
        if cut:
            self.defect("too_deep")
        raw, cut = limit_message_nesting(raw, MAX_DEPTH)
        if cut:
            self.defect("too_deep")
        raw, cut = truncate_parts(raw, MAX_DELIMITER_LINES)
        if cut:
            self.defect("too_many_parts")
        msg = email.message_from_bytes(raw)
        if not len(msg) or any(isinstance(d, errors.MissingHeaderBodySeparatorDefect) for d in msg.defects):
            # The stdlib ended the headers on an odd line (or found none): mend the block and parse again.
            raw, repaired = repair_header_block(raw, MAX_HEADER_BYTES)
            if repaired:
                self.defect("header_block_repaired")
                msg = email.message_from_bytes(raw)
        plain_date = _plain_date(msg)
        # mail-parser is built only when an address header or the date is not plain: the stdlib reads plain ones
        # the same way, at a fraction of the cost, and most mail never needs mail-parser imported at all.
        mp = self._mailparser(msg) if plain_date is None or not _plain_addresses(msg) else None
        # The values as written (8-bit bytes surrogate-escaped): msg.get() turns them into U+FFFD.
        items = [(name, str(value)) for name, value in msg.raw_items()]
        headers, unescaped = self._headers(items, raw)
        first: dict[str, str] = {}
        written: dict[str, list[tuple[str, str]]] = {}  # name -> (as written, its 8-bit bytes decoded) per header
        for (name, value), (_, raw_value), decoded in zip(headers, items, unescaped, strict=True):
            key = name.lower()
            first.setdefault(key, value)
            written.setdefault(key, []).append((raw_value, decoded))

        from_ = self._addresses(written.get("from", []), mp, "from")
        to = self._addresses(written.get("to", []), mp, "to")
        cc = self._addresses(written.get("cc", []), mp, "cc")
        reply_to = self._addresses(written.get("reply-to", []), mp, "reply-to")
        seen: set[str] = set()
        recipients = []
        for address in to + cc:
            if address.email.lower() not in seen:
                seen.add(address.email.lower())
                recipients.append(address)

        # The charset the client wrote its raw header bytes in is the next best guess for an unlabelled body.
        header_hint = self.header_charset if self.header_charset not in (None, "utf_8", "cp1252") else None
        parts = Parts(self.defect, self.charset_hint or header_hint)
        parts.walk(msg)
        text = "\n".join(parts.texts) if parts.texts else None
        html = "\n".join(parts.htmls) if parts.htmls else None

        sender = from_[0] if from_ else None
        status, reason = "accepted", None
        if sender is None:
            status, reason = "rejected", "no_sender"
        elif not (text and text.strip()) and not (html and html.strip()) and not parts.attachments:
            status, reason = "rejected", "no_content"

        refs = first.get("references", "")
        return ParsedEmail(
            status=status,
            reason=reason,
            sender=sender,
            recipients=tuple(recipients),
            to=to,
            cc=cc,
            reply_to=reply_to,
            subject=first.get("subject", ""),
            message_id=self._msg_id(first.get("message-id")),
            in_reply_to=self._msg_id(first.get("in-reply-to")),
            references=tuple(_MSG_ID.findall(refs)) or tuple(refs.split()),
            date=plain_date[0] if plain_date is not None and mp is None else self._date(mp, first.get("date")),
            headers=headers,
            text=text,
            html=html,
            attachments=tuple(parts.attachments),
            defects=tuple(self.defects),
            from_count=self.from_count,
        )

    def _mailparser(self, msg: Message) -> Any:
        """Run mail-parser on the already-parsed tree; None (with a defect) if it fails."""
        import mailparser  # imported with the first message that needs it (see _plain_addresses)

        try:
            return mailparser.MailParser(msg)
        except RecursionError:
            raise
        except Exception as exc:  # mail-parser is only one source; the stdlib fields remain
            _log.warning("mail-parser failed: %r", exc)
            self.defect(f"mailparser_error:{type(exc).__name__}")
            return None

    def _headers(self, items: list[tuple[str, str]], raw: bytes) -> tuple[tuple[tuple[str, str], ...], list[str]]:
        """Return every top-level header in file order, unfolded and decoded; and each value with only its raw 8-bit
        bytes decoded (what the address parser reads)."""
        for _, value in items:
            # A charset the sender's client used in a header is the best guess for an unlabelled body.
            for charset in encoded_word_charsets(value):
                if lookup(charset) not in (None, "ascii", "utf_8"):
                    self.charset_hint = charset
                    break
            if self.charset_hint is not None:
                break
        self.header_charset = self._header_charset(items, raw)
        hint = self.header_charset or self.charset_hint
        out, unescaped = [], []
        for name, value in items:
            name = clean_line(undo_surrogates(name)[0])
            text, problem = undo_surrogates(value, hint)
            self.defect(problem)
            unescaped.append(text)
            value, problems = decode_header_value(text, hint)
            for problem in problems:
                self.defect(problem)
            out.append((name, value))
        return tuple(out), unescaped

    def _header_charset(self, items: list[tuple[str, str]], raw: bytes) -> str | None:
        """The charset of the headers' raw 8-bit bytes, read from all of them at once; None when there are none.

        One client wrote them all, so their bytes together (more than any one name) decide; the charset its
        encoded words name, else the first the message declares (its body's), wins a near-tie.
        """
        eight_bit = [value for _, value in items if has_raw_bytes(value)]
        if not eight_bit:
            return None
        data = b"\n".join(value.encode("utf-8", "surrogateescape") for value in eight_bit)
        return decode_header_bytes(data, self.charset_hint or first_declared_charset(raw))[1]

    def _addresses(self, written: list[tuple[str, str]], mp: Any, header: str) -> tuple[Address, ...]:
        """Return the addresses of a header: mail-parser's, plus any it dropped that the stdlib finds.

        From is the first From header that names a mailbox (`From: [??????]` then a real one: the real one),
        else the first From header; `from_count` counts its mailboxes and every other From header naming one.
        To, Cc and Reply-To keep only mailboxes (`local@domain`).
        """
        hint = self.header_charset or self.charset_hint
        values, comments = [], []
        for _, text in written:
            value, dropped = _drop_name_comments(text)
            values.append(value)
            comments += dropped
        result: list[Address] = []
        seen: set[str] = set()

        def add(name: str, addr: str) -> bool:
            address = _normalise_address(name, addr)
            if address is None or address.email.lower() in seen:
                return False
            if header != "from" and not _is_mailbox(address.email):
                self.defect(f"address_invalid:{header}")
                return False
            seen.add(address.email.lower())
            result.append(address)
            return True

        pairs = [self._getaddresses(value, header) for value in values]
        # mail-parser renders raw 8-bit names as escapes: where there are any, the decoded values are read instead.
        if mp is not None and not any(needs_decoding(value) for value, _ in written):
            # Where comments were rewritten, mail-parser (which reads the header as written) would keep them in
            # the name: the name comes from the stdlib's reading of the rewritten header instead.
            names = {addr.lower(): name for found in pairs for name, addr in found} if comments else {}
            for name, addr in _mp_addresses(mp, header):
                name = names.get(addr.lower(), name)
                if "=?" in name:
                    name = decode_words(name, hint)[0]  # also a quoted encoded word, which mail-parser keeps as written
                add(name, addr)
        if header == "from":
            named = [i for i, found in enumerate(pairs) if any(_is_mailbox(addr) for _, addr in found)]
            chosen = 0
            if not any(_is_mailbox(address.email) for address in result):
                if named and named[0] > 0:
                    chosen = named[0]  # the first From is garbage: the first one that names a mailbox is the sender
                    result.clear()
                    seen.clear()
                pairs = pairs[chosen : chosen + 1]
            else:
                pairs = []  # mail-parser read the first From
            self._add_pairs(pairs, header, hint, add, mp is not None)
            # An earlier From that names a domain (`@evil.example`) is what a receiving server's DMARC check may
            # have read as the author: it counts, so the mail is refused (multiple_from), not taken from the later one.
            claimed = sum(1 for value in values[:chosen] if _NAMES_DOMAIN.search(value))
            self.from_count = len(result) + sum(1 for i in named if i != chosen) + claimed
            return tuple(result)
        self._add_pairs(pairs, header, hint, add, mp is not None)
        return tuple(result)

    def _add_pairs(
        self, pairs: list[list[tuple[str, str]]], header: str, hint: str | None, add: Any, recovered: bool
    ) -> None:
        """Add the stdlib's pairs, their names decoded; an addition counts as a recovery when mail-parser ran."""
        for found in pairs:
            for name, addr in found:
                name, problem = decode_words(name, hint)
                self.defect(problem)
                if add(name, addr) and recovered:
                    self.defect(f"address_recovered:{header}")

    def _getaddresses(self, value: str, header: str) -> list[tuple[str, str]]:
        """The stdlib's (name, address) pairs of one header value; none (with a defect) when it cannot read it."""
        try:
            return getaddresses([value])
        except RecursionError:
            # The stdlib recurses once per nested comment paren; a header of "((((..." exhausts the stack.
            self.defect(f"address_unparseable:{header}")
            return []

    @staticmethod
    def _msg_id(value: str | None) -> str | None:
        """Return the first <msg-id> of a header value, or the trimmed value when it has none."""
        if not value:
            return None
        found = _MSG_ID.search(value)
        return found.group(0) if found else value.split()[0]

    def _date(self, mp: Any, value: str | None) -> str | None:
        """Return the Date header as ISO 8601, or None when it cannot be read."""
        parsed = getattr(mp, "date", None) if mp is not None else None
        if parsed is None and value:
            try:
                parsed = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError, OverflowError):
                self.defect("bad_date")
        return parsed.isoformat() if parsed is not None else None


# A plain address header: printable ASCII, a comma-separated list of `local@domain` or `Name <local@domain>`, where
# Name is a quoted string or atoms without "@" or "<". No encoded word, comment, quoted pair, group or domain literal.
_NOT_PLAIN_ADDRESS = re.compile(r"[^\x20-\x7e\r\n\t]|=\?|[()\\;:\[\]]")
_ADDR_SPEC = r"[^<>@\s\",]+@[^<>@\s\",]+"
_PLAIN_ITEM = rf"(?:(?:\"[^\"]*\"[ \t]*|[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.\- \t]*)<{_ADDR_SPEC}>|{_ADDR_SPEC})"
_PLAIN_LIST = re.compile(rf"\s*{_PLAIN_ITEM}\s*(?:,\s*{_PLAIN_ITEM}\s*)*,?\s*", re.ASCII)


def _plain_addresses(msg: Message) -> bool:
    """True when From, To, Cc and Reply-To are each absent or one plain header whose every item the stdlib reads
    as one local@domain address: then mail-parser and the stdlib give the same pairs, and mail-parser is not needed.
    """
    for header in ("from", "to", "cc", "reply-to"):
        values = msg.get_all(header) or []
        if not values:
            continue
        value = str(values[0])
        if len(values) > 1 or _NOT_PLAIN_ADDRESS.search(value) or not _PLAIN_LIST.fullmatch(value):
            return False
        pairs = getaddresses([value])
        if value.count("@") != len(pairs):
            return False
        for _, addr in pairs:
            local, _, domain = addr.partition("@")
            if not local or not domain or "@" in domain:
                return False
    return True


def _plain_date(msg: Message) -> tuple[str | None] | None:
    """The Date as mail-parser gives it (ISO 8601 in UTC) when the stdlib reads it with its zone, or None."""
    value = msg.get("date")
    if value is None:
        return (None,)
    value = str(value)
    if not value.isascii():
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        return None
    return (parsed.astimezone(UTC).isoformat(),)


def _mp_addresses(mp: Any, header: str) -> list[tuple[str, str]]:
    """Return mail-parser's (name, address) pairs for an address header."""
    return {"from": mp.from_, "to": mp.to, "cc": mp.cc, "reply-to": mp.reply_to}[header] or []


def _reply_text(parsed: ParsedEmail, delimiter: bool) -> str:
    """Return the new text of the message via the reply extractor."""
    return extract_from_message(parsed.text, parsed.html, delimiter=delimiter)


def _token(parsed: ParsedEmail) -> str | None:
    """A reply token in the recipients' display names or plus-addresses, or in In-Reply-To/References."""
    for address in parsed.recipients:
        plus_tag = address.email.partition("@")[0].partition("+")[2]
        found = find_token(address.name) or find_token(plus_tag)
        if found:
            return found
    for reference in [parsed.in_reply_to or "", *parsed.references]:
        if found := find_token(reference):
            return found
    return None


def parse_report(raw: bytes, *, delimiter: bool = True) -> dict[str, Any]:
    """Return the JSON-ready report printed by `emailpipe parse`; never raises."""
    try:
        parsed = parse_email(raw)
        text = _reply_text(parsed, delimiter)
        status, reason = parsed.status, parsed.reason
        if status == "accepted" and not text and not parsed.attachments:
            status, reason = "rejected", "no_content"
        report = {
            "status": status,
            "reason": reason,
            "sender": parsed.sender.email if parsed.sender else None,
            "sender_name": parsed.sender.name if parsed.sender else None,
            "recipients": [address.email for address in parsed.recipients],
            "subject": parsed.subject,
            "message_id": parsed.message_id,
            "in_reply_to": parsed.in_reply_to,
            "token": _token(parsed),
            "text": text,
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                    "inline": a.inline,  # signature decoration: kept, not listed on the stored message
                }
                for a in parsed.attachments
            ],
            "defects": list(parsed.defects),
        }
        if reason == "unparseable":
            # parse_email caught it; name the exception here as the boundary below does.
            report["error"] = next((d.split(":", 1)[1] for d in parsed.defects if d.startswith("exception:")), None)
        return report
    except Exception as exc:
        _log.exception("parse_report failed")
        return {
            "status": "rejected",
            "reason": "unparseable",
            "error": type(exc).__name__,
            "sender": None,
            "sender_name": None,
            "recipients": [],
            "subject": "",
            "message_id": None,
            "in_reply_to": None,
            "token": None,
            "text": "",
            "attachments": [],
            "defects": [f"exception:{type(exc).__name__}"],
        }


parse_report_for_tool = parse_report
