"""Remove trailing signatures from the lines a sender wrote: '-- ' blocks, mobile footers, sign-offs, disclaimers,
list footers."""

from __future__ import annotations

from emailpipe.domain import reply_patterns as P
from emailpipe.domain.reply_words import SIGN_OFFS, THANKS_SIGN_OFFS, every

# A '-- ' block longer than this is more likely content (e.g. a SQL snippet) than a signature.
_MAX_DASH_SIG_LINES = 25
# Separator-opened footers ('---', '______') are only stripped when short.
_MAX_FOOTER_LINES = 15
_MAX_FOOTER_LINE_LEN = 100
_DISCLAIMER_WINDOW = 80
_CONTACT_BLOCK_MAX = 6
_SENTENCE_END = (".", "!", "?", ":", ";")

# A sign-off line: one of the phrases, then punctuation; lines longer than this are never one.
_SIGN_OFF_MAX_LEN = 48
_SIGN_OFF_TRAIL = " \t,.!;:…-–—~*_"
# Below a sign-off: at most this many short name lines (plus contact lines: phone, address, link), as a signature
# block is; a longer or sentence-like tail means the sign-off word sits inside the reply, which then keeps it.
_SIGN_OFF_NAMES = 4
_SIGN_OFF_TAIL = 8
_NAME_MAX_LEN = 60
_NAME_MAX_WORDS = 6
_SIGN_OFF = "sign-off"
_THANKS = "thanks"


def _phrase_key(text: str) -> str:
    return " ".join(text.split()).casefold()


# Phrase -> kind, looked up in one step (no per-line scan of the lists).
_SIGN_OFF_KINDS: dict[str, str] = {
    **{_phrase_key(w): _THANKS for w in every(THANKS_SIGN_OFFS)},
    **{_phrase_key(w): _SIGN_OFF for w in every(SIGN_OFFS)},
}


def _blank(line: str) -> bool:
    return not line.strip()


def _content_count(lines: list[str]) -> int:
    return sum(1 for line in lines if line.strip())


def _first_content(lines: list[str]) -> int:
    """Return the index of the first non-blank line (len(lines) when there is none)."""
    for i, line in enumerate(lines):
        if line.strip():
            return i
    return len(lines)


def _at_most_one_content(lines: list[str]) -> bool:
    seen = 0
    for line in lines:
        if line.strip():
            seen += 1
            if seen > 1:
                return False
    return True


def is_mobile_signature(line: str) -> bool:
    """Return True for 'Sent from my iPhone'-style lines in any supported language."""
    text = line.strip()
    if not text or len(text) > 300:
        return False
    text = P.LINK_IN_LINE_RE.sub("", text).strip().strip("*_()<>[] ")
    if P.is_cjk_mobile_footer(text):
        return True
    return P.is_mobile_footer(text) and not P.SENTENCE_AFTER_COMMA_RE.search(text)


def sign_off_kind(line: str) -> str | None:
    """'sign-off' for a line that is only a closing phrase ("Best regards,", "Med venlig hilsen"), 'thanks' for a
    closing thanks ("Thanks!", "Děkuji"), else None."""
    text = line.strip()
    if not text or len(text) > _SIGN_OFF_MAX_LEN:
        return None
    return _SIGN_OFF_KINDS.get(_phrase_key(text.strip(_SIGN_OFF_TRAIL)))


def _name_line(line: str) -> bool:
    """A short line that can stand under a sign-off: a name, a title, a company ("Jane Doe", "CEO, Acme Inc.")."""
    text = line.strip()
    if len(text) > _NAME_MAX_LEN or text.endswith((":", ",")) or text.startswith(">"):
        return False
    if text.endswith(("?", "!")) and not _capitalised(text.rstrip("?!")):
        return False  # "See you soon!" is a sentence; "CEO @ Acme !" a title
    words = text.split()
    return len(words) <= _NAME_MAX_WORDS and not (text.endswith(".") and len(words) > 3 and text[-3:-2] != ".")


def _strip_sign_off(lines: list[str], thanks: bool = True) -> list[str] | None:
    """Strip a closing sign-off and the few name lines under it, when they end the reply ("Best,\nJane"); with
    thanks, a closing thanks with a name under it too ("Thanks!\nJane")."""
    i = len(lines) - 1
    names = tail = 0
    while i >= 0 and lines[i].strip() and sign_off_kind(lines[i]) is None:
        if P.CONTACT_RE.search(lines[i][:200]) and len(lines[i]) <= 100:
            tail += 1
        elif _name_line(lines[i]):
            names += 1
            tail += 1
        else:
            return None
        if names > _SIGN_OFF_NAMES or tail > _SIGN_OFF_TAIL:
            return None
        i -= 1
    if i >= 0 and tail and not lines[i].strip():
        i -= 1  # "regards\n\nJohn Doe": one blank line may part the sign-off from the name
    if i <= 0:
        return None
    kind = sign_off_kind(lines[i])
    if kind is None or (kind == _THANKS and not (thanks and names)) or _first_content(lines) >= i:
        return None  # a sign-off is never the first line; a bare last "Thanks!" is the message
    return lines[:i]


def _strip_slash_name(lines: list[str]) -> list[str] | None:
    """Strip "/Jens", the Scandinavian way of signing, on the last line below some text."""
    if not P.SLASH_NAME_RE.match(lines[-1][:80]) or _last_content(lines, len(lines) - 1) is None:
        return None
    return lines[:-1]


def _strip_mobile(lines: list[str]) -> list[str] | None:
    """Strip a mobile footer on the last line, with the name lines written right above it ("Jane\nSent from my
    iPhone"), when text stands above them."""
    if not is_mobile_signature(lines[-1]):
        return None
    end = len(lines) - 1
    i = end
    while i > 0 and lines[i - 1].strip() and end - i < 3 and _name_line(lines[i - 1]) and _capitalised(lines[i - 1]):
        i -= 1
    if i < end and (i == 0 or lines[i - 1].strip() or _first_content(lines) >= i):
        i = end  # the lines above the footer are the message itself, not a name written for it
    return lines[:i]


def _capitalised(line: str) -> bool:
    """Every word starts with a capital letter, as a name does ("Jane Doe", "J. R. Smith")."""
    words = [w for w in line.split() if w[0].isalpha()]
    return bool(words) and all(w[0].isupper() for w in words) and not line.rstrip().endswith(".")


def fences(lines: list[str]) -> dict[int, int]:
    """Markdown code fences (```` ``` ```` or ``~~~``): the line opening each closed fence -> the line closing it.

    A fenced block is what the sender pasted (a log, a shell session, code): its '>' and 'On … wrote:' lines are
    content. An unclosed fence fences nothing. One pass over the lines.
    """
    found: dict[int, int] = {}
    blob = "\n".join(lines)
    if "```" not in blob and "~~~" not in blob:
        return found  # most bodies: no fence, and no per-line work
    opened = -1
    mark = ""
    for i, line in enumerate(lines):
        head = line.lstrip(" ")
        if head[:1] not in ("`", "~"):
            continue
        if opened < 0:
            if head[:3] in ("```", "~~~") and len(line) - len(head) <= 3:
                opened, mark = i, head[:3]
        elif head.startswith(mark) and not head.strip().strip(mark[0]):
            found[opened] = i
            opened = -1
    return found


def _cut_at_dashes(lines: list[str], fenced: dict[int, int]) -> list[str]:
    """Cut at the first '--' line that has content above it and a short block below it (RFC 3676 delimiter), outside
    the code fences `fenced` (fences(lines))."""
    seen_content = False
    fenced_to = -1
    for i, line in enumerate(lines):
        if i <= fenced_to:
            continue
        fenced_to = fenced.get(i, -1)
        if P.SIG_DASHES_RE.match(line[:10]) and seen_content:
            if _content_count(lines[i + 1 :]) <= _MAX_DASH_SIG_LINES:
                return lines[:i]
            return lines
        if line.strip():
            seen_content = True
    return lines


def _trim(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and _blank(lines[end - 1]):
        end -= 1
    return lines[:end]


def _last_content(lines: list[str], before: int) -> int | None:
    i = before - 1
    while i >= 0 and _blank(lines[i]):
        i -= 1
    return i if i >= 0 else None


def _strip_dash_name(lines: list[str]) -> list[str] | None:
    last = lines[-1]
    if not P.DASH_NAME_RE.match(last[:80]):
        return None
    prev = _last_content(lines, len(lines) - 1)
    if prev is None or P.is_list_item(lines[prev][:80]) or P.DASH_NAME_RE.match(lines[prev][:80]):
        return None  # part of a list, not a signed name
    return lines[:-1]


def _strip_disclaimer(lines: list[str]) -> list[str] | None:
    start = max(1, len(lines) - _DISCLAIMER_WINDOW, _first_content(lines) + 1)
    for i in range(start, len(lines)):
        line = lines[i]
        if _blank(line) or not (_blank(lines[i - 1]) or P.is_sig_separator(lines[i - 1][:200])):
            continue
        if P.is_disclaimer(line[:300]) and P.has_legal_words(" ".join(lines[i : i + 8])[:1500]):
            return lines[:i]
    return None


def _strip_separator_footer(lines: list[str]) -> list[str] | None:
    """Strip '---\\nRoman' or '______\\nlist footer\\nhttp://...' at the end of the message."""
    start = max(1, len(lines) - _MAX_FOOTER_LINES * 2 - 2, _first_content(lines) + 1)
    for i in range(start, len(lines)):
        sep = lines[i][:200]
        if not P.is_sig_separator(sep):
            continue
        tail = [x for x in lines[i + 1 :] if x.strip()]
        if not tail or len(tail) > _MAX_FOOTER_LINES or any(len(x) > _MAX_FOOTER_LINE_LEN for x in tail):
            continue
        contact = any(P.CONTACT_RE.search(x) for x in tail)
        # Without contact details, only a few short lines that do not read as sentences make a signature;
        # a Markdown rule ('---') followed by a paragraph stays.
        name_like = len(tail) <= 4 and all(
            len(x.strip()) <= 50 and not x.rstrip().endswith(_SENTENCE_END) for x in tail
        )
        if contact or name_like:
            return lines[:i]
    return None


def _strip_contact_block(lines: list[str]) -> list[str] | None:
    """Strip a trailing paragraph that is a business card: a name followed by addresses, phones and links."""
    i = len(lines) - 1
    while i >= 0 and not _blank(lines[i]) and i >= len(lines) - _CONTACT_BLOCK_MAX - 1:
        i -= 1
    if i >= 0 and not _blank(lines[i]):
        return None
    block = lines[i + 1 :]
    if not (2 <= len(block) <= _CONTACT_BLOCK_MAX) or _first_content(lines) > i:
        return None
    if any(len(x.strip()) > 60 for x in block) or block[0].rstrip().endswith((".", "?", "!", ":", ",")):
        return None
    contacts = sum(1 for x in block if P.CONTACT_RE.search(x))
    if contacts * 2 >= len(block) + 1:
        return lines[: i + 1]
    return None


def _strip_sign_off_not_thanks(lines: list[str]) -> list[str] | None:
    return _strip_sign_off(lines, thanks=False)


_STRIPPERS = (
    _strip_mobile,
    _strip_dash_name,
    _strip_slash_name,
    _strip_sign_off,
    _strip_disclaimer,
    _strip_separator_footer,
    _strip_contact_block,
)
_STRIPPERS_KEEPING_THANKS = tuple(_strip_sign_off_not_thanks if s is _strip_sign_off else s for s in _STRIPPERS)


def strip_signature(lines: list[str], *, thanks: bool = True) -> list[str]:
    """Return lines without the trailing signature; never removes everything, nor any line of a code fence.

    thanks: a closing "Thanks,\nJane" is a sign-off too. HTML bodies keep it (html_to_reply_text): there each line
    is a block the sender laid out, and the clients' own HTML replies (talon's fixtures of Gmail, Outlook 2003-2010,
    Thunderbird, Yahoo, Mail.ru, Yandex, Windows Mail, Hotmail) keep "Thanks,\nAlex" above the quote.
    """
    lines = _trim(lines)
    if _at_most_one_content(lines):
        return lines
    fenced = fences(lines)
    floor = max(fenced.values(), default=-1) + 1  # no signature starts above the end of the last code fence
    cut = _cut_at_dashes(lines, fenced)
    if _first_content(cut) < len(cut) and len(cut) >= floor:
        lines = _trim(cut)
    for _ in range(20):  # each pass removes one trailing element; bounded for safety
        if _at_most_one_content(lines):
            break
        candidate: list[str] | None = None
        for strip in _STRIPPERS if thanks else _STRIPPERS_KEEPING_THANKS:
            candidate = strip(lines)
            if candidate is not None:
                break
        if candidate is None or _first_content(candidate) == len(candidate) or len(candidate) < floor:
            break
        lines = _trim(candidate)
    return lines
