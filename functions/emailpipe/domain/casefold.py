"""re.IGNORECASE's idea of "the same letter" as a string function (pure).

A case-insensitive alternation of many phrases takes milliseconds to compile, which every cold start pays at
import; looking `fold(text)` up in a frozenset of folded phrases costs nothing at import. For that to change no
result, `fold(a) == fold(b)` must hold exactly when Python 3.11's re.IGNORECASE matches character a against b.
It does, for every pair of code points, checked exhaustively, except for U+0345 (below). `fold` also keeps every
character one character, so an index into `fold(text)` is an index into `text`, and it keeps each character's
\\w, \\s and \\d class, so `\\b`, `\\w`, `\\s` and `\\d` in a pattern run on folded text see what they would in the
original.
"""

from __future__ import annotations

# str.lower() joins most case pairs; these are the rest. re also treats as one letter: µ and μ, ı and i, ſ and s,
# ς and σ, the Greek symbol variants (ϐ β, ϑ θ, ϕ φ, ϖ π, ϰ κ, ϱ ρ, ϵ ε), the old Cyrillic letter variants
# (ᲀ в ... ᲈ ꙋ), ẛ and ṡ, ι and ι, ΐ and ΐ, ΰ and ΰ, ﬆ and ﬅ. İ is here because its lower() is two characters
# (i + U+0307) and Σ because its lower() depends on the letter after it (σ or final ς). U+0345 (combining
# ypogegrammeni) is left out on purpose: re matches it with ι, but it is not a word character, and folding it to
# one would move \b; no pattern folded with this has a Greek iota.
_TABLE = str.maketrans(
    {
        "\u00b5": "\u03bc",
        "\u0130": "i",
        "\u0131": "i",
        "\u017f": "s",
        "\u03a3": "\u03c3",
        "\u03c2": "\u03c3",
        "\u03d0": "\u03b2",
        "\u03d1": "\u03b8",
        "\u03d5": "\u03c6",
        "\u03d6": "\u03c0",
        "\u03f0": "\u03ba",
        "\u03f1": "\u03c1",
        "\u03f5": "\u03b5",
        "\u1c80": "\u0432",
        "\u1c81": "\u0434",
        "\u1c82": "\u043e",
        "\u1c83": "\u0441",
        "\u1c84": "\u0442",
        "\u1c85": "\u0442",
        "\u1c86": "\u044a",
        "\u1c87": "\u0463",
        "\u1c88": "\ua64b",
        "\u1e9b": "\u1e61",
        "\u1fbe": "\u03b9",
        "\u1fd3": "\u0390",
        "\u1fe3": "\u03b0",
        "\ufb06": "\ufb05",
    }
)


def fold(text: str) -> str:
    """Return `text` with each character replaced by one representative of its re.IGNORECASE class."""
    if text.isascii():
        return text.lower()  # the same (the table maps no ASCII character), and several times faster
    return text.translate(_TABLE).lower()
