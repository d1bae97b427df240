"""Byte-level repairs applied to a raw message before it is parsed (folded boundaries, nesting depth)."""

from __future__ import annotations

import re

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


# A header section: header lines and their continuations, after an optional mbox "From " line.
_HEADER_BLOCK = re.compile(rb"(?:From [^\n]*\n)?(?:[!-9;-~]+[ \t]*:[^\n]*\n|[ \t][^\n]*\n)*")


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
