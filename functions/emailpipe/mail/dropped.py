"""What an inbound email loses to the limits, named for its outcome's details: what, how many, and why.

Nothing is dropped silently: parts beyond MAX_PARTS or nested deeper than MAX_DEPTH, parts that could not be
decoded, and body text beyond the extractor's limits each add one entry to the details of the recorded outcome
(`emailpipe inbound-log`).
"""

from __future__ import annotations

from emailpipe.domain import html_text, reply
from emailpipe.mail.parse import MAX_DELIMITER_LINES, ParsedEmail
from emailpipe.mail.parts import MAX_DEPTH, MAX_PARTS


def _lines_over(text: str, limit: int) -> int | None:
    """The line count of `text` when it exceeds `limit` lines (the extractor reads only the first `limit`)."""
    if len(text) <= limit:
        return None  # fewer characters than the limit: fewer lines too
    count = text.count("\n") + text.count("\r") - text.count("\r\n") + 1
    return count if count > limit else None


def _text_cut(parsed: ParsedEmail) -> str | None:
    """How the extractor's size limits cut the body it reads (the text part, else the HTML part), or None."""
    if parsed.text and parsed.text.strip():
        text = parsed.text
        if len(text) > reply.MAX_TEXT_CHARS:
            return f"text body of {len(text)} characters: only the first {reply.MAX_TEXT_CHARS} were read"
        lines = _lines_over(text, reply.MAX_LINES)
        if lines:
            return f"text body of {lines} lines: only the first {reply.MAX_LINES} were read"
        return None
    html = parsed.html
    if not html or not html.strip():
        return None
    if len(html) > reply.MAX_HTML_CHARS:
        return f"HTML body of {len(html)} characters: only the first {reply.MAX_HTML_CHARS} were read"
    tags = html.count("<")
    if tags > html_text.MAX_TAGS:
        return f"HTML body of about {tags} elements: only the first {html_text.MAX_TAGS} were read"
    # A rendered line needs a tag or a newline (a <p> gives two): below that bound no rendering is needed.
    if 2 * tags + html.count("\n") < html_text.MAX_OUTPUT_LINES:
        return None
    lines = reply.rendered_for_reply(html).count("\n") + 1  # the extraction's rendering, cached
    if lines >= html_text.MAX_OUTPUT_LINES:
        limit = html_text.MAX_OUTPUT_LINES
        return f"HTML body of more than {limit} lines as text: only the first {limit} were read"
    return None


def dropped(parsed: ParsedEmail) -> dict[str, str]:
    """The outcome details naming everything of `parsed` that the message will not contain (empty when nothing)."""
    details: dict[str, str] = {}
    defects = parsed.defects
    counted = next((d.partition(":")[2] for d in defects if d.startswith("parts_dropped:")), None)
    if counted:
        details["dropped_parts"] = (
            f"{counted} MIME parts (attachments or body parts) not read: over the limit of {MAX_PARTS} parts"
        )
    elif "too_many_parts" in defects:
        details["dropped_parts"] = f"the rest of the message not read: over {MAX_DELIMITER_LINES} MIME boundary lines"
    if "too_deep" in defects:
        details["dropped_nested"] = f"parts nested deeper than {MAX_DEPTH} levels not read"
    unreadable = sorted(d.partition(":")[2] for d in defects if d.startswith("part_error:"))
    if unreadable:
        details["dropped_unreadable"] = f"MIME parts that could not be decoded were skipped ({', '.join(unreadable)})"
    cut = _text_cut(parsed)
    if cut:
        details["text_cut"] = cut
    return details
