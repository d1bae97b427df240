"""Messages of a conversation, and their attachments (inline base64, or uploaded first through a presigned PUT)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from emailpipe.api import idempotency
from emailpipe.api.context import api_context
from emailpipe.api.problems import ProblemError, invalid
from emailpipe.api.requests import created, field, json_body, ok, only_fields, paged, query, query_int
from emailpipe.chat import NewAttachment
from emailpipe.views import attachment_view, message_view

router = APIGatewayHttpRouter()

# Inline attachments travel in the JSON body; above this (decoded, all together) upload them instead.
INLINE_MAX_BYTES = 1024 * 1024


def _attachments(conversation_id: str, body: dict[str, Any]) -> list[NewAttachment]:
    items = field(body, "attachments", list, required=False) or []
    files: list[NewAttachment] = []
    inline_total = 0
    for index, item in enumerate(items):
        name = f"attachments[{index}]"
        if not isinstance(item, dict):
            raise invalid(name, "must be an object")
        only_fields(item, {"filename", "content_type", "data", "key"})
        if "key" in item:
            files.append(api_context().chat.uploaded_attachment(conversation_id, field(item, "key", str), name))
            continue
        filename = field(item, "filename", str)
        content_type = item.get("content_type") or "application/octet-stream"
        if not isinstance(content_type, str):
            raise invalid(f"{name}.content_type", "must be a string")
        encoded = item.get("data")
        if not isinstance(encoded, str):
            raise invalid(f"{name}.data", "is required: the bytes in base64, or upload them and give key")
        if len(encoded) * 3 // 4 > INLINE_MAX_BYTES:
            raise ProblemError(
                "too-large",
                f"inline attachments are limited to {INLINE_MAX_BYTES} bytes; upload larger ones",
                errors=[{"field": name, "detail": "too large to send inline"}],
            )
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise invalid(f"{name}.data", "is not base64") from exc
        inline_total += len(data)
        if inline_total > INLINE_MAX_BYTES:
            raise ProblemError(
                "too-large",
                f"inline attachments are limited to {INLINE_MAX_BYTES} bytes together; upload larger ones",
                errors=[{"field": name, "detail": "too large to send inline"}],
            )
        files.append(NewAttachment(filename, content_type, data))
    return files


@router.post("/v1/conversations/<conversation_id>/messages")
def post_message(conversation_id: str) -> Response:
    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"author", "text", "attachments", "external_id"})
        chat = api_context().chat
        message, was_created = chat.post_message(
            conversation_id,
            field(body, "author", str),
            field(body, "text", str, required=False) or "",
            _attachments(conversation_id, body),
            external_id=field(body, "external_id", str, required=False),
        )
        if was_created:
            return created(message_view(message), f"/v1/conversations/{conversation_id}/messages/{message.id}")
        return ok(message_view(message))

    return idempotency.once(router, api_context().idempotency_table, operation)


def _includes_trimmed() -> bool:
    include = query(router, "include")
    if include is None:
        return False
    wanted = {part.strip() for part in include.split(",") if part.strip()}
    if wanted - {"trimmed"}:
        raise invalid("include", "the only value is trimmed")
    return True


def _view(message: Any, trimmed: bool) -> dict[str, Any]:
    view = message_view(message)
    if trimmed:
        # What reply extraction cut (quoted history, signature), so the chat can show "the rest of this email".
        view["trimmed"] = api_context().chat.trimmed_text(message)
    return view


@router.get("/v1/conversations/<conversation_id>/messages")
def list_messages(conversation_id: str) -> Response:
    trimmed = _includes_trimmed()
    page = api_context().chat.list_messages(conversation_id, query(router, "cursor"), query_int(router, "limit"))
    return ok(paged(page, lambda message: _view(message, trimmed)))


@router.get("/v1/conversations/<conversation_id>/messages/<message_id>")
def get_message(conversation_id: str, message_id: str) -> Response:
    trimmed = _includes_trimmed()
    return ok(_view(api_context().chat.get_message(conversation_id, message_id), trimmed))


@router.post("/v1/conversations/<conversation_id>/attachments")
def new_upload(conversation_id: str) -> Response:
    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"filename", "content_type"})
        upload = api_context().chat.new_upload(
            conversation_id, field(body, "filename", str), field(body, "content_type", str)
        )
        return created(
            {
                "key": upload.key,
                "upload_url": upload.url,
                "method": "PUT",
                "headers": {"Content-Type": upload.content_type},
                "expires_in": upload.expires_in,
            }
        )

    return idempotency.once(router, api_context().idempotency_table, operation)


@router.get("/v1/conversations/<conversation_id>/messages/<message_id>/attachments/<index>")
def download_attachment(conversation_id: str, message_id: str, index: str) -> Response:
    if not index.isdigit():
        raise invalid("index", "must be a whole number")
    attachment, url, expires_in = api_context().chat.attachment_link(conversation_id, message_id, int(index))
    if query(router, "redirect") in {"1", "true"}:
        return Response(status_code=302, body="", headers={"Location": url, "Cache-Control": "no-store"})
    view = attachment_view(attachment, int(index))
    return Response(
        status_code=200,
        content_type="application/json",
        body=json.dumps({**view, "url": url, "expires_in": expires_in}),
        headers={"Cache-Control": "no-store"},
    )
