"""`Idempotency-Key` on every write, through powertools' idempotency utility.

The key is scoped by API key and route; the stored record holds the first answer (status and body), which a
retry gets back without the write running again. The same key with another body is a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response

from emailpipe.api.problems import invalid

HEADER = "Idempotency-Key"
EXPIRES_AFTER_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255

_operation: ContextVar[Callable[[], Response]] = ContextVar("idempotent_operation")
_ran: ContextVar[bool] = ContextVar("idempotent_ran", default=False)


def _run(request: dict[str, Any]) -> dict[str, Any]:
    _ran.set(True)
    response = _operation.get()()
    return {
        "status": response.status_code,
        "body": response.body,
        "content_type": response.headers.get("Content-Type", "application/json"),
        "headers": {k: v for k, v in response.headers.items() if k in {"Location"}},
    }


@cache
def _runner(table_name: str) -> tuple[Any, Callable[..., dict[str, Any]]]:
    """The idempotency config (it takes the Lambda context) and `_run` wrapped by powertools' idempotency."""
    # Imported with the first Idempotency-Key, not at cold start (about 5% of the API's import time).
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    from emailpipe.store.idempotency import persistence_layer

    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="payload",
        expires_after_seconds=EXPIRES_AFTER_SECONDS,
        raise_on_no_idempotency_key=True,
    )
    decorated = idempotent_function(
        data_keyword_argument="request", persistence_store=persistence_layer(table_name), config=config
    )(_run)
    return config, decorated


def reset() -> None:
    """Forget the persistence layers (another local stack)."""
    _runner.cache_clear()
    import sys

    store = sys.modules.get("emailpipe.store.idempotency")
    if store is not None:
        store.persistence_layer.cache_clear()


def once(app: Any, table_name: str, operation: Callable[[], Response]) -> Response:
    """Run a write once per Idempotency-Key (or every time when the request carries none)."""
    key = app.current_event.headers.get(HEADER)
    if key is None:
        return operation()
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise invalid(HEADER, f"must be 1 to {MAX_KEY_LENGTH} characters")
    event = app.current_event
    api_key = app.context.get("api_key")
    scope = api_key.key_id if api_key is not None else "-"
    request = {
        "key": f"{scope} {event.request_context.http.method} {event.raw_path} {key}",
        "payload": {"body": event.body or "", "query": event.raw_query_string or ""},
    }
    token, ran = _operation.set(operation), _ran.set(False)
    try:
        config, runner = _runner(table_name)
        if app.lambda_context is not None:
            # An in-progress record expires with the invocation, so a timed-out request can be retried at once.
            config.register_lambda_context(app.lambda_context)
        result = runner(request=request)
        replayed = not _ran.get()
    finally:
        _operation.reset(token)
        _ran.reset(ran)
    headers = {"Content-Type": result["content_type"], **result.get("headers", {})}
    status = result["status"]
    if replayed:
        # The first answer again; a creation replayed is 200 (nothing was created this time).
        headers["Idempotent-Replayed"] = "true"
        status = 200 if status == 201 else status
    return Response(status_code=status, body=result["body"], headers=headers)
