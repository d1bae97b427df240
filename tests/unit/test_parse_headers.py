"""Tests for parse_email's headers: header blocks that break, raw 8-bit bytes, lying labels, addresses.

Every message here is written for the test (made-up people at example domains), after the shapes real mail
takes: a spam-filter tracker folded without indentation, a boundary on its own unindented line, a message
saved with a separator line before its headers, a From header of question marks before the real one.
"""

from __future__ import annotations

import base64

from emailpipe.mail.mime_raw import repair_header_block
from emailpipe.mail.parse import Address, parse_email

LIMIT = 256 * 1024


def lines(*rows: str | bytes) -> bytes:
    return b"\r\n".join(row.encode() if isinstance(row, str) else row for row in rows)


def readable(text: str) -> bool:
    return "\ufffd" not in text and not any("\udc80" <= char <= "\udcff" for char in text)


# --- header blocks that break -----------------------------------------------------------------------------------


def test_an_unindented_fold_mid_headers_no_longer_hides_the_sender():
    raw = lines(
        "Return-Path: <karin@example.de>",
        "X-Filter-Tracker: H4sIAAAAAAAAA+NgFlrIKsWRWlGSWpSXmKPExsWi75nTrTtrwZM",
        "Ig5drOCwmrVzP5sDoseXbDeYAxijWzLyk/IoE1owFz6ezFkxKrWjafpWpgfFOchcjF4eQwDZG",
        "WL2aW/TrRKrlLj19r1H4uNT+mcsr7Fd77e0ynR7MPSdiWW4oxEQy3mouJEAFAagtA0AwAA",
        "Received: from mx.example.de (10.1.1.1) by",
        "relay.example.com (10.2.2.2) with Microsoft SMTP Server id 15.0.1263.5",
        'From: "Berg, Karin" <Karin.Berg@example.de>',
        "To: support@help.example.com",
        "Subject: AW: Rechnung 2024-17",
        "Content-Type: multipart/alternative;",
        'boundary="_000_abc_"',
        "MIME-Version: 1.0",
        "",
        "--_000_abc_",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Die Rechnung ist angekommen, danke.",
        "--_000_abc_--",
        "",
    )

    parsed = parse_email(raw)

    assert parsed.status == "accepted"
    assert parsed.sender == Address(name="Berg, Karin", email="Karin.Berg@example.de")
    assert parsed.subject == "AW: Rechnung 2024-17"
    assert parsed.text.strip() == "Die Rechnung ist angekommen, danke."  # the unindented boundary was read too
    assert "header_block_repaired" in parsed.defects
    tracker = dict(parsed.headers)["X-Filter-Tracker"]
    assert tracker.startswith("H4sI") and "Ig5dr" in tracker


def test_a_separator_line_before_the_headers_is_skipped():
    raw = lines(
        "---- Original email message ----",
        "Return-Path: forms@web.example.cz",
        "To: helpdesk@help.example.com",
        "Subject: Contact from Server",
        "From: forms@web.example.cz",
        "Content-Type: text/plain; charset=windows-1250",
        "",
        "Odesláno ze stránky.".encode("cp1250"),
        "",
    )

    parsed = parse_email(raw)

    assert (parsed.status, parsed.sender.email, parsed.subject) == (
        "accepted",
        "forms@web.example.cz",
        "Contact from Server",
    )
    assert parsed.text.strip() == "Odesláno ze stránky."
    assert "header_block_repaired" in parsed.defects


def test_blank_lines_before_the_headers_are_skipped():
    raw = lines("", "", "From: ana@example.org", "Subject: hi", "", "Hello.", "")

    parsed = parse_email(raw)

    assert (parsed.status, parsed.sender.email, parsed.text.strip()) == ("accepted", "ana@example.org", "Hello.")


def test_an_mbox_from_line_and_a_separator_before_the_headers():
    raw = lines("From ana@example.org Mon Jan  1 00:00:00 2024", "====", "From: ana@example.org", "", "Hi.", "")

    assert parse_email(raw).sender.email == "ana@example.org"


def test_a_header_name_with_a_space_before_its_colon_is_read():
    raw = lines("From: ana@example.org", "Subject : Printer", "To: b@example.com", "", "It works.", "")

    parsed = parse_email(raw)

    assert (parsed.subject, [a.email for a in parsed.to]) == ("Printer", ["b@example.com"])
    assert parsed.text.strip() == "It works."


def test_the_first_header_may_have_a_space_before_its_colon():
    raw = lines("Subject : Printer", "From: ana@example.org", "", "It works.", "")

    assert (parse_email(raw).subject, parse_email(raw).sender.email) == ("Printer", "ana@example.org")


def test_a_message_that_really_has_no_headers_keeps_no_sender():
    raw = lines(
        "Hello,", "this is just text", "pasted into a file", "with no headers at all", "From: ana@example.org", ""
    )

    assert parse_email(raw).reason == "no_sender"


def test_a_body_without_its_blank_line_is_not_turned_into_headers():
    raw = lines(
        "From: ana@example.org",
        "Subject: question",
        "Hello team,",
        "I have a question about my invoice.",
        "Note: it is urgent",
        "",
        "Thanks",
        "",
    )

    parsed = parse_email(raw)

    assert parsed.subject == "question"
    assert "Hello team," in parsed.text and "Note: it is urgent" in parsed.text
    assert "header_block_repaired" not in parsed.defects


def test_a_mime_body_without_its_blank_line_keeps_its_parts():
    raw = lines(
        "From: ana@example.org",
        "Subject: report",
        'Content-Type: multipart/alternative; boundary="b1"',
        "This is a multi-part message in MIME format.",
        "--b1",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "The report is attached.",
        "--b1--",
        "",
    )

    parsed = parse_email(raw)

    assert parsed.status == "accepted"
    assert "header_block_repaired" not in parsed.defects
    assert "The report is attached." in parsed.text


def test_the_body_never_becomes_headers():
    raw = lines(
        "From: ana@example.org",
        "Subject: hi",
        "",
        "From: ceo@example.com",
        "Subject: pay this",
        "",
        "text",
        "",
    )

    parsed = parse_email(raw)

    assert (parsed.sender.email, parsed.subject) == ("ana@example.org", "hi")
    assert parsed.from_count == 1
    assert repair_header_block(raw, LIMIT) == (raw, False)


def test_a_fake_from_after_a_garbage_line_does_not_replace_the_first_from():
    raw = lines(
        "From: ana@example.org",
        "garbage line without a colon",
        "From: ceo@example.com",
        "Subject: hi",
        "",
        "text",
        "",
    )

    parsed = parse_email(raw)

    assert parsed.sender.email == "ana@example.org"
    assert parsed.from_count == 2  # two authors: the inbound path refuses it (multiple_from)


def test_repair_leaves_well_formed_headers_alone():
    raw = lines("From: ana@example.org", "Subject: hi", " folded", "", "body", "")

    assert repair_header_block(raw, LIMIT) == (raw, False)
    assert repair_header_block(b"From: a@example.org", LIMIT) == (b"From: a@example.org", False)


def test_repair_goes_no_further_than_its_limit():
    raw = lines("From: ana@example.org", "odd", "Subject: hi", "", "body", "")

    assert repair_header_block(raw, 30) == (raw, False)
    assert repair_header_block(raw, LIMIT)[1] is True


def test_the_first_from_that_names_a_mailbox_is_the_sender():
    name = base64.b64encode("都琹".encode()).decode()
    raw = lines(
        "From: [??????]",
        "Reply-To: sales@example.cn",
        f"From: =?utf-8?B?{name}?= <dou@example.cn>",
        "Subject: offer",
        "",
        "text",
        "",
    )

    parsed = parse_email(raw)

    assert parsed.sender == Address(name="都琹", email="dou@example.cn")
    assert parsed.from_count == 1


def test_two_real_from_headers_are_two_authors():
    raw = lines("From: ana@example.org", "From: bob@example.com", "", "text", "")

    parsed = parse_email(raw)

    assert (parsed.sender.email, parsed.from_count) == ("ana@example.org", 2)


def test_without_from_the_sender_stays_unknown():
    raw = lines("Reply-To: <sales@example.cn>", "To: a@example.com", "Subject: offer", "", "text", "")

    assert parse_email(raw).reason == "no_sender"


# --- raw 8-bit bytes in headers ------------------------------------------------------------------------------


def test_raw_utf8_display_name_and_subject():
    raw = lines("From: Jürgen Müller <j@example.de>", "Subject: Grüße aus Köln", "", "Hallo", "")

    parsed = parse_email(raw)

    assert (parsed.sender.name, parsed.subject) == ("Jürgen Müller", "Grüße aus Köln")


def test_raw_latin1_display_name():
    raw = lines(b'From: "J\xfcrgen M\xfcller" <j@example.de>', b"Subject: Re: Angebot", b"", b"Hallo", b"")

    parsed = parse_email(raw)

    assert parsed.sender == Address(name="Jürgen Müller", email="j@example.de")
    assert "header_8bit:windows-1252" in parsed.defects


def test_raw_gbk_display_name_subject_and_address_domain_read_together():
    raw = lines(
        b'From: "' + "王小明".encode("gbk") + b'" <wang@example.cn>',
        b"Subject: " + "关于报价单的问题".encode("gbk"),
        b"To: support@help.example.com",
        b'Content-Type: text/plain; charset="gb2312"',
        b"",
        "您好".encode("gbk"),
        b"",
    )

    parsed = parse_email(raw)

    assert parsed.sender == Address(name="王小明", email="wang@example.cn")
    assert parsed.subject == "关于报价单的问题"
    assert parsed.text.strip() == "您好"


def test_raw_shift_jis_subject_under_an_iso_2022_jp_body():
    raw = lines(
        b"From: shop@example.jp",
        b"Subject: " + "ご注文の確認".encode("cp932"),
        b"Content-Type: text/plain; charset=iso-2022-jp",
        b"",
        "ありがとうございます".encode("iso2022_jp"),
        b"",
    )

    parsed = parse_email(raw)

    assert parsed.subject == "ご注文の確認"
    assert parsed.text.strip() == "ありがとうございます"


def test_raw_big5_name_with_the_body_charset_as_hint():
    raw = lines(
        b"From: " + "陳大文".encode("big5") + b" <chan@example.hk>",
        b"Content-Type: text/plain; charset=big5",
        b"",
        "你好".encode("big5"),
        b"",
    )

    assert parse_email(raw).sender.name == "陳大文"


def test_no_header_ever_shows_escapes_or_replacement_characters():
    raw = lines(
        b"From: " + "Łukasz Żółw".encode("cp1250") + b" <l@example.pl>",
        b"Subject: " + "Zażółć gęślą jaźń".encode("cp1250"),
        b"Content-Type: text/plain; charset=windows-1250",
        b"",
        b"ok",
        b"",
    )

    parsed = parse_email(raw)

    assert parsed.sender.name == "Łukasz Żółw"
    assert parsed.subject == "Zażółć gęślą jaźń"
    assert all(readable(value) for pair in parsed.headers for value in pair)


# --- lying labels and broken words in display names ----------------------------------------------------------------


def test_iso_2022_jp_display_name_holding_shift_jis_bytes():
    word = base64.b64encode("ツール EXAMPLE".encode("cp932")).decode()
    raw = lines(f"From: =?ISO-2022-JP?B?{word}?= <bar@example.org>", "Subject: x", "", "text", "")

    assert parse_email(raw).sender == Address(name="ツール EXAMPLE", email="bar@example.org")


def test_quoted_encoded_word_with_extra_padding_in_a_folded_from():
    word = base64.b64encode("事務局".encode("iso2022_jp")).decode()
    raw = lines(f'From: "=?ISO-2022-JP?B?{word}==?="', " <noreply@example.org>", "Subject: x", "", "text", "")

    assert parse_email(raw).sender == Address(name="事務局", email="noreply@example.org")


def test_gb2312_subject_with_gbk_characters():
    word = base64.b64encode("內應力產生与注塑工艺".encode("gbk")).decode()
    raw = lines("From: a@example.cn", f"Subject: =?GB2312?B?{word}?=", "", "text", "")

    assert parse_email(raw).subject == "內應力產生与注塑工艺"


# --- addresses ----------------------------------------------------------------------------------------------------


def test_a_comment_is_not_part_of_the_display_name():
    raw = lines(
        "From: MAILER-DAEMON (Mail Delivery System) <postmaster@mx.example.com>",
        "To: Ana (work) <ana@example.org>, (Support desk) <help@example.com>",
        'Cc: "Bob (home)" <bob@example.org>, carol@example.org (Carol C)',
        "Subject: Undelivered Mail",
        "",
        "text",
        "",
    )

    parsed = parse_email(raw)

    assert parsed.sender == Address(name="MAILER-DAEMON", email="postmaster@mx.example.com")
    assert list(parsed.to) == [Address("Ana", "ana@example.org"), Address("Support desk", "help@example.com")]
    # a quoted string is not a comment; a bare address with a comment is the legacy RFC 822 form of a name
    assert list(parsed.cc) == [Address("Bob (home)", "bob@example.org"), Address("Carol C", "carol@example.org")]


def test_a_bare_address_with_a_comment_keeps_the_comment_as_its_name():
    raw = lines("From: postmaster@mx.example.com (Mail Delivery System)", "", "text", "")

    assert parse_email(raw).sender == Address(name="Mail Delivery System", email="postmaster@mx.example.com")


def test_words_that_are_not_addresses_are_not_recipients():
    raw = lines(
        "From: ana@example.org",
        "To: undisclosed-recipients:;",
        "Cc: xxx, unknown, Bob <bob@example.com>",
        "Reply-To: Recipients",
        "Subject: hi",
        "",
        "text",
        "",
    )

    parsed = parse_email(raw)

    assert [a.email for a in parsed.recipients] == ["bob@example.com"]
    assert parsed.to == () and parsed.reply_to == ()
    assert "address_invalid:cc" in parsed.defects


def test_a_sender_without_at_sign_is_still_reported_for_the_inbound_path_to_reject():
    parsed = parse_email(lines("From: postmaster", "", "text", ""))

    assert parsed.sender == Address(name="", email="postmaster")


def test_an_unlabelled_body_is_read_in_the_charset_of_the_raw_headers():
    raw = lines(
        b"From: " + "王小明".encode("gbk") + b" <wang@example.cn>",
        b"Subject: " + "报价".encode("gbk"),
        b"Content-Type: text/plain",
        b"Content-Transfer-Encoding: 8bit",
        b"",
        "请查收报价单，谢谢。".encode("gbk"),
        b"",
    )

    parsed = parse_email(raw)

    assert parsed.text.strip() == "请查收报价单，谢谢。"
