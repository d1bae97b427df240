"""`emailpipe mailbox test|poll`: check the configured IMAP/POP3 mailbox, or poll it once now."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any


def _secret_name(args: argparse.Namespace, info: Any) -> str | None:
    name = args.secret or info.outputs.get("MailboxSecretName") or None
    if not name:
        print(
            "emailpipe: no mailbox configured: the stack has no MailboxSecretName output; pass --secret NAME",
            file=sys.stderr,
        )
    return name


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "never"


def cmd_mailbox_test(args: argparse.Namespace, info: Any) -> int:
    """Log in, select the folder, count the messages the next polls would copy, and print what was found."""
    from emailpipe.ingress import mailbox
    from emailpipe.ingress.logic import MailboxError, inspect_mailbox
    from emailpipe.ingress.settings import MailboxConfigError, parse_settings
    from emailpipe.store import mailbox_state

    name = _secret_name(args, info)
    if name is None:
        return 2
    try:
        settings = parse_settings(mailbox_state.read_secret(name))
    except MailboxConfigError as exc:
        print(f"emailpipe: the mailbox secret {name} is invalid: {exc}", file=sys.stderr)
        return 1
    where = f"{settings.protocol} {settings.host}:{settings.port} ({settings.tls})"
    print(f"mailbox {settings.mailbox_id}: {where}, user {settings.username}")
    if settings.oauth is not None:
        print(
            f"OAuth 2.0: {settings.oauth.label}, SASL {(settings.oauth.mechanism or 'OAUTHBEARER or XOAUTH2').upper()}"
        )
    try:
        client = mailbox.connect(settings)
    except MailboxError as exc:
        print(f"login failed: {exc.reason}: {exc.detail}")
        return 1
    try:
        found = inspect_mailbox(settings, client, mailbox_state)
    except MailboxError as exc:
        print(f"listing failed: {exc.reason}: {exc.detail}")
        return 1
    finally:
        client.close()
    folder = (
        f"folder {settings.folder!r} (UIDVALIDITY {found.uidvalidity})" if settings.protocol == "imap" else "maildrop"
    )
    print(f"logged in; {folder} selected")
    login = getattr(client, "login", None)
    if login is not None:
        if login.token_expires_at is None:
            print(f"login method: {login.method} (password)")
        else:
            print(
                f"login method: {login.method}, a token from {login.via}; token expires {_when(login.token_expires_at)}"
            )
    print(f"{found.new} new message{'s' if found.new != 1 else ''} to copy ({found.listed} listed by the server)")
    marking = {
        "imap": f"move to {settings.move_to!r}" if settings.mark == "move" else "flag \\Seen $EmailpipeCopied",
        "pop3": "delete after copy" if settings.delete_after_copy else "leave on the server",
    }[settings.protocol]
    print(f"after each copy: {marking}; at most {settings.batch_size} per run, {settings.max_bytes} bytes each")
    status = mailbox_state.get_status(settings.mailbox_id)
    if status is not None:
        print(f"last run {_when(status.last_run)}, {status.copied_total} copied in all")
        if status.last_error:
            print(f"last error {status.last_error} at {_when(status.last_error_at)}: {status.last_error_detail or ''}")
    return 0


def cmd_mailbox_poll(args: argparse.Namespace, info: Any) -> int:
    """Run one poll now, as the scheduled function does, and print its result as JSON."""
    from emailpipe.ingress.handler import run_poll

    name = _secret_name(args, info)
    if name is None:
        return 2
    result = run_poll(
        name,
        table_name=info.outputs["TableName"],
        bucket=info.outputs["MailBucketName"],
        inbound_prefix=info.outputs.get("InboundPrefix", "inbound/"),
    )
    print(json.dumps(asdict(result)))
    return 0 if result.status != "error" else 1
