"""Behaviour of the reply extractor: quoted history, signatures, languages, clients, HTML, delimiter and limits."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from emailpipe.domain.reply import DELIMITER, extract_from_message, extract_reply, html_to_reply_text

# --------------------------------------------------------------------------------------------------------------------
# Plain-text attribution lines ("On ... wrote:") from each client family and language
# --------------------------------------------------------------------------------------------------------------------

REPLY = "Thanks, the new invoice looks right.\nI will pay it on Friday."
QUOTED = "> Hi,\n> please find the corrected invoice attached.\n> Best, Jane"

ATTRIBUTIONS = {
    "gmail_en": "On Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> wrote:",
    "gmail_en_wrapped_2_lines": "On Tue, Mar 5, 2024 at 9:14 AM Jane Doe from Accounts <\njane@example.com> wrote:",
    "gmail_en_wrapped_3_lines": "On Tue, Mar 5, 2024 at 9:14 AM, Jane Doe <\njane.doe.accounts@example.com>\nwrote:",
    "apple_mail_en": "On 5 Mar 2024, at 09:14, Jane Doe <jane@example.com> wrote:",
    "thunderbird_en": "On 05/03/2024 09:14, Jane Doe wrote:",
    "outlook_mobile_en": 'On Tue, Mar 5, 2024 at 9:14 AM +0100, "Jane Doe" <jane@example.com> wrote:',
    "yahoo_en": "On Tuesday, March 5, 2024, 09:14:02 AM GMT+1, Jane Doe <jane@example.com> wrote:",
    "android_en": "Jane Doe <jane@example.com> wrote:",
    "gmail_de": "Am Di., 5. März 2024 um 09:14 Uhr schrieb Jane Doe <jane@example.com>:",
    "thunderbird_de": "Am 05.03.24 um 09:14 schrieb Jane Doe:",
    "gmail_de_name_first": "Jane Doe <jane@example.com> schrieb am Di., 5. März 2024, 09:14:",
    "gmail_fr": "Le mar. 5 mars 2024 à 09:14, Jane Doe <jane@example.com> a écrit :",
    "thunderbird_fr": "Le 05/03/2024 à 09:14, Jane Doe a écrit :",
    "gmail_es": "El mar, 5 mar 2024 a las 9:14, Jane Doe (<jane@example.com>) escribió:",
    "gmail_it": "Il giorno mar 5 mar 2024 alle ore 09:14 Jane Doe <jane@example.com> ha scritto:",
    "gmail_pt": "Em ter., 5 de mar. de 2024 às 09:14, Jane Doe <jane@example.com> escreveu:",
    "gmail_nl": "Op di 5 mrt 2024 om 09:14 schreef Jane Doe <jane@example.com>:",
    "apple_mail_nl": "Op 5 mrt. 2024 om 09:14 heeft Jane Doe <jane@example.com> het volgende geschreven:",
    "gmail_pl": "wt., 5 mar 2024 o 09:14 Jane Doe <jane@example.com> napisał(a):",
    "thunderbird_pl": "W dniu 5.03.2024 o 09:14, Jane Doe pisze:",
    "gmail_ru": "вт, 5 мар. 2024 г. в 09:14, Jane Doe <jane@example.com>:",
    "mail_ru": "Вторник, 5 марта 2024, 9:14 +03:00 от Jane Doe <jane@example.com>:",
    "yandex_ru": '05.03.2024, 09:14, "Jane Doe" <jane@example.com>:',
    "android_ru": '05.03.2024 9:14 пользователь "Jane Doe" <jane@example.com> написал:',
    "gmail_uk": "вт, 5 бер. 2024 р. о 09:14 Jane Doe <jane@example.com> пише:",
    "gmail_sv": "Den tis 5 mars 2024 kl 09:14 skrev Jane Doe <jane@example.com>:",
    "gmail_no": "tir. 5. mar. 2024 kl. 09:14 skrev Jane Doe <jane@example.com>:",
    "apple_mail_da": "Den 5. mar. 2024 kl. 09.14 skrev Jane Doe <jane@example.com>:",
    "gmail_fi": "ti 5. maalisk. 2024 klo 9.14 Jane Doe (jane@example.com) kirjoitti:",
    "gmail_zh": "Jane Doe <jane@example.com> 于2024年3月5日周二 09:14写道：",
    "netease_163_zh": '在 2024-03-05 09:14:00，"Jane Doe" <jane@example.com> 写道：',
    "gmail_ja": "2024年3月5日(火) 9:14 Jane Doe <jane@example.com>:",
    "apple_mail_ja": "2024/03/05 9:14、Jane Doe <jane@example.com>のメール:",
    "date_email_colon": "2024-03-05 9:14 GMT+01:00 Jane Doe <jane@example.com>:",
}


@pytest.mark.parametrize("name", sorted(ATTRIBUTIONS))
def test_attribution_header_and_quote_below_it_are_removed(name):
    body = f"{REPLY}\n\n{ATTRIBUTIONS[name]}\n\n{QUOTED}\n"
    assert extract_reply(body) == REPLY


@pytest.mark.parametrize("name", sorted(ATTRIBUTIONS))
def test_attribution_header_followed_by_unquoted_history_cuts_everything_below(name):
    # Outlook for Mac, some webmails and mobile apps copy the history without '>' markers.
    body = f"{REPLY}\n\n{ATTRIBUTIONS[name]}\n\nHi,\nplease find the corrected invoice attached.\nBest, Jane\n"
    assert extract_reply(body) == REPLY


def test_gmail_on_wrote_header_wrapped_over_two_lines_is_removed():
    body = (
        "Works for me.\n\n"
        "On Wed, Jan 10, 2024 at 4:02 PM Customer Success Team at Example <\n"
        "success@example.com> wrote:\n\n"
        "> Does 3pm work?\n"
    )
    assert extract_reply(body) == "Works for me."


def test_reply_sharing_a_line_with_the_attribution_keeps_the_reply_part():
    body = "Confirmed --- On Wed, Jan 10, 2024 at 4:02 PM, bob@example.com wrote:\n> Are you coming?\n"
    assert extract_reply(body) == "Confirmed"


def test_android_dashed_wrote_line_is_a_quote_header():
    assert extract_reply("Ok!\n\n---- Jane Doe wrote ----\n\n> lunch?\n") == "Ok!"


@pytest.mark.parametrize(
    "header",
    [
        "Le mar. 5 mars 2024 à 09:14, Jane Doe <\njane@example.com> a écrit :",
        "Am Di., 5. März 2024 um 09:14 Uhr schrieb Jane Doe <\njane@example.com>:",
        "вт, 5 мар. 2024 г. в 09:14, Jane Doe <\njane@example.com>:",
        "2024年3月5日(火) 9:14 Jane Doe <\njane@example.com>:",
        "Jane Doe <jane@example.com>\n于2024年3月5日周二 09:14写道：",
        "Jane Doe <jane@example.com> schrieb am\nDi., 5. März 2024, 09:14:",
        "W dniu 5.03.2024 o 09:14, Jane Doe <jane@example.com>\npisze:",
        "05.03.2024 9:14 пользователь Jane Doe <\njane@example.com> написал:",
    ],
)
def test_localised_attribution_wrapped_by_the_client_is_removed(header):
    assert extract_reply(f"{REPLY}\n\n{header}\n\n{QUOTED}\n") == REPLY


def test_reply_directly_above_a_date_first_header_is_kept():
    body = 'Hello\n02.04.2024 14:20 пользователь "bob@example.com" <\nbob@example.com> написал:\n\n> Hi\n'
    assert extract_reply(body) == "Hello"


def test_paragraph_starting_with_on_is_not_mistaken_for_a_header_below_it():
    body = (
        "On your remote host you can run:\n\n    telnet 127.0.0.1 52698\n\n"
        "This should connect to the editor. If that\nfails, the tunnel is not working.\n\n"
        "On 9 Jan 2024, at 2:47, George <george@example.com> wrote:\n\n> I have an odd issue\n"
    )
    expected = (
        "On your remote host you can run:\n\n    telnet 127.0.0.1 52698\n\n"
        "This should connect to the editor. If that\nfails, the tunnel is not working."
    )
    assert extract_reply(body) == expected


def test_prose_with_a_date_and_wrote_ending_in_a_colon_is_kept():
    body = "Quick update.\nAt 10:30 tomorrow, John wrote the agenda:\n\n1. budget\n2. hiring"
    assert extract_reply(body) == body


def test_single_from_line_with_address_above_quote_is_a_header():
    assert extract_reply("Reply here\n\nFrom: Jane Doe <jane@example.com>\n\n> quoted stuff\n") == "Reply here"


def test_zoho_dashed_on_wrote_line_is_a_header():
    body = "Hi\n\n---- On Tue, 05 Mar 2024 09:14:02 +0100 Jane Doe <jane@example.com> wrote ---\n\n old text\n"
    assert extract_reply(body) == "Hi"


def test_line_starting_with_on_without_wrote_is_kept():
    body = "I checked it.\nOn Monday we will ship the rest."
    assert extract_reply(body) == body


# --------------------------------------------------------------------------------------------------------------------
# Outlook-style header blocks and "Original Message" separators
# --------------------------------------------------------------------------------------------------------------------

HEADER_BLOCKS = {
    "en": "From: Jane Doe <jane@example.com>\nSent: Tuesday, March 5, 2024 9:14 AM\nTo: Support <s@example.com>\n"
    "Subject: RE: Invoice",
    "en_mailto": "From: Jane Doe [mailto:jane@example.com]\nSent: Tuesday, March 5, 2024 9:14 AM\nTo: Support\n"
    "Cc: Accounts\nSubject: RE: Invoice",
    "en_bold_wrapped": "*From:* Jane Doe [mailto:\njane@example.com]\n*Sent:* Tuesday, March 5, 2024 9:14 AM\n"
    "*To:* Support\n*Subject:* RE: Invoice",
    "de": "Von: Jane Doe <jane@example.com>\nGesendet: Dienstag, 5. März 2024 09:14\nAn: Support\nBetreff: Rechnung",
    "gmx_de": 'Gesendet: Dienstag, 05. März 2024 um 09:14 Uhr\nVon: "Jane Doe" <jane@example.com>\n'
    "An: support@example.com\nBetreff: Rechnung",
    "fr": "De : Jane Doe <jane@example.com>\nEnvoyé : mardi 5 mars 2024 09:14\nÀ : Support\nObjet : Facture",
    "es": "De: Jane Doe <jane@example.com>\nEnviado: martes, 5 de marzo de 2024 9:14\nPara: Soporte\nAsunto: Factura",
    "it": "Da: Jane Doe <jane@example.com>\nInviato: martedì 5 marzo 2024 09:14\nA: Supporto\nOggetto: Fattura",
    "pt": "De: Jane Doe <jane@example.com>\nEnviado: terça-feira, 5 de março de 2024 09:14\nPara: Suporte\n"
    "Assunto: Fatura",
    "nl": "Van: Jane Doe <jane@example.com>\nVerzonden: dinsdag 5 maart 2024 09:14\nAan: Support\nOnderwerp: Factuur",
    "pl": "Od: Jane Doe <jane@example.com>\nWysłano: wtorek, 5 marca 2024 09:14\nDo: Wsparcie\nTemat: Faktura",
    "ru": "От: Jane Doe <jane@example.com>\nОтправлено: 5 марта 2024 г. 9:14\nКому: Поддержка\nТема: Счёт",
    "uk": "Від: Jane Doe <jane@example.com>\nНадіслано: 5 березня 2024 р. 9:14\nКому: Підтримка\nТема: Рахунок",
    "sv": "Från: Jane Doe <jane@example.com>\nSkickat: den 5 mars 2024 09:14\nTill: Support\nÄmne: Faktura",
    "no": "Fra: Jane Doe <jane@example.com>\nSendt: 5. mars 2024 09:14\nTil: Support\nEmne: Faktura",
    "da": "Fra: Jane Doe <jane@example.com>\nSendt: 5. marts 2024 09:14\nTil: Support\nEmne: Faktura",
    "fi": "Lähettäjä: Jane Doe <jane@example.com>\nLähetetty: tiistai 5. maaliskuuta 2024 9.14\n"
    "Vastaanottaja: Tuki\nAihe: Lasku",
    "zh": "发件人: Jane Doe <jane@example.com>\n发送时间: 2024年3月5日 9:14\n收件人: support@example.com\n主题: 发票",
    "ja": "差出人: Jane Doe <jane@example.com>\n送信日時: 2024年3月5日 9:14\n宛先: support@example.com\n件名: 請求書",
}


@pytest.mark.parametrize("lang", sorted(HEADER_BLOCKS))
def test_outlook_header_block_and_everything_below_is_removed(lang):
    body = f"{REPLY}\n\n{HEADER_BLOCKS[lang]}\n\nHi,\nplease find the corrected invoice attached.\n"
    assert extract_reply(body) == REPLY


def test_outlook_header_block_below_underscore_divider_removes_divider_too():
    body = f"{REPLY}\n________________________________\n{HEADER_BLOCKS['en']}\n\nOld text\n"
    assert extract_reply(body) == REPLY


ORIGINAL_MESSAGE = [
    "-----Original Message-----",
    "----- Original Message -----",
    "-------- Original message --------",
    "-----Ursprüngliche Nachricht-----",
    "-----Message d'origine-----",
    "-----Mensaje original-----",
    "-----Messaggio originale-----",
    "-----Mensagem original-----",
    "-----Oorspronkelijk bericht-----",
    "-----Wiadomość oryginalna-----",
    "-----Исходное сообщение-----",
    "-----Ursprungligt meddelande-----",
    "-----Opprinnelig melding-----",
    "-----Oprindelig meddelelse-----",
    "-----Alkuperäinen viesti-----",
    "------------------ 原始邮件 ------------------",
    "-----元のメッセージ-----",
]


@pytest.mark.parametrize("separator", ORIGINAL_MESSAGE)
def test_original_message_separator_in_any_language_cuts_history(separator):
    body = f"{REPLY}\n\n{separator}\nFrom: Jane Doe\nSubject: Invoice\n\nOld text\n"
    assert extract_reply(body) == REPLY


def test_header_like_lines_that_are_not_an_email_header_are_kept():
    body = "Interview details:\n\nDate: Friday 8 March 2024\nTime: 10:00\nAddress: 1 Main St\n\nBring your ID."
    assert extract_reply(body) == body


# --------------------------------------------------------------------------------------------------------------------
# '>' quotes, interleaved answers, forwards
# --------------------------------------------------------------------------------------------------------------------


def test_interleaved_inline_answers_are_kept_and_quoted_lines_removed():
    body = (
        "On Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> wrote:\n"
        "> Can you check the invoice?\n\n"
        "Yes, it is fixed now.\n\n"
        "> And the shipping address?\n\n"
        "Updated as well.\n"
    )
    assert extract_reply(body) == "Yes, it is fixed now.\n\nUpdated as well."


def test_answer_below_quote_without_header_is_kept():
    assert extract_reply("> Are you coming?\nYes, at 8.") == "Yes, at 8."


def test_nested_quotes_are_removed():
    body = "Agreed.\n\n> I think so\n>> Is this right?\n>>> Original question\n"
    assert extract_reply(body) == "Agreed."


def test_arrow_decoration_is_not_a_quote():
    body = "Visit us:\n>>> https://example.com <<<\nSee you there"
    assert extract_reply(body) == body


def test_forward_only_message_keeps_forwarded_content():
    body = (
        "---------- Forwarded message ---------\n"
        "From: Jane Doe <jane@example.com>\n"
        "Date: Tue, Mar 5, 2024 at 9:14 AM\n"
        "Subject: Invoice\n"
        "To: <bob@example.com>\n\n"
        "Please find the invoice attached.\n"
    )
    assert extract_reply(body) == body.strip()


def test_forwarded_message_inside_quoted_history_is_removed():
    body = (
        "Sure.\n\n-----Original Message-----\nFrom: Bob\n\nFYI\n\n"
        "---------- Forwarded message ----------\nFrom: Jane\n\nold\n"
    )
    assert extract_reply(body) == "Sure."


def test_message_that_is_only_a_quote_is_returned_whole_rather_than_empty():
    assert extract_reply("> just a quote") == "> just a quote"


# --------------------------------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------------------------------

MOBILE_SIGNATURES = [
    "Sent from my iPhone",
    "Sent from my iPad",
    "Sent from my Samsung Galaxy smartphone.",
    "Sent from Yahoo Mail on Android",
    "Sent from Mail for Windows",
    "Sent with BlackBerry Work (www.blackberry.com)",
    "Get Outlook for iOS<https://aka.ms/o0ukef>",
    "Get Outlook for Android",
    "Envoyé de mon iPhone",
    "Von meinem iPhone gesendet",
    "Gesendet von meinem Huawei Mobiltelefon",
    "Enviado desde mi iPhone",
    "Enviado do meu iPhone",
    "Inviato da iPhone",
    "Verzonden met iPhone",
    "Verstuurd vanaf mijn iPad",
    "Wysłane z iPhone'a",
    "Отправлено с iPhone",
    "Отправлено из мобильной Почты Mail.ru",
    "Надіслано з iPhone",
    "Skickat från min iPhone",
    "Sendt fra min iPhone",
    "Lähetetty iPhonesta",
    "从我的iPhone发送",
    "发自我的iPhone",
    "iPhoneから送信",
]


@pytest.mark.parametrize("signature", MOBILE_SIGNATURES)
def test_mobile_signature_in_any_language_is_removed(signature):
    assert extract_reply(f"See you at 8.\n\n{signature}\n") == "See you at 8."


def test_mobile_signature_above_quoted_history_is_removed():
    body = f"See you at 8.\n\nSent from my iPhone\n\n{ATTRIBUTIONS['gmail_en']}\n\n{QUOTED}\n"
    assert extract_reply(body) == "See you at 8."


def test_sentence_starting_like_a_mobile_signature_is_kept():
    body = "Here it is\n\nSent from my desk, which is much easier than my phone."
    assert extract_reply(body) == body


def test_custom_sent_from_phrase_without_device_is_kept():
    body = "Works now.\n\nSent from a magnificent torch of pixels"
    assert extract_reply(body) == body


def test_app_signature_without_my_is_removed():
    assert extract_reply("Works now.\n\nSent using Boxer") == "Works now."


def test_markdown_rule_followed_by_a_paragraph_is_kept():
    body = "Summary first.\n\n---\n\nDetails follow here, with more text than a signature would have."
    assert extract_reply(body) == body


def test_short_dashes_signature_with_name_is_removed():
    assert extract_reply("Hey man! How are you?\n---\nRoman") == "Hey man! How are you?"


def test_sender_written_confidential_note_is_kept():
    body = "Numbers attached.\n\nConfidential: please do not share them yet."
    assert extract_reply(body) == body


def test_thanks_that_closes_the_text_with_a_name_is_a_sign_off():
    # Issue 14: a sign-off goes with the name under it where it ends the reply (a bare last "Thanks!" stays).
    assert extract_reply("I will send the contract tomorrow.\n\nThanks,\nJohn") == "I will send the contract tomorrow."
    body = "I will send the contract tomorrow.\n\nThanks!"
    assert extract_reply(body) == body


def test_dash_dash_signature_block_is_removed():
    body = "I will send the contract tomorrow.\n\nSee you,\nJohn\n\n-- \nJohn Smith\nACME Corp | +1 555 0100\n"
    assert extract_reply(body) == "I will send the contract tomorrow.\n\nSee you,\nJohn"


def test_signature_only_message_is_not_emptied():
    assert extract_reply("--\nRoman") == "--\nRoman"


def test_dash_name_signature_is_removed_but_lists_are_kept():
    assert extract_reply("Done!\n\n-Abhishek") == "Done!"
    body = "Shopping list:\n- apples\n- pears"
    assert extract_reply(body) == body


def test_mailing_list_footer_is_removed():
    body = (
        "How do I clear a bucket?\n\n"
        "_______________________________________________\n"
        "users mailing list\nusers@lists.example.org\nhttp://lists.example.org/listinfo/users\n"
    )
    assert extract_reply(body) == "How do I clear a bucket?"


def test_confidentiality_disclaimer_is_removed():
    body = (
        "Approved.\n\nMaria\n\n"
        "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and intended solely for the "
        "addressee.\nIf you received it in error, please delete it.\n"
    )
    assert extract_reply(body) == "Approved.\n\nMaria"


# --------------------------------------------------------------------------------------------------------------------
# Content that must survive
# --------------------------------------------------------------------------------------------------------------------


def test_code_block_and_list_are_kept():
    reply = (
        "Here is the fix:\n\n"
        "    def add(a, b):\n"
        "        return a + b\n\n"
        "```\n"
        "SELECT id FROM users WHERE name = 'x';\n"
        "```\n\n"
        "Steps:\n"
        "1. deploy\n"
        "2. restart"
    )
    body = f"{reply}\n\n{ATTRIBUTIONS['gmail_en']}\n> old\n"
    assert extract_reply(body) == reply


def test_unicode_text_is_kept():
    assert extract_reply("Grüße aus Köln — 你好 — こんにちは ✓") == "Grüße aus Köln — 你好 — こんにちは ✓"


def test_crlf_line_endings_are_handled():
    body = "Yes.\r\n\r\nOn Tue, Mar 5, 2024 at 9:14 AM Jane <jane@example.com> wrote:\r\n> ok?\r\n"
    assert extract_reply(body) == "Yes."


def test_empty_input_gives_empty_output():
    assert extract_reply("") == ""
    assert html_to_reply_text("") == ""
    assert extract_from_message(None, None) == ""


# --------------------------------------------------------------------------------------------------------------------
# Delimiter
# --------------------------------------------------------------------------------------------------------------------


def test_delimiter_line_and_everything_below_is_cut():
    body = f"My answer.\n\n{DELIMITER}\nYou have a new message from Support\n"
    assert extract_reply(body) == "My answer."


def test_quoted_delimiter_with_gmail_attribution_is_cut():
    body = f"My answer.\n\nOn Tue, Mar 5, 2024 at 9:14 AM Support <s@example.com> wrote:\n\n> {DELIMITER}\n> Hi\n"
    assert extract_reply(body) == "My answer."


def test_delimiter_wrapped_by_the_client_is_cut():
    body = "My answer.\n\n> ### Please type your reply above this\n> line ###\n> Agent: hello\n"
    assert extract_reply(body) == "My answer."


def test_delimiter_can_be_disabled():
    body = f"My answer.\n{DELIMITER}\nMore text"
    assert extract_reply(body, delimiter=False) == body


def test_other_help_desk_delimiters_are_cut():
    assert extract_reply("Answer\n\n##- Please type your reply above this line -##\nold") == "Answer"
    assert extract_reply("Answer\n-- Reply above this line --\nold") == "Answer"


def test_markdown_heading_is_not_a_delimiter():
    body = "### Release notes\nAll good."
    assert extract_reply(body) == body


# --------------------------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------------------------


def test_gmail_html_quote_is_removed():
    html = (
        '<div dir="ltr">Works for me.<br><br>Thanks,<br>Ann</div><br><div class="gmail_quote">'
        '<div dir="ltr" class="gmail_attr">On Tue, Mar 5, 2024 at 9:14 AM Jane &lt;jane@example.com&gt; wrote:</div>'
        '<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">Does 3pm work?</blockquote></div>'
    )
    assert html_to_reply_text(html) == "Works for me.\n\nThanks,\nAnn"


def test_gmail_html_forward_is_kept():
    html = (
        '<div dir="ltr">FYI<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        "---------- Forwarded message ---------<br>From: Jane &lt;jane@example.com&gt;<br>"
        "Date: Tue, Mar 5, 2024<br>Subject: Plan<br></div><br><div>The plan is attached.</div></div></div>"
    )
    assert "The plan is attached." in html_to_reply_text(html)


def test_outlook_web_reply_divider_cuts_history():
    html = (
        '<div>Approved, go ahead.</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
        '<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Jane<br><b>Sent:</b> Tuesday, March 5, 2024<br>'
        "<b>Subject:</b> Budget</div><div>Can I spend 100 EUR?</div>"
    )
    assert html_to_reply_text(html) == "Approved, go ahead."


def test_outlook_desktop_border_top_header_cuts_history():
    html = (
        '<div class="WordSection1"><p class="MsoNormal">Approved.<o:p></o:p></p>'
        '<p class="MsoNormal">Bob<o:p></o:p></p>'
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        '<p class="MsoNormal"><b>Von:</b> Jane &lt;jane@example.com&gt;<br><b>Gesendet:</b> Dienstag, 5. März 2024'
        '<br><b>Betreff:</b> Budget</p></div><p class="MsoNormal">Darf ich 100 EUR ausgeben?</p></div>'
    )
    assert html_to_reply_text(html) == "Approved.\nBob"


def test_apple_mail_and_thunderbird_cite_blockquotes_are_removed():
    apple = (
        '<div>Sounds good.</div><div><br><blockquote type="cite"><div>On 5 Mar 2024, at 09:14, Jane '
        "&lt;jane@example.com&gt; wrote:</div><div>Lunch?</div></blockquote></div>"
    )
    assert html_to_reply_text(apple) == "Sounds good."
    thunderbird = (
        '<p>Sounds good.</p><div class="moz-cite-prefix">Am 05.03.24 um 09:14 schrieb Jane:<br></div>'
        '<blockquote type="cite">Mittagessen?</blockquote>'
    )
    assert html_to_reply_text(thunderbird) == "Sounds good."


def test_yahoo_quoted_block_is_removed():
    html = (
        '<div class="ydp1"><div>Yes please.</div></div><div id="yahoo_quoted_123" class="yahoo_quoted">'
        "<div>On Tuesday, March 5, 2024, 09:14:02 AM GMT+1, Jane &lt;jane@example.com&gt; wrote:</div>"
        "<div>More coffee?</div></div>"
    )
    assert html_to_reply_text(html) == "Yes please."


def test_gmx_quote_div_is_removed():
    html = (
        '<div><div>Danke!</div><div name="quote" style="margin:10px 5px 5px 10px;">'
        "<b>Gesendet:</b>&nbsp;Dienstag, 05. März 2024 um 09:14 Uhr<br/><b>Von:</b>&nbsp;Jane "
        "&lt;jane@example.com&gt;<br/><b>Betreff:</b>&nbsp;Frage<div>Alte Nachricht</div></div></div>"
    )
    assert html_to_reply_text(html) == "Danke!"


def test_qq_mail_original_message_divider_is_removed():
    html = (
        "<div>好的，谢谢</div><div>------------------&nbsp;原始邮件&nbsp;------------------</div>"
        "<div><b>发件人:</b>&nbsp;Jane&lt;jane@example.com&gt;</div><div><b>发送时间:</b>&nbsp;2024年3月5日</div>"
        "<div>旧消息</div>"
    )
    assert html_to_reply_text(html) == "好的，谢谢"


def test_outlook_mobile_signature_and_reply_divider_are_removed():
    html = (
        '<div dir="ltr">Yes</div><div id="ms-outlook-mobile-signature">Get <a href="https://aka.ms/o0ukef">'
        'Outlook for iOS</a></div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg">'
        "<b>From:</b> Jane<br><b>Sent:</b> Tuesday<br><b>Subject:</b> Q</div><div>old</div>"
    )
    assert html_to_reply_text(html) == "Yes"


def test_html_whole_body_inside_blockquote_falls_back_to_the_text():
    html = "<blockquote>Reply<div>On 5 Mar 2024, at 09:14, Jane &lt;jane@example.com&gt; wrote:</div></blockquote>"
    assert html_to_reply_text(html).startswith("Reply")


def test_html_pre_and_table_layout_is_kept_as_text():
    assert html_to_reply_text("<pre>line1\n  indented\nline3</pre>") == "line1\n  indented\nline3"
    assert html_to_reply_text("<table><tr><td>a</td><td>b</td></tr></table>") == "a b"


def test_html_script_style_and_tags_never_leak():
    html = (
        "<html><head><title>t</title><style>p{color:red}</style><script>alert('x')</script></head>"
        "<body><p>Hello &amp; welcome&nbsp;back</p><script>document.write('<b>evil</b>')</script>"
        "<noscript>no</noscript><ul><li>one</li><li>two</li></ul></body></html>"
    )
    text = html_to_reply_text(html)
    assert text == "Hello & welcome back\n\n- one\n- two"
    assert "<" not in text and "alert" not in text and "evil" not in text


@pytest.mark.parametrize(
    "html",
    [
        "<p>Hi</p><!-- secret <script>alert(1)</script>",
        "<p>Hi</p><div class='unterminated'",
        "<p>Hi</p><script>alert(1)",
        "<p>Hi</p><SCRIPT type='text/javascript'>alert(1)</SCRIPT>",
        "<p>Hi</p><svg><script>alert(1)</script></svg><iframe src=x>frame</iframe>",
    ],
)
def test_unterminated_or_hidden_markup_never_leaks(html):
    assert html_to_reply_text(html) == "Hi"


def test_html_quote_inside_plain_blockquote_after_attribution_is_removed():
    html = (
        "<p>Hi. I am fine.<br><br>Thanks,<br>Alex<br><br>"
        '05.03.2024, 09:14, "Jane" &lt;<a href="mailto:jane@example.com">jane@example.com</a>&gt;:</p>'
        "<blockquote>How are you?</blockquote>"
    )
    assert html_to_reply_text(html) == "Hi. I am fine.\n\nThanks,\nAlex"


def test_extract_from_message_prefers_text_and_falls_back_to_html():
    assert extract_from_message("Plain reply", "<p>Html reply</p>") == "Plain reply"
    assert extract_from_message("  \n", "<p>Html reply</p>") == "Html reply"


# --------------------------------------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------------------------------------


def test_huge_quoted_input_finishes_quickly():
    body = "Short answer.\n\n" + "> quoted history line\n" * 250_000  # ~5.5 MB
    start = time.process_time()
    assert extract_reply(body) == "Short answer."
    assert time.process_time() - start < 2.0


def test_huge_html_input_finishes_quickly():
    html = "<p>Short answer.</p><blockquote>" + "<div>quoted history line</div>" * 150_000 + "</blockquote>"
    start = time.process_time()
    assert html_to_reply_text(html) == "Short answer."
    assert time.process_time() - start < 3.0


def test_pathological_lines_finish_quickly():
    start = time.process_time()
    extract_reply("On 2012 x <\n" * 100_000)
    extract_reply(("-" * 50_000 + "\n") * 20)
    extract_reply("a" * 3_000_000)
    assert time.process_time() - start < 3.0


# --------------------------------------------------------------------------------------------------------------------
# Development corpus
# --------------------------------------------------------------------------------------------------------------------

_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "replies"
_MIN_EXACT = 112


def _normalize(text: str) -> str:
    """Same normalisation as tools/score_replies.py: CRLF, trailing spaces, blank-line runs, outer blank space."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    blank = False
    for line in text.split("\n"):
        line = line.rstrip()
        if not line:
            if not blank:
                out.append("")
            blank = True
        else:
            out.append(line)
            blank = False
    return "\n".join(out).strip()


@pytest.mark.skipif(
    not (_CORPUS / "MANIFEST.tsv").exists(),
    reason="runs where the shared corpus is beside the repository (../shared/corpus/replies); it is not here",
)
def test_development_corpus_exact_matches_reach_target():
    from tests.unit.reply_harness import extract

    kinds = {".eml": "eml", ".txt": "body", ".html": "html"}
    rows = (_CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    header = rows[0].split("\t")
    exact = 0
    failures = []
    for row in rows[1:]:
        meta = dict(zip(header, row.split("\t"), strict=False))
        name = meta["name"]
        path = next(p for ext in kinds if (p := _CORPUS / f"{name}{ext}").exists())
        raw = path.read_bytes().decode("utf-8", "surrogateescape")
        expected = (_CORPUS / f"{name}.expected.txt").read_bytes().decode("utf-8", "surrogateescape")
        got = extract(raw, kinds[path.suffix])
        if meta.get("match") == "nows":
            ok = re.sub(r"\s+", "", got) == re.sub(r"\s+", "", expected)
        else:
            ok = _normalize(got) == _normalize(expected)
        exact += ok
        if not ok:
            failures.append(name)
    assert exact >= _MIN_EXACT, f"{exact} exact; failing: {failures}"


def test_a_short_first_sentence_starting_with_on_is_not_taken_for_a_quote_header():
    body = "On it.\n\nOn Wed, 25 Nov 2026 at 00:12, Bob <bob@example.com> wrote:\n> hello\n"

    assert extract_reply(body) == "On it."


def test_a_quoted_delimiter_also_removes_the_header_that_introduces_it():
    body = (
        "Thanks, done.\n\nOn Wed, 25 Nov 2026 00:12:19 +0000, AiX| abcdefghijkl <support@example.com> wrote:\n"
        "> ### Please type your reply above this line ###\n>\n> Carol wrote:\n> hello\n"
    )

    assert extract_reply(body) == "Thanks, done."
