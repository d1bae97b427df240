"""`conversation list`, `agent list`, `user list`, `department list`: aligned tables, or JSON with --json.

They read through the same chat-side rules as the HTTP API's GET /v1/conversations, /v1/people and /v1/departments
(emailpipe.chat), every page of them, and print the API's views.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> None:
    """`rows` under a header line, each column as wide as its widest cell; `columns` are (key, heading)."""
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max([len(heading), *(len(line[i]) for line in cells)]) for i, (_, heading) in enumerate(columns)]
    for line in ([heading for _, heading in columns], *cells):
        print("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def _pages(read: Callable[..., Any]) -> Iterator[Any]:
    """Every item of a paged list, `read(cursor=...)` giving one page."""
    cursor: str | None = None
    while True:
        page = read(cursor=cursor)
        yield from page.items
        cursor = page.next
        if not cursor:
            return


def _show(args: argparse.Namespace, rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> int:
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        print_table(rows, columns)
    else:
        print("none yet")
    return 0


def cmd_conversation_list(args: argparse.Namespace) -> int:
    from emailpipe.cli.main import _api, _connect
    from emailpipe.views import conversation_view

    chat = _api(_connect())
    statuses = [args.status] if args.status else ([None] if args.user else ["open", "pending"])
    rows = [
        conversation_view(c)
        for status in statuses
        for c in _pages(partial(chat.list_conversations, user=args.user, status=status))
    ]
    columns = [("id", "ID"), ("status", "STATUS"), ("user", "USER"), ("department", "DEPARTMENT")]
    return _show(args, rows, [*columns, ("subject", "SUBJECT"), ("created_at", "CREATED")])


def _people(args: argparse.Namespace, roles: Sequence[str], columns: Sequence[tuple[str, str]]) -> int:
    from emailpipe.cli.main import _api, _connect
    from emailpipe.views import person_view

    chat = _api(_connect())
    rows = [person_view(p) for role in roles for p in _pages(partial(chat.list_people, role=role))]
    return _show(args, rows, columns)


def cmd_agent_list(args: argparse.Namespace) -> int:
    columns = [("email", "EMAIL"), ("name", "NAME"), ("role", "ROLE"), ("departments", "DEPARTMENTS")]
    return _people(args, ("admin", "agent"), [*columns, ("online", "ONLINE"), ("bouncing", "BOUNCING")])


def cmd_user_list(args: argparse.Namespace) -> int:
    columns = [("email", "EMAIL"), ("name", "NAME"), ("email_notifications", "NOTIFICATIONS")]
    return _people(args, ("user",), [*columns, ("unsubscribed", "UNSUBSCRIBED"), ("bouncing", "BOUNCING")])


def cmd_department_list(args: argparse.Namespace) -> int:
    from emailpipe.cli.main import _api, _connect
    from emailpipe.views import department_view

    rows = [department_view(d) for d in _api(_connect()).list_departments()]
    return _show(args, rows, [("name", "NAME")])


def register(subcommands: dict[str, Any]) -> None:
    """Add `list` to the conversation, agent, user and department subcommands (keyed by their command)."""
    from emailpipe.chat import CONVERSATION_STATUSES

    p = subcommands["conversation"].add_parser(
        "list", help="conversations: open and pending, or a user's, or one status"
    )
    p.add_argument("--user", help="only this user's conversations (every status unless --status)")
    p.add_argument("--status", choices=CONVERSATION_STATUSES, help="only conversations of this status")
    p.set_defaults(func=cmd_conversation_list)
    for command, func, text in (
        ("agent", cmd_agent_list, "agents and admins, with departments and presence"),
        ("user", cmd_user_list, "chat users, with their email preferences"),
        ("department", cmd_department_list, "departments"),
    ):
        p = subcommands[command].add_parser("list", help=text)
        p.set_defaults(func=func)
    for command in ("conversation", "agent", "user", "department"):
        subcommands[command].choices["list"].add_argument("--json", action="store_true", help="print a JSON list")
