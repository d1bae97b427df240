"""The HTTP API on 127.0.0.1: each request becomes an API Gateway HTTP API (payload 2.0) event for the real handler.

Requests are handled one at a time, as one Lambda execution environment would (the resolver keeps the current
event on the app), by `emailpipe.api.handler.lambda_handler` in this process, against the local stack.
"""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from emailpipe.local.loopback import LoopbackServer, QuietHandler
from emailpipe.local.stack import FakeLambdaContext, StackInfo


def api_environment(info: StackInfo) -> dict[str, str]:
    """The environment template.yaml gives the ApiFunction, from the stack's outputs."""
    o = info.outputs
    env = dict(info.env())
    env.update(
        {
            "IDEMPOTENCY_TABLE": o["IdempotencyTableName"],
            "INBOUND_QUEUE_URL": o["InboundQueueUrl"],
            "INBOUND_DLQ_URL": o.get("InboundDeadLetterQueueUrl", ""),
            "NOTIFIER_DLQ_URL": o.get("NotifierDeadLetterQueueUrl", ""),
            "DIGEST_DLQ_URL": o.get("DigestDeadLetterQueueUrl", ""),
            "POWERTOOLS_SERVICE_NAME": "emailpipe",
        }
    )
    return env


def to_event(method: str, target: str, headers: dict[str, str], body: bytes, port: int) -> dict[str, Any]:
    """An HTTP request as API Gateway's HTTP API passes it to Lambda (payload format 2.0)."""
    parts = urlsplit(target)
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value  # repeated keys are comma-joined
    lowered = {k.lower(): v for k, v in headers.items()}
    text: str | None
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": f"127.0.0.1:{port}",
            "domainPrefix": "127",
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if "cookie" in lowered:
        event["cookies"] = [c.strip() for c in lowered["cookie"].split(";")]
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = text
    return event


class ApiServer(LoopbackServer):
    """The API served on 127.0.0.1:`port` (0: a free port) until `stop()`."""

    def __init__(self, info: StackInfo, port: int = 0) -> None:
        self.info = info
        self._lock = threading.Lock()
        os.environ.update(api_environment(info))
        from emailpipe.api import context

        context.reset()
        from emailpipe.api.handler import lambda_handler

        self._handler = lambda_handler
        server = self

        class _Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                event = to_event(self.command, self.path, dict(self.headers.items()), body, server.port)
                with server._lock:  # one request at a time per execution environment, as in Lambda
                    result = server._handler(event, FakeLambdaContext("ApiFunction"))
                payload = result.get("body") or ""
                data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode("utf-8")
                self.send_response(int(result.get("statusCode", 200)))
                for name, value in (result.get("headers") or {}).items():
                    self.send_header(name, str(value))
                for name, values in (result.get("multiValueHeaders") or {}).items():
                    for value in values:
                        self.send_header(name, str(value))
                for cookie in result.get("cookies") or []:
                    self.send_header("Set-Cookie", cookie)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        super().__init__(_Handler, port, name="emailpipe-api")
