"""Reading a request: the JSON body, typed fields that name themselves when wrong, and paged answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response

from emailpipe.api.problems import ProblemError, invalid
from emailpipe.store.paging import Page

T = TypeVar("T")

MAX_BODY_BYTES = 6 * 1024 * 1024 - 64 * 1024  # under Lambda's 6 MB synchronous payload, whatever API Gateway takes


def json_body(app: Any) -> dict[str, Any]:
    """The request's JSON object (400 when it is not one, 413 when it is too large)."""
    event = app.current_event
    raw = event.decoded_body if event.body is not None else ""
    if raw and len(raw) > MAX_BODY_BYTES:
        raise ProblemError("too-large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise ProblemError("invalid-json", "the body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ProblemError("invalid-json", "the body must be a JSON object")
    return data


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
    """`body[name]` when it has the expected type (400 naming the field otherwise)."""
    if name not in body or body[name] is None:
        if required:
            raise invalid(name, "is required")
        return None
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise invalid(name, f"must be {' or '.join(k.__name__ for k in kinds)}")
    if not isinstance(value, kinds):
        raise invalid(name, f"must be {' or '.join(k.__name__ for k in kinds)}")
    return value


def only_fields(body: dict[str, Any], allowed: set[str]) -> None:
    """Refuse unknown fields (a typo would otherwise be silently ignored)."""
    for name in body:
        if name not in allowed:
            raise invalid(name, "is not a field of this request")


def path_param(value: str) -> str:
    """A path parameter as the client meant it (percent-decoded: an email's @, an S3 key's slashes)."""
    return unquote(value)


def query(app: Any, name: str) -> str | None:
    """A query string parameter, or None."""
    value = app.current_event.get_query_string_value(name)
    return value if value not in (None, "") else None


def query_int(app: Any, name: str) -> int | None:
    """An integer query parameter (400 naming it when it is not one)."""
    value = query(app, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise invalid(name, "must be a whole number") from exc


def paged(page: Page[T], view: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """Every list answers `{"items": [...], "next": <cursor or null>}`."""
    return {"items": [view(item) for item in page.items], "next": page.next}


def created(body: dict[str, Any], location: str | None = None) -> Response:
    """A 201 answer."""
    headers = {"Location": location} if location else {}
    return Response(status_code=201, content_type="application/json", body=json.dumps(body), headers=headers)


def ok(body: dict[str, Any], status: int = 200) -> Response:
    """A JSON answer."""
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))
