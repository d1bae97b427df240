"""The mailbox secret: JSON settings of the IMAP or POP3 mailbox to poll, parsed and checked (pure)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_PORTS = {("imap", "ssl"): 993, ("imap", "starttls"): 143, ("pop3", "ssl"): 995, ("pop3", "starttls"): 110}
DEFAULT_BATCH_SIZE = 50
DEFAULT_MAX_BYTES = 40 * 1024 * 1024
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# An inbox address as the S3 metadata carries it: ASCII (S3 user metadata is), one @, no +tag.
_INBOX = re.compile(r"^[a-z0-9.!#$%&'*/=?^_`{|}~-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
# The S3 object metadata naming the inbox of a mailbox's copies (x-amz-meta-emailpipe-inbox on the wire; boto3
# gives it as Metadata["emailpipe-inbox"]): the inbound function treats mail addressed to no inbox as sent to it.
INBOX_METADATA = "emailpipe-inbox"


class MailboxConfigError(ValueError):
    """The mailbox secret is not valid JSON or names an impossible setting."""


MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
MICROSOFT_SCOPES = {"imap": "https://outlook.office365.com/.default", "pop3": "https://outlook.office365.com/.default"}
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
GOOGLE_SCOPE = "https://mail.google.com/"
MECHANISMS = ("oauthbearer", "xoauth2")


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    """How to obtain an OAuth 2.0 access token for the mailbox (the secret's `oauth` object).

    `flow` is one of: `client_secret` or `client_certificate` (Microsoft Entra ID, client credentials),
    `service_account` (Google, domain-wide delegation to the mailbox user), `refresh_token` (Google, one mailbox).
    """

    provider: str  # microsoft | google
    flow: str
    client_id: str = ""
    tenant_id: str = ""
    client_secret: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)  # PEM, with `thumbprint` (the certificate's SHA-1, hex)
    thumbprint: str = ""
    service_account: str = field(default="", repr=False)  # the key file's JSON text
    refresh_token: str = field(default="", repr=False)
    authority: str = MICROSOFT_AUTHORITY  # Microsoft: the cloud's login host (sovereign clouds differ)
    token_uri: str = GOOGLE_TOKEN_URI  # Google: where tokens are asked for
    scope: str = ""
    mechanism: str | None = None  # oauthbearer | xoauth2; None: the first of these the server offers
    ca_bundle: str | None = field(default=None, repr=False)  # PEM to trust for the token endpoint instead of public CAs

    @property
    def label(self) -> str:
        """What `emailpipe mailbox test` and the logs call this login (no secret in it)."""
        return {
            "client_secret": "Microsoft Entra ID client credentials (secret)",
            "client_certificate": "Microsoft Entra ID client credentials (certificate)",
            "service_account": "Google service account, domain-wide delegation",
            "refresh_token": "Google refresh token",
        }[self.flow]


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    """One mailbox to poll and how to mark what was copied."""

    protocol: str
    host: str
    port: int
    tls: str
    username: str
    password: str = field(repr=False)
    mailbox_id: str
    folder: str = "INBOX"
    mark: str = "flag"
    move_to: str | None = None
    delete_after_copy: bool = False
    start_date: float | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    max_bytes: int = DEFAULT_MAX_BYTES
    ca_bundle: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    inbox: str | None = None  # the inbox (address) this mailbox serves; None: the default inbox
    oauth: OAuthSettings | None = None  # log in with an OAuth 2.0 token (SASL) instead of the password

    @property
    def object_metadata(self) -> dict[str, str]:
        """The S3 metadata of every copy from this mailbox: the inbox it serves, when it names one."""
        return {INBOX_METADATA: self.inbox} if self.inbox else {}


def _start(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise MailboxConfigError(f"start_date is not an ISO date or time: {value!r}") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def mailbox_id_for(protocol: str, host: str, username: str, folder: str) -> str:
    """A stable id of a mailbox that names no address (it appears in S3 keys, table keys and logs)."""
    identity = "|".join((protocol, host.lower(), username.lower(), folder))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


def parse_settings(text: str) -> MailboxSettings:
    """Settings from the secret's JSON, naming every problem at once."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MailboxConfigError("the mailbox secret is not JSON") from exc
    if not isinstance(data, dict):
        raise MailboxConfigError("the mailbox secret is not a JSON object")
    problems: list[str] = []
    protocol = str(data.get("protocol", "imap")).lower()
    tls = str(data.get("tls", "ssl")).lower()
    mark = str(data.get("mark", "flag")).lower()
    if protocol not in ("imap", "pop3"):
        problems.append("protocol must be imap or pop3")
    if tls not in ("ssl", "starttls"):
        problems.append("tls must be ssl or starttls (plain-text connections are not offered)")
    if mark not in ("flag", "move"):
        problems.append("mark must be flag or move")
    if mark == "move" and protocol == "imap" and not data.get("move_to"):
        problems.append("mark=move needs move_to")
    problems += [f"{name} is required" for name in ("host", "username") if not data.get(name)]
    oauth = None
    if data.get("oauth") is not None:
        if data.get("password"):
            problems.append("give either password or oauth, not both")
        try:
            oauth = _oauth(data["oauth"], protocol)
        except MailboxConfigError as exc:
            problems.append(str(exc))
    elif not data.get("password"):
        problems.append("password is required (or oauth, for an OAuth 2.0 login)")
    mailbox_id = str(data.get("id") or "")
    if mailbox_id and not _ID.match(mailbox_id):
        problems.append("id may hold only letters, digits, - and _ (at most 64)")
    try:
        port = int(data.get("port") or DEFAULT_PORTS.get((protocol, tls), 0))
        batch_size = int(data.get("batch_size") or DEFAULT_BATCH_SIZE)
        max_bytes = int(data.get("max_bytes") or DEFAULT_MAX_BYTES)
        timeout = float(data.get("timeout") or 30.0)
    except (TypeError, ValueError):
        problems.append("port, batch_size, max_bytes and timeout must be numbers")
        port, batch_size, max_bytes, timeout = 0, 1, 1, 1.0
    if batch_size < 1 or max_bytes < 1 or timeout <= 0:
        problems.append("batch_size, max_bytes and timeout must be positive")
    try:
        start_date = _start(data.get("start_date"))
    except MailboxConfigError as exc:
        problems.append(str(exc))
        start_date = None
    inbox = str(data.get("inbox") or "").strip().lower() or None
    if inbox is not None and not _INBOX.match(inbox):
        problems.append("inbox must be an inbox's address (ASCII, without a +tag)")
    if problems:
        raise MailboxConfigError("; ".join(problems))
    host, username, folder = str(data["host"]).strip(), str(data["username"]), str(data.get("folder") or "INBOX")
    return MailboxSettings(
        protocol=protocol,
        host=host,
        port=port,
        tls=tls,
        username=username,
        password=str(data.get("password") or ""),
        mailbox_id=mailbox_id or mailbox_id_for(protocol, host, username, folder),
        folder=folder,
        mark=mark,
        move_to=str(data["move_to"]) if data.get("move_to") else None,
        delete_after_copy=bool(data.get("delete_after_copy", False)),
        start_date=start_date,
        batch_size=batch_size,
        max_bytes=max_bytes,
        ca_bundle=str(data["ca_bundle"]) if data.get("ca_bundle") else None,
        timeout=timeout,
        inbox=inbox,
        oauth=oauth,
    )


def _oauth(value: Any, protocol: str) -> OAuthSettings:
    """The `oauth` object, every problem named at once (never a secret's value)."""
    if not isinstance(value, dict):
        raise MailboxConfigError("oauth must be a JSON object")
    problems: list[str] = []
    provider = str(value.get("provider") or "").lower()
    mechanism = str(value.get("mechanism") or "").lower() or None
    if mechanism is not None and mechanism not in MECHANISMS:
        problems.append("oauth.mechanism must be oauthbearer or xoauth2")

    def text(name: str) -> str:
        item = value.get(name)
        return item.strip() if isinstance(item, str) else ""

    def required(*names: str) -> None:
        problems.extend(f"oauth.{name} is required" for name in names if not text(name))

    common: dict[str, Any] = {"mechanism": mechanism, "ca_bundle": text("ca_bundle") or None}
    if provider == "microsoft":
        required("tenant_id", "client_id")
        if text("client_secret") and (text("private_key") or text("thumbprint")):
            problems.append("oauth: give client_secret or private_key with thumbprint, not both")
        elif not text("client_secret") and not (text("private_key") and text("thumbprint")):
            problems.append("oauth: Microsoft needs client_secret, or private_key (PEM) with thumbprint")
        authority = (text("authority") or MICROSOFT_AUTHORITY).rstrip("/")
        if not authority.startswith("https://"):
            problems.append("oauth.authority must be an https URL")
        if problems:
            raise MailboxConfigError("; ".join(problems))
        return OAuthSettings(
            provider="microsoft",
            flow="client_secret" if text("client_secret") else "client_certificate",
            tenant_id=text("tenant_id"),
            client_id=text("client_id"),
            client_secret=text("client_secret"),
            private_key=text("private_key"),
            thumbprint=text("thumbprint").replace(":", "").upper(),
            authority=authority,
            scope=text("scope") or MICROSOFT_SCOPES[protocol if protocol in MICROSOFT_SCOPES else "imap"],
            **common,
        )
    if provider == "google":
        account = value.get("service_account")
        if account is not None:
            if text("refresh_token"):
                problems.append("oauth: give service_account or refresh_token, not both")
            info = account if isinstance(account, dict) else None
            if isinstance(account, str):
                try:
                    info = json.loads(account)
                except ValueError:
                    info = None
            if not isinstance(info, dict) or not all(info.get(k) for k in ("client_email", "private_key")):
                problems.append("oauth.service_account must be the key file's JSON (client_email, private_key)")
                info = {}
            token_uri = str(info.get("token_uri") or text("token_uri") or GOOGLE_TOKEN_URI)
            flow, extra = "service_account", {"service_account": json.dumps(info)}
        else:
            required("client_id", "client_secret", "refresh_token")
            token_uri = text("token_uri") or GOOGLE_TOKEN_URI
            flow = "refresh_token"
            extra = {k: text(k) for k in ("client_id", "client_secret", "refresh_token")}
        if not token_uri.startswith("https://"):
            problems.append("oauth.token_uri must be an https URL")
        if problems:
            raise MailboxConfigError("; ".join(problems))
        return OAuthSettings(
            provider="google", flow=flow, token_uri=token_uri, scope=text("scope") or GOOGLE_SCOPE, **extra, **common
        )
    raise MailboxConfigError("oauth.provider must be microsoft or google")
