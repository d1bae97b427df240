"""`emailpipe person show EMAIL`, and bouncing marks set or lifted by hand (with their evidence)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def bounce_evidence_view(evidence: Any) -> dict[str, Any] | None:
    """The evidence of a bouncing mark as JSON: its fields with a value, times as ISO 8601 UTC."""
    from emailpipe.views import iso

    if evidence is None:
        return None
    view = evidence.as_dict()
    for key in ("marked_at", "cleared_at"):
        if key in view:
            view[key] = iso(view[key]) if view[key] else None
    return view


def set_bouncing_by_hand(email: str, bouncing: bool) -> None:
    """`person set --bouncing on|off`: the mark changes and its evidence says it was done by hand, and when."""
    from emailpipe.domain.bounces import BounceEvidence
    from emailpipe.store import bounces

    if bouncing:
        bounces.mark_bouncing(email, BounceEvidence(source="hand", marked_at=time.time()))
    else:
        bounces.clear_bouncing(email, time.time(), "hand")


def cmd_person_show(args: argparse.Namespace) -> int:
    """Print a person as the API shows them, with the evidence of their bouncing mark."""
    from emailpipe.cli.main import _connect
    from emailpipe.store import bounces, repo
    from emailpipe.views import person_view

    _connect()
    email = args.email.strip().lower()
    person = repo.get_person(email)
    if person is None:
        print(f"emailpipe: no person {email}", file=sys.stderr)
        return 1
    view = person_view(person)
    view["bounce_evidence"] = bounce_evidence_view(bounces.get_bounce_evidence(email))
    print(json.dumps(view, indent=2))
    return 0


def register(person: Any) -> None:
    """Add `show` to the `person` subcommands."""
    p = person.add_parser("show", help="a person, and why their address is marked bouncing")
    p.add_argument("email")
    p.set_defaults(func=cmd_person_show)
