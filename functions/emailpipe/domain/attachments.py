"""Active attachments: files a browser or a mail client would run or render as a page, and how we hand them out.

Every attachment link forces a download (`Content-Disposition: attachment`); an active file is also served as
`application/octet-stream`, so even a browser that ignored the disposition would not render it. A file's types
are its name's extension, the extension of its declared content type, and `html` when its first bytes are markup
although it claims to be something else (a `.pdf` without the `%PDF-` magic holding `<html`). The setting
`never_attach_types` lists the types that are linked only, never attached to a notification.
"""

from __future__ import annotations

from urllib.parse import quote

NEUTRAL_CONTENT_TYPE = "application/octet-stream"
DEFAULT_NEVER_ATTACH = "html,htm,svg,js,mjs,exe,bat,cmd,com,scr,ps1,vbs,jar,msi,sh,app,dll,hta"
SNIFF_BYTES = 1024

# Types a browser renders or runs from our origin, or an OS runs on a double click: always served neutral.
ACTIVE_TYPES = frozenset(
    {*DEFAULT_NEVER_ATTACH.split(","), "xhtml", "xht", "shtml", "xml", "xsl", "xslt", "mht", "mhtml", "swf", "wsf"}
)
_TYPE_OF_CONTENT = {
    "text/html": "html",
    "application/xhtml+xml": "xhtml",
    "image/svg+xml": "svg",
    "text/xml": "xml",
    "application/xml": "xml",
    "text/javascript": "js",
    "application/javascript": "js",
    "application/x-javascript": "js",
    "application/ecmascript": "js",
    "application/hta": "hta",
    "application/x-msdownload": "exe",
    "application/x-msdos-program": "exe",
    "application/vnd.microsoft.portable-executable": "exe",
    "application/x-sh": "sh",
    "application/x-shellscript": "sh",
    "application/java-archive": "jar",
    "application/x-ms-installer": "msi",
    "application/x-msi": "msi",
    "message/rfc822": "eml",
    "application/pdf": "pdf",
    "application/x-shockwave-flash": "swf",
    "multipart/related": "mhtml",
}
_MARKUP = (b"<html", b"<svg", b"<script", b"<!doctype html", b"<body", b"<iframe", b"<?xml")
_MAGIC = {"pdf": b"%PDF-"}


def parse_types(setting: str) -> frozenset[str]:
    """The extensions in a comma-separated setting (`none` or empty for none), lower-case, without dots."""
    items = (item.strip().lower().lstrip(".") for item in setting.replace(";", ",").split(","))
    return frozenset(item for item in items if item and item != "none")


def _extension(filename: str) -> str:
    stem, dot, ext = filename.strip().rstrip(". ").rpartition(".")
    return ext.lower() if dot and stem else ""


def disguised_markup(filename: str, content_type: str, head: bytes) -> bool:
    """True when a file claiming a type with a known magic number (a PDF) lacks it and starts with markup instead."""
    claimed = {_extension(filename), _TYPE_OF_CONTENT.get(content_type.lower().partition(";")[0].strip(), "")}
    for kind, magic in _MAGIC.items():
        # Readers accept the magic anywhere in the first kilobyte, so only its absence there is a disguise.
        if kind in claimed and magic not in head[:SNIFF_BYTES]:
            lowered = head[:SNIFF_BYTES].lower()
            return any(marker in lowered for marker in _MARKUP)
    return False


def types_of(filename: str, content_type: str, head: bytes = b"") -> frozenset[str]:
    """Every type a file could be taken for: its extension, its content type's, `html` when it is disguised markup."""
    found = {_extension(filename), _TYPE_OF_CONTENT.get(content_type.lower().partition(";")[0].strip(), "")}
    if head and disguised_markup(filename, content_type, head):
        found.add("html")
    return frozenset(found - {""})


def is_active(filename: str, content_type: str, head: bytes = b"") -> bool:
    """True when the file must be served as a neutral download (a page, a script, a program, disguised markup)."""
    return bool(types_of(filename, content_type, head) & ACTIVE_TYPES)


def may_attach(filename: str, content_type: str, head: bytes, never_attach: frozenset[str]) -> bool:
    """False when a notification must only link the file: one of its types is listed, or it is disguised markup."""
    types = types_of(filename, content_type, head)
    return not (types & never_attach) and not disguised_markup(filename, content_type, head)


def download_disposition(filename: str) -> str:
    """A `Content-Disposition: attachment` value carrying the name in RFC 5987 form (any language, no injection)."""
    cleaned = "".join(ch for ch in filename if ch.isprintable() and ch not in '"\\') or "attachment"
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 else "_" for ch in cleaned)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(cleaned, safe='')}"


# --- signature decoration ---------------------------------------------------------------------------------------
# A logo, a social-network icon or a banner in an email signature is a small image the HTML body shows through a
# `cid:` link. It is part of how the body looks, not a file the sender attached: the parser keeps it and marks it
# inline, and the message does not list it. A screenshot or a photo pasted into the body is referenced the same
# way but is what the sender wants seen; the product shows bodies as text, so it stays listed. What tells them
# apart is size: decoration is small in bytes and in pixels.
DECORATION_MAX_BYTES = 20 * 1024
DECORATION_MAX_WIDTH = 800
DECORATION_MAX_HEIGHT = 200


def image_size(data: bytes) -> tuple[int, int] | None:
    """The (width, height) in pixels of a PNG, GIF or JPEG from its first bytes, or None when not readable."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:2] == b"\xff\xd8":
        offset = 2
        while offset + 9 <= len(data) and data[offset] == 0xFF:
            marker = data[offset + 1]
            length = int.from_bytes(data[offset + 2 : offset + 4], "big")
            # Start-of-frame markers (baseline, progressive, ...) carry the size; DHT, JPG and DAC do not.
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[offset + 7 : offset + 9], "big"), int.from_bytes(
                    data[offset + 5 : offset + 7], "big"
                )
            offset += 2 + length
    return None


def is_decoration(content_type: str, size: int, head: bytes) -> bool:
    """True for an image small enough to be a signature's decoration once the HTML body shows it (see above)."""
    if not content_type.startswith("image/") or size > DECORATION_MAX_BYTES:
        return False
    pixels = image_size(head)
    return pixels is None or (pixels[0] <= DECORATION_MAX_WIDTH and pixels[1] <= DECORATION_MAX_HEIGHT)
