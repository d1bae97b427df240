"""People: users, agents and admins, keyed by email; PUT upserts, DELETE removes."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from emailpipe.api import idempotency
from emailpipe.api.context import api_context
from emailpipe.api.requests import field, json_body, ok, only_fields, paged, path_param, query, query_int
from emailpipe.views import person_detail_view, person_view

router = APIGatewayHttpRouter()


@router.get("/v1/people")
def list_people() -> Response:
    page = api_context().chat.list_people(query(router, "role"), query(router, "cursor"), query_int(router, "limit"))
    return ok(paged(page, person_view))


@router.get("/v1/people/<email>")
def get_person(email: str) -> Response:
    chat = api_context().chat
    person = chat.get_person(path_param(email))
    return ok(person_detail_view(person, chat.bounce_evidence(person.email)))


@router.put("/v1/people/<email>")
def put_person(email: str) -> Response:
    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"name", "role", "departments"})
        departments = field(body, "departments", list, required=False) or []
        person, was_created = api_context().chat.upsert_person_created(
            path_param(email), field(body, "name", str), field(body, "role", str), departments
        )
        return ok(person_view(person), 201 if was_created else 200)

    return idempotency.once(router, api_context().idempotency_table, operation)


@router.delete("/v1/people/<email>")
def delete_person(email: str) -> Response:
    def operation() -> Response:
        api_context().chat.remove_person(path_param(email))
        return Response(status_code=204, body="")

    return idempotency.once(router, api_context().idempotency_table, operation)
