"""Find and remove quoted history (attribution headers, header blocks, '>' quotes) in plain-text email bodies."""

from __future__ import annotations

from dataclasses import dataclass

from emailpipe.domain import reply_patterns as P
from emailpipe.domain.reply_signature import fences, is_mobile_signature

# How far a wrapped attribution header may reach ("On <date>, <name> <\n<email>>\nwrote:").
_HEADER_LOOKAHEAD = 6
_HEADER_LOOKBACK = 2
_FIELD_BLOCK_MAX = 14

# Outcomes of strip_quotes.
NONE = "none"  # no quoted history found
QUOTED = "quoted"  # quoted history was removed
FORWARD = "forward"  # the message forwards something and is kept whole


@dataclass(frozen=True, slots=True)
class _Header:
    start: int
    end: int  # inclusive
    hard: bool  # True when everything from start to the end of the message is history
    prefix: str | None = None  # reply text sharing the header's first line


def _cap(line: str) -> str:
    return line[: P.MAX_LINE]


def is_quote(line: str) -> bool:
    """Return True for a '>'-quoted line (arrow decorations such as '>>> link <<<' are not quotes) or a '|'-quoted
    one."""
    if line[:4].lstrip(" \t")[:1] == "|":
        return bool(P.PIPE_QUOTE_RE.match(line)) and (line.strip() == "|" or not line.rstrip().endswith("|"))
    return bool(P.QUOTE_RE.match(line)) and not P.ARROW_DECORATION_RE.search(_cap(line))


def _blank(line: str) -> bool:
    return not line.strip()


def _next_nonblank(lines: list[str], i: int, limit: int = 3) -> int | None:
    n = len(lines)
    j = i
    while j < n and j < i + limit:
        if not _blank(lines[j]):
            return j
        j += 1
    return None


def _followed_by_quote(lines: list[str], end: int) -> bool:
    j = _next_nonblank(lines, end + 1)
    return j is not None and is_quote(lines[j])


def _field_kind(line: str) -> str | None:
    return P.field_kind(_cap(line))


def _field_block(lines: list[str], i: int) -> int | None:
    """Return the last line of an Outlook-style header block starting at line i, or None."""
    first = _cap(lines[i])
    kind = _field_kind(first)
    if kind is None or kind == "other":
        return None
    kinds = {kind}
    # "From: bob@example.com Date: Thu, 24 Mar 2016 ..." - the whole header rendered on one line.
    if kind in ("from", "sent") and P.has_inline_field(first):
        kinds.add("inline")
    n = len(lines)
    j = i + 1
    last = i
    continuation = 0
    gapped = False
    while j < n and j < i + _FIELD_BLOCK_MAX:
        line = _cap(lines[j])
        if _blank(line):
            # Each field its own paragraph (an HTML header block of <p>s rendered as text): a blank line is inside
            # the block when the next line names a known field
            after = _next_nonblank(lines, j + 1, 2)
            if after is None or _field_kind(lines[after]) in (None, "other"):
                break
            gapped = True
            j = after
            continue
        k = _field_kind(line)
        if k is not None:
            kinds.add(k)
            last = j
            continuation = 0
        elif P.GENERIC_FIELD_RE.match(line) and not P.EMAILISH_RE.search(line):
            break  # an unknown "Word:" line such as "Time:" ends the block
        else:
            continuation += 1
            if continuation > 2:
                break
            last = j
        j += 1
    if gapped and ("from" not in kinds or len(kinds & {"sent", "to", "subject"}) < 2):
        return None  # fields a paragraph apart: only a whole From / Sent / To / Subject block reads as a header
    if len(kinds) >= 2 and kinds & {"from", "sent", "inline"} and _reads_as_header(lines, i, last, kinds):
        return last
    return None


def _reads_as_header(lines: list[str], first: int, last: int, kinds: set[str]) -> bool:
    """Two fields alone ("Da: 9:00" / "A: 17:00", "Von: 9 Uhr" / "An: Feiertagen") are a header block only with an
    address in it; a subject, a third field or a date in the Sent field makes one without."""
    if len(kinds) >= 3 or "subject" in kinds or "inline" in kinds:
        return True
    block = lines[first : last + 1]
    if any(P.EMAILISH_RE.search(_cap(line)) for line in block):
        return True
    return "sent" in kinds and any(
        _field_kind(line) == "sent" and P.DATEISH_RE.search(_cap(line)) and len(line.split()) >= 3 for line in block
    )


def _from_line_alone(lines: list[str], i: int) -> bool:
    """'From: Jane Doe <jane@example.com>' on its own, opening a paragraph below some text."""
    line = _cap(lines[i])
    if _field_kind(line) != "from" or not P.EMAIL_BRACKETED_RE.search(line):
        return False
    return i > 0 and (_blank(lines[i - 1]) or P.is_separator(_cap(lines[i - 1])))


def _attribution_from_start(lines: list[str], i: int, inner: bool = False) -> int | None:
    """Return the end line of an 'On <date> ... wrote:' header that starts at line i (possibly wrapped), or None.

    inner: the call that checks whether a later line opens a header by itself (it looks no further down itself, so
    the work stays linear in the lookahead)."""
    first = _cap(lines[i])
    if not P.starts_attribution(first):
        return None
    n = len(lines)
    parts: list[str] = []
    blanks = 0
    j = i
    while j < n and j < i + _HEADER_LOOKAHEAD:
        line = _cap(lines[j])
        if _blank(line):
            blanks += 1
            if blanks > 1 or (parts and parts[-1].endswith((".", "!", "?"))):
                return None  # a paragraph that ended a sentence ("On it.") is text, not a wrapped header
            j += 1
            continue
        if j > i and P.SENTENCE_END_RE.search(parts[-1]):
            return None  # the line above ended a sentence: it was ordinary text, not a wrapped header
        if j > i and is_quote(line):
            # a wrapped "> wrote:" tail (Polymail) is part of the header; any other quote ends the search
            stripped = line.lstrip(" \t>")
            if not P.starts_with_verb_or_sent(stripped):
                return None
            line = stripped
        parts.append(line.strip())
        joined = " ".join(parts)
        if len(joined) > P.MAX_HEADER:
            return None
        if P.DATEISH_RE.search(joined) and (
            (P.ENDS_COLON_RE.search(joined) and P.has_verb_or_sent(joined)) or (j == i and P.ends_with_verb(joined))
        ):
            if j > i and not inner and _later_header_start(lines, i, j):
                # "Il est signalé ..." (a reply line opening with a start word) above "Le mar. 30 avr. ... a écrit :":
                # the header starts on the line that is one by itself
                return None
            return j
        j += 1
    return None


def _later_header_start(lines: list[str], i: int, end: int) -> bool:
    """A line below i (up to end) opens a whole header by itself, and what is above it is text: no date in it (a
    wrapped header's first line has its date, "Στις Τρί 8 Απρ 2025" / "στις 10:14 ... έγραψε:"), no comma at its end."""
    for k in range(i + 1, end + 1):
        above = _cap(lines[k - 1]).rstrip()
        if above.endswith(",") or not P.starts_attribution(_cap(lines[k])):
            continue
        if any(P.DATEISH_RE.search(_cap(line)) for line in lines[i:k]):
            return False
        if _attribution_from_start(lines, k, inner=True) is not None:
            return True
    return False


def _needs_more(lines: list[str], s: int) -> bool:
    """Return True when line s continues a header started on the line above it."""
    if s == 0 or _blank(lines[s - 1]) or is_quote(lines[s - 1]):
        return False
    head = lines[s].lstrip()
    prev = _cap(lines[s - 1]).rstrip()
    if head[:1] in "<([\"'" or head.lower().startswith("mailto"):
        return True
    if prev[-1:] in "<([,\"'":
        return True
    if P.starts_with_verb(head):
        return True  # the line is just "wrote:" or similar
    if P.SENTENCE_END_RE.search(prev):
        return False  # the line above ends a sentence
    if P.verb_end(prev) is not None or P.EMAIL_BRACKETED_RE.search(prev):
        return True  # "Jane <jane@example.com> schrieb am" / "Di., 5. März 2024, 09:14:"
    if P.DATE_START_RE.match(head):
        return False  # this line opens a header with its date
    first = head[:1]
    if first.islower() or first.isdigit() or "\u3000" <= first <= "\u9fff" or P.starts_attribution(_cap(lines[s - 1])):
        # a line starting with a lowercase word, a number or a CJK character continues a wrapped header, as does
        # any line below a header's first line that starts with "On"/"Am"/"Le"...
        return True
    return bool(P.DATE_START_RE.match(_cap(lines[s - 1])))


def _attribution_from_end(lines: list[str], j: int) -> _Header | None:
    """Recognise a header that ends at line j with a colon: '<name> <email> wrote:', '<date>, <name> <email>:'."""
    line = _cap(lines[j])
    if not P.ENDS_COLON_RE.search(line) or P.field_kind(line) is not None:
        return None
    quoted_below = _followed_by_quote(lines, j)
    best: int | None = None
    s = j
    while True:
        joined = " ".join(_cap(x).strip() for x in lines[s : j + 1])
        if len(joined) > P.MAX_HEADER:
            break
        verb = P.verb_end(joined)
        date = P.DATEISH_RE.search(joined)
        complete = bool(date and P.EMAIL_BRACKETED_RE.search(joined))
        if verb is not None and not complete:
            # "<date> ... <name> wrote:" or "<name> wrote <date>:"; without an address the date must frame the
            # verb, so prose such as "at 10:30 John wrote the agenda:" is not taken for a header.
            complete = bool(P.EMAILISH_RE.search(joined)) or bool(
                date and (P.DATE_START_RE.match(joined) or P.DATEISH_RE.search(joined, verb))
            )
        if not complete and verb is not None and len(joined) < 120 and quoted_below:
            complete = True  # "John wrote:" directly above a '>' block
        if complete:
            best = s
        if not _needs_more(lines, s) or s <= j - _HEADER_LOOKBACK:
            break
        s -= 1
    if best is None:
        return None
    return _Header(best, j, hard=not quoted_below)


def _date_email_before_quote(lines: list[str], j: int) -> _Header | None:
    """'2011/4/7 Nathan <support@example.com>' with no verb or colon, directly above a '>' block."""
    line = _cap(lines[j])
    if len(line) > 250 or not P.EMAILISH_RE.search(line) or not P.DATEISH_RE.search(line):
        return None
    if not _followed_by_quote(lines, j):
        return None
    return _Header(j, j, hard=False)


def _shared_line(lines: list[str], j: int) -> _Header | None:
    """'reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:' - reply and header on one line."""
    line = lines[j]
    tail_start = max(0, len(line) - P.MAX_HEADER)
    start = P.shared_line_start(line, tail_start)
    if start is None or not P.DATEISH_RE.search(line[start:]):
        return None
    prefix = line[:start].rstrip(" \t-–—")
    if not prefix.strip():
        return None
    return _Header(j, j, hard=not _followed_by_quote(lines, j), prefix=prefix)


def _separator_then_fields(lines: list[str], i: int) -> bool:
    """An Outlook divider ('________________________________' or <hr>) directly above a 'From:'/'Date:' line."""
    if not P.is_long_separator(_cap(lines[i])):
        return False
    j = _next_nonblank(lines, i + 1)
    return j is not None and _field_kind(lines[j]) in ("from", "sent")


def _header_at(lines: list[str], i: int, forward_subject: bool = False) -> _Header | str | None:
    """Classify line i: a quote header (returned), 'forward' for a forwarded-message marker, or None.

    With forward_subject (the subject says "FW:", "WG:"...), an Outlook header block, with or without its
    "-----Original Message-----" or underscore rule, is the forwarded email's header: Outlook writes a forward and a
    reply the same way, and only the subject tells them apart.
    """
    line = _cap(lines[i])
    if P.is_forward_marker(line):
        return FORWARD
    if P.is_original_message(line) or _separator_then_fields(lines, i):
        return FORWARD if forward_subject else _Header(i, len(lines) - 1, hard=True)
    end = _field_block(lines, i)
    if end is not None:
        return FORWARD if forward_subject else _Header(i, end, hard=True)
    if _from_line_alone(lines, i):
        return _Header(i, i, hard=not _followed_by_quote(lines, i))
    if P.is_dashed_attribution(line):
        return _Header(i, i, hard=not _followed_by_quote(lines, i))
    end = _attribution_from_start(lines, i)
    if end is not None:
        return _Header(i, end, hard=not _followed_by_quote(lines, end))
    header = _shared_line(lines, i)
    if header is not None:
        return header
    header = _attribution_from_end(lines, i)
    if header is not None:
        return header
    if line[:1].isdigit() and P.DATE_GMT_NAME_RE.match(line):
        return _Header(i, i, hard=not _followed_by_quote(lines, i))
    return _date_email_before_quote(lines, i)


def _skip_blanks(lines: list[str], i: int) -> int:
    """Return the first non-blank index at or after i; blank lines after a quote belong to the quote."""
    n = len(lines)
    while i < n and _blank(lines[i]):
        i += 1
    return i


def _indented(lines: list[str], i: int) -> bool:
    """Line i is indented as some clients quote an original: by a tab or at least two spaces."""
    return i < len(lines) and lines[i][:1] in ("\t", " ") and (lines[i][:2] == "  " or lines[i][:1] == "\t")


def _skip_indented_run(lines: list[str], i: int) -> int:
    """Return the index after the indented block starting at i (blank lines inside it included)."""
    n = len(lines)
    while i < n and (_indented(lines, i) or _blank(lines[i])):
        i += 1
    return i


def _skip_quote_run(lines: list[str], i: int) -> int:
    """Return the index after the '>' block starting at i, including blank lines inside it and wrapped link junk."""
    n = len(lines)
    while i < n:
        line = lines[i]
        if is_quote(line):
            i += 1
            continue
        if _blank(line):
            j = _next_nonblank(lines, i, limit=4)
            if j is not None and is_quote(lines[j]):
                i = j
                continue
            return i
        # A broken link wrapped out of the quote ("_nonce=3dd518)", " (http://example.com/c/YzOTYzMmE) >").
        if i > 0 and is_quote(lines[i - 1]) and i + 1 < n and is_quote(lines[i + 1]):
            body = line.strip()
            if "://" in body or " " not in body or body.endswith(">") or _rewrapped(lines[i - 1], body):
                i += 1
                continue
        return i
    return i


# Mail clients wrap quoted text at 70 to 78 columns; a quoted line this long may have lost its tail to the next line.
_WRAP_AT = 70


def _rewrapped(quoted: str, body: str) -> bool:
    """`body`, unquoted between two quoted lines, is the tail of the quoted line above that a client re-wrapped
    without its '>' ("> … Nullam pharetra d" / "ignissim odio?"): it starts in lower case and its first word would
    not have fitted on that line. An answer written inline starts a sentence, or stands apart by a blank line."""
    first = body.split(None, 1)[0]
    return body[:1].islower() and len(quoted.rstrip()) + 1 + len(first) > _WRAP_AT and len(body) < len(quoted)


def find_history(lines: list[str], *, forward_subject: bool = False, start: int = 0) -> tuple[int, str] | None:
    """Where the first quoted history or forwarded message starts (at or after line `start`), and QUOTED or FORWARD
    (None: neither)."""
    for i in range(start, len(lines)):
        line = lines[i]
        if is_quote(line):
            return i, QUOTED
        if _blank(line):
            continue
        header = _header_at(lines, i, forward_subject)
        if header == FORWARD:
            return i, FORWARD
        if isinstance(header, _Header):
            return header.start, QUOTED
    return None


def top_header_end(lines: list[str]) -> int | None:
    """The last line of a header block (Outlook fields, an attribution with no quote under it) that opens the body,
    or None when the body opens otherwise."""
    i = _skip_blanks(lines, 0)
    if i >= len(lines):
        return None
    header = _header_at(lines, i)
    if not isinstance(header, _Header) or not header.hard or header.prefix is not None or header.end >= len(lines) - 1:
        return None
    return header.end


class _Below:
    """What lies below a line, found once per body: where the next history starts and where the last quote is (so
    many footer-like lines cost one scan, not one each)."""

    __slots__ = ("lines", "forward_subject", "scanned_from", "history", "last_quote")

    def __init__(self, lines: list[str], forward_subject: bool) -> None:
        self.lines = lines
        self.forward_subject = forward_subject
        self.scanned_from = -1
        self.history: tuple[int, str] | None = None
        self.last_quote: int | None = None

    def history_after(self, i: int) -> tuple[int, str] | None:
        """find_history from line i + 1 on (a scan that found nothing before line i + 1 holds for i too)."""
        known = self.scanned_from
        if known < 0 or known > i + 1 or (self.history is not None and self.history[0] <= i):
            self.history = find_history(self.lines, forward_subject=self.forward_subject, start=i + 1)
            self.scanned_from = i + 1
        return self.history

    def quote_after(self, i: int) -> bool:
        if self.last_quote is None:
            self.last_quote = max((k for k, line in enumerate(self.lines) if is_quote(line)), default=-1)
        return self.last_quote > i


def _footer_over_original(lines: list[str], i: int, below: _Below) -> bool:
    """Line i, a paragraph of its own, is a mobile footer with text below it that holds no '>' quote and no forward:
    the client pasted the original under the footer unmarked ("Sent from my Galaxy", then the email replied to)."""
    if len(lines[i]) > 200 or not is_mobile_signature(lines[i]):
        return False
    found = below.history_after(i)
    if found is not None and found[1] == FORWARD:
        return False
    return not below.quote_after(i)


def _drop_footer_above(out: list[tuple[int, str]]) -> None:
    """Drop a mobile footer ("Sent from my iPhone") that the kept text ends with, right above quoted history: the
    client wrote it below the sender's text, so it is no part of a reply written under the quote (bottom-posting)."""
    j = len(out) - 1
    while j >= 0 and _blank(out[j][1]):
        j -= 1
    if j >= 0 and is_mobile_signature(out[j][1]):
        del out[j:]


# How much of the quoted text, and of the paragraphs below it, the repeated-footer check reads.
_FOOTER_QUOTED_CHARS = 200_000
_FOOTER_PARAGRAPHS = 6
_FOOTER_PARAGRAPH_CHARS = 2_000


def _footer_key(text: str) -> str:
    """A paragraph compared without its links ("Privacy Policy <https://…>"), case or spacing."""
    return "".join(P.LINK_IN_LINE_RE.sub("", text).split()).casefold()


def _drop_repeated_footer(out: list[tuple[int, str]], lines: list[str], quoted: list[tuple[int, int]]) -> None:
    """Drop the paragraphs under the last '>' quote that the quote itself holds: a relay (a job board, a marketplace)
    appends its notice to every message, so it comes once inside the quoted original and once again below it. Kept
    text above the quote is required, and every paragraph below must be such a copy, or nothing is dropped."""
    last_end = quoted[-1][1]
    if not any(k < quoted[0][0] and line.strip() for k, line in out):
        return
    start = len(out)
    while start > 0 and out[start - 1][0] >= last_end:
        start -= 1
    paragraphs: list[str] = []
    current: list[str] = []
    for _, line in out[start:]:
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    if not paragraphs or len(paragraphs) > _FOOTER_PARAGRAPHS:
        return
    budget = _FOOTER_QUOTED_CHARS
    parts: list[str] = []
    for first, end in quoted:
        for line in lines[first:end]:
            parts.append(line.lstrip(" \t>|"))
            budget -= len(line)
            if budget < 0:
                break
        if budget < 0:
            break
    history = _footer_key(" ".join(parts))
    for paragraph in paragraphs:
        key = _footer_key(paragraph[:_FOOTER_PARAGRAPH_CHARS])
        if len(key) < 32 or key not in history:
            return  # a short line ("Thanks!") or text of the sender's own below the quote: a bottom-posted reply
    del out[start:]


def strip_quotes(lines: list[str], *, forward_subject: bool = False) -> tuple[list[str], str]:
    """Return the lines the sender wrote (interleaved answers kept) and NONE, QUOTED or FORWARD.

    forward_subject: the email's subject says it is a forward (see _header_at).
    """
    out: list[tuple[int, str]] = []
    state = NONE
    n = len(lines)
    i = 0
    fenced_to = -1  # the line after the last code fence kept
    fenced = fences(lines)
    below_cache = _Below(lines, forward_subject)
    quoted: list[tuple[int, int]] = []  # the '>' runs skipped, as (first, end) line ranges
    while i < n:
        line = lines[i]
        if is_quote(line):
            first = i
            i = _skip_blanks(lines, _skip_quote_run(lines, i))
            quoted.append((first, i))
            if i < n:
                _drop_footer_above(out)
            state = QUOTED
            continue
        if _blank(line):
            out.append((i, line))
            i += 1
            continue
        if i in fenced:
            fence = fenced[i]
            out.extend((k, lines[k]) for k in range(i, fence + 1))
            i = fenced_to = fence + 1
            continue
        if (
            0 < i < n - 1
            and _blank(lines[i - 1])
            and _blank(lines[i + 1])
            and len(out) > 1
            and _footer_over_original(lines, i, below_cache)
        ):
            state = QUOTED
            break
        header = _header_at(lines, i, forward_subject)
        if header is None:
            out.append((i, line))
            i += 1
            continue
        if header == FORWARD:
            if state == NONE:
                return list(lines), FORWARD  # a forward keeps the forwarded content
            break
        assert isinstance(header, _Header)
        while out and out[-1][0] >= header.start:
            out.pop()  # the header began on lines already taken as text
        if header.prefix is not None:
            out.append((header.start, header.prefix))
        state = QUOTED
        below = _skip_blanks(lines, header.end + 1)
        if header.hard and not any(line.strip() for _, line in out) and _indented(lines, below):
            # "On … wrote:" at the very top over an indented original: the reply is written below it.
            i = _skip_blanks(lines, _skip_indented_run(lines, below))
            continue
        if header.hard:
            break
        i = _skip_blanks(lines, _skip_quote_run(lines, below))
        if i < n:
            _drop_footer_above(out)
    if quoted and out and out[-1][0] >= quoted[-1][1]:
        _drop_repeated_footer(out, lines, quoted)
    if state == QUOTED:
        # A divider left above the cut history is not content; a code fence's closing "~~~" is.
        while out and out[-1][0] > fenced_to and (_blank(out[-1][1]) or P.is_separator(_cap(out[-1][1]))):
            out.pop()
    return [line for _, line in out], state
