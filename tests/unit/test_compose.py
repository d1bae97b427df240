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
        messages=(message,),
        author_names={"carol@c.example": "Carol"},
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


def test_a_digest_lists_every_new_message_and_links_or_attaches_files():
    from emailpipe.domain.models import AttachmentRef
    from emailpipe.mail.compose import Attached

    first = Message("m1", "c1", "bob@a.example", Role.AGENT, "First", Source.CHAT, 1e9)
    big = AttachmentRef("big.pdf", "application/pdf", 10_000_000, "0" * 64, "attachments/c1/m2/0-big.pdf")
    small = AttachmentRef("s.txt", "text/plain", 5, "1" * 64, "attachments/c1/m2/1-s.txt")
    second = Message("m2", "c1", "bob@a.example", Role.AGENT, "Second", Source.CHAT, 1e9 + 5, (big, small))
    n = _notification(
        messages=(first, second),
        links={big.s3_key: "https://example.test/big?sig", small.s3_key: "https://example.test/s?sig"},
        attached=(Attached("s.txt", "text/plain", b"hello"),),
    )

    mail = _parse(build_notification(n))
    text = mail.get_body(("plain",)).get_content()

    assert "2 new messages" in text and text.index("First") < text.index("Second")
    assert "https://example.test/big?sig" in text
    assert [part.get_filename() for part in mail.iter_attachments()] == ["s.txt"]


def test_user_text_is_escaped_in_the_html_part():
    mail = _parse(build_notification(_notification()))
    html = mail.get_body(("html",)).get_content()

    assert "<script>" not in html
    assert "&lt;script&gt;" in html
