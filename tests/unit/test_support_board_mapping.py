"""Support Board payloads -> emailpipe: the pure mapping (shapes from Support Board's public source)."""

from __future__ import annotations

import pytest

from emailpipe.connectors.support_board import mapping
from emailpipe.domain.models import Role

# sb_send_message's sb_webhooks('SBMessageSent', ...) data: ids may be numbers or strings, there is no user_type.
MESSAGE_SENT = {
    "user_id": "47",
    "message_id": 55,
    "message": "My invoice is wrong",
    "attachments": [["invoice.pdf", "https://chat.example/uploads/invoice.pdf"]],
    "conversation_user_id": 47,
    "conversation_id": "71",
    "conversation_status_code": 2,
    "conversation_source": None,
}


def test_message_sent_is_read_with_ids_as_decimal_strings():
    event = mapping.parse_message_sent(MESSAGE_SENT)

    assert (event.message_id, event.sender_id, event.conversation_id) == ("55", "47", "71")
    assert event.sent_by_conversation_user
    assert event.attachments == (("invoice.pdf", "https://chat.example/uploads/invoice.pdf"),)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"message_id": None}, "data.message_id"),
        ({"user_id": "x1"}, "data.user_id"),
        ({"conversation_id": -3}, "data.conversation_id"),
        ({"message": 12}, "data.message"),
        ({"attachments": "a.pdf"}, "data.attachments"),
        ({"attachments": [["a.pdf"]]}, "data.attachments[0]"),
    ],
)
def test_a_malformed_message_sent_names_the_field(change, field):
    with pytest.raises(mapping.InvalidWebhookError) as caught:
        mapping.parse_message_sent({**MESSAGE_SENT, **change})

    assert caught.value.field == field


def test_the_envelope_needs_function_and_key():
    envelope = mapping.parse_envelope({"function": "message-sent", "key": "k", "data": {}, "sender-url": ""})
    assert envelope.function == "message-sent"
    with pytest.raises(mapping.InvalidWebhookError, match="key"):
        mapping.parse_envelope({"function": "message-sent", "data": {}})
    with pytest.raises(mapping.InvalidWebhookError, match="body"):
        mapping.parse_envelope(["message-sent"])


def test_archived_and_trashed_conversations_are_archived_and_closed_the_rest_open():
    assert [mapping.conversation_status(c) for c in range(5)] == ["open", "open", "open", "archived", "closed"]
    assert mapping.parse_status_updated({"conversation_id": "9", "status_code": "3"}).status_code == 3


def test_agents_keep_their_department_users_none_and_the_bot_or_an_address_less_visitor_no_person():
    names = mapping.department_names({"2": {"name": " Billing ", "color": "red", "image": ""}})
    agent = {
        "user_type": "agent",
        "email": "bob@agents.example",
        "first_name": "Bob",
        "last_name": "B",
        "department": 2,
    }
    user = {
        "user_type": "lead",
        "email": "carol@customer.example",
        "first_name": "Carol",
        "last_name": "",
        "department": 2,
    }

    assert mapping.person_from_user(agent, names) == mapping.PersonSpec(
        "bob@agents.example", "Bob B", Role.AGENT, ("Billing",)
    )
    assert mapping.person_from_user(user, names) == mapping.PersonSpec("carol@customer.example", "Carol", Role.USER)
    assert mapping.person_from_user({"user_type": "bot", "email": "bot@x.example"}, names) is None
    assert mapping.person_from_user({"user_type": "visitor", "email": None, "first_name": "User"}, names) is None


def test_the_text_hash_survives_support_boards_rewriting_of_blanks():
    sent = "Refunded.\r\n\r\n\r\nBob\tB"
    stored = "Refunded.\n\n\n\n\n\nBob\nB".replace("\n\n\n\n\n\n", "\n\n")

    assert mapping.same_text(sent, stored)
    assert not mapping.same_text(sent, "Refunded twice.")


def test_chat_text_lists_attachment_links_under_the_text():
    assert mapping.chat_text(" Here ", [("a.png", "https://x/a.png")]) == "Here\na.png: https://x/a.png"
    assert mapping.chat_text("", []) == ""
