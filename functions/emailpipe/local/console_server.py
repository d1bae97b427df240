"""The local console: static pages, the public API proxied on the same origin, and a local-only mail world.

The chat side of the page calls only the public HTTP API (/v1/..., forwarded unchanged to the local API server).
The mail side is not our API: /local/outbox lists what the local SES has sent, and /local/reply writes a reply
as the recipient's mail client would (emailpipe.local.mailclient.reply_to) and puts it where SES stores inbound
mail. Those two endpoints exist only on this local server.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib import resources
from typing import Any

from emailpipe.local.loopback import LoopbackServer, QuietHandler
from emailpipe.local.mailclient import reply_to
from emailpipe.local.stack import sent_emails

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}


def mask(address: str) -> str:
    """An address as the local transcript prints it: b***@agents.example."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _summary(email: dict[str, Any]) -> dict[str, Any]:
    """An outbox email with its From, To and Subject decoded (encoded words) for the list and the header line."""
    from email import message_from_string, policy

    mail = message_from_string(email["raw"] or "", policy=policy.default)
    return {**email, **{name: str(mail.get(name, "")) for name in ("From", "To", "Subject")}}


class ConsoleServer(LoopbackServer):
    """Serves the console on 127.0.0.1:`port` until `stop()`."""

    def __init__(
        self, endpoint: str, api_url: str, api_key: str, deliver: Callable[[bytes], str], port: int = 0
    ) -> None:
        server = self
        self.endpoint, self.api_url, self.api_key, self.deliver = endpoint, api_url, api_key, deliver

        class _Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _json(self, status: int, value: Any) -> None:
                self._send(status, json.dumps(value).encode(), "application/json")

            def _proxy(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                request = urllib.request.Request(server.api_url + self.path, body, headers, method=self.command)  # noqa: S310
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1
                        status, data, kind = response.status, response.read(), response.headers.get("Content-Type")
                except urllib.error.HTTPError as error:
                    status, data, kind = error.code, error.read(), error.headers.get("Content-Type")
                self._send(status, data, kind or "application/json")

            def _serve(self) -> None:
                path = self.path.split("?", 1)[0]
                if path.startswith("/v1/"):
                    return self._proxy()
                if path == "/local/outbox" and self.command == "GET":
                    return self._json(200, [_summary(m) for m in sent_emails(server.endpoint)])
                if path == "/local/reply" and self.command == "POST":
                    form = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                    original = next((m for m in sent_emails(server.endpoint) if m["id"] == form.get("id")), None)
                    if original is None:
                        return self._json(404, {"error": "no such email in the outbox"})
                    sender = form.get("from") or original["destinations"][0]
                    raw = reply_to(original["raw"], sender, form.get("name") or sender, form.get("text", ""))
                    return self._json(201, {"s3_key": server.deliver(raw)})
                if path in ("/", "/index.html"):
                    page = resources.files("emailpipe.local").joinpath("console/index.html").read_text("utf-8")
                    page = page.replace("__API_KEY__", json.dumps(server.api_key))
                    return self._send(200, page.encode(), _TYPES[".html"])
                name = path.lstrip("/")
                if name in ("console.js", "console.css"):
                    data = resources.files("emailpipe.local").joinpath(f"console/{name}").read_bytes()
                    return self._send(200, data, _TYPES["." + name.rsplit(".", 1)[1]])
                return self._json(404, {"error": "not found"})

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        super().__init__(_Handler, port, name="emailpipe-console", path="/")


def transcript(endpoint: str, stop: threading.Event, interval: float = 0.5) -> None:
    """Print one line per inbound outcome and per email sent (masked addresses, no bodies) until `stop`."""
    from emailpipe.store import repo

    seen_inbound: set[str] = set()
    seen_sent: set[str] = set()
    while not stop.wait(interval):
        try:
            for r in repo.list_inbound(0.0):
                if r.s3_key not in seen_inbound:
                    seen_inbound.add(r.s3_key)
                    print(f"inbound {r.status.value} {r.reason} matched_by={r.matched_by or '-'}", flush=True)
            for m in sent_emails(endpoint):
                if m["id"] not in seen_sent:
                    seen_sent.add(m["id"])
                    to = ",".join(mask(a) for a in m["destinations"])
                    print(f"notification sent to {to}", flush=True)
        except Exception as error:  # noqa: BLE001 - the transcript must not stop the stack
            print(f"# transcript: {type(error).__name__}", flush=True)
