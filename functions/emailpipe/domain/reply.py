"""Reply extraction: turn an email body into the new text its sender wrote (pure Python, no I/O)."""

from __future__ import annotations

import functools

from emailpipe.domain import delimiter as _delimiter
from emailpipe.domain import reply_patterns as P
from emailpipe.domain.delimiter import DELIMITER  # noqa: F401 - re-exported
from emailpipe.domain.html_text import html_to_text, strip_markers
from emailpipe.domain.reply_quotes import FORWARD, strip_quotes
from emailpipe.domain.reply_signature import strip_signature

# Bodies larger than this are truncated before line processing: the new text of a reply sits at the top, and the cap
# keeps worst-case work bounded for multi-megabyte bodies.
MAX_TEXT_CHARS = 2_000_000
MAX_LINES = 20_000
MAX_HTML_CHARS = 2_000_000


def _lines(text: str) -> list[str]:
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n", MAX_LINES)
    return lines[:MAX_LINES]


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


def _extract_lines(lines: list[str]) -> str:
    kept, state = strip_quotes(lines)
    if state != FORWARD:
        kept = strip_signature(kept)
    result = _finish(kept)
    if not result:
        # Nothing new above the history (e.g. a bare forward): the whole body is the message.
        result = _finish(lines)
    return result


def extract_reply(text: str, *, delimiter: bool = True) -> str:
    """Return the new text of a plain-text email body, without quoted history or signature."""
    if not text:
        return ""
    lines = _lines(text)
    if delimiter:
        lines = _cut_at_delimiter(lines)
    return _extract_lines(lines)


@functools.lru_cache(maxsize=1)
def rendered_for_reply(html: str) -> str:
    """The HTML body as text with client quotes marked; the last one is kept, since the outcome's details
    (mail/dropped.py) look at the same rendering right after the extraction."""
    return html_to_text(html, drop_quotes=True)


def html_to_reply_text(html: str, *, delimiter: bool = True) -> str:
    """Return the new text of an HTML email body as plain text."""
    if not html or not html.strip():
        return ""
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
    lines = _lines(rendered_for_reply(html))
    if delimiter:
        lines = _cut_at_delimiter(lines)
    # A reply divider (<hr> above Outlook's header) left at the end once the history was cut is not content.
    while lines and (not lines[-1].strip() or P.is_separator(lines[-1][: P.MAX_LINE])):
        lines.pop()
    kept, state = strip_quotes(lines)
    if state != FORWARD:
        kept = strip_signature(kept)
    result = _finish(kept)
    if result:
        return result
    # Everything looked like history (e.g. the whole body sits in a blockquote): fall back to the full text.
    full = _lines(html_to_text(html))
    if delimiter:
        index = _delimiter_index(full)
        if index is not None:
            full = full[:index]
    return _finish(full)


def extract_from_message(text: str | None, html: str | None, *, delimiter: bool = True) -> str:
    """Return the new text of a message given its text/plain and text/html bodies (either may be missing)."""
    if text and text.strip():
        return extract_reply(text, delimiter=delimiter)
    if html and html.strip():
        return html_to_reply_text(html, delimiter=delimiter)
    return ""
