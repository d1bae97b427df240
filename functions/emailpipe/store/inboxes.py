"""The extra inboxes, kept as a JSON list in the settings item: an email reads them with the settings, at no cost.

Every change is a read-modify-write of that one attribute, guarded by `inboxes_version`: a write conditioned on
the version it read, retried from a fresh read when another change came first. Settings writes (repo.put_settings)
touch only Settings.KEYS, so neither side clobbers the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict

from pynamodb.exceptions import UpdateError

from emailpipe.domain.errors import AlreadyExistsError, EmailpipeError, NotFoundError
from emailpipe.domain.inboxes import Inbox
from emailpipe.store import repo
from emailpipe.store.models import SettingsItem
from emailpipe.store.repo import _is_conditional_failure, inboxes_from_json

_PK, _SK = "SETTINGS", "GLOBAL"
# Concurrent changes are rare (an admin's command); a few fresh reads settle them.
MAX_ATTEMPTS = 8


class ConcurrentChangeError(EmailpipeError):
    """The inboxes kept changing under every attempt (never expected outside a storm of writes)."""


def _read() -> tuple[tuple[Inbox, ...], int | None]:
    try:
        item = SettingsItem.get(_PK, _SK, consistent_read=True, attributes_to_get=["inboxes", "inboxes_version"])
    except SettingsItem.DoesNotExist:
        return (), None
    version = item.inboxes_version
    return inboxes_from_json(item.inboxes), None if version is None else int(version)


def list_inboxes() -> tuple[Inbox, ...]:
    """The stored inboxes, in the order they were added (the default inbox is not stored unless changed)."""
    return _read()[0]


def _write(inboxes: list[Inbox], version: int | None) -> bool:
    repo.forget_settings()
    condition = (
        SettingsItem.inboxes_version.does_not_exist() if version is None else SettingsItem.inboxes_version == version
    )
    try:
        SettingsItem(pk=_PK, sk=_SK).update(
            actions=[
                SettingsItem.entity.set("settings"),
                SettingsItem.inboxes.set(json.dumps([asdict(inbox) for inbox in inboxes], separators=(",", ":"))),
                SettingsItem.inboxes_version.set((version or 0) + 1),
            ],
            condition=condition,
        )
    except UpdateError as exc:
        if _is_conditional_failure(exc):
            return False
        raise
    return True


def _change(apply: Callable[[list[Inbox]], list[Inbox] | None]) -> bool:
    """Apply `apply` to the current list and store its result; False when it returned None (nothing to write)."""
    for _ in range(MAX_ATTEMPTS):
        current, version = _read()
        changed = apply(list(current))
        if changed is None:
            return False
        if _write(changed, version):
            return True
    raise ConcurrentChangeError(f"the inboxes changed during {MAX_ATTEMPTS} attempts")


def put_inbox(inbox: Inbox, *, exists: bool | None = None) -> bool:
    """Add or replace the inbox of `inbox.address`; True when it was added.

    `exists=False` refuses an inbox already stored (AlreadyExistsError), `exists=True` one not stored
    (NotFoundError): checked in the same guarded write, so two admins adding one address cannot both succeed."""
    created = False

    def apply(inboxes: list[Inbox]) -> list[Inbox]:
        nonlocal created
        index = next((i for i, stored in enumerate(inboxes) if stored.address == inbox.address), None)
        if index is not None and exists is False:
            raise AlreadyExistsError(f"an inbox {inbox.address} already exists")
        if index is None and exists is True:
            raise NotFoundError(f"no inbox {inbox.address}")
        created = index is None
        if index is None:
            return [*inboxes, inbox]
        return [*inboxes[:index], inbox, *inboxes[index + 1 :]]

    _change(apply)
    return created


def remove_inbox(address: str) -> bool:
    """Remove the inbox of `address`; False when none was stored."""

    def apply(inboxes: list[Inbox]) -> list[Inbox] | None:
        kept = [inbox for inbox in inboxes if inbox.address != address]
        return kept if len(kept) != len(inboxes) else None

    return _change(apply)
