"""Notification emails: threading headers, loop protection, no header injection, escaped HTML."""

from email import message_from_bytes, policy

from emailpipe.domain.models import Message, Role, Source
from emailpipe.mail.compose import Notification, build_notification


def _notification(**overrides) -> Notification:
    message = Message("m1", "c1", "carol@c.example", Role.USER, "Hello <script>alert(1)</script>", Source.CHAT, 1e9)
    fields = dict(
        from_name="AiX| tok",
        from_address="support@example.com",
        reply_to="support+tok@example.com",
        to_name="Bob",
        to_address="bob@a.example",
        subject="Re: Invoice",
        message_id="<tok.1@example.com>",
        references=("<tok.0@example.com>",),
        message=message,
        author_name="Carol",
    )
    fields.update(overrides)
    return Notification(**fields)


def _parse(mail) -> object:
    return message_from_bytes(bytes(mail), policy=policy.default)


def test_a_notification_threads_and_tells_responders_it_is_automatic():
    mail = _parse(build_notification(_notification()))

    assert mail["Message-ID"] == "<tok.1@example.com>"
    assert mail["In-Reply-To"] == "<tok.0@example.com>"
    assert mail["References"] == "<tok.0@example.com>"
    assert mail["Reply-To"].addresses[0].addr_spec == "support+tok@example.com"
    assert mail["From"].addresses[0].display_name == "AiX| tok"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"


def test_the_delimiter_line_is_on_top_of_the_text_when_the_setting_is_on():
    mail = _parse(build_notification(_notification()))

    assert mail.get_body(("plain",)).get_content().startswith("### Please type your reply above this line ###")
    off = _parse(build_notification(_notification(delimiter=False)))
    assert "###" not in off.get_body(("plain",)).get_content()


def test_cr_lf_in_names_and_subjects_cannot_inject_headers():
    raw = bytes(build_notification(_notification(subject="Hi\r\nBcc: victim@x.example", to_name="Bob\nX-Evil: 1")))
    mail = message_from_bytes(raw, policy=policy.default)

    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert "victim@x.example" in str(mail["Subject"])


def test_user_text_is_escaped_in_the_html_part():
    mail = _parse(build_notification(_notification()))
    html = mail.get_body(("html",)).get_content()

    assert "<script>" not in html
    assert "&lt;script&gt;" in html
