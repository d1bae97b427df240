"""Recognisers for quote headers and signatures written by mail clients: precompiled, linear-time patterns.

Import cost matters here (it is paid on every Lambda cold start), so the big multilingual word lists are not compiled
into regex alternations. A short generic pattern or str methods find the candidate word or phrase, which is then looked
up in a frozenset after `fold`, the same character comparison re.IGNORECASE makes. Each recogniser names the pattern it
stands for; tests/unit/test_reply_patterns.py checks every one against that pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from emailpipe.domain import reply_words as W
from emailpipe.domain.casefold import fold
from emailpipe.domain.phrase_match import (
    BOUNDARY,
    END,
    SPACE,
    SPACE0,
    WORD,
    AnyChars,
    Chars,
    Either,
    Maybe,
    Phrases,
    Repeat,
    Step,
    Words,
    is_word,
    run,
)

# Every pattern here is applied to one line (or at most a few joined lines) that callers cap in length, and none has
# nested unbounded quantifiers, so matching stays linear even on hostile input.

MAX_LINE = 1000  # characters of a line that header/signature patterns look at
MAX_HEADER = 400  # characters of a joined multi-line attribution header

HR_MARK = "\ue000"  # private-use line marker that html_text emits for <hr>; never present in real text

# --- Word lists ------------------------------------------------------------------------------------------------


def _words(words: tuple[str, ...]) -> frozenset[str]:
    """Fold a word list; a space inside an entry stands for a run of whitespace (it was \\s+)."""
    return frozenset(fold(w) for w in words)


def _key(phrase: str) -> str:
    """Lookup key of a phrase found in text: whitespace runs collapsed to one space, then folded."""
    return fold(" ".join(phrase.split()))


def _max_tokens(*word_sets: frozenset[str]) -> int:
    return max(w.count(" ") for words in word_sets for w in words) + 1


def _skip_space(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    return pos


def _phrase_end(text: str, pos: int, tokens: tuple[str, ...]) -> int:
    """Return where the folded phrase `tokens` (words joined by \\s+) ends if it matches text at pos, else -1."""
    for i, token in enumerate(tokens):
        if i:
            after = _skip_space(text, pos)  # the next word starts with a non-space, so \s+ takes the whole run
            if after == pos:
                return -1
            pos = after
        if fold(text[pos : pos + len(token)]) != token:
            return -1
        pos += len(token)
    return pos


class LinePattern:
    """Stand-in for a compiled pattern that callers use only as `bool(X.match(line))`.

    match() returns the recogniser's result, which is truthy exactly when the pattern it replaces matched.
    """

    __slots__ = ("match",)

    def __init__(self, predicate: Callable[[str], object]) -> None:
        self.match = predicate


# --- "On <date>, <who> wrote:" attribution lines -------------------------------------------------------------

# Words that open an attribution line in the languages mail clients localise (en, fr, de, es, it, pt, nl, pl, sv,
# no, da, cs, vi, ro, el ...).
_START_WORDS = _words(W.every(W.ATTRIBUTION_STARTS))
# Verbs that close (or sit inside) an attribution line.
_VERBS = _words(W.every(W.ATTRIBUTION_VERBS))
# Verbs of CJK clients, found without word boundaries (none has case): the old ASIAN alternation
# `写道|寫道|寫到|写到|のメッセージ|のメール|작성|님의\s*메시지|が書きました|は書きました`. No two of them can
# overlap, and at most one can start at a given position.
_VERBS_ASIAN = tuple(w for w in W.every(W.ATTRIBUTION_VERBS_CJK) if " " not in w)
((_ASIAN_HEAD, _ASIAN_TAIL),) = (w.split(" ") for w in W.every(W.ATTRIBUTION_VERBS_CJK) if " " in w)  # 님의\s*메시지


def _asian_verb(text: str, pos: int = 0, anchored: bool = False) -> tuple[int, int] | None:
    """(start, end) of the leftmost CJK verb at or after pos (anchored: only one starting at pos)."""
    if text.isascii():
        return None
    best = None
    stop = pos + 1 if anchored else len(text)
    for verb in _VERBS_ASIAN:
        start = text.find(verb, pos, stop + len(verb) - 1)
        if start >= 0 and (best is None or start < best[0]):
            best = (start, start + len(verb))
    start = text.find(_ASIAN_HEAD, pos, stop + 1)
    while start >= 0 and (best is None or start < best[0]):
        after = _skip_space(text, start + 2)
        if text.startswith(_ASIAN_TAIL, after):
            return start, after + 3
        start = text.find(_ASIAN_HEAD, start + 1, stop + 1)
    return best


def _asian_verbs_ending_at(text: str, end: int) -> list[int]:
    """Starts of the CJK verbs that end exactly at `end`."""
    if text.isascii():
        return []
    starts = [end - len(verb) for verb in _VERBS_ASIAN if end >= len(verb) and text.startswith(verb, end - len(verb))]
    if end >= 3 and text.startswith(_ASIAN_TAIL, end - 3):
        head = len(text[: end - 3].rstrip())  # \s* takes the whole run of whitespace before 메시지
        if head >= 2 and text.startswith(_ASIAN_HEAD, head - 2):
            starts.append(head - 2)
    return starts


_START_TOKENS = _max_tokens(_START_WORDS)
_START_LETTERS = frozenset(w[:2] for w in _START_WORDS)  # each start word's first two letters
# First word -> its phrases as token tuples.
_START_PHRASES: dict[str, list[tuple[str, ...]]] = {}
for _w in _START_WORDS:
    _START_PHRASES.setdefault(_w.split(" ")[0], []).append(tuple(_w.split(" ")))

_WORD_RUN_RE = re.compile(r"(?<!\w)\w+")


def _verb_index(words: frozenset[str]) -> dict[str, list[tuple[str, ...]]]:
    """Map the first \\w-run of each verb to its phrases (token tuples), longest first like the old alternation."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for word in sorted(words, key=len, reverse=True):
        head = _WORD_RUN_RE.match(word)
        assert head is not None, word  # every verb starts with a word character
        index.setdefault(head.group(), []).append(tuple(word.split(" ")))
    return index


_VERB_INDEX = _verb_index(_VERBS)
_VERB_OR_SENT_INDEX = _verb_index(_VERBS | {"sent"})


def _verbs_at(text: str, word: re.Match[str], index: dict[str, list[tuple[str, ...]]]) -> list[int]:
    """Return the ends of the verbs that match at the start of a \\w-run, longest verb first.

    A verb starts where (?<!\\w) holds, and every caller needs a non-word character (or the end) after it, so the
    verb's leading word characters are exactly the text's whole \\w-run there: the run is the lookup key.
    """
    phrases = index.get(fold(word.group()))
    if not phrases:
        return []
    ends = []
    for tokens in phrases:
        end = _phrase_end(text, word.start(), tokens)
        if end >= 0:
            ends.append(end)
    return ends


def _first_verb(text: str, index: dict[str, list[tuple[str, ...]]], pos: int = 0) -> tuple[int, int] | None:
    """Leftmost (start, end) of `(?:(?<!\\w)(?:VERBS)(?!\\w))|(?:ASIAN)` in text, with the alternative re picks."""
    found = None
    for word in _WORD_RUN_RE.finditer(text, pos):
        for end in _verbs_at(text, word, index):
            if not is_word(text, end):
                found = (word.start(), end)
                break
        if found:
            break
    asian = _asian_verb(text, pos)
    if asian and (found is None or asian[0] < found[0]):
        return asian
    return found


def _verb_starts_ending_at(text: str, end: int, asian: bool) -> list[int]:
    """Starts of all `(?<!\\w)(?:VERBS)` (and, with asian, ASIAN) occurrences that end exactly at `end`."""
    starts = []
    for word in _WORD_RUN_RE.finditer(text):
        if word.start() >= end:
            break
        if end in _verbs_at(text, word, _VERB_INDEX):
            starts.append(word.start())
    if asian:
        starts.extend(_asian_verbs_ending_at(text, end))
    return starts


def starts_attribution(line: str) -> bool:
    """START_RE.match: `^\\s*+[-–—>]*+\\s*+(?:START_WORDS)(?:\\s|$)` with re.IGNORECASE."""
    head = line.lstrip().lstrip("-–—>").lstrip()
    letters = fold(head[:2])
    if letters[1:].isspace():
        letters = letters[0] + " "  # "W dniu": the space stands for any whitespace run
    if letters not in _START_LETTERS:
        return False
    tokens = head.split(None, _START_TOKENS)
    if not tokens or fold(tokens[0]) not in _START_PHRASES:
        return False
    # A start word ends where the text has whitespace or its end, so it is made of whole whitespace-split tokens.
    return any(_key(" ".join(tokens[:n])) in _START_WORDS for n in range(1, min(len(tokens), _START_TOKENS) + 1))


def verb_end(text: str) -> int | None:
    """VERB_RE.search(text).end(): `(?:(?<!\\w)(?:VERBS)(?!\\w))|(?:ASIAN)` with re.IGNORECASE; None if absent."""
    found = _first_verb(text, _VERB_INDEX)
    return found[1] if found else None


def _starts_with_verb(text: str, index: dict[str, list[tuple[str, ...]]]) -> bool:
    """`(?:(?<!\\w)(?:VERBS of index)(?!\\w))|(?:ASIAN)` matched at the start of text, with re.IGNORECASE."""
    run = _WORD_RUN_RE.match(text)
    if run and any(not is_word(text, end) for end in _verbs_at(text, run, index)):
        return True
    return _asian_verb(text, anchored=True) is not None


def starts_with_verb(text: str) -> bool:
    """VERB_RE.match(text)."""
    return _starts_with_verb(text, _VERB_INDEX)


def has_verb_or_sent(text: str) -> bool:
    """VERB_OR_SENT_RE.search(text): `(?:(?<!\\w)(?:VERBS|sent)(?!\\w))|(?:ASIAN)` with re.IGNORECASE."""
    return _first_verb(text, _VERB_OR_SENT_INDEX) is not None


def starts_with_verb_or_sent(text: str) -> bool:
    """VERB_OR_SENT_RE.match(text)."""
    return _starts_with_verb(text, _VERB_OR_SENT_INDEX)


def ends_with_verb(text: str) -> bool:
    """VERB_AT_END_RE.search: `(?:(?<!\\w)(?:VERBS)|ASIAN)\\s*[-–—]*\\s*$` with re.IGNORECASE.

    "On ... wrote" without the colon, e.g. "------On 12/29/1987 17:32 PM, Julius Caesar wrote-----".
    """
    # The verb ends with neither whitespace nor a dash, so it must end where the trailing run of those begins.
    end = len(text.rstrip().rstrip("-–—").rstrip())
    return end > 0 and bool(_verb_starts_ending_at(text, end, asian=True))


def is_dashed_attribution(line: str) -> bool:
    """DASHED_ATTRIBUTION_RE.match, with re.IGNORECASE, for Android's "---- John Smith wrote ----":

    `^\\s*+[-–—]{2,}+\\s*+\\S.{0,200}?(?:(?<!\\w)(?:VERBS)|ASIAN)\\s*[:：]?\\s*[-–—]{2,}\\s*$`
    """
    head = line.lstrip()
    dashed = head.lstrip("-–—")
    if len(head) - len(dashed) < 2:
        return False
    body = dashed.lstrip()
    if not body:
        return False
    first = len(line) - len(body)  # the \S
    # Parse the tail from the right: whitespace, two or more dashes, whitespace, an optional colon, whitespace.
    tail = line.rstrip()
    end = len(tail.rstrip("-–—"))
    if len(tail) - end < 2:
        return False
    tail = tail[:end].rstrip()
    if tail.endswith((":", "：")):
        tail = tail[:-1].rstrip()
    end = len(tail)
    # The verb starts 1 to 201 characters after the \S, with no line break in between (.{0,200}).
    return any(
        first < start <= first + 201 and "\n" not in line[first + 1 : start]
        for start in _verb_starts_ending_at(line, end, asian=True)
    )


_START_FIRST_LONGEST = max(map(len, _START_PHRASES))


def shared_line_start(line: str, pos: int = 0) -> int | None:
    """SHARED_LINE_RE.search(line, pos).start(); that match always runs to the end of the line. None if no match.

    `(?:\\s|-)(?:START_WORDS)\\s[^\\n]{4,250}?(?:(?<!\\w)(?:VERBS))\\s*[:：]\\s*$` with re.IGNORECASE: a reply and an
    attribution sharing one line, "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:".
    """
    if not line.endswith((":", "：")) and not line[-1:].isspace():
        return None
    tail = line.rstrip()
    if not tail.endswith((":", "：")):
        return None
    verbs = _verb_starts_ending_at(line, len(tail[:-1].rstrip()), asian=False)
    if not verbs:
        return None
    n = len(line)
    for at in range(pos, n - 1):
        if not (line[at].isspace() or line[at] == "-"):
            continue
        # The start word's first token runs from here to the next whitespace.
        start = stop = at + 1
        while stop < n and stop - start <= _START_FIRST_LONGEST and not line[stop].isspace():
            stop += 1
        if stop == start or not line[stop : stop + 1].isspace():
            continue
        for tokens in _START_PHRASES.get(fold(line[start:stop]), ()):
            end = _phrase_end(line, start, tokens)
            if end < 0 or not line[end : end + 1].isspace():
                continue
            gap = end + 1  # one whitespace character (\s), then 4 to 250 characters other than a line break
            if any(4 <= verb - gap <= 250 and "\n" not in line[gap:verb] for verb in verbs):
                return at
    return None


# A date or a time: years, numeric dates, clock times, CJK dates.
DATEISH_RE = re.compile(
    r"(?:(?<!\d)(?:19|20)\d\d(?!\d))|(?:\d{1,2}[:.h]\d\d)|(?:\d{1,4}[-./]\d{1,2}[-./]\d{1,4})|(?:\d{1,4}\s*[年月日])"
)
# Attribution terminator: the (joined) header ends with a colon, ASCII or full width.
ENDS_COLON_RE = re.compile(r"[:：]\s*[*_]*\s*$")
EMAILISH_RE = re.compile(r"[\w.+\-]@[\w\-]+\.[\w.\-]|mailto:", re.IGNORECASE)
# An address written the way attribution lines write it: in angle brackets, parentheses, brackets or quotes.
EMAIL_BRACKETED_RE = re.compile(
    r"[<(\[\"«]\s*(?:mailto:)?[^\s<>()\[\]@]{1,100}@[^\s<>()\[\]]{1,200}?\s*[>)\]\"»]|\[mailto:", re.IGNORECASE
)
# A line that starts with a date, e.g. "2014-10-17 11:28 GMT+03:00 Postmaster <...>:" or "26.06.2014, 14:41, ...".
DATE_START_RE = re.compile(
    r"^\s*(?:\d{1,4}[-./年]\s*\d{1,2}[-./月]\s*\d{1,4}|\d{1,2}\s+\w{3,}\.?\s+\d{4}|\w{2,12}\.?,?\s+\d{1,2}\.?\s+\w{3,}\.?\s+\d{4})"
)

# A line that ends a sentence: terminal punctuation after a word longer than an abbreviation ("mar.", "Di., 5.").
SENTENCE_END_RE = re.compile(r"[^\W\d_]{5,}[.!?]\)?\s*$|[!?]\s*$")

# --- Outlook / webmail header blocks ("From: ... Sent: ... To: ... Subject: ...") -------------------------------

_FIELD_FROM = _words(W.every(W.HEADER_FROM))
_FIELD_SENT = _words(W.every(W.HEADER_SENT))
_FIELD_TO = _words(W.every(W.HEADER_TO))
_FIELD_CC = _words(W.every(W.HEADER_CC))
_FIELD_SUBJECT = _words(W.every(W.HEADER_SUBJECT))
_FIELD_OTHER = _words(W.every(W.HEADER_OTHER))

# Field name -> kind. A name in several lists gets the first kind, as the old (?P<from>...)|(?P<sent>...)|... did.
_FIELD_KINDS: dict[str, str] = {}
for _kind, _names in (
    ("other", _FIELD_OTHER),
    ("subject", _FIELD_SUBJECT),
    ("cc", _FIELD_CC),
    ("to", _FIELD_TO),
    ("sent", _FIELD_SENT),
    ("from", _FIELD_FROM),
):
    _FIELD_KINDS.update(dict.fromkeys(_names, _kind))
_FIELD_TOKENS = _max_tokens(_FIELD_FROM, _FIELD_SENT, _FIELD_TO, _FIELD_CC, _FIELD_SUBJECT, _FIELD_OTHER)
_INLINE_FIELDS = _FIELD_SENT | _FIELD_TO | _FIELD_SUBJECT
_INLINE_TOKENS = _max_tokens(_INLINE_FIELDS)


def _strip_marks(text: str) -> str:
    """Drop up to two trailing '*'/'_' (the [*_]{0,2} around a field name)."""
    for _ in range(2):
        if text.endswith(("*", "_")):
            text = text[:-1]
    return text


def field_kind(line: str) -> str | None:
    """FIELD_RE.match(line).lastgroup ('from', 'sent', 'to', 'cc', 'subject', 'other'), or None, for the pattern

    `^\\s*+[*_]{0,2}+\\s*+(?:(?P<from>FROM)|(?P<sent>SENT)|...)\\s*[*_]{0,2}\\s*[:：]` with re.IGNORECASE.
    """
    if ":" not in line and "：" not in line:
        return None
    head = line.lstrip()
    marks = 0
    while marks < 2 and head[marks : marks + 1] in ("*", "_"):
        marks += 1
    head = head[marks:].lstrip()
    # A field name holds no colon and neither does what follows it, so the name runs up to the first colon; it ends
    # with a letter, so what lies between is exactly the trailing run of whitespace and marks.
    colon = head.find(":")
    wide = head.find("：", 0, colon if colon >= 0 else len(head))
    if wide >= 0:
        colon = wide
    if colon < 0:
        return None
    name = _strip_marks(head[:colon].rstrip()).rstrip()
    tokens = name.split(None, _FIELD_TOKENS)
    if not tokens or len(tokens) > _FIELD_TOKENS:
        return None
    return _FIELD_KINDS.get(fold(" ".join(tokens)))


FIELD_RE = LinePattern(field_kind)


def _colons(text: str) -> list[int]:
    """Positions of ':' and '：' in text, in order."""
    found = [i for i, c in enumerate(text) if c == ":" or c == "："] if "：" in text else []
    if not found:
        at = text.find(":")
        while at >= 0:
            found.append(at)
            at = text.find(":", at + 1)
    return found


# Longest word of a field name, plus the two marks that may precede it.
_INLINE_SPAN = max(len(t) for w in _INLINE_FIELDS for t in w.split(" ")) + 2


def has_inline_field(line: str) -> bool:
    """INLINE_FIELD_RE.search: `\\s[*_]{0,2}(?:SENT|TO|SUBJECT)[*_]{0,2}\\s*[:：]` with re.IGNORECASE.

    A header field named inside a single rendered line ("From: bob@example.com Date: Thu, 24 Mar 2016 ...").
    """
    for colon in _colons(line):
        # Right to left from the colon: whitespace, up to two marks, then the name, which ends with a letter.
        end = colon
        while end > 0 and line[end - 1].isspace():
            end -= 1
        for _ in range(2):
            if end > 0 and line[end - 1] in "*_":
                end -= 1
        if end == 0 or line[end - 1].isspace():
            continue
        # The name is one or more whole words, the first following whitespace and up to two marks.
        start = end
        for _ in range(_INLINE_TOKENS):
            low = max(0, start - _INLINE_SPAN - 1)
            while start > low and not line[start - 1].isspace():
                start -= 1
            if start == 0 or not line[start - 1].isspace():
                break  # at the start of the line, or a word longer than any field name
            for marks in range(3):
                if marks and line[start + marks - 1] not in "*_":
                    break
                if _key(line[start + marks : end]) in _INLINE_FIELDS:
                    return True
            while start > 0 and line[start - 1].isspace():
                start -= 1
            if start == 0:
                break
    return False


# Any "Word:" line, used to stop a header block at unknown fields such as "Time:" or "Address:".
GENERIC_FIELD_RE = re.compile(r"^\s*[*_]{0,2}[^\s:：]{1,25}(?:\s[^\s:：]{1,25}){0,2}[*_]{0,2}\s*[:：]")

# --- Separators -------------------------------------------------------------------------------------------------

_ORIGINAL = _words(W.every(W.ORIGINAL_MESSAGE))
_FORWARDED = _words(W.every(W.FORWARDED_MESSAGE))
_ORIGINAL_LETTERS = frozenset(w[:2] for w in _ORIGINAL)
_FORWARDED_LETTERS = frozenset(w[:2] for w in _FORWARDED)
_RULE_CHARS = "-_=*—–~"


def _marker_line(line: str, lead: str, phrases: frozenset[str], letters: frozenset[str]) -> bool:
    """`^\\s*+[lead]*+\\s*+(?:PHRASES)\\s*[:：]?\\s*[-_=*—–~]*\\s*$` with re.IGNORECASE.

    letters holds the first two letters of every phrase.
    """
    # Phrases start and end with letters, so the decoration on each side is exactly what the strips remove.
    name = line.lstrip().lstrip(lead).lstrip()
    if fold(name[:2]) not in letters:
        return False
    name = name.rstrip().rstrip(_RULE_CHARS).rstrip()
    if name.endswith((":", "：")):
        name = name[:-1].rstrip()
    return bool(name) and _key(name) in phrases


def is_original_message(line: str) -> bool:
    """ORIGINAL_MESSAGE_RE.match: "-----Original Message-----" and its translations."""
    return _marker_line(line, _RULE_CHARS, _ORIGINAL, _ORIGINAL_LETTERS)


def is_forward_marker(line: str) -> bool:
    """FORWARDED_RE.match: "---------- Forwarded message ---------" and its translations (may follow '>')."""
    return _marker_line(line, _RULE_CHARS + ">", _FORWARDED, _FORWARDED_LETTERS)


FORWARDED_RE = LinePattern(is_forward_marker)

# --- Subject prefixes -------------------------------------------------------------------------------------------

# What mail clients put in front of a forwarded email's subject, in their languages: Fwd/Fw (en and most), WG (de),
# TR (fr), RV (es), I (it), Doorst (nl), ENC (pt), VB (sv), VS (da, no; Finnish Outlook writes VS for a reply, and
# then only a reply whose history is an Outlook header block is kept whole), VL (fi), PD (pl), PŘ (cs), TOV (hu),
# İLT (tr), ΠΘ (el), Пересл (ru), 转发/轉寄 (zh), 転送 (ja), 전달 (ko).
_FORWARD_PREFIXES = _words(W.every(W.SUBJECT_FORWARD_PREFIXES))
# Reply prefixes: Re (en and most), AW (de), SV (sv, da, no), Antw (nl), R/RIF (it), RES (pt), ODP (pl), Ynt (tr),
# Отв/Ответ (ru), ΑΠ/ΣΧΕΤ (el), 回复/回覆/答复 (zh), 返信 (ja), 답장/회신 (ko).
_REPLY_PREFIXES = _words(W.every(W.SUBJECT_REPLY_PREFIXES))
# Up to three "[tag]"s ("[EXTERNAL]", "[#123]"), then a word of letters, an optional count ("Re[2]", "AW(3)"), a colon.
_SUBJECT_PREFIX_RE = re.compile(
    r"\s*(?:\[[^\]\n]{0,60}\]\s*){0,3}([^\W\d_]{1,12})\s*(?:\[\d{1,4}\]|\(\d{1,4}\))?\s*[:：]"
)
_OLD_FORWARD = ("fwd:", "fw: ")  # "[Fwd: Broken widget]", as Netscape and old Thunderbird wrote it


def _subject_prefixes(subject: str) -> tuple[list[str], int]:
    """The folded reply/forward prefixes in front of a subject, outermost first, and where the rest begins."""
    found: list[str] = []
    pos = 0
    head = subject[:MAX_LINE]
    while len(found) < 20:
        match = _SUBJECT_PREFIX_RE.match(head, pos)
        if match is None:
            break
        word = fold(match.group(1))
        if word not in _FORWARD_PREFIXES and word not in _REPLY_PREFIXES:
            break
        found.append(word)
        pos = match.end()
    return found, pos


def is_forward_subject(subject: str | None) -> bool:
    """True when the outermost prefix of a subject says forward ("Fwd:", "FW: RE:", "WG:", "[ext] TR:", "[Fwd: x]")."""
    if not subject:
        return False
    found, _ = _subject_prefixes(subject)
    if found:
        return found[0] in _FORWARD_PREFIXES
    head = subject.lstrip()
    return head[:1] == "[" and fold(head[1:5]) in _OLD_FORWARD


def strip_subject_prefixes(subject: str) -> str:
    """The subject without its leading reply and forward prefixes (and an old-style "[Fwd: ...]" wrapper)."""
    found, pos = _subject_prefixes(subject)
    rest = subject[pos:].strip() if found else subject.strip()
    if rest.startswith("[") and rest.endswith("]") and fold(rest[1:5]) in _OLD_FORWARD:
        return strip_subject_prefixes(rest[1:-1].split(":", 1)[1])
    return rest


# Horizontal rules written with characters: Outlook's underscores, dashes, equals, box drawing, or an <hr> marker.
# (As regexes these character classes would each compile a 64K-entry bitmap; str methods test them directly.)


def is_separator(line: str) -> bool:
    """SEPARATOR_RE.match: `^\\s*(?:[-_=—–~*]\\s*){2,}$|^\\s*\\ue000\\s*$`."""
    head = line.lstrip()[:1]
    if not head or head not in _RULE_CHARS + HR_MARK:
        return False
    marks = "".join(line.split())  # whitespace may sit anywhere between the rule characters
    return (len(marks) >= 2 and not marks.strip(_RULE_CHARS)) or marks == HR_MARK


def is_long_separator(line: str) -> bool:
    """LONG_SEPARATOR_RE.match: `^\\s*(?:[_=—–~]{8,}|-{8,}|\\ue000)\\s*$`."""
    rule = line.strip()
    return rule == HR_MARK or (len(rule) >= 8 and (not rule.strip("_=—–~") or not rule.strip("-")))


# --- Quotes -----------------------------------------------------------------------------------------------------

QUOTE_RE = re.compile(r"^[ \t]{0,3}>")
# ">>> >>>  http://www.domain.com <<<" is decoration, not a quote.
ARROW_DECORATION_RE = re.compile(r"<<\s*$")

# --- Signatures -------------------------------------------------------------------------------------------------

SIG_DASHES_RE = re.compile(r"^(?:--|—|––)\s*$")
# Separator lines that may open a trailing signature or list footer ("---", "________", "----------------").


def is_sig_separator(line: str) -> bool:
    """SIG_SEPARATOR_RE.match: `^\\s*(?:(?:[-_—–]\\s*){2,}|={10,}\\s*)$`."""
    rule = line.strip()
    if not rule or rule[0] not in "-_—–=":
        return False
    if len(rule) >= 10 and not rule.strip("="):
        return True
    marks = "".join(rule.split())  # whitespace may sit anywhere between the dashes
    return len(marks) >= 2 and not marks.strip("-_—–")


# "-Abhishek Kona", "- roman", "-Lev.": a dash followed by a short name.
DASH_NAME_RE = re.compile(r"^\s{0,2}[-–—]\s?[^\W\d_][\w'’.\-]{0,24}(?:\s[^\W\d_][\w'’.\-]{0,24}){0,2}\s*$")


def is_list_item(line: str) -> bool:
    """LIST_ITEM_RE.match: `^\\s*(?:[-*•+–]|\\d{1,3}[.)])\\s`."""
    item = line.lstrip()
    head = item[:1]
    if head and head in "-*•+–":
        return item[1:2].isspace()
    if not head.isdecimal():
        return False
    digits = 1
    while digits < 4 and item[digits : digits + 1].isdecimal():  # \d is a Unicode decimal digit, as isdecimal
        digits += 1
    return digits <= 3 and item[digits : digits + 1] in (".", ")") and item[digits + 1 : digits + 2].isspace()


# Mobile and app signatures in many languages. Links the client appends ("<https://aka.ms/...>") are stripped
# before matching. Each table below spells a regex alternation as steps (see phrase_match); the regex is in the comment
# above each alternative.


def _w(words: str) -> Words:
    """Words from a '|'-separated list."""
    return Words(*words.split("|"))


def _spaced(*parts: str | Step) -> tuple[Step, ...]:
    r"""The parts in order, joined by \s+; a str part is space-separated literal words."""
    steps: list[Step] = []
    for part in parts:
        for step in map(Words, part.split()) if isinstance(part, str) else (part,):
            if steps:
                steps.append(SPACE)
            steps.append(step)
    return tuple(steps)


_DEVICES = _w(
    "iPhone|iPad|iPod|iOS|Android|BlackBerry|Blackberry|mobile|Mobile|phone|Phone|smartphone|Smartphone|Samsung|"
    "Galaxy|HTC|Huawei|Xiaomi|Nokia|Motorola|Pixel|OnePlus|Sony|LG|tablet|Tablet|device|Windows|Outlook|Mail|mail|"
    "Mailbox|Sparrow|Yahoo|Gmail|AOL|Acompli|Airmail|Spark|Superhuman|BlueMail|Blue Mail|Newton|Nine|Edison|"
    "Proton|Tuta|Zoho|Fastmail|Hey|Polymail|Canary|Thunderbird|GMX|WEB.DE|web.de|Mail.ru|Почты|Яндекс|Yandex|"
    "Telcel|Bell|Verizon|T-Mobile|AT&T|Sprint|Vodafone|Orange|Telekom|Wear|Watch"
)
_OUTLOOK = Words("outlook")
_MODEL = Chars(lambda c: c.isalnum() or c in "_®'’-.&")  # [\w®'’\-.&]+
_NAME_REST = Chars(lambda c: c.isalnum() or c in "_.-", 0)  # [\w.\-]*
_CAPITAL = Chars(lambda c: "A" <= c <= "Z", 1, 1)  # (?-i:[A-Z])
_CAPITAL_OR_DIGIT = Chars(lambda c: "A" <= c <= "Z" or "0" <= c <= "9", 1, 1)  # (?-i:[A-Z0-9])


def _get_outlook(words: str, prep: str, most: int = 30) -> tuple[Step, ...]:
    r"""`(?:words)\s+outlook\s+(?:prep)\s+.{0,most}`: the "Get Outlook for iOS" footer."""
    return (*_spaced(_w(words), _OUTLOOK, _w(prep)), SPACE, AnyChars(0, most))


def _sent_from(words: str, prep: str) -> tuple[Step, ...]:
    r"""`(?:words)\s+(?:prep)\s+.{1,80}`."""
    return (*_spaced(_w(words), _w(prep)), SPACE, AnyChars(1, 80))


# `^\s*(?:ALTERNATIVES)\s*$` with re.IGNORECASE.
_MOBILE = Phrases(
    # English
    # sent\s+from\s+my\s+[\w®'’\-.&]+(?:\s+[\w®'’\-.&]+){0,4}\s*[!.]?
    (*_spaced("sent from my", _MODEL), Repeat(4, SPACE, _MODEL), SPACE0, Maybe(_w("!|."))),
    # sent\s+(?:wirelessly\s+|remotely\s+)?(?:from|with|via|using|by|on)\s+(?:my\s+|the\s+|an?\s+)?
    # .{0,80}?\b(?:DEVICES)\b.{0,60}
    (
        *_spaced("sent", Maybe(_w("wirelessly|remotely"), SPACE)),
        _w("from|with|via|using|by|on"),
        SPACE,
        Maybe(_w("my|the|a|an"), SPACE),
        AnyChars(0, 80),
        BOUNDARY,
        _DEVICES,
        BOUNDARY,
        AnyChars(0, 60),
    ),
    # get\s+outlook\s+for\s+\w+.{0,30}
    (*_spaced("get outlook for", WORD), AnyChars(0, 30)),
    # sent\s+(?:from|with|using|via|by)\s+(?-i:[A-Z][\w.\-]*(?:\s+[A-Z0-9][\w.\-]*){0,2})
    (
        *_spaced("sent", _w("from|with|using|via|by"), _CAPITAL),
        _NAME_REST,
        Repeat(2, SPACE, _CAPITAL_OR_DIGIT, _NAME_REST),
    ),
    # (?:download|get)\s+(?:the\s+)?\w+\s+(?:mail\s+)?app.{0,40}
    (
        *_spaced(_w("download|get"), Maybe(_w("the"), SPACE)),
        *_spaced(WORD, Maybe(_w("mail"), SPACE)),
        _w("app"),
        AnyChars(0, 40),
    ),
    # French
    # envoy[ée]\s+(?:de|depuis|à partir de|a partir de|avec|par|sans fil par)\s+(?:mon|ma|mes|l['’]|un|une)?\s*.{0,80}
    (
        *_spaced(_w("envoyé|envoye"), _w("de|depuis|à partir de|a partir de|avec|par|sans fil par")),
        SPACE,
        Maybe(_w("mon|ma|mes|l'|l’|un|une")),
        SPACE0,
        AnyChars(0, 80),
    ),
    # (?:obtenir|télécharger)\s+outlook\s+pour\s+.{0,30}
    _get_outlook("obtenir|télécharger", "pour"),
    # German
    # von\s+meinem\s+.{1,60}?\s+gesendet.{0,20}
    (*_spaced("von meinem", AnyChars(1, 60), _w("gesendet")), AnyChars(0, 20)),
    # gesendet\s+(?:von|mit|vom|über|ueber|aus)\s+(?:meinem|meiner|der|dem|einem)?\s*.{0,60}
    (
        *_spaced("gesendet", _w("von|mit|vom|über|ueber|aus")),
        SPACE,
        Maybe(_w("meinem|meiner|der|dem|einem")),
        SPACE0,
        AnyChars(0, 60),
    ),
    # holen\s+sie\s+sich\s+outlook\s+für\s+.{0,30}
    (*_spaced("holen sie sich outlook für"), SPACE, AnyChars(0, 30)),
    # outlook\s+für\s+(?:ios|android)\s+(?:herunterladen|beziehen).{0,10}
    (*_spaced("outlook für", _w("ios|android"), _w("herunterladen|beziehen")), AnyChars(0, 10)),
    # Spanish / Portuguese
    # enviado\s+(?:desde|con|de|do|da|pelo|pela|por|a\s+trav[eé]s\s+de)\s+(?:mi|meu|minha|o|a|el|la|un|una)?\s*.{0,80}
    (
        *_spaced("enviado", Either((_w("desde|con|de|do|da|pelo|pela|por"),), _spaced("a", _w("través|traves"), "de"))),
        SPACE,
        Maybe(_w("mi|meu|minha|o|a|el|la|un|una")),
        SPACE0,
        AnyChars(0, 80),
    ),
    # obt(?:ener|enga|er)\s+(?:o\s+)?outlook\s+(?:para|pra)\s+.{0,30}
    (
        *_spaced(_w("obtener|obtenga|obter"), Maybe(_w("o"), SPACE)),
        *_spaced(_OUTLOOK, _w("para|pra")),
        SPACE,
        AnyChars(0, 30),
    ),
    # baixe\s+o\s+outlook\s+para\s+.{0,30}
    (*_spaced("baixe o outlook para"), SPACE, AnyChars(0, 30)),
    # descargar?\s+outlook\s+para\s+.{0,30}
    _get_outlook("descarga|descargar", "para"),
    # Italian
    # inviato\s+(?:da|dal|dalla|con|tramite)\s+(?:il\s+|mio\s+|la\s+|mia\s+|un\s+)*.{0,80}
    (
        *_spaced("inviato", _w("da|dal|dalla|con|tramite")),
        SPACE,
        Repeat(None, _w("il|mio|la|mia|un"), SPACE),
        AnyChars(0, 80),
    ),
    # (?:scarica|ottieni)\s+outlook\s+per\s+.{0,30}
    _get_outlook("scarica|ottieni", "per"),
    # Dutch
    # (?:verzonden|verstuurd)\s+(?:met|vanaf|van|via|vanuit)\s+(?:mijn\s+|een\s+|de\s+)?.{0,80}
    (
        *_spaced(_w("verzonden|verstuurd"), _w("met|vanaf|van|via|vanuit")),
        SPACE,
        Maybe(_w("mijn|een|de"), SPACE),
        AnyChars(0, 80),
    ),
    # outlook\s+voor\s+(?:ios|android)\s+downloaden.{0,10}
    (*_spaced("outlook voor", _w("ios|android"), "downloaden"), AnyChars(0, 10)),
    # download\s+outlook\s+voor\s+.{0,30}
    _get_outlook("download", "voor"),
    # Polish
    # wys[łl]an[eo]\s+(?:z|ze|przez|za\s+pomocą)\s+.{1,80}
    (
        *_spaced(_w("wysłane|wyslane|wysłano|wyslano"), Either((_w("z|ze|przez"),), _spaced("za pomocą"))),
        SPACE,
        AnyChars(1, 80),
    ),
    # pobierz\s+(?:aplikację\s+)?outlook\s+.{0,40}
    (*_spaced("pobierz", Maybe(_w("aplikację"), SPACE)), _OUTLOOK, SPACE, AnyChars(0, 40)),
    # Russian / Ukrainian: (?:отправлено|послано)\s+(?:с|со|из|через)\s+.{1,80} and so on
    _sent_from("отправлено|послано", "с|со|из|через"),
    _sent_from("надіслано|відправлено", "з|із|зі|через"),
    _get_outlook("получить|отримати", "для"),
    # Scandinavian / Finnish
    _sent_from("skickat|skickades", "från"),
    _get_outlook("skaffa", "för"),
    _sent_from("sendt", "fra"),
    _get_outlook("hent|få", "til|for"),
    # lähetetty\s+.{1,60}?(?:sta|stä|lta|ltä|ssa|ssä)\b.{0,40}
    (*_spaced("lähetetty", AnyChars(1, 60)), _w("sta|stä|lta|ltä|ssa|ssä"), BOUNDARY, AnyChars(0, 40)),
    # lähetetty\s+(?:laitteesta|mobiilista|puhelimesta).{0,60}
    (*_spaced("lähetetty", _w("laitteesta|mobiilista|puhelimesta")), AnyChars(0, 60)),
    # hanki\s+outlook\s+.{0,40}
    (*_spaced("hanki outlook"), SPACE, AnyChars(0, 40)),
    # Czech / Hungarian / Turkish / Romanian
    _sent_from("odesláno", "z"),
    # küldve\s+.{1,60}
    (Words("küldve"), SPACE, AnyChars(1, 60)),
    # (?:iphone|ipad|android)['’]?\s*(?:dan|den|tan|ten)\s+gönderildi.{0,20}
    (
        _w("iphone|ipad|android"),
        Maybe(_w("'|’")),
        SPACE0,
        *_spaced(_w("dan|den|tan|ten"), "gönderildi"),
        AnyChars(0, 20),
    ),
    # trimis\s+de\s+pe\s+.{1,80}
    (*_spaced("trimis de pe"), SPACE, AnyChars(1, 80)),
    then=(END,),
)


def is_mobile_footer(text: str) -> bool:
    """MOBILE_SIG_RE.match(text): the whole text is a mobile or app signature (leading/trailing whitespace aside)."""
    return _MOBILE.match(text, len(text) - len(text.lstrip()))


# CJK mobile signatures: "从我的iPhone发送", "发自我的iPhone", "iPhoneから送信", "Android에서 보냄". The regex was
# `^\s*(?:ALTERNATIVES)\s*[。.!！]?\s*$` with re.IGNORECASE; each alternative is written in its comment.
_CJK_MOBILE_END = (SPACE0, Maybe(Words("。", ".", "!", "！")), END)  # \s*[。.!！]?\s*$
_CJK_MOBILE = Phrases(
    # 从我的.{1,40}?发送 | 從我的.{1,40}?傳送
    (Words("从我的"), AnyChars(1, 40), Words("发送")),
    (Words("從我的"), AnyChars(1, 40), Words("傳送")),
    # 發自我的.{1,40} | 发自我的.{1,40} | 发自.{1,30}
    (Words("發自我的", "发自我的"), AnyChars(1, 40)),
    (Words("发自"), AnyChars(1, 30)),
    # 获取\s*outlook.{0,30} | 取得\s*outlook.{0,30}
    (Words("获取", "取得"), SPACE0, _OUTLOOK, AnyChars(0, 30)),
    # outlook\s*for\s*\w+\s*を入手.{0,10}
    (_OUTLOOK, SPACE0, Words("for"), SPACE0, WORD, SPACE0, Words("を入手"), AnyChars(0, 10)),
    # 发自网易邮箱.{0,20} | 发自\s*qq\s*邮箱.{0,20}
    (Words("发自网易邮箱"), AnyChars(0, 20)),
    (Words("发自"), SPACE0, Words("qq"), SPACE0, Words("邮箱"), AnyChars(0, 20)),
    # 来自.{1,20}邮箱.{0,10}
    (Words("来自"), AnyChars(1, 20), Words("邮箱"), AnyChars(0, 10)),
    then=_CJK_MOBILE_END,
)
# The alternatives that open with .{1,40}?: .{1,40}?から送信 | .{1,40}?から送られました | .{1,40}?에서\s*보냄 |
# .{1,40}?에서\s*보낸\s*메일. Each needs its words in the text, which is checked first.
_CJK_MOBILE_OPEN = (
    ("から送", (AnyChars(1, 40), Words("から送信", "から送られました"))),
    (
        "에서",
        (AnyChars(1, 40), Words("에서"), SPACE0, Either((Words("보냄"),), (Words("보낸"), SPACE0, Words("메일")))),
    ),
)


def is_cjk_mobile_footer(text: str) -> bool:
    """MOBILE_SIG_CJK_RE.match(text)."""
    if _CJK_MOBILE.match(text, len(text) - len(text.lstrip())):
        return True
    # `.` matches whitespace too, so these may start anywhere in the leading whitespace: ^\s* can give some back.
    return any(
        word in text and run((SPACE0, *steps, *_CJK_MOBILE_END), text, fold(text), {0})
        for word, steps in _CJK_MOBILE_OPEN
    )


# "Sent from my desk, is much easier then my mobile phone." is a sentence, not a signature.
SENTENCE_AFTER_COMMA_RE = re.compile(
    r",\s+(?:is|it|it's|was|and|but|so|because|which|that|i|we|you|he|she|they)\b", re.IGNORECASE
)
LINK_IN_LINE_RE = re.compile(
    r"<(?:https?|mailto):[^>\s]{0,500}>|\[(?:https?|mailto):[^\]\s]{0,500}\]|\(https?:[^)\s]{0,500}\)"
)


def _notice(first: str, nouns: str, stems: str) -> tuple[Step, ...]:
    r"""`first\s+(?:nouns)\s.{0,60}\b(?:stems)`: "ce message ... confidentiel"."""
    return (*_spaced(first, _w(nouns)), Chars(str.isspace, 1, 1), AnyChars(0, 60), BOUNDARY, _w(stems))


# Confidentiality notices and list footers that end a message: `^\s*[*_]{0,2}(?:ALTERNATIVES)` with re.IGNORECASE.
_DISCLAIMER = Phrases(
    # confidential(?:ity)?(?:\s+notice|\s+note|\s+statement|\s+warning)?\s*[:\-]?
    (_w("confidential"), Maybe(_w("ity")), Maybe(SPACE, _w("notice|note|statement|warning")), SPACE0, Maybe(_w(":|-"))),
    # disclaimer\s*[:\-]?
    (_w("disclaimer"), SPACE0, Maybe(_w(":|-"))),
    # important\s*[:\-]?\s+this\s+(?:e-?mail|message)
    (_w("important"), SPACE0, Maybe(_w(":|-")), SPACE, *_spaced("this", _w("email|e-mail|message"))),
    # legal\s+notice\s*:?
    (*_spaced("legal notice"), SPACE0, Maybe(_w(":"))),
    # this\s+(?:e-?mail|message|communication|transmission)\b.{0,80}
    # \b(?:confidential|privileged|intended\s+(?:solely|only)|intended\s+for)
    (
        *_spaced("this", _w("email|e-mail|message|communication|transmission")),
        BOUNDARY,
        AnyChars(0, 80),
        BOUNDARY,
        Either((_w("confidential|privileged"),), _spaced("intended", _w("solely|only|for"))),
    ),
    # the\s+information\s+(?:contained\s+)?in\s+this\s+(?:e-?mail|message|communication)
    (
        *_spaced("the information", Maybe(_w("contained"), SPACE)),
        *_spaced("in this", _w("email|e-mail|message|communication")),
    ),
    # the\s+content\s+of\s+this\s+(?:e-?mail|message)\s+is\s+confidential
    _spaced("the content of this", _w("email|e-mail|message"), "is confidential"),
    # please\s+consider\s+the\s+environment\s+before\s+printing
    _spaced("please consider the environment before printing"),
    # you\s+(?:received|are\s+receiving)\s+this\s+(?:message|email|e-mail)\s+because\s+you\s+are\s+subscribed
    _spaced(
        "you",
        Either((_w("received"),), _spaced("are receiving")),
        "this",
        _w("message|email|e-mail"),
        "because you are subscribed",
    ),
    # to\s+unsubscribe\s+from\s+this\s+group
    _spaced("to unsubscribe from this group"),
    # ce\s+(?:message|courriel|mail|e-mail)\s.{0,60}\b(?:confidentiel|destinataires?)
    _notice("ce", "message|courriel|mail|e-mail", "confidentiel|destinataire|destinataires"),
    # diese\s+(?:e-?mail|nachricht)\s.{0,60}\b(?:vertraulich|bestimmt|Informationen)
    _notice("diese", "email|e-mail|nachricht", "vertraulich|bestimmt|Informationen"),
    # este\s+(?:mensaje|correo|e-?mail)\s.{0,60}\b(?:confidencial|destinatario)
    _notice("este", "mensaje|correo|email|e-mail", "confidencial|destinatario"),
    # questo\s+messaggio\s.{0,60}\b(?:riservat|confidenzial|destinatari)
    _notice("questo", "messaggio", "riservat|confidenzial|destinatari"),
    # esta\s+mensagem\s.{0,60}\b(?:confidencia|destinat)
    _notice("esta", "mensagem", "confidencia|destinat"),
    # dit\s+(?:e-?mail)?bericht\s.{0,60}\b(?:vertrouwelijk|bestemd)
    _notice("dit", "bericht|emailbericht|e-mailbericht", "vertrouwelijk|bestemd"),
    # ta\s+wiadomość\s.{0,60}\b(?:poufn|przeznaczon)
    _notice("ta", "wiadomość", "poufn|przeznaczon"),
    # это\s+(?:письмо|сообщение)\s.{0,60}\b(?:конфиденциальн|предназначен)
    _notice("это", "письмо|сообщение", "конфиденциальн|предназначен"),
)


def is_disclaimer(line: str) -> bool:
    """DISCLAIMER_RE.match(line)."""
    # Every alternative opens with a letter, so it starts after all the leading whitespace and 0 to 2 marks.
    pos = len(line) - len(line.lstrip())
    for marks in range(3):
        if marks and line[pos + marks - 1 : pos + marks] not in ("*", "_"):
            break
        if _DISCLAIMER.match(line, pos + marks):
            return True
    return False


# A disclaimer opener only counts when the paragraph reads like legal boilerplate (so "Confidential: do not share
# the numbers." written by the sender stays). Same as LEGAL_WORDS_RE.search: these stems anywhere, any case.
_LEGAL_WORDS = _w(
    "intended|recipient|privileged|prohibited|unauthorised|unauthorized|disclos|destinataire|destinatario|"
    "destinatári|empfänger|vertraulich|riservat|poufn|adresat|конфиденциальн|получател|subscribed|unsubscribe|"
    "environment"
).words


def has_legal_words(text: str) -> bool:
    """LEGAL_WORDS_RE.search(text)."""
    folded = fold(text)
    return any(word in folded for word in _LEGAL_WORDS)


# Lines of a contact block: addresses, phones, links, handles.
CONTACT_RE = re.compile(
    r"[\w.+\-]@[\w\-]+\.\w|https?://|www\.|\b[\w\-]+\.(?:com|org|net|io|co|de|fr|uk)\b"
    r"|(?:\+?\d[\d\s().\-]{6,}\d)|^\s*(?:t|f|m|p|tel|fax|mob|mobile|phone|cell|skype|e|email)\s*[.:]",
    re.IGNORECASE,
)
