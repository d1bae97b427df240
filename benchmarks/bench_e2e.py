"""Local end to end: a burst of agent replies through the local stack, S3 put -> notification sent.

The world: `conversations` conversations, each opened by its own user in the Billing department, whose first
chat message was emailed to the `senders` offline agents (Bob and others). Each benchmark email is one agent's
reply by email (written by the local mail client, quoting the notification) to one of them, the agents and
conversations taken in turn, carrying a marker `bench-NNNNN`; it is
stored as a chat message and notified to that conversation's user. All emails are put into the bucket
first (the burst: `deliver_raw_email`, the put time recorded per key), then the local triggers run until
every notification has gone out. The sent time of each is taken by the SES `after-call` hook (see
bench_requests) and matched to its email by the marker: a notification quotes up to three earlier
messages, so the marker not seen in an earlier notification is the one it is about.

The rate caps (settings max_emails_per_sender / max_emails_per_conversation, 20 per 10 minutes by default)
are raised for the run and the digest window set to 0 (immediate notifications), or most of the burst would
be quarantined or held for a digest. The burst runs once with one trigger worker and once with four (as
`emailpipe local --concurrency 4` runs them, the way Lambda runs concurrent invocations), the same size each on
the same stack: the latency figures include the queueing of the burst, and the per-email handler times are
reported alongside.
"""

from __future__ import annotations

import re
import statistics
import time
from email import message_from_bytes, policy
from typing import Any

from benchmarks.bench_requests import COUNTER, build_world, set_settings

_MARKER = re.compile(rb"bench-(\d{5})")


def _markers(raw: bytes) -> list[int]:
    """Markers in a notification, in the order they appear (in the raw bytes, else in its decoded text parts).

    A notification shows its own message first and then up to three earlier ones as context."""
    found = [int(m) for m in _MARKER.findall(raw)]
    if found:
        return found
    mail = message_from_bytes(raw, policy=policy.default)
    for part in mail.walk():
        if part.get_content_maintype() == "text":
            try:
                found += [int(m) for m in _MARKER.findall(part.get_content().encode("utf-8", "replace"))]
            except (LookupError, ValueError):
                continue
    return found


def _settled(stack: Any) -> bool:
    """No email waits in the inbound queue, visible or not (a retried one comes back after its timeout)."""
    from emailpipe.aws import client

    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    url = stack.info.outputs["InboundQueueUrl"]
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return not any(int(attributes.get(name, 0)) for name in names)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _burst(stack: Any, raws: list[tuple[int, bytes]], deadline_seconds: float) -> dict:
    """Put every email, run the triggers until each is notified (or the deadline), and measure."""
    from emailpipe.cli.main import deliver_raw_email

    COUNTER.take("inbound", "notifier", "digest")
    sends_before = len(COUNTER.ses_sends)
    put_at: dict[int, float] = {}
    start = time.time()
    for marker, raw in raws:
        deliver_raw_email(stack.info, raw)
        put_at[marker] = time.time()
    burst_seconds = time.time() - start
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline and len(COUNTER.ses_sends) - sends_before < len(raws):
        stack.triggers.drain(timeout=max(1.0, deadline - time.monotonic()))
        if len(COUNTER.ses_sends) - sends_before < len(raws):
            time.sleep(0.2)  # S3 -> SQS notifications or the stream may lag a moment
            if not (stack.triggers.pump_inbound() + stack.triggers.pump_stream()) and _settled(stack):
                break
    inbound = COUNTER.take("inbound")
    notifier = COUNTER.take("notifier", "digest")
    sent_at: dict[int, float] = {}
    for when, raw in COUNTER.ses_sends[sends_before:]:
        # Its own message is the first marker (with several workers, context may hold one not yet notified).
        own = next((m for m in _markers(raw) if m in put_at), None)
        if own is not None and own not in sent_at:
            sent_at[own] = when
    latencies = [sent_at[i] - put_at[i] for i in sent_at]
    end = max(sent_at.values()) if sent_at else time.time()
    n = max(1, len(sent_at))
    return {
        "emails": len(raws),
        "notified": len(sent_at),
        "ses_sends": len(COUNTER.ses_sends) - sends_before,
        "burst_put_seconds": round(burst_seconds, 2),
        "total_seconds": round(end - start, 2),
        "emails_per_second": round(len(sent_at) / (end - start), 2) if sent_at else 0.0,
        "p50_seconds": round(statistics.median(latencies), 2) if latencies else None,
        "p99_seconds": round(_percentile(latencies, 0.99), 2) if latencies else None,
        "min_seconds": round(min(latencies), 2) if latencies else None,
        "inbound_handler_wall_ms_per_email": round(inbound.wall / max(1, inbound.records) * 1000, 1),
        "inbound_handler_cpu_ms_per_email": round(inbound.cpu / max(1, inbound.records) * 1000, 1),
        "notifier_wall_ms_per_email": round(notifier.wall / n * 1000, 1),
        "notifier_cpu_ms_per_email": round(notifier.cpu / n * 1000, 1),
        "inbound_dynamodb_per_email": round(inbound.service_calls("dynamodb") / max(1, inbound.records), 2),
        "notifier_dynamodb_per_email": round(notifier.service_calls("dynamodb") / n, 2),
        "inbound_clients_created": dict(inbound.clients_created),
        "inbound_call_ms_per_email": {k: round(v / max(1, inbound.records), 1) for k, v in inbound.call_ms().items()},
        "notifier_call_ms_per_email": {k: round(v / n, 1) for k, v in notifier.call_ms().items()},
    }


def run(
    stack: Any = None,
    emails: int = 500,
    conversations: int = 20,
    senders: int = 10,
    budget_seconds: float = 60.0,
    calibrate: int = 20,
    concurrencies: tuple[int, ...] = (1, 4),
) -> dict:
    """p50/p99 latency from S3 put to notification sent, and emails per second, for a burst of up to `emails`,
    once per number of concurrent trigger workers in `concurrencies` (the same burst size each, on one stack).

    A calibration burst of `calibrate` emails first measures this machine's pace at one worker; each main burst
    is then as large as its share of `budget_seconds` allows at one worker, at most `emails`; each burst may take
    three times its share (more workers on one in-process moto server are slower, see the notes). The top-level
    figures are the first concurrency's; `by_concurrency` has each.
    """
    from emailpipe.aws import reset_clients
    from emailpipe.local.mailclient import reply_to
    from emailpipe.local.stack import LocalStack, sent_emails
    from emailpipe.store import keys

    COUNTER.install()
    reset_clients()
    keys.reset()
    own = stack is None
    if own:
        stack = LocalStack().start()
    try:
        world = build_world(stack, users=conversations)
        api = world["api"]
        cap = (emails + calibrate) * 2
        settings = set_settings(
            api, digest_window_seconds=0, max_emails_per_sender=cap, max_emails_per_conversation=cap
        )
        # Several offline agents answer: one sender's emails share its rate-limit log (and conflict when two are
        # stored at once), as one conversation's do; a burst from one address would measure only that.
        agents = ["bob@agents.example"] + [f"agent{n}@agents.example" for n in range(1, senders)]
        for agent in agents[1:]:
            api.add_agent(agent, agent.split("@")[0].title(), ["Billing"])
            api.set_presence(agent, False)
        for conversation, user in world["conversations"]:
            api.post_message(conversation, user, f"Question in {conversation}")
        stack.triggers.drain(timeout=300)
        index_of = {conversation: i for i, (conversation, _user) in enumerate(world["conversations"])}
        notifications: dict[tuple[int, str], str] = {}
        for sent in sent_emails(stack.endpoint):  # one listing: each notification names its conversation
            found = re.search(r"Question in (\w+)", sent["raw"])
            for agent in sent["destinations"] or []:
                if found and found.group(1) in index_of:
                    notifications[(index_of[found.group(1)], agent)] = sent["raw"]

        def replies(first: int, count: int) -> list[tuple[int, bytes]]:
            text = "Answer bench-{:05d}: the refund for this invoice is on its way.\n\nThe team"
            out = []
            for i in range(first, first + count):
                agent = agents[i % len(agents)]
                notification = notifications[((i // len(agents)) % conversations, agent)]
                out.append((i, reply_to(notification, agent, agent.split("@")[0].title(), text.format(i))))
            return out

        stack.triggers.concurrency = 1
        calibration = _burst(stack, replies(0, calibrate), deadline_seconds=60)
        pace = calibration["total_seconds"] / max(1, calibration["notified"])
        share = budget_seconds / len(concurrencies)
        # The pace slows a little as the burst grows (a longer queue and stream): allow 1.2x. It was 1.6x while
        # moto sorted the whole table for every Query; since the local server reads only the partition, a
        # 406-email burst ran at 0.455 s an email after a calibration of 0.462.
        planned = max(calibrate, min(emails, int(share / max(pace * 1.2, 1e-3))))
        by_concurrency: dict[int, dict] = {}
        first = calibrate
        for workers in concurrencies:
            stack.triggers.concurrency = workers
            by_concurrency[workers] = _burst(stack, replies(first, planned), deadline_seconds=share * 3)
            first += planned
        stack.triggers.concurrency = 1
        result = dict(by_concurrency[concurrencies[0]])
        result.update(
            by_concurrency=by_concurrency,
            requested=emails,
            conversations=conversations,
            senders=senders,
            settings=settings,
            calibration_seconds_per_email=round(pace, 3),
            budget_seconds=budget_seconds,
        )
        return result
    finally:
        if own:
            stack.stop()


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(emails=int(sys.argv[1]) if len(sys.argv) > 1 else 500), indent=2))
