"""Reply extraction: classes found by widening the reply proxy with more public parser suites (issue 14, round 2):
right-to-left clients' invisible marks, Arabic / Polish Apple Mail / Hungarian headers and footers, a reply line
that opens with an attribution start word. Every sample here is written for this file."""

from __future__ import annotations

import time

import pytest

from emailpipe.domain.reply import extract_from_message, extract_reply

ORIGINAL = "Hi,\nplease find the corrected invoice attached.\nKind regards,\nBilling"

# --------------------------------------------------------------------------------------------------------------------
# Right-to-left clients: Apple Mail wraps its footer and attribution in embedding marks (U+202B ... U+202C)
# --------------------------------------------------------------------------------------------------------------------


def test_arabic_iphone_footer_in_embedding_marks_goes():
    body = "شكرا، وصلت الفاتورة.\n\n\u202bأُرسلت من الـ iPhone\u202c  \n\u200b\n"
    assert extract_reply(body) == "شكرا، وصلت الفاتورة."


def test_arabic_attribution_in_marks_with_unmarked_original_goes():
    body = (
        "سأدفع يوم الجمعة.\n\n"
        "\u202bفي ١٢\u200f/٠٣\u200f/٢٠٢٥ الساعة ٩:١٥ ص، كتب \u200fسارة \u200f<sara@example.com>:\u202c\n\n"
        "مرحبا، الفاتورة مرفقة."
    )
    assert extract_reply(body) == "سأدفع يوم الجمعة."


def test_arabic_attribution_with_quote():
    body = "تم الدفع.\n\nفي الأحد، ٤ مايو ٢٠٢٥، ١٠:٢٠ ص سارة <sara@example.com> كتب:\n\n> الفاتورة مرفقة."
    assert extract_reply(body) == "تم الدفع."


def test_hebrew_text_with_marks_inside_lines_is_kept_whole():
    body = "שלום,\n\u200fהחשבונית \u200eINV-22\u200e התקבלה.\nתודה"
    assert "\u200eINV-22\u200e" in extract_reply(body)


def test_a_line_of_only_zero_width_space_is_blank():
    assert extract_reply("Paid today.\n\u200b\n\u200b\nSent from my iPhone") == "Paid today."


def test_arabic_sentence_starting_with_fi_is_not_a_header():
    body = "في الحقيقة لم تصلني الفاتورة حتى الآن:\nهل يمكن إرسالها مرة أخرى؟"
    assert extract_reply(body) == body


# --------------------------------------------------------------------------------------------------------------------
# More attribution lines and mobile footers
# --------------------------------------------------------------------------------------------------------------------


def test_polish_apple_mail_attribution():
    body = (
        "Dziękuję, zapłacę w piątek.\n\n"
        "Wiadomość napisana przez Anna Nowak <anna@example.pl> w dniu 03.04.2025, o godz. 14:12:\n\n" + ORIGINAL
    )
    assert extract_reply(body) == "Dziękuję, zapłacę w piątek."


def test_polish_apple_mail_attribution_with_quote():
    body = (
        "Zapłacone.\n\nWiadomość napisana przez anna@example.pl w dniu 3 kwi 2025, o godz. 09:05:\n\n"
        "> Faktura w załączniku."
    )
    assert extract_reply(body) == "Zapłacone."


@pytest.mark.parametrize("footer", ["Az iPhone-omról küldve", "Az Androidos telefonomról küldve"])
def test_hungarian_mobile_footer_over_unmarked_thread(footer):
    body = f"Rendben, köszönöm.\n{footer}\n\njane@example.com wrote:\n\n{ORIGINAL}"
    assert extract_reply(body) == "Rendben, köszönöm."


@pytest.mark.parametrize("footer", ["أُرسلت من جهاز Samsung", "مرسل من iPhone"])
def test_arabic_mobile_footers(footer):
    assert extract_reply(f"حسنا.\n\n{footer}") == "حسنا."


# --------------------------------------------------------------------------------------------------------------------
# A reply line that opens with a start word ("Il", "Le", "Am", "On") directly above a real attribution line
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "header"),
    [
        ("Il est toujours impossible de payer", "Le mar. 8 avr. 2025, 10:14, Service Clients a écrit :"),
        ("On the invoice page nothing loads", "On Tue, Apr 8, 2025 at 10:14 AM Billing <billing@example.com> wrote:"),
        ("Am Ende fehlt die Seite zwei", "Am 08.04.2025 um 10:14 schrieb Billing <billing@example.com>:"),
    ],
)
def test_reply_line_with_start_word_above_a_header_is_kept(last, header):
    body = f"The invoice page is broken.\n{last}\n{header}\n\n    Hi, your invoice is ready."
    assert extract_reply(body) == f"The invoice page is broken.\n{last}"


def test_wrapped_attribution_still_joins():
    body = "Paid.\n\nOn Tue, Apr 8, 2025 at 10:14 AM Billing <billing@example.com>\nwrote:\n\n> Hi, your invoice."
    assert extract_reply(body) == "Paid."


def test_header_made_of_start_word_lines_stays_linear():
    body = "Reply.\n" + "On it, on 2025-04-08 10:14\n" * 20_000 + "wrote:\n> x"
    started = time.process_time()
    extract_reply(body)
    assert time.process_time() - started < 5


def test_html_arabic_footer_in_marks():
    html = "<div dir='rtl'>شكرا.<br><br>\u202bأُرسلت من الـ iPhone\u202c</div>"
    assert extract_from_message(None, html) == "شكرا."


# --------------------------------------------------------------------------------------------------------------------
# Header fields a paragraph apart (an HTML header block of <p>s rendered as text, bold field names)
# --------------------------------------------------------------------------------------------------------------------

GAPPED_HEADER = (
    "**Von:** Billing <billing@example.com>\n\n**Gesendet:** Montag, 7. April 2025 10:14\n\n"
    "**An:** Kundin <kundin@example.com>\n\n**Betreff:** Ihre Rechnung\n\n"
)


def test_gapped_header_block_in_the_middle_is_history():
    body = "Die Rechnung ist bezahlt.\n\n" + GAPPED_HEADER + "Guten Tag,\nanbei Ihre Rechnung."
    assert extract_reply(body) == "Die Rechnung ist bezahlt."


def test_bottom_posted_reply_under_a_gapped_header_block_is_kept():
    body = GAPPED_HEADER + "Guten Tag,\n\nich habe die Rechnung nicht bekommen. Bitte noch einmal senden."
    out = extract_reply(body)
    assert "ich habe die Rechnung nicht bekommen" in out
    assert out.startswith("**Von:**")


def test_two_fields_a_paragraph_apart_are_text():
    body = "Our next meeting:\n\nDate: Monday 7 April 2025 10:00\n\nTo: everyone in the billing team\n\nAgenda below."
    assert extract_reply(body) == body


# --------------------------------------------------------------------------------------------------------------------
# "--Name" signs the reply off as "-Name" does; a command-line option on the last line is text
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["--Daniel", "-- Daniel Smith", "--Zoë"])
def test_double_hyphen_name_is_a_sign_off(name):
    assert extract_reply(f"The refund arrived, thank you.\n\n{name}") == "The refund arrived, thank you."


@pytest.mark.parametrize("option", ["--verbose", "--dry-run"])
def test_double_hyphen_option_on_the_last_line_stays(option):
    body = f"It still fails. Could you try the export again with\n{option}"
    assert extract_reply(body) == body


def test_em_dash_name_still_stays():
    assert extract_reply("Works now.\n\n—Ryan") == "Works now.\n\n—Ryan"


# --------------------------------------------------------------------------------------------------------------------
# Mobile footers in more languages, alone or above an unmarked copy of the original
# --------------------------------------------------------------------------------------------------------------------

MORE_FOOTERS = [
    "Odoslané z môjho iPhonu",  # sk
    "Poslané z Outlooku pre Android",  # sk
    "Poslano s mog Samsung uređaja",  # hr
    "Poslano iz mojega iPhona",  # sl
    "Изпратено от моя Galaxy",  # bg
    "Εστάλη από το Galaxy μου",  # el
    "נשלח מה-Galaxy שלי",  # he
    "ارسال شده از Galaxy من",  # fa
    "Gửi từ Galaxy của tôi",  # vi
    "Dikirim dari Yahoo Mail di Android",  # id
    "ส่งจาก Galaxy ของฉัน",  # th
    "iPad'imden gönderildi",  # tr
    "Get Spark for iOS",  # en, an app's own footer
]


@pytest.mark.parametrize("footer", MORE_FOOTERS)
def test_more_mobile_footers_alone(footer):
    assert extract_reply(f"Paid this morning.\n\n{footer}") == "Paid this morning."


@pytest.mark.parametrize("footer", MORE_FOOTERS)
def test_more_mobile_footers_over_unmarked_original(footer):
    body = f"Paid this morning.\n\n{footer}\n\nBilling <billing@example.com> wrote:\n\n{ORIGINAL}"
    assert extract_reply(body) == "Paid this morning."


@pytest.mark.parametrize(
    "line",
    [
        "Gửi từ Hà Nội, ngày 8 tháng 4.",  # vi "sent from Hanoi": no device, no "my"
        "Dikirim dari gudang kami besok pagi.",  # id "shipped from our warehouse tomorrow"
    ],
)
def test_sent_from_a_place_is_text(line):
    body = f"Thanks for the update.\n{line}"
    assert extract_reply(body) == body


# --------------------------------------------------------------------------------------------------------------------
# Sign-offs in more languages: they go with the name under them, only where they end the reply
# --------------------------------------------------------------------------------------------------------------------

MORE_SIGN_OFFS = [
    "S pozdravom",  # sk
    "Zdravím",  # cs
    "З повагою,",  # uk
    "Saygılarımla,",  # tr
    "Üdvözlettel",  # hu
    "Cu stimă,",  # ro
    "Srdačan pozdrav",  # hr
    "Lep pozdrav",  # sl
    "Με εκτίμηση,",  # el
    "Ar cieņu,",  # lv
    "Pagarbiai,",  # lt
    "Lugupidamisega",  # et
    "Bestu kveðjur",  # is
    "Trân trọng,",  # vi
    "Hormat saya,",  # id
    "Gr.",  # nl
    "Knus",  # da
    "Pzdr",  # pl
]


@pytest.mark.parametrize("sign_off", MORE_SIGN_OFFS)
def test_more_sign_offs_with_name_go(sign_off):
    body = f"Hello,\n\nthe second payment went out today.\n\n{sign_off}\nMarta Kovač"
    assert extract_reply(body) == "Hello,\n\nthe second payment went out today."


@pytest.mark.parametrize("thanks", ["Hvala,", "Köszönöm,", "Teşekkürler,", "Ευχαριστώ,", "Terima kasih,", "Paldies,"])
def test_more_thanks_with_name_go(thanks):
    reply = "The second payment went out today."
    assert extract_reply(f"{reply}\n\n{thanks}\nMarta") == reply


@pytest.mark.parametrize("thanks", ["Hvala!", "Köszönöm!", "Teşekkürler!"])
def test_thanks_alone_is_the_message(thanks):
    body = f"The second payment went out today.\n\n{thanks}"
    assert extract_reply(body) == body


def test_greeting_word_opening_the_message_stays():
    body = "Salam,\n\nsaya belum menerima faktur bulan ini.\nMohon dikirim ulang."
    assert extract_reply(body) == body


def test_sign_off_in_the_middle_stays():
    body = "S pozdravom\nJana\n\nP.S. The invoice number is 2025-041, please add it to the transfer."
    assert extract_reply(body) == body


# --------------------------------------------------------------------------------------------------------------------
# Outlook header blocks (no rule line above them) in more languages
# --------------------------------------------------------------------------------------------------------------------

MORE_HEADER_BLOCKS = {
    "ro": ("De la", "Trimis", "Către", "Subiect"),
    "el": ("Από", "Στάλθηκε", "Προς", "Θέμα"),
    "hr": ("Šalje", "Poslano", "Prima", "Predmet"),
    "lt": ("Nuo", "Išsiųsta", "Kam", "Tema"),
    "lv": ("No", "Nosūtīts", "Kam", "Tēma"),
    "et": ("Saatja", "Saadetud", "Adressaat", "Teema"),
    "he": ("מאת", "נשלח", "אל", "נושא"),
    "ar": ("من", "تم الإرسال", "إلى", "الموضوع"),
    "vi": ("Từ", "Đã gửi", "Đến", "Chủ đề"),
    "id": ("Dari", "Dikirim", "Kepada", "Perihal"),
    "th": ("จาก", "ส่ง", "ถึง", "เรื่อง"),
    "fa": ("از", "ارسال شده", "به", "موضوع"),
    "bg": ("От", "Изпратено", "До", "Относно"),
}


@pytest.mark.parametrize("lang", sorted(MORE_HEADER_BLOCKS))
def test_outlook_header_block_in_more_languages(lang):
    sender, sent, to, subject = MORE_HEADER_BLOCKS[lang]
    body = (
        f"Paid this morning.\n\n{sender}: Billing <billing@example.com>\n{sent}: 07.04.2025 09:30\n"
        f"{to}: Marta <marta@example.com>\n{subject}: Invoice 2025-041\n\nHello,\nyour invoice is attached."
    )
    assert extract_reply(body) == "Paid this morning."


def test_two_field_names_without_address_are_text():
    body = "Lịch trình chuyến đi:\nTừ: Hà Nội\nĐến: Sài Gòn\nXin xác nhận giúp tôi."
    assert extract_reply(body) == body


def test_every_word_list_names_each_language_once():
    # a language written twice in one literal silently drops the first list
    import ast
    from pathlib import Path

    from emailpipe.domain import reply_words

    tree = ast.parse(Path(reply_words.__file__).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Dict):
            keys = [key.value for key in node.value.keys if isinstance(key, ast.Constant)]
            assert len(keys) == len(set(keys)), node.target.id


# --------------------------------------------------------------------------------------------------------------------
# "-----Original Message-----" and forward markers in more languages
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        "-----Izvorna poruka-----",
        "-----Izvirno sporočilo-----",
        "-----Оригинално съобщение-----",
        "-----Originali žinutė-----",
        "-----Sākotnējais ziņojums-----",
        "-----Algne sõnum-----",
        "-----הודעה מקורית-----",
        "-----الرسالة الأصلية-----",
        "-----Missatge original-----",
        "-----Thư gốc-----",
    ],
)
def test_original_message_rule_in_more_languages(rule):
    body = f"Paid this morning.\n\n{rule}\nBilling wrote that the invoice is attached."
    assert extract_reply(body) == "Paid this morning."


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Mesaj redirecționat ---------",
        "---------- İletilen ileti ----------",
        "---------- Προωθημένο μήνυμα ---------",
        "---------- 已转发邮件 ---------",
        "---------- 전달된 메일 ---------",
        "---------- הודעה שהועברה ----------",
        "---------- رسالة مُعاد توجيهها ---------",
        "Välitetty viesti alkaa:",
        "Początek przekazywanej wiadomości:",
    ],
)
def test_forward_marker_in_more_languages_keeps_the_forward(marker):
    forwarded = (
        "From: Supplier <supplier@example.com>\nDate: 7 Apr 2025 09:30\nSubject: Delivery\n"
        "To: Marta <marta@example.com>\n\nThe pallet ships on Thursday."
    )
    out = extract_reply(f"See the supplier's note below.\n\n{marker}\n{forwarded}")
    assert out.startswith("See the supplier's note below.")
    assert "The pallet ships on Thursday." in out


# --------------------------------------------------------------------------------------------------------------------
# Attributions wrapped onto two lines, the second opening with a start word or a name
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrapped",
    [
        "Στις Τρί 8 Απρ 2025\nστις 10:14 μ.μ., ο/η Billing <billing@example.com> έγραψε:",  # el, second line "στις"
        "في الثلاثاء، 8 أبريل 2025\nفي 10:14 ص، كتب Billing <billing@example.com>:",  # ar, second line "في"
        "ti 8.4.2025 klo 10.14\nBilling <billing@example.com> kirjoitti:",  # fi, weekday + numeric date
        "Di., 08.04.2025\nBilling <billing@example.com> schrieb:",  # de
    ],
)
def test_wrapped_attribution_is_one_header(wrapped):
    body = f"Paid this morning.\n\n{wrapped}\n\n> Hello,\n> your invoice is attached."
    assert extract_reply(body) == "Paid this morning."


# --------------------------------------------------------------------------------------------------------------------
# A relay's notice appended below the quote, once more (it is inside the quoted original too)
# --------------------------------------------------------------------------------------------------------------------

RELAY_NOTICE = (
    "You are receiving this message through Example Jobs. Replies are relayed to the employer and stored under"
    " our Privacy Policy <https://jobs.example.com/privacy>."
)
RELAY_ADDRESS = "Example Jobs | 1 Main Street, Springfield"


def test_relay_notice_below_the_quote_goes():
    body = (
        "Done, the form is filled in.\n\n> On Tue, Apr 8, 2025 at 10:14 AM Recruiter <r@relay.example.com> wrote:\n"
        "> Please complete the form.\n>\n> You are receiving this message through Example Jobs. Replies are relayed to"
        " the employer and stored under our Privacy Policy.\n> "
        + RELAY_ADDRESS
        + "\n\n\n"
        + RELAY_NOTICE
        + "\n"
        + RELAY_ADDRESS
    )
    assert extract_reply(body) == "Done, the form is filled in."


def test_bottom_posted_answer_below_the_quote_stays():
    body = (
        "Done.\n\n> Did you complete the form? You are receiving this message through Example Jobs.\n\n"
        "Yes, and I attached the certificate you asked for last week as well."
    )
    assert "I attached the certificate" in extract_reply(body)


def test_text_below_the_quote_that_only_partly_repeats_it_stays():
    body = "Done.\n\n> " + RELAY_NOTICE + "\n\n" + RELAY_NOTICE + "\n\nAlso, my phone number changed to 555 0100."
    assert "my phone number changed" in extract_reply(body)


def test_repeated_footer_check_stays_linear():
    quote = "> " + "lorem ipsum dolor sit amet " * 40 + "\n"
    body = "Reply.\n\n" + quote * 5000 + "\n" + ("lorem ipsum dolor sit amet " * 40 + "\n\n") * 5
    started = time.process_time()
    extract_reply(body)
    assert time.process_time() - started < 5
