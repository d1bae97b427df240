"""`make bench`: run every benchmark once, print the table and write benchmarks/RESULTS.md.

Order: the subprocess and CPU benchmarks first (nothing else running), then one embedded local stack shared by
the request counts and the end-to-end burst. A benchmark that fails is reported as an error row; the others
still run. The functions' JSON logs and EMF metrics (stdout in Lambda) go to a temporary file while the local
stack runs, so the table stays readable; they are still produced, so their cost is in the timings.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (ROOT / "functions", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "emailpipe")

RESULTS = HERE / "RESULTS.md"


def _where(path: str) -> str:
    """A path as the committed results may show it: relative to the project, never this machine's layout."""
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return Path(path).name


_CONSOLE = os.dup(2)  # progress lines reach the terminal even while fd 2 goes to the log
MEMORY_HEADROOM = 0.8  # "fits with headroom": peak at most 80 % of the configured MemorySize
ASYNC_COLDSTART_LIMIT = 1.5  # × `import boto3`, for SQS-, stream- and schedule-triggered handlers
API_COLDSTART_LIMIT = 1.4  # × `import boto3`, for the API handler


@contextlib.contextmanager
def _stdout_to(path: Path):
    """Send file descriptors 1 and 2 (the functions' log and metric lines, warnings) to `path` meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with open(path, "ab") as sink:
        for fd in saved:
            os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


def _timed(name: str, fn, results: dict, timings: dict) -> None:
    start = time.perf_counter()
    try:
        results[name] = fn()
    except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the others
        results[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=6)}
    timings[name] = round(time.perf_counter() - start, 1)
    os.write(_CONSOLE, f"bench: {name} done in {timings[name]} s\n".encode())


DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value}{unit}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**NO**")


def table(r: dict) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, met) rows."""
    rows: list[tuple[str, str, str, str]] = []

    def err(name: str, figure: str, target: str) -> bool:
        if "error" in r.get(name, {"error": "not run"}):
            rows.append((figure, "ERROR: " + r.get(name, {}).get("error", "not run"), target, "**NO**"))
            return True
        return False

    if not err("coldstart", "1. cold start (import + init) vs `import boto3`", "≤ 1.5×"):
        c = r["coldstart"]
        for module, h in c["handlers"].items():
            # A person waits on the API's cold start; nobody waits on a queue- or stream-triggered one.
            limit = API_COLDSTART_LIMIT if module.startswith("emailpipe.api.") else ASYNC_COLDSTART_LIMIT
            rows.append(
                (
                    f"1. cold start `{module}` (boto3 alone {c['baseline_ms']} ms)",
                    f"{h['ms']} ms = {h['ratio']}×",
                    f"≤ {limit}×",
                    _met(h["ratio"] <= limit),
                )
            )
        for name, v in c.get("oauth_variants", {}).items():
            rows.append(
                (
                    f"1. cold start `{name}` (its first token; a password mailbox does not load it)",
                    f"{v['ms']} ms = {v['ratio']}× (+{v['over_password_ms']} ms)",
                    "(report)",
                    "n/a",
                )
            )
        if "without_bytecode_ms" in c:
            boto, inbound = c["without_bytecode_ms"].values()
            rows.append(
                (
                    "1. the same without .pyc files (SAM's default pip build; functions/Makefile ships them)",
                    f"boto3 {boto} ms, inbound {inbound} ms",
                    "(report)",
                    "n/a",
                )
            )
    if not err("inbound_cpu", "2. inbound pure path CPU vs stdlib", "≤ 2×"):
        i = r["inbound_cpu"]
        rows.append(
            (
                f"2. inbound parse+trust+extract CPU/email ({i['messages']} corpus emails)",
                f"{i['ours_ms_per_msg']} ms vs stdlib {i['stdlib_ms_per_msg']} ms = {i['ratio']}×",
                "≤ 2×",
                _met(i["ratio"] <= 2),
            )
        )
    if not err("parse", "2. parse_email vs stdlib", "≤ 2×"):
        p = r["parse"]
        rows.append(
            (
                "2. parse_email alone CPU/email (bench_parse)",
                f"{p['ours_ms_per_msg']} ms vs {p['stdlib_ms_per_msg']} ms = {p['ratio']}×",
                "≤ 2×",
                _met(p["ratio"] <= 2),
            )
        )
    if not err("reply", "2. reply extraction throughput", "≥ 5,000 cases/s"):
        x = r["reply"]
        rows.append(
            (
                f"2. reply extraction throughput ({x['cases']} dev cases, bench_reply)",
                f"{x['cases_per_second']:,} cases/s",
                "≥ 5,000 cases/s",
                _met((x["cases_per_second"] or 0) >= 5000),
            )
        )
    if not err("requests", "3. AWS requests", "≤ 4 DynamoDB / stored email; 1 SES / recipient"):
        q = r["requests"]
        imm = q["immediate"]
        s = imm["inbound_stored_email"]
        rows.append(
            (
                "3. DynamoDB requests per stored email (inbound, warm)",
                f"{s['dynamodb']} ({', '.join(f'{k} {v}' for k, v in s['by_operation'].items())})",
                "≤ 4",
                _met(s["dynamodb"] <= 4),
            )
        )
        ses_counts = [
            imm["notify_user_message_1_recipient"]["ses"],
            imm["notify_agent_reply_to_user"]["ses"],
            imm["per_additional_recipient"]["ses"],
        ]
        rows.append(
            (
                "3. SES requests per recipient (1 rcpt, reply to user, +1 rcpt)",
                " / ".join(map(str, ses_counts)),
                "exactly 1",
                _met(all(n == 1 for n in ses_counts)),
            )
        )
        per = imm["per_additional_recipient"]
        fixed = imm["fixed_per_notified_message"]
        rows.append(
            (
                "3. notifier DynamoDB requests (per message + per recipient; settings and staff list cached)",
                f"{fixed['dynamodb']} + {per['dynamodb']}/recipient",
                "≤ 4 + 2/recipient",
                _met(fixed["dynamodb"] <= 4 and per["dynamodb"] <= 2),
            )
        )
        if "digest_1s" in q and "error" not in q["digest_1s"]:
            d = q["digest_1s"]["per_additional_recipient"]
            rows.append(
                (
                    "3. digest mode: requests per recipient",
                    f"{d['dynamodb']} DynamoDB, {d['ses']} SES, {d['sqs']} SQS",
                    "1 SES / recipient",
                    _met(d["ses"] == 1),
                )
            )
        rows.append(
            (
                "3. request hooks verified (boto3 + pynamodb clients)",
                "exact" if q["verify"]["ok"] else f"MISMATCH {q['verify']}",
                "exact",
                _met(q["verify"]["ok"]),
            )
        )
    if not err("api", "7. HTTP API on the local stack", "(report); presence: 1 write"):
        a = r["api"]
        rows.append(
            (
                f"7. `POST /v1/conversations/{{id}}/messages` latency, local stack ({a['messages']} posts)",
                f"p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms ({a['per_second']}/s, one connection)",
                "(report)",
                "n/a",
            )
        )
        presence = a["requests"]["presence"]["by_operation"]
        writes = sum(n for op, n in presence.items() if op.split(".")[1] in DYNAMODB_WRITES)
        rows.append(
            (
                "7. DynamoDB requests of `PUT /v1/agents/{email}/presence`",
                f"{writes} write ({', '.join(f'{k} {v}' for k, v in presence.items())}; the read is the API key)",
                "1 write",
                _met(writes == 1),
            )
        )
        for label, key in (
            ("POST a message", "message_post"),
            ("POST a message with an Idempotency-Key", "message_post_with_key"),
            ("the same POST replayed", "message_post_replayed"),
            ("POST a conversation", "conversation_create"),
            ("GET a message page", "messages_list"),
        ):
            t = a["requests"][key]
            rows.append(
                (
                    f"7. DynamoDB requests per API call: {label}",
                    f"{t['dynamodb']} ({', '.join(f'{k} {v}' for k, v in t['by_operation'].items())})",
                    "(report)",
                    "n/a",
                )
            )
    if not err("memory", "4. peak RSS, 40 MB email", "fits MemorySize"):
        m = r["memory"]
        limit = m["lambda_memory_mb"]
        rows.append(
            (
                f"4. peak RSS, {m['email_bytes'] / 1e6:.1f} MB email, {m['attachments'][0] / 1e6:.1f} MB attachment",
                f"{m['peak_mib']} MiB (MemorySize {limit} MB)",
                f"≤ {int(limit * MEMORY_HEADROOM)} MiB (80 % of {limit})",
                _met(m["peak_mib"] <= limit * MEMORY_HEADROOM),
            )
        )
    if not err("e2e", "5. local end to end", "500 emails"):
        e = r["e2e"]
        rows.append(
            (
                "5. local e2e emails run (burst)",
                f"{e['notified']} notified of {e['emails']} (+20 calibration)",
                f"{e['requested']}",
                _met(e["notified"] >= e["requested"]),
            )
        )
        rows.append(
            (
                "5. local e2e latency S3 put → notification sent",
                f"p50 {_fmt(e['p50_seconds'], ' s')}, p99 {_fmt(e['p99_seconds'], ' s')}",
                "(report)",
                "n/a",
            )
        )
        rows.append(("5. local e2e throughput", f"{e['emails_per_second']} emails/s", "(report)", "n/a"))
        for workers, burst in sorted((e.get("by_concurrency") or {}).items()):
            rows.append(
                (
                    f"5. local e2e, {burst['emails']}-email burst at concurrency {workers} (same run)",
                    f"{burst['emails_per_second']} emails/s, p50 {_fmt(burst['p50_seconds'], ' s')}, "
                    f"p99 {_fmt(burst['p99_seconds'], ' s')}, {burst['notified']} notified",
                    "(report)",
                    "n/a",
                )
            )
    if not err("cost", "6. cost per million emails", "(report)"):
        k = r["cost"]
        rows.append(
            (
                "6. cost per million emails (lower bound / with network)",
                f"${k['total_lower_bound']:,} / ${k['total_with_network']:,}",
                "(report)",
                "n/a",
            )
        )
    return rows


# Blocks that other commands write into RESULTS.md (`make faults`, `make soak`): kept as they are.
_KEPT = re.compile(r"\n*(<!-- (\w+):begin -->.*?<!-- \2:end -->)", re.S)


def _kept_blocks() -> str:
    if not RESULTS.exists():
        return ""
    return "".join(f"\n{match.group(1)}\n" for match in _KEPT.finditer(RESULTS.read_text()))


def render(r: dict, rows: list, timings: dict, total: float) -> str:
    header = [
        "# Benchmark results",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} CPUs (nproc), {platform.machine()}, {platform.platform()}",
        f"- python: {platform.python_version()} ({_where(sys.executable)})",
        f"- total runtime of `make bench`: {total:.0f} s ({', '.join(f'{k} {v} s' for k, v in timings.items())})",
        "",
        "| figure | measured | target | met? |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        "## Notes",
        "",
    ]
    notes: list[str] = []
    c = r.get("coldstart", {})
    if "handlers" in c:
        notes.append(
            f"- Cold start: every `Handler:` in template.yaml; median of {c['runs']} fresh interpreters each, "
            "interleaved; the child times `import` + the handler's cached init (configuration only, no client), "
            "not the interpreter start. Packages with the most self import time beyond what `import boto3` "
            "loads (`-X importtime`):"
        )
        for module, h in c["handlers"].items():
            top = ", ".join(f"{x['package']} {x['ms']} ms" for x in h["top_packages_beyond_boto3"])
            mods = ", ".join(f"{x['module']} {x['cumulative_ms']}" for x in h["top_modules_cumulative"])
            notes.append(f"  - `{module}` (+{h['extra_over_boto3_importtime_ms']} ms over boto3): {top}")
            notes.append(f"    - top 10 modules by cumulative ms: {mods}")
    i = r.get("inbound_cpu", {})
    if "slowest" in i:
        notes.append(
            f"- Inbound CPU: {i['accepted']}/{i['messages']} corpus emails reach the extraction; mean email "
            f"{i['mean_bytes']:,} bytes. Slowest: "
            + ", ".join(f"{s['file']} ({s['bytes']:,} B) {s['ms']} ms" for s in i["slowest"])
            + "."
        )
    q = r.get("requests", {})
    if "immediate" in q:
        imm = q["immediate"]
        for label, key in (
            ("stored email, inbound warm", "inbound_stored_email"),
            ("stored email, inbound cold (first after deploy)", "inbound_stored_email_cold"),
            ("notification of a user message, 1 recipient", "notify_user_message_1_recipient"),
            ("notification of a user message, 2 recipients", "notify_user_message_2_recipients"),
            ("notification of an agent's email reply to the user", "notify_agent_reply_to_user"),
            ("notifier, cold (first message)", "notifier_cold_one_recipient"),
        ):
            t = imm[key]
            notes.append(
                f"- Requests, {label}: {t['by_operation']}; est. {t['rru']} RRU, {t['wru']} WRU; botocore clients "
                f"created {t['clients_created']}; handler thread CPU {t['handler_cpu_ms']} ms, wall "
                f"{t['handler_wall_ms']} ms (local moto)."
            )
        notes.append(f"- Per additional recipient: {imm['per_additional_recipient']['by_operation']}.")
        if "digest_1s" in q and "by_operation" in q["digest_1s"].get("per_additional_recipient", {}):
            notes.append(
                "- Digest mode (digest_window_seconds=1 for the run), per additional recipient: "
                f"{q['digest_1s']['per_additional_recipient']['by_operation']}."
            )
    m = r.get("memory", {})
    if "stages_mib" in m:
        notes.append(
            f"- Memory by stage (MiB, VmHWM of a fresh interpreter): {m['stages_mib']}; parse+extract CPU "
            f"{m['parse_extract_cpu_s']} s; status {m['status']}. The attachment put goes through a real botocore "
            "S3 client with the network short-circuited in `before-send`."
        )
    e = r.get("e2e", {})
    if "notified" in e:
        notes.append(
            f"- E2E: {e['conversations']} conversations, settings for the run {e['settings']}; calibration "
            f"{e['calibration_seconds_per_email']} s/email so the main burst was sized to the {e['budget_seconds']} s "
            f"budget. Burst put {e['burst_put_seconds']} s; all processed in {e['total_seconds']} s. Per email: "
            f"inbound handler {e['inbound_handler_wall_ms_per_email']} ms wall / "
            f"{e['inbound_handler_cpu_ms_per_email']} ms CPU, notifier {e['notifier_wall_ms_per_email']} ms wall / "
            f"{e['notifier_cpu_ms_per_email']} ms CPU; botocore clients created by inbound "
            f"{e['inbound_clients_created']}; time in calls per email inbound {e['inbound_call_ms_per_email']}, "
            f"notifier {e['notifier_call_ms_per_email']}. {e.get('senders', 1)} agents send the burst in turn. "
            "The latencies include the queueing of the burst behind a single in-process moto server. At "
            "concurrency 4 the workers are threads of this one process on this machine's CPUs, sharing the GIL "
            "with moto (whose transactions the local stack runs one at a time), and concurrent batches of the "
            "same senders conflict on their rate-limit logs and retry: the local figure is slower, where Lambda's "
            "invocations each have their own CPU and DynamoDB partitions. Per concurrency, per email: "
            + "; ".join(
                f"{w}: inbound {b['inbound_handler_wall_ms_per_email']} ms wall, "
                f"{b['inbound_dynamodb_per_email']} DynamoDB requests"
                for w, b in sorted((e.get("by_concurrency") or {}).items())
            )
            + "."
        )
    k = r.get("cost", {})
    if "usd_per_million_lower_bound" in k:
        notes.append(
            f"- Cost (prices {k['prices_date']}): lower bound {k['usd_per_million_lower_bound']}; with assumed "
            f"network waits {k['usd_per_million_with_network']}. Lambda duration = {k['memory_mb']} MB × "
            f"(handler CPU {k['cpu_ms_per_email']} ms [+ {k['assumed_network_ms_per_email']} ms assumed network]) "
            f"per email; {k['wru_per_email']} WRU + {k['rru_per_email']} RRU per email; "
            f"{k['ses_chunks_per_email']} SES inbound 256 KB chunk(s) at the corpus mean size."
        )
    for name, value in r.items():
        if isinstance(value, dict) and "traceback" in value:
            notes.append(f"- {name} failed:\n\n```\n{value['traceback']}\n```")
    return "\n".join(header + notes) + "\n"


def main() -> int:
    from benchmarks import (
        bench_api,
        bench_coldstart,
        bench_cost,
        bench_e2e,
        bench_inbound,
        bench_memory,
        bench_parse,
        bench_reply,
        bench_requests,
    )

    started = time.perf_counter()
    results: dict = {}
    timings: dict = {}
    _timed("coldstart", bench_coldstart.run, results, timings)
    _timed("inbound_cpu", bench_inbound.run, results, timings)
    _timed("parse", lambda: bench_parse.run(rounds=3), results, timings)
    _timed("reply", bench_reply.run, results, timings)
    _timed("memory", bench_memory.run, results, timings)

    log = Path(tempfile.gettempdir()) / f"emailpipe-bench-{os.getpid()}.log"
    with _stdout_to(log):
        from emailpipe.local.stack import LocalStack

        bench_requests.COUNTER.install()
        stack = None
        try:
            stack = LocalStack().start()
            _timed("requests", lambda: bench_requests.run(stack), results, timings)
            _timed("api", lambda: bench_api.run(stack), results, timings)
            _timed("e2e", lambda: bench_e2e.run(stack, budget_seconds=660.0), results, timings)
        except Exception as exc:  # noqa: BLE001
            results.setdefault("requests", {"error": f"local stack: {type(exc).__name__}: {exc}"})
            results.setdefault("e2e", {"error": f"local stack: {type(exc).__name__}: {exc}"})
            results.setdefault("api", {"error": f"local stack: {type(exc).__name__}: {exc}"})
        finally:
            if stack is not None:
                stack.stop()

    def cost() -> dict:
        return bench_cost.run(
            results["requests"],
            results.get("inbound_cpu", {}),
            results.get("memory", {}).get("lambda_memory_mb") or bench_memory.lambda_memory_mb() or 1024,
            results.get("inbound_cpu", {}).get("mean_bytes", 41_000),
        )

    _timed("cost", cost, results, timings)
    total = time.perf_counter() - started
    rows = table(results)
    RESULTS.write_text(render(results, rows, timings, total) + _kept_blocks())
    (Path(tempfile.gettempdir()) / "emailpipe-bench-results.json").write_text(
        json.dumps(results, indent=2, default=str)
    )
    width = max(len(a) for a, *_ in rows)
    print(f"{'figure'.ljust(width)} | measured | target | met?")
    for a, b, c, d in rows:
        print(f"{a.ljust(width)} | {b} | {c} | {d}")
    print(f"\nwrote {RESULTS.relative_to(ROOT)} in {total:.0f} s; function logs in {log}")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The results are written. Exit without the interpreter's teardown, which frees the local stack's in-memory AWS
    # state of the 500-email run (gigabytes of small objects) one object at a time: over half a minute of nothing.
    os._exit(code)
