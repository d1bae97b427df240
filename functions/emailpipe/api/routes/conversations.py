"""Conversations: open, get, list by user or status, change status, department or assigned agent, and add or remove
participants."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from emailpipe.api import idempotency
from emailpipe.api.context import api_context
from emailpipe.api.problems import invalid
from emailpipe.api.requests import created, field, json_body, ok, only_fields, paged, path_param, query, query_int
from emailpipe.views import conversation_view

router = APIGatewayHttpRouter()


@router.post("/v1/conversations")
def open_conversation() -> Response:
    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"user", "department", "subject"})
        conversation = api_context().chat.open_conversation(
            field(body, "user", str), field(body, "department", str, required=False), field(body, "subject", str)
        )
        return created(conversation_view(conversation), f"/v1/conversations/{conversation.id}")

    return idempotency.once(router, api_context().idempotency_table, operation)


@router.get("/v1/conversations")
def list_conversations() -> Response:
    user, status = query(router, "user"), query(router, "status")
    if user is None and status is None:
        raise invalid("user", "list conversations by user or by status (give user, status or both)")
    page = api_context().chat.list_conversations(
        user=user, status=status, cursor=query(router, "cursor"), limit=query_int(router, "limit")
    )
    return ok(paged(page, conversation_view))


@router.get("/v1/conversations/<conversation_id>")
def get_conversation(conversation_id: str) -> Response:
    return ok(conversation_view(api_context().chat.get_conversation(conversation_id)))


@router.patch("/v1/conversations/<conversation_id>")
def patch_conversation(conversation_id: str) -> Response:
    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"status", "department", "assigned_agent"})
        if not body:
            raise invalid("status", "give status, department or assigned_agent")
        changes = {}
        for name in ("status", "department", "assigned_agent"):
            if name in body:
                # null clears the department or the assigned agent
                changes[name] = "" if body[name] is None else field(body, name, str)
        if changes.get("status") == "":
            raise invalid("status", "cannot be null")
        conversation = api_context().chat.update_conversation(conversation_id, **changes)
        return ok(conversation_view(conversation))

    return idempotency.once(router, api_context().idempotency_table, operation)


@router.post("/v1/conversations/<conversation_id>/participants")
def add_participant(conversation_id: str) -> Response:
    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"email", "name"})
        conversation, added = api_context().chat.add_participant_created(
            conversation_id, field(body, "email", str), field(body, "name", str, required=False)
        )
        return ok(conversation_view(conversation), 201 if added else 200)

    return idempotency.once(router, api_context().idempotency_table, operation)


@router.delete("/v1/conversations/<conversation_id>/participants/<email>")
def remove_participant(conversation_id: str, email: str) -> Response:
    def operation() -> Response:
        api_context().chat.remove_participant(conversation_id, path_param(email))
        return Response(status_code=204, body="")

    return idempotency.once(router, api_context().idempotency_table, operation)
