"""The whole path against the embedded moto server: raw email in S3 -> message in DynamoDB -> stream -> SES."""

from __future__ import annotations

import hashlib
import json
from email import message_from_string, policy

import pytest

from emailpipe.aws import client
from emailpipe.local.mailclient import new_email, reply_to
from emailpipe.local.stack import FakeLambdaContext, _jsonable
from emailpipe.notifier import handler as notifier_handler
from emailpipe.store import repo


def _stream_message_records(env) -> list[dict]:
    table = client("dynamodb").describe_table(TableName=env.outputs["TableName"])["Table"]
    streams = client("dynamodbstreams")
    records = []
    for shard in streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=table["LatestStreamArn"], ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    messages = [
        r
        for r in records
        if r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"].get("entity", {}).get("S") == "message"
    ]
    return _jsonable([dict(r, eventSourceARN=table["LatestStreamArn"]) for r in messages])


def _header(raw: str, name: str) -> str:
    return str(message_from_string(raw, policy=policy.default)[name] or "")


def test_user_chat_message_emails_only_the_offline_agents_of_the_department(env, world):
    env.api.post_message(world.conversation_id, world.user, "My invoice is wrong")
    env.drain()

    assert [m["destinations"] for m in env.outbox()] == [[world.offline_agent]]
    raw = env.outbox()[0]["raw"]
    assert _header(raw, "From").startswith("AiX| ")
    assert "<support@example.com>" in _header(raw, "From")
    assert _header(raw, "Auto-Submitted") == "auto-generated"
    assert "My invoice is wrong" in raw


def test_agent_reply_by_email_becomes_a_chat_message_and_the_user_is_emailed(env, world):
    env.api.post_message(world.conversation_id, world.user, "My invoice is wrong")
    env.drain()
    notification = env.outbox(world.offline_agent)[0]["raw"]

    outcome = env.deliver(reply_to(notification, world.offline_agent, "Bob", "Refunded the double charge.\n\nBob"))

    assert outcome.status.value == "stored"
    assert outcome.matched_by == "display_name"
    messages = repo.list_messages(world.conversation_id)
    assert [(m.author_email, m.source.value) for m in messages] == [
        (world.user, "chat"),
        (world.offline_agent, "email"),
    ]
    assert messages[1].text.startswith("Refunded the double charge.")
    assert "wrote:" not in messages[1].text and "My invoice is wrong" not in messages[1].text
    to_user = env.outbox(world.user)
    assert len(to_user) == 1
    assert "Refunded the double charge." in to_user[0]["raw"]


def test_user_reply_by_email_threads_with_the_previous_notification(env, world):
    env.api.post_message(world.conversation_id, world.offline_agent, "Which invoice?")
    env.drain()
    first = env.outbox(world.user)[0]["raw"]
    assert env.deliver(reply_to(first, world.user, "Carol", "Number 1042.")).status.value == "stored"
    env.api.post_message(world.conversation_id, world.offline_agent, "Thanks, fixed.")
    env.drain()

    second = env.outbox(world.user)[1]["raw"]
    assert _header(second, "In-Reply-To") == _header(first, "Message-ID")
    assert _header(second, "Subject") == _header(first, "Subject")


def _agent_reply_taken_off_the_queue(env, world) -> tuple[str, dict]:
    """Deliver an agent's reply to a notification; return its S3 key and its SQS message, taken off the queue."""
    from emailpipe.cli.main import deliver_raw_email

    env.api.post_message(world.conversation_id, world.user, "Hello")
    env.drain()
    notification = env.outbox(world.offline_agent)[0]["raw"]
    key = deliver_raw_email(env.stack.info, reply_to(notification, world.offline_agent, "Bob", "On it."))
    return key, client("sqs").receive_message(QueueUrl=env.outputs["InboundQueueUrl"])["Messages"][0]


def test_the_same_s3_event_twice_stores_one_message(env, world):
    sqs = client("sqs")
    queue = env.outputs["InboundQueueUrl"]
    key, event = _agent_reply_taken_off_the_queue(env, world)
    sqs.send_message(QueueUrl=queue, MessageBody=event["Body"])
    sqs.send_message(QueueUrl=queue, MessageBody=event["Body"])
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=event["ReceiptHandle"])
    env.drain()

    assert repo.get_inbound(key).status.value == "stored"
    assert [m.text for m in repo.list_messages(world.conversation_id) if m.source.value == "email"] == ["On it."]
    assert len(env.outbox(world.user)) == 1


def test_an_inbound_record_that_fails_is_retried_alone_and_an_all_failed_batch_fails_the_invocation(env, world):
    from emailpipe.batch import BatchFailedError
    from emailpipe.inbound import handler as inbound_handler

    key, received = _agent_reply_taken_off_the_queue(env, world)
    client("sqs").delete_message(QueueUrl=env.outputs["InboundQueueUrl"], ReceiptHandle=received["ReceiptHandle"])
    good = {"messageId": received["MessageId"], "body": received["Body"], "eventSource": "aws:sqs"}
    vanished = json.loads(received["Body"])
    vanished["Records"][0]["s3"]["object"]["key"] = "inbound/vanished-object"
    bad = {"messageId": "bad-1", "body": json.dumps(vanished), "eventSource": "aws:sqs"}

    result = inbound_handler.lambda_handler({"Records": [bad, good]}, FakeLambdaContext("InboundFunction"))

    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
    assert repo.get_inbound(key).status.value == "stored"
    with pytest.raises(BatchFailedError):
        inbound_handler.lambda_handler({"Records": [bad]}, FakeLambdaContext("InboundFunction"))


def test_the_same_stream_record_twice_sends_one_email_per_recipient(env, world):
    env.api.post_message(world.conversation_id, world.user, "Hello twice")
    env.drain()
    records = _stream_message_records(env)

    result = notifier_handler.lambda_handler({"Records": records}, FakeLambdaContext("NotifierFunction"))

    assert result == {"batchItemFailures": []}
    assert len(env.outbox(world.offline_agent)) == 1


def test_one_bad_stream_record_does_not_block_the_others(env, world):
    env.api.post_message(world.conversation_id, world.user, "Good record")
    good = _stream_message_records(env)[0]
    bad = json.loads(json.dumps(good))
    bad["dynamodb"]["SequenceNumber"] = "1"
    bad["dynamodb"]["NewImage"] = {"entity": {"S": "message"}, "pk": {"S": "CONV#x"}}

    result = notifier_handler.lambda_handler({"Records": [bad, good]}, FakeLambdaContext("NotifierFunction"))

    assert result == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert len(env.outbox(world.offline_agent)) == 1


def test_reply_from_an_unknown_sender_is_rejected(env, world):
    env.api.post_message(world.conversation_id, world.user, "Hello")
    env.drain()
    notification = env.outbox(world.offline_agent)[0]["raw"]

    outcome = env.deliver(reply_to(notification, "mallory@attacker.example", "Bob", "Send money here"))

    assert (outcome.status.value, outcome.reason) == ("rejected", "token_not_valid_for_sender")
    assert len(repo.list_messages(world.conversation_id)) == 1


def test_another_agent_using_an_agents_notification_is_rejected(env, world):
    env.api.post_message(world.conversation_id, world.user, "Hello")
    env.drain()
    notification = env.outbox(world.offline_agent)[0]["raw"]

    outcome = env.deliver(reply_to(notification, world.other_agent, "Olga", "I will take it"))

    assert (outcome.status.value, outcome.reason) == ("rejected", "token_not_valid_for_sender")


def test_email_without_a_token_is_rejected_when_convert_all_is_off(env, world):
    outcome = env.deliver(new_email(world.user, "Carol", "support@example.com", "Hi", "Anyone there?"))

    assert (outcome.status.value, outcome.reason) == ("rejected", "no_conversation_token")


def test_email_without_a_token_opens_a_conversation_when_convert_all_is_on(env, world):
    env.api.set_setting("convert_all_emails", "on")

    outcome = env.deliver(new_email("new@person.example", "New Person", "support@example.com", "Question", "Hi!"))

    assert outcome.status.value == "stored"
    assert outcome.matched_by == "convert_all_emails"
    conversation, messages = env.api.conversation(outcome.conversation_id)
    assert conversation.subject == "Question" and conversation.user_email == "new@person.example"
    assert [m.text for m in messages] == ["Hi!"]
    assert repo.get_person("new@person.example").name == "New Person"


def test_malformed_mime_is_rejected_and_the_raw_mail_stays_in_s3(env, world):
    raw = b"\x00\xff\xfe garbage that is not an email \r\n\r\n\x00"
    outcome = env.deliver(raw)

    assert outcome.status.value == "rejected"
    assert outcome.reason
    stored = client("s3").get_object(Bucket=env.outputs["MailBucketName"], Key=outcome.s3_key)["Body"].read()
    assert stored == raw


def test_reply_with_an_attachment_keeps_the_attachment_bytes(env, world):
    env.api.post_message(world.conversation_id, world.offline_agent, "Please send a screenshot")
    env.drain()
    notification = env.outbox(world.user)[0]["raw"]
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40

    outcome = env.deliver(
        reply_to(notification, world.user, "Carol", "Here it is.", attachments=[("screen.png", png, "image/png")])
    )

    assert outcome.status.value == "stored"
    message = repo.list_messages(world.conversation_id)[-1]
    assert [(a.filename, a.size, a.sha256) for a in message.attachments] == [
        ("screen.png", len(png), hashlib.sha256(png).hexdigest())
    ]
    stored = client("s3").get_object(Bucket=env.outputs["MailBucketName"], Key=message.attachments[0].s3_key)
    assert stored["Body"].read() == png


def test_mail_from_the_piping_address_itself_is_ignored(env, world):
    outcome = env.deliver(new_email("support@example.com", "AiX", "support@example.com", "Loop", "loop"))

    assert (outcome.status.value, outcome.reason) == ("rejected", "from_piping_address")


def test_mail_over_the_per_sender_cap_is_quarantined_and_can_be_redriven(env, world):
    env.api.set_setting("max_emails_per_sender", "2")
    env.api.post_message(world.conversation_id, world.offline_agent, "Tell me more")
    env.drain()
    notification = env.outbox(world.user)[0]["raw"]

    outcomes = [env.deliver(reply_to(notification, world.user, "Carol", f"Detail {n}")) for n in range(3)]

    assert [(o.status.value, o.reason) for o in outcomes] == [
        ("stored", "stored"),
        ("stored", "stored"),
        ("quarantined", "rate_limited_sender"),
    ]
    assert [m.text for m in repo.list_messages(world.conversation_id)][1:] == ["Detail 0", "Detail 1"]

    env.api.set_setting("max_emails_per_sender", "20")
    from emailpipe.inbound.handler import handle_s3_object

    again = handle_s3_object(env.outputs["MailBucketName"], outcomes[2].s3_key)
    assert again.status.value == "stored"
    assert [m.text for m in repo.list_messages(world.conversation_id)][-1] == "Detail 2"
