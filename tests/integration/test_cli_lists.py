"""The CLI's lists (aligned tables with headers, or --json) and its one-line answers to bad input (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from .cli_process import BIN, run_cli


def _cli(env, *args: str, environment: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli(env.stack.endpoint, *args, environment=environment, text=True)


def _columns(table: str) -> list[int]:
    """Where each column of the header line starts."""
    header = table.splitlines()[0]
    return [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]


def test_agents_users_departments_and_conversations_are_listed_in_aligned_tables_and_as_json(env, world):
    agents = _cli(env, "agent", "list")
    assert agents.returncode == 0, agents.stderr
    lines = agents.stdout.splitlines()
    assert lines[0].split() == ["EMAIL", "NAME", "ROLE", "DEPARTMENTS", "ONLINE", "BOUNCING"]
    starts = _columns(agents.stdout)
    for line in lines[1:]:  # every cell starts under its heading
        assert all(line[s - 1] == " " and line[s] != " " for s in starts[1:]), line
    assert {line.split()[0] for line in lines[1:]} == {world.online_agent, world.offline_agent, world.other_agent}

    as_json = json.loads(_cli(env, "agent", "list", "--json").stdout)
    assert {a["email"]: a["online"] for a in as_json}[world.online_agent] is True

    users = _cli(env, "user", "list").stdout.splitlines()
    assert users[0].split()[:2] == ["EMAIL", "NAME"] and users[1].split()[0] == world.user
    departments = _cli(env, "department", "list", "--json").stdout
    assert [d["name"] for d in json.loads(departments)] == ["Billing", "Sales"]

    conversations = _cli(env, "conversation", "list").stdout.splitlines()
    assert conversations[0].split()[:3] == ["ID", "STATUS", "USER"]
    assert [line.split()[:3] for line in conversations[1:]] == [[world.conversation_id, "open", world.user]]
    mine = json.loads(_cli(env, "conversation", "list", "--user", world.user, "--json").stdout)
    assert [c["id"] for c in mine] == [world.conversation_id]
    assert json.loads(_cli(env, "conversation", "list", "--status", "closed", "--json").stdout) == []


def test_an_empty_list_says_so(env):
    result = _cli(env, "department", "list")
    assert (result.returncode, result.stdout.strip()) == (0, "none yet")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("conversation", "list", "--status", "bogus"), 2, "invalid choice: 'bogus'"),
        (("status", "--hours", "-1"), 2, "not a number of hours above 0"),
        (("status", "--hours", "nan"), 2, "not a number of hours above 0"),
        (("inbound-log", "--reason", "bogus"), 2, "unknown reason 'bogus'; known reasons: authentication_required"),
        (("inbound", "/nonexistent/reply.eml"), 1, "/nonexistent/reply.eml: No such file or directory"),
        (("inbound", "."), 1, ".: Is a directory"),
        (("parse", "."), 1, ".: Is a directory"),
        (("inbound-log", "--since", "yesterday"), 1, "since takes 30m, 1h, 2d or an ISO time"),
        (("agent", "add", "bob@", "--name", "Bob"), 1, "not an email address"),
        (("user", "add", "x@y", "--name", "X"), 1, "not an email address"),
    ],
)
def test_bad_input_gets_one_line_saying_what_is_wrong_and_a_non_zero_exit(env, args, code, says):
    result = _cli(env, *args)

    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert says in lines[-1]  # the last line says it; argparse puts its usage above, our own errors are one line
    assert "Traceback" not in result.stderr
    assert code == 2 or len(lines) == 1


def test_with_no_endpoint_and_no_region_the_cli_says_how_to_point_it_somewhere(env, tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("EMAILPIPE_STACK",)}
    environment.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))

    result = _cli(env, "agent", "list", environment=environment)

    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "emailpipe local" in result.stderr and "AWS_ENDPOINT_URL" in result.stderr and "AWS_REGION" in result.stderr


def test_inbound_wait_exits_5_while_the_outcome_is_pending(env):
    raw = b"From: carol@customer.example\r\nTo: support@example.com\r\nSubject: hi\r\n\r\nHello\r\n"
    result = subprocess.run(
        [str(BIN), "inbound", "-", "--wait", "--timeout", "0"],
        input=raw,
        capture_output=True,
        env=dict(os.environ, AWS_ENDPOINT_URL=env.stack.endpoint),
        timeout=120,
        check=False,
    )
    assert result.returncode == 5
    assert json.loads(result.stdout)["status"] == "pending"


def test_inbound_log_is_a_table_with_headers_and_its_reason_filter_can_come_up_empty(running):
    env = running
    raw = b"From: stranger@else.example\r\nTo: support@example.com\r\nSubject: hi\r\n\r\nHello\r\n"
    environment = dict(os.environ, AWS_ENDPOINT_URL=env.stack.endpoint)
    run = dict(capture_output=True, env=environment, timeout=120, check=False)
    waited = subprocess.run([str(BIN), "inbound", "-", "--wait"], input=raw, **run)
    outcome = json.loads(waited.stdout)
    assert waited.returncode == 3 and outcome["status"] == "rejected"  # 3: rejected

    table = _cli(env, "inbound-log").stdout
    header, row = table.splitlines()
    assert header.split()[:4] == ["RECEIVED", "(UTC)", "STATUS", "REASON"]
    assert row[header.index("STATUS") :].split()[:2] == ["rejected", outcome["reason"]]
    assert row.endswith(outcome["s3_key"]) and header.index("S3 KEY") == row.index(outcome["s3_key"])
    assert _cli(env, "inbound-log", "--reason", "spam").stdout.strip() == "no inbound email yet with that reason"


def test_status_prints_aligned_tables_with_headers_and_the_reasons_not_stored(running):
    env = running
    raw = b"From: stranger@else.example\r\nTo: support@example.com\r\nSubject: hi\r\n\r\nHello\r\n"
    environment = dict(os.environ, AWS_ENDPOINT_URL=env.stack.endpoint)
    waited = subprocess.run(
        [str(BIN), "inbound", "-", "--wait"], input=raw, capture_output=True, env=environment, timeout=120, check=False
    )
    reason = json.loads(waited.stdout)["reason"]

    text = _cli(env, "status").stdout
    blocks = [block.splitlines() for block in text.strip().split("\n\n")]
    assert blocks[0][0].startswith("emailpipe status, last 1 h (local stack records)")
    metrics, held, queues = blocks[1], blocks[2], blocks[3]
    assert metrics[0].split() == ["METRIC", "COUNT"]
    counts = dict(line.split() for line in metrics[1:])
    assert int(counts["EmailsReceived"]) >= 1 and int(counts["EmailsRejected"]) >= 1
    assert held[0].split() == ["NOT", "STORED", "REASON", "EMAILS"]
    assert any(line.split()[:2] == ["rejected", reason] for line in held[1:])
    # Every row's count starts under its heading: one width per column.
    for table, heading in ((metrics, "COUNT"), (held, "EMAILS"), (queues, "MESSAGES")):
        column = table[0].index(heading)
        assert all(line[column - 1] == " " and line[column] != " " for line in table[1:]), table
    assert queues[0].split()[:3] == ["DEAD-LETTER", "QUEUE", "MESSAGES"]
    assert {line.split()[0] for line in queues[1:]} == {
        "InboundDeadLetterQueue",
        "NotifierDeadLetterQueue",
        "DigestDeadLetterQueue",
    }
