"""Best-effort decoding of MIME text: body charsets, 8-bit and RFC 2047 header values, control characters.

Charset labels are read as the superset mail clients really send under them (GB2312 as GB18030, Big5 as
Big5-HKSCS, Shift_JIS as Windows-31J, EUC-KR as Windows-949, ISO-8859-1 as Windows-1252, TIS-620 as
Windows-874, ISO-2022-JP with NEC and IBM extensions or raw Shift_JIS bytes inside), and Windows-1258's
combining tone marks are composed (NFC). Raw 8-bit header bytes (no label at all) are UTF-8 when they are
valid UTF-8; otherwise each of a few candidate charsets, the message's own declared charset first, decodes
them and the most plausible text wins (`_plausibility`: common characters of a script, accented letters
inside words, no mojibake runs). On a few bytes of a name that beats a statistical detector, which needs
sentences to tell GBK from Big5 or Latin-1 from Latin-2.
"""

from __future__ import annotations

import binascii
import codecs
import functools
import re
import unicodedata
from email.message import Message

from emailpipe.domain.reply_patterns import lazy

# Detection is statistical and costs time per byte: a sample this large is plenty to name the charset.
_DETECT_SAMPLE = 64 * 1024

# Labels that decode any byte string without error, so a strict decode cannot reveal a mislabel.
_SINGLE_BYTE_LATIN = frozenset({"ascii", "iso8859_1", "iso8859_15", "cp1252"})

# charset-normalizer and codecs speak Python codec names; defects use the IANA names people know.
_IANA = {
    "cp874": "windows-874",
    "cp932": "windows-31j",
    "cp949": "windows-949",
    "cp950": "windows-950",
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
    "big5hkscs": "big5-hkscs",
}

# Labels seen in mail that Python's codec registry does not know (WHATWG and vendor aliases).
_LABELS = {
    "x-gbk": "gbk",
    "windows-936": "gbk",
    "gb_2312": "gb2312",
    "x-gb2312": "gb2312",
    "windows-31j": "cp932",
    "x-sjis": "cp932",
    "x-ms-cp932": "cp932",
    "shift-jis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "windows-949": "cp949",
    "x-windows-949": "cp949",
    "ks_c_5601-1989": "cp949",
    "windows-874": "cp874",
    "x-windows-874": "cp874",
    "windows-950": "cp950",
    "x-x-big5": "big5",
    "iso-8859-8-i": "iso8859_8",
    "iso-8859-6-i": "iso8859_6",
    "x-mac-roman": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic",
    "x-mac-ce": "mac_latin2",
    "x-mac-greek": "mac_greek",
    "x-mac-turkish": "mac_turkish",
    "x-mac-icelandic": "mac_iceland",
    "x-unicode-2-0-utf-7": "utf_7",
    "x-utf-8": "utf_8",
    "utf8mb4": "utf_8",
}
# Patterns used only on the broken paths compile on first use (reply_patterns.lazy): compiling costs about 0.15 ms
# each at import, and the inbound cold start is at its limit.
_NUMBERED = lazy(lambda: r"(?:cp|windows|win|ibm|x-cp)[-_ ]?(\d{3,4})", 0)

# ISO-2022-JP as clients write it: the registered codec first, then the JIS X 0208 bytes read through
# Windows-31J, which has the NEC row 13 (①, ㈱, Ⅰ) and IBM extensions and also takes raw Shift_JIS bytes.
_JIS = "iso2022_jp_ms"
# The codecs a label is decoded with, in order: supersets that decode what the label's own table rejects.
_SUPERSETS = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "big5": ("big5hkscs", "cp950"),
    "shift_jis": ("cp932", "shift_jis_2004"),
    "euc_kr": ("cp949",),
    "euc_jp": ("euc_jp", "euc_jis_2004"),
    "tis_620": ("cp874",),
    "iso8859_11": ("cp874",),
    "iso8859_9": ("cp1254",),
    "iso2022_jp": ("iso2022_jp", "iso2022_jp_2", _JIS),
    "iso2022_jp_1": ("iso2022_jp_1", "iso2022_jp_2", _JIS),
    "iso2022_jp_2": ("iso2022_jp_2", _JIS),
    "iso2022_jp_ext": ("iso2022_jp_ext", _JIS),
    "iso2022_jp_3": ("iso2022_jp_3", _JIS),
    "iso2022_jp_2004": ("iso2022_jp_2004", _JIS),
}

# Tried on raw 8-bit header bytes after UTF-8 and the message's own charset: the legacy charsets of the
# languages help-desk mail comes in, most common first (a tie in plausibility goes to the earlier one).
_HEADER_CANDIDATES = ("cp1252", "gb18030", "cp932", "big5hkscs", "cp949", "cp1251", "koi8_r", "cp1250")

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
# An RFC 2047 encoded word, read leniently: anywhere in the value (inside quotes and words too), with a
# language suffix, spaces inside a Q text, and any base64 padding.
_ENCODED_WORD = lazy(lambda: r"=\?([^?*\s]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?]*)\?=", 0)
_Q_ESCAPE = lazy(lambda: rb"=([0-9A-Fa-f]{2})", 0)
_BASE64_TEXT = lazy(lambda: r"[A-Za-z0-9+/=\s]*", 0)
# Plausibility of a decoded character (see _plausibility).
_TEXT_SYMBOLS = frozenset("€£¥©®°±«»§¶·–—‘’‚“”„…•™×÷¡¿")
_SCRIPTS = ((0x250, "latin"), (0x370, "other"), (0x400, "greek"), (0x530, "cyrillic"), (0x590, "other"))
_SCORE_SAMPLE = 4096
# A plausibility at which the message's own charset is taken without trying the others.
_CONFIDENT = 0.9
# The ISO-2022-JP reader walks bytes in Python (about 0.3 s per MiB): past this a body decodes as damaged instead.
_JIS_LIMIT = 1024 * 1024
# Where the declared charset is looked for on the rare path that needs it (8-bit headers): the top of the message.
_DECLARED_WINDOW = 512 * 1024
# The escape sequence that shifts ISO-2022-JP into its two-byte sets (ESC $ B, ESC $ @).
_JIS_SHIFT = "\x1b$"
_DECLARED_CHARSET = lazy(lambda: rb"""(?i)charset[ \t]*=[ \t]*["']?([A-Za-z0-9_.:-]{1,40})""", 0)


def iana_name(codec_name: str) -> str:
    """Return the IANA-style name of a Python codec name."""
    if codec_name == _JIS:
        return "iso-2022-jp"
    name = codecs.lookup(codec_name).name.replace("-", "_")
    return _IANA.get(name, name.replace("_", "-"))


@functools.lru_cache(maxsize=256)
def lookup(charset: str | None) -> str | None:
    """Return the Python codec name for a MIME charset label, or None when unknown."""
    if not charset:
        return None
    label = _LABEL.sub("", charset).lower()
    if label == _JIS:
        return _JIS
    label = _LABELS.get(label, label)
    for candidate in (label, _NUMBERED.sub(r"cp\1", label)):
        try:
            return codecs.lookup(candidate).name.replace("-", "_")
        except (LookupError, ValueError):
            continue
    return None


def _jis_as_cp932(data: bytes) -> str:
    """Decode ISO-2022-JP by converting its JIS X 0208 pairs to Shift_JIS and reading them as Windows-31J.

    Bytes outside the escape sequences' two-byte mode (ASCII, raw 8-bit Shift_JIS) pass through, so a body
    labelled ISO-2022-JP that is really Shift_JIS decodes too. Raises UnicodeDecodeError where cp932 does.
    """
    out = bytearray()
    double = kana = False
    i, size = 0, len(data)
    while i < size:
        byte = data[i]
        if byte == 0x1B:
            seq = data[i + 1 : i + 3]
            if seq in (b"$@", b"$B"):
                double, kana, i = True, False, i + 3
                continue
            if seq in (b"(B", b"(J", b"(H"):
                double = kana = False
                i += 3
                continue
            if seq == b"(I":
                double, kana, i = False, True, i + 3
                continue
            if data[i + 1 : i + 4] in (b"$(D", b"$(O", b"$(Q", b"$(P"):
                raise UnicodeDecodeError("iso2022_jp", data, i, i + 4, "JIS X 0212/0213 is not in Windows-31J")
            if data[i + 1 : i + 2] == b"&":  # ESC & @ announces the 1990 revision before ESC $ B
                i += 3
                continue
            out.append(byte)
            i += 1
        elif byte in (0x0E, 0x0F):  # SO/SI: half-width katakana on and off
            kana = byte == 0x0E
            i += 1
        elif double and 0x21 <= byte <= 0x7E and i + 1 < size and 0x21 <= data[i + 1] <= 0x7E:
            j1, j2 = byte, data[i + 1]
            s1 = (j1 + 1) // 2 + 0x70
            s1 += 0x40 if s1 >= 0xA0 else 0
            s2 = j2 + (0x1F + (j2 >= 0x60) if j1 & 1 else 0x7E)
            out += bytes((s1, s2))
            i += 2
        elif kana and 0x21 <= byte <= 0x5F:
            out.append(byte + 0x80)
            i += 1
        else:
            out.append(byte)
            i += 1
    return out.decode("cp932")


def _strict(data: bytes, codec: str) -> str | None:
    """Decode `data` with one codec (or the virtual ISO-2022-JP reader), or None when it does not fit."""
    try:
        if codec == _JIS:
            if len(data) > _JIS_LIMIT:
                return None
            if b"\x1b" not in data and not data.isascii():
                # No escape sequence at all: raw 8-bit bytes under an ISO-2022-JP label, Shift_JIS or EUC-JP.
                return _best_of(data, ("cp932", "euc_jp"))
            return _jis_as_cp932(data)
        text = data.decode(codec)
    except (UnicodeDecodeError, ValueError, LookupError):
        return None
    if codec == "cp1258":
        # Windows-1258 writes Vietnamese tones as combining marks after the letter; people see composed letters.
        text = unicodedata.normalize("NFC", text)
    return text


@functools.cache
def _single_byte(codec: str) -> bool:
    """True for a codec that reads each byte as one character (windows-125x, ISO-8859-x, KOI8, Mac...)."""
    if codec == _JIS:
        return False
    try:
        return len(bytes(range(256)).decode(codec, "replace")) == 256 and not codec.startswith("utf")
    except (LookupError, ValueError):
        return False


def _chain(codec: str) -> tuple[str, ...]:
    """The codecs to decode a label with: its supersets, or the label itself."""
    return _SUPERSETS.get(codec, (codec,))


def _best_of(data: bytes, candidates: tuple[str, ...]) -> str | None:
    """Return the most plausible strict decoding of `data` among `candidates`, or None when none fits."""
    best, best_score = None, -1.0
    for codec in candidates:
        text = _strict(data, codec)
        if text is not None:
            score = _plausibility(text[:_SCORE_SAMPLE], codec)
            if score > best_score:
                best, best_score = text, score
    return best


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


# KOI8-R and windows-1251 hold the Cyrillic letters in 0xC0-0xFF with the cases swapped; each is sent under the
# other's label. Real Russian text is mostly small letters, so the half of that range it uses tells them apart.
_CYRILLIC_TWINS = {"cp1251": "koi8_r", "koi8_r": "cp1251"}
_SMALL_LETTERS = {"cp1251": range(0xE0, 0x100), "koi8_r": range(0xC0, 0xE0)}
_CASE_SAMPLE = 8192
_LATIN_HIGH = bytes(range(0x80, 0x100))


def _cases_swapped(data: bytes, codec: str) -> bool:
    """True when Cyrillic bytes under `codec` are mostly its capitals: the twin charset's small letters."""
    sample = data[:_CASE_SAMPLE]
    small = sum(sample.count(byte) for byte in _SMALL_LETTERS[codec])
    capital = sum(sample.count(byte) for byte in _SMALL_LETTERS[_CYRILLIC_TWINS[codec]])
    return capital >= 20 and capital > 3 * small


def _mostly_8bit(data: bytes) -> bool:
    """True when more than a third of the non-space bytes (in a sample) are 8-bit: not a Latin-script text."""
    sample = data[:_CASE_SAMPLE]
    high = len(sample) - len(sample.translate(None, _LATIN_HIGH))
    return high >= 20 and 3 * high > len(sample) - sample.count(b" ") - sample.count(b"\n")


def html_meta_charset(data: bytes) -> str | None:
    """Return the charset an HTML document declares in a <meta> tag near its start, or None."""
    found = _META_CHARSET.search(data[:_META_WINDOW])
    return found.group(1).decode("ascii") if found else None


def decode_bytes(
    data: bytes, declared: str | None, hint: str | None = None, *, detect: bool = True
) -> tuple[str, str | None]:
    """Decode body bytes with the declared charset when it fits, else a detected one; return text and defect.

    `hint` is a charset declared elsewhere in the message, preferred when detection finds it plausible.
    Without `detect` (header words: short, many, and detection is a guess on short text) the most plausible
    of a few common charsets is used (see decode_header_bytes).
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace"), None
    codec = lookup(declared)
    if codec is not None and codec not in _SINGLE_BYTE_LATIN:
        if not data.isascii() and _single_byte(codec):
            try:
                # Every byte decodes in a single-byte table, so only this tells a UTF-8 body under, say, a
                # windows-1251 or x-mac-cyrillic label: real text in such a charset is almost never valid UTF-8.
                return data.decode("utf-8"), "charset_mislabelled:utf-8"
            except UnicodeDecodeError:
                pass
        if codec in _CYRILLIC_TWINS and _cases_swapped(data, codec):
            twin = _CYRILLIC_TWINS[codec]
            return data.decode(twin), f"charset_mislabelled:{iana_name(twin)}"
        for candidate in _chain(codec):
            text = _strict(data, candidate)
            if text is not None:
                return text, None
        if codec != "utf_8" and not data.isascii():
            try:
                # Valid UTF-8 with non-ASCII bytes under a label it does not fit: a mislabelled UTF-8 body.
                return data.decode("utf-8"), "charset_mislabelled:utf-8"
            except UnicodeDecodeError:
                pass
        # Right label, a few damaged bytes (a truncated line, one bad copy-paste): the label still wins, or
        # detection would re-read the whole body as something else. A wrong label fails on most 8-bit bytes.
        widest = next((c for c in _chain(codec) if c != _JIS), codec)
        text = data.decode(widest, "replace")
        marker = "\ufffd".encode(widest, "replace")
        damaged = text.count("\ufffd") - (data.count(marker) if marker != b"?" else 0)
        if damaged <= _DAMAGE_RATIO * sum(1 for byte in data if byte > 0x7F):
            if codec == "cp1258":
                text = unicodedata.normalize("NFC", text)
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
            if _mostly_8bit(data):
                # Latin text is mostly ASCII letters; one of 8-bit bytes is another script under a Latin label
                # (Russian in windows-1251, Chinese in GBK, sent as ISO-8859-1): read as the most plausible.
                text, used = decode_header_bytes(data, declared)
                if used not in _SINGLE_BYTE_LATIN:
                    return text, f"charset_mislabelled:{iana_name(used)}"
            # cp1252 is what senders mean by ISO-8859-1 (WHATWG maps the label), and it decodes the 0x80-0x9F range.
            return data.decode("cp1252" if codec == "iso8859_1" else codec, "replace"), None
    elif data.isascii():
        return data.decode("ascii"), (f"charset_unknown:{_LABEL.sub('', declared)[:40]}" if declared else None)
    else:
        try:
            return data.decode("utf-8"), "charset_fallback:utf-8"
        except UnicodeDecodeError:
            pass
    if not detect:
        text, used = decode_header_bytes(data, hint)
        return text, f"charset_fallback:{iana_name(used)}"
    detected = _detect(data, lookup(hint))
    if detected is not None:
        text = data.decode(detected, "replace")
        score = _plausibility(text[:_SCORE_SAMPLE], detected)
        if score < _CONFIDENT:
            # charset-normalizer guesses between look-alike tables on short or Cyrillic text (KOI8-R came out
            # as Windows-31J half-width kana, `Grüße` as cp1006): the header candidates, read as words, may do better.
            other, used = decode_header_bytes(data, hint)
            if used != detected and _plausibility(other[:_SCORE_SAMPLE], used) > score + _TIE:
                return other, f"charset_fallback:{iana_name(used)}"
        return text, f"charset_fallback:{iana_name(detected)}"
    return data.decode("utf-8", "replace"), "charset_fallback:replace"


def _script(char: str) -> str:
    """A coarse script name of a letter: latin, greek, cyrillic or other."""
    code = ord(char)
    if 0x1E00 <= code <= 0x1EFF:
        return "latin"  # Latin Extended Additional: Vietnamese letters with their tones
    for end, name in _SCRIPTS:
        if code < end:
            return name
    return "other"


def _cjk_score(char: str, codec: str) -> float | None:
    """Plausibility of a character a CJK codec decoded, from where its bytes sit in the codec's table.

    Real text is mostly the first, most frequent level of its standard (GB2312 level 1, Big5's frequent
    characters, JIS level 1, KS X 1001 hangul) and kana; other-language bytes read through the table land
    anywhere in it, in rarer levels, extensions and half-width katakana. None for a codec that is not CJK.
    """
    if codec not in ("gb18030", "big5hkscs", "cp950", "cp932", "euc_jp", "cp949"):
        return None
    try:
        raw = char.encode(codec)
    except UnicodeEncodeError:  # Big5-HKSCS decodes a few pairs to two code points
        return 0.3
    if len(raw) != 2:
        return 0.2  # half-width katakana, GB18030 four-byte sequences
    lead, trail = raw
    if codec == "gb18030":
        if trail >= 0xA1 and 0xB0 <= lead <= 0xD7:
            return 1.0
        if trail >= 0xA1 and 0xD8 <= lead <= 0xF7:
            return 0.6
        return 0.8 if 0xA1 <= lead <= 0xA3 else 0.3
    if codec in ("big5hkscs", "cp950"):
        if 0xA4 <= lead <= 0xC6:
            return 1.0
        if 0xC9 <= lead <= 0xF9:
            return 0.6
        return 0.8 if 0xA1 <= lead <= 0xA3 else 0.3
    if codec == "cp932":
        if 0x82 <= lead <= 0x83 or 0x88 <= lead <= 0x9F:
            return 1.0
        if lead == 0x81:
            return 0.8
        return 0.6 if 0xE0 <= lead <= 0xEA or lead == 0x87 else 0.3
    if codec == "euc_jp":
        if 0xA4 <= lead <= 0xA5 or 0xB0 <= lead <= 0xCF:
            return 1.0
        if lead == 0xA1:
            return 0.8
        return 0.6 if 0xD0 <= lead <= 0xF4 else 0.3
    if trail >= 0xA1 and 0xB0 <= lead <= 0xC8:  # cp949: KS X 1001 hangul
        return 1.0
    return 0.6 if 0xA1 <= lead <= 0xAC else 0.3


def _plausibility(text: str, codec: str) -> float:
    """Score (0..1) how much `text` looks like real writing rather than bytes read in the wrong charset."""
    scores = []
    for word in re.split(r"[\W\d_]+", text):
        if word.isascii():
            continue
        has_ascii = any(c.isascii() for c in word)
        scripts = {_script(c) for c in word if not c.isascii()}
        # Cased like a word (`мир`, `Мир`, `МИР`): a charset of the same script read as another (KOI8-R as
        # windows-1251, ISO-8859-2 bytes as another Latin table) swaps cases mid-word (`уЕТЗЕК` for `Сергей`).
        cased = word.islower() or word.istitle() or word.isupper()
        for char in word:
            if char.isascii():
                continue
            category = unicodedata.category(char)
            if category in ("Cc", "Cn", "Co", "Cs"):
                scores.append(0.0)
                continue
            cjk = _cjk_score(char, codec)
            if cjk is not None and ord(char) >= 0x2E80:
                scores.append(cjk)
            elif _script(char) == "latin":
                # An accented letter inside a word of plain letters; a run of nothing but accented ones is mojibake.
                # (`Żółć` is a word: one cased like one, not all capitals as CJK bytes read as Latin-1 mostly are).
                if has_ascii or len(word) <= 2:
                    scores.append(1.0)
                else:
                    scores.append(0.8 if word.islower() or word.istitle() else 0.3)
            else:
                scores.append(0.3 if has_ascii or len(scripts) > 1 or not cased else 1.0)
    for char in text:
        if not char.isascii() and not char.isalnum():
            category = unicodedata.category(char)
            if category in ("Cc", "Cn", "Co", "Cs"):
                scores.append(0.0)
            elif char in _TEXT_SYMBOLS or char == "\u00a0":
                scores.append(0.8)
            elif 0x3000 <= ord(char) <= 0x303F or 0xFF01 <= ord(char) <= 0xFF60:
                scores.append(0.8)  # CJK punctuation and full-width forms
            else:
                scores.append(0.3)
    return sum(scores) / len(scores) if scores else 1.0


def decode_header_bytes(data: bytes, hint: str | None = None) -> tuple[str, str]:
    """Decode raw 8-bit header bytes (no charset label); return the text and the codec used.

    UTF-8 when valid; otherwise the most plausible decoding among the message's own charset `hint` (its
    supersets, favoured on a near-tie) and a few common legacy charsets (_HEADER_CANDIDATES).
    """
    try:
        return data.decode("utf-8"), "utf_8"
    except UnicodeDecodeError:
        pass
    preferred: tuple[str, ...] = ()
    codec = lookup(hint)
    if codec not in (None, "ascii", "utf_8"):
        preferred = ("cp1252",) if codec in _SINGLE_BYTE_LATIN else _chain(codec)
    best, best_codec, best_score = None, "cp1252", -1.0
    for candidate in dict.fromkeys(preferred + _HEADER_CANDIDATES):
        text = _strict(data, candidate)
        if text is None:
            continue
        scored_as = "cp932" if candidate == _JIS else candidate
        score = _plausibility(text[:_SCORE_SAMPLE], scored_as)
        if candidate in preferred:
            if score >= _CONFIDENT:
                return text, candidate  # the message's own charset reads as real text: no need to try others
            score += 0.1
        if score > best_score or (
            # The Cyrillic twins tie on a text of one case (`ЗАКАЗ` is `заказ` in the other): small letters win.
            score == best_score
            and (
                (_CYRILLIC_TWINS.get(candidate) == best_codec and _smaller(text, best))
                # KOI8-R's small letters are GB2312's frequent characters; Chinese read as KOI8-R is rarely all
                # letters cased like words (its trail bytes fall on box drawing and mixed cases).
                or (candidate == "koi8_r" and best_codec == "gb18030" and _all_cyrillic(text))
            )
        ):
            best, best_codec, best_score = text, candidate, score
    if best is None:
        return data.decode("cp1252", "replace"), "cp1252"
    return best, best_codec


def _all_cyrillic(text: str) -> bool:
    """True when every non-ASCII character of `text` is a Cyrillic letter, and there are eight or more of them
    (fewer are as often a two- or three-character Chinese name: `赵磊` is `утюз` in KOI8-R)."""
    letters = [char for char in text if not char.isascii()]
    return len(letters) >= 8 and all(char.isalpha() and _script(char) == "cyrillic" for char in letters)


def _smaller(text: str, other: str | None) -> bool:
    """True when `text` has more small letters than `other`."""
    return other is not None and sum(map(str.islower, text)) > sum(map(str.islower, other))


def has_raw_bytes(value: str) -> bool:
    """True when a header value as parsed holds raw 8-bit bytes (surrogate escapes)."""
    return not value.isascii() and _SURROGATE.search(value) is not None


def first_declared_charset(raw: bytes) -> str | None:
    """The first charset other than US-ASCII and UTF-8 a message declares (`charset=` anywhere), or None."""
    for found in _DECLARED_CHARSET.finditer(raw, 0, _DECLARED_WINDOW):
        label: str = found.group(1).decode("ascii")
        if lookup(label) not in (None, "ascii", "utf_8"):
            return label
    return None


def needs_decoding(value: str) -> bool:
    """True when a header value as parsed holds raw bytes: 8-bit ones, or 7-bit ISO-2022-JP (see undo_surrogates)."""
    return has_raw_bytes(value) or _JIS_SHIFT in value


def undo_surrogates(value: str, hint: str | None = None) -> tuple[str, str | None]:
    """Turn surrogate-escaped 8-bit header bytes back into text; return the text and a defect when any were.

    `hint` is a charset the message declares elsewhere (its body, other headers' encoded words). Raw
    ISO-2022-JP (older Japanese mailers write it into headers without encoded words: 7-bit, but its pairs
    hold `@`, `<` and `"`, so an address parser would read `$B` as the sender) is decoded too.
    """
    if _JIS_SHIFT in value and value.isascii():
        try:
            return _jis_as_cp932(value.encode("ascii")), "header_8bit:iso-2022-jp"
        except UnicodeDecodeError:
            return value, None
    if value.isascii() or not _SURROGATE.search(value):
        return value, None
    data = value.encode("utf-8", "surrogateescape")
    text, codec = decode_header_bytes(data, hint)
    return text, f"header_8bit:{iana_name(codec)}"


def raw_header(msg: Message, name: str) -> str | None:
    """The first `name` header of a parsed message as written (8-bit bytes surrogate-escaped), or None.

    `msg.get()` returns a header with raw 8-bit bytes as an email.header.Header whose text has U+FFFD for
    each byte; this keeps the bytes, for undo_surrogates / decode_header_value to decode.
    """
    name = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def part_filename(part: Message, hint: str | None = None) -> str | None:
    """The file name of a MIME part (Content-Disposition filename, else Content-Type name), decoded.

    RFC 2231 (`filename*=charset''...`, its charset read as its superset and UTF-8 bytes under a wrong label
    read as UTF-8), RFC 2047 words (also inside the quotes, as clients write them), and raw 8-bit bytes, which
    `part.get_filename()` turns into U+FFFD: decoded as header bytes, with `hint` (the part's or message's
    charset) first.
    """
    raw = [
        (key, str(value)) for key, value in part.raw_items() if key.lower() in ("content-disposition", "content-type")
    ]
    source = part
    charset_read = False  # the part's own charset is read (one more parse of Content-Type) only when needed

    def part_hint() -> str | None:
        nonlocal hint, charset_read
        if not charset_read:
            hint, charset_read = part.get_content_charset() or hint, True
        return hint

    if any(needs_decoding(value) for _, value in raw):
        source = Message()
        for key, written in raw:
            source[key] = undo_surrogates(written, part_hint())[0]
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = source.get_param(param, header=header)
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, text with one char per byte)
            charset, _, text = value
            data = text.encode("latin-1", "surrogateescape") if text.isascii() or max(text) <= "\xff" else None
            value = (
                decode_bytes(data, charset or part_hint(), part_hint(), detect=False)[0] if data is not None else text
            )
        value = value.strip().strip('"')
        if "=?" in value:
            value = decode_words(value, part_hint())[0]
        if value:
            return value
    return None


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


def _word_bytes(encoding: str, text: str) -> bytes:
    """The bytes of one encoded word's text: base64 with any padding (even mid-text), or Q."""
    if encoding in "bB":
        if not _BASE64_TEXT.fullmatch(text):
            raise ValueError("not base64")
        data = b""
        # Padding only ends a quantum: "R3LDvA==w59lZQ==" is two encodings joined, "...ZQ===" one over-padded.
        for chunk in "".join(text.split()).split("="):
            chunk = chunk[: len(chunk) - 1] if len(chunk) % 4 == 1 else chunk  # a lone sextet holds no byte
            if chunk:
                data += binascii.a2b_base64(chunk + "=" * (-len(chunk) % 4))
        return data
    raw = text.replace("_", " ").encode("utf-8", "surrogateescape")
    decoded: bytes = _Q_ESCAPE.sub(lambda m: bytes((int(m.group(1), 16),)), raw)
    return decoded


def decode_words(value: str, hint: str | None = None) -> tuple[str, str | None]:
    """Decode RFC 2047 encoded words in an unfolded header value; return the text and a defect if one was repaired.

    Lenient as mail clients are: words are decoded wherever they stand (inside quotes, next to other text),
    whitespace between two words is dropped, and adjacent words in one charset are joined before decoding, so
    a multibyte character split across two words survives.
    """
    if "=?" not in value:
        return value, None
    defect = None
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset = None
    last = 0

    def flush() -> None:
        nonlocal defect, pending_charset
        if pending:
            text, problem = decode_bytes(b"".join(pending), pending_charset, hint, detect=False)
            defect = defect or problem
            out.append(text)
            pending.clear()
        pending_charset = None

    for match in _ENCODED_WORD.finditer(value):
        gap = value[last : match.start()]
        charset, encoding, text = match.groups()
        if gap and not (gap.isspace() and last):
            # Text between words is kept; whitespace between two encoded words is not (RFC 2047, 6.2).
            flush()
            out.append(gap)
        elif pending and charset.lower() != (pending_charset or "").lower():
            flush()
        try:
            data = _word_bytes(encoding, text)
        except (binascii.Error, ValueError):
            flush()
            out.append(match.group(0))
            defect = defect or "header_undecodable"
            last = match.end()
            continue
        pending.append(data)
        pending_charset = charset
        last = match.end()
    flush()
    out.append(value[last:])
    return "".join(out), defect


def decode_header_value(value: str, hint: str | None = None) -> tuple[str, list[str]]:
    """Return a header value unfolded, 8-bit and RFC 2047 decoded, single-line; plus any defects."""
    defects = []
    value = str(value)
    value, problem = undo_surrogates(value, hint)
    if problem:
        defects.append(problem)
    value = _FOLD.sub("", value)
    value, problem = decode_words(value, hint)
    if problem:
        defects.append(problem)
    return clean_line(value), defects
