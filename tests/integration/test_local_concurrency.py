"""The local triggers run concurrent invocations, as Lambda does (`emailpipe local --concurrency N`, issue 16)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from emailpipe.local.stack import Triggers
from emailpipe.store import repo


def _counting(handler: Any, seen: dict[str, int], lock: threading.Lock) -> Any:
    """The handler as the triggers call it, counting how many invocations run at once (the harness, not our code)."""

    def invoke(event: dict[str, Any], context: Any) -> Any:
        with lock:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        try:
            time.sleep(0.05)  # long enough for the other workers to overlap, as real invocations do
            return handler(event, context)
        finally:
            with lock:
                seen["now"] -= 1

    return invoke


@pytest.fixture
def concurrent(env):
    triggers = Triggers(env.stack.info, concurrency=4)
    saved, env.stack.triggers = env.stack.triggers, triggers
    yield triggers
    triggers.close()
    env.stack.triggers = saved


def test_four_workers_take_a_burst_at_once_and_every_email_gets_one_outcome(env, world, concurrent):
    seen, lock = {"now": 0, "most": 0}, threading.Lock()
    concurrent._handlers["InboundFunction"] = _counting(concurrent._handlers["InboundFunction"], seen, lock)
    keys = env.put_stranger_mail(24)

    env.drain()

    outcomes = [repo.get_inbound(key) for key in keys]
    assert None not in outcomes and len({o.reason for o in outcomes if o}) == 1  # all refused alike
    assert sorted(r.s3_key for r in repo.list_inbound()) == sorted(keys)  # one outcome each, none twice
    assert seen["most"] > 1  # invocations overlapped
    assert seen["most"] <= 4


def test_with_concurrent_workers_a_conversations_notifications_keep_their_order(env, world, concurrent):
    env.api.set_setting("digest_window_seconds", "0")
    texts = [f"question number {i}" for i in range(8)]
    for text in texts:
        env.api.post_message(world.conversation_id, world.user, text)

    env.drain()

    bodies = [m["raw"] for m in env.outbox(world.offline_agent)]
    # Each notification shows its message and may quote the earlier ones: its newest is what it is about.
    newest = [max(i for i, text in enumerate(texts) if text in raw) for raw in bodies]
    assert newest == list(range(len(texts)))  # the stream's records reach the notifier in order, one email each


def test_concurrency_below_one_is_refused(env):
    with pytest.raises(ValueError, match="concurrency is 1 or more"):
        Triggers(env.stack.info, concurrency=0)
