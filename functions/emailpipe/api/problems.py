"""RFC 9457 problem details: one stable `type` per problem, and the one mapping of errors to responses.

Route modules (ours and other helpers') raise domain errors (emailpipe.domain.errors) or `ProblemError`; the
resolver's single exception handler turns each into `application/problem+json` with `to_response`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.event_handler import Response

from emailpipe.domain.errors import AlreadyExistsError, InvalidInputError, NotFoundError, TooLargeError
from emailpipe.observability import logger

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "urn:emailpipe:problem:"

# slug -> (status, title); the slug is the stable part of the `type` URI, documented in docs/openapi.yaml.
PROBLEMS: dict[str, tuple[int, str]] = {
    "invalid-request": (400, "The request is not valid"),
    "invalid-json": (400, "The body is not a JSON object"),
    "unauthorized": (401, "A valid API key is required"),
    "forbidden": (403, "The API key may not do this"),
    "not-found": (404, "No such resource"),
    "route-not-found": (404, "No such route"),
    "already-exists": (409, "The resource exists already"),
    "idempotency-key-reused": (409, "The Idempotency-Key was used with another request"),
    "idempotency-in-progress": (409, "A request with this Idempotency-Key is still being processed"),
    "too-large": (413, "The request or an attachment is too large"),
    "rate-limited": (429, "Too many requests"),
    "internal": (500, "Internal error"),
    "unavailable": (503, "A backing service is unavailable; retry later"),
}

_THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "Throttling"}


def type_uri(slug: str) -> str:
    """The stable `type` of a problem."""
    return f"{TYPE_BASE}{slug}"


@dataclass
class ProblemError(Exception):
    """A problem to answer with; raise it from a route when no domain error fits."""

    slug: str
    detail: str = ""
    errors: Sequence[Mapping[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail or self.slug)


def invalid(field_name: str, detail: str) -> ProblemError:
    """A 400 naming the bad field."""
    return ProblemError("invalid-request", detail, errors=[{"field": field_name, "detail": detail}])


def problem_response(
    slug: str, detail: str = "", errors: Sequence[Mapping[str, str]] = (), headers: Mapping[str, str] | None = None
) -> Response:
    """An application/problem+json response."""
    status, title = PROBLEMS[slug]
    body: dict[str, Any] = {"type": type_uri(slug), "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [dict(e) for e in errors]
    return Response(status_code=status, content_type=CONTENT_TYPE, body=json.dumps(body), headers=dict(headers or {}))


def _error_code(exc: Exception) -> str | None:
    """The AWS error code behind an exception (botocore's ClientError, or pynamodb's wrapper of one)."""
    code = getattr(exc, "cause_response_code", None)
    if code:
        return str(code)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def to_response(exc: Exception) -> Response:
    """The one mapping of every error to a problem response."""
    if isinstance(exc, ProblemError):
        return problem_response(exc.slug, exc.detail, exc.errors, exc.headers)
    if isinstance(exc, InvalidInputError):
        errors = [{"field": exc.field, "detail": str(exc)}] if exc.field else []
        return problem_response("invalid-request", str(exc), errors)
    if isinstance(exc, NotFoundError):
        return problem_response("not-found", str(exc))
    if isinstance(exc, AlreadyExistsError):
        return problem_response("already-exists", str(exc))
    if isinstance(exc, TooLargeError):
        errors = [{"field": exc.field, "detail": str(exc)}] if exc.field else []
        return problem_response("too-large", str(exc), errors)
    idempotency = _idempotency_problem(exc)
    if idempotency is not None:
        return idempotency
    code = _error_code(exc)
    if code in _THROTTLED:
        logger.warning("store throttled", extra={"code": code})
        return problem_response(
            "rate-limited", "the store is throttling requests; retry later", headers={"Retry-After": "1"}
        )
    logger.exception("unhandled error", extra={"error": type(exc).__name__})
    return problem_response("internal")


def _idempotency_problem(exc: Exception) -> Response | None:
    module = type(exc).__module__
    if not module.startswith("aws_lambda_powertools.utilities.idempotency"):
        return None
    name = type(exc).__name__
    if name == "IdempotencyValidationError":
        return problem_response("idempotency-key-reused", "this Idempotency-Key was used with another request")
    if name == "IdempotencyAlreadyInProgressError":
        return problem_response("idempotency-in-progress", "retry once the first request has finished")
    if name == "IdempotencyKeyError":
        return problem_response(
            "invalid-request", "Idempotency-Key is empty", [{"field": "Idempotency-Key", "detail": "empty"}]
        )
    return None
