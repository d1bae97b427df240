"""Transient AWS failures injected through botocore's event hooks, into the calls the Lambda handlers make.

How it is installed. boto3 (emailpipe.aws) and pynamodb (its own botocore session) both create their clients
with `botocore.session.Session.create_client`; `install()` wraps that method, as the benchmarks' request counter
does, so that every client made afterwards gets four handlers on its own event emitter, and forgets emailpipe's
cached boto3 clients so that they are made again (pynamodb's connection is made again by `repo.configure`, which a
stack reset runs). Nothing of emailpipe's own code is patched. The handlers act for the injector installed at the
time of the call, so a client made under an earlier one serves the next.

Which calls. Only the calls made while a Lambda handler runs: `wrap(triggers)` wraps each handler the local
triggers call (`Triggers._handlers`) so that its thread is marked for the invocation. The test driver's own calls
(mail put into S3, API setup, the checks) and the triggers' polling (ReceiveMessage, GetRecords, DeleteMessage)
are never faulted.

What. `rate` of the HTTP attempts of those calls fail, the kind drawn with a seeded RNG:

- `5xx`: a 500 InternalServerError (S3: InternalError) or 503 ServiceUnavailable answer in the service's own error
  shape, returned from `before-send` (the request never reaches the server);
- `throttle`: DynamoDB's 400 ProvisionedThroughputExceededException or ThrottlingException, S3's 503 SlowDown,
  SES v2's 429 TooManyRequestsException, and 400 ThrottlingException from SQS (JSON protocol in this botocore),
  Secrets Manager and the other JSON services;
- `timeout`: `ReadTimeoutError` or `ConnectTimeoutError` raised from `before-send`.

botocore's standard retry mode retries all three itself; `retries` counts the attempts beyond each call's first
(HTTP attempts minus calls).

And `kill_rate` of the handler invocations die between two of their steps (`kill`): after the k-th of its calls that
succeeded (k drawn up to the number of calls the function's last whole invocation made; its effect is in the server),
an `after-call` handler raises `Killed`, a BaseException no `except Exception` of the handlers catches. The wrapper
turns it into a failed invocation (`InvocationCrashed`), as Lambda reports a crashed process: the triggers leave an
SQS batch in its queue, to come back after the visibility timeout, and retry a stream batch. Kills are drawn per
invocation, not per call: one kill fails a whole batch (ten emails, 25 stream records), so at 2.5 % of calls nearly
every batch would die and every email of it would burn one of its five receives. No kill lands right after
`kill_exempt` calls (by default SES's SendEmail: with no idempotency key at SES, nothing can tell a retry whether the
email went, so a crash there is a duplicate or a loss by any design; a test shows which); it lands after the next
call instead.

`rules` add faults every matching call gets (a poison email: every GetObject of one key answered 500; a kill right
after one given write), counted under their own name.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

KINDS = ("5xx", "throttle", "timeout", "kill")
CALL_KINDS = ("5xx", "throttle", "timeout")  # drawn per HTTP attempt; kills per invocation

_local = threading.local()
_active: list[FaultInjector] = []  # the injector installed now (at most one)
_patch: dict[str, Any] = {}


class Killed(BaseException):  # noqa: N818 - not an error of ours: the process is gone
    """The process died right after a call that succeeded; no `except Exception` clause may catch it."""


class InvocationCrashed(Exception):
    """A handler invocation whose process was killed, as the triggers (and Lambda) see it: the invocation failed."""


@dataclass
class Rule:
    """A fault that every matching call made inside a handler gets (not drawn)."""

    service: str  # botocore's hyphenised service id: dynamodb, s3, sesv2, sqs, secrets-manager
    operation: str  # GetObject, TransactWriteItems, ...
    match: Callable[[dict[str, Any]], bool] = lambda params: True  # on the call's API parameters
    kind: str = "5xx"  # 5xx, throttle, timeout, or kill (after the call succeeded)
    name: str = "poison"  # counted under this name
    function: str | None = None  # only in this function's invocations
    times: int | None = None  # at most this many times (None: always)


class _Raw:
    """The `raw` of an AWSResponse: botocore reads an error body through `stream()`."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


_JSON_NAMESPACE = {"dynamodb": "com.amazonaws.dynamodb.v20120810#", "sqs": "com.amazonaws.sqs#"}
SUPPORTED_PROTOCOLS = ("json", "rest-json", "rest-xml", "query", "ec2")


def error_response(service_model: Any, operation: str, url: str, status: int, code: str, message: str) -> AWSResponse:
    """An error answer as the service sends it, in its protocol's shape (JSON, REST-JSON, REST-XML or query)."""
    protocol = getattr(service_model, "resolved_protocol", None) or service_model.protocol
    service = service_model.service_name
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id, "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())}
    if protocol == "json":
        headers["Content-Type"] = f"application/x-amz-json-{service_model.metadata.get('jsonVersion', '1.0')}"
        if service_model.metadata.get("awsQueryCompatible") is not None:  # SQS: the query protocol's code too
            headers["x-amzn-query-error"] = f"{code};{'Receiver' if status >= 500 else 'Sender'}"
        body = json.dumps({"__type": _JSON_NAMESPACE.get(service, "") + code, "message": message}).encode()
    elif protocol == "rest-json":
        headers["Content-Type"] = "application/json"
        headers["x-amzn-ErrorType"] = f"{code}:http://internal.amazon.com/coral/com.amazonaws.{service}/"
        body = json.dumps({"message": message}).encode()
    elif protocol == "rest-xml":
        s3_id = request_id.replace("-", "")[:16].upper()
        headers = {"x-amz-request-id": s3_id, "Content-Type": "application/xml", "Date": headers["Date"]}
        # A HEAD answer has no body; botocore takes the status code for the error code then, as from S3 itself.
        body = (
            b""
            if operation.startswith("Head")
            else (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                f"<RequestId>{s3_id}</RequestId><HostId>fault-injector</HostId></Error>"
            ).encode()
        )
    elif protocol in ("query", "ec2"):
        headers["Content-Type"] = "text/xml"
        side = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="http://{service}.amazonaws.com/doc/"><Error><Type>{side}</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        ).encode()
    else:
        raise ValueError(f"no error shape for the {protocol} protocol")
    headers["Content-Length"] = str(len(body))
    return AWSResponse(url, status, headers, _Raw(body))


def server_error(service: str, rng: random.Random) -> tuple[int, str, str]:
    """(status, code, message) of a 5xx answer of `service`."""
    if rng.random() < 0.5:
        return 500, "InternalError" if service == "s3" else "InternalServerError", "We encountered an internal error."
    return 503, "ServiceUnavailable", "Service is unavailable. Please try again."


def throttling(service: str, rng: random.Random) -> tuple[int, str, str]:
    """(status, code, message) of a throttling answer of `service`."""
    if service == "s3":
        return 503, "SlowDown", "Please reduce your request rate."
    if service == "sesv2":
        return 429, "TooManyRequestsException", "Maximum sending rate exceeded."
    if service == "dynamodb" and rng.random() < 0.5:
        return 400, "ProvisionedThroughputExceededException", "The provisioned throughput for the table was exceeded."
    return 400, "ThrottlingException", "Rate exceeded"


class FaultInjector:
    """Injects faults into the AWS calls of the handlers; counts them by kind, and the retries they cost."""

    def __init__(
        self,
        rate: float = 0.1,
        seed: int = 0,
        kinds: tuple[str, ...] = KINDS,
        *,
        kill_rate: float | None = None,
        kill_exempt: tuple[str, ...] = ("sesv2.SendEmail",),
    ) -> None:
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        kill_rate = rate if kill_rate is None else kill_rate
        if not (0.0 <= rate <= 1.0 and 0.0 <= kill_rate <= 1.0):
            raise ValueError("rates are between 0 and 1")
        self.rate = rate
        self.call_kinds = tuple(k for k in kinds if k in CALL_KINDS)
        self.kill_rate = kill_rate if "kill" in kinds else 0.0
        self.kill_exempt = set(kill_exempt)
        self.rng = random.Random(seed)
        self.enabled = True
        self.rules: list[Rule] = []
        self.injected: Counter[str] = Counter()  # kind (or rule name) -> faults injected
        self.by_call: Counter[tuple[str, str, str]] = Counter()  # (function, "service.Operation", kind) -> faults
        self.calls = 0  # API calls made inside handlers
        self.attempts = 0  # their HTTP attempts (retries included)
        self.invocations: Counter[str] = Counter()  # function -> invocations
        self.crashed: Counter[str] = Counter()  # function -> invocations killed
        self._steps: dict[str, int] = {}  # function -> successful calls of its last whole invocation
        self._lock = threading.Lock()

    # -------------------------------------------------------------- installation

    def install(self) -> FaultInjector:
        """Act on every botocore client created from now on; emailpipe's cached clients are made again."""
        from emailpipe.aws import reset_clients

        if "original" not in _patch:
            original = botocore.session.Session.create_client

            def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
                created = original(session, *args, **kwargs)
                _attach(created)
                return created

            _patch["original"] = original
            botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        _active[:] = [self]
        reset_clients()
        return self

    def uninstall(self) -> None:
        """No more faults; botocore's create_client is restored and emailpipe's cached clients dropped."""
        from emailpipe.aws import reset_clients

        self.enabled = False
        if _active and _active[0] is self:
            _active.clear()
        if "original" in _patch:
            botocore.session.Session.create_client = _patch.pop("original")  # type: ignore[method-assign]
        reset_clients()

    def wrap(self, triggers: Any) -> None:
        """Mark each handler the triggers call, so that only its calls are faulted; a kill fails the invocation."""
        for function, handler in list(triggers._handlers.items()):
            if not getattr(handler, "_faults_wrapped", False):
                triggers._handlers[function] = self._wrapped(function, handler)

    def _wrapped(self, function: str, handler: Any) -> Any:
        injector = self

        def invoke(event: dict[str, Any], context: Any) -> Any:
            saved = (getattr(_local, "function", None), getattr(_local, "kill_at", None), getattr(_local, "steps", 0))
            _local.function, _local.kill_at, _local.steps = function, injector._draw_kill(function), 0
            with injector._lock:
                injector.invocations[function] += 1
            try:
                result = handler(event, context)
            except Killed as killed:
                with injector._lock:
                    injector.crashed[function] += 1
                raise InvocationCrashed(f"{function}: {killed}") from None
            else:
                with injector._lock:
                    injector._steps[function] = max(1, _local.steps)
                return result
            finally:
                _local.function, _local.kill_at, _local.steps = saved

        invoke._faults_wrapped = True  # type: ignore[attr-defined]
        return invoke

    def _draw_kill(self, function: str) -> int | None:
        """After which successful call this invocation dies, if it does."""
        if not self.enabled or self.kill_rate <= 0:
            return None
        with self._lock:
            if self.rng.random() >= self.kill_rate:
                return None
            return self.rng.randint(1, self._steps.get(function, 8))

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No fault while inside."""
        enabled, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = enabled

    @contextmanager
    def as_handler(self, function: str = "test") -> Iterator[None]:
        """Calls made inside count as a handler's (for a test of the injector itself)."""
        saved = getattr(_local, "function", None), getattr(_local, "kill_at", None)
        _local.function, _local.kill_at = function, None
        try:
            yield
        finally:
            _local.function, _local.kill_at = saved

    # -------------------------------------------------------------- figures

    @property
    def retries(self) -> int:
        """HTTP attempts beyond each call's first (botocore's standard retry mode at work)."""
        return self.attempts - self.calls

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    def summary(self) -> dict[str, Any]:
        with self._lock:
            names = (*KINDS, *sorted(set(self.injected) - set(KINDS)))
            return {
                "injected": self.total,
                "by_kind": {name: self.injected.get(name, 0) for name in names},
                "retries": self.retries,
                "calls": self.calls,
                "attempts": self.attempts,
                "invocations": dict(self.invocations),
                "crashed_invocations": dict(self.crashed),
                "by_call": {f"{f} {c} {k}": n for (f, c, k), n in sorted(self.by_call.items())},
            }

    # -------------------------------------------------------------- the hooks' work

    def _function(self) -> str | None:
        return getattr(_local, "function", None) if self.enabled else None

    def _count(self, function: str, call: str, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1
            self.by_call[(function, call, kind)] += 1

    def _rule_for(self, function: str, call: str, params: dict[str, Any]) -> Rule | None:
        service, _, operation = call.partition(".")
        for rule in self.rules:
            if (rule.service, rule.operation) != (service, operation) or rule.function not in (None, function):
                continue
            if (rule.times is None or rule.times > 0) and rule.match(params):
                return rule
        return None

    def _consume(self, rule: Rule) -> None:
        with self._lock:
            if rule.times is not None:
                rule.times -= 1

    def on_call(self) -> None:
        if self._function():
            with self._lock:
                self.calls += 1

    def on_send(self, request: Any, call: str, model: Any) -> Any:
        function = self._function()
        if not function:
            return None
        with self._lock:
            self.attempts += 1
        rule = self._rule_for(function, call, getattr(_local, "params", None) or {})
        if rule is not None:
            if rule.kind == "kill":
                _local.rule_kill = rule  # the attempt goes through; the process dies once it has succeeded
                return None
            self._consume(rule)
            self._count(function, call, rule.name)
            return self._fault(rule.kind, request, call, model)
        protocol = getattr(model, "resolved_protocol", None) or getattr(model, "protocol", "")
        kinds = (
            self.call_kinds if protocol in SUPPORTED_PROTOCOLS else tuple(k for k in self.call_kinds if k == "timeout")
        )
        with self._lock:
            if not kinds or self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(kinds)
        self._count(function, call, kind)
        return self._fault(kind, request, call, model)

    def _fault(self, kind: str, request: Any, call: str, model: Any) -> Any:
        url = getattr(request, "url", "")
        with self._lock:
            if kind == "timeout":
                error = ConnectTimeoutError if self.rng.random() < 0.5 else ReadTimeoutError
            else:
                status, code, message = (server_error if kind == "5xx" else throttling)(model.service_name, self.rng)
        if kind == "timeout":
            raise error(endpoint_url=url)
        return error_response(model, call.partition(".")[2], url, status, code, message)

    def on_after_call(self, call: str, succeeded: bool) -> None:
        function = self._function()
        rule_kill, _local.rule_kill = getattr(_local, "rule_kill", None), None
        if not function or not succeeded:
            return
        if rule_kill is not None:
            self._consume(rule_kill)
            self._count(function, call, rule_kill.name)
            raise Killed(f"killed after {call}")
        _local.steps = getattr(_local, "steps", 0) + 1
        kill_at = getattr(_local, "kill_at", None)
        if kill_at is not None and _local.steps >= kill_at and call not in self.kill_exempt:
            _local.kill_at = None
            self._count(function, call, "kill")
            raise Killed(f"killed after {call}")


@contextmanager
def fast_backoff(scale: float) -> Iterator[None]:
    """botocore's retry back-off times `scale` while inside: the same retries with less sleeping (tests that fail a
    call on every attempt would otherwise sleep about 15 s per call in the standard mode's five back-offs)."""
    from botocore.retries import standard

    original = standard.ExponentialBackoff.delay_amount

    def scaled(self: Any, context: Any) -> float:
        return float(original(self, context)) * scale

    standard.ExponentialBackoff.delay_amount = scaled  # type: ignore[method-assign]
    try:
        yield
    finally:
        standard.ExponentialBackoff.delay_amount = original  # type: ignore[method-assign]


# ------------------------------------------------------------------ the hooks on every client


def _attach(created: Any) -> None:
    events = created.meta.events
    events.register("before-parameter-build", _on_params)
    events.register("before-call", _on_call)
    events.register("before-send", _on_send)
    events.register("after-call", _on_after_call)


def _call_name(event_name: str) -> str:
    _, service, operation = event_name.split(".", 2)
    return f"{service}.{operation}"


def _on_params(params: dict[str, Any], **_: Any) -> None:
    _local.params = params


def _on_call(model: Any = None, **_: Any) -> None:
    _local.model = model.service_model if model is not None else None
    _local.rule_kill = None
    if _active:
        _active[0].on_call()


def _on_send(request: Any, event_name: str, **_: Any) -> Any:
    if not _active:
        return None
    return _active[0].on_send(request, _call_name(event_name), getattr(_local, "model", None))


def _on_after_call(event_name: str, http_response: Any = None, **_: Any) -> None:
    if _active:
        succeeded = http_response is not None and http_response.status_code < 300
        _active[0].on_after_call(_call_name(event_name), succeeded)
