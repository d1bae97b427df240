"""Webhook delivery (pure of AWS): Standard Webhooks signing, SSRF-safe URLs, one pinned POST, the back-off.

Signing follows https://www.standardwebhooks.com: headers `webhook-id` (the event id, the same on every retry and
redelivery), `webhook-timestamp` (this attempt, epoch seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`, keyed by the base64-decoded part of the subscription's `whsec_…` secret.

SSRF: a URL must be https and every address its host resolves to must be public (`is_global`): no loopback,
private, link-local (169.254.169.254, the metadata service), unique-local or IPv4-mapped forms of those. The check
runs when subscribing and again at every delivery, and the POST connects to the address that was checked (TLS
still verifies the certificate for the URL's host), so a DNS answer that changes in between cannot redirect it.
Redirects are not followed. `allow_loopback` (the local stack only) also admits http and https to 127.0.0.0/8
and ::1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import secrets
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
TIMEOUT_SECONDS = 10.0
USER_AGENT = "emailpipe-webhooks/1"

# Delay before each retry (Standard Webhooks' suggested schedule): after attempt n fails, the next one comes
# BACKOFF_SECONDS[n-1] later. Eight attempts in all; the last is 27.6 h after the first. SQS caps a message's
# visibility at 12 h, which these stay under. WebhookQueue's maxReceiveCount is len(BACKOFF_SECONDS) + 1.
BACKOFF_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1

Resolver = Callable[[str, int], Sequence[str]]


class UnsafeUrlError(ValueError):
    """A webhook URL that may not be called: not https, or an address that is not public."""


def new_secret() -> str:
    """A fresh signing secret, `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def headers_for(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header of one delivery attempt."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host resolves to (A and AAAA)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeUrlError(f"the host does not resolve: {host}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _acceptable(address: str, allow_loopback: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_loopback and ip.is_loopback:
        return True
    return bool(ip.is_global) and not ip.is_multicast


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: where to connect (a validated address) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def check_url(url: str, *, allow_loopback: bool = False, resolve: Resolver = system_resolver) -> Target:
    """The target of a webhook URL, or UnsafeUrlError saying why it may not be called."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrlError(f"not a URL: {exc}") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrlError("the URL must be https://host/…")
    if parts.username or parts.password:
        raise UnsafeUrlError("the URL may not carry credentials")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = list(resolve(host, port))
    if not addresses:
        raise UnsafeUrlError(f"the host does not resolve: {host}")
    refused = [a for a in addresses if not _acceptable(a, allow_loopback)]
    if refused:
        raise UnsafeUrlError(f"the host resolves to an address that is not public: {refused[0]}")
    loopback_only = all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)
    if parts.scheme != "https" and not (allow_loopback and loopback_only):
        raise UnsafeUrlError("the URL must be https")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses[0])


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed, already checked address, with SNI and certificate checks for the URL's host."""

    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to a fixed loopback address (local stack only; check_url admits nothing else)."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST came to: `status` is delivered, retry, failed (given up) or blocked (unsafe URL)."""

    status: str
    http_status: int | None = None
    error: str | None = None


def _classify(code: int) -> str:
    if 200 <= code < 300:
        return "delivered"
    # 408, 425 and 429 ask to come back later, 5xx is the receiver's trouble: retry. Any other answer (4xx, or a
    # redirect, which is not followed) means the receiver refused this request; the identical signed bytes would
    # be refused again for 28 hours, so it is recorded as failed and can be redelivered once the receiver is fixed.
    if code in (408, 425, 429) or code >= 500:
        return "retry"
    return "failed"


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_loopback: bool = False,
    resolve: Resolver = system_resolver,
    timeout: float = TIMEOUT_SECONDS,
    context: ssl.SSLContext | None = None,
) -> Attempt:
    """POST one signed body, after checking the URL again; never raises for the receiver's failures."""
    try:
        target = check_url(url, allow_loopback=allow_loopback, resolve=resolve)
    except UnsafeUrlError as exc:
        return Attempt("blocked", error=str(exc))
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target, timeout, context or ssl.create_default_context())
    else:
        connection = _PinnedHTTPConnection(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # a little of the answer, so the connection closes cleanly; the rest is ignored
        code = response.status
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, TLS, timeout: try again later
        return Attempt("retry", error=f"{type(exc).__name__}: {exc}"[:300])
    finally:
        connection.close()
    return Attempt(_classify(code), http_status=code, error=None if 200 <= code < 300 else f"HTTP {code}")


def retry_delay(attempt: int, scale: float = 1.0) -> int:
    """Seconds before the next try after attempt number `attempt` (1-based) failed."""
    index = min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1
    return max(0, min(43200, int(BACKOFF_SECONDS[index] * scale)))
