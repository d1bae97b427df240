"""The `emailpipe` command: run the local stack, administer a deployment, and pipe mail by hand."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emailpipe.domain.errors import EmailpipeError

STACK_ENV = "EMAILPIPE_STACK"
# `inbound --wait` exits with the outcome, so a script can branch on it (1 and 2 stay errors and bad usage).
INBOUND_EXIT_CODES = {"stored": 0, "rejected": 3, "quarantined": 4, "pending": 5}


def _stack_name() -> str:
    return os.environ.get(STACK_ENV, "emailpipe")


def _is_local_endpoint() -> bool:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    return endpoint.startswith(("http://127.", "http://localhost"))


def _connect() -> Any:
    """Resolve the deployment from the stack outputs and point the store at it."""
    from emailpipe.local.stack import describe_stack, local_credentials
    from emailpipe.store import repo

    if _is_local_endpoint():
        local_credentials()
    elif not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or _profile_region()):
        raise EmailpipeError(
            "no AWS endpoint and no region: for the local stack, run `emailpipe local` and export the "
            "AWS_ENDPOINT_URL=... line it prints; for a deployed stack, set AWS_REGION (or AWS_PROFILE) and, "
            "if it is not named emailpipe, EMAILPIPE_STACK"
        )
    info = describe_stack(_stack_name())
    repo.configure(info.outputs["TableName"])
    return info


def _profile_region() -> str | None:
    import boto3

    return boto3.session.Session().region_name


def _api(info: Any) -> Any:
    from emailpipe.chat import ChatApi
    from emailpipe.domain.inboxes import Inbox

    piping = info.outputs.get("PipingAddress", "").strip().lower()
    default = Inbox(address=piping, brand_name=info.outputs.get("BrandName", "AiX")) if piping else None
    return ChatApi(mail_bucket=info.outputs["MailBucketName"], default_inbox=default)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------- commands


def cmd_local(args: argparse.Namespace) -> int:
    """Run the embedded AWS in the foreground with the triggers."""
    import threading

    from emailpipe.local.api_server import ApiServer
    from emailpipe.local.stack import LocalStack

    for option, port in (("--port", args.port), ("--api-port", args.api_port), ("--console-port", args.console_port)):
        if port and not _port_free(port):
            print(
                f"local: port {port} is in use; give another with {option} PORT, or {option} 0 for a free one",
                file=sys.stderr,
            )
            return 1
    _quiet_lambda_output()
    parameters = dict(p.split("=", 1) for p in args.parameter or [])
    if args.concurrency < 1:
        print("local: --concurrency takes 1 or more workers", file=sys.stderr)
        return 2
    stack = LocalStack(port=args.port, stack_name=_stack_name(), concurrency=args.concurrency).start(parameters)
    assert stack.triggers is not None and stack.info is not None
    api = ApiServer(stack.info, port=args.api_port).start()
    from emailpipe.local.console_server import ConsoleServer, transcript
    from emailpipe.store import apikeys

    _record, console_key = apikeys.create_key("local-console", "write")
    info = stack.info
    console = ConsoleServer(
        stack.endpoint, api.url, console_key, lambda raw: deliver_raw_email(info, raw), port=args.console_port
    ).start()
    print(f"AWS_ENDPOINT_URL={stack.endpoint}", flush=True)
    print(f"EMAILPIPE_API_URL={api.url}", flush=True)
    print(f"EMAILPIPE_CONSOLE_URL={console.url}", flush=True)
    note = f"# stack {stack.stack_name} provisioned from template.yaml; state in memory; Ctrl-C stops"
    print(note, file=sys.stderr, flush=True)
    stop = threading.Event()
    threading.Thread(target=transcript, args=(stack.endpoint, stop), name="emailpipe-transcript", daemon=True).start()
    try:
        stack.triggers.run_forever(stop)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        console.stop()
        api.stop()
        stack.stop()
    return 0


def _port_free(port: int) -> bool:
    """True when 127.0.0.1:port can be bound now (moto's server thread would otherwise die and leave us waiting)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _quiet_lambda_output() -> None:
    # The handlers log and emit metrics as JSON to stdout, as in Lambda; locally that would bury the transcript.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    import warnings

    warnings.filterwarnings("ignore", message="No application metrics to publish")


def cmd_department_add(args: argparse.Namespace) -> int:
    department = _api(_connect()).add_department(args.name)
    print(f"department {department.name}")
    return 0


def cmd_agent_add(args: argparse.Namespace) -> int:
    person = _api(_connect()).add_agent(args.email, args.name, args.department or [], admin=args.admin)
    print(f"{person.role.value} {person.email}")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    person = _api(_connect()).add_user(args.email, args.name)
    print(f"user {person.email}")
    return 0


def cmd_presence(args: argparse.Namespace) -> int:
    from emailpipe.chat import normalize_email

    _api(_connect()).set_presence(args.email, args.state == "online")
    print(f"{normalize_email(args.email)} {args.state}")
    return 0


def cmd_person_set(args: argparse.Namespace) -> int:
    """Change a person's email preferences, or clear a bouncing mark once the address is fixed."""
    from emailpipe.store import repo

    _connect()
    email = args.email.strip().lower()
    if repo.get_person(email) is None:
        print(f"emailpipe: no person {email}", file=sys.stderr)
        return 1
    flag = {"on": True, "off": False}
    repo.set_email_preferences(
        email,
        notifications=flag.get(args.notifications) if args.notifications else None,
        unsubscribed=flag.get(args.unsubscribed) if args.unsubscribed else None,
    )
    if args.bouncing:
        _api(_connect()).set_bouncing(email, flag[args.bouncing])
    person = repo.get_person(email)
    assert person is not None
    print(json.dumps({k: getattr(person, k) for k in ("email", "email_notifications", "unsubscribed", "bouncing")}))
    return 0


def cmd_settings_set(args: argparse.Namespace) -> int:
    settings = _api(_connect()).set_setting(args.key, args.value)
    print(json.dumps(_settings_dict(settings)))
    return 0


def cmd_settings_show(args: argparse.Namespace) -> int:
    print(json.dumps(_settings_dict(_api(_connect()).settings()), indent=2))
    return 0


def _settings_dict(settings: Any) -> dict[str, Any]:
    return {key: getattr(settings, key) for key in settings.KEYS}


def cmd_conversation_open(args: argparse.Namespace) -> int:
    conversation = _api(_connect()).open_conversation(args.user, args.department, args.subject or "")
    print(f"conversation opened for {conversation.user_email}")
    print(conversation.id)
    return 0


def cmd_conversation_show(args: argparse.Namespace) -> int:
    api = _api(_connect())
    conversation, messages = api.conversation(args.conversation)
    warnings = api.participant_warnings(conversation)
    if args.json:
        data = {"conversation": asdict(conversation), "messages": [asdict(m) for m in messages], "warnings": warnings}
        print(json.dumps(data, indent=2))
        return 0
    print(f"conversation {conversation.id} · user {conversation.user_email} · subject {conversation.subject!r}")
    linked = f" · linked from {conversation.linked_from}" if conversation.linked_from else ""
    print(f"  status {conversation.status} · inbox {conversation.inbox or 'default'}{linked}")
    if conversation.participants:
        print(f"  participants: {', '.join(conversation.participants)}")
    for warning in warnings:
        print(f"  ! {warning}")
    for message in messages:
        author = message.author_email or "bot"
        print(f"[{_iso(message.created_at)}] {author} ({message.author_role.value}, via {message.source.value}):")
        for line in (message.text or "").splitlines() or [""]:
            print(f"    {line}")
        for attachment in message.attachments:
            print(f"    [attachment {attachment.filename}, {attachment.size} bytes, sha256 {attachment.sha256[:12]}]")
    return 0


def cmd_message_post(args: argparse.Namespace) -> int:
    message, _created = _api(_connect()).post_message(
        args.conversation, args.sender, args.text, [Path(p) for p in args.attach]
    )
    print(f"message {message.id} posted by {message.author_email or 'bot'}")
    return 0


def deliver_raw_email(info: Any, raw: bytes) -> str:
    """Put a raw email where the SES receipt rule stores mail; returns its S3 key."""
    from emailpipe.store import blobs

    key = f"{info.outputs.get('InboundPrefix', 'inbound/')}{uuid.uuid4().hex}"
    blobs.put_object(info.outputs["MailBucketName"], key, raw, "message/rfc822")
    return key


def wait_for_outcome(key: str, timeout: float = 60.0) -> Any:
    """Poll the outcome record of an inbound email until it exists."""
    from emailpipe.store import repo

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = repo.get_inbound(key)
        if record is not None:
            return record
        time.sleep(0.2)
    return None


def outcome_dict(record: Any) -> dict[str, Any]:
    """An inbound record as JSON-able data."""
    data = asdict(record)
    data["status"] = record.status.value
    return data


def cmd_inbound(args: argparse.Namespace) -> int:
    info = _connect()
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    key = deliver_raw_email(info, raw)
    if not args.wait:
        print(key)
        return 0
    record = wait_for_outcome(key, args.timeout)
    if record is None:
        print(json.dumps({"s3_key": key, "status": "pending", "reason": "no outcome recorded yet"}))
        return INBOUND_EXIT_CODES["pending"]
    print(json.dumps(outcome_dict(record)))
    return INBOUND_EXIT_CODES[record.status.value]


def cmd_inbound_log(args: argparse.Namespace) -> int:
    from emailpipe.chat import parse_since
    from emailpipe.store import repo

    _connect()
    since = parse_since(args.since) if args.since else 0.0
    records = [r for r in repo.list_inbound(since) if not args.reason or r.reason == args.reason]
    if args.json:
        print(json.dumps([outcome_dict(r) for r in records], indent=2))
        return 0
    if not records:
        print("no inbound email yet" + (" with that reason" if args.reason else ""))
        return 0
    from emailpipe.cli.listing import print_table

    rows = [
        {
            "received": _iso(r.received_at),
            "status": r.status.value,
            "reason": r.reason,
            "matched_by": r.matched_by,
            "s3_key": r.s3_key,
        }
        for r in records
    ]
    columns = [("received", "RECEIVED (UTC)"), ("status", "STATUS"), ("reason", "REASON"), ("matched_by", "MATCHED BY")]
    print_table(rows, [*columns, ("s3_key", "S3 KEY")])
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    """Send a recorded email through the inbound function again, as a new S3 event on its queue."""
    from emailpipe.store import repo

    info = _connect()
    before, queued = _api(info).redrive(args.s3_key, info.outputs["InboundQueueUrl"])
    if not queued:
        print(json.dumps(outcome_dict(before)))
        return 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        after = repo.get_inbound(args.s3_key)
        if after is not None and after.received_at != before.received_at:
            print(json.dumps(outcome_dict(after)))
            return 0
        time.sleep(0.2)
    print(json.dumps({"s3_key": args.s3_key, "status": "pending", "reason": "not processed again yet"}))
    return 1


def cmd_mailbox(args: argparse.Namespace) -> int:
    """`mailbox test` and `mailbox poll` (in emailpipe/cli/mailbox.py)."""
    from emailpipe.cli import mailbox

    _quiet_lambda_output()
    info = _connect()
    return mailbox.cmd_mailbox_test(args, info) if args.action == "test" else mailbox.cmd_mailbox_poll(args, info)


def cmd_webhook(args: argparse.Namespace) -> int:
    """`webhook add|list|show|remove|redeliver` (in emailpipe/cli/webhooks.py)."""
    from emailpipe.cli import webhooks

    _quiet_lambda_output()
    return webhooks.cmd_webhook(args, _connect())


def cmd_status(args: argparse.Namespace) -> int:
    """The last hour's figures: from CloudWatch on AWS, from the local stack's own records locally."""
    info = _connect()
    queues = {
        output.removesuffix("Url"): info.outputs.get(output, "")
        for output in ("InboundDeadLetterQueueUrl", "NotifierDeadLetterQueueUrl", "DigestDeadLetterQueueUrl")
    }
    figures = _api(info).status(args.hours, local=_is_local_endpoint(), dead_letter_queues=queues)
    if args.json:
        print(json.dumps(figures))
        return 0
    from emailpipe.cli.listing import print_table

    print(f"emailpipe status, last {args.hours:g} h ({figures['source']})")
    print()
    print_table([{"m": name, "v": f"{value:g}"} for name, value in figures["metrics"].items()], _STATUS_METRICS)
    held = [
        {"s": label.partition(":")[0], "r": label.partition(":")[2], "n": count}
        for label, count in sorted(figures["reasons"].items())
    ]
    if held:
        print()
        print_table(held, _STATUS_REASONS)
    if figures["dlq"]:
        print()
        attention = any(figures["dlq"].values())
        dlq = [
            {"q": name, "n": depth, "note": "needs attention" if depth else "ok"}
            for name, depth in figures["dlq"].items()
        ]
        print_table(dlq, _STATUS_QUEUES if attention else _STATUS_QUEUES[:2])
    return 0


_STATUS_METRICS = [("m", "METRIC"), ("v", "COUNT")]
_STATUS_REASONS = [("s", "NOT STORED"), ("r", "REASON"), ("n", "EMAILS")]
_STATUS_QUEUES = [("q", "DEAD-LETTER QUEUE"), ("n", "MESSAGES"), ("note", "NOTE")]


def cmd_outbox(args: argparse.Namespace) -> int:
    from emailpipe.local.stack import sent_emails

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint or not _is_local_endpoint():
        print(
            "outbox reads the local stack's SES: set AWS_ENDPOINT_URL to the `emailpipe local` address", file=sys.stderr
        )
        return 2
    if args.wait is not None and args.wait < 0:
        print("outbox: --wait takes a number of seconds, 0 or more", file=sys.stderr)
        return 2
    if args.save and Path(args.save).exists() and not Path(args.save).is_dir():
        print(f"outbox: --save needs a directory, and {args.save} is a file", file=sys.stderr)
        return 2

    def listed() -> list[tuple[int, dict]]:
        # Numbered by place in the whole outbox, so `--to` and `--save` name an email the same way every time.
        numbered = list(enumerate(sent_emails(endpoint), 1))
        if args.to:
            wanted = args.to.strip().lower()
            numbered = [(n, m) for n, m in numbered if wanted in m["destinations"]]
        return numbered

    emails = listed()
    if args.wait is not None:
        # Wait until there is an email (to ADDR): the notification a command just caused is often still on its way.
        deadline = time.monotonic() + args.wait
        while not emails and time.monotonic() < deadline:
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
            emails = listed()
        if not emails:
            print(f"outbox: no email{' to ' + args.to if args.to else ''} within {args.wait:g} s", file=sys.stderr)
            return 1
    if not emails:
        print(f"no emails yet{' to ' + args.to if args.to else ''}", file=sys.stderr)
    if args.save:
        folder = Path(args.save)
        folder.mkdir(parents=True, exist_ok=True)
        for number, mail in emails:
            recipient = (mail["destinations"] or ["unknown"])[0]
            path = folder / f"{number:03d}-{re.sub(r'[^A-Za-z0-9@._+-]', '_', recipient)}.eml"
            path.write_bytes((mail["raw"] or "").encode("utf-8", "surrogateescape"))
            print(path)
        return 0
    if args.json:
        print(json.dumps([mail for _, mail in emails], indent=2))
        return 0
    for number, mail in emails:
        print(f"--- email {number} to {', '.join(mail['destinations'] or [])}")
        print(mail["raw"])
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from emailpipe.mail.parse import parse_report

    raw = Path(args.file).read_bytes() if args.file else sys.stdin.buffer.read()
    print(json.dumps(parse_report(raw), ensure_ascii=False))
    return 0


def cmd_reply(args: argparse.Namespace) -> int:
    from emailpipe.domain.reply import extract_from_message, extract_reply, html_to_reply_text
    from emailpipe.mail.parse import parse_email

    raw = sys.stdin.buffer.read()
    if args.kind == "eml":
        parsed = parse_email(raw)
        text = extract_from_message(parsed.text, parsed.html)
    else:
        decoded = raw.decode("utf-8", errors="replace")
        text = extract_reply(decoded) if args.kind == "body" else html_to_reply_text(decoded)
    sys.stdout.write(text + ("\n" if text and not text.endswith("\n") else ""))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from emailpipe.local.demo import run_demo

    return run_demo()


# ---------------------------------------------------------------- parser


def _positive_hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        hours = float("nan")
    if not (0 < hours < 24 * 366):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours above 0 (e.g. 1, 0.5, 24)")
    return hours


def _known_reason(text: str) -> str:
    from emailpipe.domain.reasons import unknown_reason_message

    problem = unknown_reason_message(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="emailpipe", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "local",
        help="run the embedded AWS, provisioned from template.yaml, with the triggers, the HTTP API and a console",
        description="Run the local stack. Its state is in memory (moto keeps nothing across restarts): a restart"
        " starts empty. Prints one line per inbound outcome and per email sent (addresses masked, no bodies).",
    )
    p.add_argument("--port", type=int, default=5000, help="port of the embedded AWS endpoint (0: a free port)")
    p.add_argument("--api-port", type=int, default=0, help="port of the HTTP API (0: a free port)")
    p.add_argument("--console-port", type=int, default=0, help="port of the browser console (0: a free port)")
    p.add_argument(
        "--concurrency", type=int, default=4, help="concurrent invocations per queue, as Lambda runs them (default 4)"
    )
    p.add_argument(
        "--parameter",
        action="append",
        metavar="NAME=VALUE",
        help="a template parameter, e.g. SupportBoardSecretName=emailpipe/support-board (repeatable)",
    )
    p.set_defaults(func=cmd_local)

    p = sub.add_parser("demo", help="run the whole story on an in-process local stack")
    p.set_defaults(func=cmd_demo)

    dept = sub.add_parser("department", help="departments").add_subparsers(dest="action", required=True)
    p = dept.add_parser("add", help="add a department")
    p.add_argument("name", help="its name, e.g. Billing")
    p.set_defaults(func=cmd_department_add)

    agent = sub.add_parser("agent", help="agents and admins").add_subparsers(dest="action", required=True)
    p = agent.add_parser("add", help="add an agent (or an admin)")
    p.add_argument("email", help="the address the agent replies from")
    p.add_argument("--name", required=True, help="the name shown in chat and email")
    p.add_argument("--department", action="append", help="a department of the agent (repeatable)")
    p.add_argument("--admin", action="store_true", help="an admin rather than an agent")
    p.set_defaults(func=cmd_agent_add)

    user = sub.add_parser("user", help="chat users").add_subparsers(dest="action", required=True)
    p = user.add_parser("add", help="add a chat user")
    p.add_argument("email", help="the user's email address")
    p.add_argument("--name", required=True, help="the name shown in chat and email")
    p.set_defaults(func=cmd_user_add)

    p = sub.add_parser("presence", help="set an agent online or offline")
    p.add_argument("email", help="the agent's email address")
    p.add_argument("state", choices=["online", "offline"], help="offline agents are emailed")
    p.set_defaults(func=cmd_presence)

    person = sub.add_parser("person", help="a person's email preferences").add_subparsers(dest="action", required=True)
    p = person.add_parser("set", help="change a person's email preferences")
    p.add_argument("email", help="the person's email address")
    p.add_argument("--notifications", choices=["on", "off"], help="staff: email me about user messages")
    p.add_argument("--unsubscribed", choices=["on", "off"], help="no email at all")
    p.add_argument("--bouncing", choices=["on", "off"], help="off once a bouncing address is fixed")
    p.set_defaults(func=cmd_person_set)
    from emailpipe.cli import person_remove

    person_remove.register(person)
    from emailpipe.cli import people

    people.register(person)

    settings = sub.add_parser("settings", help="product settings").add_subparsers(dest="action", required=True)
    p = settings.add_parser("set", help="change one setting (settings show lists them)")
    p.add_argument("key", help="the setting, e.g. delimiter")
    p.add_argument("value", help="on/off, a whole number, or text")
    p.set_defaults(func=cmd_settings_set)
    p = settings.add_parser("show", help="every setting with its value")
    p.set_defaults(func=cmd_settings_show)

    conv = sub.add_parser("conversation", help="conversations").add_subparsers(dest="action", required=True)
    p = conv.add_parser("open", help="open a conversation for a user; prints its id")
    p.add_argument("--user", required=True, help="the user's email address")
    p.add_argument("--department", help="its department: only that department's agents are emailed")
    p.add_argument("--subject", help="the subject of its notifications")
    p.set_defaults(func=cmd_conversation_open)
    p = conv.add_parser("show", help="a conversation and its messages")
    p.add_argument("conversation", help="the conversation id (conversation list shows them)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_conversation_show)
    from emailpipe.cli import conversations

    conversations.register(conv)
    from emailpipe.cli import listing

    listing.register({"conversation": conv, "agent": agent, "user": user, "department": dept})

    msg = sub.add_parser("message", help="chat messages").add_subparsers(dest="action", required=True)
    p = msg.add_parser("post", help="post a chat message, as the chat product does")
    p.add_argument("conversation", help="the conversation id")
    p.add_argument("--from", dest="sender", required=True, help="an email address, or 'bot'")
    p.add_argument("--text", required=True, help="the message text")
    p.add_argument("--attach", action="append", default=[], help="a file to attach (repeatable)")
    p.set_defaults(func=cmd_message_post)

    p = sub.add_parser("inbound", help="deliver a raw email as SES would")
    p.add_argument("file", help="an .eml file, or - for stdin")
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for and print the outcome; exit 0 stored, 3 rejected, 4 quarantined, 5 pending (timed out)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="with --wait: seconds to wait (default 60)")
    p.set_defaults(func=cmd_inbound)

    p = sub.add_parser("inbound-log", help="the recorded outcome of every inbound email")
    p.add_argument("--since", help="e.g. 1h, 30m, or an ISO time (UTC)")
    p.add_argument(
        "--reason",
        type=_known_reason,
        help="only outcomes with this reason, e.g. unknown_sender (see docs/operations.md)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_inbound_log)

    p = sub.add_parser("status", help="the last hour: emails in, outcomes, notifications, dead letters")
    p.add_argument("--hours", type=_positive_hours, default=1.0, help="how many hours back (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("redrive", help="process a rejected or quarantined email again")
    p.add_argument("s3_key", help="the email's S3 key (inbound-log shows them)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the new outcome (default 60)")
    p.set_defaults(func=cmd_redrive)

    box = sub.add_parser("mailbox", help="the polled IMAP/POP3 mailbox").add_subparsers(dest="action", required=True)
    for action, text in (("test", "log in and count the new messages"), ("poll", "copy the new messages now")):
        p = box.add_parser(action, help=text)
        p.add_argument("--secret", help="the mailbox secret (default: the stack output MailboxSecretName)")
        p.set_defaults(func=cmd_mailbox)

    from emailpipe.cli import apikeys

    apikeys.add_parser(sub, _connect)

    from emailpipe.cli import inboxes as inbox_commands

    inbox_commands.add_parser(sub, lambda: _api(_connect()))

    from emailpipe.cli import webhooks as webhook_commands

    webhook_commands.add_parser(sub, cmd_webhook)

    p = sub.add_parser("outbox", help="local mode: the emails SES has sent")
    p.add_argument("--json", action="store_true", help="print the emails as a JSON list")
    p.add_argument("--to", metavar="ADDR", help="only the emails sent to ADDR")
    p.add_argument("--save", metavar="DIR", help="write each email to DIR as one .eml file (NNN-recipient.eml)")
    p.add_argument(
        "--wait", type=float, metavar="SECONDS", help="wait up to SECONDS until there is an email; exit 1 if none"
    )
    p.set_defaults(func=cmd_outbox)

    p = sub.add_parser("parse", help="parse a raw email and print what the inbound function would see")
    p.add_argument("file", nargs="?", help="an .eml file (default: stdin)")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("reply", help="print the extracted reply text of a message on stdin")
    p.add_argument("--kind", choices=["eml", "body", "html"], default="eml", help="what stdin holds (default eml)")
    p.set_defaults(func=cmd_reply)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `emailpipe` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EmailpipeError as exc:
        print(f"emailpipe: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A missing file, a directory given as a file, an unreadable one: what and where, not a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"emailpipe: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError | BotoCoreError):
            print(f"emailpipe: AWS error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    raise SystemExit(main())
