"""The automatic answer to a reply that is not posted: its headers, its text, and how it is keyed and read back."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from emailpipe.mail.compose import AutoAnswerMail, build_auto_answer
from emailpipe.store.auto_answers import AutoAnswer, answer_item, claim_key, day_of, from_stream_image, sender_hash


def _mail(**overrides) -> AutoAnswerMail:
    fields = dict(
        from_name="Brand A",
        from_address="support@brand-a.example",
        to_name="Carol",
        to_address="carol@customer.example",
        subject="Invoice 1042",
        message_id="<auto-1@brand-a.example>",
        reason="closed",
        inbox_address="support@brand-a.example",
        in_reply_to="<reply-1@customer.example>",
        date=1_800_000_000.0,
    )
    fields.update(overrides)
    return AutoAnswerMail(**fields)


def _parse(mail) -> object:
    return message_from_bytes(bytes(mail), policy=policy.default)


def _texts(mail) -> tuple[str, str]:
    return (
        mail.get_body(preferencelist=("plain",)).get_content(),
        mail.get_body(preferencelist=("html",)).get_content(),
    )


def test_the_answer_is_marked_auto_replied_and_threads_under_the_email_it_answers():
    mail = _parse(build_auto_answer(_mail()))

    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["In-Reply-To"] == "<reply-1@customer.example>"
    assert mail["References"] == "<reply-1@customer.example>"
    assert mail["Message-ID"] == "<auto-1@brand-a.example>"
    assert mail["Subject"] == "Re: Invoice 1042"
    assert mail["From"].addresses[0].addr_spec == "support@brand-a.example"
    assert mail["From"].addresses[0].display_name == "Brand A"
    assert mail["To"].addresses[0].addr_spec == "carol@customer.example"
    assert mail.get_content_type() == "multipart/alternative"


def test_a_closed_conversation_answer_says_a_new_email_opens_a_new_conversation_in_plain_and_html():
    text, html = _texts(_parse(build_auto_answer(_mail())))

    for body in (text, html):
        assert "is closed" in body
        assert "support@brand-a.example" in body
        assert "opens a new conversation" in body
        assert "automatic answer" in body


def test_an_archived_conversation_answer_says_it_can_no_longer_receive_replies():
    text, _html = _texts(_parse(build_auto_answer(_mail(reason="archived"))))

    assert "archived and can no longer receive replies" in text
    assert "is closed" not in text


def test_a_subject_that_is_already_a_reply_gets_no_second_prefix_and_an_empty_one_a_plain_subject():
    assert _parse(build_auto_answer(_mail(subject="RE: Invoice 1042")))["Subject"] == "RE: Invoice 1042"
    assert _parse(build_auto_answer(_mail(subject="")))["Subject"] == "Your email"


def test_without_a_message_id_to_answer_there_is_no_in_reply_to():
    mail = _parse(build_auto_answer(_mail(in_reply_to=None)))

    assert mail["In-Reply-To"] is None and mail["References"] is None


def test_a_message_id_without_angle_brackets_gets_them_back():
    mail = _parse(build_auto_answer(_mail(in_reply_to="reply-1@customer.example")))

    assert mail["In-Reply-To"] == "<reply-1@customer.example>"


def test_header_injection_through_the_subject_or_name_is_folded_away():
    raw = bytes(build_auto_answer(_mail(subject="Hi\r\nBcc: victim@example.com", to_name="Carol\r\nX-Evil: 1")))
    mail = _parse(raw)

    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert b"\r\nBcc:" not in raw


def test_the_name_and_the_text_are_escaped_in_html():
    _text, html = _texts(_parse(build_auto_answer(_mail(to_name="<b>Carol</b>"))))

    assert "<b>Carol</b>" not in html and "&lt;b&gt;Carol&lt;/b&gt;" in html


@pytest.mark.parametrize("address", ["carol@customer.example", " Carol@Customer.Example "])
def test_the_cap_key_is_the_hash_of_the_lower_cased_sender_never_the_address(address):
    key = claim_key(address, "2027-01-15")

    assert sender_hash(address) == sender_hash("carol@customer.example")
    assert key == f"auto-{sender_hash('carol@customer.example')}-2027-01-15"
    assert "carol" not in key


def test_the_day_is_the_utc_day():
    assert day_of(1_800_000_000.0) == "2027-01-15"
    assert day_of(1_800_000_000.0 + 86400) == "2027-01-16"


def test_a_queued_answer_is_read_back_from_its_stream_image_with_its_claim_key():
    request = AutoAnswer(
        recipient="carol@customer.example",
        conversation_id="c1",
        reason="archived",
        s3_key="inbound/abc",
        subject="Invoice",
        recipient_name="Carol",
        inbox="billing@brand-b.example",
        email_message_id="<r@c.example>",
    )
    item = answer_item(request, 1_800_000_000.0)  # 2027-01-15 UTC
    image = item.serialize()
    image = {"pk": {"S": item.pk}, "sk": {"S": item.sk}, **image}

    assert from_stream_image(image) == (request, claim_key(request.recipient, "2027-01-15"))
    assert from_stream_image({"entity": {"S": "message"}}) is None
