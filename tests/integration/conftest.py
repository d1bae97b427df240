"""Integration fixtures: one embedded moto server per test worker, re-provisioned from template.yaml per test."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest

from emailpipe.chat import ChatApi
from emailpipe.cli.main import deliver_raw_email
from emailpipe.domain.inboxes import Inbox
from emailpipe.local.stack import LocalStack, sent_emails
from emailpipe.store import repo


@pytest.fixture(scope="session")
def server() -> Any:
    stack = LocalStack().start()
    yield stack
    stack.stop()


@dataclass
class Env:
    """A freshly provisioned local stack and shortcuts the tests use."""

    stack: LocalStack
    api: ChatApi

    @property
    def outputs(self) -> dict[str, str]:
        assert self.stack.info is not None
        return self.stack.info.outputs

    def drain(self, *, wait_for_digests: bool = False) -> None:
        assert self.stack.triggers is not None
        self.stack.triggers.drain(wait_for_digests=wait_for_digests)

    def put_stranger_mail(self, count: int) -> list[str]:
        """`count` emails from strangers to the piping address, stored as SES does and not yet processed: keys."""
        keys = []
        for i in range(count):
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = f"stranger{i}@else.example", "support@example.com", f"n{i}"
            mail.set_content("Hello")
            keys.append(deliver_raw_email(self.stack.info, mail.as_bytes()))
        return keys

    def deliver(self, raw: bytes) -> Any:
        """Store a raw email as SES does, run the triggers, and return the recorded outcome."""
        key = deliver_raw_email(self.stack.info, raw)
        self.drain()
        return repo.get_inbound(key)

    def notification_to(self, world: World, who: str, text: str | None = None) -> str:
        """The raw notification `who` gets for a new chat message (the user's, or an agent's when `who` is the user)."""
        author = world.offline_agent if who == world.user else world.user
        default = "Hello from support" if who == world.user else "Hello from the user"
        self.api.post_message(world.conversation_id, author, text or default)
        self.drain()
        return self.outbox(who)[-1]["raw"]

    def outbox(self, to: str | None = None) -> list[dict[str, Any]]:
        emails = sent_emails(self.stack.endpoint)
        return [m for m in emails if to is None or to in (m["destinations"] or [])]


@pytest.fixture
def env(server: LocalStack) -> Env:
    server.reset()
    assert server.info is not None
    repo.configure(server.info.outputs["TableName"])
    outputs = server.info.outputs
    default_inbox = Inbox(address=outputs["PipingAddress"], brand_name=outputs["BrandName"])
    return Env(server, ChatApi(mail_bucket=outputs["MailBucketName"], default_inbox=default_inbox))


@pytest.fixture
def running(env: Env) -> Any:
    """The triggers polling in the background, as `emailpipe local` runs them (for commands that wait, like redrive)."""
    assert env.stack.triggers is not None
    stop = threading.Event()
    thread = threading.Thread(target=env.stack.triggers.run_forever, args=(stop, 0.1), daemon=True)
    thread.start()
    yield env
    stop.set()
    thread.join(timeout=10)


@pytest.fixture
def api_url(env: Env) -> Any:
    """The HTTP API of this test's local stack, served by the real handler (emailpipe.local.api_server)."""
    from emailpipe.local.api_server import ApiServer

    api = ApiServer(env.stack.info).start()
    yield api.url
    api.stop()


@dataclass
class World:
    """A department with an online and an offline agent, a user, and their conversation."""

    conversation_id: str
    user: str = "carol@customer.example"
    online_agent: str = "alice@agents.example"
    offline_agent: str = "bob@agents.example"
    other_agent: str = "olga@agents.example"


@pytest.fixture
def world(env: Env) -> World:
    # Most tests look at one email per message; the digest window has tests of its own.
    env.api.set_setting("digest_window_seconds", "0")
    env.api.add_department("Billing")
    env.api.add_department("Sales")
    env.api.add_agent("alice@agents.example", "Alice", ["Billing"])
    env.api.add_agent("bob@agents.example", "Bob", ["Billing"])
    env.api.add_agent("olga@agents.example", "Olga", ["Sales"])
    env.api.add_user("carol@customer.example", "Carol")
    env.api.set_presence("alice@agents.example", True)
    env.api.set_presence("bob@agents.example", False)
    env.api.set_presence("olga@agents.example", False)
    conversation = env.api.open_conversation("carol@customer.example", "Billing", "Invoice 1042")
    return World(conversation_id=conversation.id)
