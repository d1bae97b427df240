"""The HTTP API on the local stack: latency of `POST /v1/conversations/{id}/messages` and AWS requests per call.

The API is served by `emailpipe.local.api_server` (the real ApiFunction handler behind an HTTP server on
127.0.0.1), so a latency here is a real HTTP round trip through the handler, the store and the embedded moto
server: an upper bound on the handler's own share of an API Gateway request, not an AWS figure. Requests are
counted with bench_requests' botocore hooks, attributed to the handler's thread.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from typing import Any
from urllib.parse import quote, urlsplit

from benchmarks.bench_requests import COUNTER, _summary


class _Client:
    """One keep-alive HTTP connection to the local API with a bearer key."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self._key = key

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Authorization": f"Bearer {self._key}", "Content-Type": "application/json", **(headers or {})}
        self._conn.request(method, path, body=data, headers=sent)
        response = self._conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None

    def close(self) -> None:
        self._conn.close()


def _expect(status: int, result: tuple[int, Any]) -> Any:
    if result[0] != status:
        raise RuntimeError(f"expected HTTP {status}, got {result[0]}: {result[1]}")
    return result[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(stack: Any, messages: int = 200) -> dict:
    """Set up a world through the API, then time `messages` message posts and count each call's requests."""
    from emailpipe.local.api_server import ApiServer
    from emailpipe.store import apikeys, repo

    stack.reset()
    repo.configure(stack.info.outputs["TableName"])
    _record, key = apikeys.create_key("bench")
    server = ApiServer(stack.info).start()
    server._handler = COUNTER.wrap("api", server._handler)
    client = _Client(server.url, key)
    agent, user = "bob@agents.example", "carol@customer.example"
    try:
        COUNTER.take("api")
        _expect(201, client.call("POST", "/v1/departments", {"name": "Billing"}))
        bob = {"name": "Bob", "role": "agent", "departments": ["Billing"]}
        _expect(201, client.call("PUT", f"/v1/people/{quote(agent)}", bob))
        _expect(201, client.call("PUT", f"/v1/people/{quote(user)}", {"name": "Carol", "role": "user"}))
        COUNTER.take("api")

        def counted(method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> tuple[Any, dict]:
            COUNTER.take("api")
            result = _expect(status, client.call(method, path, body, **kw))
            return result, _summary(COUNTER.take("api"))

        _, presence = counted("PUT", f"/v1/agents/{quote(agent)}/presence", {"online": False})
        conversation, create = counted(
            "POST", "/v1/conversations", {"user": user, "department": "Billing", "subject": "Invoice"}, 201
        )
        path = f"/v1/conversations/{conversation['id']}/messages"
        _, post = counted("POST", path, {"author": user, "text": "warm-up"}, 201)
        keyed, key_header = {"author": user, "text": "keyed"}, {"Idempotency-Key": "k-1"}
        _, post_keyed = counted("POST", path, keyed, 201, headers=key_header)
        _, post_replayed = counted("POST", path, keyed, 200, headers=key_header)
        _, listed = counted("GET", path)

        latencies: list[float] = []
        started = time.perf_counter()
        for i in range(messages):
            t0 = time.perf_counter()
            _expect(201, client.call("POST", path, {"author": user, "text": f"message {i}"}))
            latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
        COUNTER.take("api")
    finally:
        client.close()
        server.stop()
    return {
        "messages": messages,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(_percentile(latencies, 0.99), 1),
        "per_second": round(messages / elapsed, 1),
        "requests": {
            "presence": presence,
            "conversation_create": create,
            "message_post": post,
            "message_post_with_key": post_keyed,
            "message_post_replayed": post_replayed,
            "messages_list": listed,
        },
    }


if __name__ == "__main__":
    from emailpipe.local.stack import LocalStack

    COUNTER.install()
    print(json.dumps(run(LocalStack().start(), messages=50), indent=2))
