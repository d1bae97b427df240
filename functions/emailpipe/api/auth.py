"""API keys: `Authorization: Bearer <key>` on every route but the connectors' own webhooks; read keys read only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from emailpipe.api.context import api_context
from emailpipe.api.problems import ProblemError
from emailpipe.observability import logger, metrics
from emailpipe.store import apikeys

# Routes that authenticate by their own secret (a chat product's webhook key), not by an API key.
EXEMPT_PREFIXES = ("/v1/connectors/",)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _refuse(reason: str) -> ProblemError:
    metrics.add_metric(name="ApiAuthFailures", unit=MetricUnit.Count, value=1)
    logger.info("api key refused", extra={"reason": reason})
    return ProblemError("unauthorized", "send Authorization: Bearer <API key>", headers={"WWW-Authenticate": "Bearer"})


def authenticate(app: Any, next_middleware: Any) -> Response:
    """Middleware: resolve the API key (401 when missing, wrong or revoked; 403 for a read key on a write)."""
    api_context()  # the store points at the table before the key is looked up
    event = app.current_event
    path = event.raw_path or ""
    if path.startswith(EXEMPT_PREFIXES):
        return next_middleware(app)
    header = event.headers.get("Authorization") or ""
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _refuse("missing")
    api_key = apikeys.verify_key(key.strip())
    if api_key is None:
        raise _refuse("invalid")
    if event.request_context.http.method in WRITE_METHODS and not api_key.can_write:
        raise ProblemError("forbidden", f"the API key {api_key.key_id} has the read scope")
    app.append_context(api_key=api_key)
    logger.append_keys(api_key_id=api_key.key_id)
    return next_middleware(app)
