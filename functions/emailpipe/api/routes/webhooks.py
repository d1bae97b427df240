"""Webhook subscriptions: create (the secret is answered once), list, get with recent deliveries, remove, redeliver."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from emailpipe.api import idempotency
from emailpipe.api.context import api_context
from emailpipe.api.problems import ProblemError
from emailpipe.api.requests import created, field, json_body, ok, only_fields, path_param

router = APIGatewayHttpRouter()


def _events() -> tuple[Any, Any, Any]:
    """The subscription rules, their store and the events settings, imported with the first webhook call.

    The API's cold start is a person's wait, and the webhook routes are the rarest: the chat product subscribes
    once. The modules are the webhook function's own (signing, the address checks, their pynamodb models).
    """
    from emailpipe.events import subscriptions
    from emailpipe.events.settings import events_settings
    from emailpipe.store import webhooks as store

    return subscriptions, store, events_settings


def _queue_url() -> str:
    url = os.environ.get("WEBHOOK_QUEUE_URL")
    if not url:
        raise ProblemError("unavailable", "this deployment has no webhook queue (WEBHOOK_QUEUE_URL)")
    return url


@router.post("/v1/webhooks")
def add_webhook() -> Response:
    subscriptions, store, events_settings = _events()

    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"url", "events", "description"})
        events = field(body, "events", list, required=False) or []
        if not all(isinstance(e, str) for e in events):
            from emailpipe.api.problems import invalid

            raise invalid("events", "must be a list of event types")
        subscription = subscriptions.subscribe(
            field(body, "url", str),
            events,
            field(body, "description", str, required=False) or "",
            allow_loopback=events_settings().allow_loopback,
        )
        view = {**subscriptions.subscription_view(subscription), "secret": subscription.secret}
        return created(view, location=f"/v1/webhooks/{subscription.id}")

    api_context()
    return idempotency.once(router, api_context().idempotency_table, operation)


@router.get("/v1/webhooks")
def list_webhooks() -> Response:
    subscriptions, store, events_settings = _events()
    api_context()
    items = [subscriptions.subscription_view(s) for s in store.list_subscriptions()]
    return ok({"items": items, "next": None})


@router.get("/v1/webhooks/<subscription_id>")
def get_webhook(subscription_id: str) -> Response:
    subscriptions, store, events_settings = _events()
    api_context()
    subscription = subscriptions.get(path_param(subscription_id))
    deliveries = [subscriptions.delivery_view(d) for d in store.list_deliveries(subscription.id, limit=20)]
    return ok({**subscriptions.subscription_view(subscription), "deliveries": deliveries})


@router.delete("/v1/webhooks/<subscription_id>")
def delete_webhook(subscription_id: str) -> Response:
    subscriptions, store, events_settings = _events()
    api_context()
    subscriptions.remove(path_param(subscription_id))
    return Response(status_code=204, body="")


@router.post("/v1/events/<event_id>/redeliver")
def redeliver_event(event_id: str) -> Response:
    subscriptions, store, events_settings = _events()

    def operation() -> Response:
        body = json_body(router)
        only_fields(body, {"subscription_id"})
        from emailpipe.events.adapters import send_deliveries

        queue = _queue_url()
        queued = subscriptions.redeliver(
            path_param(event_id),
            lambda messages: send_deliveries(queue, messages),
            field(body, "subscription_id", str, required=False),
        )
        return ok({"event_id": path_param(event_id), "subscriptions": queued}, status=202)

    api_context()
    return idempotency.once(router, api_context().idempotency_table, operation)
