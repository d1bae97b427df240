"""The local triggers treat an invocation that raises as Lambda treats a crashed one (issue 16)."""

from __future__ import annotations

import json
import time
from typing import Any

from emailpipe.aws import client
from emailpipe.store import repo


def _crashing_first(handler: Any, calls: list[int]) -> Any:
    """The handler, except that its first invocation dies before doing anything (the harness, not our code)."""

    def invoke(event: dict[str, Any], context: Any) -> Any:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("the process died")
        return handler(event, context)

    return invoke


def _counts(url: str) -> tuple[int, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


def test_a_crashed_sqs_invocation_leaves_its_whole_batch_queued_until_the_visibility_timeout(env):
    triggers = env.stack.triggers
    calls: list[int] = []
    triggers._handlers["InboundFunction"] = _crashing_first(triggers._handlers["InboundFunction"], calls)
    keys = env.put_stranger_mail(3)

    env.drain()  # the crash does not escape the triggers

    batch = calls[0]  # the three emails (and the bucket's s3:TestEvent, if still queued)
    assert len(calls) == 1 and batch >= 3
    assert _counts(env.outputs["InboundQueueUrl"]) == (0, batch)  # none deleted, all in flight
    assert [repo.get_inbound(key) for key in keys] == [None, None, None]
    time.sleep(triggers.visibility_timeout + 0.5)
    env.drain()
    assert calls == [batch, batch]  # the same batch again
    assert all(repo.get_inbound(key) is not None for key in keys)
    assert _counts(env.outputs["InboundQueueUrl"]) == (0, 0)


def test_a_stream_batch_whose_invocations_keep_raising_is_retried_then_sent_to_the_on_failure_queue(env, world):
    triggers = env.stack.triggers
    calls: list[int] = []

    def always_crashes(event: dict[str, Any], context: Any) -> Any:
        calls.append(len(event["Records"]))
        raise RuntimeError("the process died")

    triggers._handlers["NotifierFunction"] = always_crashes
    env.api.post_message(world.conversation_id, world.user, "Hello")

    env.drain()

    notifier = next(s for s in triggers.sources if s.function == "NotifierFunction")
    assert calls == [1] * (notifier.max_retries + 1)
    messages = client("sqs").receive_message(QueueUrl=env.outputs["NotifierDeadLetterQueueUrl"])["Messages"]
    info = json.loads(messages[0]["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1
    assert env.outbox(world.offline_agent) == []
