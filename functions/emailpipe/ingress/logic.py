"""Mailbox ingress: copy the new messages of one IMAP or POP3 mailbox into the inbound prefix, exactly once.

Per message: (1) claim its state item ("copying"), (2) put the raw bytes at a key derived from its identity,
(3) record "copied", (4) mark it handled on the server, (5) record "done". A run dying anywhere replays from
the recorded step: before (3) the same bytes go to the same key again (the inbound function stores one
message per key); after (3) only the mark is repeated. A lease per mailbox keeps overlapping runs apart.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypedDict

from emailpipe.ingress.settings import MailboxSettings

FINAL = ("done", "skipped", "failed")
RETRY = ("error",)
MAX_ATTEMPTS = 5
# Stop taking new messages this long before the deadline: a 40 MB fetch and put takes seconds.
_DEADLINE_MARGIN_SECONDS = 15.0


class MailboxError(Exception):
    """The mailbox cannot be used this run: auth_failed, tls_failed, unreachable, folder_missing, ..."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class MessageError(Exception):
    """One message cannot be fetched or marked now; the others continue."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Listed:
    """A message the server lists as new: its state key and (IMAP) UID, in server order."""

    key: str
    uid: int = 0


@dataclass(frozen=True, slots=True)
class RemoteMessage:
    """A listed message with what is known before fetching it."""

    key: str
    name: str  # the last part of its S3 key: "<uidvalidity>-<uid>" or "pop3-<uidl>"
    ref: str  # how this session addresses it: the IMAP UID or the POP3 message number
    size: int
    received_at: float | None = None
    uid: int = 0


class MailboxClient(Protocol):
    """A logged-in session on one mailbox folder (ingress/mailbox.py)."""

    uidvalidity: str
    state_prefix: str
    lists_handled: bool  # True when messages marked handled still appear in list_new (POP3 without delete)

    def list_new(self, after_uid: int, since: float | None) -> list[Listed]:
        """Messages not yet handled on the server, oldest first."""
        ...

    def describe(self, listed: Sequence[Listed]) -> list[RemoteMessage]:
        """Sizes (and arrival times) of some listed messages."""
        ...

    def fetch(self, message: RemoteMessage) -> bytes:
        """The message's bytes, exactly as stored on the server."""
        ...

    def mark_handled(self, message: RemoteMessage) -> None:
        """Flag, move or delete the message as the settings say."""
        ...

    def close(self) -> None:
        """Log out (POP3: commits the deletions)."""
        ...


class _Status(Protocol):
    @property
    def uidvalidity(self) -> str | None: ...
    @property
    def last_uid(self) -> int: ...


class _MessageState(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def attempts(self) -> int: ...


class StateStore(Protocol):
    """Where progress is kept: the module store/mailbox_state.py."""

    def acquire_lease(self, mailbox_id: str, owner: str, now: float, seconds: float) -> bool: ...
    def release_lease(self, mailbox_id: str, owner: str) -> None: ...
    def get_status(self, mailbox_id: str) -> _Status | None: ...
    def record_run(
        self,
        mailbox_id: str,
        now: float,
        *,
        error: str | None = None,
        detail: str | None = None,
        uidvalidity: str | None = None,
        last_uid: int | None = None,
        copied: int = 0,
        skipped: int = 0,
        failed: int = 0,
        pending: int = 0,
    ) -> None: ...
    def message_states(self, mailbox_id: str, prefix: str, start: str = "") -> Mapping[str, _MessageState]: ...
    def claim_message(
        self, mailbox_id: str, key: str, now: float, stale_after: float, retry_statuses: tuple[str, ...]
    ) -> bool: ...
    def set_message(
        self,
        mailbox_id: str,
        key: str,
        status: str,
        now: float,
        *,
        s3_key: str | None = None,
        reason: str | None = None,
        size: int | None = None,
    ) -> None: ...
    def record_skipped(self, mailbox_id: str, key: str, reason: str, now: float, size: int | None = None) -> bool: ...


class _Progress(TypedDict, total=False):
    uidvalidity: str
    last_uid: int


@dataclass
class PollResult:
    """What one run did; `problems` holds one reason per error metric to emit."""

    mailbox_id: str
    status: str = "ok"  # ok | busy | error
    error: str | None = None
    detail: str = ""
    copied: int = 0
    skipped: int = 0
    failed: int = 0
    pending: int = 0
    problems: list[str] = field(default_factory=list)
    copied_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Inspection:
    """What `emailpipe mailbox test` reports: the folder's identity and how many messages wait."""

    uidvalidity: str
    listed: int
    new: int


def object_key(inbound_prefix: str, mailbox_id: str, message: RemoteMessage) -> str:
    """Where a message's bytes go: fixed by its identity, so a replayed copy overwrites the same object."""
    return f"{inbound_prefix}mailbox/{mailbox_id}/{message.name}"


def poll_mailbox(
    settings: MailboxSettings,
    *,
    connect: Callable[[], MailboxClient],
    store_raw: Callable[[str, bytes], None],
    state: StateStore,
    clock: Callable[[], float],
    inbound_prefix: str,
    lease_seconds: float = 900.0,
    remaining: Callable[[], float] | None = None,
) -> PollResult:
    """Copy the mailbox's new messages (at most a batch) and record the run; never raises for a mailbox problem."""
    mailbox_id = settings.mailbox_id
    owner = uuid.uuid4().hex
    if not state.acquire_lease(mailbox_id, owner, clock(), lease_seconds):
        return PollResult(mailbox_id, status="busy")
    try:
        return _poll_leased(settings, connect, store_raw, state, clock, inbound_prefix, lease_seconds, remaining)
    finally:
        state.release_lease(mailbox_id, owner)


def _poll_leased(
    settings: MailboxSettings,
    connect: Callable[[], MailboxClient],
    store_raw: Callable[[str, bytes], None],
    state: StateStore,
    clock: Callable[[], float],
    inbound_prefix: str,
    lease_seconds: float,
    remaining: Callable[[], float] | None,
) -> PollResult:
    result = PollResult(settings.mailbox_id)
    status = state.get_status(settings.mailbox_id)
    progress: _Progress = {}
    try:
        client = connect()
    except MailboxError as exc:
        return _record(state, result, clock(), exc, progress)
    try:
        run = _Run(settings, client, store_raw, state, clock, inbound_prefix, lease_seconds, remaining, result)
        progress = run.copy_new(status)
    except MailboxError as exc:
        return _record(state, result, clock(), exc, progress)
    except Exception as exc:
        # S3 or DynamoDB failing mid-run: recorded (items stay "copying" and are reclaimed after the lease),
        # reported by metric, and the scheduled function returns; the next run retries.
        return _record(state, result, clock(), MailboxError("internal_error", type(exc).__name__), progress)
    finally:
        _close_quietly(client)
    return _record(state, result, clock(), None, progress)


def _close_quietly(client: MailboxClient) -> None:
    # A failed POP3 QUIT rolls the deletions back; the next run deletes those messages again (lists_handled).
    with contextlib.suppress(MailboxError, OSError):
        client.close()


def _record(
    state: StateStore, result: PollResult, now: float, error: MailboxError | None, progress: _Progress
) -> PollResult:
    if error is not None:
        result.status, result.error, result.detail = "error", error.reason, error.detail
        result.problems.append(error.reason)
    state.record_run(
        result.mailbox_id,
        now,
        error=result.error,
        detail=result.detail or None,
        copied=result.copied,
        skipped=result.skipped,
        failed=result.failed,
        pending=result.pending,
        uidvalidity=progress.get("uidvalidity"),
        last_uid=progress.get("last_uid"),
    )
    return result


def inspect_mailbox(settings: MailboxSettings, client: MailboxClient, state: StateStore) -> Inspection:
    """Count the messages the next runs would copy (what `emailpipe mailbox test` prints)."""
    status = state.get_status(settings.mailbox_id)
    after = _high_water_mark(status, client)
    listed = client.list_new(after, settings.start_date)
    known = state.message_states(settings.mailbox_id, client.state_prefix, _start_key(after, client))
    new = [item for item in listed if item.key not in known or known[item.key].status not in FINAL]
    return Inspection(uidvalidity=client.uidvalidity, listed=len(listed), new=len(new))


def _high_water_mark(status: _Status | None, client: MailboxClient) -> int:
    # UIDs mean nothing under another UIDVALIDITY (the folder was rebuilt): start over from the start date;
    # the server-side mark (keyword or move) keeps handled messages out of the listing.
    if status is None or status.uidvalidity != client.uidvalidity:
        return 0
    return status.last_uid


def _start_key(after_uid: int, client: MailboxClient) -> str:
    return f"{after_uid + 1:010d}" if client.uidvalidity else ""


@dataclass
class _Run:
    settings: MailboxSettings
    client: MailboxClient
    store_raw: Callable[[str, bytes], None]
    state: StateStore
    clock: Callable[[], float]
    inbound_prefix: str
    lease_seconds: float
    remaining: Callable[[], float] | None
    result: PollResult
    # Final statuses reached in this run, by key (for the pending count and the high-water mark).
    finals: dict[str, str] = field(default_factory=dict)

    def copy_new(self, status: _Status | None) -> _Progress:
        """Copy up to a batch of new messages; returns the progress to record (UIDVALIDITY, high-water mark)."""
        client, settings = self.client, self.settings
        after = _high_water_mark(status, client)
        if status is not None and status.uidvalidity and status.uidvalidity != client.uidvalidity:
            self.result.problems.append("uidvalidity_changed")
        listed = client.list_new(after, settings.start_date)
        known = dict(self.state.message_states(settings.mailbox_id, client.state_prefix, _start_key(after, client)))
        todo = [item for item in listed if _needs_work(known.get(item.key), client.lists_handled)]
        budget = settings.batch_size
        position = 0
        while position < len(todo) and budget > 0 and not self._out_of_time():
            chunk = todo[position : position + budget]
            position += len(chunk)
            for message in client.describe(chunk):
                if self._out_of_time():
                    break
                budget -= self._one(message, known.get(message.key))
        self.result.pending = sum(1 for item in todo if _needs_work(self._state_after(item, known), True))
        if not client.uidvalidity:
            return {}
        return {"uidvalidity": client.uidvalidity, "last_uid": self._new_high_water_mark(after, listed, known)}

    def _out_of_time(self) -> bool:
        return self.remaining is not None and self.remaining() < _DEADLINE_MARGIN_SECONDS

    def _one(self, message: RemoteMessage, known: _MessageState | None) -> int:
        """Handle one message; returns how much of the batch it used (0 for a quick skip)."""
        mailbox_id, settings, now = self.settings.mailbox_id, self.settings, self.clock()
        # "copied" (a run died before the mark) and "done" (the mark did not stick) only need the mark again.
        if known is None or known.status not in ("copied", "done"):
            if settings.start_date and message.received_at and message.received_at < settings.start_date:
                self.state.record_skipped(mailbox_id, message.key, "before_start", now, message.size)
                self.finals[message.key] = "skipped"
                return 0
            if message.size > settings.max_bytes:
                # Left on the server for a person to deal with; recorded once so no run tries it again.
                if self.state.record_skipped(mailbox_id, message.key, "too_large", now, message.size):
                    self.result.skipped += 1
                    self.result.problems.append("too_large")
                self.finals[message.key] = "skipped"
                return 1
            if known is not None and known.attempts >= MAX_ATTEMPTS:
                self.state.set_message(mailbox_id, message.key, "failed", now, reason="too_many_attempts")
                self._fail("message_failed", message.key)
                return 1
            if not self.state.claim_message(mailbox_id, message.key, now, self.lease_seconds, RETRY):
                return 0
            if not self._copy(message):
                return 1
        try:
            self.client.mark_handled(message)
        except MessageError as exc:
            # Copied but not marked: stays "copied", and the next run only repeats the mark.
            self.state.set_message(mailbox_id, message.key, "copied", self.clock(), reason=exc.reason)
            self.result.problems.append(exc.reason)
            return 1
        self.state.set_message(mailbox_id, message.key, "done", self.clock())
        self.finals[message.key] = "done"
        return 1

    def _copy(self, message: RemoteMessage) -> bool:
        mailbox_id, now = self.settings.mailbox_id, self.clock()
        try:
            raw = self.client.fetch(message)
        except MessageError as exc:
            self.state.set_message(mailbox_id, message.key, "error", now, reason=exc.reason)
            self.result.problems.append(exc.reason)
            return False
        if len(raw) > self.settings.max_bytes:
            # The server understated the size; same outcome as an honest oversize message.
            self.state.set_message(mailbox_id, message.key, "skipped", now, reason="too_large", size=len(raw))
            self.result.skipped += 1
            self.result.problems.append("too_large")
            self.finals[message.key] = "skipped"
            return False
        key = object_key(self.inbound_prefix, mailbox_id, message)
        self.store_raw(key, raw)
        self.state.set_message(mailbox_id, message.key, "copied", self.clock(), s3_key=key, size=len(raw))
        self.result.copied += 1
        self.result.copied_keys.append(key)
        return True

    def _fail(self, reason: str, key: str) -> None:
        self.result.failed += 1
        self.result.problems.append(reason)
        self.finals[key] = "failed"

    def _state_after(self, item: Listed, known: Mapping[str, _MessageState]) -> _MessageState | None:
        if item.key in self.finals:
            return _Final(self.finals[item.key])
        return known.get(item.key)

    def _new_high_water_mark(self, after: int, listed: list[Listed], known: Mapping[str, _MessageState]) -> int:
        # Advance over the leading run of finished messages only: one still waiting keeps every later UID in
        # the next listing, so nothing behind it can be passed over.
        mark = after
        for item in listed:
            current = self._state_after(item, known)
            if current is None or current.status not in FINAL:
                break
            mark = max(mark, item.uid)
        return mark


@dataclass(frozen=True, slots=True)
class _Final:
    status: str
    attempts: int = 0


def _needs_work(known: _MessageState | None, lists_handled: bool) -> bool:
    if known is None or known.status not in FINAL:
        return True
    # A "done" message the server still lists lost its mark (a POP3 session that died before QUIT): mark again.
    return known.status == "done" and not lists_handled
