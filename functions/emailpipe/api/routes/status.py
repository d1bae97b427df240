"""The status figures `emailpipe status` prints: volume, outcomes, notifications, dead letters."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from emailpipe.api.context import api_context
from emailpipe.api.problems import invalid
from emailpipe.api.requests import ok, query
from emailpipe.views import iso

router = APIGatewayHttpRouter()


@router.get("/v1/status")
def status() -> Response:
    raw = query(router, "hours") or "1"
    try:
        hours = float(raw)
    except ValueError as exc:
        raise invalid("hours", "must be a number") from exc
    if not 0 < hours <= 24 * 14:
        raise invalid("hours", "must be between 0 and 336")
    context = api_context()
    figures = context.chat.status(hours, local=context.local, dead_letter_queues=context.dead_letter_queues)
    return ok({**figures, "since": iso(figures["since"]), "hours": hours})
