"""Departments: list and create."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from emailpipe.api import idempotency
from emailpipe.api.context import api_context
from emailpipe.api.requests import created, field, json_body, ok, only_fields
from emailpipe.views import department_view

router = APIGatewayHttpRouter()


@router.get("/v1/departments")
def list_departments() -> Response:
    departments = api_context().chat.list_departments()
    return ok({"items": [department_view(d) for d in departments], "next": None})


@router.post("/v1/departments")
def add_department() -> Response:
    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"name"})
        department = api_context().chat.add_department(field(body, "name", str))
        return created(department_view(department))

    return idempotency.once(router, api_context().idempotency_table, operation)
