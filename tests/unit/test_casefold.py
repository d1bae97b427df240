"""casefold.fold against re.IGNORECASE, which the phrase lookups in trust and html_text stand in for."""

from __future__ import annotations

import re

from emailpipe.domain.casefold import _TABLE, fold

ALL = "".join(map(chr, range(0x110000)))


def test_fold_keeps_every_character_one_character_in_place() -> None:
    folded = fold(ALL)
    assert len(folded) == len(ALL)
    assert folded == "".join(fold(char) for char in ALL)
    assert fold(folded) == folded
    # str.lower() lowers a final capital sigma to ς, so Σ is in the table.
    assert fold("ΟΔΟΣ ΟΔΟΣ") == "".join(map(fold, "ΟΔΟΣ ΟΔΟΣ"))


def test_fold_keeps_word_space_and_digit_classes() -> None:
    folded = fold(ALL)
    for pattern in (r"\w", r"\s", r"\d"):
        compiled = re.compile(pattern)
        assert [m.start() for m in compiled.finditer(ALL)] == [m.start() for m in compiled.finditer(folded)], pattern


def test_fold_equates_exactly_what_ignorecase_equates() -> None:
    # Letters of the scripts the phrases use, every character the table maps to or from, and their other cases.
    sample = set(map(chr, range(0x250))) | set(map(chr, range(0x370, 0x530)))
    sample |= {chr(code) for code in _TABLE} | set(_TABLE.values())
    sample |= set("\u1c80\u1c81\u1c82\u1c83\u1c84\u1c85\u1c86\u1c87\u1c88\u1e60\u1e61\u1e9b\u1e9e\u1fbe\u212a\u212b")
    sample |= {other for char in list(sample) for other in (char.upper(), char.lower()) if len(other) == 1}
    sample.discard("\u0345")  # deliberately not folded (see casefold)
    chars = sorted(sample)
    for a in chars:
        matcher = re.compile(re.escape(a), re.IGNORECASE)
        folded = fold(a)
        for b in chars:
            assert (folded == fold(b)) == bool(matcher.fullmatch(b)), (a, b)
