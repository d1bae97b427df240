"""Throughput of the reply extractor over the development corpus, in-process, with inputs decoded up front."""

from __future__ import annotations

import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
for _path in (_ROOT / "functions", _ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from emailpipe.domain.reply import extract_from_message, extract_reply, html_to_reply_text  # noqa: E402
from tests.unit.reply_harness import message_bodies  # noqa: E402

CORPUS = _ROOT.parent / "shared" / "corpus" / "replies"
_KINDS = {".eml": "eml", ".txt": "body", ".html": "html"}


def _load(corpus: Path) -> list[tuple[str, object]]:
    """Return (kind, decoded input) pairs; eml messages are parsed once so only extraction is timed."""
    cases: list[tuple[str, object]] = []
    for path in sorted(corpus.iterdir()):
        kind = _KINDS.get(path.suffix)
        if kind is None or path.name.endswith(".expected.txt"):
            continue
        raw = path.read_bytes().decode("utf-8", "surrogateescape")
        cases.append((kind, message_bodies(raw) if kind == "eml" else raw))
    return cases


def _extract(kind: str, data: object) -> str:
    if kind == "html":
        return html_to_reply_text(data)  # type: ignore[arg-type]
    if kind == "eml":
        text, html = data  # type: ignore[misc]
        return extract_from_message(text, html)
    return extract_reply(data)  # type: ignore[arg-type]


def run(corpus: Path = CORPUS, repeat: int = 5) -> dict:
    """Measure extraction throughput (cases/s) over the corpus; reports the best of `repeat` passes."""
    cases = _load(corpus)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for kind, data in cases:
            _extract(kind, data)
        best = min(best, time.perf_counter() - start)
    return {
        "cases": len(cases),
        "best_seconds": round(best, 4),
        "cases_per_second": round(len(cases) / best, 1) if best > 0 else None,
    }


if __name__ == "__main__":
    print(run())
