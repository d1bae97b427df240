"""Case-insensitive matching of word-list patterns without compiling them as regular expressions.

Compiling a regex costs about two microseconds per character of pattern, paid at import, which on AWS Lambda means on
every cold start. The signature and quote-header patterns are mostly long lists of literal words in many languages, so
they are written here as sequences of steps instead. A step maps the set of positions where matching may continue to
the set of positions after it, so a sequence explores every way a backtracking regex would, and matches exactly when
the regex it spells matches. Words are compared after `fold`, which is re.IGNORECASE's character
comparison (see casefold).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from emailpipe.domain.casefold import fold


def is_word(text: str, pos: int) -> bool:
    """Return True when text[pos] exists and is a regex \\w character (re uses the same Unicode test as isalnum)."""
    return 0 <= pos < len(text) and (text[pos].isalnum() or text[pos] == "_")


Positions = set[int]
Step = Callable[[str, str, Positions], Positions]  # (text, fold(text), positions) -> positions after the step


class Words:
    """One of the words, compared after fold (a space in a word is one literal space): `(?:word|word|...)`."""

    __slots__ = ("words", "by_first")

    def __init__(self, *words: str) -> None:
        self.words = tuple(map(fold, words))
        # First letter -> the lengths of the words starting with it, each with the set of those words.
        groups: dict[str, dict[int, set[str]]] = {}
        for word in self.words:
            groups.setdefault(word[:1], {}).setdefault(len(word), set()).add(word)
        self.by_first = {c: tuple([(n, frozenset(g)) for n, g in lengths.items()]) for c, lengths in groups.items()}

    def ends(self, folded: str, pos: int) -> Positions:
        """Positions after the words that match at pos."""
        return {pos + n for n, group in self.by_first.get(folded[pos : pos + 1], ()) if folded[pos : pos + n] in group}

    def __call__(self, text: str, folded: str, positions: Positions) -> Positions:
        return {end for p in positions for end in self.ends(folded, p)}


class Chars:
    """`[class]{least,most}` (most=None: unbounded) for a class given as a predicate on one character."""

    __slots__ = ("accept", "least", "most")

    def __init__(self, accept: Callable[[str], bool], least: int = 1, most: int | None = None) -> None:
        self.accept, self.least, self.most = accept, least, most

    def __call__(self, text: str, folded: str, positions: Positions) -> Positions:
        out: Positions = set()
        for p in positions:
            stop = len(text) if self.most is None else min(len(text), p + self.most)
            q = p
            while q < stop and self.accept(text[q]):
                q += 1
            out.update(range(p + self.least, q + 1))
        return out


class AnyChars:
    """`.{least,most}`: any characters but a line break."""

    __slots__ = ("least", "most")

    def __init__(self, least: int, most: int) -> None:
        self.least, self.most = least, most

    def __call__(self, text: str, folded: str, positions: Positions) -> Positions:
        out: Positions = set()
        for p in positions:
            stop = min(len(text), p + self.most)
            newline = text.find("\n", p, stop)
            out.update(range(p + self.least, (stop if newline < 0 else newline) + 1))
        return out


def _boundary(text: str, folded: str, positions: Positions) -> Positions:
    """`\\b`."""
    return {p for p in positions if is_word(text, p - 1) != is_word(text, p)}


def _end(text: str, folded: str, positions: Positions) -> Positions:
    """`\\s*$`: only whitespace follows."""
    end = len(text.rstrip())
    return {p for p in positions if p >= end}


_SPACE_RUN = re.compile(r"\s*")


class _Space:
    """`\\s+` (least=1) or `\\s*` (least=0)."""

    __slots__ = ("least",)

    def __init__(self, least: int) -> None:
        self.least = least

    def __call__(self, text: str, folded: str, positions: Positions) -> Positions:
        out: Positions = set()
        for p in positions:
            if text[p : p + 1].isspace():
                out.update(range(p + self.least, _SPACE_RUN.match(text, p).end() + 1))
            elif not self.least:
                out.add(p)
        return out


BOUNDARY: Step = _boundary
END: Step = _end
SPACE = _Space(1)  # \s+
SPACE0 = _Space(0)  # \s*
WORD = Chars(lambda c: c.isalnum() or c == "_")  # \w+


def run(steps: Iterable[Step], text: str, folded: str, positions: Positions) -> Positions:
    """Apply steps in order: the positions where the sequence can end."""
    for step in steps:
        if not positions:
            break
        positions = step(text, folded, positions)
    return positions


class Maybe:
    """`(?:steps)?`."""

    __slots__ = ("steps",)

    def __init__(self, *steps: Step) -> None:
        self.steps = steps

    def __call__(self, text: str, folded: str, positions: Positions) -> Positions:
        return positions | run(self.steps, text, folded, positions)


class Repeat:
    """`(?:steps){0,most}` (most=None: `*`); the steps always consume at least one character."""

    __slots__ = ("steps", "most")

    def __init__(self, most: int | None, *steps: Step) -> None:
        self.most, self.steps = most, steps

    def __call__(self, text: str, folded: str, positions: Positions) -> Positions:
        reached = set(positions)
        frontier = positions
        count = 0
        while frontier and (self.most is None or count < self.most):
            # A position reached with fewer repetitions has at least as many left, so it needs no second visit.
            frontier = run(self.steps, text, folded, frontier) - reached
            reached |= frontier
            count += 1
        return reached


class Either:
    """`(?:steps|steps|...)`, each alternative a tuple of steps."""

    __slots__ = ("alternatives",)

    def __init__(self, *alternatives: tuple[Step, ...]) -> None:
        self.alternatives = alternatives

    def __call__(self, text: str, folded: str, positions: Positions) -> Positions:
        out: Positions = set()
        for steps in self.alternatives:
            out |= run(steps, text, folded, positions)
        return out


class Phrases:
    """A top-level alternation whose alternatives each open with Words, indexed by their first two folded letters.

    `then` is the part of the pattern that follows the alternation.
    """

    __slots__ = ("_by_start", "_longest")

    def __init__(self, *alternatives: tuple[Step, ...], then: tuple[Step, ...] = ()) -> None:
        self._by_start: dict[str, list[tuple[Words, tuple[Step, ...]]]] = {}
        self._longest = 0  # longest opening word
        for steps in alternatives:
            first = steps[0]
            assert isinstance(first, Words) and min(map(len, first.words)) >= 2, steps
            self._longest = max(self._longest, *map(len, first.words))
            for start in {w[:2] for w in first.words}:
                self._by_start.setdefault(start, []).append((first, steps[1:] + then))

    def match(self, text: str, pos: int) -> bool:
        """Return True when one alternative, followed by `then`, matches text at pos."""
        candidates = self._by_start.get(fold(text[pos : pos + 2]))
        if not candidates:
            return False
        head = fold(text[pos : pos + self._longest])
        folded = None
        for first, rest in candidates:
            # The opening words are checked on a slice, so the whole text is folded only for a likely match.
            starts = {pos + n for n in first.ends(head, 0)}
            if starts:
                if folded is None:
                    folded = fold(text)
                if run(rest, text, folded, starts):
                    return True
        return False
