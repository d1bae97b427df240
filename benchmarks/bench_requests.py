"""AWS requests per stored email and per notification, counted with botocore event hooks on the local stack.

How the requests are caught. boto3 (emailpipe.aws) and pynamodb (its own `botocore.session.Session` per
Connection, a new one per TransactWrite) both create their clients with `botocore.session.Session.
create_client`; `install()` wraps that method so every client made afterwards gets handlers on its own event
emitter: `before-parameter-build` (the API parameters), `before-call` (one per API call), `before-send` (one
per HTTP attempt, so retries show) and `after-call` (the parsed response). A request is attributed to the
function whose handler is running on that thread: the Triggers' handler entry points are wrapped to set the
phase, so the emulation's own polling (SQS ReceiveMessage, stream GetRecords) is not counted. `verify()`
checks the counts against requests made on purpose through both client kinds.

DynamoDB capacity is estimated from item sizes (DynamoDB's rule: attribute names + values; reads 4 KB units,
half for eventually consistent; writes 1 KB units, doubled in transactions). UpdateItem is counted as one WRU
(every item this project updates is well under 1 KB).
"""

from __future__ import annotations

import base64
import math
import os
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.session

_local = threading.local()


def _value_size(value: dict) -> float:
    (kind, v), *_ = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        return len(str(v).lstrip("-").replace(".", "")) / 2 + 1
    if kind == "B":
        return len(v) if isinstance(v, bytes) else len(base64.b64decode(v))
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: x}) for x in v)
    if kind == "M":
        return 3 + _item_size(v)
    if kind == "L":
        return 3 + sum(1 + _value_size(x) for x in v)
    return 1  # BOOL, NULL


def _item_size(item: dict | None) -> float:
    return sum(len(k.encode("utf-8")) + _value_size(v) for k, v in (item or {}).items())


def _capacity(operation: str, params: dict, parsed: dict) -> tuple[float, float]:
    """(RRU, WRU) of one DynamoDB call, estimated from item sizes."""
    if operation == "GetItem":
        per = 1.0 if params.get("ConsistentRead") else 0.5
        return per * max(1, math.ceil(_item_size(parsed.get("Item")) / 4096)), 0.0
    if operation in ("Query", "Scan"):
        per = 1.0 if params.get("ConsistentRead") else 0.5
        total = sum(_item_size(i) for i in parsed.get("Items", []))
        return per * max(1, math.ceil(total / 4096)), 0.0
    if operation == "PutItem":
        return 0.0, max(1, math.ceil(_item_size(params.get("Item")) / 1024))
    if operation in ("UpdateItem", "DeleteItem"):
        return 0.0, 1.0
    if operation == "TransactWriteItems":
        wru = 0.0
        for entry in params.get("TransactItems", []):
            put = entry.get("Put")
            wru += 2 * (max(1, math.ceil(_item_size(put["Item"]) / 1024)) if put else 1)
        return 0.0, wru
    if operation == "TransactGetItems":
        return 2.0 * len(params.get("TransactItems", [])), 0.0
    if operation == "BatchWriteItem":
        items = [r for reqs in params.get("RequestItems", {}).values() for r in reqs]
        return 0.0, sum(max(1, math.ceil(_item_size(r.get("PutRequest", {}).get("Item")) / 1024)) for r in items)
    return 0.0, 0.0


@dataclass
class Tally:
    """What one phase (one function's work) cost."""

    calls: Counter = field(default_factory=Counter)  # (service, operation) -> API calls
    attempts: Counter = field(default_factory=Counter)  # (service, operation) -> HTTP attempts
    seconds: Counter = field(default_factory=Counter)  # (service, operation) -> wall seconds in the call
    clients_created: Counter = field(default_factory=Counter)  # service -> botocore clients created
    rru: float = 0.0
    wru: float = 0.0
    invocations: int = 0
    records: int = 0
    wall: float = 0.0
    cpu: float = 0.0  # this thread's CPU: the handler's own work, not the in-process moto server's

    def service_calls(self, service: str) -> int:
        return sum(n for (s, _), n in self.calls.items() if s == service)

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def breakdown(self) -> dict[str, int]:
        return {f"{s}.{o}": n for (s, o), n in sorted(self.calls.items())}

    def call_ms(self) -> dict[str, float]:
        """Wall milliseconds spent in each operation (request build, round trip to the server, parse)."""
        return {f"{s}.{o}": round(t * 1000, 1) for (s, o), t in sorted(self.seconds.items())}

    def merged(self, other: Tally) -> Tally:
        out = Tally()
        for t in (self, other):
            out.calls.update(t.calls)
            out.attempts.update(t.attempts)
            out.seconds.update(t.seconds)
            out.clients_created.update(t.clients_created)
            out.rru += t.rru
            out.wru += t.wru
            out.invocations += t.invocations
            out.records += t.records
            out.wall += t.wall
            out.cpu += t.cpu
        return out


class RequestCounter:
    """Counts AWS requests per phase through hooks on every botocore client created after `install()`."""

    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = defaultdict(Tally)
        self.ses_sends: list[tuple[float, bytes]] = []  # (time sent, raw MIME) of every SES send, in any phase
        self._lock = threading.Lock()
        self._original: Any = None

    # -------------------------------------------------------------- hooks

    def install(self) -> None:
        """Wrap botocore's create_client (boto3 and pynamodb both go through it)."""
        if self._original is not None:
            return
        original = botocore.session.Session.create_client
        counter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            created = original(session, *args, **kwargs)
            counter.attach(created)
            return created

        self._original = original
        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            botocore.session.Session.create_client = self._original  # type: ignore[method-assign]
            self._original = None

    def attach(self, created: Any) -> None:
        service = created.meta.service_model.service_name
        phase = getattr(_local, "phase", None)
        if phase:
            with self._lock:
                self.tallies[phase].clients_created[service] += 1
        events = created.meta.events
        events.register("before-parameter-build", self._on_params)
        events.register("before-call", self._on_call)
        events.register("before-send", self._on_send)
        events.register("after-call", self._on_after_call)

    @staticmethod
    def _split(event_name: str) -> tuple[str, str]:
        _, service, operation = event_name.split(".", 2)
        return service, operation

    def _on_params(self, params: dict, event_name: str, **_: Any) -> None:
        _local.params = params

    def _on_call(self, event_name: str, **_: Any) -> None:
        _local.call_started = time.perf_counter()
        phase = getattr(_local, "phase", None)
        if phase:
            with self._lock:
                self.tallies[phase].calls[self._split(event_name)] += 1

    def _on_send(self, event_name: str, **_: Any) -> None:
        phase = getattr(_local, "phase", None)
        if phase:
            with self._lock:
                self.tallies[phase].attempts[self._split(event_name)] += 1

    def _on_after_call(self, event_name: str, parsed: dict, **_: Any) -> None:
        service, operation = self._split(event_name)
        params = getattr(_local, "params", None) or {}
        if service in ("sesv2", "ses") and operation in ("SendEmail", "SendRawEmail"):
            raw = params.get("Content", {}).get("Raw", {}).get("Data") or params.get("RawMessage", {}).get("Data")
            with self._lock:
                self.ses_sends.append((time.time(), raw if isinstance(raw, bytes) else str(raw or "").encode()))
        phase = getattr(_local, "phase", None)
        if not phase:
            return
        elapsed = time.perf_counter() - getattr(_local, "call_started", time.perf_counter())
        rru, wru = _capacity(operation, params, parsed or {}) if service == "dynamodb" else (0.0, 0.0)
        with self._lock:
            tally = self.tallies[phase]
            tally.seconds[(service, operation)] += elapsed
            tally.rru += rru
            tally.wru += wru

    # -------------------------------------------------------------- phases

    @contextmanager
    def phase(self, name: str):
        previous = getattr(_local, "phase", None)
        _local.phase = name
        try:
            yield self.tallies[name]
        finally:
            _local.phase = previous

    def wrap(self, name: str, handler: Any) -> Any:
        """A Lambda handler that runs `handler` with its requests, time and records tallied under `name`."""

        def wrapped(event: dict, context: Any) -> Any:
            with self.phase(name) as tally:
                wall, cpu = time.perf_counter(), time.thread_time()
                try:
                    return handler(event, context)
                finally:
                    tally.wall += time.perf_counter() - wall
                    tally.cpu += time.thread_time() - cpu
                    tally.invocations += 1
                    tally.records += len(event.get("Records", []))

        wrapped._bench_counted = True  # type: ignore[attr-defined]
        return wrapped

    def instrument(self, triggers: Any) -> None:
        """Wrap the Triggers' handler entry points (whichever this version of the local stack has)."""
        for attr, name in (("_inbound", "inbound"), ("_notifier", "notifier"), ("_digest", "digest")):
            handler = getattr(triggers, attr, None)
            if handler is not None and not getattr(handler, "_bench_counted", False):
                setattr(triggers, attr, self.wrap(name, handler))

    def take(self, *names: str) -> Tally:
        """The tallies of `names` merged, and reset."""
        with self._lock:
            out = Tally()
            for name in names:
                out = out.merged(self.tallies.pop(name, Tally()))
            return out


COUNTER = RequestCounter()


def verify(stack: Any) -> dict:
    """Make known requests through boto3 and pynamodb clients and check the counter sees exactly those."""
    from emailpipe.aws import client
    from emailpipe.store import repo

    bucket = stack.info.outputs["MailBucketName"]
    with COUNTER.phase("verify"):
        client("s3").head_bucket(Bucket=bucket)
        client("s3").list_objects_v2(Bucket=bucket, MaxKeys=1)
        repo.get_settings()  # one GetItem through the model's connection
        repo.get_person("nobody@example.invalid")  # another
    tally = COUNTER.take("verify")
    expected = {"s3.HeadBucket": 1, "s3.ListObjectsV2": 1, "dynamodb.GetItem": 2}
    return {"expected": expected, "counted": tally.breakdown(), "ok": tally.breakdown() == expected}


# ------------------------------------------------------------------ the world and the scenario


def set_settings(api: Any, **values: int) -> dict[str, int]:
    """Set the product settings this version knows; returns what was set."""
    from emailpipe.domain.models import Settings

    done = {}
    for key, value in values.items():
        if key in Settings.KEYS:
            api.set_setting(key, str(value))
            done[key] = value
    return done


def build_world(stack: Any, *, users: int = 1) -> dict:
    """A department with one online and two offline agents, `users` users with one conversation each."""
    from emailpipe.chat import ChatApi
    from emailpipe.store import repo

    stack.reset()
    repo.configure(stack.info.outputs["TableName"])
    COUNTER.instrument(stack.triggers)
    api = ChatApi(mail_bucket=stack.info.outputs["MailBucketName"])
    api.add_department("Billing")
    api.add_agent("alice@agents.example", "Alice", ["Billing"])
    api.add_agent("bob@agents.example", "Bob", ["Billing"])
    api.add_agent("dan@agents.example", "Dan", ["Billing"])
    api.set_presence("alice@agents.example", True)
    api.set_presence("bob@agents.example", False)
    api.set_presence("dan@agents.example", True)
    conversations = []
    for i in range(users):
        user = f"user{i}@customer.example"
        api.add_user(user, f"User {i}")
        conversations.append((api.open_conversation(user, "Billing", f"Invoice {1000 + i}").id, user))
    return {"api": api, "conversations": conversations}


def latest_notification(stack: Any, to: str) -> str:
    from emailpipe.local.stack import sent_emails

    found = [m for m in sent_emails(stack.endpoint) if to in (m["destinations"] or [])]
    if not found:
        raise RuntimeError(f"no notification was sent to {to}")
    return found[-1]["raw"]


def _summary(tally: Tally) -> dict:
    return {
        "dynamodb": tally.service_calls("dynamodb"),
        "s3": tally.service_calls("s3"),
        "ses": tally.service_calls("sesv2") + tally.service_calls("ses"),
        "sqs": tally.service_calls("sqs"),
        "secretsmanager": tally.service_calls("secretsmanager"),
        "total": tally.total_calls(),
        "http_attempts": sum(tally.attempts.values()),
        "rru": round(tally.rru, 2),
        "wru": round(tally.wru, 2),
        "clients_created": dict(tally.clients_created),
        "by_operation": tally.breakdown(),
        "handler_cpu_ms": round(tally.cpu * 1000, 1),
        "handler_wall_ms": round(tally.wall * 1000, 1),
    }


def _minus(a: dict, b: dict) -> dict:
    keys = set(a["by_operation"]) | set(b["by_operation"])
    ops = {k: a["by_operation"].get(k, 0) - b["by_operation"].get(k, 0) for k in sorted(keys)}
    out = {k: round(a[k] - b[k], 2) for k in ("dynamodb", "s3", "ses", "sqs", "secretsmanager", "total", "rru", "wru")}
    out["by_operation"] = {k: v for k, v in ops.items() if v}
    return out


def _scenario(stack: Any, digest_window: int) -> dict:
    from emailpipe.cli.main import deliver_raw_email
    from emailpipe.local.mailclient import reply_to
    from emailpipe.store import repo

    world = build_world(stack)
    api = world["api"]
    conversation, user = world["conversations"][0]
    settings = set_settings(api, digest_window_seconds=digest_window)
    wait = {"wait_for_digests": True} if digest_window else {}

    def drain() -> None:
        stack.triggers.drain(timeout=60, **wait)

    # Warm-up (cold figures): a user message to Bob, Bob's reply by email, the notification to the user.
    COUNTER.take("inbound", "notifier", "digest")
    api.post_message(conversation, user, "My invoice is wrong")
    drain()
    cold_notify = COUNTER.take("notifier", "digest")
    key = deliver_raw_email(
        stack.info,
        reply_to(latest_notification(stack, "bob@agents.example"), "bob@agents.example", "Bob", "Refunded.\n\nBob"),
    )
    drain()
    cold_inbound = COUNTER.take("inbound")
    outcome = repo.get_inbound(key)
    COUNTER.take("notifier", "digest")

    # A user message with one offline agent (Bob), then with two (Bob and Dan).
    api.post_message(conversation, user, "Still wrong, see the attached invoice number 1042.")
    drain()
    one = _summary(COUNTER.take("notifier", "digest"))
    api.set_presence("dan@agents.example", False)
    api.post_message(conversation, user, "Hello? Anyone?")
    drain()
    two = _summary(COUNTER.take("notifier", "digest"))

    # Bob answers by email (warm): the stored email, then the notification to the user.
    raw = reply_to(
        latest_notification(stack, "bob@agents.example"),
        "bob@agents.example",
        "Bob",
        "Done, the refund is on its way.\n\nBob",
    )
    key = deliver_raw_email(stack.info, raw)
    drain()
    stored = COUNTER.take("inbound")
    outcome = repo.get_inbound(key) or outcome
    to_user = _summary(COUNTER.take("notifier", "digest"))
    per_recipient = _minus(two, one)
    return {
        "settings": settings,
        "stored_status": outcome.status.value if outcome else None,
        "inbound_stored_email": _summary(stored),
        "inbound_stored_email_cold": _summary(cold_inbound),
        "notifier_cold_one_recipient": _summary(cold_notify),
        "notify_user_message_1_recipient": one,
        "notify_user_message_2_recipients": two,
        "notify_agent_reply_to_user": to_user,
        "per_additional_recipient": per_recipient,
        "fixed_per_notified_message": _minus(one, per_recipient),
    }


def run(stack: Any = None) -> dict:
    """Counts for the immediate path (digest window 0) and, when this version has it, the digest path."""
    from emailpipe.aws import reset_clients
    from emailpipe.local.stack import LocalStack
    from emailpipe.store import keys

    COUNTER.install()
    reset_clients()  # clients made before the hooks were installed would not be counted
    keys.reset()
    # As deployed (template Globals): the settings and the staff list are read once per container per 10 s, not
    # for every email as the local stack does for its CLI's sake. Every change below goes through this process's
    # API, which drops the cached copies, so the figures see each change at once.
    max_age = os.environ.get("SETTINGS_MAX_AGE_SECONDS")
    os.environ["SETTINGS_MAX_AGE_SECONDS"] = "10"
    own = stack is None
    if own:
        stack = LocalStack().start()
    try:
        result: dict = {"verify": None}
        stack.reset()
        COUNTER.instrument(stack.triggers)
        from emailpipe.store import repo

        repo.configure(stack.info.outputs["TableName"])
        result["verify"] = verify(stack)
        result["immediate"] = _scenario(stack, digest_window=0)
        from emailpipe.domain.models import Settings

        if "digest_window_seconds" in Settings.KEYS and stack.info.outputs.get("DigestQueueUrl"):
            try:
                result["digest_1s"] = _scenario(stack, digest_window=1)
            except Exception as exc:  # noqa: BLE001 - report, do not lose the other figures
                result["digest_1s"] = {"error": f"{type(exc).__name__}: {exc}"}
        return result
    finally:
        if max_age is None:
            os.environ.pop("SETTINGS_MAX_AGE_SECONDS", None)
        else:
            os.environ["SETTINGS_MAX_AGE_SECONDS"] = max_age
        if own:
            stack.stop()


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, default=str))
