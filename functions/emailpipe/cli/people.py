"""`emailpipe person show EMAIL`: a person with the evidence of their bouncing mark."""

from __future__ import annotations

import argparse
import json
from typing import Any


def cmd_person_show(args: argparse.Namespace) -> int:
    """Print a person as the API shows them, with the evidence of their bouncing mark."""
    from emailpipe.cli.main import _api, _connect
    from emailpipe.views import person_detail_view

    chat = _api(_connect())
    person = chat.get_person(args.email)
    print(json.dumps(person_detail_view(person, chat.bounce_evidence(person.email)), indent=2))
    return 0


def register(person: Any) -> None:
    """Add `show` to the `person` subcommands."""
    p = person.add_parser("show", help="a person, and why their address is marked bouncing")
    p.add_argument("email", help="the person's email address")
    p.set_defaults(func=cmd_person_show)
