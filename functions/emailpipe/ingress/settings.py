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
    problems += [f"{name} is required" for name in ("host", "username", "password") if not data.get(name)]
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
        password=str(data["password"]),
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
    )
