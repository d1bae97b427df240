"""Tests for emailpipe.mail.mime_text: charset labels that lie, raw 8-bit header bytes, lenient RFC 2047 words.

Every sample is written here (names and sentences made up for the test), encoded with Python's codecs.
"""

from __future__ import annotations

import base64
import email

import pytest

from emailpipe.mail.mime_text import (
    decode_bytes,
    decode_header_bytes,
    decode_header_value,
    decode_words,
    lookup,
    part_filename,
    raw_header,
    undo_surrogates,
)


def b64_word(text: str, charset: str = "utf-8", data: bytes | None = None) -> str:
    data = text.encode(charset) if data is None else data
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


def readable(text: str) -> bool:
    """No U+FFFD and no surrogate escape: what a person sees is text."""
    return "\ufffd" not in text and not any("\udc80" <= char <= "\udcff" for char in text)


# --- labels ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("x-gbk", "gbk"),
        ("windows-31j", "cp932"),
        ("x-sjis", "cp932"),
        ("ks_c_5601-1987", "euc_kr"),
        ("windows-874", "cp874"),
        ("cp-850", "cp850"),
        ('"UTF-8";', "utf_8"),
        ("unicode-1-1-utf-7", "utf_7"),
        ("x-mac-cyrillic", "mac_cyrillic"),
        ("no-such-charset", None),
        (None, None),
    ],
)
def test_lookup_knows_the_labels_mail_clients_write(label, codec):
    assert lookup(label) == codec


# --- labels that lie: the superset decodes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "label"),
    [
        ("熔镕工艺的內應力", "gbk", "gb2312"),  # 镕 and the traditional characters are GBK, not GB2312
        ("𠀀 is a GB18030 four-byte character", "gb18030", "gbk"),
        ("瑺 and 香港", "big5hkscs", "big5"),  # 瑺 is an HKSCS character
        ("番号①、髙橋さん", "cp932", "shift_jis"),  # NEC row 13 and an IBM extension
        ("똠방각하", "cp949", "euc-kr"),  # 똠 is only in Windows-949's extension
        ("똠방각하", "cp949", "ks_c_5601-1987"),
        ("ราคา 100€…", "cp874", "tis-620"),
        ("Fiyat 100€ ‘özel’", "cp1254", "iso-8859-9"),
    ],
)
def test_a_label_is_read_as_its_superset(text, encoding, label):
    decoded, defect = decode_bytes(text.encode(encoding), label)

    assert (decoded, defect) == (text, None)


def test_iso_2022_jp_with_nec_row_13_is_decoded():
    # ESC $ B, then JIS row 13 (0x2D21 = ①) and ordinary kana, then ESC ( B.
    data = b'\x1b$B-!-"$3$s$K$A$O\x1b(B 2024'

    assert decode_bytes(data, "iso-2022-jp") == ("①②こんにちは 2024", None)


def test_iso_2022_jp_that_is_really_shift_jis_is_decoded():
    text = "ご注文の確認（番号①）"

    assert decode_bytes(text.encode("cp932"), "iso-2022-jp") == (text, None)


def test_iso_2022_jp_that_is_really_euc_jp_is_decoded():
    text = "ご注文の確認をお願いします。"

    assert decode_bytes(text.encode("euc_jp"), "ISO-2022-JP") == (text, None)


def test_iso_2022_jp_with_half_width_katakana_and_plain_text_is_decoded():
    data = b"\x1b(I\x36\x40\x36\x45\x1b(B ok"  # ESC ( I: JIS X 0201 katakana

    assert decode_bytes(data, "iso-2022-jp")[0] == "ｶﾀｶﾅ ok"


def test_windows_1258_tones_are_composed():
    data = b"Ti\xea\xecng Vi\xea\xf2t"  # e-circumflex + combining acute, e-circumflex + combining dot below

    text, defect = decode_bytes(data, "windows-1258")

    assert (text, defect) == ("Tiếng Việt", None)
    assert len(text) == 10


def test_utf7_body_and_header_word_are_decoded():
    assert decode_bytes(b"Gr+APw-+AN8-e", "utf-7") == ("Grüße", None)
    assert decode_words("=?utf-7?Q?Gr+APw-+AN8-e?=") == ("Grüße", None)


@pytest.mark.parametrize("label", ["windows-1251", "x-mac-cyrillic", "koi8-r", "iso-8859-5"])
def test_utf8_body_under_any_single_byte_label_is_utf8(label):
    text = "Текущий счёт © 2024"

    assert decode_bytes(text.encode("utf-8"), label) == (text, "charset_mislabelled:utf-8")


def test_a_real_windows_1251_body_keeps_its_label():
    text = "Текущий счёт, спасибо за ответ."

    assert decode_bytes(text.encode("cp1251"), "windows-1251") == (text, None)


def test_a_body_in_a_broken_multibyte_charset_is_decoded_not_passed_through():
    text = "这是一封测试邮件，请查收附件。" * 5

    decoded, defect = decode_bytes(text.encode("gbk"), "shift_jis")

    assert readable(decoded)
    assert "\x1b" not in decoded
    assert defect is not None


# --- raw 8-bit header bytes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Jürgen Müller", "utf-8"),
        ("Jürgen Müller", "latin-1"),
        ("Hofjägeralle Wasserschaden.jpg", "latin-1"),
        ("Réponse à votre été", "cp1252"),
        ("王小明", "gbk"),
        ("转发：整体提升企业服务水平.eml", "gbk"),
        ("山田太郎", "cp932"),
        ("ツール 確認", "cp932"),
        ("陳大文", "big5"),
        ("Иван Петров", "cp1251"),
        ("Łódź Zażółć", "cp1250"),
    ],
)
def test_raw_header_bytes_are_decoded_by_plausibility(text, encoding):
    decoded, _ = decode_header_bytes(text.encode(encoding))

    assert decoded == text


@pytest.mark.parametrize(
    ("text", "encoding", "hint"),
    [
        ("김철수", "euc-kr", "ks_c_5601-1987"),  # alone, hangul bytes read as plausibly as GB2312 hanzi
        ("Čtvrtek", "cp1250", "windows-1250"),
        ("ツール", "cp932", "iso-2022-jp"),
    ],
)
def test_the_message_charset_wins_a_near_tie(text, encoding, hint):
    assert decode_header_bytes(text.encode(encoding), hint)[0] == text


def test_undo_surrogates_turns_parser_escapes_back_into_text():
    raw = "Re: Gr\udcfc\udcdfe".encode("utf-8", "surrogateescape")  # the parser's view of b"Re: Gr\xfc\xdfe"
    value = raw.decode("ascii", "surrogateescape")

    assert undo_surrogates(value) == ("Re: Grüße", "header_8bit:windows-1252")
    assert undo_surrogates("plain") == ("plain", None)


def test_decode_header_value_handles_raw_bytes_and_words_together():
    value = "王小明".encode("gbk").decode("ascii", "surrogateescape") + " " + b64_word("报价单", "gb2312")

    text, defects = decode_header_value(value, "gb2312")

    assert text == "王小明 报价单"
    assert defects == ["header_8bit:gb18030"]


# --- RFC 2047 words, leniently --------------------------------------------------------------------------------


def test_encoded_word_with_extra_base64_padding_is_decoded():
    word = b64_word("事務局", "iso-2022-jp")

    assert decode_words(word.replace("?=", "==?=")) == ("事務局", None)
    assert decode_words(word.replace("=?=", "?=").replace("=?=", "?=")) == ("事務局", None)


def test_base64_padding_in_the_middle_joins_two_encodings():
    word = "=?UTF-8?B?" + base64.b64encode("Grü".encode()).decode() + base64.b64encode("ße".encode()).decode() + "?="

    assert decode_words(word) == ("Grüße", None)


def test_a_base64_word_missing_its_padding_is_decoded():
    assert decode_words("=?UTF-8?B?R3LDvMOfZQ?=") == ("Grüße", None)


def test_a_multibyte_character_split_across_two_words_survives():
    data = "中文".encode()
    words = b64_word("", data=data[:2]) + " " + b64_word("", data=data[2:])

    assert decode_words(words) == ("中文", None)


def test_words_inside_quotes_and_next_to_text_are_decoded():
    assert decode_words('"=?utf-8?q?Caf=C3=A9?= Team" <team@example.org>') == ('"Café Team" <team@example.org>', None)
    assert decode_words("Re:=?utf-8?q?caf=C3=A9?=!") == ("Re:café!", None)


def test_whitespace_between_words_goes_and_other_text_stays():
    value = "=?utf-8?q?a?=  =?iso-8859-1?q?=E9?= and =?utf-8?q?b?="

    assert decode_words(value) == ("aé and b", None)


def test_iso_2022_jp_word_holding_shift_jis_bytes_is_decoded():
    word = b64_word("", "ISO-2022-JP", "ツール EXAMPLE".encode("cp932"))

    assert decode_words(word) == ("ツール EXAMPLE", None)


def test_gb2312_word_with_gbk_characters_is_decoded():
    assert decode_words(b64_word("", "GB2312", "內應力產生".encode("gbk"))) == ("內應力產生", None)


def test_a_word_in_an_unknown_charset_is_read_as_header_bytes():
    text, defect = decode_words(b64_word("", "x-unknown", "武兰成".encode("gbk")))

    assert text == "武兰成"
    assert defect == "charset_fallback:gb18030"


def test_a_word_that_is_not_base64_stays_as_written():
    assert decode_words("=?utf-8?B?@@@?= x") == ("=?utf-8?B?@@@?= x", "header_undecodable")


# --- file names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b'Content-Disposition: attachment; filename="Hofj\xc3\xa4geralle.jpg"', "Hofjägeralle.jpg"),
        (b'Content-Disposition: attachment; filename="Hofj\xe4geralle.jpg"', "Hofjägeralle.jpg"),
        (b'Content-Type: application/vnd.ms-excel; name="' + "绩效管理,究竟谁错了.xls".encode("gbk") + b'"', None),
        (
            b"Content-Disposition: attachment; filename*=us-ascii''Platte%20ohne%20W%F6lbung.jpg",
            "Platte ohne Wölbung.jpg",
        ),
        (b"Content-Disposition: attachment; filename*=utf-8''%E6%B5%8B%E8%AF%95.pdf", "测试.pdf"),
        (b"Content-Disposition: attachment; filename*0*=utf-8''%E6%B5%8B; filename*1*=%E8%AF%95.pdf", "测试.pdf"),
        (b'Content-Type: image/jpeg; name=" =?ISO-8859-1?Q?Best=E4tigung.jpg?="', "Bestätigung.jpg"),
    ],
)
def test_part_filename_keeps_what_get_filename_turns_into_replacement_characters(header, expected):
    head = b"" if header.startswith(b"Content-Type") else b"Content-Type: application/octet-stream\r\n"
    part = email.message_from_bytes(head + header + b"\r\n\r\nx")
    if expected is None:
        expected = "绩效管理,究竟谁错了.xls"

    name = part_filename(part)

    assert name == expected
    assert readable(name)


def test_part_filename_prefers_the_part_charset():
    raw = b'Content-Type: text/plain; charset=big5; name="' + "報價單.txt".encode("big5") + b'"\r\n\r\nx'

    assert part_filename(email.message_from_bytes(raw)) == "報價單.txt"


def test_part_filename_is_none_without_a_name():
    assert part_filename(email.message_from_bytes(b"Content-Type: text/plain\r\n\r\nx")) is None


def test_raw_header_keeps_the_bytes_that_get_replaces():
    msg = email.message_from_bytes(b"Subject: Gr\xfc\xdfe\r\n\r\nx")

    assert "\ufffd" in str(msg.get("Subject"))
    assert undo_surrogates(raw_header(msg, "subject"))[0] == "Grüße"
    assert raw_header(msg, "From") is None
