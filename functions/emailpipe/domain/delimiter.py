"""The optional delimiter line on top of notifications; inbound text below it is cut.

Only our own line cuts, in the shapes mail clients hand it back: quoted with `>` at any depth, wrapped over two or
three lines, rendered from the HTML part, with extra spaces, no-break spaces or zero-width characters, in any
letter case. Other lines made with `#` (`### Attempt 1 ###`, a Markdown heading) are text like any other, and a
`#` inside a message is never removed. Notifications are sent in English only; a translated line added to
DELIMITERS is recognised in every one of those shapes too.
"""

from __future__ import annotations

import re

DELIMITER = "### Please type your reply above this line ###"
DELIMITERS = (DELIMITER,)
# A client wraps a 46-character line at most twice (Outlook's 76-column wrap, narrow phone clients' ~20).
_MAX_WRAPPED_LINES = 3
_QUOTE_AND_SPACE = " \t>\u00a0\u2007\u202f\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_MAX_LINE = 1000
# Other help desks' whole-line markers: "-- Reply above this line --", "##- Please type your reply above this line -##".
_OTHER_DESKS = re.compile(
    r"^[\s>]*[-#=_*~]{2,}\s*(?:please\s+)?(?:type\s+your\s+|write\s+your\s+)?(?:reply|respond|response|answer)"
    r"\s+(?:\w+\s+){0,3}above\s+(?:this|the)\s+line\b.{0,30}$",
    re.IGNORECASE,
)


def _compact(line: str) -> str:
    """A line without its quote markers, whitespace (no-break spaces included) and invisible characters, folded."""
    return "".join(line.lstrip(_QUOTE_AND_SPACE).translate(_INVISIBLE).split()).casefold()


_TARGETS = frozenset(_compact(text) for text in DELIMITERS)


def _starts_like_ours(line: str) -> bool:
    head = line.lstrip(_QUOTE_AND_SPACE)
    return head.startswith(("#", "--", "==", "__", "**", "~~"))


def find(lines: list[str]) -> tuple[int, int] | None:
    """The first and last index of the first delimiter in `lines` (the same when it is not wrapped), or None.

    Besides ours, the whole-line markers of other help desks ("##- Please type your reply above this line -##",
    "-- Reply above this line --") cut too: they mark a reply to a ticket forwarded from such a desk.
    """
    for i, line in enumerate(lines):
        if not _starts_like_ours(line):
            continue
        cap = line[:_MAX_LINE]
        compact = _compact(cap)
        if compact in _TARGETS:
            return i, i
        if _OTHER_DESKS.match(cap):
            return i, i
        if not any(target.startswith(compact) for target in _TARGETS) or not compact:
            continue
        joined = compact
        for j in range(i + 1, min(i + _MAX_WRAPPED_LINES, len(lines))):
            joined += _compact(lines[j][:_MAX_LINE])
            if joined in _TARGETS:
                return i, j
            if not any(target.startswith(joined) for target in _TARGETS):
                break
    return None
