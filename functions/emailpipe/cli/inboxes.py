"""`emailpipe inbox add|update|list|remove`: the piping addresses one deployment serves (domain/inboxes.py)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

# What the flags take: on/off for the inbox's own choice, `setting` to follow the setting of the same name again.
_FLAG_CHOICES = ("on", "off", "setting")


def _line(inbox: Any, default: bool) -> str:
    def choice(value: bool | None) -> str:
        return "setting" if value is None else "on" if value else "off"

    parts = [
        f"{inbox.address}{'  (default)' if default else ''}",
        f"brand {inbox.brand_name}",
        f"from {inbox.sender}",
        f"department {inbox.department or '-'}",
        f"convert-all {choice(inbox.convert_all_emails)}",
        f"delimiter {choice(inbox.delimiter)}",
    ]
    return "  ".join(parts)


def _flag(value: str | None) -> str | None:
    # `setting` clears the inbox's own choice ("" in ChatApi.update_inbox).
    return "" if value == "setting" else value


def cmd_inbox(args: argparse.Namespace, api: Callable[[], Any]) -> int:
    """Add, change, list or remove inboxes."""
    chat = api()
    default = chat.default_inbox.address if chat.default_inbox is not None else None
    if args.action == "list":
        inboxes = chat.list_inboxes()
        if args.json:
            from emailpipe.views import inbox_view

            print(json.dumps([inbox_view(i, default=i.address == default) for i in inboxes], indent=2))
            return 0
        for inbox in inboxes:
            print(_line(inbox, inbox.address == default))
        return 0
    if args.action == "remove":
        chat.remove_inbox(args.address)
        print(f"inbox {args.address.strip().lower()} removed")
        return 0
    if args.action == "add":
        inbox = chat.add_inbox(
            args.address,
            args.brand,
            from_address=args.from_address,
            department=args.department,
            convert_all_emails=_flag(args.convert_all) or None,
            delimiter=_flag(args.delimiter) or None,
        )
        verb = "added"
    else:
        inbox = chat.update_inbox(
            args.address,
            brand_name=args.brand,
            from_address=args.from_address,
            department=args.department,
            convert_all_emails=_flag(args.convert_all),
            delimiter=_flag(args.delimiter),
        )
        verb = "changed"
    print(f"inbox {verb}: {_line(inbox, inbox.address == default)}")
    if verb == "added":
        # The receipt rule and the senders' permission come from the template, not from the table.
        print("mail reaches it once the stack's AdditionalInboxAddresses parameter lists it (docs/mailbox-ingress.md)")
    return 0


def add_parser(sub: Any, api: Callable[[], Any]) -> None:
    """Register `inbox` on the command line; `api` connects and returns the deployment's ChatApi."""
    inboxes = sub.add_parser("inbox", help="the piping addresses (inboxes)").add_subparsers(
        dest="action", required=True
    )
    for action, text in (("add", "add an inbox"), ("update", "change an inbox (the default one too)")):
        p = inboxes.add_parser(action, help=text)
        p.add_argument("address", help="the inbox's email address")
        p.add_argument("--brand", required=action == "add", help="the display-name prefix of its notifications")
        p.add_argument("--from", dest="from_address", help="the From identity (default: the address itself)")
        p.add_argument("--department", help="given to the conversations it opens")
        p.add_argument("--convert-all", choices=_FLAG_CHOICES, help="its own convert_all_emails")
        p.add_argument("--delimiter", choices=_FLAG_CHOICES, help="its own delimiter setting")
        p.set_defaults(func=lambda a: cmd_inbox(a, api))
    p = inboxes.add_parser("list", help="every inbox, the default first")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=lambda a: cmd_inbox(a, api))
    p = inboxes.add_parser("remove", help="remove an added inbox")
    p.add_argument("address", help="the inbox's email address")
    p.set_defaults(func=lambda a: cmd_inbox(a, api))
