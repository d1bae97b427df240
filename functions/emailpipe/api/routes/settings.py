"""Product settings: read them, change several at once (the same parsing as `emailpipe settings set`)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from emailpipe.api import idempotency
from emailpipe.api.context import api_context
from emailpipe.api.problems import invalid
from emailpipe.api.requests import json_body, ok
from emailpipe.domain.models import Settings

router = APIGatewayHttpRouter()


def settings_view(settings: Settings) -> dict[str, object]:
    """Every setting by name."""
    return {key: getattr(settings, key) for key in settings.KEYS}


@router.get("/v1/settings")
def get_settings() -> Response:
    return ok(settings_view(api_context().chat.settings()))


@router.patch("/v1/settings")
def patch_settings() -> Response:
    def operation() -> Response:
        body = json_body(router)
        if not body:
            raise invalid("body", "give at least one setting")
        return ok(settings_view(api_context().chat.set_settings(body)))

    return idempotency.once(router, api_context().idempotency_table, operation)
