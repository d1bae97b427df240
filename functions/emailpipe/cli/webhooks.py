"""`emailpipe webhook add|list|show|remove|redeliver`: webhook subscriptions, the same functions the API calls."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _is_local() -> bool:
    import os

    return os.environ.get("AWS_ENDPOINT_URL", "").startswith(("http://127.", "http://localhost"))


def cmd_webhook(args: argparse.Namespace, info: Any) -> int:
    """Dispatch one `webhook` action."""
    actions = {"add": _add, "list": _list, "show": _show, "deliveries": _show, "remove": _remove}
    return {**actions, "redeliver": _redeliver}[args.action](args, info)


def _add(args: argparse.Namespace, info: Any) -> int:
    from emailpipe.events import subscriptions

    events = [e for e in (args.events or "").split(",") if e.strip()]
    # Against the local stack, http://127.0.0.1 receivers are allowed, as the local triggers deliver to them.
    subscription = subscriptions.subscribe(args.url, events, args.description or "", allow_loopback=_is_local())
    print(json.dumps(subscriptions.subscription_view(subscription)))
    print(f"# the signing secret, shown once; id {subscription.id}", file=sys.stderr)
    print(subscription.secret)
    return 0


def _list(args: argparse.Namespace, info: Any) -> int:
    from emailpipe.events import subscriptions
    from emailpipe.store import webhooks as store

    views = [subscriptions.subscription_view(s) for s in store.list_subscriptions()]
    if args.json:
        print(json.dumps(views, indent=2))
        return 0
    if not views:
        print("no webhook subscriptions")
    for view in views:
        last = view["last_delivery"]
        status = (
            "never delivered" if last is None else f"last: {last['status']} {last['http_status'] or ''} {last['at']}"
        )
        events = ",".join(view["events"]) or "*"
        print(f"{view['id']}  {view['url']}  events={events}  {status.strip()}")
    return 0


def _show(args: argparse.Namespace, info: Any) -> int:
    from emailpipe.events import subscriptions
    from emailpipe.store import webhooks as store

    subscription = subscriptions.get(args.id)
    deliveries = [subscriptions.delivery_view(d) for d in store.list_deliveries(subscription.id, limit=args.limit)]
    print(json.dumps({**subscriptions.subscription_view(subscription), "deliveries": deliveries}, indent=2))
    return 0


def _remove(args: argparse.Namespace, info: Any) -> int:
    from emailpipe.events import subscriptions

    subscriptions.remove(args.id)
    print(json.dumps({"removed": args.id}))
    return 0


def _redeliver(args: argparse.Namespace, info: Any) -> int:
    from emailpipe.events import adapters, subscriptions

    queue = info.outputs.get("WebhookQueueUrl")
    if not queue:
        print("emailpipe: the stack has no WebhookQueueUrl output", file=sys.stderr)
        return 2
    if args.dead_letters:
        moved = adapters.move_dead_letters(info.outputs["WebhookDeadLetterQueueUrl"], queue)
        print(json.dumps({"redelivered_dead_letters": moved}))
        return 0
    if not args.event_id:
        print("emailpipe: give an EVENT_ID or --dead-letters", file=sys.stderr)
        return 2
    queued = subscriptions.redeliver(
        args.event_id, lambda messages: adapters.send_deliveries(queue, messages), args.subscription
    )
    print(json.dumps({"event_id": args.event_id, "subscriptions": queued}))
    return 0


def add_parser(sub: Any, func: Any) -> None:
    """The `webhook` subcommands, each calling `func` (main's connector, which resolves the stack first)."""
    hooks = sub.add_parser("webhook", help="webhook subscriptions (signed event deliveries)").add_subparsers(
        dest="action", required=True
    )
    p = hooks.add_parser("add", help="subscribe a URL; prints the signing secret (whsec_...) on its last line")
    p.add_argument("url", help="the HTTPS URL that receives the signed events")
    p.add_argument("--events", help="comma-separated event types or families (message.*); default: every event")
    p.add_argument("--description", help="a note for people: what the subscription is for")
    p.set_defaults(func=func)
    p = hooks.add_parser("list", help="every subscription with its last delivery status")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=func)
    for name in ("show", "deliveries"):
        p = hooks.add_parser(name, help="one subscription and its recent deliveries (status, attempts, error)")
        p.add_argument("id", help="the subscription id (webhook list shows them)")
        p.add_argument("--limit", type=int, default=20, help="how many recent deliveries (default 20)")
        p.set_defaults(func=func)
    p = hooks.add_parser("remove", help="remove a subscription")
    p.add_argument("id", help="the subscription id")
    p.set_defaults(func=func)
    p = hooks.add_parser("redeliver", help="send a stored event again (same webhook-id), or every dead letter")
    p.add_argument("event_id", nargs="?", help="the event id (omit with --dead-letters)")
    p.add_argument("--subscription", help="only to this subscription (default: every one that wants the event)")
    p.add_argument("--dead-letters", action="store_true", help="move the webhook dead-letter queue back")
    p.set_defaults(func=func)
