"""Cold start: import + init of each handler module against `import boto3` alone, each in a fresh interpreter.

Every function's handler in template.yaml is measured. Each figure is the median of `runs` child processes,
interleaved so that drift (disk cache, CPU frequency) hits every module alike. The child times only the import and
the handler's init (the cached function that reads the configuration; no client is created before the first
email), not the interpreter's own start-up, which is the same for every module. A separate `-X importtime` child
per handler names the packages that dominate.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from collections import Counter

BASELINE = "boto3"
_TEMPLATE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "template.yaml")
# The init each handler runs on its first event (cached for the life of the process), by handler module.
_INIT = {
    "emailpipe.inbound.handler": "_context",
    "emailpipe.notifier.handler": "notifier_context",
    "emailpipe.notifier.digest_handler": "notifier_context",
    "emailpipe.notifier.feedback_handler": "get_config",
    "emailpipe.ingress.handler": "_secret_ids",
    "emailpipe.events.handler": "events_context",
    "emailpipe.events.webhook_handler": "webhook_context",
    "emailpipe.api.handler": "api_context",
    # The poster reads the connector's secret (a network call) on the first message; the init is the config.
    "emailpipe.connectors.support_board.handler": "get_config",
}


def handler_modules() -> tuple[str, ...]:
    """The module of every function's `Handler:` in template.yaml, in template order."""
    with open(_TEMPLATE, encoding="utf-8") as f:
        handlers = re.findall(r"^\s+Handler:\s*(\S+)\.\w+\s*$", f.read(), re.MULTILINE)
    return tuple(dict.fromkeys(handlers))


_CHILD = """
import time
start = time.perf_counter()
import {module} as m
init = {init!r}
if init:
    getattr(m, init)()
{extra}
print(time.perf_counter() - start)
"""
# The mailbox ingress function with an OAuth mailbox also imports its provider's token library on the first run
# (emailpipe.ingress.oauth.load_library); a password mailbox never does. Measured as extra rows.
OAUTH_VARIANTS = {
    "emailpipe.ingress.handler + msal (Microsoft 365 mailbox)": "microsoft",
    "emailpipe.ingress.handler + google-auth (Google Workspace mailbox)": "google",
}
_INGRESS = "emailpipe.ingress.handler"

# What template.yaml gives the functions; dummy values, nothing is contacted.
_ENV = {
    "TABLE_NAME": "bench-table",
    "MAIL_BUCKET": "bench-bucket",
    "PIPING_ADDRESS": "support@example.com",
    "TOKEN_SECRET_ID": "bench/secret",
    "BRAND_NAME": "AiX",
    "POWERTOOLS_SERVICE_NAME": "emailpipe",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "MAILBOX_SECRET_ID": "bench/mailbox",
    "IDEMPOTENCY_TABLE": "bench-idempotency",
    "INBOUND_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-inbound",
    "EVENT_BUS_NAME": "bench-bus",
    "WEBHOOK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-webhooks",
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(_ENV)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _time_import(module: str, *, bytecode: bool = True) -> float:
    env = _env()
    extra = ""
    if module in OAUTH_VARIANTS:
        extra = f"from emailpipe.ingress import oauth\noauth.load_library({OAUTH_VARIANTS[module]!r})"
        module = _INGRESS
    flags = []
    if not bytecode:
        # What Lambda does with an artifact that has no .pyc files (SAM's default pip build): every module is
        # compiled from source, and nothing can be written back. An empty cache prefix hides every __pycache__.
        env["PYTHONPYCACHEPREFIX"] = os.path.join(os.sep, "nonexistent-emailpipe-bench")
        flags = ["-B"]
    out = subprocess.run(
        [sys.executable, *flags, "-c", _CHILD.format(module=module, init=_INIT.get(module, ""), extra=extra)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _importtime(module: str) -> list[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) for every module the import loads."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
        timeout=60,
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.split(":", 1)[1].split("|")
        rows.append((name.strip(), int(self_us), int(cumulative_us)))
    return rows


def _top_packages(rows: list[tuple[str, int, int]], baseline: set[str], n: int = 10) -> list[dict]:
    """The top-level packages with the most self import time that `import boto3` does not load."""
    by_package: Counter[str] = Counter()
    for name, self_us, _ in rows:
        if name not in baseline:
            by_package[name.split(".")[0]] += self_us
    return [{"package": p, "ms": round(us / 1000, 1)} for p, us in by_package.most_common(n)]


def _top_modules(rows: list[tuple[str, int, int]], n: int = 10) -> list[dict]:
    """The modules with the largest cumulative import time (the handler itself left out)."""
    ranked = sorted(rows[:-1], key=lambda r: r[2], reverse=True)[:n]
    return [
        {"module": name, "cumulative_ms": round(c / 1000, 1), "self_ms": round(s / 1000, 1)} for name, s, c in ranked
    ]


def run(runs: int = 7) -> dict:
    """Median import+init seconds of boto3 and each handler, their ratios, and what dominates each handler."""
    handlers = handler_modules()
    missing = [h for h in handlers if h not in _INIT]
    if missing:
        raise ValueError(f"no init known for handler module(s) {missing}: add them to _INIT")
    modules = (BASELINE, *handlers, *OAUTH_VARIANTS)
    for module in modules:  # warm the page cache and the .pyc files
        _time_import(module)
    samples: dict[str, list[float]] = {m: [] for m in modules}
    for _ in range(runs):
        for module in modules:
            samples[module].append(_time_import(module))
    medians = {m: statistics.median(v) for m, v in samples.items()}
    baseline_rows = _importtime(BASELINE)
    baseline_names = {name for name, _, _ in baseline_rows}
    result: dict = {
        "runs": runs,
        "baseline_ms": round(medians[BASELINE] * 1000, 1),
        "baseline_importtime_total_ms": round(sum(s for _, s, _ in baseline_rows) / 1000, 1),
        "handlers": {},
        "oauth_variants": {
            name: {
                "ms": round(medians[name] * 1000, 1),
                "ratio": round(medians[name] / medians[BASELINE], 2),
                "over_password_ms": round((medians[name] - medians[_INGRESS]) * 1000, 1),
            }
            for name in OAUTH_VARIANTS
        },
    }
    for module in handlers:
        rows = _importtime(module)
        extra = sum(s for name, s, _ in rows if name not in baseline_names)
        result["handlers"][module] = {
            "ms": round(medians[module] * 1000, 1),
            "min_ms": round(min(samples[module]) * 1000, 1),
            "ratio": round(medians[module] / medians[BASELINE], 2),
            "extra_over_boto3_importtime_ms": round(extra / 1000, 1),
            "top_packages_beyond_boto3": _top_packages(rows, baseline_names),
            "top_modules_cumulative": _top_modules(rows),
        }
    # The same two imports without bytecode, as a build without .pyc files would deploy them (fewer runs: slow).
    no_pyc = {m: statistics.median(_time_import(m, bytecode=False) for _ in range(3)) for m in modules[:2]}
    result["without_bytecode_ms"] = {m: round(v * 1000, 1) for m, v in no_pyc.items()}
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
