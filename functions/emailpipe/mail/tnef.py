"""TNEF in: the files and body inside a `winmail.dat` (application/ms-tnef) from Outlook or Exchange (pure Python).

Outlook and Exchange wrap a message's attachments, and often a copy of its body, in one TNEF stream (MS-OXTNEF)
that other mail clients show as an unusable `winmail.dat`. `unpack` returns what a person would see in Outlook:
each attached file with its name, type and Content-ID, files of attached Outlook items (embedded messages) too,
and the body as plain text or HTML where the stream carries one (an RTF-only body is reported, not converted).

The MAPI property decoder is tnefparse's (`tnefparse.mapi.decode_mapi`: property types, named properties,
multi-values, code pages), imported on the first TNEF part only: 20-25 ms of import on top of the parser's
own modules, not paid by mail without one. The attribute stream around it (MS-OXTNEF 2.1.3: level, id, length,
data, checksum) is read here rather than by `tnefparse.TNEF`, which copies the rest of the stream once per
attribute (quadratic: a 40 MB stream of small attributes never ends), parses attached Outlook items with no
depth bound, strips trailing NUL bytes off attachment data read from MAPI properties, and decodes 8-bit
attachment titles as UTF-8. Anything unreadable raises TnefError, and the caller keeps the winmail.dat whole.
"""

from __future__ import annotations

import codecs
import logging
import mimetypes
import struct
from typing import Any

from emailpipe.mail.mime_text import decode_bytes

SIGNATURE = b"\x78\x9f\x3e\x22"  # 0x223E9F78, little-endian (mail/parts.py tells TNEF parts by it, name and type)
MAX_DEPTH = 4  # attached Outlook items inside attached Outlook items
MAX_FILES = 500

# MS-OXTNEF attribute ids (the low word of attrId) and levels.
_LVL_MESSAGE = 1
_LVL_ATTACHMENT = 2
_ATT_BODY = 0x800C  # attBody: the plain body, in the OEM code page
_ATT_ATTACH_DATA = 0x800F  # attAttachData: the file's bytes
_ATT_ATTACH_TITLE = 0x8010  # attAttachTitle: the 8.3 file name, NUL-terminated, OEM code page
_ATT_ATTACH_REND_DATA = 0x9002  # attAttachRendData: starts each attachment
_ATT_MSG_PROPS = 0x9003  # attMsgProps: the message's MAPI properties
_ATT_ATTACHMENT = 0x9005  # attAttachment: the attachment's MAPI properties
_ATT_OEM_CODEPAGE = 0x9007  # attOemCodepage
# MAPI property ids (MS-OXPROPS).
_PR_BODY = 0x1000
_PR_RTF_COMPRESSED = 0x1009
_PR_BODY_HTML = 0x1013
_PR_DISPLAY_NAME = 0x3001
_PR_ATTACH_DATA = 0x3701  # PidTagAttachDataBinary / PidTagAttachDataObject
_PR_ATTACH_FILENAME = 0x3704
_PR_ATTACH_METHOD = 0x3705
_PR_ATTACH_LONG_FILENAME = 0x3707
_PR_ATTACH_MIME_TAG = 0x370E
_PR_ATTACH_CONTENT_ID = 0x3712
_PR_INTERNET_CPID = 0x3FDE
_PT_UNICODE = 0x001F
_PT_STRING8 = 0x001E
_ATTACH_EMBEDDED_MSG = 5
_IMESSAGE_SIG = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
# Windows code page numbers Python does not know as cpNNNN.
_CODEPAGES = {
    20127: "ascii",
    20866: "koi8_r",
    21866: "koi8_u",
    50220: "iso2022_jp",
    50221: "iso2022_jp_ext",
    50222: "iso2022_jp",
    51932: "euc_jp",
    51949: "euc_kr",
    52936: "hz",
    54936: "gb18030",
    65000: "utf_7",
    65001: "utf_8",
    **{28590 + n: f"iso8859_{n}" for n in range(1, 17) if n != 12},
}


class TnefError(ValueError):
    """The stream is not TNEF or cannot be read."""


class TnefFile:
    """One file of a TNEF stream."""

    __slots__ = ("content_id", "content_type", "filename", "payload")

    def __init__(self, filename: str, content_type: str, payload: bytes, content_id: str | None) -> None:
        self.filename = filename
        self.content_type = content_type
        self.payload = payload
        self.content_id = content_id


class TnefContent:
    """What a TNEF stream holds: its files, its body (plain and/or HTML) and whether that body is RTF only."""

    __slots__ = ("damaged", "files", "html", "rtf_only", "text")

    def __init__(self) -> None:
        self.files: list[TnefFile] = []
        self.text: str | None = None
        self.html: str | None = None
        self.rtf_only = False
        # The stream ended inside an attribute (a truncated or damaged winmail.dat): what came before it was read.
        self.damaged = False


def codec(codepage: int | None, default: str = "cp1252") -> str:
    """The Python codec of a Windows code page number, `default` when unknown."""
    if not codepage:
        return default
    name = _CODEPAGES.get(codepage, f"cp{codepage}")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return default


def unpack(data: bytes) -> TnefContent:
    """Read the files and body of a TNEF stream; raise TnefError when it is not one or cannot be read."""
    content = TnefContent()
    try:
        _read(bytes(data), content, 0)
    except TnefError:
        raise
    except (RecursionError, MemoryError):
        raise TnefError("too deep or too large") from None
    except Exception as exc:  # tnefparse's decoder or a malformed attribute: the stream is kept whole instead
        raise TnefError(f"unreadable TNEF ({type(exc).__name__})") from None
    return content


def _read(data: bytes, content: TnefContent, depth: int) -> None:
    """Walk the attributes of one stream (MS-OXTNEF 2.1.3.1), adding its files and body to `content`."""
    from tnefparse.mapi import decode_mapi  # noqa: PLC0415 - lazy: only mail with a TNEF part pays its import

    # Its decoder logs what it skips, with bytes of the message; the caller records a defect instead.
    logging.getLogger("tnefparse").setLevel(logging.CRITICAL)

    if data[:4] != SIGNATURE:
        raise TnefError("no TNEF signature")
    oem = "cp1252"
    files: list[dict[str | int, Any]] = []
    current: dict[str | int, Any] | None = None
    body: bytes | str | None = None
    html: bytes | str | None = None
    rtf = False
    cpid: int | None = None
    offset, end = 6, len(data)
    while offset + 11 <= end:
        level = data[offset]
        attr, length = struct.unpack_from("<HxxI", data, offset + 1)
        start = offset + 9
        if start + length > end:
            content.damaged = True
            break
        value = data[start : start + length]
        offset = start + length + 2  # the checksum, which Exchange does not always get right, is not checked
        if attr == _ATT_ATTACH_REND_DATA or (level == _LVL_ATTACHMENT and current is None):
            current = {}
            files.append(current)
            if len(files) > MAX_FILES:
                raise TnefError("too many TNEF attachments")
        if level == _LVL_ATTACHMENT and current is not None:  # (never None here: set just above)
            if attr == _ATT_ATTACH_DATA:
                current["data"] = value
            elif attr == _ATT_ATTACH_TITLE:
                current["title"] = value.split(b"\0", 1)[0].decode(oem, "replace")
            elif attr == _ATT_ATTACHMENT:
                exact = _checked(value)
                for prop in decode_mapi(value, oem):
                    current.setdefault(prop.name, prop)
                if _PR_ATTACH_DATA in exact:
                    current.setdefault("exact", exact[_PR_ATTACH_DATA])
        elif level == _LVL_MESSAGE:
            if attr == _ATT_OEM_CODEPAGE and length >= 4:
                oem = codec(struct.unpack_from("<I", value)[0])
            elif attr == _ATT_BODY:
                body = value.split(b"\0", 1)[0]
            elif attr == _ATT_MSG_PROPS:
                exact = _checked(value)
                for prop in decode_mapi(value, oem):
                    if prop.name == _PR_BODY:
                        body = prop.data
                    elif prop.name == _PR_BODY_HTML:
                        html = prop.data if isinstance(prop.data, str) else exact.get(_PR_BODY_HTML, b"").rstrip(b"\0")
                    elif prop.name == _PR_RTF_COMPRESSED:
                        rtf = True
                    elif prop.name == _PR_INTERNET_CPID and isinstance(prop.data, int):
                        cpid = prop.data
    if data[offset:].strip(b"\r\n\t \0"):
        content.damaged = True  # cut inside an attribute's header; a line break or padding after the stream is fine
    for entry in files:
        _add_file(entry, content, depth, oem)
    content.text = _text(body, codec(cpid, oem))
    content.html = _text(html, codec(cpid, oem))
    content.rtf_only = rtf and content.text is None and content.html is None


_FIXED_SIZES = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8, 0x0014: 8}
_FIXED_SIZES |= {0x0040: 8, 0x0048: 16}
_VARIABLE = frozenset({0x0000, 0x000D, 0x001E, 0x001F, 0x0102})


def _checked(data: bytes) -> dict[int, bytes]:
    """Check that every count of a property list fits in its bytes (MS-OXTNEF 2.1.3.4), else raise TnefError;
    return the exact bytes of its single-valued binary and object properties by property id.

    decode_mapi trusts the counts: a property count or a multi-value count of 4 billion in a few bytes makes it
    loop (and allocate) 4 billion times. The layout is walked here first, as decode_mapi reads it. decode_mapi
    also returns values with their padding to 4 bytes, the length they had being lost: a file's last bytes.
    """
    end = len(data)
    exact: dict[int, bytes] = {}

    def u32(at: int) -> int:
        if at + 4 > end:
            raise TnefError("truncated MAPI property list")
        value: int = struct.unpack_from("<I", data, at)[0]
        return value

    def fits(count: int, at: int, each: int) -> None:
        if count * each > end - at:
            raise TnefError("MAPI count larger than its data")

    count = u32(0)
    offset = 4
    fits(count, offset, 8)
    for _ in range(count):
        if offset + 4 > end:
            raise TnefError("truncated MAPI property list")
        ptype, pid = struct.unpack_from("<HH", data, offset)
        offset += 4
        if pid >= 0x8000:  # a named property: GUID, kind, then an id or a name
            kind = u32(offset + 16)
            offset += 20
            if kind == 0:
                offset += 4
            else:
                length = u32(offset)
                fits(length, offset + 4, 1)
                offset += 4 + length + (-length % 4)
        multi = 0
        if ptype & 0x1000:
            ptype ^= 0x1000
            multi = u32(offset)
            offset += 4
            fits(multi, offset, 2)
        values = multi or 1  # as decode_mapi reads them: a multi-value of count 0 is read as one value
        if ptype in _FIXED_SIZES:
            offset += values * _FIXED_SIZES[ptype] + (2 if _FIXED_SIZES[ptype] == 2 and values % 2 else 0)
        elif ptype in _VARIABLE:
            for _ in range(values):
                items = 1
                if not multi:
                    items = u32(offset)
                    offset += 4
                    fits(items, offset, 4)
                for _ in range(items):
                    length = u32(offset)
                    fits(length, offset + 4, 1)
                    if not multi and items == 1 and ptype in (0x0102, 0x000D) and pid < 0x8000:
                        exact.setdefault(pid, data[offset + 4 : offset + 4 + length])
                    offset += 4 + length + (-length % 4)
        else:
            return exact  # an unknown type: decode_mapi stops there too
        if offset > end + 3:  # the last value's padding may be missing
            raise TnefError("truncated MAPI property list")
    return exact


def _add_file(entry: dict[str | int, Any], content: TnefContent, depth: int, oem: str) -> None:
    """Add one attachment of a stream: a file, or the files and body of an attached Outlook item."""
    name = _prop_text(entry, _PR_ATTACH_LONG_FILENAME) or _prop_text(entry, _PR_ATTACH_FILENAME)
    name = name or entry.get("title") or _prop_text(entry, _PR_DISPLAY_NAME)
    data = entry.get("data")
    prop = entry.get(_PR_ATTACH_DATA)
    method = entry.get(_PR_ATTACH_METHOD)
    if prop is not None and (data is None or (method is not None and method.data == _ATTACH_EMBEDDED_MSG)):
        data = entry.get("exact", b"".join(prop.raw_data))
    if data is None:
        return
    if data.startswith(_IMESSAGE_SIG) or (method is not None and method.data == _ATTACH_EMBEDDED_MSG):
        inner = data[len(_IMESSAGE_SIG) :] if data.startswith(_IMESSAGE_SIG) else data
        if depth + 1 >= MAX_DEPTH:
            raise TnefError("attached Outlook items nested too deep")
        item = TnefContent()
        _read(inner, item, depth + 1)
        content.files.extend(item.files)
        content.damaged = content.damaged or item.damaged
        title = (name or "attached item").strip()
        if item.html:
            content.files.append(TnefFile(f"{title}.html", "text/html", item.html.encode("utf-8"), None))
        elif item.text:
            content.files.append(TnefFile(f"{title}.txt", "text/plain", item.text.encode("utf-8"), None))
        elif not item.files:
            # An item with neither body nor files (a contact, a distribution list): kept as the TNEF it is.
            content.files.append(TnefFile(f"{title}.dat", "application/ms-tnef", inner, None))
        return
    mime = _prop_text(entry, _PR_ATTACH_MIME_TAG).lower().partition(";")[0].strip()
    if "/" not in mime:
        mime = (mimetypes.guess_type(name or "")[0] if name else None) or "application/octet-stream"
    cid = _prop_text(entry, _PR_ATTACH_CONTENT_ID).strip().strip("<>") or None
    content.files.append(TnefFile(name, mime, data, cid))
    if len(content.files) > MAX_FILES:
        raise TnefError("too many TNEF attachments")


def _prop_text(entry: dict[str | int, Any], prop_id: int) -> str:
    """A string MAPI property of an attachment, '' when absent or not a string."""
    prop = entry.get(prop_id)
    if prop is None or prop.attr_type not in (_PT_UNICODE, _PT_STRING8):
        return ""
    value = prop.data
    return value.strip("\0 ") if isinstance(value, str) else ""


def _text(value: bytes | str | None, charset: str) -> str | None:
    """A body property as text: decoded with the stream's code page (detection when it does not fit)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = decode_bytes(value, charset)[0]
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip("\0")
    return value if value.strip() else None
