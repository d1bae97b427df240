"""Agent presence: called on every change by the chat app, so it is one conditional write and no read."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from emailpipe.api import idempotency
from emailpipe.api.context import api_context
from emailpipe.api.requests import field, json_body, ok, only_fields, path_param

router = APIGatewayHttpRouter()


@router.put("/v1/agents/<email>/presence")
def put_presence(email: str) -> Response:
    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"online"})
        online = field(body, "online", bool)
        chat = api_context().chat
        address = path_param(email)
        chat.set_presence(address, online)
        from emailpipe.chat import normalize_email

        return ok({"email": normalize_email(address), "online": online})

    return idempotency.once(router, api_context().idempotency_table, operation)
