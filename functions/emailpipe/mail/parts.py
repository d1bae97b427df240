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
from dataclasses import dataclass, replace
from email.message import Message
from urllib.parse import unquote

from emailpipe.domain.attachments import is_decoration
from emailpipe.domain.names import clean_name
from emailpipe.domain.reply_patterns import lazy
from emailpipe.mail.mime_raw import DEPTH_LIMITED_MESSAGE, DEPTH_LIMITED_PARAM
from emailpipe.mail.mime_text import (
    CONTROL_CODES,
    clean_line,
    decode_bytes,
    decode_header_value,
    html_meta_charset,
    lookup,
    part_filename,
    raw_header,
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
# A `cid:` link of an HTML body (RFC 2392: the Content-ID, URL-encoded, without its angle brackets).
_CID_LINK = re.compile(r"""cid:([^\s"'<>()]+)""", re.IGNORECASE)
# A file name with an extension that has a letter (`123.4` is no name), as Outlook makes Content-IDs of:
# `image001.png@01D9C2A4.5E4F0A10`.
_FILE_NAME = lazy(lambda: r"[^/\\@\r\n\t]*[^/\\@\s]\.(?=[0-9]*[A-Za-z])[A-Za-z0-9]{1,5}", 0)
# TNEF parts (Outlook and Exchange's winmail.dat): by type, by name, or an untyped file starting with the signature.
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_TNEF_NAMES = frozenset({"winmail.dat", "win.dat"})
_TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"


@dataclass(frozen=True, repr=False, eq=False)
class Attachment(Record):
    """One attachment with its decoded bytes."""

    filename: str
    content_type: str
    payload: bytes
    sha256: str
    size: int
    content_id: str | None
    # Part of how the HTML body looks (a signature's logo or icon, shown through a `cid:` link), not a file the
    # sender attached: kept, and not listed as one of the message's attachments (see domain.attachments).
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
        # Bodies found inside TNEF parts: the message's body only when it has no other.
        self._tnef_texts: list[str] = []
        self._tnef_htmls: list[str] = []
        # Indexes of kept winmail.dat files whose only content is an RTF body: dropped when another body exists.
        self._rtf_only_tnef: list[int] = []

    def walk(self, msg: Message) -> None:
        """Collect bodies and attachments, then settle the TNEF bodies and which images only decorate the body."""
        self._walk(msg)
        self._finish()

    def _walk(self, msg: Message) -> None:
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

    def _visit(
        self,
        part: Message,
        depth: int,
        in_attachment: bool,
        parent_type: str,
        stack: list[tuple[Message, int, bool, str]],
    ) -> None:
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
            children = _subparts(part)
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
            payload = _payload_bytes(part)
            filename = part_filename(part, self.charset_hint)
            self._add_attachment(filename, "message/rfc822", payload, None)
            return
        self._leaf(part, ctype, in_attachment, parent_type)

    def _leaf(self, part: Message, ctype: str, in_attachment: bool, parent_type: str) -> None:
        """Keep a non-multipart part as text/html body or as an attachment."""
        disposition = part.get_content_disposition()
        # RFC 2231 and 2047 names, and raw 8-bit ones (which get_filename() turns into U+FFFD), decoded.
        filename = part_filename(part, self.charset_hint)
        if ctype in ("text/plain", "text/html") and not in_attachment and disposition != "attachment" and not filename:
            data = _payload_bytes(part)
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
        payload = _payload_bytes(part)
        if not filename and not content_id:
            if not payload.strip():
                return
            if disposition != "attachment":
                # mail-parser leaves these in text_not_managed; they are files the sender sent all the same.
                self.defect("untyped_part_recovered")
        if _is_tnef(ctype, filename, payload) and self._unpack_tnef(payload):
            return
        # No file name: Outlook's inline images have a Content-ID made of one (image001.png@01D9...), MHTML-style
        # parts a Content-Location; either beats the bare Content-ID or a generated name.
        name = filename or _file_name(content_id) or _location_name(part) or content_id
        self._add_attachment(name, ctype, payload, content_id)

    def _message_attachment(self, part: Message, ctype: str) -> None:
        """Keep an attached message (message/rfc822, delivery-status) as one attachment of its bytes."""
        pieces = []
        for sub in _subparts(part):
            try:
                pieces.append(sub.as_bytes())
            except Exception:  # the generator rejects some malformed trees; the text form survives
                pieces.append(sub.as_string().encode("utf-8", "surrogateescape"))
        payload = b"\n".join(pieces)
        filename = part_filename(part, self.charset_hint)
        if not filename and ctype == "message/rfc822" and pieces:
            inner = _subparts(part)[0]
            # raw_header keeps raw 8-bit bytes (get() makes them U+FFFD), read with the attached email's charset.
            hint = next((charset for charset in inner.get_charsets() if charset), None) or self.charset_hint
            subject = decode_header_value(raw_header(inner, "subject") or "", hint)[0]
            filename = f"{subject[:100]}.eml" if subject else None
        self._add_attachment(filename, ctype, payload, None)

    def _add_attachment(self, filename: str | None, ctype: str, payload: bytes, content_id: str | None) -> None:
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
                inline=False,  # settled once the HTML bodies are known (_finish)
            )
        )

    def _unpack_tnef(self, payload: bytes) -> bool:
        """Add the files of a winmail.dat in its place and keep its body aside; False to keep it whole instead."""
        from emailpipe.mail import tnef  # noqa: PLC0415 - lazy: tnefparse is imported only for a TNEF part

        try:
            content = tnef.unpack(payload)
        except tnef.TnefError:
            self.defect("tnef_unreadable")
            return False
        if not content.files and content.text is None and content.html is None:
            if content.damaged or not content.rtf_only:
                self.defect("tnef_unreadable" if content.damaged else "tnef_empty")
                return False
            # An RTF body, which is not converted: a rendering of the message's own body, if it has one.
            self._rtf_only_tnef.append(len(self.attachments))
            return False
        for file in content.files:
            self._add_attachment(
                file.filename or _file_name(file.content_id) or file.content_id,
                file.content_type,
                file.payload,
                file.content_id,
            )
        if content.text is not None:
            self._tnef_texts.append(content.text)
        if content.html is not None:
            self._tnef_htmls.append(content.html)
        if content.damaged:
            # Cut short (a truncated message): what could be read is added, and the winmail.dat is kept too.
            self.defect("tnef_damaged")
            return False
        self.defect("tnef_unpacked")
        return True

    def _finish(self) -> None:
        """Use a TNEF body when the message has no other, and mark the images that only decorate the HTML body."""
        has_body = any(text.strip() for text in self.texts) or any(html.strip() for html in self.htmls)
        if not has_body and (self._tnef_texts or self._tnef_htmls):
            self.texts.extend(self._tnef_texts)
            self.htmls.extend(self._tnef_htmls)
            self.defect("tnef_body")
            has_body = True
        if has_body and self._rtf_only_tnef:
            dropped = set(self._rtf_only_tnef)
            self.attachments = [a for i, a in enumerate(self.attachments) if i not in dropped]
            self.defect("tnef_rtf_body_dropped")
        elif self._rtf_only_tnef:
            self.defect("tnef_rtf_body")
        linked = {unquote(cid).lower() for html in self.htmls for cid in _CID_LINK.findall(html)}
        if not linked:
            return
        for index, attachment in enumerate(self.attachments):
            cid = attachment.content_id
            if (
                cid
                and cid.lower() in linked
                and is_decoration(attachment.content_type, attachment.size, attachment.payload)
            ):
                self.attachments[index] = replace(attachment, inline=True)

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


def _payload_bytes(part: Message) -> bytes:
    """A leaf part's decoded body (empty when it has none)."""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _subparts(part: Message) -> list[Message]:
    """The parts inside a multipart or an attached message."""
    payload = part.get_payload()
    return [sub for sub in payload if isinstance(sub, Message)] if isinstance(payload, list) else []


def _is_tnef(content_type: str, filename: str | None, payload: bytes) -> bool:
    """True when a part is a TNEF stream: its type or name says so, or an untyped file starts with the signature."""
    if content_type in _TNEF_TYPES or (filename or "").strip().lower() in _TNEF_NAMES:
        return True
    return content_type == "application/octet-stream" and payload[:4] == _TNEF_SIGNATURE


def _file_name(content_id: str | None) -> str | None:
    """The file name a Content-ID is made of (`image001.png@01D9C2A4.5E4F0A10` -> `image001.png`), or None."""
    if not content_id:
        return None
    local = content_id.partition("@")[0]
    return local if _FILE_NAME.fullmatch(local) else None


def _location_name(part: Message) -> str | None:
    """The last path segment of a part's Content-Location when it is a file name, or None."""
    location = part.get("Content-Location")
    if not location:
        return None
    segment = unquote(str(location).strip().split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])
    return segment if _FILE_NAME.fullmatch(segment) else None
