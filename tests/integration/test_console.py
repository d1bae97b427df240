"""`emailpipe local`'s console in a real headless chromium: chat -> the agent's email -> a reply -> the chat."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.integration import browser as chromium_setup
from tests.integration.browser import ARGS, chromium

ROOT = Path(__file__).resolve().parents[2]


def _call(base: str, key: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    request = urllib.request.Request(base + path, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1
        raw = response.read()
    return json.loads(raw) if raw else {}


@pytest.fixture
def local_stack():
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "emailpipe.cli.main", "local", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    urls: dict[str, str] = {}
    lines: list[str] = []
    assert process.stdout is not None
    while "EMAILPIPE_CONSOLE_URL" not in urls:
        line = process.stdout.readline()
        assert line, "emailpipe local exited before printing its console URL"
        if "=" in line:
            name, _, value = line.strip().partition("=")
            urls[name] = value
    yield urls, process, lines
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=20)


def test_console_round_trip_in_chromium(local_stack, tmp_path):
    binary = chromium()
    if binary is None:
        pytest.skip(chromium_setup.why_not)
    from playwright.sync_api import expect, sync_playwright

    urls, process, _ = local_stack
    console = urls["EMAILPIPE_CONSOLE_URL"]
    page_html = urllib.request.urlopen(console, timeout=30).read().decode()  # noqa: S310
    key = json.loads(re.search(r"EMAILPIPE_API_KEY = (\"[^\"]+\");", page_html).group(1))
    # The world, through the public API the console proxies: an online agent, a user, a conversation.
    _call(console, key, "PATCH", "/v1/settings", {"digest_window_seconds": 0})
    _call(console, key, "POST", "/v1/departments", {"name": "Billing"})
    _call(
        console,
        key,
        "PUT",
        "/v1/people/bob@agents.example",
        {"name": "Bob", "role": "agent", "departments": ["Billing"]},
    )
    _call(console, key, "PUT", "/v1/people/carol@customer.example", {"name": "Carol", "role": "user"})
    _call(console, key, "PUT", "/v1/agents/bob@agents.example/presence", {"online": False})
    conversation = _call(
        console,
        key,
        "POST",
        "/v1/conversations",
        {"user": "carol@customer.example", "department": "Billing", "subject": "Invoice 1042"},
    )

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: print("console:", m.text))
        page.goto(console)
        page.locator(f'#conversations li[data-id="{conversation["id"]}"]').click()
        page.fill("#text", "My invoice is wrong")
        page.click("#post button")
        expect(page.locator("#messages .message").first).to_contain_text("My invoice is wrong", timeout=10_000)
        expect(page.locator("#messages .source").first).to_have_text("chat")
        # The agent's notification in the outbox, rendered.
        email = page.locator("#outbox li.email").first
        expect(email).to_contain_text("bob@agents.example", timeout=20_000)
        email.click()
        expect(page.locator("#email-text")).to_contain_text("My invoice is wrong")
        # Reply as the agent from the mail world; it comes back into the conversation as an email message.
        page.fill("#reply-text", "We have corrected it, sorry.")
        page.click("#reply button")
        expect(page.locator("#reply-status")).to_contain_text("delivered", timeout=10_000)
        reply = page.locator("#messages .message", has_text="We have corrected it")
        expect(reply).to_have_count(1, timeout=20_000)
        expect(reply.locator(".source")).to_have_text("email")
        expect(reply).not_to_contain_text("wrote:")  # the quoted history was stripped inbound
        expect(page.locator("#inbound tbody tr").first).to_contain_text("stored", timeout=10_000)
        # Presence toggle through the API.
        box = page.locator('#agents input[data-email="bob@agents.example"]')
        expect(box).not_to_be_checked()
        box.check()
        expect(page.locator("#agents")).to_contain_text("online", timeout=10_000)
        # docs/console.png is refreshed on request only (EMAILPIPE_CONSOLE_SCREENSHOT=1), not by every test run.
        shot = ROOT / "docs" / "console.png" if os.environ.get("EMAILPIPE_CONSOLE_SCREENSHOT") else tmp_path / "c.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert process.poll() is None
    # The shell's transcript: one line per email sent and per inbound outcome, addresses masked, no bodies.
    process.terminate()
    out, _ = process.communicate(timeout=20)
    assert "notification sent to b***@agents.example" in out
    assert "inbound stored stored" in out
    assert "bob@agents.example" not in out and "invoice is wrong" not in out
