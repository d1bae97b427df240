"""Events: the builder from stream records, their JSON Schema, EventBridge batching and the fan-out (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from emailpipe.domain.models import Conversation, InboundRecord, Message, Outcome, Role, Source
from emailpipe.events import schema
from emailpipe.events.fanout import EventsContext, handle_records
from emailpipe.events.publish import PublishError, put_events
from emailpipe.local.stack import _matches, load_template
from emailpipe.store import repo
from emailpipe.store.models import DeliveryItem, PersonItem
from emailpipe.store.webhooks import StoredEvent, Subscription, decode_image

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "events.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
CONVERSATION = Conversation("c0nv", "carol@customer.example", "Invoice", "Billing", None, "open", 1_700_000_000.0)


def _conversation_image(conversation: Conversation) -> dict[str, Any]:
    return repo._conversation_item(conversation).serialize()  # the item exactly as the store writes it


def _message(source: Source = Source.EMAIL, role: Role = Role.USER) -> Message:
    return Message("m1", "c0nv", "carol@customer.example", role, "hello", source, 1_700_000_100.5)


def _person_image(bouncing: bool) -> dict[str, Any]:
    return PersonItem(
        pk="PERSON#carol@customer.example", sk="PROFILE", entity="person", email="carol@customer.example",
        name="Carol", role="user", bouncing=bouncing,
    ).serialize()  # fmt: skip


def _delivery_image(status: str, message_id: str = "m1") -> dict[str, Any]:
    return DeliveryItem(
        pk=f"DELIVERY#{message_id}", sk="TO#bob@agents.example", entity="delivery", status=status,
        conversation_id="c0nv",
    ).serialize()  # fmt: skip


def _record(new: dict[str, Any], old: dict[str, Any] | None = None, event_id: str = "e-1") -> dict[str, Any]:
    stream: dict[str, Any] = {"NewImage": new, "SequenceNumber": "100", "ApproximateCreationDateTime": 1_700_000_200}
    if old is not None:
        stream["OldImage"] = old
    return {"eventID": event_id, "eventName": "MODIFY" if old is not None else "INSERT", "dynamodb": stream}


def _build(record: dict[str, Any]) -> dict[str, Any] | None:
    return schema.build_event(record, decode_image, lambda _id: CONVERSATION)


def _valid(event: dict[str, Any] | None) -> dict[str, Any]:
    assert event is not None
    errors = sorted(VALIDATOR.iter_errors(event), key=str)
    assert not errors, [e.message for e in errors]
    return event


# ---------------------------------------------------------------- the builder


@pytest.mark.parametrize("source", [Source.EMAIL, Source.CHAT, Source.BOT])
def test_a_new_message_is_message_created_with_its_source_and_conversation(source: Source):
    role = Role.BOT if source is Source.BOT else Role.USER
    event = _valid(_build(_record(repo._message_item(_message(source, role)).serialize())))

    assert event["type"] == "message.created"
    assert event["data"]["message"]["source"] == source.value
    assert event["data"]["message"]["text"] == "hello"
    assert event["data"]["conversation"]["id"] == "c0nv"
    assert event["timestamp"] == "2023-11-14T22:16:40.000Z"


def test_the_event_id_is_the_same_for_the_same_stream_record_and_differs_between_records():
    image = repo._message_item(_message()).serialize()

    first, again, other = (_build(_record(image, event_id=e)) for e in ("e-1", "e-1", "e-2"))

    assert first is not None and again is not None and other is not None
    assert first["id"] == again["id"] != other["id"]
    assert first["id"].startswith("evt_") and len(first["id"]) == 30


def test_conversation_insert_is_created_and_a_change_is_updated_with_old_and_new_values():
    created = _valid(_build(_record(_conversation_image(CONVERSATION))))
    new = Conversation("c0nv", CONVERSATION.user_email, "Invoice", "Billing", "bob@agents.example", "closed", 1.7e9)
    updated = _valid(_build(_record(_conversation_image(new), old=_conversation_image(CONVERSATION))))

    assert created["type"] == "conversation.created"
    assert updated["type"] == "conversation.updated"
    assert updated["data"]["changes"] == {
        "status": {"old": "open", "new": "closed"},
        "assigned_agent": {"old": None, "new": "bob@agents.example"},
    }


def test_a_conversation_write_that_changes_nothing_shown_makes_no_event():
    image = _conversation_image(CONVERSATION)

    assert _build(_record(image, old=image)) is None


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_inbound_outcome_is_an_event_with_its_reason(outcome: Outcome):
    record = InboundRecord("inbound/abc", outcome, "unknown_sender", 1_700_000_000.0, sender_hash="0123abcd")
    event = _valid(_build(_record(repo._inbound_item(record).serialize())))

    assert event["type"] == f"inbound.{outcome.value}"
    assert event["data"]["reason"] == "unknown_sender"
    assert "carol" not in json.dumps(event)  # the sender only as a hash


def test_a_redrive_that_changes_the_outcome_is_a_new_event_and_one_that_does_not_is_none():
    rejected = InboundRecord("inbound/abc", Outcome.REJECTED, "no_token", 1.7e9)
    stored = InboundRecord("inbound/abc", Outcome.STORED, "stored", 1.7e9)
    image = repo._inbound_item(rejected).serialize()

    assert _build(_record(repo._inbound_item(stored).serialize(), old=image))["type"] == "inbound.stored"  # type: ignore[index]
    assert _build(_record(image, old=image)) is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, "sent", "notification.sent"),
        ("sending", "sent", "notification.sent"),
        (None, "skipped_online", "notification.skipped"),
        ("sending", "failed_permanent", "notification.failed"),
        ("sending", "failed", "notification.failed"),
        (None, "sending", None),
        ("sent", "sent", None),
    ],
)
def test_delivery_items_become_notification_events(old: str | None, new: str, expected: str | None):
    event = _build(_record(_delivery_image(new), old=_delivery_image(old) if old else None))

    if expected is None:
        assert event is None
        return
    _valid(event)
    assert event is not None and event["type"] == expected
    assert event["data"]["recipient"] == "bob@agents.example"
    if expected == "notification.skipped":
        assert event["data"]["reason"] == "online"
    if expected == "notification.failed":
        assert event["data"]["permanent"] is (new == "failed_permanent")


def test_a_digest_claim_is_not_a_notification_event_of_its_own():
    assert _build(_record(_delivery_image("sent", message_id="digest-abc"))) is None


def test_a_person_is_an_event_only_when_bouncing_turns_true():
    bouncing = _valid(_build(_record(_person_image(True), old=_person_image(False))))

    assert bouncing["type"] == "person.bouncing"
    assert bouncing["data"]["person"]["email"] == "carol@customer.example"
    assert _build(_record(_person_image(True), old=_person_image(True))) is None
    assert _build(_record(_person_image(False), old=_person_image(False))) is None


def test_removals_and_other_entities_make_no_event():
    image = repo._message_item(_message()).serialize()

    assert _build({"eventID": "x", "eventName": "REMOVE", "dynamodb": {"OldImage": image}}) is None
    assert _build(_record({"pk": {"S": "EVENT#x"}, "sk": {"S": "EVENT"}, "entity": {"S": "event"}})) is None


def test_the_events_functions_stream_filter_admits_exactly_the_entities_that_make_events():
    events = load_template()["Resources"]["EventsFunction"]["Properties"]["Events"]["TableChanged"]["Properties"]
    filters = [json.loads(f["Pattern"]) for f in events["FilterCriteria"]["Filters"]]

    def admitted(record: dict[str, Any]) -> bool:
        return any(_matches(f, record) for f in filters)

    assert admitted(_record(repo._message_item(_message()).serialize()))
    assert admitted(_record(_conversation_image(CONVERSATION)))
    assert admitted(_record(_delivery_image("sent")))
    assert admitted(_record(_person_image(True), old=_person_image(False)))
    assert not admitted(_record(_person_image(False)))  # a presence update
    assert not admitted(_record({"entity": {"S": "event"}}))
    assert not admitted(_record({"entity": {"S": "webhook"}}))
    assert not admitted({"eventName": "REMOVE", "dynamodb": {"OldImage": _person_image(True)}})


def test_every_event_type_is_in_the_schema():
    assert set(SCHEMA["properties"]["type"]["enum"]) == set(schema.EVENT_TYPES)


# ---------------------------------------------------------------- EventBridge


def _events(n: int) -> list[dict[str, Any]]:
    return [schema.make_event("message.created", f"e{i}", 1.7e9, {"n": i}) for i in range(n)]


def test_events_are_put_ten_per_request_on_the_bus_with_source_and_detail_type():
    calls: list[list[dict[str, Any]]] = []

    def put(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs["Entries"])
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"} for _ in kwargs["Entries"]]}

    put_events(put, "bus", _events(23))

    assert [len(c) for c in calls] == [10, 10, 3]
    entry = calls[0][0]
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == ("emailpipe", "message.created", "bus")
    assert json.loads(entry["Detail"])["data"] == {"n": 0}


def test_entries_the_bus_refuses_are_retried_alone_and_reported_when_they_keep_failing():
    calls: list[list[str]] = []

    def put(**kwargs: Any) -> dict[str, Any]:
        ids = [json.loads(e["Detail"])["id"] for e in kwargs["Entries"]]
        calls.append(ids)
        failing = {events[1]["id"]} if len(calls) < 3 else set()
        results = [{"ErrorCode": "ThrottlingException"} if i in failing else {"EventId": i} for i in ids]
        return {"FailedEntryCount": len(failing), "Entries": results}

    events = _events(3)
    put_events(put, "bus", events, sleep=lambda _s: None)

    assert [len(c) for c in calls] == [3, 1, 1]

    def always(**kwargs: Any) -> dict[str, Any]:
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"} for _ in kwargs["Entries"]]}

    with pytest.raises(PublishError) as raised:
        put_events(always, "bus", events[:1], sleep=lambda _s: None)
    assert raised.value.failed == (events[0]["id"],)


# ---------------------------------------------------------------- fan-out


def _context(stored: list[StoredEvent], queued: list[dict[str, Any]], publish: Any) -> EventsContext:
    subscriptions = [
        Subscription("wh_all", "https://a.example/", "whsec_x"),
        Subscription("wh_msg", "https://b.example/", "whsec_x", events=("message.*",)),
        Subscription("wh_inb", "https://c.example/", "whsec_x", events=("inbound.rejected",)),
    ]
    return EventsContext(
        decode=decode_image,
        conversation_of=lambda _id: CONVERSATION,
        store_events=stored.extend,
        publish=publish,
        subscriptions=lambda: subscriptions,
        enqueue=queued.extend,
    )


def test_each_event_is_stored_published_and_queued_once_per_subscription_that_wants_it():
    stored: list[StoredEvent] = []
    queued: list[dict[str, Any]] = []
    published: list[dict[str, Any]] = []
    records = [
        _record(repo._message_item(_message()).serialize(), event_id="a"),
        _record(_person_image(False), event_id="b"),  # no event
        _record(_conversation_image(CONVERSATION), event_id="c"),
    ]

    failed = handle_records(records, _context(stored, queued, published.extend))

    assert failed == []
    assert [e["type"] for e in published] == ["message.created", "conversation.created"]
    assert [json.loads(s.body)["id"] for s in stored] == [e["id"] for e in published]
    assert sorted((q["subscription_id"], q["event_type"]) for q in queued) == [
        ("wh_all", "conversation.created"),
        ("wh_all", "message.created"),
        ("wh_msg", "message.created"),
    ]


def test_when_the_bus_refuses_an_event_its_record_and_the_later_ones_are_retried_and_not_queued():
    queued: list[dict[str, Any]] = []
    records = [
        _record(repo._message_item(_message()).serialize(), event_id="a"),
        _record(_conversation_image(CONVERSATION), event_id="c"),
    ]
    records[1]["dynamodb"]["SequenceNumber"] = "200"

    def publish(events: Any) -> None:
        raise PublishError([events[1]["id"]], "InternalFailure")

    failed = handle_records(records, _context([], queued, publish))

    assert failed == ["200"]
    assert {q["event_type"] for q in queued} == {"message.created"}
