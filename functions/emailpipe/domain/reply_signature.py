"""Remove trailing signatures from the lines a sender wrote: '-- ' blocks, mobile footers, disclaimers, list footers."""

from __future__ import annotations

from emailpipe.domain import reply_patterns as P

# A '-- ' block longer than this is more likely content (e.g. a SQL snippet) than a signature.
_MAX_DASH_SIG_LINES = 25
# Separator-opened footers ('---', '______') are only stripped when short.
_MAX_FOOTER_LINES = 15
_MAX_FOOTER_LINE_LEN = 100
_DISCLAIMER_WINDOW = 80
_CONTACT_BLOCK_MAX = 6
_SENTENCE_END = (".", "!", "?", ":", ";")


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
    text = P.LINK_IN_LINE_RE.sub("", text).strip().strip("*_")
    if P.is_cjk_mobile_footer(text):
        return True
    return P.is_mobile_footer(text) and not P.SENTENCE_AFTER_COMMA_RE.search(text)


def _cut_at_dashes(lines: list[str]) -> list[str]:
    """Cut at the first '--' line that has content above it and a short block below it (RFC 3676 delimiter)."""
    seen_content = False
    for i, line in enumerate(lines):
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


def strip_signature(lines: list[str]) -> list[str]:
    """Return lines without the trailing signature; never removes everything."""
    lines = _trim(lines)
    if _at_most_one_content(lines):
        return lines
    cut = _cut_at_dashes(lines)
    if _first_content(cut) < len(cut):
        lines = _trim(cut)
    for _ in range(20):  # each pass removes one trailing element; bounded for safety
        if _at_most_one_content(lines):
            break
        candidate: list[str] | None = None
        if is_mobile_signature(lines[-1]):
            candidate = lines[:-1]
        if candidate is None:
            candidate = _strip_dash_name(lines)
        if candidate is None:
            candidate = _strip_disclaimer(lines)
        if candidate is None:
            candidate = _strip_separator_footer(lines)
        if candidate is None:
            candidate = _strip_contact_block(lines)
        if candidate is None or _first_content(candidate) == len(candidate):
            break
        lines = _trim(candidate)
    return lines
