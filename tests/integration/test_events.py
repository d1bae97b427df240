"""Events from the table stream reach the stack's EventBridge bus, each valid against docs/events.schema.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from emailpipe.aws import client
from emailpipe.events import handler as events_handler
from emailpipe.local.mailclient import new_email, reply_to
from emailpipe.local.stack import FakeLambdaContext, _jsonable
from emailpipe.store import repo

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "events.schema.json").read_text())


class BusReader:
    """A rule on the stack's bus (every emailpipe event) with an SQS target: what an AWS-native consumer sees."""

    def __init__(self, bus: str) -> None:
        sqs, events = client("sqs"), client("events")
        self.url = sqs.create_queue(QueueName="test-bus-reader")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="test-all-events", EventBusName=bus, EventPattern=json.dumps({"source": ["emailpipe"]}))
        events.put_targets(Rule="test-all-events", EventBusName=bus, Targets=[{"Id": "reader", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        sqs = client("sqs")
        while True:
            messages = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return self.seen
            for m in messages:
                self.seen.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e["detail"] for e in self.read() if kind is None or e["detail-type"] == kind]


@pytest.fixture
def bus(env) -> BusReader:
    return BusReader(env.outputs["EventBusName"])


def test_every_kind_of_change_reaches_the_bus_as_a_schema_valid_event(env, world, bus):
    validator = jsonschema.Draft202012Validator(SCHEMA)
    env.api.post_message(world.conversation_id, world.user, "My invoice is wrong")  # chat
    env.drain()
    notification = env.outbox(world.offline_agent)[0]["raw"]
    env.deliver(reply_to(notification, world.offline_agent, "Bob", "Refunded.\n\nBob"))  # email, stored
    env.deliver(new_email("mallory@attacker.example", "M", "support@example.com", "Hi", "spam"))  # rejected
    env.api.update_conversation(world.conversation_id, status="closed", assigned_agent=world.offline_agent)
    repo.set_bouncing(world.user, True)
    env.api.post_message(world.conversation_id, world.offline_agent, "Done.")  # the user bounces: skipped
    env.drain()

    events = bus.events()
    for event in bus.seen:
        assert event["source"] == "emailpipe" and event["detail-type"] == event["detail"]["type"]
    for event in events:
        errors = [e.message for e in validator.iter_errors(event)]
        assert not errors, (event["type"], errors)
    kinds = {e["type"] for e in events}
    assert {
        "conversation.created",
        "message.created",
        "notification.sent",
        "notification.skipped",
        "inbound.stored",
        "inbound.rejected",
        "conversation.updated",
        "person.bouncing",
    } <= kinds
    created = [e["data"]["message"] for e in events if e["type"] == "message.created"]
    assert [(m["source"], m["author"]["email"]) for m in created][:2] == [
        ("chat", world.user),
        ("email", world.offline_agent),
    ]
    skipped = [e["data"] for e in events if e["type"] == "notification.skipped"]
    assert {"recipient": world.user, "reason": "bouncing"}.items() <= skipped[0].items()
    updated = next(e["data"] for e in events if e["type"] == "conversation.updated")
    assert updated["changes"]["status"] == {"old": "open", "new": "closed"}
    assert next(e for e in events if e["type"] == "person.bouncing")["data"]["person"]["email"] == world.user
    assert len({e["id"] for e in events}) == len(events)


def test_a_retried_stream_batch_publishes_the_same_event_ids(env, world, bus):
    env.api.post_message(world.conversation_id, world.user, "Hello")
    env.drain()
    first = {e["id"] for e in bus.events("message.created")}
    stream_arn = client("dynamodb").describe_table(TableName=env.outputs["TableName"])["Table"]["LatestStreamArn"]
    streams = client("dynamodbstreams")
    records = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    messages = [r for r in records if r["dynamodb"]["NewImage"].get("entity", {}).get("S") == "message"]

    result = events_handler.lambda_handler({"Records": _jsonable(messages)}, FakeLambdaContext("EventsFunction"))

    assert result == {"batchItemFailures": []}
    again = [e["id"] for e in bus.events("message.created")]
    assert len(again) == 2 and set(again) == first
