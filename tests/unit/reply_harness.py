"""Adapter that lets score_replies.py call the reply extractor in-process (--py tests.unit.reply_harness:extract)."""

from __future__ import annotations

import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path

_FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
if str(_FUNCTIONS) not in sys.path:
    sys.path.insert(0, str(_FUNCTIONS))

from emailpipe.domain.reply import extract_from_message, extract_reply, html_to_reply_text  # noqa: E402


def message_bodies(raw_text: str) -> tuple[str | None, str | None]:
    """Return the first text/plain and first text/html part of a raw RFC 822 message."""
    message = BytesParser(policy=policy.default).parsebytes(raw_text.encode("utf-8", "surrogateescape"))
    text = html = None
    for part in message.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        try:
            content = part.get_content()
        except (LookupError, ValueError):
            payload = part.get_payload(decode=True) or b""
            content = payload.decode("utf-8", "replace")
        if ctype == "text/plain" and text is None:
            text = content
        elif ctype == "text/html" and html is None:
            html = content
    return text, html


def extract(raw_text: str, kind: str) -> str:
    """Extract the reply from a corpus input of the given kind (body, html or eml)."""
    if kind == "html":
        return html_to_reply_text(raw_text)
    if kind == "eml":
        text, html = message_bodies(raw_text)
        return extract_from_message(text, html)
    return extract_reply(raw_text)
