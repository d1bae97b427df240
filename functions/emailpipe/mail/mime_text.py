"""Best-effort decoding of MIME text: body charsets, 8-bit and RFC 2047 header values, control characters."""

from __future__ import annotations

import codecs
import re
from email.header import decode_header

# Detection is statistical and costs time per byte: a sample this large is plenty to name the charset.
_DETECT_SAMPLE = 64 * 1024

# Labels that decode any byte string without error, so a strict decode cannot reveal a mislabel.
_SINGLE_BYTE_LATIN = frozenset({"ascii", "iso8859_1", "iso8859_15", "cp1252"})

# charset-normalizer and codecs speak Python codec names; defects use the IANA names people know.
_IANA = {
    "cp1250": "windows-1250",
    "cp1251": "windows-1251",
    "cp1252": "windows-1252",
    "cp1253": "windows-1253",
    "cp1254": "windows-1254",
    "cp1255": "windows-1255",
    "cp1256": "windows-1256",
    "cp1257": "windows-1257",
    "cp1258": "windows-1258",
    "latin_1": "iso-8859-1",
    "iso8859_1": "iso-8859-1",
    "utf_8": "utf-8",
    "ascii": "us-ascii",
}

_FOLD = re.compile(r"\r\n(?=[ \t])|\n(?=[ \t])|\r(?=[ \t])")
# C0 controls (CR and LF included), DEL, C1 controls, and the bidi/format characters used to disguise text.
# A str.translate table rather than a regex character class: compiling a class this scattered costs a third of
# a millisecond at import.
CONTROL_CODES = (*range(0x20), *range(0x7F, 0xA0), 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_CONTROL_TO_SPACE = dict.fromkeys(CONTROL_CODES, " ")
_SURROGATE = re.compile("[\udc80-\udcff]")
_SPACES = re.compile(r"[ \t]{2,}")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_META_WINDOW = 4096
# Two detections whose "chaos" (share of odd characters) differ by less than this are a tie.
_TIE = 0.1
# Undecodable sequences, per 8-bit byte, that a body in its declared charset may have before the label is doubted.
_DAMAGE_RATIO = 0.02
_WORD_CHARSET = re.compile(r"=\?([^?*\s]+)(?:\*[^?]*)?\?[bBqQ]\?")
_LABEL = re.compile(r"[^A-Za-z0-9_.:-]")


def iana_name(codec_name: str) -> str:
    """Return the IANA-style name of a Python codec name."""
    name = codecs.lookup(codec_name).name.replace("-", "_")
    return _IANA.get(name, name.replace("_", "-"))


def lookup(charset: str | None) -> str | None:
    """Return the Python codec name for a MIME charset label, or None when unknown."""
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().strip("\"'")).name.replace("-", "_")
    except (LookupError, ValueError):
        return None


def _detect(data: bytes, hint: str | None = None) -> str | None:
    """Return the codec charset-normalizer finds most plausible for `data`, or None.

    On short text several single-byte codecs score alike and the winner is close to arbitrary (French comes
    out as windows-1257), so a near-tie goes to the charset the message declared elsewhere, then the most
    common legacy mail charsets.
    """
    # Imported on first use: most mail declares a charset that decodes, and the import costs cold-start time.
    from charset_normalizer import from_bytes

    matches = from_bytes(data[:_DETECT_SAMPLE])
    best = matches.best()
    if best is None:
        return None
    if hint in ("iso8859_1", "iso8859_15"):
        hint = "cp1252"  # what senders mean by Latin-1, and the name charset-normalizer reports
    for preferred in (hint, "cp1252", "cp1251"):
        if preferred and any(m.encoding == preferred and m.chaos <= best.chaos + _TIE for m in matches):
            return preferred
    return best.encoding


def html_meta_charset(data: bytes) -> str | None:
    """Return the charset an HTML document declares in a <meta> tag near its start, or None."""
    found = _META_CHARSET.search(data[:_META_WINDOW])
    return found.group(1).decode("ascii") if found else None


def decode_bytes(
    data: bytes, declared: str | None, hint: str | None = None, *, detect: bool = True
) -> tuple[str, str | None]:
    """Decode body bytes with the declared charset when it fits, else a detected one; return text and defect.

    `hint` is a charset declared elsewhere in the message, preferred when detection finds it plausible.
    Without `detect` (header words: short, many, and detection is a guess on short text) windows-1252 is used.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace"), None
    codec = lookup(declared)
    if codec is not None and codec not in _SINGLE_BYTE_LATIN:
        try:
            return data.decode(codec), None
        except (UnicodeDecodeError, ValueError):
            pass
        # Right label, a few damaged bytes (a truncated line, one bad copy-paste): the label still wins, or
        # detection would re-read the whole body as something else. A wrong label fails on most 8-bit bytes.
        text = data.decode(codec, "replace")
        damaged = text.count("\ufffd") - data.count("\ufffd".encode(codec, "replace"))
        if damaged <= _DAMAGE_RATIO * sum(1 for byte in data if byte > 0x7F):
            return text, f"charset_damaged:{iana_name(codec)}"
    elif codec is not None:
        if data.isascii():
            return data.decode("ascii"), None
        try:
            # Valid UTF-8 with non-ASCII bytes is almost never real Latin-1: it is a mislabelled UTF-8 body.
            text = data.decode("utf-8")
            return text, "charset_mislabelled:utf-8"
        except UnicodeDecodeError:
            pass
        if codec != "ascii":
            # cp1252 is what senders mean by ISO-8859-1 (WHATWG maps the label), and it decodes the 0x80-0x9F range.
            return data.decode("cp1252" if codec == "iso8859_1" else codec, "replace"), None
    elif data.isascii():
        return data.decode("ascii"), (f"charset_unknown:{_LABEL.sub('', declared)[:40]}" if declared else None)
    else:
        try:
            return data.decode("utf-8"), "charset_fallback:utf-8"
        except UnicodeDecodeError:
            pass
    detected = _detect(data, lookup(hint)) if detect else "cp1252"
    if detected is not None:
        return data.decode(detected, "replace"), f"charset_fallback:{iana_name(detected)}"
    return data.decode("utf-8", "replace"), "charset_fallback:replace"


def undo_surrogates(value: str) -> tuple[str, str | None]:
    """Turn surrogate-escaped 8-bit header bytes back into text; return the text and a defect when any were."""
    if not _SURROGATE.search(value):
        return value, None
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8"), "header_8bit:utf-8"
    except UnicodeDecodeError:
        pass
    detected = _detect(data) or "cp1252"
    return data.decode(detected, "replace"), f"header_8bit:{iana_name(detected)}"


def clean_line(value: str) -> str:
    """Unfold a header value and remove control characters so no CR or LF can survive."""
    value = _FOLD.sub("", value)
    if not value.isprintable():
        value = value.translate(_CONTROL_TO_SPACE)
        value = _SPACES.sub(" ", value)
    return value.strip()


def encoded_word_charsets(value: str) -> list[str]:
    """Return the charsets named by RFC 2047 encoded words in a raw header value."""
    return _WORD_CHARSET.findall(value) if "=?" in value else []


def decode_words(value: str) -> tuple[str, str | None]:
    """Decode RFC 2047 encoded words in an unfolded header value; return the text and a defect if one was repaired."""
    if "=?" not in value:
        return value, None
    try:
        chunks = decode_header(value)
    except Exception:  # the stdlib raises several types on malformed words; keep the raw text
        return value, "header_undecodable"
    defect = None
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
        elif charset is None or charset == "unknown-8bit":
            # decode_header returns the undecoded stretches encoded with raw-unicode-escape.
            out.append(chunk.decode("raw-unicode-escape", "replace"))
        else:
            text, problem = decode_bytes(chunk, charset, detect=False)
            defect = defect or problem
            out.append(text)
    return "".join(out), defect


def decode_header_value(value: str) -> tuple[str, list[str]]:
    """Return a header value unfolded, 8-bit and RFC 2047 decoded, single-line; plus any defects."""
    defects = []
    value = str(value)
    value, problem = undo_surrogates(value)
    if problem:
        defects.append(problem)
    value = _FOLD.sub("", value)
    value, problem = decode_words(value)
    if problem:
        defects.append(problem)
    return clean_line(value), defects
