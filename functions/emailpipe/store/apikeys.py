"""HTTP API keys `ep_<id>_<secret>`: only the SHA-256 is stored, looked up by id, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError

from emailpipe.domain.errors import InvalidInputError, NotFoundError
from emailpipe.store.models import ApiKeyItem
from emailpipe.store.repo import _is_conditional_failure

SCOPES = ("read", "write")
PREFIX = "ep_"
# last_used is written at most once a minute per key, so a burst of requests is not a burst of writes.
LAST_USED_RESOLUTION = 60.0


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's record (never the key itself)."""

    key_id: str
    name: str
    scope: str
    created_at: float
    last_used: float | None = None
    revoked_at: float | None = None

    @property
    def can_write(self) -> bool:
        """Whether the key may call writes (POST, PUT, PATCH, DELETE)."""
        return self.scope == "write"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _from(item: ApiKeyItem) -> ApiKey:
    return ApiKey(
        key_id=item.key_id,
        name=item.name,
        scope=item.scope,
        created_at=float(item.created_at),
        last_used=float(item.last_used) if item.last_used is not None else None,
        revoked_at=float(item.revoked_at) if item.revoked_at is not None else None,
    )


def create_key(name: str, scope: str = "write", now: float | None = None) -> tuple[ApiKey, str]:
    """A new key: its record and the key itself (shown once, never stored)."""
    if not name.strip():
        raise InvalidInputError("an API key needs a name", field="name")
    if scope not in SCOPES:
        raise InvalidInputError(f"scope is one of {', '.join(SCOPES)}", field="scope")
    now = time.time() if now is None else now
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    item = ApiKeyItem(
        pk=f"APIKEY#{key_id}",
        sk="KEY",
        entity="apikey",
        gsi1pk="APIKEYS",
        gsi1sk=key_id,
        key_id=key_id,
        name=name.strip(),
        scope=scope,
        key_hash=_hash(key),
        created_at=now,
    )
    item.save(condition=ApiKeyItem.pk.does_not_exist())
    return _from(item), key


def list_keys() -> list[ApiKey]:
    """Every key, revoked ones included."""
    return [_from(i) for i in ApiKeyItem.gsi1.query("APIKEYS")]


def revoke_key(key_id: str, now: float | None = None) -> ApiKey:
    """Revoke a key: it stops working at once."""
    item = ApiKeyItem(pk=f"APIKEY#{key_id}", sk="KEY")
    try:
        item.update(
            actions=[ApiKeyItem.revoked_at.set(time.time() if now is None else now)],
            condition=ApiKeyItem.pk.exists(),
        )
    except UpdateError as exc:
        if _is_conditional_failure(exc):
            raise NotFoundError(f"no API key {key_id}") from exc
        raise
    return _from(item)


def verify_key(key: str, now: float | None = None) -> ApiKey | None:
    """The record of a valid, unrevoked key, or None; records the key's use (at most once a minute)."""
    parts = key.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != PREFIX or not parts[1].isalnum():
        return None
    try:
        item = ApiKeyItem.get(f"APIKEY#{parts[1]}", "KEY")
    except ApiKeyItem.DoesNotExist:
        return None
    if not hmac.compare_digest(item.key_hash, _hash(key)) or item.revoked_at is not None:
        return None
    now = time.time() if now is None else now
    if item.last_used is None or now - float(item.last_used) >= LAST_USED_RESOLUTION:
        try:
            item.update(
                actions=[ApiKeyItem.last_used.set(now)],
                condition=ApiKeyItem.last_used.does_not_exist() | (ApiKeyItem.last_used < now - LAST_USED_RESOLUTION),
            )
        except UpdateError as exc:
            if not _is_conditional_failure(exc):  # another request recorded the use meanwhile
                raise
    return _from(item)
