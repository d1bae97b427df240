"""`emailpipe api-key create|list|revoke`: the HTTP API's keys (only their hashes are stored)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "never"


def cmd_api_key(args: argparse.Namespace, connect: Any) -> int:
    """Create (the key is printed once, on the last line), list or revoke API keys."""
    from emailpipe.store import apikeys

    connect()
    if args.action == "create":
        record, key = apikeys.create_key(args.name, args.scope)
        print(f"api key {record.key_id} ({record.name}, scope {record.scope}); shown once, store it now:")
        print(key)
        return 0
    if args.action == "list":
        keys = apikeys.list_keys()
        if args.json:
            print(json.dumps([{**vars_of(k)} for k in keys], indent=2))
            return 0
        for k in keys:
            state = f"revoked {_when(k.revoked_at)}" if k.revoked_at else "active"
            print(f"{k.key_id}  {k.scope:<5}  {state:<27}  last used {_when(k.last_used)}  {k.name}")
        return 0
    record = apikeys.revoke_key(args.key_id)
    print(f"api key {record.key_id} revoked")
    return 0


def vars_of(key: Any) -> dict[str, Any]:
    """An API key's record as JSON-able data."""
    return {
        "id": key.key_id,
        "name": key.name,
        "scope": key.scope,
        "created_at": key.created_at,
        "last_used": key.last_used,
        "revoked_at": key.revoked_at,
    }


def add_parser(sub: Any, connect: Any) -> None:
    """Register `api-key` on the command line."""
    keys = sub.add_parser("api-key", help="keys of the HTTP API").add_subparsers(dest="action", required=True)
    p = keys.add_parser("create", help="create a key; it is printed once, on the last line")
    p.add_argument("--name", required=True, help="what the key is for, e.g. support-board")
    p.add_argument("--scope", choices=["read", "write"], default="write", help="read: GET only (default write)")
    p.set_defaults(func=lambda a: cmd_api_key(a, connect))
    p = keys.add_parser("list", help="every key, with when it was last used")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=lambda a: cmd_api_key(a, connect))
    p = keys.add_parser("revoke", help="revoke a key: it stops working at once")
    p.add_argument("key_id", help="the key's id (api-key list shows them)")
    p.set_defaults(func=lambda a: cmd_api_key(a, connect))
