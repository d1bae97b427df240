"""Tests for emailpipe.mail.parse: MIME in, with the recoveries mail-parser alone would miss."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import mailparser
import pytest

from emailpipe.mail import parse as parse_module
from emailpipe.mail.parse import (
    MAX_EMAIL_BYTES,
    Address,
    ParsedEmail,
    parse_email,
    parse_report,
    sanitize_filename,
)

SAMPLES = Path(__file__).resolve().parent / "mime_samples"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "mime"

logging.getLogger("mailparser").setLevel(logging.ERROR)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def simple(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("from_", "Ana <ana@example.org>")
    msg["To"] = headers.pop("to", "support@help.example.com")
    msg["Subject"] = headers.pop("subject", "hello")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Thanks, that fixed it.\n")
    return msg


def nested_multipart(levels: int) -> bytes:
    parts = [b"From: deep@example.com\r\nTo: support@help.example.com\r\nSubject: deep\r\n"]
    for i in range(levels):
        parts.append(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i))
    parts.append(b"Content-Type: text/plain\r\n\r\nhello from the bottom\r\n")
    parts.extend(b"--b%d--\r\n" % i for i in reversed(range(levels)))
    return b"".join(parts)


# --- the recoveries -------------------------------------------------------------------------------------------


def test_folded_boundary_keeps_body_and_attachment():
    raw = sample("folded_boundary.eml")
    assert not mailparser.parse_from_bytes(raw).attachments  # the loss this module exists to repair

    parsed = parse_email(raw)

    assert parsed.status == "accepted"
    assert parsed.text.strip() == "The printer is fixed, thanks."
    assert [a.filename for a in parsed.attachments] == ["invoice.pdf"]
    assert parsed.attachments[0].payload.startswith(b"%PDF-1.4")
    assert "folded_boundary" in parsed.defects


def test_sender_without_at_sign_is_recovered_from_raw_header():
    parsed = parse_email(sample("no_at_sender_and_groups.eml"))

    assert parsed.status == "accepted"
    assert parsed.sender == Address(name="", email="postmaster")
    assert "address_recovered:from" in parsed.defects


def test_group_members_are_recovered_and_words_that_are_not_addresses_are_not_recipients():
    parsed = parse_email(sample("no_at_sender_and_groups.eml"))

    emails = [a.email for a in parsed.recipients]
    assert emails == ["alice@example.com", "bob@example.com"]  # `localuser` names no mailbox
    assert Address(name="Bob B", email="bob@example.com") in parsed.to
    assert parsed.cc == ()
    assert "address_invalid:to" in parsed.defects


def test_part_without_filename_or_content_id_becomes_named_attachment():
    raw = sample("untyped_part.eml")
    assert mailparser.parse_from_bytes(raw).text_not_managed  # mail-parser alone drops it there

    parsed = parse_email(raw)

    assert parsed.status == "accepted"
    assert [(a.filename, a.content_type, a.payload) for a in parsed.attachments] == [
        ("attachment-1.bin", "application/octet-stream", b"\x00\x01\x02\x03\xff")
    ]
    assert "untyped_part_recovered" in parsed.defects


def test_mislabelled_charset_is_decoded_without_replacement_characters():
    parsed = parse_email(sample("mislabelled_charset.eml"))

    assert "café est déjà prêt" in parsed.text
    assert "\ufffd" not in parsed.text
    assert not any("\udc80" <= ch <= "\udcff" for ch in parsed.text)
    assert any(d.startswith("charset_fallback:") for d in parsed.defects)


def test_unknown_charset_label_is_decoded_best_effort():
    raw = (
        b"From: a@example.com\nSubject: x\nContent-Type: text/plain; charset=x-made-up\n"
        b"Content-Transfer-Encoding: 8bit\n\nNa\xefve r\xe9sum\xe9 of the caf\xe9 meeting, as requested.\n"
    )

    parsed = parse_email(raw)

    assert "\ufffd" not in parsed.text
    assert "résumé" in parsed.text


def test_utf8_body_labelled_latin1_is_read_as_utf8():
    raw = "From: a@example.com\nSubject: x\nContent-Type: text/plain; charset=iso-8859-1\n\nCafé déjà.\n"

    parsed = parse_email(raw.encode("utf-8"))

    assert parsed.text.strip() == "Café déjà."
    assert "charset_mislabelled:utf-8" in parsed.defects


def test_utf8_body_with_one_damaged_byte_keeps_its_label():
    body = ("Добрый день, спасибо за быстрый ответ. " * 20).encode("utf-8")
    damaged = body.replace(b". ", b".\xd1f ", 1)  # a lead byte followed by ASCII: one invalid sequence
    raw = b"From: a@example.com\nSubject: x\nContent-Type: text/plain; charset=utf-8\n\n" + damaged

    parsed = parse_email(raw)

    assert "спасибо за быстрый ответ" in parsed.text
    assert parsed.text.count("\ufffd") == 1
    assert "charset_damaged:utf-8" in parsed.defects


def test_multipart_without_boundary_parameter_is_recovered():
    parsed = parse_email(sample("missing_boundary.eml"))

    assert parsed.status == "accepted"
    assert parsed.text.strip() == "Body inside a multipart that forgot its boundary."
    assert [a.filename for a in parsed.attachments] == ["dot.png"]
    assert "boundary_recovered" in parsed.defects


# --- attachments ----------------------------------------------------------------------------------------------


def test_attachment_bytes_and_sha256_are_the_real_bytes():
    payload = bytes(range(256)) * 40
    msg = simple()
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename="blob.bin")

    parsed = parse_email(msg.as_bytes())

    (attachment,) = parsed.attachments
    assert attachment.payload == payload
    assert attachment.size == len(payload)
    assert attachment.sha256 == hashlib.sha256(payload).hexdigest()
    report = parse_report(msg.as_bytes())
    assert report["attachments"] == [
        {
            "filename": "blob.bin",
            "content_type": "application/octet-stream",
            "size": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
            "inline": False,
        }
    ]


def test_path_traversal_filename_is_reduced_to_basename():
    msg = simple()
    msg.add_attachment(b"x", maintype="text", subtype="plain", filename="../../x")

    parsed = parse_email(msg.as_bytes())

    assert [a.filename for a in parsed.attachments] == ["x"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x", "x"),
        ("..\\..\\windows\\evil.exe", "evil.exe"),
        ("/etc/passwd", "passwd"),
        ("rep\x00ort\r\n.pdf", "report.pdf"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("..", "attachment-3.png"),
        ("", "attachment-3.png"),
        (None, "attachment-3.png"),
    ],
)
def test_sanitize_filename(name, expected):
    assert sanitize_filename(name, "image/png", 3) == expected


def test_content_type_is_lower_case():
    raw = (
        b"From: a@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: Multipart/Mixed; boundary=B\n\n"
        b"--B\nContent-Type: TEXT/PLAIN\n\nhi\n--B\nContent-Type: Image/PNG; name=a.png\n\nxx\n--B--\n"
    )

    parsed = parse_email(raw)

    assert parsed.text.strip() == "hi"
    assert [a.content_type for a in parsed.attachments] == ["image/png"]


def test_inline_image_keeps_content_id():
    msg = simple()
    msg.add_alternative("<p>see <img src='cid:logo'></p>", subtype="html")
    html_part = msg.get_payload()[1]
    html_part.add_related(b"\x89PNG", maintype="image", subtype="png", cid="<logo>")

    parsed = parse_email(msg.as_bytes())

    (image,) = parsed.attachments
    assert image.content_id == "logo"
    assert image.inline is True
    assert image.filename == "logo"


# --- limits ---------------------------------------------------------------------------------------------------


def test_thousand_level_nesting_neither_crashes_nor_takes_long():
    raw = nested_multipart(1000)

    start = time.monotonic()
    parsed = parse_email(raw)
    report = parse_report(raw)
    elapsed = time.monotonic() - start

    assert elapsed < 2
    assert parsed.status in ("accepted", "rejected")
    assert "too_deep" in parsed.defects
    assert report["status"] in ("accepted", "rejected")


def test_moderate_nesting_is_parsed_in_full():
    parsed = parse_email(nested_multipart(20))

    assert parsed.text.strip() == "hello from the bottom"
    assert "too_deep" not in parsed.defects


def test_thousand_nested_attached_messages_neither_crash_nor_take_long():
    raw = b"From: a@example.com\n" + b"Content-Type: message/rfc822\n\nFrom: b@example.com\n" * 1000 + b"\nhi\n"

    start = time.monotonic()
    parsed = parse_email(raw)

    assert time.monotonic() - start < 2
    assert parsed.status == "accepted"
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]
    assert "too_deep" in parsed.defects


def test_message_of_many_tiny_parts_is_cut_not_slow():
    raw = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=B\n\n" + (
        b"--B\nContent-Type: application/octet-stream\n\nx\n" * 200_000
    )

    start = time.monotonic()
    parsed = parse_email(raw)

    assert time.monotonic() - start < 5
    assert "too_many_parts" in parsed.defects
    assert 0 < len(parsed.attachments) <= parse_module.MAX_PARTS


def test_huge_header_section_is_rejected():
    raw = b"From: a@example.com\n" + b"X-Filler: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\n" * 20_000 + b"\nhi\n"

    assert parse_email(raw).reason == "headers_too_large"


def test_address_header_of_nested_comments_does_not_crash():
    raw = b"From: a@example.com\nTo: " + b"(" * 50_000 + b"\nSubject: x\n\nhi\n"

    parsed = parse_email(raw)

    assert parsed.status == "accepted"
    assert parsed.sender.email == "a@example.com"


def test_oversized_message_is_rejected_before_parsing(monkeypatch):
    def explode(*args, **kwargs):
        raise AssertionError("parsed an oversized message")

    monkeypatch.setattr(parse_module.email, "message_from_bytes", explode)

    assert parse_email(b"x" * 101, max_bytes=100).reason == "too_large"
    parsed = parse_email(b"x" * (MAX_EMAIL_BYTES + 1))
    assert (parsed.status, parsed.reason) == ("rejected", "too_large")


# --- headers --------------------------------------------------------------------------------------------------


def test_plain_mail_is_read_without_importing_mail_parser_and_odd_headers_still_go_through_it():
    plain = b"From: Bob <bob@example.com>\nTo: support@example.com\nDate: Tue, 1 Apr 2025 10:00:00 +0200\n\nHi\n"
    odd = b"From: alice@example.com <bob@example.com>\nTo: support@example.com\n\nHi\n"
    script = (
        "import sys; from emailpipe.mail.parse import parse_email\n"
        "p = parse_email(sys.stdin.buffer.read())\n"
        "print(p.sender.email, p.sender.name, p.date, 'mailparser' in sys.modules)"
    )

    def run(raw: bytes) -> list[str]:
        out = subprocess.run([sys.executable, "-c", script], input=raw, capture_output=True, check=True)
        return out.stdout.decode().split()

    assert run(plain) == ["bob@example.com", "Bob", "2025-04-01T08:00:00+00:00", "False"]
    # The stdlib reads this as two addresses; mail-parser reads the name as a name, as the sender meant.
    assert run(odd) == ["bob@example.com", "alice@example.com", "None", "True"]


def test_rfc2047_display_name_and_subject_are_decoded():
    parsed = parse_email(sample("mislabelled_charset.eml"))

    assert parsed.sender == Address(name="José García", email="jose@example.es")
    assert parsed.subject == "Café à la crème"


def test_header_values_never_contain_cr_or_lf():
    raw = (
        b"From: =?utf-8?q?Eve=0D=0ABcc=3A_victim=40example=2Ecom?= <eve@example.com>\r\n"
        b"To: support@help.example.com\r\n"
        b"Subject: =?utf-8?q?line_one=0D=0Aline_two?=\r\n"
        b"X-Long: first part\r\n"
        b"  folded part\r\n"
        b"\r\n"
        b"body\r\n"
    )

    parsed = parse_email(raw)

    values = [parsed.subject, parsed.sender.name] + [v for pair in parsed.headers for v in pair]
    assert not any("\r" in v or "\n" in v for v in values)
    assert parsed.subject == "line one line two"
    assert dict(parsed.headers)["X-Long"] == "first part  folded part"


def test_headers_keep_every_copy_in_file_order():
    raw = (
        b"Received: from mx.ses (topmost, added by SES)\n"
        b"Received: from attacker (forged lower copy)\n"
        b"X-SES-Spam-Verdict: PASS\n"
        b"From: a@example.com\n"
        b"X-SES-Spam-Verdict: FAIL\n"
        b"Subject: x\n\nbody\n"
    )

    parsed = parse_email(raw)

    assert [name for name, _ in parsed.headers] == [
        "Received",
        "Received",
        "X-SES-Spam-Verdict",
        "From",
        "X-SES-Spam-Verdict",
        "Subject",
    ]
    assert parsed.headers[0][1] == "from mx.ses (topmost, added by SES)"


def test_message_ids_and_references_are_parsed():
    raw = (
        b"From: a@example.com\nMessage-ID:  <m1@example.org>\nIn-Reply-To: <t1@help.example.com> (comment)\n"
        b"References: <a@x> <b@y>\n <t1@help.example.com>\nSubject: re\n\nok\n"
    )

    parsed = parse_email(raw)

    assert parsed.message_id == "<m1@example.org>"
    assert parsed.in_reply_to == "<t1@help.example.com>"
    assert parsed.references == ("<a@x>", "<b@y>", "<t1@help.example.com>")


def test_address_domain_is_lower_cased_but_local_part_kept():
    parsed = parse_email(simple(from_="Ana <Ana.Lopez@Example.ORG>").as_bytes())

    assert parsed.sender == Address(name="Ana", email="Ana.Lopez@example.org")


def test_delivered_to_is_not_a_recipient():
    msg = simple(Delivered_To="other@example.net", X_Original_To="other2@example.net")

    parsed = parse_email(msg.as_bytes())

    assert [a.email for a in parsed.recipients] == ["support@help.example.com"]


# --- accept / reject ------------------------------------------------------------------------------------------


def test_message_without_sender_is_rejected_no_sender():
    parsed = parse_email(sample("no_sender.eml"))
    report = parse_report(sample("no_sender.eml"))

    assert (parsed.status, parsed.reason) == ("rejected", "no_sender")
    assert (report["status"], report["reason"]) == ("rejected", "no_sender")


def test_null_sender_is_rejected_no_sender():
    raw = b"From: MAILER DAEMON <>\nTo: a@example.com\nSubject: bounce\n\nundeliverable\n"

    assert parse_email(raw).reason == "no_sender"


def test_message_without_content_is_rejected_no_content():
    raw = b"From: a@example.com\nTo: b@example.com\nSubject: empty\n\n   \n"

    assert parse_report(raw)["reason"] == "no_content"
    assert parse_email(raw).reason == "no_content"


def test_html_only_message_is_accepted_with_text():
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "html"
    msg.set_content("<html><body><p>Yes, <b>please</b> go ahead.</p></body></html>", subtype="html")

    report = parse_report(msg.as_bytes())

    assert report["status"] == "accepted"
    assert "please" in report["text"]
    assert "<b>" not in report["text"]


def test_report_has_every_key_and_is_json():
    report = parse_report(simple(Message_ID="<m@x>").as_bytes())

    assert set(report) >= {
        "status",
        "reason",
        "sender",
        "sender_name",
        "recipients",
        "subject",
        "message_id",
        "in_reply_to",
        "token",
        "text",
        "attachments",
        "defects",
    }
    assert report["token"] is None
    assert report["sender"] == "ana@example.org"
    assert report["sender_name"] == "Ana"
    assert report["text"] == "Thanks, that fixed it."
    json.dumps(report)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\xff\xfe", b"\n\n\n", b"From:\n\n", b"Content-Type: multipart/mixed; boundary=\n\n--\n", "not bytes"],
)
def test_report_never_raises_on_garbage(raw):
    report = parse_report(raw)

    assert report["status"] == "rejected"
    assert report["reason"]


def test_report_turns_an_unexpected_exception_into_unparseable(monkeypatch):
    def broken(raw):
        raise ValueError("boom")

    monkeypatch.setattr(parse_module, "parse_email", broken)

    report = parse_report(b"From: a@example.com\n\nhi\n")

    assert (report["status"], report["reason"], report["error"]) == ("rejected", "unparseable", "ValueError")


def test_parse_email_turns_an_unexpected_exception_into_unparseable(monkeypatch):
    def broken(raw):
        raise KeyError("boom")

    monkeypatch.setattr(parse_module.email, "message_from_bytes", broken)

    parsed = parse_email(b"From: a@example.com\n\nhi\n")
    report = parse_report(b"From: a@example.com\n\nhi\n")

    assert (parsed.status, parsed.reason, parsed.defects) == ("rejected", "unparseable", ("exception:KeyError",))
    assert (report["reason"], report["error"]) == ("unparseable", "KeyError")


# --- the corpus -----------------------------------------------------------------------------------------------


@pytest.mark.skipif(
    not CORPUS.is_dir(),
    reason="runs where the shared corpus is beside the repository (../shared/corpus/mime); it is not here",
)
def test_corpus_contract_holds_for_every_message():
    paths = sorted(CORPUS.glob("*.eml"))
    assert paths
    for path in paths:
        raw = path.read_bytes()
        start = time.monotonic()
        report = parse_report(raw)
        assert time.monotonic() - start < 10, path.name
        assert report["status"] in ("accepted", "rejected"), path.name
        json.dumps(report)
        if report["status"] == "accepted":
            assert report["sender"], path.name
            assert report["text"] or report["attachments"], path.name
        else:
            assert report["reason"], path.name
            assert report["reason"] != "unparseable", (path.name, report.get("error"))
        parsed = parse_email(raw)
        assert isinstance(parsed, ParsedEmail)
        for value in [parsed.subject] + [v for pair in parsed.headers for v in pair]:
            assert "\r" not in value and "\n" not in value, path.name
        for attachment in parsed.attachments:
            assert "/" not in attachment.filename and "\\" not in attachment.filename, path.name
            assert attachment.sha256 == hashlib.sha256(attachment.payload).hexdigest()


def test_the_report_names_the_reply_token_from_display_name_plus_address_or_thread():
    from emailpipe.mail.parse import parse_report

    token = "abcdefghijkl" + "mnopqrstuvwxyz23"
    head = b"From: c@x.example\r\nSubject: x\r\n"
    by_name = head + f'To: "AiX| {token}" <support@example.com>\r\n\r\nhi\r\n'.encode()
    by_plus = head + f"To: support+{token}@example.com\r\n\r\nhi\r\n".encode()
    by_thread = head + f"To: support@example.com\r\nIn-Reply-To: <{token}.1f@example.com>\r\n\r\nhi\r\n".encode()
    plain = head + b"To: support@example.com\r\n\r\nhi\r\n"

    assert [parse_report(raw)["token"] for raw in (by_name, by_plus, by_thread, plain)] == [token, token, token, None]
