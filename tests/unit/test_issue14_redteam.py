"""Issue 14 red team: real-client shapes the parser and the reply extractor must read right, and inputs built to
break them (spoofed senders in broken header blocks, forwards posing as the author, pathological lines).

Every sample here is written for this file, modelled on what the named clients send; none is copied from a corpus.
Several of these tests fail before issue 14's fixes land: they are the classes the issue asks to fix.
"""

from __future__ import annotations

import base64
import struct
import unicodedata

import pytest

from emailpipe.domain.reply import extract_from_message, extract_reply, html_to_reply_text
from emailpipe.mail.parse import parse_email

REPLY = "Thanks, the new invoice looks right.\nWe will pay it on Friday."
ORIGINAL = "Hello,\n\nplease find the corrected invoice attached.\n\nKind regards\nJane Doe\nAccounts, Example Ltd"
QUOTED = "\n".join("> " + line if line else ">" for line in ORIGINAL.split("\n"))


def raw(headers: str, body: str = "Thanks, that fixed it.\n", *, charset: str = "utf-8") -> bytes:
    """A message from header lines (LF separated) and a text body; CRLF line ends, as SES delivers."""
    head = headers.strip("\n").replace("\n", "\r\n").encode(charset, "surrogateescape")
    return head + b"\r\n\r\n" + body.replace("\n", "\r\n").encode(charset, "surrogateescape")


def readable(text: str | None) -> bool:
    """No surrogate escapes, no replacement characters, no leftover encoded words."""
    text = text or ""
    return not any(0xDC80 <= ord(ch) <= 0xDCFF for ch in text) and "\ufffd" not in text and "=?" not in text


BASE = "To: Support <support@help.example.com>\nDate: Tue, 5 Mar 2024 09:14:00 +0100\nMessage-ID: <a1@mail.example.com>"


# ====================================================================================================================
# Parsing: header blocks that break
# ====================================================================================================================


def test_unindented_continuation_line_in_the_headers_keeps_the_sender():
    # A relay folded a long tracking header without indenting the continuation (seen from qmail / IMAP fetchers).
    msg = raw(
        "Return-Path: <karin.berg@example.se>\n"
        "Received: from mx.example.se by mx.help.example.com; Tue, 5 Mar 2024 09:14:01 +0100\n"
        "X-Tracker: H4sIAAAAAAAAA+NgFlrIKsWRWlGSWpSXmKPExsWi75nTrTtrwZM\n"
        "Ig5drOCwmrVzP5sDoseXbDeYAxijWzLyk/IoE1owFz6ezFkxKrWjafpWpgfFOchcjF4eQwDZG\n"
        "From: Karin Berg <karin.berg@example.se>\n"
        "Subject: Printer on floor 2\n" + BASE,
        "The printer on floor 2 is jammed again.\n",
    )
    p = parse_email(msg)
    assert p.status == "accepted"
    assert p.sender is not None and p.sender.email == "karin.berg@example.se"
    assert p.sender.name == "Karin Berg"
    assert p.subject == "Printer on floor 2"
    assert "jammed" in (p.text or "")


def test_message_starting_with_a_separator_line_before_its_headers_keeps_the_sender():
    # Kerio / some web forms resend a message with "---- Original email message ----" above its own headers.
    msg = raw(
        "---- Original email message ----\n"
        "Return-Path: web@forms.example.cz\n"
        "Received: from forms.example.cz ([192.0.2.10])\n"
        "by mx.example.cz with ESMTP\n"
        "for helpdesk@example.cz; Thu, 2 Aug 2018 16:58:16 +0200\n"
        "To: helpdesk@example.cz\n"
        "Subject: Contact form\n"
        "From: petr.novak@example.cz\n"
        "Date: Thu, 2 Aug 2018 16:58:28 +0200",
        "Jmeno: Petr\nProblem: tiskarna nefunguje\n",
    )
    p = parse_email(msg)
    assert p.sender is not None and p.sender.email == "petr.novak@example.cz"
    assert p.subject == "Contact form"
    assert "tiskarna" in (p.text or "")


def test_two_from_headers_whose_first_is_garbage_take_the_second():
    msg = raw(
        "From: [??????]\nSubject: Quote request\nFrom: =?utf-8?B?5byg5Lyf?= <zhang.wei@example.cn>\n" + BASE,
        "Please send a quote for 200 units.\n",
    )
    p = parse_email(msg)
    assert p.sender is not None and p.sender.email == "zhang.wei@example.cn"
    assert p.sender.name == "张伟"


def test_body_line_that_looks_like_a_header_never_becomes_the_sender():
    # Attack: no From header at all; the body's first line pretends to be one. The header block ended at the blank
    # line, so nothing below it is a header: the sender cannot be known and the message stays rejected.
    msg = raw("To: support@help.example.com\nSubject: Wire transfer", "From: ceo@help.example.com\n\nPay 5000 now.\n")
    p = parse_email(msg)
    assert p.sender is None or p.sender.email != "ceo@help.example.com"


def test_broken_header_block_cannot_smuggle_a_second_sender():
    # Attack: a real From, then a garbage line, then a spoofed From (and a spoofed In-Reply-To carrying another
    # conversation's token). Recovering the block must not let the later copy win over the real header.
    msg = raw(
        "From: Jane Doe <jane@example.com>\n"
        "In-Reply-To: <real-thread@help.example.com>\n"
        "Subject: Invoice\n"
        "this line is not a header\n"
        "From: Chief Executive <ceo@help.example.com>\n"
        "In-Reply-To: <other-conversation@help.example.com>\n" + BASE,
        "See attached.\n",
    )
    p = parse_email(msg)
    assert p.sender is not None
    assert p.sender.email != "ceo@help.example.com" or p.from_count > 1
    assert p.in_reply_to != "<other-conversation@help.example.com>"


def test_body_subject_line_does_not_replace_the_header_subject():
    msg = raw("From: Jane Doe <jane@example.com>\nSubject: Invoice 1234\n" + BASE, "Subject: URGENT change of bank\n")
    p = parse_email(msg)
    assert p.subject == "Invoice 1234"


# ====================================================================================================================
# Parsing: raw 8-bit bytes in headers
# ====================================================================================================================


@pytest.mark.parametrize(
    ("name", "charset"),
    [
        ("Jürgen Müller", "utf-8"),
        ("Jürgen Müller", "latin-1"),
        ("张伟", "gbk"),
        ("山田太郎", "shift_jis"),
        ("Łukasz Wróbel", "utf-8"),
    ],
)
def test_raw_8bit_display_name_is_decoded(name, charset):
    headers = f"From: {name} <sender@example.com>\nSubject: hello\n" + BASE
    p = parse_email(raw(headers, charset=charset))
    assert p.sender is not None and p.sender.email == "sender@example.com"
    assert p.sender.name == name


@pytest.mark.parametrize(
    ("subject", "charset"),
    [("Rückfrage zur Lieferung", "utf-8"), ("Réclamation facture", "latin-1"), ("关于发票的问题", "gbk")],
)
def test_raw_8bit_subject_is_decoded(subject, charset):
    p = parse_email(raw(f"From: a@example.com\nSubject: {subject}\n" + BASE, charset=charset))
    assert p.subject == subject


def _with_attachment(filename_header: bytes) -> bytes:
    return (
        b"From: a@example.com\r\nTo: support@help.example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\n" + filename_header + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b1--\r\n"
    )


@pytest.mark.parametrize(
    ("filename", "charset"),
    [("Prüfbericht März.pdf", "utf-8"), ("Prüfbericht März.pdf", "latin-1"), ("绩效报告.xls", "gbk")],
)
def test_raw_8bit_attachment_filename_is_decoded(filename, charset):
    header = b'Content-Disposition: attachment; filename="' + filename.encode(charset) + b'"'
    p = parse_email(_with_attachment(header))
    assert [a.filename for a in p.attachments] == [filename]


# ====================================================================================================================
# Parsing: charset labels that lie
# ====================================================================================================================


def _encoded_word(text: str, codec: str, label: str) -> str:
    return f"=?{label}?B?{base64.b64encode(text.encode(codec)).decode()}?="


def test_gb2312_label_carrying_gbk_characters_in_the_subject():
    # 镕 and 玥 are GBK, not GB2312: Chinese Outlook labels such text gb2312 all the same.
    subject = "朱镕基与王玥的报价单"
    p = parse_email(raw(f"From: a@example.com\nSubject: {_encoded_word(subject, 'gbk', 'GB2312')}\n" + BASE))
    assert p.subject == subject


def test_gb2312_label_carrying_gbk_characters_in_the_body():
    body = "您好，朱镕基先生的订单已经发货。"
    msg = raw(
        "From: a@example.com\nSubject: order\nMIME-Version: 1.0\nContent-Type: text/plain; charset=gb2312\n"
        "Content-Transfer-Encoding: 8bit\n" + BASE,
        body,
        charset="gbk",
    )
    p = parse_email(msg)
    assert body in (p.text or "")


def test_iso_2022_jp_with_nec_row_13_circled_digits():
    # ISO-2022-JP as Japanese Outlook / Becky! write it: JIS X 0208 plus NEC row 13 (① is 0x2D21).
    jis = "\u3000\u3000".encode("iso2022_jp")[:-3]  # ESC $ B + two ideographic spaces, still in JIS mode
    body = jis + b'-!-"\x1b(B\r\n'  # ① ②, then back to ASCII
    msg = (
        b"From: a@example.jp\r\nTo: support@help.example.com\r\nSubject: list\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + body
    )
    p = parse_email(msg)
    assert "①②" in (p.text or "")
    assert "\x1b" not in (p.text or "")


def test_iso_2022_jp_label_on_shift_jis_display_name():
    name = "ツール EXAMPLE"
    p = parse_email(
        raw(f"From: {_encoded_word(name, 'shift_jis', 'ISO-2022-JP')} <tool@example.jp>\nSubject: x\n" + BASE)
    )
    assert p.sender is not None and p.sender.name == name


def test_ks_c_5601_1987_carrying_cp949_only_hangul():
    # Outlook labels Korean ks_c_5601-1987 but writes CP949 (UHC): 똠 and 햏 are not in EUC-KR.
    subject = "똠방각하 햏 견적서"
    p = parse_email(raw(f"From: a@example.kr\nSubject: {_encoded_word(subject, 'cp949', 'ks_c_5601-1987')}\n" + BASE))
    assert p.subject == subject


def _cp1258(text: str) -> bytes:
    """Vietnamese as windows-1258 writes it: base letters precomposed (ê, ơ, đ), tone marks as combining characters."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            marks = unicodedata.normalize("NFD", ch)
            tones = "".join(m for m in marks if m in "\u0300\u0301\u0303\u0309\u0323")
            base = unicodedata.normalize("NFC", "".join(m for m in marks if m not in tones))
            out += base.encode("cp1258") + tones.encode("cp1258")
    return out


def test_windows_1258_vietnamese_subject():
    subject = "Tiếng Việt: hóa đơn"
    encoded = base64.b64encode(_cp1258(subject)).decode()
    p = parse_email(raw(f"From: a@example.vn\nSubject: =?windows-1258?B?{encoded}?=\n" + BASE))
    assert unicodedata.normalize("NFC", p.subject) == subject


@pytest.mark.parametrize("label", ["UTF-7", "unicode-1-1-utf-7"])
def test_utf7_subject(label):
    p = parse_email(
        raw(f"From: a@example.de\nSubject: =?{label}?Q?Benachrichtigung_zum_+ANw-bermittlungsstatus?=\n" + BASE)
    )
    assert p.subject == "Benachrichtigung zum Übermittlungsstatus"


def test_utf7_body():
    msg = raw(
        "From: a@example.de\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-7\n" + BASE,
        "Gr+APw-+AN8-e aus M+APw-nchen\n",
    )
    assert "Grüße aus München" in (parse_email(msg).text or "")


def test_encoded_word_with_extra_base64_padding():
    padded = base64.b64encode("Müller".encode()).decode() + "=="  # "TcO8bGxlcg====": one quantum too many
    p = parse_email(raw(f"From: =?utf-8?B?{padded}?= <m@example.de>\nSubject: =?utf-8?B?{padded}?=\n" + BASE))
    assert p.subject == "Müller"
    assert p.sender is not None and p.sender.name == "Müller"


def test_body_in_a_broken_charset_is_decoded_not_passed_through():
    # Labelled iso-2022-jp, really Shift_JIS: the text must come out readable, not as escape bytes or U+FFFD.
    body = "お世話になっております。請求書を送付いたします。"
    msg = raw(
        "From: a@example.jp\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-2022-jp\n"
        "Content-Transfer-Encoding: 8bit\n" + BASE,
        body,
        charset="shift_jis",
    )
    text = parse_email(msg).text or ""
    assert body in text
    assert readable(text)


# ====================================================================================================================
# Parsing: addresses
# ====================================================================================================================


def test_comment_after_the_address_is_not_part_of_the_name():
    p = parse_email(raw("From: MAILER-DAEMON <postmaster@mx.example.com> (Mail Delivery System)\nSubject: x\n" + BASE))
    assert p.sender is not None and p.sender.email == "postmaster@mx.example.com"
    assert p.sender.name == "MAILER-DAEMON"


def test_comment_in_the_middle_is_not_part_of_the_name():
    p = parse_email(raw('From: "Jane Doe" (Accounts) <jane@example.com>\nSubject: x\n' + BASE))
    assert p.sender is not None and p.sender.name == "Jane Doe"


@pytest.mark.parametrize(
    "to", ["undisclosed-recipients:;", "undisclosed-recipients", "xxx", "Undisclosed recipients:;"]
)
def test_words_that_are_not_addresses_are_not_recipients(to):
    p = parse_email(raw(f"From: Jane <jane@example.com>\nTo: {to}\nCc: support@help.example.com\nSubject: x"))
    assert p.sender is not None
    assert all("@" in a.email for a in (*p.to, *p.cc, *p.recipients))
    assert [a.email for a in p.cc] == ["support@help.example.com"]


# ====================================================================================================================
# Parsing: attachments that clients hide
# ====================================================================================================================


def _tnef_attr(level: int, attr_type: int, attr_id: int, data: bytes) -> bytes:
    return (
        struct.pack("<BII", level, (attr_type << 16) | attr_id, len(data))
        + data
        + struct.pack("<H", sum(data) & 0xFFFF)
    )


def _mapi_unicode(prop_id: int, text: str) -> bytes:
    data = text.encode("utf-16-le") + b"\x00\x00"
    return struct.pack("<HHII", 0x001F, prop_id, 1, len(data)) + data + b"\x00" * (-len(data) % 4)


def winmail_dat(files: list[tuple[str, bytes]]) -> bytes:
    """A minimal TNEF stream as Outlook/Exchange writes it: version, OEM codepage, message class, then per file
    attAttachRendData, an 8.3 attAttachTitle, attAttachData and attAttachment (MAPI) with the long file name."""
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += _tnef_attr(1, 0x0008, 0x9006, struct.pack("<I", 0x00010000))
    out += _tnef_attr(1, 0x0006, 0x9007, struct.pack("<II", 1252, 0))
    out += _tnef_attr(1, 0x0001, 0x8008, b"IPM.Microsoft Mail.Note\x00")
    for index, (name, data) in enumerate(files, 1):
        out += _tnef_attr(2, 0x0006, 0x9002, b"\x01\x00\x00\x00" + b"\x00" * 10)
        out += _tnef_attr(2, 0x0001, 0x8010, b"ATTACH~%d.DAT\x00" % index)
        out += _tnef_attr(2, 0x0006, 0x800F, data)
        out += _tnef_attr(2, 0x0006, 0x9005, struct.pack("<I", 1) + _mapi_unicode(0x3707, name))
    return out


def test_winmail_dat_is_unpacked_into_its_files():
    tnef = base64.encodebytes(
        winmail_dat([("Quote 2024.pdf", b"%PDF-1.4 quote"), ("Prüfbericht.xlsx", b"PK\x03\x04x")])
    )
    msg = (
        b"From: Hans <hans@example.de>\r\nTo: support@help.example.com\r\nSubject: Angebot\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei das Angebot.\r\n"
        b'--b1\r\nContent-Type: application/ms-tnef; name="winmail.dat"\r\n'
        b'Content-Disposition: attachment; filename="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + tnef.replace(b"\n", b"\r\n")
        + b"--b1--\r\n"
    )
    p = parse_email(msg)
    names = sorted(a.filename for a in p.attachments)
    assert names == ["Prüfbericht.xlsx", "Quote 2024.pdf"]
    pdf = next(a for a in p.attachments if a.filename == "Quote 2024.pdf")
    assert pdf.payload == b"%PDF-1.4 quote"


def test_broken_winmail_dat_is_kept_as_it_came():
    msg = (
        b"From: Hans <hans@example.de>\r\nTo: support@help.example.com\r\nSubject: Angebot\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nAnbei.\r\n"
        b'--b1\r\nContent-Type: application/ms-tnef; name="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.b64encode(b"\x78\x9f\x3e\x22" + b"\xff" * 40)
        + b"\r\n--b1--\r\n"
    )
    p = parse_email(msg)
    assert p.status == "accepted"
    assert len(p.attachments) == 1  # not unpacked, not lost


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()


def test_outlook_inline_image_without_content_disposition_is_kept():
    msg = (
        "From: Jane <jane@example.com>\r\nTo: support@help.example.com\r\nSubject: screenshot\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/related; boundary="r1"; type="text/html"\r\n\r\n'
        "--r1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        '<html><body><p>See the error:</p><p><img src="cid:image001.png@01DA6F0B.5C3E1A20"></p></body></html>\r\n'
        '--r1\r\nContent-Type: image/png; name="image001.png"\r\nContent-ID: <image001.png@01DA6F0B.5C3E1A20>\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{PNG}\r\n--r1--\r\n"
    ).encode()
    p = parse_email(msg)
    assert [a.filename for a in p.attachments] == ["image001.png"]


def test_apple_mail_attachment_between_text_parts_is_kept():
    # Apple Mail puts an attachment inline in multipart/mixed, between two text parts, with no filename param in
    # Content-Disposition, only name= in Content-Type.
    msg = (
        "From: Jane <jane@example.com>\r\nTo: support@help.example.com\r\nSubject: contract\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="Apple-Mail=_1"\r\n\r\n'
        "--Apple-Mail=_1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHere is the contract:\r\n\r\n"
        '--Apple-Mail=_1\r\nContent-Type: application/pdf; name="Contract 2024.pdf"\r\nContent-Disposition: inline\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQgZmFrZQ==\r\n"
        "--Apple-Mail=_1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\r\nPlease sign it.\r\n"
        "--Apple-Mail=_1--\r\n"
    ).encode("ascii")
    p = parse_email(msg)
    assert [a.filename for a in p.attachments] == ["Contract 2024.pdf"]
    assert "Please sign it." in (p.text or "")


def test_signature_logo_is_kept_but_marked_inline():
    msg = (
        "From: Jane <jane@example.com>\r\nTo: support@help.example.com\r\nSubject: offer\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="m1"\r\n\r\n'
        '--m1\r\nContent-Type: multipart/related; boundary="r1"\r\n\r\n'
        "--r1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><body><p>Our offer is attached.</p><p>Kind regards<br>Jane Doe</p>"
        '<p><img src="cid:logo@example" width="120" height="40" alt="Example Ltd"></p></body></html>\r\n'
        '--r1\r\nContent-Type: image/png; name="logo.png"\r\nContent-ID: <logo@example>\r\n'
        f"Content-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n{PNG}\r\n--r1--\r\n"
        '--m1\r\nContent-Type: application/pdf; name="Offer.pdf"\r\n'
        'Content-Disposition: attachment; filename="Offer.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQgZmFrZQ==\r\n--m1--\r\n"
    ).encode()
    p = parse_email(msg)
    by_name = {a.filename: a for a in p.attachments}
    assert set(by_name) == {"logo.png", "Offer.pdf"}
    assert by_name["logo.png"].inline is True
    assert by_name["Offer.pdf"].inline is False


# ====================================================================================================================
# Reply extraction: forwards are content
# ====================================================================================================================

FWD_HEADERS = (
    "From: Jane Doe <jane@example.com>\nDate: Tue, 5 Mar 2024 at 09:14\nSubject: Invoice 1234\nTo: bob@example.org"
)
FWD_BODY = "Please pay invoice 1234 by Friday.\nThe bank details are below."


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",
        "---------- Weitergeleitete Nachricht ---------",
        "---------- Mensaje reenviado ---------",
        "---------- Messaggio inoltrato ---------",
        "---------- Doorgestuurd bericht ---------",
        "---------- Mensagem encaminhada ---------",
        "---------- Wiadomość przekazana dalej ---------",
        "---------- Vidarebefordrat meddelande ---------",
        "---------- Videresendt meddelelse ----------",
        "-------- Weitergeleitete Nachricht --------",  # Thunderbird
        "-------- Message transféré --------",  # Thunderbird fr
        "----- Forwarded Message -----",  # Yahoo
        "Begin forwarded message:",  # Apple Mail
        "Anfang der weitergeleiteten Nachricht:",
        "Début du message réexpédié :",
        "Inizio messaggio inoltrato:",
        "Comienzo del mensaje reenviado:",
        "Begin doorgestuurd bericht:",
        "Vidarebefordrat brev:",
        "Start på videresendt besked:",
        "Início da mensagem reencaminhada:",
    ],
)
def test_forward_is_kept_as_content(marker):
    body = f"FYI, see below.\n\n{marker}\n{FWD_HEADERS}\n\n{FWD_BODY}\n"
    out = extract_reply(body)
    assert "FYI, see below." in out
    assert "Please pay invoice 1234 by Friday." in out
    assert "jane@example.com" in out


def test_gmx_original_nachricht_forward_is_kept():
    body = (
        "Zur Info.\n\n-------- Original Nachricht --------\nBetreff: Rechnung 1234\nDatum: 05.03.2024 09:14\n"
        "Von: Jane Doe <jane@example.com>\nAn: bob@example.org\n\n" + FWD_BODY + "\n"
    )
    out = extract_reply(body, subject="WG: Rechnung 1234")
    assert "Please pay invoice 1234 by Friday." in out


def test_bare_forward_without_a_note_is_kept():
    body = f"---------- Forwarded message ---------\n{FWD_HEADERS}\n\n{FWD_BODY}\n"
    assert "Please pay invoice 1234 by Friday." in extract_reply(body)


def test_forward_in_html_is_kept():
    html = (
        '<div>FYI</div><br><div class="gmail_quote"><div class="gmail_attr">---------- Forwarded message ---------'
        "<br>From: <b>Jane Doe</b> &lt;jane@example.com&gt;<br>Date: Tue, 5 Mar 2024 at 09:14<br>Subject: Invoice 1234"
        "<br></div><br><div>Please pay invoice 1234 by Friday.</div></div>"
    )
    assert "Please pay invoice 1234 by Friday." in html_to_reply_text(html)


def test_forwarded_sender_does_not_become_the_author():
    # Attack: an outsider forwards a message "from" an agent, hoping the forwarded From is taken as the author.
    body = (
        "Approved, go ahead.\n\n---------- Forwarded message ---------\n"
        "From: Chief Executive <ceo@help.example.com>\nSubject: Pay\n\nPay it.\n"
    )
    p = parse_email(raw("From: Mallory <mallory@evil.example>\nSubject: Fwd: Pay\n" + BASE, body))
    assert p.sender is not None and p.sender.email == "mallory@evil.example"
    assert all(a.email != "ceo@help.example.com" for a in p.reply_to)


# ====================================================================================================================
# Reply extraction: quote headers
# ====================================================================================================================

OUTLOOK_BLOCKS = {
    "it": (
        "Da: Jane Doe <jane@example.com>\n"
        "Inviato: martedì 5 marzo 2024 09:14\n"
        "A: Support <support@help.example.com>\n"
        "Oggetto: R: Fattura 1234"
    ),
    "it_risposta": (
        "Da: Jane Doe\nRisposta: Support / Fatture\nData: martedì 5 marzo 2024 09:14\nA: Support\nOggetto: Fattura 1234"
    ),
    "fr": (
        "De : Jane Doe <jane@example.com>\n"
        "Envoyé : mardi 5 mars 2024 09:14\n"
        "À : Support <support@help.example.com>\n"
        "Objet : RE: Facture 1234"
    ),
    "fr_no_space": (
        "De: Jane Doe <jane@example.com>\nEnvoyé: mardi 5 mars 2024 09:14\nÀ: Support\nObjet: RE: Facture 1234"
    ),
    "de": (
        "Von: Jane Doe <jane@example.com>\n"
        "Gesendet: Dienstag, 5. März 2024 09:14\n"
        "An: Support <support@help.example.com>\n"
        "Betreff: AW: Rechnung 1234"
    ),
    "nl": (
        "Van: Jane Doe <jane@example.com>\n"
        "Verzonden: dinsdag 5 maart 2024 09:14\n"
        "Aan: Support <support@help.example.com>\n"
        "Onderwerp: RE: Factuur 1234"
    ),
    "pl": (
        "Od: Jane Doe <jane@example.com>\n"
        "Wysłano: wtorek, 5 marca 2024 09:14\n"
        "Do: Support <support@help.example.com>\n"
        "Temat: RE: Faktura 1234"
    ),
    "es": (
        "De: Jane Doe <jane@example.com>\n"
        "Enviado el: martes, 5 de marzo de 2024 9:14\n"
        "Para: Support\n"
        "Asunto: RE: Factura 1234"
    ),
    "pt": (
        "De: Jane Doe <jane@example.com>\n"
        "Enviada em: terça-feira, 5 de março de 2024 09:14\n"
        "Para: Support\n"
        "Assunto: RE: Fatura 1234"
    ),
    "sv": ("Från: Jane Doe <jane@example.com>\nSkickat: den 5 mars 2024 09:14\nTill: Support\nÄmne: SV: Faktura 1234"),
    "da": ("Fra: Jane Doe <jane@example.com>\nSendt: 5. marts 2024 09:14\nTil: Support\nEmne: SV: Faktura 1234"),
    "no": ("Fra: Jane Doe <jane@example.com>\nSendt: tirsdag 5. mars 2024 09:14\nTil: Support\nEmne: SV: Faktura 1234"),
    "fi": (
        "Lähettäjä: Jane Doe <jane@example.com>\n"
        "Lähetetty: tiistai 5. maaliskuuta 2024 9.14\n"
        "Vastaanottaja: Support\n"
        "Aihe: VS: Lasku 1234"
    ),
    "cs": (
        "Od: Jane Doe <jane@example.com>\nOdesláno: úterý 5. března 2024 9:14\nKomu: Support\nPředmět: RE: Faktura 1234"
    ),
}


@pytest.mark.parametrize("rule", ["", "________________________________\n"])
@pytest.mark.parametrize("lang", sorted(OUTLOOK_BLOCKS))
def test_outlook_header_block_in_every_language(lang, rule):
    body = f"{REPLY}\n\n{rule}{OUTLOOK_BLOCKS[lang]}\n\n{ORIGINAL}\n"
    assert extract_reply(body) == REPLY


@pytest.mark.parametrize(
    "body",
    [
        "L'orario del magazzino è:\nDa: 9:00\nA: 17:00\n\nGrazie a voi.",
        "Les horaires sont :\nDe : 9h\nÀ : 17h\n\nMerci.",
        "Öffnungszeiten:\nVon: 9 Uhr\nAn: Feiertagen geschlossen\n\nDanke.",
        "2024-03-05 17:21 GMT+01:00: the server went down.\nIt came back at 18:00.",
    ],
)
def test_reply_lines_that_look_like_header_fields_are_kept(body):
    assert extract_reply(body) == body


def test_outlook_header_block_inside_html():
    html = (
        f"<div>{REPLY.replace(chr(10), '<br>')}</div><div><br></div>"
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        "<p><b>Da:</b> Jane Doe &lt;jane@example.com&gt;<br><b>Inviato:</b> martedì 5 marzo 2024 09:14<br>"
        "<b>A:</b> Support<br><b>Oggetto:</b> R: Fattura 1234</p></div><p>Hello, please find the invoice.</p>"
    )
    assert html_to_reply_text(html) == REPLY


@pytest.mark.parametrize(
    "attribution",
    [
        "2016-03-03 17:21 GMT+01:00 Jane Doe <jane@example.com>:",
        "2016-03-03 8:05 GMT-05:00 Jane Doe <jane@example.com>:",
        "2013/7/20 Jane Doe <jane@example.com>",
        "2013/7/20 Jane via Example Forum <forum@example.com>",
        "2024-03-05 9:14 GMT+09:00 山田太郎 <yamada@example.jp>:",
    ],
)
def test_gmail_numeric_attribution(attribution):
    body = f"{REPLY}\n\n{attribution}\n\n{QUOTED}\n"
    assert extract_reply(body) == REPLY


def test_gmail_numeric_attribution_with_pipe_quoting():
    body = f"{REPLY}\n\n2013/7/20 Jane via Example Forum <forum@example.com>\n\n" + "\n".join(
        "| " + line for line in ORIGINAL.split("\n")
    )
    assert extract_reply(body) == REPLY


@pytest.mark.parametrize(
    "attribution",
    [
        'On 8 May 2017 17:34, "Jane Doe" <jane@example.com> wrote:',
        'On 8 May 2017 6:51 pm, "Jane Doe" <jane@example.com> wrote:',
        'Am 08.05.2017 17:34 schrieb "Jane Doe" <jane@example.com>:',
        'Le 8 mai 2017 17:34, "Jane Doe" <jane@example.com> a écrit :',
    ],
)
def test_attribution_followed_by_indented_original(attribution):
    indented = "\n".join("    " + line if line else "" for line in ORIGINAL.split("\n"))
    body = f"{REPLY}\n\n{attribution}\n\n{indented}\n"
    assert extract_reply(body) == REPLY


def test_indented_code_without_attribution_is_not_history():
    # Guard for the indented-original rule: indentation alone is not a quote.
    body = "Try this in the console:\n\n    for job in queue:\n        job.retry()\n\nThat fixed it for me."
    assert extract_reply(body) == body


@pytest.mark.parametrize(
    "separator",
    [
        "-------- Oprindelig besked --------",
        "-------- Ursprüngliche Nachricht --------",
        "-------- Message d'origine --------",
        "-------- Messaggio originale --------",
        "-------- Mensaje original --------",
        "-------- Oorspronkelijk bericht --------",
        "-------- Originalmeddelande --------",
        "-------- Alkuperäinen viesti --------",
        "-------- Wiadomość oryginalna --------",
        "-------- Původní zpráva --------",
        "-------- Mensagem original --------",
        "-------- Original message --------",  # Samsung Email
    ],
)
def test_original_message_separator_leaves_no_trace(separator):
    body = f"{REPLY}\n\n{separator}\nFrom: Jane Doe <jane@example.com>\nDate: 05/03/2024 09:14\n\n{ORIGINAL}\n"
    assert extract_reply(body) == REPLY


# ====================================================================================================================
# Reply extraction: mobile footers followed by an unmarked copy
# ====================================================================================================================

MOBILE_FOOTERS = [
    "Sent from my Samsung Galaxy smartphone.",
    "Sent from my Wiko RIDGE FAB 4G",
    "Sent from Outlook for Android",
    "Get Outlook for iOS",
    "Gesendet von Outlook für Android<https://aka.ms/ghei36>",
    "Von meinem iPhone gesendet",
    "Envoyé de mon iPhone",
    "Envoyé depuis mon appareil Galaxy",
    "Enviado desde mi iPhone",
    "Enviado do meu iPhone",
    "Inviato da iPhone",
    "Skickat från min iPhone",
    "Sendt fra min iPhone",
    "Wysłane z mojego iPhone'a",
    "Verzonden vanaf mijn iPhone",
    "Lähetetty iPhonesta",
    "Odesláno z iPhonu",
    "從我的 iPhone 傳送",
]


@pytest.mark.parametrize("footer", MOBILE_FOOTERS)
def test_mobile_footer_followed_by_an_unmarked_copy(footer):
    body = f"{REPLY}\n\n{footer}\n\n{ORIGINAL}\n"
    assert extract_reply(body) == REPLY


@pytest.mark.parametrize(
    "footer", ["Envoyé de mon iPhone", "Gesendet von Outlook für Android", "Skickat från min iPhone"]
)
def test_mobile_footer_followed_by_an_unmarked_copy_in_html(footer):
    html = (
        f'<div dir="ltr">{REPLY.replace(chr(10), "<br>")}</div><div><br></div><div>{footer}</div><br>'
        f"<div>{ORIGINAL.replace(chr(10), '<br>')}</div>"
    )
    assert html_to_reply_text(html) == REPLY


def test_sent_from_inside_a_sentence_is_not_a_footer():
    body = "The file was sent from my iPhone app yesterday, but it never arrived.\nCan you check the logs?"
    assert extract_reply(body) == body


# ====================================================================================================================
# Reply extraction: sign-offs
# ====================================================================================================================

SIGN_OFFS = {
    "da": "Med venlig hilsen\nAnders Andersen",
    "da_short": "Hilsen\nSøren",
    "da_mvh": "Mvh\nHanne",
    "da_kh": "Kh\nPeter",
    "no": "Med vennlig hilsen\nOla Nordmann",
    "no_mvh": "Mvh\nKari",
    "sv": "Med vänliga hälsningar\nAnna Svensson",
    "sv_slash": "/John",
    "fi": "Ystävällisin terveisin\nMatti Meikäläinen",
    "fi_short": "Terveisin\nMatti",
    "pl": "Pozdrawiam,\nJan Kowalski",
    "pl_formal": "Z poważaniem\nJan Kowalski",
    "cs": "S pozdravem\nJan Novák",
    "nl": "Met vriendelijke groet,\nJan de Vries",
    "nl_short": "Groetjes,\nSanne",
    "pt": "Cumprimentos,\nJoão Silva",
    "pt_br": "Atenciosamente,\nJoão Silva",
    "it": "Cordiali saluti\nMario Rossi",
    "it_short": "Saluti,\nMario",
    "en_blank_line": "Regards,\n\nJohn Doe\nCEO @ Example Ltd",
}


@pytest.mark.parametrize("lang", sorted(SIGN_OFFS))
def test_sign_off_ending_the_reply_goes_with_its_name(lang):
    body = f"{REPLY}\n\n{SIGN_OFFS[lang]}\n"
    assert extract_reply(body) == REPLY


@pytest.mark.parametrize("lang", ["da", "pl", "sv_slash", "nl", "it"])
def test_sign_off_ending_the_reply_above_a_quote(lang):
    body = (
        f"{REPLY}\n\n{SIGN_OFFS[lang]}\n\nOn Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> wrote:\n{QUOTED}\n"
    )
    assert extract_reply(body) == REPLY


MID_REPLY = {
    "da": "Hilsen fra regnskabsafdelingen: beløbet på fakturaen er forkert.\nKan I sende en ny?",
    "no": "Hilsen til Kari, hun spurte etter dere.\nNår kommer leveransen?",
    "pl": "Pozdrawiam serdecznie cały zespół, świetna robota z wdrożeniem.\nCzy faktura jest już gotowa?",
    "cs": "S pozdravem jsme počkali, až přijde faktura.\nKdy ji pošlete?",
    "nl": "Met vriendelijke groet van mijn collega Jan, die de bestelling deed.\nWanneer wordt er geleverd?",
    "it": "Cordiali saluti anche da parte di Mario, che ha fatto l'ordine.\nQuando arriva la merce?",
    "pt": "Cumprimentos ao Pedro, que tratou da encomenda.\nQuando chega a mercadoria?",
    "sv": "Hälsningar från Anna på ekonomi: summan stämmer inte.\nKan ni skicka en ny faktura?",
    "fi": "Terveisin myös Matille, hän tilasi tuotteet.\nMilloin toimitus tulee?",
    "en": "Regards to the payment: we sent it on Monday.\nPlease confirm you received it.",
}


@pytest.mark.parametrize("lang", sorted(MID_REPLY))
def test_sign_off_word_in_the_middle_of_a_reply_is_kept(lang):
    body = MID_REPLY[lang]
    assert extract_reply(body) == body


def test_sign_off_with_more_reply_below_is_kept():
    body = "Hi,\n\nMed venlig hilsen\nAnders\n\nPS: the parcel number is 4711, please track it.\nAnd call me back."
    out = extract_reply(body)
    assert "the parcel number is 4711" in out
    assert "And call me back." in out


# ====================================================================================================================
# Reply extraction: never over-trim
# ====================================================================================================================


def test_numbered_list_reply_is_kept():
    body = "Please add these users:\n\n1. Anna Berg\n2. Ola Nordmann\n3. Jan Kowalski"
    assert extract_reply(body) == body


def test_dash_list_of_names_is_not_a_signature():
    body = "Please add these users:\n\n- Anna Berg\n- Ola Nordmann"
    assert extract_reply(body) == body


def test_code_block_with_dash_dash_line_is_kept():
    body = "The config should read:\n\n```\nserver:\n  port: 8080\n--\n  debug: true\n```\n\nDoes that work for you?"
    assert extract_reply(body) == body


@pytest.mark.parametrize("emoji", ["👍", "🎉🎉", "🙏", "👍🏽", "❤️"])
def test_emoji_only_reply_is_kept(emoji):
    assert extract_reply(emoji) == emoji
    quoted = f"{emoji}\n\nOn Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> wrote:\n{QUOTED}\n"
    assert extract_reply(quoted) == emoji
    assert extract_reply(f"{emoji}\n\nSent from my iPhone") == emoji
    assert extract_from_message(None, f"<div>{emoji}</div>") == emoji


def test_em_dash_name_is_kept():
    body = "Let me know if you like it, any feedback is appreciated!\n\n—Ryan"
    assert "—Ryan" in extract_reply(body)


def test_bottom_posted_reply_keeps_its_text():
    body = f"On Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> wrote:\n{QUOTED}\n\nYes, it is fixed now.\nBob"
    out = extract_reply(body)
    assert "Yes, it is fixed now." in out
    assert "please find the corrected invoice" not in out


def test_interleaved_answers_are_all_kept():
    body = "> Which printer?\nThe one on floor 2.\n\n> Since when?\nSince Monday morning.\n"
    out = extract_reply(body)
    assert "The one on floor 2." in out
    assert "Since Monday morning." in out


# ====================================================================================================================
# Pathological inputs: every new pattern must stay linear. These only have to complete; a regular expression that
# backtracks catastrophically would not (100 KB lines of near-matches for each pattern family).
# ====================================================================================================================

NEAR_MATCHES = {
    "attribution": "On Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> ",
    "gmail_numeric": "2016-03-03 17:21 GMT+01:00 Jane ",
    "outlook_field": "Von: Jane Gesendet: Dienstag An: ",
    "separator": "-------- Original ",
    "mobile": "Sent from my ",
    "sign_off": "Med venlig hilsen ",
    "slash_name": "/John ",
    "emoji": "👍🏽",
    "digits": "1. 2. 3. ",
    "dashes": "- -- --- ",
    "quotes": "> > > ",
    "angle": "<<<<",
    "spaces": " \t" * 8,
}


@pytest.mark.parametrize("family", sorted(NEAR_MATCHES))
def test_pathological_reply_line_completes(family):
    piece = NEAR_MATCHES[family]
    line = piece * (100_000 // len(piece))
    assert isinstance(extract_reply(line + "\n\n" + line), str)
    assert isinstance(extract_reply("\n".join([piece.strip()] * 5_000)), str)
    assert isinstance(html_to_reply_text(f"<div>{line}</div>"), str)


@pytest.mark.parametrize(
    "header",
    [
        "Subject: " + "=?utf-8?B?" * 10_000,
        "Subject: " + "=?utf-8?B?QQ==?= " * 5_000,
        "From: " + "(" * 50_000 + "a@example.com",
        "From: " + '"' * 50_000 + " <a@example.com>",
        "From: " + "a@" * 40_000,
        "To: " + "undisclosed-recipients:;" * 4_000,
        "X-Broken: " + "A" * 100_000,
    ],
)
def test_pathological_header_completes(header):
    p = parse_email(raw(header + "\n" + BASE))
    assert p.status in ("accepted", "rejected")


def test_pathological_unindented_header_lines_complete():
    garbage = "\n".join(f"not a header line {i}" for i in range(5_000))
    p = parse_email(raw("Received: x\n" + garbage + "\nFrom: a@example.com\nSubject: x"))
    assert p.status in ("accepted", "rejected")
