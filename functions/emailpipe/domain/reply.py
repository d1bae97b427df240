"""Reply extraction: turn an email body into the new text its sender wrote (pure Python, no I/O)."""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass

from emailpipe.domain import delimiter as _delimiter
from emailpipe.domain import reply_patterns as P
from emailpipe.domain.delimiter import DELIMITER  # noqa: F401 - re-exported
from emailpipe.domain.html_text import html_to_text, strip_markers
from emailpipe.domain.reply_quotes import FORWARD, strip_quotes, top_header_end
from emailpipe.domain.reply_signature import strip_signature
from emailpipe.records import Record

# Bodies larger than this are truncated before line processing: the new text of a reply sits at the top, and the cap
# keeps worst-case work bounded for multi-megabyte bodies.
MAX_TEXT_CHARS = 2_000_000
MAX_LINES = 20_000
MAX_HTML_CHARS = 2_000_000


# Invisible format characters that right-to-left clients put around a line (Apple Mail in Arabic or Hebrew wraps
# "أُرسلت من الـ iPhone" in U+202B ... U+202C) and that a blank line may consist of (a lone zero-width space): at a
# line's ends they hide a footer or header from the rules and keep an empty line from reading as blank.
_EDGE_MARKS = "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_EDGE_STRIP = _EDGE_MARKS + " \t\u00a0"
_EDGE_MARK_RE = P.lazy(lambda: "[" + _EDGE_MARKS + "]", 0)


def _unmark(line: str) -> str:
    """The line without the format characters (and the spaces among them) at its ends; its indentation kept."""
    core = line.strip()
    if core[:1] not in _EDGE_MARKS and core[-1:] not in _EDGE_MARKS:
        return line
    indent = line[: len(line) - len(line.lstrip())]
    core = core.strip(_EDGE_STRIP)
    return indent + core if core else ""


def _lines(text: str) -> list[str]:
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n", MAX_LINES)[:MAX_LINES]
    if not text.isascii() and _EDGE_MARK_RE.search(text):
        lines = [_unmark(line) for line in lines]
    return lines


def _delimiter_index(lines: list[str]) -> int | None:
    """Return the index of our '### Please type your reply above this line ###' line, in any shape (delimiter.find)."""
    found = _delimiter.find(lines)
    return None if found is None else found[0]


def _cut_at_delimiter(lines: list[str]) -> list[str]:
    """Drop the delimiter line and everything below it.

    A quoted delimiter ("> ### Please type…") is kept as the last quoted lines, so the quote rules also remove the
    "On … wrote:" header that introduces it.
    """
    found = _delimiter.find(lines)
    if found is None:
        return lines
    first, last = found
    if lines[first].lstrip().startswith(">"):
        return lines[: last + 1]
    return lines[:first]


def _finish(lines: list[str]) -> str:
    """Join lines, drop trailing spaces and internal markers, collapse blank-line runs, trim the ends."""
    out: list[str] = []
    for line in lines:
        line = strip_markers(line).rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _extract_lines(lines: list[str], forward_subject: bool = False, depth: int = 0) -> str:
    kept, state = strip_quotes(lines, forward_subject=forward_subject)
    if state != FORWARD:
        kept = strip_signature(kept)
    result = _finish(kept)
    if result:
        return result
    # Nothing new above the history: the body is a pasted email. Under a header block at the very top, it is that
    # header and the text below it read as a reply (its own history and signature cut); else the whole body,
    # without the signature it ends with.
    end = top_header_end(lines)
    if end is not None and depth < 2:
        below = _extract_lines(lines[end + 1 :], forward_subject, depth + 1)
        if below:
            return _finish([*lines[: end + 1], "", below])
    return _finish(strip_signature(lines))


def extract_reply(text: str, *, delimiter: bool = True, subject: str | None = None) -> str:
    """Return the new text of a plain-text email body, without quoted history or signature.

    subject: the email's subject; when it says forward ("FW:"), an Outlook header block is the forwarded email and
    the body is kept whole, as a forward marker's is.
    """
    if not text:
        return ""
    lines = _lines(text)
    if delimiter:
        lines = _cut_at_delimiter(lines)
    return _extract_lines(lines, P.is_forward_subject(subject))


@functools.lru_cache(maxsize=1)
def rendered_for_reply(html: str) -> str:
    """The HTML body as text with client quotes marked; the last one is kept, since the outcome's details
    (mail/dropped.py) look at the same rendering right after the extraction."""
    return html_to_text(html, drop_quotes=True)


def html_to_reply_text(html: str, *, delimiter: bool = True, subject: str | None = None) -> str:
    """Return the new text of an HTML email body as plain text (subject: as in extract_reply)."""
    if not html or not html.strip():
        return ""
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
    forward_subject = P.is_forward_subject(subject)
    if forward_subject:
        # The quote marking cuts at Outlook's divider, above which a forward's header block sits: read the whole body.
        whole = _lines(html_to_text(html))
        if delimiter:
            whole = _cut_at_delimiter(whole)
        kept, state = strip_quotes(whole, forward_subject=True)
        if state == FORWARD:
            return _finish(kept)
    lines = _lines(rendered_for_reply(html))
    if delimiter:
        lines = _cut_at_delimiter(lines)
    # A reply divider (<hr> above Outlook's header) left at the end once the history was cut is not content.
    while lines and (not lines[-1].strip() or P.is_separator(lines[-1][: P.MAX_LINE])):
        lines.pop()
    kept, state = strip_quotes(lines, forward_subject=forward_subject)
    if state != FORWARD:
        kept = strip_signature(kept, thanks=False)
    result = _finish(kept)
    if result:
        return result
    # Everything looked like history (e.g. the whole body sits in a blockquote): fall back to the full text.
    full = _lines(html_to_text(html))
    if delimiter:
        index = _delimiter_index(full)
        if index is not None:
            full = full[:index]
    return _finish(strip_signature(full, thanks=False))


def extract_from_message(
    text: str | None, html: str | None, *, delimiter: bool = True, subject: str | None = None
) -> str:
    """Return the new text of a message given its text/plain and text/html bodies (either may be missing).

    subject: the email's subject, which tells an Outlook forward from an Outlook reply (see extract_reply).
    """
    if text and text.strip():
        return extract_reply(text, delimiter=delimiter, subject=subject)
    if html and html.strip():
        return html_to_reply_text(html, delimiter=delimiter, subject=subject)
    return ""


@dataclass(frozen=True, repr=False, eq=False)
class Extracted(Record):
    """An email body split in two: the reply the sender wrote, and what the extraction cut from it."""

    reply: str  # exactly extract_from_message(...)
    trimmed: str  # quoted history, signature and what sat below the delimiter, in order; "" when nothing was cut


def extract_parts(
    text: str | None, html: str | None, *, delimiter: bool = True, subject: str | None = None
) -> Extracted:
    """Return the reply (as extract_from_message) and the trimmed rest of the body, for "show the rest of this email".

    The trimmed part is found in one pass over the body's lines: the reply's lines are a subsequence of them (the
    extraction only drops lines, or cuts a header off a line it shares with the reply), and every other line was cut.
    An HTML body is rendered once more in full, since the reply's rendering leaves quoted blocks out.
    """
    reply = extract_from_message(text, html, delimiter=delimiter, subject=subject)
    if text and text.strip():
        source = _lines(text)
    elif html and html.strip():
        source = _lines(html_to_text(html[:MAX_HTML_CHARS]))
    else:
        return Extracted(reply=reply, trimmed="")
    if delimiter:
        found = _delimiter.find(source)
        if found is not None:
            # The delimiter line itself is ours, not the sender's: it is neither reply nor trimmed content.
            source = source[: found[0]] + source[found[1] + 1 :]
    return Extracted(reply=reply, trimmed=_trimmed(source, reply))


# How many lines below the last matched one a reply line that shared its line with a quote header is looked for.
_PREFIX_LOOKAHEAD = 50


def _trimmed(source: list[str], reply: str) -> str:
    """The lines of `source` that `reply` does not hold, with a blank line where reply text stood between them."""
    keys = [strip_markers(line).strip() for line in source]
    where: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        if key:
            where.setdefault(key, []).append(index)
    kept: dict[int, str] = {}  # source index -> the text of it the reply holds
    at = 0
    for wanted in reply.split("\n"):
        wanted = wanted.strip()
        if not wanted:
            continue
        spots = where.get(wanted, ())
        pick = bisect.bisect_left(spots, at)
        if pick < len(spots):
            kept[spots[pick]] = wanted
            at = spots[pick] + 1
            continue
        # Reply text on the line of a quote header ("Thanks! On Mon, ... wrote:"): the line starts with it.
        for index in range(at, min(len(keys), at + _PREFIX_LOOKAHEAD)):
            if keys[index].startswith(wanted):
                kept[index] = wanted
                at = index + 1
                break
    out: list[str] = []
    for index, line in enumerate(source):
        held = kept.get(index)
        if held is None:
            out.append(line)
            continue
        rest = keys[index][len(held) :].strip()
        if rest:
            out.append(rest)
        elif out and out[-1].strip():
            out.append("")
    return _finish(out)
