"""MIME parts in: the walk of a parsed message tree that collects its bodies and attachments (pure Python, no AWS).

The walk is iterative (the stdlib tree may be deep), bounded by MAX_DEPTH and MAX_PARTS, and authoritative for
bodies and attachments (see mail/parse.py for why not mail-parser's): it keeps the real bytes of attachments,
decodes text with charset-normalizer when the label is wrong, recovers multiparts with a wrong boundary, and
names untyped parts. One broken part never loses the rest of the message.
"""

from __future__ import annotations

import email
import hashlib
import logging
import mimetypes
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message

from emailpipe.domain.names import clean_name
from emailpipe.mail.mime_raw import DEPTH_LIMITED_MESSAGE, DEPTH_LIMITED_PARAM
from emailpipe.mail.mime_text import (
    CONTROL_CODES,
    clean_line,
    decode_bytes,
    decode_header_value,
    decode_words,
    html_meta_charset,
    lookup,
    undo_surrogates,
)
from emailpipe.records import Record

MAX_DEPTH = 50
MAX_PARTS = 1000
MAX_FILENAME = 200

_log = logging.getLogger(__name__)

_DEPTH_PARAM = DEPTH_LIMITED_PARAM.decode()
_GUESS_DELIMITER = re.compile(r"^--([^\s]{1,200}?)[ \t]*\r?\n(?=[A-Za-z][A-Za-z0-9-]*[ \t]*:)", re.MULTILINE)
# Removed from attachment names (a translate table: see mime_text.CONTROL_CODES).
_UNSAFE_NAME = dict.fromkeys((*CONTROL_CODES, *map(ord, '<>:"|?*')))


@dataclass(frozen=True, repr=False, eq=False)
class Attachment(Record):
    """One attachment with its decoded bytes."""

    filename: str
    content_type: str
    payload: bytes
    sha256: str
    size: int
    content_id: str | None
    inline: bool


def sanitize_filename(name: str | None, content_type: str, index: int) -> str:
    """Return a safe basename for an attachment, generated from the content type when nothing is left."""
    # Controls are removed, not replaced: a CR/LF or a bidi override inside a name has no business there.
    name = clean_name((name or "").translate(_UNSAFE_NAME), separator="")
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip(" .")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        name = stem[: MAX_FILENAME - len(ext) - 1] + dot + ext if dot and len(ext) <= 16 else name[:MAX_FILENAME]
    if name:
        return name
    if content_type == "message/rfc822":
        ext = ".eml"
    elif content_type.startswith("message/"):
        ext = ".txt"
    else:
        ext = mimetypes.guess_extension(content_type) or (".txt" if content_type.startswith("text/") else ".bin")
    return f"attachment-{index}{ext}"


class Parts:
    """The bodies and attachments of one message, collected by `walk`; recoveries go to the `defect` callback."""

    def __init__(self, defect: Callable[[str | None], None], charset_hint: str | None = None) -> None:
        self.defect = defect
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.attachments: list[Attachment] = []
        # The first charset a body part (or a header) declared correctly: the best guess for an unlabelled sibling.
        self.charset_hint = charset_hint

    def walk(self, msg: Message) -> None:
        """Collect bodies and attachments, iteratively and within the depth and part limits."""
        stack: list[tuple[Message, int, bool, str]] = [(msg, 0, False, "")]
        count = 0
        while stack:
            part, depth, in_attachment, parent_type = stack.pop()
            count += 1
            if count > MAX_PARTS:
                self.defect("too_many_parts")
                # Named in the outcome (mail/dropped.py): how many leaf parts, attachments among them, were not read.
                left = [part] + [entry[0] for entry in stack]
                self.defect(f"parts_dropped:{sum(1 for m in left for p in m.walk() if not p.is_multipart())}")
                return
            try:
                self._visit(part, depth, in_attachment, parent_type, stack)
            except (RecursionError, MemoryError):
                raise
            except Exception as exc:  # one broken part must not lose the rest of the message
                _log.warning("unreadable MIME part: %r", exc)
                self.defect(f"part_error:{type(exc).__name__}")

    def _visit(self, part: Message, depth: int, in_attachment: bool, parent_type: str, stack: list) -> None:
        """Classify one part: push its children, or keep it as body text or an attachment."""
        ctype = part.get_content_type()
        if part.get_param(_DEPTH_PARAM) is not None:
            self.defect("too_deep")
            return
        if part.is_multipart():
            if ctype.startswith("message/"):
                self._message_attachment(part, ctype)
                return
            if depth >= MAX_DEPTH:
                self.defect("too_deep")
                return
            inside = in_attachment or part.get_content_disposition() == "attachment"
            children = part.get_payload()
            stack.extend((child, depth + 1, inside, ctype) for child in reversed(children))
            return
        if ctype.startswith("multipart/"):
            recovered = self._recover_multipart(part, ctype) if depth < MAX_DEPTH else None
            if recovered is not None:
                self.defect("boundary_recovered")
                stack.append((recovered, depth + 1, in_attachment, parent_type))
                return
            # No usable boundary: the body is all we have; reading it as text beats losing it.
            self.defect("multipart_as_text")
            ctype = "text/plain"
        if ctype == DEPTH_LIMITED_MESSAGE:
            # An attached message past the nesting limit: kept whole, as the bytes it was sent as.
            payload = part.get_payload(decode=True) or b""
            self._add_attachment(part.get_filename(), "message/rfc822", payload, None, part.get_content_disposition())
            return
        self._leaf(part, ctype, in_attachment, parent_type)

    def _leaf(self, part: Message, ctype: str, in_attachment: bool, parent_type: str) -> None:
        """Keep a non-multipart part as text/html body or as an attachment."""
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if filename:
            filename = decode_words(undo_surrogates(filename)[0])[0]
        if ctype in ("text/plain", "text/html") and not in_attachment and disposition != "attachment" and not filename:
            data = part.get_payload(decode=True) or b""
            charset = part.get_content_charset()
            if charset is None and ctype == "text/html":
                charset = html_meta_charset(data)
            text, problem = decode_bytes(data, charset, self.charset_hint)
            self.defect(problem)
            if charset and not problem and lookup(charset) not in (None, "ascii", "utf_8"):
                self.charset_hint = self.charset_hint or charset
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            (self.texts if ctype == "text/plain" else self.htmls).append(text)
            return
        content_id = clean_line(undo_surrogates(str(part.get("Content-ID", "")))[0]).strip("<>") or None
        if ctype.startswith("text/") and parent_type == "multipart/alternative" and not filename:
            # Another rendering of the body (text/enriched, text/watch-html): not a file the sender attached.
            return
        payload = part.get_payload(decode=True) or b""
        if not filename and not content_id:
            if not payload.strip():
                return
            if disposition != "attachment":
                # mail-parser leaves these in text_not_managed; they are files the sender sent all the same.
                self.defect("untyped_part_recovered")
        self._add_attachment(filename or content_id, ctype, payload, content_id, disposition)

    def _message_attachment(self, part: Message, ctype: str) -> None:
        """Keep an attached message (message/rfc822, delivery-status) as one attachment of its bytes."""
        pieces = []
        for sub in part.get_payload():
            try:
                pieces.append(sub.as_bytes())
            except Exception:  # the generator rejects some malformed trees; the text form survives
                pieces.append(sub.as_string().encode("utf-8", "surrogateescape"))
        payload = b"\n".join(pieces)
        filename = part.get_filename()
        if not filename and ctype == "message/rfc822" and pieces:
            subject = decode_header_value(str(part.get_payload(0).get("Subject", "")))[0]
            filename = f"{subject[:100]}.eml" if subject else None
        self._add_attachment(filename, ctype, payload, None, part.get_content_disposition())

    def _add_attachment(
        self, filename: str | None, ctype: str, payload: bytes, content_id: str | None, disposition: str | None
    ) -> None:
        """Append an Attachment with a sanitised name and the hash of its bytes."""
        index = len(self.attachments) + 1
        safe = sanitize_filename(filename, ctype, index)
        if filename and safe != clean_line(filename):
            self.defect("filename_sanitised")
        self.attachments.append(
            Attachment(
                filename=safe,
                content_type=ctype,
                payload=payload,
                sha256=hashlib.sha256(payload).hexdigest(),
                size=len(payload),
                content_id=content_id,
                inline=disposition == "inline" or (disposition is None and content_id is not None),
            )
        )

    @staticmethod
    def _recover_multipart(part: Message, ctype: str) -> Message | None:
        """Re-parse a multipart whose boundary was missing or wrong, guessing it from its delimiter lines."""
        body = part.get_payload()
        if not isinstance(body, str) or "\n--" not in "\n" + body:
            return None
        counts = Counter(_GUESS_DELIMITER.findall(body))
        declared = part.get_boundary()
        # The parser keeps undecodable bytes as surrogate escapes; this turns them back into the original bytes.
        data = body.encode("utf-8", "surrogateescape")
        for boundary, _ in counts.most_common(3):
            if boundary == declared or '"' in boundary:
                continue
            head = f'Content-Type: {ctype}; boundary="{boundary}"\r\n\r\n'.encode("ascii", "surrogateescape")
            rebuilt = email.message_from_bytes(head + data)
            if rebuilt.is_multipart() and rebuilt.get_payload():
                return rebuilt
        return None
