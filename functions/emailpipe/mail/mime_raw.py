"""Byte-level repairs applied to a raw message before it is parsed (header block, folded boundaries, nesting depth)."""

from __future__ import annotations

import re

from emailpipe.domain.reply_patterns import lazy

# Where a nested multipart had its boundary neutralised, the parameter is renamed to this, so that the
# walk can tell a part cut off on purpose from one whose boundary was lost in transit.
DEPTH_LIMITED_PARAM = b"x-emailpipe-depth-limited"

# A boundary value folded inside its quotes: `boundary="abc<CRLF> def"`. Folding is only legal between
# tokens, so the parser keeps the CRLF (compat32) or a space (default policy) in the value and never finds
# the delimiter lines: the whole body and every attachment vanish.
_QUOTED_FOLD = re.compile(rb'(boundary[ \t]*=[ \t]*)"([^"\r\n]*(?:\r?\n[ \t]+[^"\r\n]*)+)"', re.IGNORECASE)
# The unquoted variant: `boundary=abc<CRLF> def` followed by the end of the header or a `;`.
_UNQUOTED_FOLD = re.compile(
    rb"(boundary[ \t]*=[ \t]*)([^\s\";]+)((?:\r?\n[ \t]+[^\s\";:]+)+)(?=[ \t]*(?:;|\r?\n(?![ \t])|\Z))",
    re.IGNORECASE,
)
_FOLD = re.compile(rb"\r?\n([ \t]+)")

_DECL_OR_DELIM = re.compile(
    rb'(?P<decl>boundary[ \t]*=[ \t]*(?:"(?P<q>[^"\r\n]*)"|(?P<u>[^\s;"]+)))|^--(?P<delim>[^\r\n]*?)[ \t]*\r?$',
    re.IGNORECASE | re.MULTILINE,
)


def _present_as_delimiter(raw: bytes, boundary: bytes, start: int) -> bool:
    """Return whether `--boundary` starts a line somewhere after `start`."""
    needle = b"\n--" + boundary
    pos = raw.find(needle, start)
    while pos >= 0:
        end = pos + len(needle)
        if end >= len(raw) or raw[end : end + 1] in (b"\r", b"\n", b"-", b" ", b"\t"):
            return True
        pos = raw.find(needle, end)
    return False


def repair_folded_boundaries(raw: bytes) -> tuple[bytes, bool]:
    """Unfold `boundary=` values that a mail client folded mid-value; return the new bytes and whether any changed."""
    if b"oundary" not in raw and b"OUNDARY" not in raw:
        return raw, False
    changed = False

    def _fix(match: re.Match[bytes], quoted: bool) -> bytes:
        nonlocal changed
        prefix = match.group(1)
        folded = match.group(2) + (b"" if quoted else match.group(3))
        candidates = [_FOLD.sub(b"", folded)]
        if quoted:
            candidates += [_FOLD.sub(rb"\1", folded), _FOLD.sub(b" ", folded)]
        unfolded_first = match.group(2) if not quoted else None
        for candidate in candidates:
            if candidate and _present_as_delimiter(raw, candidate, match.end()):
                # An unquoted value is only re-joined when the unjoined one is not a real delimiter too.
                if unfolded_first is not None and _present_as_delimiter(raw, unfolded_first, match.end()):
                    return match.group(0)
                changed = True
                return prefix + b'"' + candidate + b'"'
        return match.group(0)

    fixed = _QUOTED_FOLD.sub(lambda m: _fix(m, True), raw)
    fixed = _UNQUOTED_FOLD.sub(lambda m: _fix(m, False), fixed)
    return fixed, changed


def limit_nesting(raw: bytes, max_depth: int) -> tuple[bytes, bool]:
    """Neutralise multipart boundaries nested deeper than `max_depth`; return the new bytes and whether any were."""
    # Nesting depth cannot exceed the number of boundary declarations, so ordinary messages skip the scan.
    if raw.lower().count(b"boundary") <= max_depth:
        return raw, False
    stack: list[bytes] = []
    cut: list[int] = []
    for match in _DECL_OR_DELIM.finditer(raw):
        if match.group("decl") is not None:
            boundary = match.group("q") if match.group("q") is not None else match.group("u")
            if len(stack) >= max_depth:
                cut.append(match.start())
            else:
                stack.append(boundary)
            continue
        delim = match.group("delim")
        closing = delim.endswith(b"--") and delim[:-2] in stack
        name = delim[:-2] if closing else delim
        if name in stack:
            # A delimiter of an outer boundary ends every part nested inside it.
            while stack and stack[-1] != name:
                stack.pop()
            if closing and stack:
                stack.pop()
    if not cut:
        return raw, False
    pieces = []
    last = 0
    for start in cut:
        pieces += [raw[last:start], DEPTH_LIMITED_PARAM]
        last = start + len(b"boundary")
    pieces.append(raw[last:])
    return b"".join(pieces), True


# The header section as the stdlib's feedparser reads it: it ends at the first line that is neither a header
# (`name:`, any printable name without spaces), a continuation, nor an mbox "From " line.
# (Only read on the broken path: compiled on first use, off the cold start.)
_STDLIB_HEADERS = lazy(lambda: rb"(?:From [^\n]*\n|[!-9;-~]*:[^\n]*\n|[ \t][^\n]*\n)*", 0)
_HEADER_LINE = lazy(lambda: rb"[!-9;-~]+:", 0)
# A header whose name is followed by spaces before the colon (`Subject : hi`): the stdlib stops there too.
_SPACED_HEADER = lazy(lambda: rb"([A-Za-z][A-Za-z0-9-]*)[ \t]+:", 0)
_REAL_HEADER = lazy(lambda: rb"([A-Za-z][A-Za-z0-9-]*)[ \t]*:", 0)
_KNOWN_HEADERS = frozenset(
    b"from to cc bcc subject date message-id reply-to sender return-path received mime-version in-reply-to "
    b"references delivered-to envelope-to user-agent importance priority organization thread-topic "
    b"thread-index accept-language dkim-signature domainkey-signature authentication-results "
    b"received-spf precedence auto-submitted errors-to disposition-notification-to".split()
)
_KNOWN_PREFIXES = (b"x-", b"content-", b"list-", b"resent-", b"arc-")
_DECLARED_BOUNDARY = lazy(lambda: rb"""(?i)boundary[ \t]*=[ \t]*["']?([^"';\r\n]+)""", 0)
# Headers an odd line is never folded into, but dropped after: the author (it would add or change a mailbox) and
# the verdicts a receiving server writes above the sender's headers (the sender's first line, folded into the last
# of them, would add `dmarc=pass` to the provider's own Authentication-Results; see domain/trust.py).
_NEVER_CONTINUED = frozenset(
    b"from sender return-path received-spf authentication-results arc-authentication-results dkim-signature".split()
)
_NEVER_CONTINUED_PREFIXES = (b"x-ses-", b"arc-")
# Lines a message may start with before its headers (a separator such as `---- Original email message ----`,
# blank lines): more than this is not a misplaced line but a message without headers.
_MAX_LEADING_LINES = 3


def _known_header(line: bytes, *, part_headers: bool = True) -> bool:
    """True when `line` starts a header whose name mail software writes (From, Received, X-..., Content-...).

    Without `part_headers`, Content-* does not count: those also start every MIME part of a body.
    """
    match = _REAL_HEADER.match(line)
    if match is None:
        return False
    name = match.group(1).lower()
    if not part_headers and name.startswith(b"content-"):
        return False
    return name in _KNOWN_HEADERS or name.startswith(_KNOWN_PREFIXES)


def repair_header_block(raw: bytes, limit: int) -> tuple[bytes, bool]:
    """Mend a header section the stdlib would end too early; return the new bytes and whether any changed.

    The stdlib ends the headers at the first line that is not a header or a continuation, so a From or
    Subject after it lands in the body and the message has no sender. Tolerant parsers read on to the blank
    line; so does this, but only when real headers follow. Within the first `limit` bytes and before the
    first blank line: an odd line becomes a continuation of the header above it (it mostly is one, an
    unindented fold of Received, References or a boundary), up to three lines before the first header are
    dropped (a separator line, blank lines), and `Name :` loses its spaces; an odd line after From,
    Sender or a verdict header (Authentication-Results, Received-SPF, X-SES-*: _NEVER_CONTINUED) is dropped
    instead, so that it never adds to the author or to a receiving server's verdict. Odd lines are mended only when
    after the first of them come at least one well-known header that is not Content-* (those start MIME
    parts too; see _KNOWN_HEADERS) and no fewer header lines than odd lines, and none of them is a delimiter
    of the declared boundary (a body that began without its blank line). Nothing after the blank line is
    touched, so the body never becomes headers.
    """
    end = _STDLIB_HEADERS.match(raw).end()
    rest = raw[end : end + 2]
    if end and (not rest or rest[:1] == b"\n" or rest == b"\r\n" or b"\n" not in raw[end:]):
        return raw, False  # the blank line, the end of the message, or a last line without a body: as it should be
    out: list[bytes] = []
    pos = skipped = 0
    while True:  # before the first header: an mbox "From " line is kept, blank and separator lines are dropped
        eol = raw.find(b"\n", pos, limit)
        if eol < 0:
            return raw, False
        line = raw[pos : eol + 1]
        if _HEADER_LINE.match(line) or _SPACED_HEADER.match(line):
            break
        if pos == 0 and line.startswith(b"From "):
            out.append(line)
        elif skipped < _MAX_LEADING_LINES and not line.startswith((b" ", b"\t")):
            skipped += 1
        else:
            return raw, False
        pos = eol + 1
    if skipped and not _known_header(line):
        return raw, False
    odd = changed = headers_after = known_after = 0
    previous = b""
    boundary = None  # the boundary a Content-Type above declared, if any
    while True:
        eol = raw.find(b"\n", pos, limit)
        if eol < 0:
            return raw, False  # no blank line within the limit: nothing shows where the headers end
        line = raw[pos : eol + 1]
        if line in (b"\n", b"\r\n"):
            break
        if line.startswith((b" ", b"\t", b"From ")):
            pass
        elif _HEADER_LINE.match(line):
            previous = line.split(b":", 1)[0].strip().lower()
            if odd:
                headers_after += 1
                known_after += _known_header(line, part_headers=False)
        elif spaced := _SPACED_HEADER.match(line):
            line = spaced.group(1) + b":" + line[spaced.end() :]
            previous = spaced.group(1).lower()
            changed += 1
            if odd:
                headers_after += 1
                known_after += _known_header(line, part_headers=False)
        else:
            if boundary and line.startswith(b"--" + boundary):
                return raw, False  # a MIME delimiter: the body began without its blank line
            odd += 1
            if previous in _NEVER_CONTINUED or previous.startswith(_NEVER_CONTINUED_PREFIXES):
                # Never part of the author or of a verdict: the line is dropped, so it cannot add to either.
                pos = eol + 1
                continue
            line = b" " + line
        if boundary is None and (declared := _DECLARED_BOUNDARY.search(line)):
            boundary = declared.group(1).strip()
        out.append(line)
        pos = eol + 1
    if odd and (not known_after or headers_after < odd):
        return raw, False
    if not (odd or changed or skipped):
        return raw, False
    return b"".join(out) + raw[pos:], True


# A header section: header lines and their continuations, after an optional mbox "From " line. The last line
# counts without its line break: a message that is one huge header line is all header (40 MB of From is
# seconds of address parsing).
_HEADER_BLOCK = re.compile(rb"(?:From [^\n]*\n)?(?:[!-9;-~]+[ \t]*:[^\n]*(?:\n|\Z)|[ \t][^\n]*(?:\n|\Z))*")


def header_block_length(raw: bytes) -> int:
    """Return the byte length of the top-level header section, as the parser will read it."""
    match = _HEADER_BLOCK.match(raw)
    return match.end() if match else 0


def truncate_parts(raw: bytes, max_delimiters: int) -> tuple[bytes, bool]:
    """Cut a message after `max_delimiters` lines starting with `--`; return the new bytes and whether it was cut."""
    # The stdlib parser costs about 20 us per part, so a 40 MB message of tiny parts would take a minute.
    if raw.count(b"\n--") <= max_delimiters:
        return raw, False
    pos = -1
    for _ in range(max_delimiters + 1):
        pos = raw.find(b"\n--", pos + 1)
    return raw[: pos + 1], True


# Where an attached message was nested too deep, its type is renamed to this so it stays one opaque part.
DEPTH_LIMITED_MESSAGE = "application/x-emailpipe-depth-limited-rfc822"
_RFC822_TYPE = re.compile(rb"(content-type:[ \t]*)message/rfc822", re.IGNORECASE)


def limit_message_nesting(raw: bytes, max_count: int) -> tuple[bytes, bool]:
    """Keep only the first `max_count` message/rfc822 parts parsed as messages; return bytes and whether cut."""
    # Each attached message is one more level of recursion in the parser and the generator, and unlike a
    # multipart it has no delimiter to measure its depth by, so the count is what is bounded.
    if raw.lower().count(b"message/rfc822") <= max_count:
        return raw, False
    seen = 0

    def _rename(match: re.Match[bytes]) -> bytes:
        nonlocal seen
        seen += 1
        return match.group(0) if seen <= max_count else match.group(1) + DEPTH_LIMITED_MESSAGE.encode()

    fixed = _RFC822_TYPE.sub(_rename, raw)
    return fixed, seen > max_count
