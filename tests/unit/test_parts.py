"""Tests for emailpipe.mail.parts and mail.tnef: attachments that mail clients hide (issue 14).

Every sample is built here. The TNEF streams are written by `tnef_stream` below from the format's public
specification (MS-OXTNEF: attribute framing, attOemCodepage, attMsgProps, attAttachRendData/Title/Data,
attAttachment; MS-OXPROPS for the property ids), not copied from any client's or library's test data.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import time
from email.message import EmailMessage
from types import SimpleNamespace

import pytest

from emailpipe.domain.attachments import DECORATION_MAX_BYTES, image_size, is_decoration
from emailpipe.inbound.logic import _store_attachments
from emailpipe.mail import tnef
from emailpipe.mail.parse import parse_email, parse_report

# --- samples ------------------------------------------------------------------------------------------------------

PT_LONG, PT_STRING8, PT_UNICODE, PT_BINARY, PT_OBJECT = 0x0003, 0x001E, 0x001F, 0x0102, 0x000D
IMESSAGE = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"


def attribute(level: int, attr_id: int, atp: int, data: bytes) -> bytes:
    """One TNEF attribute: level, attrId (id, type), length, data, checksum (MS-OXTNEF 2.1.3.3)."""
    return struct.pack("<BHHI", level, attr_id, atp, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def mapi(ptype: int, pid: int, value: object) -> bytes:
    """One MAPI property as attMsgProps/attAttachment carry it (values padded to 4 bytes)."""
    head = struct.pack("<HH", ptype, pid)
    if ptype == PT_LONG:
        return head + struct.pack("<i", value)
    if ptype == PT_UNICODE:
        value = value.encode("utf-16-le") + b"\0\0"
    elif ptype == PT_STRING8:
        value = value.encode("cp1252") + b"\0"
    return head + struct.pack("<II", 1, len(value)) + value + b"\0" * (-len(value) % 4)


def mapi_list(*props: bytes) -> bytes:
    return struct.pack("<I", len(props)) + b"".join(props)


def tnef_stream(*attributes: bytes, codepage: int = 1252) -> bytes:
    version = attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x10000))
    oem = attribute(1, 0x9007, 0x0006, struct.pack("<II", codepage, 0))
    return b"\x78\x9f\x3e\x22" + struct.pack("<H", 0x2A1B) + version + oem + b"".join(attributes)


def tnef_file(
    data: bytes, long_name: str | None, *, title: bytes | None = None, mime: str = "", cid: str = "", codepage="cp1252"
) -> bytes:
    props = []
    if long_name is not None:
        props.append(mapi(PT_UNICODE, 0x3707, long_name))
    if mime:
        props.append(mapi(PT_STRING8, 0x370E, mime))
    if cid:
        props.append(mapi(PT_STRING8, 0x3712, cid))
    if title is None:
        title = (long_name or "").encode(codepage, "replace")
    return (
        attribute(2, 0x9002, 0x0006, b"\x01\x00\xff\xff\xff\xff" + bytes(8))
        + attribute(2, 0x8010, 0x0001, title + b"\0")
        + attribute(2, 0x800F, 0x0006, data)
        + attribute(2, 0x9005, 0x0006, mapi_list(*props))
    )


def tnef_item(inner: bytes, name: str) -> bytes:
    """An attached Outlook item (attach method 5): a whole TNEF stream in PidTagAttachDataObject."""
    props = mapi_list(
        mapi(PT_UNICODE, 0x3001, name), mapi(PT_LONG, 0x3705, 5), mapi(PT_OBJECT, 0x3701, IMESSAGE + inner)
    )
    return attribute(2, 0x9002, 0x0006, b"\x05\x00\xff\xff\xff\xff" + bytes(8)) + attribute(2, 0x9005, 0x0006, props)


def tnef_body(text: str | None = None, html: str | None = None, rtf: bytes | None = None, cpid: int | None = None):
    props = []
    if text is not None:
        props.append(mapi(PT_STRING8, 0x1000, text))
    if html is not None:
        props.append(mapi(PT_BINARY, 0x1013, html.encode("utf-8")))
    if rtf is not None:
        props.append(mapi(PT_BINARY, 0x1009, rtf))
    if cpid is not None:
        props.append(mapi(PT_LONG, 0x3FDE, cpid))
    return attribute(1, 0x9003, 0x0006, mapi_list(*props))


PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n\0\0"  # trailing NULs: bytes a file may really end with


def png(width: int, height: int, size: int = 300) -> bytes:
    head = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + struct.pack(">II", width, height) + b"\x08\x06\0\0\0"
    return head + bytes(max(0, size - len(head)))


def jpeg(width: int, height: int, size: int = 400) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    head = b"\xff\xd8" + app0 + sof
    return head + bytes(max(0, size - len(head) - 2)) + b"\xff\xd9"


def outlook_email(
    winmail: bytes, *, text: str | None = "Please see the attached report.\n", ctype="application/ms-tnef"
):
    """Outlook with "Rich Text" to an Internet recipient: a plain body and the winmail.dat beside it."""
    msg = EmailMessage()
    msg["From"] = "Jan Novak <jan@example.org>"
    msg["To"] = "support@help.example.com"
    msg["Subject"] = "Q3 report"
    if text is not None:
        msg.set_content(text)
    maintype, subtype = ctype.split("/")
    msg.add_attachment(winmail, maintype=maintype, subtype=subtype, filename="winmail.dat")
    return msg.as_bytes()


def exchange_only_tnef(winmail: bytes) -> bytes:
    """Exchange between its own servers: the whole message is one application/ms-tnef part."""
    import base64

    body = base64.encodebytes(winmail)
    return (
        b"From: Jan Novak <jan@example.org>\r\nTo: support@help.example.com\r\nSubject: Q3\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: application/ms-tnef; name=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body
    )


def html_email(html: str, *related: tuple[bytes, str, str, str | None]) -> bytes:
    """An HTML email with inline parts (data, maintype/subtype, cid, filename or None) in multipart/related."""
    msg = EmailMessage()
    msg["From"] = "Ana <ana@example.org>"
    msg["To"] = "support@help.example.com"
    msg["Subject"] = "printer"
    msg.set_content("see the HTML part\n")
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[1]
    for data, ctype, cid, filename in related:
        maintype, subtype = ctype.split("/")
        html_part.add_related(data, maintype=maintype, subtype=subtype, cid=f"<{cid}>", filename=filename)
    raw = msg.as_bytes()
    if any(filename is None for *_, filename in related):
        # EmailMessage writes Content-Disposition: inline when a filename is given; Outlook's parts have neither.
        raw = raw.replace(b"Content-Disposition: inline\n", b"")
    return raw


# --- TNEF ---------------------------------------------------------------------------------------------------------


def test_winmail_dat_is_replaced_by_its_files():
    winmail = tnef_stream(
        tnef_body(rtf=b"compressed rtf"),
        tnef_file(PDF, "Bericht über Q3.pdf", mime="application/pdf"),
        tnef_file(b"col1;col2\n", "zahlen.csv"),
    )

    parsed = parse_email(outlook_email(winmail))

    assert parsed.status == "accepted"
    assert parsed.text.strip() == "Please see the attached report."
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("Bericht über Q3.pdf", "application/pdf"),
        ("zahlen.csv", "text/csv"),  # no MIME tag in the stream: the type comes from the name
    ]
    assert parsed.attachments[0].payload == PDF  # byte for byte, trailing NULs included
    assert "tnef_unpacked" in parsed.defects


def test_winmail_dat_sent_as_octet_stream_is_unpacked_too():
    winmail = tnef_stream(tnef_file(PDF, "offer.pdf"))

    parsed = parse_email(outlook_email(winmail, ctype="application/octet-stream"))

    assert [a.filename for a in parsed.attachments] == ["offer.pdf"]


def test_8_bit_title_without_long_name_is_read_in_the_streams_code_page():
    # Old Outlook versions: only attAttachTitle, an 8.3 name in the OEM code page (here windows-1250).
    winmail = tnef_stream(tnef_file(b"doc", None, title="Příloha.doc".encode("cp1250")), codepage=1250)

    parsed = parse_email(outlook_email(winmail))

    assert [a.filename for a in parsed.attachments] == ["Příloha.doc"]
    assert parsed.attachments[0].content_type == "application/msword"


def test_exchange_message_that_is_only_tnef_takes_its_body_from_the_stream():
    # PidTagBody as a Unicode property, as Exchange writes it (windows-1252 cannot carry "ř")
    winmail = tnef_stream(
        attribute(
            1, 0x9003, 0x0006, mapi_list(mapi(PT_UNICODE, 0x1000, "Dobrý den,\r\nv příloze posílám fakturu.\r\n"))
        ),
        tnef_file(PDF, "faktura.pdf"),
    )

    parsed = parse_email(exchange_only_tnef(winmail))

    assert parsed.status == "accepted"
    assert parsed.text == "Dobrý den,\nv příloze posílám fakturu.\n"
    assert [a.filename for a in parsed.attachments] == ["faktura.pdf"]
    assert "tnef_body" in parsed.defects


def test_tnef_html_body_is_used_when_the_email_has_no_other():
    winmail = tnef_stream(tnef_body(html="<p>Grüße aus Wien</p>", cpid=65001))

    parsed = parse_email(exchange_only_tnef(winmail))

    assert parsed.status == "accepted"
    assert parsed.html == "<p>Grüße aus Wien</p>"
    assert parsed.attachments == ()


def test_tnef_body_does_not_replace_the_emails_own_body():
    winmail = tnef_stream(tnef_body(text="the RTF copy, as plain text"), tnef_file(PDF, "a.pdf"))

    parsed = parse_email(outlook_email(winmail, text="The real body.\n"))

    assert parsed.text.strip() == "The real body."
    assert "tnef_body" not in parsed.defects


def test_rtf_only_winmail_dat_beside_a_body_is_dropped_as_a_copy_of_it():
    winmail = tnef_stream(tnef_body(rtf=b"\x00" * 16))

    parsed = parse_email(outlook_email(winmail))

    assert parsed.attachments == ()
    assert "tnef_rtf_body_dropped" in parsed.defects


def test_rtf_only_winmail_dat_without_other_body_is_kept_whole():
    winmail = tnef_stream(tnef_body(rtf=b"\x00" * 16))

    parsed = parse_email(exchange_only_tnef(winmail))

    assert parsed.status == "accepted"
    assert [(a.filename, a.payload) for a in parsed.attachments] == [("winmail.dat", winmail)]
    assert "tnef_rtf_body" in parsed.defects


@pytest.mark.parametrize(
    "winmail",
    [
        b"not a TNEF stream at all",
        tnef_stream(attribute(2, 0x9002, 6, bytes(14)), attribute(2, 0x9005, 6, b"\xff" * 8)),  # broken MAPI list
        tnef_stream(tnef_file(PDF, "cut.pdf"))[:-40],  # cut inside its only attachment's properties
    ],
    ids=["garbage", "broken-mapi", "truncated"],
)
def test_unreadable_winmail_dat_is_kept_whole(winmail):
    parsed = parse_email(outlook_email(winmail))

    assert parsed.status == "accepted"
    assert [(a.filename, a.payload) for a in parsed.attachments][-1] == ("winmail.dat", winmail)
    assert "tnef_unreadable" in parsed.defects or "tnef_damaged" in parsed.defects


def test_truncated_winmail_dat_gives_what_it_can_and_is_kept_too():
    full = tnef_stream(tnef_file(PDF, "first.pdf"), tnef_file(b"x" * 500, "second.bin"))
    cut = full[: len(full) - 300]  # inside the second file's data

    parsed = parse_email(outlook_email(cut))

    assert [a.filename for a in parsed.attachments] == ["first.pdf", "winmail.dat"]
    assert parsed.attachments[0].payload == PDF and parsed.attachments[1].payload == cut
    assert "tnef_damaged" in parsed.defects


def test_line_break_after_the_stream_is_ignored():
    content = tnef.unpack(tnef_stream(tnef_file(PDF, "a.pdf")) + b"\r\n")

    assert [f.filename for f in content.files] == ["a.pdf"] and not content.damaged


def test_not_a_tnef_stream_raises_tnef_error():
    with pytest.raises(tnef.TnefError):
        tnef.unpack(b"no signature")


def test_attached_outlook_item_gives_its_files_and_its_body():
    inner = tnef_stream(tnef_body(html="<p>the forwarded item</p>"), tnef_file(b"GIF89a..", "plan.gif"))
    winmail = tnef_stream(tnef_file(PDF, "cover.pdf"), tnef_item(inner, "Meeting notes"))

    parsed = parse_email(outlook_email(winmail))

    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("cover.pdf", "application/pdf"),
        ("plan.gif", "image/gif"),
        ("Meeting notes.html", "text/html"),
    ]
    assert parsed.attachments[2].payload == b"<p>the forwarded item</p>"


def test_outlook_items_nested_without_end_are_refused_not_recursed():
    stream = tnef_stream(tnef_file(PDF, "x.pdf"))
    for depth in range(10):
        stream = tnef_stream(tnef_item(stream, f"level {depth}"))

    with pytest.raises(tnef.TnefError):
        tnef.unpack(stream)
    parsed = parse_email(outlook_email(stream))
    assert [a.filename for a in parsed.attachments] == ["winmail.dat"]


def test_stream_of_many_small_attributes_is_read_in_linear_time():
    # tnefparse.TNEF copies the rest of the stream once per attribute: ~1 s for this 1 MB, hours for 40 MB.
    stream = tnef_stream(*[attribute(1, 0x8004, 0x0001, b"x")] * 80_000, tnef_file(PDF, "end.pdf"))

    started = time.process_time()
    content = tnef.unpack(stream)

    assert [f.filename for f in content.files] == ["end.pdf"]
    assert time.process_time() - started < 0.5


@pytest.mark.parametrize(
    "props",
    [
        struct.pack("<I", 0xFFFFFFF0) + mapi(PT_LONG, 0x3705, 1),  # property count
        mapi_list(struct.pack("<HHI", 0x1002, 0x6001, 0xFFFFFFF0) + bytes(8)),  # multi-valued shorts count
        mapi_list(struct.pack("<HHII", PT_BINARY, 0x3701, 1, 0xFFFFFF00) + bytes(8)),  # a value's length
    ],
    ids=["properties", "multi-values", "length"],
)
def test_mapi_counts_larger_than_their_data_are_refused_at_once(props):
    # tnefparse's decode_mapi would loop 4 billion times on the first two.
    stream = tnef_stream(attribute(2, 0x9002, 6, bytes(14)), attribute(2, 0x9005, 6, props))

    started = time.process_time()
    with pytest.raises(tnef.TnefError):
        tnef.unpack(stream)
    assert time.process_time() - started < 0.1
    assert [a.filename for a in parse_email(outlook_email(stream)).attachments] == ["winmail.dat"]


def test_tnef_image_linked_from_its_html_body_is_a_decoration():
    winmail = tnef_stream(
        tnef_body(html='<p>Hi</p><p>-- <img src="cid:logo.png@01DA">Jan</p>', cpid=65001),
        tnef_file(png(120, 40), "logo.png", mime="image/png", cid="logo.png@01DA"),
        tnef_file(PDF, "offer.pdf"),
    )

    parsed = parse_email(exchange_only_tnef(winmail))

    assert [(a.filename, a.content_id, a.inline) for a in parsed.attachments] == [
        ("logo.png", "logo.png@01DA", True),
        ("offer.pdf", None, False),
    ]


def test_tnefparse_is_imported_only_for_mail_with_a_tnef_part():
    code = (
        "import sys; from emailpipe.mail.parse import parse_email\n"
        "assert 'tnefparse' not in sys.modules\n"
        "parse_email(b'From: a@example.org\\nSubject: x\\nContent-Type: application/pdf; name=a.pdf\\n\\n%PDF')\n"
        "assert 'tnefparse' not in sys.modules\n"
        "parse_email(sys.stdin.buffer.read())\n"
        "assert 'tnefparse' in sys.modules\n"
    )
    raw = outlook_email(tnef_stream(tnef_file(PDF, "a.pdf")))

    subprocess.run([sys.executable, "-c", code], input=raw, check=True)


# --- Outlook inline images and Apple Mail's attachments among the text --------------------------------------------


def test_outlook_inline_image_without_disposition_is_kept_under_its_content_id_name():
    screenshot = png(1280, 720, size=80_000)
    raw = html_email(
        '<p>The error:</p><img src="cid:image001.png@01D9C2A4.5E4F0A10">',
        (screenshot, "image/png", "image001.png@01D9C2A4.5E4F0A10", None),
    )
    assert b"Content-Disposition" not in raw

    parsed = parse_email(raw)

    (image,) = parsed.attachments
    assert (image.filename, image.content_id, image.payload) == (
        "image001.png",
        "image001.png@01D9C2A4.5E4F0A10",
        screenshot,
    )
    assert image.inline is False  # a screenshot pasted in the body is what the sender wants seen


def test_image_with_only_a_name_in_its_content_type_is_kept():
    raw = (
        b"From: a@example.org\nTo: s@help.example.com\nSubject: x\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\nphoto below\n'
        b'--B\nContent-Type: image/jpeg; name="IMG_0042.JPG"\nContent-Transfer-Encoding: base64\n\n'
        b"/9j/4AAQSkZJRg==\n--B--\n"
    )

    parsed = parse_email(raw)

    assert [(a.filename, a.content_type, a.inline) for a in parsed.attachments] == [
        ("IMG_0042.JPG", "image/jpeg", False)
    ]


def test_nameless_part_is_named_after_its_content_location():
    raw = (
        b"From: a@example.org\nTo: s@help.example.com\nSubject: x\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/related; boundary="B"\n\n--B\nContent-Type: text/html\n\n<p>hi</p>\n'
        b"--B\nContent-Type: image/gif\nContent-Location: http://intranet.example/img/floor%20plan.gif\n\nGIF89a\n--B--\n"
    )

    parsed = parse_email(raw)

    assert [a.filename for a in parsed.attachments] == ["floor plan.gif"]


def test_content_id_that_is_not_a_file_name_stays_the_name():
    raw = html_email(
        '<img src="cid:485376C9-2486@home">', (jpeg(640, 480, 30_000), "image/jpeg", "485376C9-2486@home", None)
    )

    (image,) = parse_email(raw).attachments
    assert image.filename == "485376C9-2486@home"


def test_apple_mail_attachment_between_two_text_parts():
    raw = (
        b"From: a@example.org\nTo: s@help.example.com\nSubject: x\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="Apple-Mail=_1"\n\n'
        b"--Apple-Mail=_1\nContent-Type: text/plain; charset=us-ascii\n\nHere is the contract:\n\n"
        b'--Apple-Mail=_1\nContent-Disposition: inline; filename="Contract 2024.pdf"\n'
        b'Content-Type: application/pdf; x-unix-mode=0644; name="Contract 2024.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\n"
        b"JVBERi0xLjQK\n"
        b"--Apple-Mail=_1\nContent-Type: text/plain; charset=us-ascii\n\nPlease sign page 3.\n--Apple-Mail=_1--\n"
    )

    parsed = parse_email(raw)

    assert "Here is the contract:" in parsed.text and "Please sign page 3." in parsed.text
    assert parsed.text.index("contract") < parsed.text.index("sign")
    assert [(a.filename, a.payload, a.inline) for a in parsed.attachments] == [
        ("Contract 2024.pdf", b"%PDF-1.4\n", False)
    ]


def test_apple_mail_html_with_an_image_between_two_html_parts():
    raw = (
        b"From: a@example.org\nTo: s@help.example.com\nSubject: x\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/alternative; boundary="A"\n\n'
        b"--A\nContent-Type: text/plain\n\nBefore\n\n[photo]\n\nAfter\n"
        b'--A\nContent-Type: multipart/mixed; boundary="M"\n\n'
        b"--M\nContent-Type: text/html\n\n<html><body>Before</body></html>\n"
        b'--M\nContent-Disposition: inline; filename="IMG_1234.jpeg"\nContent-Type: image/jpeg; name="IMG_1234.jpeg"\n'
        b"Content-Id: <C0FFEE-11@apple>\nContent-Transfer-Encoding: base64\n\n/9j/4AAQ\n"
        b"--M\nContent-Type: text/html\n\n<html><body>After</body></html>\n--M--\n--A--\n"
    )

    parsed = parse_email(raw)

    assert "Before" in parsed.html and "After" in parsed.html
    assert [(a.filename, a.inline) for a in parsed.attachments] == [("IMG_1234.jpeg", False)]


def test_raw_8_bit_file_name_is_decoded_not_replaced():
    # Clients that skip RFC 2231/2047 write the name's bytes as they are: here UTF-8 and, in a Latin-1 mail, Latin-1.
    for charset, name in (("utf-8", "Hofjägerallee Schaden.jpg"), ("iso-8859-1", "Wölbung.jpg")):
        raw = (
            b"From: a@example.org\nTo: s@help.example.com\nSubject: x\nMIME-Version: 1.0\n"
            b'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain; charset='
            + charset.encode()
            + b'\n\nphoto\n--B\nContent-Type: image/jpeg\nContent-Disposition: attachment; filename="'
            + name.encode(charset)
            + b'"\nContent-Transfer-Encoding: base64\n\n/9j/4AAQ\n--B--\n'
        )

        assert [a.filename for a in parse_email(raw).attachments] == [name]


def test_attached_email_is_named_after_its_8_bit_subject():
    inner = "From: 王 <w@example.cn>\nSubject: 转发：服务水平\nContent-Type: text/plain; charset=gbk\n\n正文\n"
    raw = (
        b"From: a@example.org\nTo: s@help.example.com\nSubject: fwd\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\nsee attached\n'
        b"--B\nContent-Type: message/rfc822\n\n" + inner.encode("gbk") + b"--B--\n"
    )

    assert [a.filename for a in parse_email(raw).attachments] == ["转发：服务水平.eml"]


# --- signature decoration -----------------------------------------------------------------------------------------

SIGNATURE_HTML = (
    "<p>Yes, Tuesday works.</p><p>Kind regards,<br>Jan Novak<br>"
    '<img width=120 height=40 src="cid:image001.png@01DA1234.ABCD5678"> '
    '<img src="cid:linkedin_icon%2Epng"></p>'
)


def test_small_images_linked_from_the_signature_are_kept_and_marked_inline():
    raw = html_email(
        SIGNATURE_HTML,
        (png(120, 40, 4_000), "image/png", "image001.png@01DA1234.ABCD5678", None),
        (png(16, 16, 600), "image/png", "linkedin_icon.png", "linkedin_icon.png"),
    )

    parsed = parse_email(raw)

    assert [(a.filename, a.inline) for a in parsed.attachments] == [("image001.png", True), ("linkedin_icon.png", True)]


def test_big_photo_pasted_in_the_body_stays_listed():
    raw = html_email(
        '<p>The damage:</p><img src="cid:photo@x">' + SIGNATURE_HTML,
        (jpeg(2048, 1536, 250_000), "image/jpeg", "photo@x", "IMG_2001.jpg"),
        (png(120, 40, 4_000), "image/png", "image001.png@01DA1234.ABCD5678", None),
    )

    parsed = parse_email(raw)

    assert [(a.filename, a.inline) for a in parsed.attachments] == [("IMG_2001.jpg", False), ("image001.png", True)]


def test_small_screenshot_with_a_screens_dimensions_stays_listed():
    raw = html_email('<img src="cid:shot@x">', (png(900, 600, 15_000), "image/png", "shot@x", None))

    (image,) = parse_email(raw).attachments
    assert image.size <= DECORATION_MAX_BYTES and image.inline is False


def test_small_image_with_a_content_id_the_html_never_links_stays_listed():
    raw = html_email("<p>no images here</p>", (png(64, 64, 900), "image/png", "logo@x", "logo.png"))

    (image,) = parse_email(raw).attachments
    assert image.inline is False


def test_decoration_is_not_stored_as_a_message_attachment():
    raw = html_email(SIGNATURE_HTML, (png(120, 40, 4_000), "image/png", "image001.png@01DA1234.ABCD5678", None))
    parsed = parse_email(raw)
    stored = []
    ctx = SimpleNamespace(attachment_prefix="att/", put_attachment=lambda key, data, ctype: stored.append(key))

    pdf = parse_email(outlook_email(tnef_stream(tnef_file(PDF, "offer.pdf")))).attachments
    refs = _store_attachments((*parsed.attachments, *pdf), "c1", "m1", ctx)

    assert [ref.filename for ref in refs] == ["offer.pdf"]
    assert stored == ["att/c1/m1/1-offer.pdf"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(120, 40), (120, 40)),
        (b"GIF89a" + struct.pack("<HH", 88, 31) + bytes(20), (88, 31)),
        (jpeg(640, 480), (640, 480)),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),  # cut before its frame header
        (b"BM....", None),
    ],
    ids=["png", "gif", "jpeg", "jpeg-cut", "other"],
)
def test_image_size(data, expected):
    assert image_size(data) == expected


def test_is_decoration_needs_an_image_small_in_bytes_and_pixels():
    assert is_decoration("image/png", 4_000, png(200, 60))
    assert is_decoration("image/x-unknown", 4_000, b"....")  # pixels unknown: the size decides
    assert not is_decoration("image/png", DECORATION_MAX_BYTES + 1, png(200, 60))
    assert not is_decoration("image/png", 4_000, png(1024, 768))
    assert not is_decoration("application/pdf", 4_000, b"%PDF")


def test_emailpipe_parse_report_tells_a_signature_logo_from_a_listed_attachment():
    winmail = tnef_stream(
        tnef_body(html='<p>Hi</p><p>-- <img src="cid:logo.png@01DA">Jan</p>', cpid=65001),
        tnef_file(png(120, 40), "logo.png", mime="image/png", cid="logo.png@01DA"),
        tnef_file(PDF, "offer.pdf"),
    )

    report = parse_report(exchange_only_tnef(winmail))

    assert [(a["filename"], a["inline"]) for a in report["attachments"]] == [("logo.png", True), ("offer.pdf", False)]
