"""Red-team tests for parsing (mail/): the header-block repair as an attack surface, hostile decoding, cost.

Every message is written for the test (made-up people at example domains). The threat: a sender controls every
byte below the headers a receiving server prepends (SES's block, or a mailbox provider's Received/
Authentication-Results), so no repair may make the sender's bytes part of those headers, turn body text into
headers, or let a second author win over the first real one.
"""

from __future__ import annotations

import base64
import os
import time

import pytest

from emailpipe.domain import trust
from emailpipe.mail.parse import parse_email


def lines(*rows: str | bytes) -> bytes:
    return b"\r\n".join(row.encode() if isinstance(row, str) else row for row in rows)


def readable(text: str) -> bool:
    return "\ufffd" not in text and not any("\udc80" <= char <= "\udcff" for char in text)


# A mailbox provider's headers above the sender's (Gmail-like): its Authentication-Results is the last of them.
PROVIDER = (
    "Delivered-To: help@help.example",
    "Received: by 2002:a05:6a10:1234 with SMTP id x; Mon, 1 Jan 2024 00:00:00 -0800 (PST)",
    "Return-Path: <a@evil.example>",
    "Received-SPF: pass (mx.example: domain of a@evil.example designates 192.0.2.1 as permitted sender)",
    "Authentication-Results: mx.provider.example; spf=pass smtp.mailfrom=a@evil.example",
)
# SES's block as it prepends it to stored mail (see domain/trust.py).
SES = (
    "Return-Path: <a@evil.example>",
    "Received: from mail.evil.example (mail.evil.example [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com"
    " with SMTP id abc; Mon, 01 Jan 2024 00:00:00 +0000 (UTC)",
    "X-SES-Spam-Verdict: PASS",
    "X-SES-Virus-Verdict: PASS",
    "Received-SPF: pass (spfCheck: ok) client-ip=192.0.2.1; envelope-from=a@evil.example;",
    "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=evil.example; dkim=none; dmarc=none",
    "X-SES-RECEIPT: AEFBQUFBQUFB",
    "X-SES-DKIM-SIGNATURE: a=rsa-sha256; d=amazonses.com; s=x; b=AAAA",
)
FORGED = "dkim=pass header.i=@victim.example; dmarc=pass header.from=victim.example"


def sender_headers(first: str) -> tuple[str, ...]:
    return (first, "From: Boss <boss@victim.example>", "To: help@help.example", "Subject: pay", "", "body", "")


@pytest.mark.parametrize("trusted_header", ["Authentication-Results", "Received-SPF", "ARC-Authentication-Results"])
def test_sender_first_unindented_line_never_joins_the_providers_verdict(trusted_header):
    provider = [row for row in PROVIDER if not row.startswith(trusted_header)]
    provider.append(f"{trusted_header}: mx.provider.example; spf=pass smtp.mailfrom=a@evil.example")
    parsed = parse_email(lines(*provider, *sender_headers(FORGED)))
    assert parsed.sender is not None and parsed.sender.email == "boss@victim.example"
    values = [value for name, value in parsed.headers if name.lower() == trusted_header.lower()]
    assert all("victim.example" not in value for value in values)
    verdicts = trust.trusted_verdicts(
        parsed.headers, trusted_authserv_ids=("mx.provider.example",), ses=False, from_domain="victim.example"
    )
    assert not trust.authenticated(verdicts)


def test_sender_first_unindented_line_never_joins_the_ses_block():
    parsed = parse_email(lines(*SES, *sender_headers(FORGED)))
    block = trust.ses_block(parsed.headers)
    assert len(block) == len(SES)
    assert all("victim.example" not in value for _, value in block)
    verdicts = trust.trusted_verdicts(parsed.headers, from_domain="victim.example")
    assert verdicts.dmarc != "pass" and not trust.authenticated(verdicts)


def test_a_forged_authentication_results_after_an_odd_line_stays_below_the_ses_block():
    raw = lines(
        *SES,
        "From: Real <real@customer.example>",
        "this line is odd",
        "Authentication-Results: amazonses.com; dmarc=pass header.from=customer.example",
        "Subject: hi",
        "",
        "body",
    )
    parsed = parse_email(raw)
    assert "header_block_repaired" in parsed.defects
    assert trust.ses_block(parsed.headers)[-1][0] == "X-SES-DKIM-SIGNATURE"
    verdicts = trust.trusted_verdicts(parsed.headers, from_domain="customer.example")
    assert verdicts.dmarc == "none"


def test_a_separator_line_below_the_ses_block_cannot_lift_a_forged_verdict_into_it():
    raw = lines(
        *SES,
        "---- Original email message ----",
        "Authentication-Results: amazonses.com; dmarc=pass header.from=victim.example",
        "From: boss@victim.example",
        "",
        "body",
    )
    parsed = parse_email(raw)
    # The class as SES stores it (the separator right under SES's block): the sender is read ...
    assert parsed.sender is not None and parsed.sender.email == "boss@victim.example"
    # ... and SES's block is exactly what SES wrote.
    assert trust.ses_block(parsed.headers) == tuple((row.split(": ", 1)[0], row.split(": ", 1)[1]) for row in SES)
    assert trust.trusted_verdicts(parsed.headers, from_domain="victim.example").dmarc == "none"


def test_odd_line_after_a_verdict_is_dropped_not_folded():
    raw = lines(*SES, "dmarc=pass", "From: Real <real@customer.example>", "Subject: hi", "", "body")
    parsed = parse_email(raw)
    assert dict(parsed.headers)["X-SES-DKIM-SIGNATURE"] == "a=rsa-sha256; d=amazonses.com; s=x; b=AAAA"
    assert parsed.sender is not None and parsed.sender.email == "real@customer.example"


@pytest.mark.parametrize(
    "smuggled",
    [
        "Reply-To: evil@evil.example",
        "In-Reply-To: <t.abc@help.example>",
        "References: <t.abc@help.example>",
        "Message-ID: <forged@help.example>",
        "Authentication-Results: amazonses.com; dmarc=pass",
        "X-Emailpipe-Token: abc",
        "From: boss@victim.example",
    ],
)
def test_body_text_after_the_blank_line_never_becomes_a_header(smuggled):
    name = smuggled.split(":", 1)[0].lower()
    raw = lines(*SES, "From: Real <real@customer.example>", "Subject: hi", "", "odd", smuggled, "", "more", "")
    parsed = parse_email(raw)
    assert parsed.sender is not None and parsed.sender.email == "real@customer.example"
    before = lines(*SES, "From: Real <real@customer.example>", "Subject: hi", "", "body")
    expected = [value for key, value in parse_email(before).headers if key.lower() == name]
    assert [value for key, value in parsed.headers if key.lower() == name] == expected
    assert parsed.reply_to == () and parsed.in_reply_to is None and parsed.references == ()


def test_a_body_that_starts_without_its_blank_line_stays_a_body_when_no_blank_line_ends_it():
    raw = lines(*SES, "From: real@customer.example", "Subject: x", "Hi,", "Reply-To: evil@evil.example", "thanks", "")
    parsed = parse_email(raw)
    assert parsed.reply_to == ()
    assert "Reply-To: evil@evil.example" in (parsed.text or "")


def test_a_second_mailbox_in_a_later_from_is_refused_not_chosen():
    raw = lines(*SES, "From: Real <real@customer.example>", "odd line", "From: boss@victim.example", "", "body")
    parsed = parse_email(raw)
    assert parsed.sender is not None and parsed.sender.email == "real@customer.example"
    assert parsed.from_count == 2  # inbound refuses it (multiple_from): never silently the second author


def test_odd_line_after_from_never_adds_a_mailbox():
    raw = lines(*SES, "From: Real <real@customer.example>", "boss@victim.example", "Subject: x", "", "body")
    parsed = parse_email(raw)
    assert parsed.sender == parsed.sender.__class__(name="Real", email="real@customer.example")
    assert parsed.from_count == 1


# --- raw 8-bit header bytes: scripts whose charsets share a layout ------------------------------------------------


@pytest.mark.parametrize("charset", ["cp1251", "koi8_r", "utf-8"])
@pytest.mark.parametrize("labelled", [False, True])
def test_russian_display_name_and_subject_in_raw_bytes_read_as_russian(charset, labelled):
    # KOI8-R and windows-1251 both put Cyrillic in 0xC0-0xFF with the cases swapped: read in the wrong one,
    # `Сергей` shows as `уЕТЗЕК`. Help-desk mail from Russian clients still comes in both.
    name, subject = "Сергей Иванов", "Не работает вход в личный кабинет"
    content_type = f"Content-Type: text/plain; charset={charset}" if labelled else "Content-Type: text/plain"
    raw = lines(
        b"From: " + name.encode(charset) + b" <sergey@example.ru>",
        "To: help@help.example",
        b"Subject: " + subject.encode(charset),
        "MIME-Version: 1.0",
        content_type,
        "",
        "hello",
    )
    parsed = parse_email(raw)
    assert parsed.sender is not None and parsed.sender.name == name
    assert parsed.subject == subject


@pytest.mark.parametrize("word", ["Заказ", "Привет", "Служба поддержки", "Счёт на оплату", "Мария"])
def test_short_koi8_r_subjects_are_not_read_as_windows_1251(word):
    parsed = parse_email(lines("From: a@example.ru", b"Subject: " + word.encode("koi8_r"), "", "hi"))
    assert parsed.subject == word


@pytest.mark.parametrize("charset", ["cp1250", "iso8859_2"])
def test_polish_name_of_accented_letters_under_its_label_is_not_read_as_chinese(charset):
    # `Żółć` is all accented letters, as Chinese bytes read as Latin-1 are; a word cased like one is not that.
    name = "Łukasz Żółć"
    raw = lines(
        b"From: " + name.encode(charset) + b" <lukasz@example.pl>",
        "Subject: faktura",
        f"Content-Type: text/plain; charset={charset}",
        "",
        "dzien dobry",
    )
    parsed = parse_email(raw)
    assert parsed.sender is not None and parsed.sender.name == name


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("张伟", "gb18030"),
        ("关于发票的问题", "gb18030"),
        ("陳大文", "big5hkscs"),
        ("山田太郎", "cp932"),
        ("Müller", "cp1252"),
    ],
)
def test_other_scripts_still_read_in_their_own_charset(text, charset):
    parsed = parse_email(lines(b"From: " + text.encode(charset) + b" <x@example.com>", "Subject: x", "", "hi"))
    assert parsed.sender is not None and parsed.sender.name == text


# --- bodies under missing, unknown or ASCII labels --------------------------------------------------------------

RUSSIAN = "Здравствуйте! Не могу войти в личный кабинет, пишет что пароль неверный. Помогите пожалуйста."


def body_message(content_type: bytes, body: bytes) -> bytes:
    return lines("From: a@example.ru", "Subject: x", "MIME-Version: 1.0", content_type, "", body, "")


@pytest.mark.parametrize("label", [b"", b"; charset=us-ascii", b"; charset=x-unknown", b'; charset=""'])
@pytest.mark.parametrize("charset", ["koi8_r", "cp1251"])
def test_unlabelled_russian_body_reads_as_russian(label, charset):
    parsed = parse_email(body_message(b"Content-Type: text/plain" + label, RUSSIAN.encode(charset)))
    assert (parsed.text or "").strip() == RUSSIAN


@pytest.mark.parametrize("label", [b"", b"; charset=us-ascii"])
def test_short_latin_body_under_an_ascii_label_is_not_read_as_another_script(label):
    parsed = parse_email(body_message(b"Content-Type: text/plain" + label, "Grüße".encode("cp1252")))
    assert (parsed.text or "").strip() == "Grüße"


@pytest.mark.parametrize(
    ("label", "text", "codec"),
    [
        ("utf8", "Grüße aus München € 😀", "utf-8"),
        ("unicode-1-1-utf-7", "Grüße aus München €", "utf-7"),
        ("ks_c_5601-1987", "안녕하세요 주문 취소 부탁드립니다 똠방각하", "cp949"),
        ("gb2312", "您好，我的订单还没有发货，请帮忙查一下。镕旸", "gb18030"),
        ("big5", "請問退款進度 香港 嘅 啲", "big5hkscs"),
        ("shift_jis", "髙橋様 ①ご確認ください ｶﾀｶﾅ", "cp932"),
        ("iso-2022-jp", "お問い合わせ①②ありがとうございます髙﨑", "cp932"),  # Shift_JIS under the JIS label
        ("x-unknown", "Grüße aus München", "utf-8"),
    ],
)
def test_bodies_under_lying_labels_are_decoded_not_escaped(label, text, codec):
    parsed = parse_email(body_message(f"Content-Type: text/plain; charset={label}".encode(), text.encode(codec)))
    body = (parsed.text or "").strip()
    assert body == text and readable(body) and "\x1b" not in body


# --- cost: hostile messages finish in bounded time (generous sanity bounds, not benchmarks) ---------------------

KOI8 = "Здравствуйте пишет что пароль неверный ".encode("koi8_r")


def finishes(raw: bytes, seconds: float = 20.0):
    started = time.process_time()
    parsed = parse_email(raw)
    assert time.process_time() - started < seconds
    return parsed


def test_a_message_that_is_one_huge_header_line_is_refused_as_headers_too_large():
    for raw in (b"From: a@example.com" + b"x" * 5_000_000, b"Subject: s\r\nFrom: a@example.com" + b" x" * 2_000_000):
        assert finishes(raw).reason == "headers_too_large"


def test_raw_8bit_headers_and_a_10_mb_unlabelled_8bit_body():
    headers = b"".join(b"X-Note-%d: " % i + KOI8 * 2 + b"\r\n" for i in range(2500))
    raw = b"From: " + KOI8 + b" <a@example.ru>\r\nSubject: " + KOI8 + b"\r\n" + headers + b"\r\n"
    parsed = finishes(raw + KOI8 * (10_000_000 // len(KOI8)))
    assert parsed.status == "accepted" and readable(parsed.subject)


def test_many_encoded_words_in_subject_and_from():
    word = b"=?utf-8?b?" + base64.b64encode("Привет мир ".encode()) + b"?="
    words = b" ".join([word] * (240_000 // len(word)))
    parsed = finishes(b"From: " + words + b" <a@example.ru>\r\nSubject: " + words[:1000] + b"\r\n\r\nhi\r\n")
    assert parsed.sender is not None and parsed.sender.email == "a@example.ru"


def test_header_repair_over_many_odd_lines():
    assert finishes(b"From: a@example.com\r\n" + b"oddline\r\nX-A: b\r\n" * 12000 + b"\r\nhi\r\n").status == "accepted"
    finishes(b"Subject: x\r\n" + b"oddline\r\nX-A: b\r\n" * 400_000 + b"From: a@example.com\r\n")


def test_deep_nesting_of_multiparts_and_attached_messages():
    nest = b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
    for i in range(5000):
        nest += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
    assert "too_deep" in finishes(nest + b"Content-Type: text/plain\r\n\r\nhi\r\n").defects
    msg = b"From: a@example.com\r\nSubject: s\r\n\r\nhi\r\n"
    for _ in range(3000):
        msg = b"From: a@example.com\r\nContent-Type: message/rfc822\r\n\r\n" + msg
    assert "too_deep" in finishes(msg).defects


def test_a_huge_winmail_dat_of_junk_and_of_repeated_attributes():
    signature = b"\x78\x9f\x3e\x22" + b"\x01\x00"
    attribute = b"\x02" + b"\x00\x80\x06\x00" + (4).to_bytes(4, "little") + b"abcd" + b"\x8a\x01"
    for payload in (signature + os.urandom(8_000_000), signature + attribute * 300_000):
        raw = lines(
            "From: a@example.com",
            "MIME-Version: 1.0",
            'Content-Type: multipart/mixed; boundary="b"',
            "",
            "--b",
            "Content-Type: text/plain",
            "",
            "see attached",
            "--b",
            'Content-Type: application/ms-tnef; name="winmail.dat"',
            "Content-Transfer-Encoding: base64",
            "",
            base64.encodebytes(payload),
            "--b--",
            "",
        )
        parsed = finishes(raw, 60.0)
        assert parsed.status == "accepted"


def test_a_large_iso_2022_jp_body_and_raw_shift_jis_under_its_label():
    for body in (("お問い合わせ" * 10).encode("iso2022_jp") * 20000, ("お問い合わせ" * 10).encode("cp932") * 40000):
        parsed = finishes(lines("From: a@example.jp", "Content-Type: text/plain; charset=iso-2022-jp", "", body))
        assert readable((parsed.text or "")[:1000])


# --- which From is the author -------------------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["[??????]", "", "undisclosed-recipients:;", "boss at evil"])
def test_a_first_from_naming_no_domain_yields_to_the_real_one(first):
    parsed = parse_email(lines(f"From: {first}", "From: Real <real@customer.example>", "Subject: x", "", "body"))
    assert parsed.sender is not None and parsed.sender.email == "real@customer.example"
    assert parsed.from_count == 1


@pytest.mark.parametrize("first", ["@evil.example", "<@evil.example>", "boss@evil.example>", "Boss <boss@evil.example"])
def test_a_first_from_naming_a_domain_is_never_skipped_for_a_later_one(first):
    # A receiving server's DMARC check may have read the first one's domain as the author's: taking the second
    # would make its verdict about another domain than the sender's. Two authors are refused (multiple_from).
    parsed = parse_email(lines(f"From: {first}", "From: ceo@victim.example", "Subject: x", "", "body"))
    assert parsed.from_count >= 2


def test_raw_iso_2022_jp_in_headers_is_decoded_and_never_read_as_an_address():
    # Older Japanese mailers wrote ISO-2022-JP into headers without encoded words. It is 7-bit, and its byte
    # pairs hold `@`, `<` and `"`: read as written, the sender's address came out as `$B`.
    jis = lambda text: text.encode("iso2022_jp")  # noqa: E731
    raw = lines(
        b"From: " + jis("山田 太郎") + b" <taro@example.jp>",
        b"Subject: " + jis("お問い合わせの件"),
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain; charset=iso-2022-jp",
        "",
        jis("本文です"),
        "--b",
        b'Content-Type: application/pdf; name="' + jis("見積書.pdf") + b'"',
        b'Content-Disposition: attachment; filename="' + jis("見積書.pdf") + b'"',
        "Content-Transfer-Encoding: base64",
        "",
        "AAAA",
        "--b--",
        "",
    )
    parsed = parse_email(raw)
    assert parsed.sender is not None and (parsed.sender.name, parsed.sender.email) == ("山田 太郎", "taro@example.jp")
    assert parsed.subject == "お問い合わせの件"
    assert [a.filename for a in parsed.attachments] == ["見積書.pdf"]


@pytest.mark.parametrize(("label", "codec"), [("windows-1251", "koi8_r"), ("koi8-r", "cp1251")])
def test_russian_body_under_the_other_cyrillic_label_reads_as_russian(label, codec):
    parsed = parse_email(body_message(f"Content-Type: text/plain; charset={label}".encode(), RUSSIAN.encode(codec)))
    assert (parsed.text or "").strip() == RUSSIAN


@pytest.mark.parametrize(
    ("text", "codec"), [(RUSSIAN, "cp1251"), ("您好，我的订单还没有发货，请帮忙查一下。", "gb18030")]
)
def test_another_script_under_a_latin_label_reads_as_that_script(text, codec):
    parsed = parse_email(body_message(b"Content-Type: text/plain; charset=iso-8859-1", text.encode(codec)))
    assert (parsed.text or "").strip() == text


@pytest.mark.parametrize(
    ("text", "label", "codec"),
    [
        ("Grüße aus München, schöne Woche! Die Rechnung für März ist da.", "iso-8859-1", "cp1252"),
        ("Où est la facture de février ? Merci beaucoup, à bientôt.", "iso-8859-1", "cp1252"),
        (
            "ВНИМАНИЕ: СРОЧНО. Здравствуйте, пишу по поводу заказа номер 123, он пока не пришёл.",
            "windows-1251",
            "cp1251",
        ),
        ("ВНИМАНИЕ: СРОЧНО. Здравствуйте, пишу по поводу заказа номер 123, он пока не пришёл.", "koi8-r", "koi8_r"),
    ],
)
def test_true_labels_are_kept(text, label, codec):
    parsed = parse_email(body_message(f"Content-Type: text/plain; charset={label}".encode(), text.encode(codec)))
    assert (parsed.text or "").strip() == text
    assert not any(d.startswith("charset_mislabelled") for d in parsed.defects)


@pytest.mark.parametrize("subject", ["здравствуйте пожалуйста", "оплата доставка"])
def test_koi8_r_subjects_of_small_letters_read_as_russian(subject):
    # Small letters alone read as capitals in windows-1251, and KOI8-R's small letters are GB2312's frequent
    # characters: the ties go to the reading with small letters, then to Russian. (KOI8-R capitals alone are
    # windows-1251 small letters, byte for byte: those read as windows-1251, the commoner.)
    parsed = parse_email(lines("From: a@example.ru", b"Subject: " + subject.encode("koi8_r"), "", "hi"))
    assert parsed.subject == subject


@pytest.mark.parametrize("name", ["赵磊", "张伟", "王秀英", "刘洋"])
def test_short_chinese_names_stay_chinese(name):
    parsed = parse_email(lines(b"From: " + name.encode("gb18030") + b" <x@example.cn>", "Subject: x", "", "hi"))
    assert parsed.sender is not None and parsed.sender.name == name
