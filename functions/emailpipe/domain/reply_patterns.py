"""Recognisers for quote headers and signatures written by mail clients: regexes built from reply_words.

Each pattern is compiled on its first use, not at import, so the inbound function's cold start does not pay for
the big multilingual alternations (they compile at the first extraction). The word lists live in reply_words;
`words` turns one kind into an alternation: longest word first, escaped, a space matching any whitespace run.
Every pattern is applied to one line (or at most a few joined lines) that callers cap in length (MAX_LINE,
MAX_HEADER), and none has nested unbounded quantifiers, so matching stays linear even on hostile input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from emailpipe.domain import reply_words as W

MAX_LINE = 1000  # characters of a line that header/signature patterns look at
MAX_HEADER = 400  # characters of a joined multi-line attribution header

HR_MARK = "\ue000"  # private-use line marker that html_text emits for <hr>; never present in real text


def words(kind: W.Words | Iterable[str], space: str = r"\s+") -> str:
    """A regex alternation of the words of one kind (all its languages): longest first, escaped, space = `space`."""
    items = W.every(kind) if isinstance(kind, dict) else tuple(kind)
    ordered = sorted(set(items), key=lambda w: (-len(w), w))
    return "|".join(re.escape(w).replace(r"\ ", space) for w in ordered)


def expressions(kind: W.Words, space: str = r"\s+", **names: str) -> str:
    """An alternation of the regular expressions of one kind; a space in them matches `space`, `{name}` a name."""
    out = []
    for pattern in W.every(kind):
        pattern = pattern.replace(" ", space)
        for name, value in names.items():
            pattern = pattern.replace("{" + name + "}", value)
        out.append(pattern)
    return "|".join(out)


class LazyPattern:
    """A regular expression compiled on first use; it answers what re.Pattern does (match, search, sub, ...).

    The first attribute read compiles the pattern and puts its methods on the instance, so later calls go straight
    to the compiled pattern.
    """

    def __init__(self, build: Callable[[], str | bytes], flags: int = re.IGNORECASE) -> None:
        self._build = build
        self._flags = flags

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        compiled = re.compile(self._build(), self._flags)
        for method in ("match", "fullmatch", "search", "finditer", "findall", "sub", "split", "pattern"):
            setattr(self, method, getattr(compiled, method))
        return getattr(compiled, name)


def lazy(build: Callable[[], str | bytes], flags: int = re.IGNORECASE) -> Any:
    """The pattern `build()` returns, compiled on first use (case-insensitive unless flags say otherwise)."""
    return LazyPattern(build, flags)


# --- "On <date>, <who> wrote:" attribution lines -------------------------------------------------------------------


def _cjk_verbs() -> str:
    """The CJK verbs, found anywhere (a space in them is optional whitespace)."""
    return words(W.ATTRIBUTION_VERBS_CJK, space=r"\s*")


def _verbs() -> str:
    """A verb as a whole word, `(?<!\\w)(?:VERBS)`, or a CJK verb anywhere."""
    return rf"(?<!\w)(?:{words(W.ATTRIBUTION_VERBS)})|{_cjk_verbs()}"


START_RE = lazy(lambda: rf"^\s*+[-–—>]*+\s*+(?:{words(W.ATTRIBUTION_STARTS)})(?:\s|$)")
VERB_RE = lazy(lambda: rf"(?<!\w)(?:{words(W.ATTRIBUTION_VERBS)})(?!\w)|{_cjk_verbs()}")
# "On 11-Apr-2011, at 6:54 PM, Roman <romant@example.com> sent:" is an attribution too, but only after a start word.
SENT_RE = lazy(lambda: r"(?<!\w)sent(?!\w)")
# "On ... wrote" without the colon, e.g. "------On 12/29/1987 17:32 PM, Julius Caesar wrote-----".
VERB_AT_END_RE = lazy(lambda: rf"(?:{_verbs()})\s*+[-–—]*+\s*$")
# Android: "---- John Smith wrote ----".
DASHED_ATTRIBUTION_RE = lazy(
    lambda: rf"^\s*+[-–—]{{2,}}+\s*+\S.{{0,200}}?(?:{_verbs()})\s*+[:：]?+\s*+[-–—]{{2,}}+\s*$"
)
# A reply and an attribution sharing one line: "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:".
SHARED_LINE_RE = lazy(
    lambda: (
        rf"(?:\s|-)(?:{words(W.ATTRIBUTION_STARTS)})\s[^\n]{{4,250}}?"
        rf"(?<!\w)(?:{words(W.ATTRIBUTION_VERBS)})\s*+[:：]\s*$"
    )
)


def starts_attribution(line: str) -> bool:
    """The line opens with an attribution's start word ("On", "Le", "Am", ...), after dashes or '>'."""
    return START_RE.match(line) is not None


def verb_end(text: str) -> int | None:
    """Where the first attribution verb ("wrote", "schrieb", "写道") in text ends; None if there is none."""
    found = VERB_RE.search(text)
    return found.end() if found else None


def starts_with_verb(text: str) -> bool:
    """The text starts with an attribution verb ("wrote:" on a line of its own)."""
    return VERB_RE.match(text) is not None


def has_verb_or_sent(text: str) -> bool:
    """The text holds an attribution verb or "sent"."""
    return VERB_RE.search(text) is not None or SENT_RE.search(text) is not None


def starts_with_verb_or_sent(text: str) -> bool:
    """The text starts with an attribution verb or "sent"."""
    return VERB_RE.match(text) is not None or SENT_RE.match(text) is not None


def ends_with_verb(text: str) -> bool:
    """The text ends with an attribution verb, then perhaps dashes ("... Julius Caesar wrote-----")."""
    return VERB_AT_END_RE.search(text) is not None


def is_dashed_attribution(line: str) -> bool:
    """Android's "---- John Smith wrote ----"."""
    return DASHED_ATTRIBUTION_RE.match(line) is not None


def shared_line_start(line: str, pos: int = 0) -> int | None:
    """Where an attribution that shares its line with the reply starts (at or after pos); None if there is none.

    "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:": the match runs to the end of the line.
    """
    if not line.rstrip().endswith((":", "：")):
        return None  # what the pattern needs at the end, checked first because this runs on every line
    found = SHARED_LINE_RE.search(line, pos)
    return found.start() if found else None


# A date or a time: years, numeric dates, clock times, CJK dates.
DATEISH_RE = lazy(
    lambda: (
        r"(?:(?<!\d)(?:19|20)\d\d(?!\d))|(?:\d{1,2}[:.h]\d\d)|(?:\d{1,4}[-./]\d{1,2}[-./]\d{1,4})"
        r"|(?:\d{1,4}\s*[年月日])"
    ),
    0,
)
# Attribution terminator: the (joined) header ends with a colon, ASCII or full width.
ENDS_COLON_RE = lazy(lambda: r"[:：]\s*+[*_]*+\s*$", 0)
EMAILISH_RE = lazy(lambda: r"[\w.+\-]@[\w\-]+\.[\w.\-]|mailto:")
# An address written the way attribution lines write it: in angle brackets, parentheses, brackets or quotes.
EMAIL_BRACKETED_RE = lazy(
    lambda: r"[<(\[\"«]\s*(?:mailto:)?[^\s<>()\[\]@]{1,100}@[^\s<>()\[\]]{1,200}?\s*[>)\]\"»]|\[mailto:"
)
# A line that starts with a date, e.g. "2014-10-17 11:28 GMT+03:00 Postmaster <...>:", "26.06.2014, 14:41, ..." or a
# weekday and a numeric date ("ti 8.4.2025 klo 10.14", Finnish Gmail).
DATE_START_RE = lazy(
    lambda: (
        r"^\s*(?:\d{1,4}[-./年]\s*\d{1,2}[-./月]\s*\d{1,4}|\d{1,2}\s+\w{3,}\.?\s+\d{4}"
        r"|\w{2,12}\.?,?\s+\d{1,2}\.?\s+\w{3,}\.?\s+\d{4}|\w{2,12}\.?,?\s+\d{1,2}\.\s?\d{1,2}\.\s?\d{2,4})"
    ),
    0,
)

# Gmail's numeric attribution with the address left out: "2016-03-03 17:21 GMT+01:00 Jane Doe" (no colon after).
DATE_GMT_NAME_RE = lazy(
    lambda: r"^\s*(?:19|20)\d\d-\d\d-\d\d\s+\d{1,2}:\d\d\s+GMT[+-]\d{1,2}:?\d\d\s+[^\s:][^:]{0,80}?(?<![.!?])\s*$", 0
)

# A line that ends a sentence: terminal punctuation after a word longer than an abbreviation ("mar.", "Di., 5.").
SENTENCE_END_RE = lazy(lambda: r"[^\W\d_]{5,}[.!?]\)?\s*$|[!?]\s*$", 0)

# --- Outlook / webmail header blocks ("From: ... Sent: ... To: ... Subject: ...") ----------------------------------

# The field's kind is the name of the group that matched; a name in several kinds gets the first.
FIELD_RE = lazy(
    lambda: (
        r"^\s*+[*_]{0,2}+\s*+(?:"
        rf"(?P<from>{words(W.HEADER_FROM)})|(?P<sent>{words(W.HEADER_SENT)})|(?P<to>{words(W.HEADER_TO)})"
        rf"|(?P<cc>{words(W.HEADER_CC)})|(?P<subject>{words(W.HEADER_SUBJECT)})|(?P<other>{words(W.HEADER_OTHER)})"
        r")\s*+[*_]{0,2}+\s*+[:：]"
    )
)
# A header field named inside a single rendered line ("From: bob@example.com Date: Thu, 24 Mar 2016 ...").
INLINE_FIELD_RE = lazy(
    lambda: (
        rf"\s[*_]{{0,2}}(?:{words((*W.every(W.HEADER_SENT), *W.every(W.HEADER_TO), *W.every(W.HEADER_SUBJECT)))})"
        r"[*_]{0,2}\s*+[:：]"
    )
)
# Any "Word:" line, used to stop a header block at unknown fields such as "Time:" or "Address:".
GENERIC_FIELD_RE = lazy(lambda: r"^\s*[*_]{0,2}[^\s:：]{1,25}(?:\s[^\s:：]{1,25}){0,2}[*_]{0,2}\s*[:：]", 0)


def field_kind(line: str) -> str | None:
    """The kind of header field the line opens with: 'from', 'sent', 'to', 'cc', 'subject', 'other', or None."""
    found = FIELD_RE.match(line)
    return found.lastgroup if found else None


def has_inline_field(line: str) -> bool:
    """A Sent/To/Subject field is named inside the line, after whitespace."""
    return INLINE_FIELD_RE.search(line) is not None


# --- Separators -------------------------------------------------------------------------------------------------

_RULE = "[-_=*—–~]"
ORIGINAL_MESSAGE_RE = lazy(
    lambda: rf"^\s*+{_RULE}*+\s*+(?:{words(W.ORIGINAL_MESSAGE)})\s*+[:：]?+\s*+{_RULE}*+\s*$",
)
# "---------- Forwarded message ---------" (may follow '>').
FORWARDED_RE = lazy(lambda: rf"^\s*+[-_=*—–~>]*+\s*+(?:{words(W.FORWARDED_MESSAGE)})\s*+[:：]?+\s*+{_RULE}*+\s*$")


def is_original_message(line: str) -> bool:
    """The line is "-----Original Message-----" or a translation of it."""
    return ORIGINAL_MESSAGE_RE.match(line) is not None


def is_forward_marker(line: str) -> bool:
    """The line is "---------- Forwarded message ---------", "Begin forwarded message:" or a translation."""
    return FORWARDED_RE.match(line) is not None


# Horizontal rules written with characters: Outlook's underscores, dashes, equals, box drawing, or an <hr> marker.
SEPARATOR_RE = lazy(lambda: rf"^\s*(?:[-_=—–~*]\s*){{2,}}$|^\s*{HR_MARK}\s*$", 0)
LONG_SEPARATOR_RE = lazy(lambda: rf"^\s*(?:[_=—–~]{{8,}}|-{{8,}}|{HR_MARK})\s*$", 0)


def is_separator(line: str) -> bool:
    """The line is a rule: two or more of - _ = — – ~ * (spaces between allowed), or an <hr>."""
    return SEPARATOR_RE.match(line) is not None


def is_long_separator(line: str) -> bool:
    """The line is a long rule (eight or more of one family) or an <hr>: Outlook's divider above a header block."""
    return LONG_SEPARATOR_RE.match(line) is not None


# --- Subject prefixes ("Fwd: RE: ...") -----------------------------------------------------------------------------

# Up to three "[tag]"s ("[EXTERNAL]", "[#123]"), a prefix word, an optional count ("Re[2]", "AW(3)"), a colon.
_SUBJECT_PREFIX_RE = lazy(
    lambda: (
        r"\s*(?:\[[^\]\n]{0,60}\]\s*){0,3}"
        rf"(?:(?P<forward>{words(W.SUBJECT_FORWARD_PREFIXES)})|(?P<reply>{words(W.SUBJECT_REPLY_PREFIXES)}))"
        r"\s*(?:\[\d{1,4}\]|\(\d{1,4}\))?\s*[:：]"
    )
)
_OLD_FORWARD = ("fwd:", "fw: ")  # "[Fwd: Broken widget]", as Netscape and old Thunderbird wrote it


def _subject_prefixes(subject: str) -> tuple[list[str], int]:
    """The kinds ('forward', 'reply') of the prefixes in front of a subject, outermost first, and where the rest
    begins."""
    found: list[str] = []
    pos = 0
    head = subject[:MAX_LINE]
    while len(found) < 20:
        match = _SUBJECT_PREFIX_RE.match(head, pos)
        if match is None:
            break
        found.append(match.lastgroup)
        pos = match.end()
    return found, pos


def is_forward_subject(subject: str | None) -> bool:
    """True when the outermost prefix of a subject says forward ("Fwd:", "FW: RE:", "WG:", "[ext] TR:", "[Fwd: x]")."""
    if not subject:
        return False
    found, _ = _subject_prefixes(subject)
    if found:
        return found[0] == "forward"
    head = subject.lstrip()
    return head[:1] == "[" and head[1:5].lower() in _OLD_FORWARD


def strip_subject_prefixes(subject: str) -> str:
    """The subject without its leading reply and forward prefixes (and an old-style "[Fwd: ...]" wrapper)."""
    found, pos = _subject_prefixes(subject)
    rest = subject[pos:].strip() if found else subject.strip()
    if rest.startswith("[") and rest.endswith("]") and rest[1:5].lower() in _OLD_FORWARD:
        return strip_subject_prefixes(rest[1:-1].split(":", 1)[1])
    return rest


# --- Quotes -----------------------------------------------------------------------------------------------------

QUOTE_RE = lazy(lambda: r"^[ \t]{0,3}>", 0)
# "| quoted text" as some webmails and forum gateways quote (reply_quotes.is_quote: not a line ending with a pipe,
# which is a Markdown table row).
PIPE_QUOTE_RE = lazy(lambda: r"^[ \t]{0,3}\|(?:[ \t]|$)", 0)
# ">>> >>>  http://www.domain.com <<<" is decoration, not a quote.
ARROW_DECORATION_RE = lazy(lambda: r"<<\s*$", 0)

# --- Signatures -------------------------------------------------------------------------------------------------

SIG_DASHES_RE = lazy(lambda: r"^(?:--|—|––)\s*$", 0)
# Separator lines that may open a trailing signature or list footer ("---", "________", "----------------").
SIG_SEPARATOR_RE = lazy(lambda: r"^\s*(?:(?:[-_—–]\s*){2,}|={10,}\s*)$", 0)
# "-Abhishek Kona", "- roman", "-Lev.": a hyphen followed by a short name; "--Daniel" too when the name is capitalised
# ("--verbose" on the last line is a command-line option). An em or en dash ("—Ryan", what macOS and iOS make of a
# typed "--") is how people sign the reply itself, and stays.
DASH_NAME_RE = lazy(
    lambda: r"^\s{0,2}(?:-|--(?!\s?[a-z]))\s?[^\W\d_][\w'’.\-]{0,24}(?:\s[^\W\d_][\w'’.\-]{0,24}){0,2}\s*$", 0
)
# "/Jens", "/ Kari Nordmann": a name signed with a slash (Scandinavian).
SLASH_NAME_RE = lazy(lambda: r"^\s{0,2}/\s?[^\W\d_][\w'’.\-]{0,24}(?:\s[^\W\d_][\w'’.\-]{0,24}){0,2}\s*$", 0)
LIST_ITEM_RE = lazy(lambda: r"^\s*(?:[-*•+–]|\d{1,3}[.)])\s", 0)


def is_sig_separator(line: str) -> bool:
    """The line is a rule that may open a signature: two or more dashes or underscores, or ten or more '='."""
    return SIG_SEPARATOR_RE.match(line) is not None


def is_list_item(line: str) -> bool:
    """The line is a bulleted or numbered list item ("- x", "• x", "1. x", "2) x")."""
    return LIST_ITEM_RE.match(line) is not None


# Mobile and app signatures in many languages, the whole line. Links the client appends ("<https://aka.ms/...>")
# are stripped before matching.
MOBILE_SIG_RE = lazy(
    lambda: r"^\s*(?:" + expressions(W.MOBILE_FOOTERS, device=words(W.MOBILE_DEVICES), model=r"[\w®'’\-.&]+") + r")\s*$"
)
# CJK mobile signatures: "从我的iPhone发送", "发自我的iPhone", "iPhoneから送信", "Android에서 보냄".
MOBILE_SIG_CJK_RE = lazy(lambda: r"^\s*(?:" + expressions(W.MOBILE_FOOTERS_CJK, space=r"\s*") + r")\s*[。.!！]?\s*$")


def is_mobile_footer(text: str) -> bool:
    """The whole text (leading/trailing whitespace aside) is a mobile or app signature ("Sent from my iPhone")."""
    return MOBILE_SIG_RE.match(text) is not None


def is_cjk_mobile_footer(text: str) -> bool:
    """The whole text is a CJK mobile signature."""
    return MOBILE_SIG_CJK_RE.match(text) is not None


# "Sent from my desk, is much easier then my mobile phone." is a sentence, not a signature.
SENTENCE_AFTER_COMMA_RE = lazy(lambda: r",\s+(?:is|it|it's|was|and|but|so|because|which|that|i|we|you|he|she|they)\b")
LINK_IN_LINE_RE = lazy(
    lambda: r"<(?:https?|mailto):[^>\s]{0,500}>|\[(?:https?|mailto):[^\]\s]{0,500}\]|\(https?:[^)\s]{0,500}\)", 0
)

# Confidentiality notices and list footers that end a message.
DISCLAIMER_RE = lazy(lambda: r"^\s*[*_]{0,2}(?:" + expressions(W.DISCLAIMERS) + ")")
# A disclaimer opener only counts when the paragraph reads like legal boilerplate (so "Confidential: do not share
# the numbers." written by the sender stays).
LEGAL_WORDS_RE = lazy(lambda: words(W.LEGAL_WORDS))


def is_disclaimer(line: str) -> bool:
    """The line opens a confidentiality notice or a list footer ("CONFIDENTIALITY NOTICE:", "Ce message ...")."""
    return DISCLAIMER_RE.match(line) is not None


def has_legal_words(text: str) -> bool:
    """The text holds a word of legal boilerplate ("intended", "recipient", "vertraulich", ...)."""
    return LEGAL_WORDS_RE.search(text) is not None


# Lines of a contact block: addresses, phones, links, handles.
CONTACT_RE = lazy(
    lambda: (
        r"[\w.+\-]@[\w\-]+\.\w|https?://|www\.|\b[\w\-]+\.(?:com|org|net|io|co|de|fr|uk)\b"
        r"|(?:\+?\d[\d\s().\-]{6,}\d)|^\s*(?:t|f|m|p|tel|fax|mob|mobile|phone|cell|skype|e|email)\s*[.:]"
    )
)
