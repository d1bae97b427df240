"""CPU per message of the pure part of the inbound path against the standard library parsing the same bytes.

The inbound path here is what `process_email` does without I/O: parse_email, the machine-mail check, the
trusted SES verdicts and their outcome, the sender pseudonym and the reply extraction. Token matching and
storage are left out (they need keys and a table). The baseline is `email.message_from_bytes(raw,
policy=policy.default)`, the parser a hand-written handler would start from. CPU time (process_time), best of
`rounds` passes over the whole corpus after one warm-up pass.
"""

from __future__ import annotations

import email
import time
from email import policy
from pathlib import Path

from benchmarks.bench_parse import _cpu
from emailpipe.domain import trust
from emailpipe.domain.reply import extract_from_message
from emailpipe.mail.parse import parse_email
from emailpipe.observability import hash_address

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "mime"


def inbound_pure(raw: bytes) -> str | None:
    """The I/O-free part of process_email for one email; returns the chat text (None when not accepted)."""
    parsed = parse_email(raw)
    hash_address(parsed.sender.email if parsed.sender else None)
    if parsed.status != "accepted":
        return None
    if trust.machine_reason_of(parsed) is not None:
        return None
    verdicts = trust.trusted_verdicts(parsed.headers, trusted_authserv_ids=(trust.SES_AUTHSERV_ID,), ses=True)
    if trust.verdict_outcome(verdicts) is not None:
        return None
    return extract_from_message(parsed.text, parsed.html, delimiter=True)


def _stdlib(raw: bytes) -> object:
    return email.message_from_bytes(raw, policy=policy.default)


def run(corpus: Path = CORPUS, rounds: int = 3) -> dict:
    """Ours vs stdlib CPU ms per message, their ratio, and the slowest messages of ours."""
    paths = sorted(corpus.glob("*.eml"))
    raws = [p.read_bytes() for p in paths]
    if not raws:
        return {"error": f"no .eml files in {corpus}"}
    accepted = sum(inbound_pure(raw) is not None for raw in raws)  # warm-up too
    stdlib = _cpu(_stdlib, raws, rounds)
    ours = _cpu(inbound_pure, raws, rounds)
    slowest = []
    for path, raw in zip(paths, raws, strict=True):
        start = time.process_time()
        inbound_pure(raw)
        slowest.append((time.process_time() - start, path.name, len(raw)))
    slowest.sort(reverse=True)
    return {
        "messages": len(raws),
        "accepted": accepted,
        "bytes": sum(map(len, raws)),
        "mean_bytes": round(sum(map(len, raws)) / len(raws)),
        "rounds": rounds,
        "stdlib_ms_per_msg": round(stdlib / len(raws) * 1000, 3),
        "ours_ms_per_msg": round(ours / len(raws) * 1000, 3),
        "ratio": round(ours / stdlib, 2),
        "slowest": [{"file": name, "bytes": size, "ms": round(t * 1000, 1)} for t, name, size in slowest[:3]],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
