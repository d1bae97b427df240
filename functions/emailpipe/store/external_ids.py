"""A chat product's ids mapped onto emailpipe's, and the records that make posting into it happen once.

| entity           | pk                                  | sk           | what                                     |
|------------------|-------------------------------------|--------------|------------------------------------------|
| external_link    | EXT#<system>#<kind>#<external id>   | LINK         | external id -> emailpipe id (+ role)     |
| external_link    | EXTR#<system>#<kind>#<emailpipe id> | LINK         | emailpipe id -> external id              |
| external_claim   | EXTOUT#<system>#<message id>        | CLAIM        | the one post of a message (posting/ed)   |
| external_pending | EXTPEND#<system>#<conv>#<sender>    | MSG#<msg id> | a post under way: its echo is recognised |
| external_hook    | EXTHOOK#<system>#<body sha256>      | RECEIVED     | a received webhook and its outcome       |

Received webhooks are also in gsi1 (`EXTHOOK#<system>`, received time).

Kinds: user (SB user or agent id -> email), department (id -> name), conversation, message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from emailpipe.store import repo
from emailpipe.store.models import IndexedItem, Item

_HOOK_RETENTION_SECONDS = 30 * 24 * 3600
_PENDING_RETENTION_SECONDS = 24 * 3600


class LinkItem(Item):
    """One direction of an external id mapping."""

    target = UnicodeAttribute()
    role = UnicodeAttribute(null=True)
    synced_at = NumberAttribute(default=0)


class ClaimItem(Item):
    """The one post of an emailpipe message into the chat product."""

    status = UnicodeAttribute()
    claimed_at = NumberAttribute()
    first_claimed_at = NumberAttribute()
    attempts = NumberAttribute(default=1)
    external_conversation = UnicodeAttribute()
    external_sender = UnicodeAttribute()
    external_message = UnicodeAttribute(null=True)
    posted_at = NumberAttribute(null=True)


class PendingPostItem(Item):
    """A post under way, so that the chat product's webhook for it (its echo) is recognised."""

    message_id = UnicodeAttribute()
    text_hash = UnicodeAttribute()
    created_at = NumberAttribute()
    consumed_by = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()


class HookItem(IndexedItem):
    """A received webhook (its body without the key) and what became of it."""

    function = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    received_at = NumberAttribute()
    updated_at = NumberAttribute()
    attempts = NumberAttribute(default=1)
    body = UnicodeAttribute(null=True)
    result: MapAttribute[str, Any] = MapAttribute(default=dict)
    expires_at = NumberAttribute()


_MODELS = (LinkItem, ClaimItem, PendingPostItem, HookItem)


def _bind() -> None:
    repo.share_connection(_MODELS)


_conditional = repo._is_conditional_failure
_iso = repo._iso


# ---------------------------------------------------------------- links


@dataclass(frozen=True, slots=True)
class Link:
    """An external id and the emailpipe id it stands for."""

    kind: str
    external_id: str
    target: str
    role: str | None = None
    synced_at: float = 0.0


def _forward(system: str, kind: str, external_id: str) -> str:
    return f"EXT#{system}#{kind}#{external_id}"


def _reverse(system: str, kind: str, target: str) -> str:
    return f"EXTR#{system}#{kind}#{target}"


def get_link(system: str, kind: str, external_id: str) -> Link | None:
    """What an external id maps to, or None."""
    _bind()
    try:
        item = LinkItem.get(_forward(system, kind, external_id), "LINK", consistent_read=True)
    except LinkItem.DoesNotExist:
        return None
    return Link(kind, external_id, item.target, item.role, float(item.synced_at or 0))


def external_for(system: str, kind: str, target: str) -> str | None:
    """The external id of an emailpipe id (a person's email, a conversation id), or None."""
    _bind()
    try:
        return LinkItem.get(_reverse(system, kind, target), "LINK", consistent_read=True).target
    except LinkItem.DoesNotExist:
        return None


def link_once(system: str, kind: str, external_id: str, target: str, now: float | None = None) -> Link:
    """Map `external_id` -> `target` (and back) unless it is mapped already; the mapping in force (first wins)."""
    _bind()
    now = time.time() if now is None else now
    forward = LinkItem(pk=_forward(system, kind, external_id), sk="LINK", entity="external_link", target=target)
    forward.synced_at = now
    reverse = LinkItem(pk=_reverse(system, kind, target), sk="LINK", entity="external_link", target=external_id)
    reverse.synced_at = now
    try:
        with TransactWrite(connection=LinkItem._get_connection().connection) as transaction:
            transaction.save(forward, condition=LinkItem.pk.does_not_exist())
            transaction.save(reverse, condition=LinkItem.pk.does_not_exist() | (LinkItem.target == external_id))
    except TransactWriteError as exc:
        if not _conditional(exc):
            raise
        existing = get_link(system, kind, external_id)
        if existing is not None:
            return existing
        # The emailpipe id is mapped to another external id already; keep the forward direction only.
        forward.save(condition=LinkItem.pk.does_not_exist())
    return Link(kind, external_id, target, None, now)


def link(
    system: str, kind: str, external_id: str, target: str, role: str | None = None, now: float | None = None
) -> None:
    """Map (or re-map, after a refresh) `external_id` -> `target` and back."""
    _bind()
    now = time.time() if now is None else now
    with TransactWrite(connection=LinkItem._get_connection().connection) as transaction:
        item = LinkItem(pk=_forward(system, kind, external_id), sk="LINK", entity="external_link", target=target)
        item.role = role
        item.synced_at = now
        transaction.save(item)
        back = LinkItem(pk=_reverse(system, kind, target), sk="LINK", entity="external_link", target=external_id)
        back.role = role
        back.synced_at = now
        transaction.save(back)


# ---------------------------------------------------------------- posting once


@dataclass(frozen=True, slots=True)
class Claim:
    """The state of an emailpipe message's post into the chat product."""

    message_id: str
    status: str  # posting | posted
    claimed_at: float
    first_claimed_at: float
    attempts: int
    external_conversation: str
    external_sender: str
    external_message: str | None = None

    @property
    def done(self) -> bool:
        """Posted, or known to be in the chat product already (its echo was seen)."""
        return self.status == "posted" or self.external_message is not None


def _claim_from(message_id: str, item: ClaimItem) -> Claim:
    return Claim(
        message_id=message_id,
        status=item.status,
        claimed_at=float(item.claimed_at),
        first_claimed_at=float(item.first_claimed_at),
        attempts=int(item.attempts or 1),
        external_conversation=item.external_conversation,
        external_sender=item.external_sender,
        external_message=item.external_message,
    )


def get_claim(system: str, message_id: str) -> Claim | None:
    """The post of `message_id`, or None when it was never claimed."""
    _bind()
    try:
        return _claim_from(message_id, ClaimItem.get(f"EXTOUT#{system}#{message_id}", "CLAIM", consistent_read=True))
    except ClaimItem.DoesNotExist:
        return None


def begin_post(
    system: str,
    message_id: str,
    conversation: str,
    sender: str,
    text_hash: str,
    now: float,
    lease_seconds: float,
) -> tuple[bool, Claim]:
    """Claim the post of `message_id` and note it as under way; (True, claim) when this caller must post it.

    One transaction: the claim (new, or taken over from an attempt whose lease ran out and which recorded no
    external message) and the pending-post record the echo is recognised by. (False, claim) when the message was
    posted, or another attempt holds a live lease.
    """
    _bind()
    existing = get_claim(system, message_id)
    if existing is not None and (existing.done or existing.claimed_at >= now - lease_seconds):
        return False, existing
    attempts = 1 if existing is None else existing.attempts + 1
    first = now if existing is None else existing.first_claimed_at
    claim = ClaimItem(
        pk=f"EXTOUT#{system}#{message_id}",
        sk="CLAIM",
        entity="external_claim",
        status="posting",
        claimed_at=now,
        first_claimed_at=first,
        attempts=attempts,
        external_conversation=conversation,
        external_sender=sender,
    )
    if existing is None:
        condition = ClaimItem.pk.does_not_exist()
    else:
        condition = (
            (ClaimItem.status == "posting")
            & ClaimItem.external_message.does_not_exist()
            & (ClaimItem.claimed_at == existing.claimed_at)
            & (ClaimItem.claimed_at < now - lease_seconds)
        )
    pending = PendingPostItem(
        pk=f"EXTPEND#{system}#{conversation}#{sender}",
        sk=f"MSG#{message_id}",
        entity="external_pending",
        message_id=message_id,
        text_hash=text_hash,
        created_at=now,
        expires_at=int(now + _PENDING_RETENTION_SECONDS),
    )
    try:
        with TransactWrite(connection=ClaimItem._get_connection().connection) as transaction:
            transaction.save(claim, condition=condition)
            transaction.save(pending)
    except TransactWriteError as exc:
        if not _conditional(exc):
            raise
        current = get_claim(system, message_id)
        assert current is not None  # noqa: S101 - a failed condition means the claim exists
        return False, current
    return True, _claim_from(message_id, claim)


def finish_post(system: str, claim: Claim, external_message: str, now: float) -> None:
    """Record the external id of a posted message: on its claim, as a message link, and end the pending post."""
    _bind()
    link_once(system, "message", external_message, claim.message_id, now)
    ClaimItem(pk=f"EXTOUT#{system}#{claim.message_id}", sk="CLAIM").update(
        actions=[
            ClaimItem.status.set("posted"),
            ClaimItem.external_message.set(external_message),
            ClaimItem.posted_at.set(now),
        ]
    )
    PendingPostItem(
        pk=f"EXTPEND#{system}#{claim.external_conversation}#{claim.external_sender}", sk=f"MSG#{claim.message_id}"
    ).delete()


def match_echo(
    system: str, conversation: str, sender: str, text_hash: str, external_message: str, now: float, window: float
) -> str | None:
    """The emailpipe message whose post into `conversation` as `sender` this external message is, or None.

    Looks at posts under way in that conversation by that sender, started within `window` seconds: the one with
    the same text first, else the oldest (the chat product may rewrite a text, e.g. a spelling fix). The match is
    consumed (conditional write), linked, and noted on the claim, so a retry of the post knows it is done.
    """
    _bind()
    pk = f"EXTPEND#{system}#{conversation}#{sender}"
    candidates = [
        p
        for p in PendingPostItem.query(pk, PendingPostItem.sk.startswith("MSG#"), consistent_read=True)
        if p.consumed_by is None and now - float(p.created_at) <= window
    ]
    candidates.sort(key=lambda p: (p.text_hash != text_hash, float(p.created_at)))
    for pending in candidates:
        try:
            pending.update(
                actions=[PendingPostItem.consumed_by.set(external_message)],
                condition=PendingPostItem.consumed_by.does_not_exist(),
            )
        except UpdateError as exc:
            if _conditional(exc):
                continue  # consumed by a concurrent echo
            raise
        link_once(system, "message", external_message, pending.message_id, now)
        try:
            ClaimItem(pk=f"EXTOUT#{system}#{pending.message_id}", sk="CLAIM").update(
                actions=[ClaimItem.external_message.set(external_message)],
                condition=ClaimItem.pk.exists() & ClaimItem.external_message.does_not_exist(),
            )
        except UpdateError as exc:
            if not _conditional(exc):
                raise
        return pending.message_id
    return None


# ---------------------------------------------------------------- received webhooks


@dataclass(frozen=True, slots=True)
class Hook:
    """A received webhook and its outcome."""

    body_sha256: str
    function: str
    status: str  # received | processed | ignored | invalid | failed
    reason: str | None
    received_at: float
    attempts: int
    body: str | None
    result: dict[str, str]


def _hook_from(item: HookItem) -> Hook:
    return Hook(
        body_sha256=item.pk.rsplit("#", 1)[-1],
        function=item.function,
        status=item.status,
        reason=item.reason,
        received_at=float(item.received_at),
        attempts=int(item.attempts or 1),
        body=item.body,
        result=dict(item.result.as_dict() if item.result else {}),
    )


def record_hook(system: str, body_sha256: str, function: str, body: str, now: float) -> Hook:
    """Keep a webhook as received, before acting on it (Support Board sends each one once and never again)."""
    _bind()
    item = HookItem(
        pk=f"EXTHOOK#{system}#{body_sha256}",
        sk="RECEIVED",
        entity="external_hook",
        gsi1pk=f"EXTHOOK#{system}",
        gsi1sk=_iso(now),
        function=function[:100],
        status="received",
        received_at=now,
        updated_at=now,
        body=body,
        expires_at=int(now + _HOOK_RETENTION_SECONDS),
    )
    try:
        item.save(condition=HookItem.pk.does_not_exist())
    except PutError as exc:
        if not _conditional(exc):
            raise
        existing = HookItem.get(item.pk, "RECEIVED", consistent_read=True)
        existing.update(actions=[HookItem.attempts.add(1), HookItem.updated_at.set(now)])
        return _hook_from(existing)
    return _hook_from(item)


def finish_hook(
    system: str, body_sha256: str, status: str, reason: str | None, now: float, result: dict[str, str] | None = None
) -> None:
    """Record what became of a webhook; the body is kept only while it may have to be processed again."""
    _bind()
    actions: list[Action] = [
        HookItem.status.set(status),
        HookItem.updated_at.set(now),
        HookItem.result.set(result or {}),
    ]
    actions.append(HookItem.reason.set(reason) if reason else HookItem.reason.remove())
    if status in ("processed", "ignored"):
        actions.append(HookItem.body.remove())
    HookItem(pk=f"EXTHOOK#{system}#{body_sha256}", sk="RECEIVED").update(actions=actions)


def get_hook(system: str, body_sha256: str) -> Hook | None:
    """A received webhook, or None."""
    _bind()
    try:
        return _hook_from(HookItem.get(f"EXTHOOK#{system}#{body_sha256}", "RECEIVED", consistent_read=True))
    except HookItem.DoesNotExist:
        return None


def list_hooks(system: str, since: float = 0.0) -> list[Hook]:
    """Webhooks received at or after `since`, oldest first."""
    _bind()
    items = HookItem.gsi1.query(f"EXTHOOK#{system}", HookItem.gsi1sk >= _iso(since))
    return [_hook_from(item) for item in items]
