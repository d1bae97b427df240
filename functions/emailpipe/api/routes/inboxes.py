"""Inboxes: the piping addresses this deployment serves; list, add, change and remove (as `emailpipe inbox`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from emailpipe.api import idempotency
from emailpipe.api.context import api_context
from emailpipe.api.problems import invalid
from emailpipe.api.requests import created, field, json_body, ok, only_fields, path_param
from emailpipe.views import inbox_view

router = APIGatewayHttpRouter()

_FIELDS = {"brand_name", "from_address", "department", "convert_all_emails", "delimiter"}


def _view(inbox: Any) -> dict[str, Any]:
    default = api_context().chat.default_inbox
    return inbox_view(inbox, default=default is not None and inbox.address == default.address)


@router.get("/v1/inboxes")
def list_inboxes() -> Response:
    return ok({"items": [_view(inbox) for inbox in api_context().chat.list_inboxes()], "next": None})


@router.post("/v1/inboxes")
def add_inbox() -> Response:
    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"address", *_FIELDS})
        inbox = api_context().chat.add_inbox(
            field(body, "address", str),
            field(body, "brand_name", str),
            from_address=field(body, "from_address", str, required=False),
            department=field(body, "department", str, required=False),
            convert_all_emails=field(body, "convert_all_emails", bool, required=False),
            delimiter=field(body, "delimiter", bool, required=False),
        )
        return created(_view(inbox), f"/v1/inboxes/{inbox.address}")

    return idempotency.once(router, api_context().idempotency_table, operation)


def _cleared(body: dict[str, Any], name: str, kind: type) -> Any:
    # In a PATCH, null clears a field (from_address: the address itself; the flags: follow the settings).
    if name in body and body[name] is None:
        return ""
    return field(body, name, kind, required=False)


@router.patch("/v1/inboxes/<address>")
def patch_inbox(address: str) -> Response:
    def operation() -> Response:
        body = json_body(router)
        only_fields(body, _FIELDS)
        if not body:
            raise invalid("body", "give at least one field to change")
        inbox = api_context().chat.update_inbox(
            path_param(address),
            brand_name=field(body, "brand_name", str, required=False),
            from_address=_cleared(body, "from_address", str),
            department=_cleared(body, "department", str),
            convert_all_emails=_cleared(body, "convert_all_emails", bool),
            delimiter=_cleared(body, "delimiter", bool),
        )
        return ok(_view(inbox))

    return idempotency.once(router, api_context().idempotency_table, operation)


@router.delete("/v1/inboxes/<address>")
def delete_inbox(address: str) -> Response:
    def operation() -> Response:
        api_context().chat.remove_inbox(path_param(address))
        return Response(status_code=204, body="")

    return idempotency.once(router, api_context().idempotency_table, operation)
