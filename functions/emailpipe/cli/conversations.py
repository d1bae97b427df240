"""`emailpipe conversation close|reopen|archive ID` and `conversation participant add|remove ID EMAIL`."""

from __future__ import annotations

import argparse
import json
from typing import Any


def cmd_conversation_status(args: argparse.Namespace) -> int:
    """Close, reopen or archive a conversation through the chat-side rules (the API's PATCH calls the same)."""
    from emailpipe.cli.main import _api, _connect

    api = _api(_connect())
    change = {"close": api.close_conversation, "reopen": api.reopen_conversation, "archive": api.archive_conversation}
    conversation = change[args.action](args.conversation)  # NotFoundError -> "emailpipe: no conversation ..."
    print(json.dumps({"id": conversation.id, "status": conversation.status}))
    return 0


def cmd_participant(args: argparse.Namespace) -> int:
    """Add or remove a participant (the API's POST and DELETE of /participants call the same functions)."""
    from emailpipe.cli.main import _api, _connect
    from emailpipe.views import conversation_view

    api = _api(_connect())
    if args.participant_action == "add":
        conversation = api.add_participant(args.conversation, args.email, args.name)
    else:
        conversation = api.remove_participant(args.conversation, args.email)
    view = conversation_view(conversation)
    print(json.dumps({key: view[key] for key in ("id", "user", "participants")}))
    return 0


def register(conversation: Any) -> None:
    """Add the status changes and `participant add|remove` to the `conversation` subcommands."""
    helps = {
        "close": "close: a reply by email then follows the setting closed_reply",
        "reopen": "open a closed or archived conversation again",
        "archive": "archive: replies by email are never posted",
    }
    for action, text in helps.items():
        p = conversation.add_parser(action, help=text)
        p.add_argument("conversation", help="the conversation id (conversation list shows them)")
        p.set_defaults(func=cmd_conversation_status)
    participant = conversation.add_parser("participant", help="people who get the agents' replies by email")
    actions = participant.add_subparsers(dest="participant_action", required=True)
    p = actions.add_parser("add", help="add a participant (a new address becomes a user)")
    p.add_argument("conversation", help="the conversation id")
    p.add_argument("email", help="the participant's email address")
    p.add_argument("--name", help="the name of a new person")
    p.set_defaults(func=cmd_participant)
    p = actions.add_parser("remove", help="remove a participant: their reply tokens stop working")
    p.add_argument("conversation", help="the conversation id")
    p.add_argument("email", help="the participant's email address")
    p.set_defaults(func=cmd_participant)
