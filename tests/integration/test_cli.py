"""The `emailpipe` command in another process, against the running local stack, reproduces the demo by hand."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from emailpipe.local.mailclient import reply_to

from .cli_process import BIN, cli_output


def _run(env, *args: str, stdin: bytes | None = None, code: int = 0) -> str:
    return cli_output(env.stack.endpoint, *args, stdin=stdin, code=code)


def test_the_commands_reproduce_the_demo_story(running, tmp_path):
    env = running
    _run(env, "settings", "set", "digest_window_seconds", "0")
    _run(env, "department", "add", "Billing")
    _run(env, "agent", "add", "bob@agents.example", "--name", "Bob", "--department", "Billing")
    _run(env, "presence", "bob@agents.example", "offline")
    _run(env, "user", "add", "carol@customer.example", "--name", "Carol")
    conversation = (
        _run(
            env,
            "conversation",
            "open",
            "--user",
            "carol@customer.example",
            "--department",
            "Billing",
            "--subject",
            "Hi",
        )
        .strip()
        .splitlines()[-1]
    )
    _run(env, "message", "post", conversation, "--from", "carol@customer.example", "--text", "Where is my order?")

    emails = []
    for _ in range(50):
        emails = json.loads(_run(env, "outbox", "--json"))
        if emails:
            break
    assert [e["destinations"] for e in emails] == [["bob@agents.example"]]

    reply = tmp_path / "reply.eml"
    reply.write_bytes(reply_to(emails[0]["raw"], "bob@agents.example", "Bob", "It ships today."))
    outcome = json.loads(_run(env, "inbound", str(reply), "--wait"))
    assert outcome["status"] == "stored" and outcome["reason"] == "stored"

    shown = json.loads(_run(env, "conversation", "show", conversation, "--json"))
    assert [m["text"] for m in shown["messages"]] == ["Where is my order?", "It ships today."]
    log = json.loads(_run(env, "inbound-log", "--json"))
    assert [r["status"] for r in log] == ["stored"]


def test_settings_are_shown_and_changed(env):
    assert json.loads(_run(env, "settings", "show"))["delimiter"] is True
    _run(env, "settings", "set", "convert_all_emails", "on")
    assert json.loads(_run(env, "settings", "show"))["convert_all_emails"] is True


def test_parse_prints_one_json_object_with_the_reply(tmp_path):
    raw = (
        b"From: Carol <carol@customer.example>\r\nTo: support@example.com\r\nSubject: Hi\r\n"
        b"Message-ID: <1@c.example>\r\n\r\nNew text\r\n\r\nOn Mon, Bob wrote:\r\n> old\r\n"
    )
    result = subprocess.run([str(BIN), "parse"], input=raw, capture_output=True, timeout=60, check=True)
    report = json.loads(result.stdout)

    assert report["status"] == "accepted"
    assert report["sender"] == "carol@customer.example"
    assert report["text"] == "New text"


def test_a_fixed_bouncing_address_is_cleared_and_preferences_are_set(env):
    _run(env, "user", "add", "carol@customer.example", "--name", "Carol")
    from emailpipe.store import repo

    repo.set_bouncing("carol@customer.example", True)
    shown = json.loads(
        _run(env, "person", "set", "carol@customer.example", "--bouncing", "off", "--unsubscribed", "on")
    )

    assert shown == {
        "email": "carol@customer.example",
        "email_notifications": True,
        "unsubscribed": True,
        "bouncing": False,
    }


def _carol_has_bobs_email(env) -> str:
    """Carol and agent Bob, a conversation, Bob's chat answer, and the raw email Carol got for it."""
    _run(env, "settings", "set", "digest_window_seconds", "0")
    _run(env, "user", "add", "carol@customer.example", "--name", "Carol")
    _run(env, "agent", "add", "bob@agents.example", "--name", "Bob")
    conversation = _run(env, "conversation", "open", "--user", "carol@customer.example").strip().splitlines()[-1]
    _run(env, "message", "post", conversation, "--from", "bob@agents.example", "--text", "Hi")
    for _ in range(50):
        emails = json.loads(_run(env, "outbox", "--json"))
        if emails:
            return emails[0]["raw"]
    raise AssertionError("no notification was sent")


def test_redrive_posts_a_quarantined_email_after_the_cap_is_raised(running):
    env = running
    notification = _carol_has_bobs_email(env)
    _run(env, "settings", "set", "max_emails_per_sender", "0")
    reply = reply_to(notification, "carol@customer.example", "Carol", "Capped reply")

    held = json.loads(_run(env, "inbound", "-", "--wait", stdin=reply, code=4))  # 4: quarantined
    _run(env, "settings", "set", "max_emails_per_sender", "20")
    again = json.loads(_run(env, "redrive", held["s3_key"]))
    log = json.loads(_run(env, "inbound-log", "--json", "--reason", "stored"))

    assert (held["status"], held["reason"]) == ("quarantined", "rate_limited_sender")
    assert again["status"] == "stored"
    assert [r["s3_key"] for r in log] == [held["s3_key"]]


def test_status_counts_the_last_hour_from_the_local_records(running):
    env = running
    notification = _carol_has_bobs_email(env)
    _run(env, "inbound", "-", "--wait", stdin=reply_to(notification, "carol@customer.example", "C", "Thanks"))
    hijack = reply_to(notification, "eve@evil.example", "E", "Hijack")
    assert json.loads(_run(env, "inbound", "-", "--wait", stdin=hijack, code=3))["status"] == "rejected"  # 3: rejected

    status = json.loads(_run(env, "status", "--json"))

    assert status["metrics"]["EmailsReceived"] == 2
    assert status["metrics"]["MessagesStored"] == 1
    assert status["metrics"]["EmailsRejected"] == 1
    assert status["metrics"]["NotificationsSent"] >= 2
    assert status["reasons"] == {"rejected:token_not_valid_for_sender": 1}
    assert set(status["dlq"].values()) == {0}


def _outbox(env, *args: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, AWS_ENDPOINT_URL=env.stack.endpoint)
    return subprocess.run([str(BIN), "outbox", *args], capture_output=True, env=environment, timeout=120, check=False)


def test_outbox_saves_the_next_notification_as_an_eml_that_a_reply_can_answer(running, tmp_path):
    env = running
    empty = _outbox(env, "--to", "bob@agents.example")
    assert (empty.returncode, empty.stdout, empty.stderr.decode().strip()) == (
        0,
        b"",
        "no emails yet to bob@agents.example",
    )
    _run(env, "settings", "set", "digest_window_seconds", "0")
    _run(env, "agent", "add", "bob@agents.example", "--name", "Bob")
    _run(env, "presence", "bob@agents.example", "offline")
    _run(env, "user", "add", "carol@customer.example", "--name", "Carol")
    conversation = _run(env, "conversation", "open", "--user", "carol@customer.example").strip().splitlines()[-1]
    _run(env, "message", "post", conversation, "--from", "carol@customer.example", "--text", "My invoice is wrong")

    saved = _run(env, "outbox", "--to", "bob@agents.example", "--wait", "60", "--save", str(tmp_path / "mail"))
    (path,) = [Path(line) for line in saved.splitlines()]
    report = json.loads(_run(env, "parse", str(path)))
    reply = tmp_path / "reply.eml"
    reply.write_bytes(reply_to(path.read_text(), "bob@agents.example", "Bob", "A corrected one is on its way."))
    outcome = json.loads(_run(env, "inbound", str(reply), "--wait"))

    assert path.name == "001-bob@agents.example.eml"
    # One whole email (the delimiter on top leaves no reply text in a notification itself, hence no_content).
    assert (report["sender"], report["recipients"]) == ("support@example.com", ["bob@agents.example"]), report
    assert report["sender_name"].startswith("AiX| ")  # the reply token, which the reply's recipient name carries
    assert outcome["status"] == "stored"
    assert _outbox(env, "--to", "nobody@example.org", "--json").stdout.decode().strip() == "[]"


def test_outbox_refuses_what_it_cannot_do_in_one_line(running, tmp_path):
    env = running
    a_file = tmp_path / "n.eml"
    a_file.write_text("x")

    waited = _outbox(env, "--to", "nobody@example.org", "--wait", "0.5")
    into_file = _outbox(env, "--save", str(a_file))
    negative = _outbox(env, "--wait", "-1")

    assert (waited.returncode, waited.stderr.decode().strip()) == (
        1,
        "outbox: no email to nobody@example.org within 0.5 s",
    )
    assert into_file.returncode == 2 and "needs a directory" in into_file.stderr.decode()
    assert negative.returncode == 2 and "--wait" in negative.stderr.decode()
    assert all(b"Traceback" not in r.stderr for r in (waited, into_file, negative))


@pytest.mark.parametrize("option", ["--port", "--api-port"])
def test_local_on_a_busy_port_exits_1_with_what_to_do(option):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(BIN), "local", option, str(port), *(["--port", "0"] if option == "--api-port" else [])],
            capture_output=True,
            timeout=60,
            check=False,
        )

    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f"local: port {port} is in use; give another with {option} PORT, or {option} 0 for a free one"
    )


def test_local_with_port_0_serves_on_a_free_port():
    local = subprocess.Popen(
        [str(BIN), "local", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        first = local.stdout.readline().strip()
        endpoint = first.removeprefix("AWS_ENDPOINT_URL=")
        result = subprocess.run(
            [str(BIN), "outbox"], capture_output=True, env=dict(os.environ, AWS_ENDPOINT_URL=endpoint), timeout=60
        )
    finally:
        local.terminate()
        local.wait(timeout=30)

    assert first.startswith("AWS_ENDPOINT_URL=http://127.0.0.1:") and not endpoint.endswith(":0")
    assert (result.returncode, result.stderr.decode().strip()) == (0, "no emails yet")
