"""The fault-injection run: a burst of agent replies through the local stack while AWS calls fail (issue 16).

    python -m tests.faults.run --emails N --rate 0.1 --seed S [--concurrency C] [--results FILE] [--rss]

The world is the end-to-end benchmark's: a Billing department with the offline agent Bob (and two online agents),
`--conversations` users with a conversation each, whose first chat message was emailed to Bob. Every email of the
burst is Bob's reply by email to one of those notifications (written by the local mail client, quoting it) with a
marker `bench-NNNNN`; stored, it becomes a chat message that is emailed to the conversation's user. The digest window
is 0 and the rate caps are raised, so every reply is stored and notified at once.

The burst is put into the mail bucket with no fault. Then the triggers run with faults on (tests/faults/injector.py:
`--rate` of the handlers' AWS calls fail, kinds drawn with `--seed`) until everything has settled: every queue of an
event source reports nothing visible, in flight or delayed, and the streams have nothing new (a failed message is
invisible for the triggers' visibility timeout of 2 s, so `drain` returning is not enough), within `--deadline`.
With faults off, the run then checks:

- every email exactly one inbound outcome (`repo.get_inbound` of its S3 key, and once in the inbound log), and every
  reply `stored` (a transient failure must never end as a permanent quarantine);
- every stored message exactly one email to its recipient (the sent emails counted by the marker of the message each
  is about, the part above "Earlier in this conversation:"); an extra one is a duplicate;
- no message in any dead-letter queue (the stack outputs `*DeadLetterQueueUrl`), as none of these emails is poison;
- no lost raw mail: every S3 key still in the bucket.

Lost = emails without an outcome + emails without their raw mail + stored messages without their email. The run
prints `faults: F injected, E emails, O outcomes, S emails sent, D duplicates, L lost` and a line with the faults by
kind and the retries, and exits non-zero unless D == 0, L == 0 and O == E (and nothing is dead-lettered or left
unstored). `--results FILE` writes the counts as JSON, and the block between `<!-- faults:begin -->` and
`<!-- faults:end -->` of RESULTS.md beside it is rewritten from the results files there (faults.json, soak.json);
`--rss` adds the peak resident memory of this process (the moto server runs in it too).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from tests.faults.injector import KINDS, FaultInjector

MARKER = re.compile(r"bench-(\d{5})")
CONTEXT_HEADING = "Earlier in this conversation:"
AGENT = "bob@agents.example"
RESULT_FILES = ("faults.json", "soak.json")
BLOCK_BEGIN, BLOCK_END = "<!-- faults:begin -->", "<!-- faults:end -->"


def quiet_environment() -> None:
    """The handlers' logs and metrics stay off the terminal (they would show errors by the thousand)."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@dataclass
class World:
    """The conversations, and a notification to Bob from each to reply to."""

    api: Any
    conversations: list[tuple[str, str]]  # (conversation id, user)
    notifications: list[bytes]

    def reply(self, marker: int) -> bytes:
        from emailpipe.local.mailclient import reply_to

        text = f"Answer bench-{marker:05d}: the refund for this invoice is on its way.\n\nBob"
        return reply_to(self.notifications[marker % len(self.notifications)], AGENT, "Bob", text)


def build_world(stack: Any, conversations: int, emails: int) -> World:
    """A fresh stack with the benchmark's people, `conversations` conversations and Bob's notification of each."""
    from emailpipe.chat import ChatApi
    from emailpipe.domain.inboxes import Inbox
    from emailpipe.store import repo

    stack.reset()
    outputs = stack.info.outputs
    repo.configure(outputs["TableName"])
    inbox = Inbox(address=outputs["PipingAddress"], brand_name=outputs["BrandName"])
    api = ChatApi(mail_bucket=outputs["MailBucketName"], default_inbox=inbox)
    cap = str(max(100, emails * 2))
    for key, value in (
        ("digest_window_seconds", "0"),
        ("max_emails_per_sender", cap),
        ("max_emails_per_conversation", cap),
    ):
        api.set_setting(key, value)
    api.add_department("Billing")
    for address, name, online in (
        ("alice@agents.example", "Alice", True),
        (AGENT, "Bob", False),
        ("dan@agents.example", "Dan", True),
    ):
        api.add_agent(address, name, ["Billing"])
        api.set_presence(address, online)
    pairs = []
    for i in range(conversations):
        user = f"user{i}@customer.example"
        api.add_user(user, f"User {i}")
        pairs.append((api.open_conversation(user, "Billing", f"Invoice {1000 + i}").id, user))
    for conversation, user in pairs:
        api.post_message(conversation, user, f"Question about invoice {conversation[:6]}")
    stack.triggers.drain(timeout=120)
    to_bob = [m for m in outbox() if AGENT in _recipients(m)]
    if len(to_bob) != len(pairs):
        raise RuntimeError(f"{len(to_bob)} notifications to the agent for {len(pairs)} conversations")
    notifications = [_raw(m.raw_data) for m in to_bob]
    return World(api, pairs, notifications)


def outbox() -> list[Any]:
    """What the local SES accepted, oldest first, read from the moto server in this process: its data.json export
    (`sent_emails`) serialises every service's state and takes minutes once the table holds a few thousand items."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from emailpipe.local.stack import REGION

    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


def _raw(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _recipients(mail: Any) -> set[str]:
    """The bare addresses a sent email went to (moto adds the To header's to the envelope's)."""
    from email.utils import getaddresses

    destinations = getattr(mail, "destinations", None) or []
    if isinstance(destinations, dict):  # a formatted message keeps ToAddresses/CcAddresses/BccAddresses
        destinations = [a for values in destinations.values() for a in values]
    return {address.lower() for _name, address in getaddresses(list(destinations)) if address}


def main_markers(raw: bytes) -> set[int]:
    """The markers of the messages a notification is about: its text part above the quoted context."""
    mail = message_from_bytes(raw, policy=policy.default)
    body = mail.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return {int(m) for m in MARKER.findall(text.split(CONTEXT_HEADING, 1)[0])}


# ------------------------------------------------------------------ running until settled


def _source_queues(triggers: Any) -> list[str]:
    return sorted({s.queue_url for s in triggers.sources if s.kind == "sqs" and s.queue_url})


def queue_counts(url: str) -> dict[str, int]:
    from emailpipe.aws import client

    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {name: int(attributes.get(name, 0)) for name in names}


def settle(triggers: Any, deadline_seconds: float, progress: Any = None) -> tuple[bool, float]:
    """Run the triggers until every queue is empty (visible, in flight, delayed) and no stream has anything new."""
    start = time.monotonic()
    deadline = start + deadline_seconds
    queues = _source_queues(triggers)
    while time.monotonic() < deadline:
        triggers.drain(timeout=max(1.0, min(30.0, deadline - time.monotonic())))
        counts = {url.rsplit("/", 1)[-1]: queue_counts(url) for url in queues}
        waiting = {name: list(c.values()) for name, c in counts.items() if any(c.values())}
        if not waiting and not triggers._pump_all():
            return True, time.monotonic() - start
        if progress:
            progress(f"{time.monotonic() - start:.0f} s: still queued {waiting}")
        time.sleep(0.25)  # failed messages come back after the visibility timeout
    return False, time.monotonic() - start


# ------------------------------------------------------------------ checks


@dataclass
class Report:
    """What a run counted."""

    emails: int
    faults: dict[str, Any]
    outcomes: int = 0
    stored: int = 0
    not_stored: dict[str, int] = field(default_factory=dict)  # status:reason -> emails
    logged_twice: int = 0  # outcomes listed more than once in the inbound log
    sent: int = 0
    duplicates: int = 0
    missing_emails: int = 0  # stored messages without their email
    missing_outcomes: int = 0
    missing_raw: int = 0
    messages_twice: int = 0  # emails stored as more than one chat message
    dead_letters: dict[str, int] = field(default_factory=dict)
    settled: bool = False
    settle_seconds: float = 0.0
    seconds: float = 0.0
    peak_rss_mib: float | None = None

    @property
    def lost(self) -> int:
        return self.missing_outcomes + self.missing_raw + self.missing_emails

    @property
    def ok(self) -> bool:
        return (
            self.duplicates == 0
            and self.lost == 0
            and self.outcomes == self.emails
            and self.stored == self.emails
            and not self.logged_twice
            and not self.messages_twice
            and not any(self.dead_letters.values())
            and self.settled
        )

    def line(self) -> str:
        return (
            f"faults: {self.faults['injected']} injected, {self.emails} emails, {self.outcomes} outcomes, "
            f"{self.sent} emails sent, {self.duplicates} duplicates, {self.lost} lost"
        )

    def detail(self) -> str:
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.faults["by_kind"].items())
        crashed = sum(self.faults["crashed_invocations"].values())
        text = (
            f"by kind: {kinds}; {self.faults['retries']} retries by botocore; {crashed} invocations killed; "
            f"{self.stored} stored; dead letters {sum(self.dead_letters.values())}; "
            f"settled in {self.settle_seconds:.1f} s"
        )
        if self.not_stored:
            text += f"; not stored {self.not_stored}"
        if self.peak_rss_mib is not None:
            text += f"; peak RSS {self.peak_rss_mib:.0f} MiB"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "emails": self.emails,
            "injected": self.faults["injected"],
            "faults_by_kind": self.faults["by_kind"],
            "retries": self.faults["retries"],
            "aws_calls_in_handlers": self.faults["calls"],
            "http_attempts_in_handlers": self.faults["attempts"],
            "invocations": self.faults["invocations"],
            "crashed_invocations": self.faults["crashed_invocations"],
            "outcomes": self.outcomes,
            "stored": self.stored,
            "not_stored": self.not_stored,
            "emails_sent": self.sent,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "missing_outcomes": self.missing_outcomes,
            "missing_raw_mail": self.missing_raw,
            "stored_without_email": self.missing_emails,
            "dead_letters": self.dead_letters,
            "settled": self.settled,
            "settle_seconds": round(self.settle_seconds, 1),
            "seconds": round(self.seconds, 1),
            "peak_rss_mib": self.peak_rss_mib,
            "ok": self.ok,
            "faults_by_call": self.faults["by_call"],
        }


def dead_letters(outputs: dict[str, str]) -> dict[str, int]:
    """Messages (visible or in flight) in every dead-letter queue of the stack."""
    found = {}
    for name, url in sorted(outputs.items()):
        if name.endswith("DeadLetterQueueUrl") and url:
            counts = queue_counts(url)
            found[name.removesuffix("Url")] = (
                counts["ApproximateNumberOfMessages"] + counts["ApproximateNumberOfMessagesNotVisible"]
            )
    return found


def check(stack: Any, world: World, keys: dict[int, str], sent_before: int, report: Report) -> Report:
    """Outcomes, emails, dead letters and raw mail of the burst (`keys`: marker -> S3 key), faults off."""
    from emailpipe.aws import client
    from emailpipe.store import repo

    outputs = stack.info.outputs
    by_key = {key: marker for marker, key in keys.items()}
    stored_markers: set[int] = set()
    for key in keys.values():
        record = repo.get_inbound(key)
        if record is None:
            report.missing_outcomes += 1
            continue
        report.outcomes += 1
        if record.status.value == "stored":
            report.stored += 1
        else:
            label = f"{record.status.value}:{record.reason}"
            report.not_stored[label] = report.not_stored.get(label, 0) + 1
    logged: dict[str, int] = {}
    for record in repo.list_inbound():
        if record.s3_key in by_key:
            logged[record.s3_key] = logged.get(record.s3_key, 0) + 1
    report.logged_twice = sum(1 for n in logged.values() if n > 1)
    # The chat messages the burst stored, by marker (one each: the message id is derived from the S3 key).
    recipient_of: dict[int, str] = {}
    for conversation, user in world.conversations:
        for message in repo.list_messages(conversation):
            if message.raw_s3_key in by_key:
                marker = by_key[message.raw_s3_key]
                if marker in stored_markers:
                    report.messages_twice += 1
                stored_markers.add(marker)
                recipient_of[marker] = user
    # The notifications sent since the burst began, each by the marker of the message it is about.
    sends: dict[tuple[int, str], int] = {}
    for mail in outbox()[sent_before:]:
        for marker in main_markers(_raw(getattr(mail, "raw_data", b""))) & set(keys):
            for to in _recipients(mail):
                sends[(marker, to)] = sends.get((marker, to), 0) + 1
                report.sent += 1
    report.duplicates = sum(n - 1 for n in sends.values() if n > 1)
    report.missing_emails = sum(1 for m in stored_markers if not sends.get((m, recipient_of[m])))
    report.dead_letters = dead_letters(outputs)
    bucket = outputs["MailBucketName"]
    present: set[str] = set()
    for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=outputs["InboundPrefix"]):
        present.update(obj["Key"] for obj in page.get("Contents", []))
    report.missing_raw = sum(1 for key in keys.values() if key not in present)
    return report


# ------------------------------------------------------------------ the run


def run(
    emails: int = 200,
    rate: float = 0.1,
    seed: int = 0,
    concurrency: int = 4,
    conversations: int = 10,
    deadline: float = 1800.0,
    *,
    stack: Any = None,
    injector: FaultInjector | None = None,
    kinds: tuple[str, ...] = KINDS,
    kill_rate: float | None = None,
    kill_after_send: bool = False,
    progress: Any = None,
) -> Report:
    """One burst of `emails` with `rate` of the handlers' calls failing; the counts. A given `stack` is reset and
    reused (its concurrency set), a given `injector` used as it is (installed before the stack's clients)."""
    from emailpipe.cli.main import deliver_raw_email
    from emailpipe.local.stack import LocalStack

    started = time.monotonic()
    own_injector = injector is None
    if injector is None:
        exempt = () if kill_after_send else ("sesv2.SendEmail",)
        injector = FaultInjector(rate, seed, kinds, kill_rate=kill_rate, kill_exempt=exempt).install()
    own_stack = stack is None
    if stack is None:
        stack = LocalStack(concurrency=concurrency).start()
    try:
        injector.enabled = False
        world = build_world(stack, conversations, emails)
        stack.triggers.concurrency = concurrency
        injector.wrap(stack.triggers)
        sent_before = len(outbox())
        keys = {marker: deliver_raw_email(stack.info, world.reply(marker)) for marker in range(emails)}
        if progress:
            progress(
                f"{time.monotonic() - started:.0f} s: {emails} emails put into the bucket; running the triggers "
                f"with {rate:.0%} of calls failing"
            )
        injector.enabled = True
        settled, settle_seconds = settle(stack.triggers, deadline, progress)
        injector.enabled = False
        report = Report(emails=emails, faults=injector.summary(), settled=settled, settle_seconds=settle_seconds)
        check(stack, world, keys, sent_before, report)
        report.seconds = time.monotonic() - started
        return report
    finally:
        injector.enabled = False
        if own_stack:
            stack.stop()
        if own_injector:
            injector.uninstall()


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_results(path: Path, report: Report, arguments: dict[str, Any]) -> None:
    """The counts as JSON, and the faults block of RESULTS.md beside it rewritten from every results file there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"command": "python -m tests.faults.run", "arguments": arguments, **report.as_dict()}
    path.write_text(json.dumps(data, indent=2) + "\n")
    results_md = path.parent / "RESULTS.md"
    if results_md.exists():
        update_results_md(results_md)


def results_block(directory: Path) -> str:
    """The markdown between the faults markers: one row per results file present."""
    rows = []
    for name in RESULT_FILES:
        file = directory / name
        if not file.exists():
            continue
        r = json.loads(file.read_text())
        a = r.get("arguments", {})
        kinds = ", ".join(f"{k} {n}" for k, n in r["faults_by_kind"].items())
        rss = f"{r['peak_rss_mib']:.0f}" if r.get("peak_rss_mib") else "-"
        rows.append(
            f"| {name.removesuffix('.json')} | {r['emails']} | {a.get('rate', 0):.0%} | {r['injected']} ({kinds}) "
            f"| {r['retries']} | {r['outcomes']} | {r['emails_sent']} | {r['duplicates']} | {r['lost']} "
            f"| {sum(r['dead_letters'].values())} | {r['seconds']:.0f} | {rss} |"
        )
    lines = [
        BLOCK_BEGIN,
        "## Fault injection (`make faults`, `make soak`)",
        "",
        "A burst of agent replies through the local stack (tests/faults/run.py) while `rate` of the handlers' AWS",
        "calls fail (5xx, throttling, timeouts; botocore retries them) and the same share of their invocations is",
        "killed between two steps. Duplicates, losses and dead letters must be 0, and outcomes equal to emails.",
        "",
        "| run | emails | rate | faults injected (by kind) | retries | outcomes | emails sent | duplicates | lost "
        "| dead letters | seconds | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        BLOCK_END,
    ]
    return "\n".join(lines)


def update_results_md(path: Path) -> None:
    """Replace what is between the markers (or append the block at the end)."""
    text = path.read_text()
    block = results_block(path.parent)
    if BLOCK_BEGIN in text and BLOCK_END in text.split(BLOCK_BEGIN, 1)[1]:
        before, rest = text.split(BLOCK_BEGIN, 1)
        after = rest.split(BLOCK_END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=200, help="emails in the burst (default 200)")
    parser.add_argument("--rate", type=float, default=0.1, help="share of the handlers' AWS calls that fail")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault RNG (default 1)")
    parser.add_argument("--concurrency", type=int, default=4, help="trigger workers per queue (default 4)")
    parser.add_argument("--conversations", type=int, default=10, help="conversations the replies go to")
    parser.add_argument(
        "--kill-rate", type=float, help="share of handler invocations killed between two steps (default: --rate)"
    )
    parser.add_argument(
        "--kill-after-send",
        action="store_true",
        help="let kills land right after SES accepted an email too (no design is exactly-once there)",
    )
    parser.add_argument("--deadline", type=float, default=1800.0, help="seconds to settle at most")
    parser.add_argument("--results", type=Path, help="write the counts as JSON here (and RESULTS.md beside it)")
    parser.add_argument("--rss", action="store_true", help="report the peak RSS of this process")
    args = parser.parse_args(argv)
    quiet_environment()
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # The handlers' own output (powertools prints metric documents once 100 pile up, even when disabled) stays off
    # stdout, which carries the two lines of the report.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        report = _run_from(args, progress)
    if args.rss:
        report.peak_rss_mib = round(peak_rss_mib(), 1)
    print(report.line())
    print(report.detail())
    if args.results:
        arguments = {
            "emails": args.emails,
            "rate": args.rate,
            "seed": args.seed,
            "concurrency": args.concurrency,
            "conversations": args.conversations,
            "kill_rate": args.rate if args.kill_rate is None else args.kill_rate,
            "kill_after_send": args.kill_after_send,
        }
        write_results(args.results, report, arguments)
    return 0 if report.ok else 1


def _run_from(args: argparse.Namespace, progress: Any) -> Report:
    return run(
        args.emails,
        args.rate,
        args.seed,
        args.concurrency,
        args.conversations,
        args.deadline,
        kill_rate=args.kill_rate,
        kill_after_send=args.kill_after_send,
        progress=progress,
    )


if __name__ == "__main__":
    sys.exit(main())
