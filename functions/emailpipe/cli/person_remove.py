"""`emailpipe person remove EMAIL`: the person is gone, and every reply token issued to them stops working at once."""

from __future__ import annotations

import argparse
import json
from typing import Any


def cmd_person_remove(args: argparse.Namespace) -> int:
    """Remove a person through the chat-side rules (the API's DELETE calls the same function)."""
    from emailpipe.cli.main import _api, _connect

    _api(_connect()).remove_person(args.email)  # NotFoundError -> "emailpipe: no person ..." and exit 1
    print(json.dumps({"removed": args.email.strip().lower()}))
    return 0


def register(person: Any) -> None:
    """Add `remove` to the `person` subcommands."""
    p = person.add_parser("remove", help="remove a person: replies with their notifications' tokens are rejected")
    p.add_argument("email", help="the person's email address")
    p.set_defaults(func=cmd_person_remove)
