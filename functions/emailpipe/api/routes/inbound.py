"""The inbound log (every email's recorded outcome) and re-drive of a rejected or quarantined email."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from emailpipe.api import idempotency
from emailpipe.api.context import api_context
from emailpipe.api.requests import ok, paged, path_param, query, query_int
from emailpipe.chat import parse_since
from emailpipe.views import inbound_view

router = APIGatewayHttpRouter()


@router.get("/v1/inbound")
def inbound_log() -> Response:
    since = query(router, "since")
    page = api_context().chat.inbound_log(
        parse_since(since) if since else 0.0,
        query(router, "reason"),
        query(router, "cursor"),
        query_int(router, "limit"),
    )
    return ok(paged(page, inbound_view))


@router.post("/v1/inbound/<key>/redrive")
def redrive(key: str) -> Response:
    def operation() -> Response:
        context = api_context()
        record, queued = context.chat.redrive(path_param(key), context.inbound_queue_url)
        return ok({"queued": queued, "outcome": inbound_view(record)}, 202 if queued else 200)

    return idempotency.once(router, api_context().idempotency_table, operation)
