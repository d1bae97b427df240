"""Names people see (display names, attachment file names): invisible characters cleaned out before storing (pure).

Control and format characters (Unicode categories Cc, Cf, Zl, Zp: CR, LF, NUL, U+200B ZERO WIDTH SPACE, U+FEFF,
the bidi overrides, U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR, ...) have no business in a name: they hide
text, reorder it, or break the line it is shown on. Format characters are removed. Controls and line or paragraph
separators stand between words, so in a display name each becomes one space (in a file name it is removed); runs
of spaces are then collapsed and the ends trimmed. This also removes the zero-width joiners of emoji sequences and
of some scripts' spelling (U+200C, U+200D): a name keeps its letters, and loses only how they are joined.
"""

from __future__ import annotations

import unicodedata

_SEPARATING = frozenset({"Cc", "Zl", "Zp"})


def clean_name(text: str, separator: str = " ") -> str:
    """Return `text` without Cc/Cf/Zl/Zp characters (see the module docstring); printable text is returned as is.

    `separator` replaces controls and line/paragraph separators ("" for file names, where a space would be new).
    """
    if text.isprintable():
        # str.isprintable() is False for every Cc, Cf, Zl and Zp character, so there is nothing to remove.
        return text
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        out.append(separator if category in _SEPARATING else char)
    return " ".join(part for part in "".join(out).split(" ") if part)


def is_clean_name(text: str) -> bool:
    """True when `text` has no Cc, Cf, Zl or Zp character."""
    return all(unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp") for char in text)
