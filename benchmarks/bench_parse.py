"""Benchmark: CPU per message of parse_email versus the stdlib parser (policy.default) on the MIME corpus."""

from __future__ import annotations

import email
import sys
import time
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "mime"
sys.path.insert(0, str(ROOT / "functions"))

from emailpipe.mail.parse import parse_email  # noqa: E402 - needs the sys.path entry above


def _cpu(fn, raws: list[bytes], rounds: int) -> float:
    """Return the best-of-`rounds` CPU seconds for one pass of `fn` over every message."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for raw in raws:
            fn(raw)
        best = min(best, time.process_time() - start)
    return best


def run(corpus: Path = CORPUS, rounds: int = 5) -> dict:
    """Return ours vs stdlib CPU milliseconds per message, and their ratio."""
    raws = [path.read_bytes() for path in sorted(corpus.glob("*.eml"))]
    if not raws:
        return {"error": f"no .eml files in {corpus}"}
    # Warm-up: imports, codec and mimetypes tables, charset-normalizer's models.
    for raw in raws:
        parse_email(raw)
    stdlib = _cpu(lambda raw: email.message_from_bytes(raw, policy=policy.default), raws, rounds)
    ours = _cpu(parse_email, raws, rounds)
    return {
        "messages": len(raws),
        "bytes": sum(map(len, raws)),
        "rounds": rounds,
        "stdlib_ms_per_msg": round(stdlib / len(raws) * 1000, 3),
        "ours_ms_per_msg": round(ours / len(raws) * 1000, 3),
        "ratio": round(ours / stdlib, 2),
    }


if __name__ == "__main__":
    print(run())
