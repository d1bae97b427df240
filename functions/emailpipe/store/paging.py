"""Pages of a query: an opaque cursor (base64url of DynamoDB's LastEvaluatedKey) and the items of one page."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from emailpipe.domain.errors import InvalidInputError

T = TypeVar("T")

MAX_LIMIT = 100
DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list; `next` is the cursor of the following page, None on the last one."""

    items: list[T] = field(default_factory=list)
    next: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)


def encode_cursor(last_evaluated_key: dict[str, Any] | None, **extra: Any) -> str | None:
    """The opaque cursor of a LastEvaluatedKey (None when the query is exhausted)."""
    if not last_evaluated_key:
        return None
    data = {"k": last_evaluated_key, **extra}
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, *, hash_key: str | None = None, hash_attr: str = "pk") -> dict[str, Any] | None:
    """The data behind a cursor, refusing a malformed one or one of another list (400 naming `cursor`)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError("not a cursor this API returned", field="cursor") from exc
    key = data.get("k") if isinstance(data, dict) else None
    if not isinstance(key, dict) or not all(
        isinstance(v, dict) and list(v) == ["S"] and isinstance(v["S"], str) for v in key.values()
    ):
        raise InvalidInputError("not a cursor this API returned", field="cursor")
    if hash_key is not None and key.get(hash_attr, {}).get("S") != hash_key:
        raise InvalidInputError("the cursor belongs to another list", field="cursor")
    return data


def clamp_limit(limit: int | None) -> int:
    """A page size between 1 and MAX_LIMIT."""
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit
