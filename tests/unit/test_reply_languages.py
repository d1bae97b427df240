"""Reply extraction across languages and clients (issue 14): forwards kept as content, quote headers, mobile footers,
sign-offs, and the texts that must never be trimmed. Every sample here is written for this file."""

from __future__ import annotations

import time
from email.message import EmailMessage

import pytest

from emailpipe.domain.forwards import find_forward
from emailpipe.domain.reply import extract_from_message, extract_reply, html_to_reply_text
from emailpipe.mail.parse import parse_email

REPLY = "The new invoice looks right.\nI will pay it on Friday."
ORIGINAL = "Hi,\nplease find the corrected invoice attached."
QUOTED = "> Hi,\n> please find the corrected invoice attached."

# --------------------------------------------------------------------------------------------------------------------
# Forwards are content: the forwarded email's header block and body are kept
# --------------------------------------------------------------------------------------------------------------------

FORWARD_MARKERS = {
    "gmail_en": "---------- Forwarded message ---------",
    "apple_en": "Begin forwarded message:",
    "thunderbird_en": "-------- Forwarded Message --------",
    "apple_es": "Comienzo del mensaje reenviado:",
    "apple_da": "Start på videresendt besked:",
    "de": "-------- Weitergeleitete Nachricht --------",
    "fr": "-------- Message transféré --------",
    "es": "---------- Mensaje reenviado ---------",
    "it": "---------- Messaggio inoltrato ---------",
    "nl": "---------- Doorgestuurd bericht ---------",
    "da": "---------- Videresendt meddelelse ----------",
    "no": "---------- Videresendt melding ----------",
    "sv": "---------- Vidarebefordrat meddelande ---------",
    "fi": "---------- Välitetty viesti ----------",
    "pl": "---------- Przekazana wiadomość ---------",
    "cs": "---------- Přeposlaná zpráva ----------",
    "ru": "---------- Пересланное сообщение ---------",
    "ja": "---------- 転送 ----------",
    "ja_long": "---------- 転送されたメッセージ ----------",
    "zh": "---------- 转发 ----------",
    "zh_tw": "---------- 轉寄的郵件 ----------",
}
FORWARDED_BLOCK = (
    "From: Ann Customer <ann@example.com>\nDate: Tue, Mar 5, 2024 at 9:14 AM\nSubject: Broken printer\n"
    "To: Bob <bob@example.org>\n\nThe printer on floor 2 is broken again.\nCan someone look at it?"
)


@pytest.mark.parametrize("name", sorted(FORWARD_MARKERS))
def test_forward_keeps_note_headers_and_body(name):
    body = f"Can you help this customer?\n\n{FORWARD_MARKERS[name]}\n{FORWARDED_BLOCK}\n"
    assert extract_reply(body) == body.strip()


@pytest.mark.parametrize("name", sorted(FORWARD_MARKERS))
def test_forward_without_a_note_is_kept_whole(name):
    body = f"{FORWARD_MARKERS[name]}\n{FORWARDED_BLOCK}\n"
    assert extract_reply(body) == body.strip()


@pytest.mark.parametrize("name", sorted(FORWARD_MARKERS))
def test_forward_is_found_with_its_original_sender(name):
    msg = EmailMessage()
    msg["From"] = "Alex Agent <alex@acme.example>"
    msg["To"] = "support@acme.example"
    msg["Subject"] = "Fwd: Broken printer"
    msg.set_content(f"Can you help this customer?\n\n{FORWARD_MARKERS[name]}\n{FORWARDED_BLOCK}\n")
    found = find_forward(parse_email(msg.as_bytes()))
    assert found is not None
    assert (found.sender_email, found.subject) == ("ann@example.com", "Broken printer")
    assert found.text.startswith("The printer on floor 2")


@pytest.mark.parametrize("marker", ["----- Original Nachricht -----", "-------- Original-Nachricht --------"])
def test_german_original_nachricht_is_a_forward_under_a_forward_subject_and_history_otherwise(marker):
    block = "Von: Ann <ann@example.com>\nGesendet: Dienstag, 5. März 2024 09:14\nAn: bob@example.org\nBetreff: Drucker"
    body = f"Siehe unten.\n\n{marker}\n{block}\n\nDer Drucker ist kaputt.\n"
    assert extract_reply(body, subject="WG: Drucker") == body.strip()
    assert extract_reply(body, subject="AW: Drucker") == "Siehe unten."
    assert extract_reply(body) == "Siehe unten."


def test_forwarded_message_inside_quoted_history_is_history():
    marker = FORWARD_MARKERS["de"]
    body = f"Done, thanks.\n\nOn Tue, Mar 5, 2024 at 9:14 AM Bob <bob@example.org> wrote:\n> {marker}\n> x\n"
    assert extract_reply(body) == "Done, thanks."


def test_forward_keeps_the_signatures_of_the_forwarded_email():
    body = f"FYI\n\n{FORWARD_MARKERS['gmail_en']}\n{FORWARDED_BLOCK}\n\nBest regards,\nAnn\n--\nAnn Customer\n"
    assert extract_reply(body) == body.strip()


def test_apple_mail_html_forward_keeps_the_blockquoted_email():
    html = (
        "<html><body><div>FYI, see below.</div><div><br><div>Begin forwarded message:</div>"
        '<br class="Apple-interchange-newline"><blockquote type="cite"><div><b>From: </b>Ann &lt;ann@example.com&gt;'
        "</div><div><b>Subject: </b>Printer</div><div><b>Date: </b>5 March 2024 at 09:14:00 CET</div><br>"
        "<div>The printer is broken.</div></blockquote></div></body></html>"
    )
    text = html_to_reply_text(html)
    assert text.startswith("FYI, see below.\n\nBegin forwarded message:\n\nFrom: Ann <ann@example.com>")
    assert text.endswith("The printer is broken.")


def test_apple_mail_html_reply_blockquote_is_still_history():
    html = (
        '<div>Yes.</div><div><br><blockquote type="cite"><div>On 5 Mar 2024, at 09:14, Ann wrote:</div>'
        "<div>Is it broken?</div></blockquote></div>"
    )
    assert html_to_reply_text(html) == "Yes."


def test_gmail_html_forward_in_german_is_kept():
    html = (
        '<div dir="ltr">Siehe unten<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        "---------- Weitergeleitete Nachricht ---------<br>Von: <strong>Ann</strong> &lt;ann@example.com&gt;<br>"
        "Date: Di., 5. März 2024 um 09:14 Uhr<br>Subject: Drucker<br>To: &lt;bob@example.org&gt;<br></div><br>"
        '<div dir="ltr">Der Drucker ist kaputt.</div></div></div>'
    )
    text = extract_from_message(None, html)
    assert text.startswith("Siehe unten\n\n---------- Weitergeleitete Nachricht ---------\nVon: Ann")
    assert text.endswith("Der Drucker ist kaputt.")


# --------------------------------------------------------------------------------------------------------------------
# Quote headers: Outlook header blocks in every language, Gmail's numeric attributions, unmarked originals
# --------------------------------------------------------------------------------------------------------------------

OUTLOOK_BLOCKS = {
    "en": ("From", "Sent", "To", "Subject"),
    "en_bold": ("*From:*", "*Sent:*", "*To:*", "*Subject:*"),
    "it": ("Da", "Inviato", "A", "Oggetto"),
    "fr": ("De ", "Envoyé ", "À ", "Objet "),
    "fr_nbsp": ("De\u00a0", "Envoyé\u00a0", "À\u00a0", "Objet\u00a0"),
    "fr_bold": ("*De :*", "*Envoyé :*", "*À :*", "*Objet :*"),
    "de": ("Von", "Gesendet", "An", "Betreff"),
    "nl": ("Van", "Verzonden", "Aan", "Onderwerp"),
    "pl": ("Od", "Wysłano", "Do", "Temat"),
    "pt": ("De", "Enviado", "Para", "Assunto"),
    "es": ("De", "Enviado el", "Para", "Asunto"),
    "sv": ("Från", "Skickat", "Till", "Ämne"),
    "da": ("Fra", "Sendt", "Til", "Emne"),
    "no": ("Fra", "Sendt", "Til", "Emne"),
    "fi": ("Lähettäjä", "Lähetetty", "Vastaanottaja", "Aihe"),
    "cs": ("Od", "Odesláno", "Komu", "Předmět"),
    "ru": ("От", "Отправлено", "Кому", "Тема"),
}


def _field(name: str, value: str) -> str:
    return f"{name} {value}" if name.endswith(":*") else f"{name}: {value}"


@pytest.mark.parametrize("name", sorted(OUTLOOK_BLOCKS))
def test_outlook_header_block_and_history_below_are_removed(name):
    sender, sent, to, subject = OUTLOOK_BLOCKS[name]
    block = "\n".join(
        (
            _field(sender, "Ann Customer <ann@example.com>"),
            _field(sent, "5.3.2024 09:14"),
            _field(to, "Bob <bob@example.org>"),
            _field(subject, "Invoice"),
        )
    )
    assert extract_reply(f"{REPLY}\n\n{block}\n\n{ORIGINAL}\n") == REPLY
    assert extract_reply(f"{REPLY}\n\n________________________________\n{block}\n\n{ORIGINAL}\n") == REPLY


@pytest.mark.parametrize(
    "header",
    [
        "2024-03-05 9:14 GMT+01:00 Ann Customer <ann@example.com>:",
        '2024-03-05 17:34 GMT+02:00 "Ann Customer" <ann@example.com>:',
        "Am Di., 5. März 2024 um 09:14 Uhr schrieb Ann Customer <ann@example.com>:",
        "Le mar. 5 mars 2024 à 09:14, Ann Customer <ann@example.com> a écrit :",
        "Op di 5 mrt. 2024 om 09:14 schreef Ann Customer <ann@example.com>:",
        "Den tis 5 mars 2024 kl 09:14 skrev Ann Customer <ann@example.com>:",
        "ti 5. maalisk. 2024 klo 9.14 Ann Customer (ann@example.com) kirjoitti:",
        "wt., 5 mar 2024 o 09:14 Ann Customer <ann@example.com> napisał(a):",
        "út 5. 3. 2024 v 9:14 odesílatel Ann Customer <ann@example.com> napsal:",
        "Em ter., 5 de mar. de 2024 às 09:14, Ann Customer <ann@example.com> escreveu:",
        "Il giorno mar 5 mar 2024 alle ore 09:14 Ann Customer <ann@example.com> ha scritto:",
    ],
)
def test_gmail_attribution_with_or_without_quote_marks_is_removed(header):
    assert extract_reply(f"{REPLY}\n\n{header}\n\n{QUOTED}\n") == REPLY
    assert extract_reply(f"{REPLY}\n\n{header}\n{ORIGINAL}\n") == REPLY


def test_gmail_numeric_attribution_without_the_address_is_removed():
    assert extract_reply(f"{REPLY}\n\n2024-03-05 17:21 GMT+01:00 Ann Customer\n\n{ORIGINAL}\n") == REPLY


def test_a_line_starting_with_a_numeric_date_and_gmt_is_text():
    body = "2024-03-05 17:21 GMT+01:00: the server went down.\nIt came back at 18:00."
    assert extract_reply(body) == body


def test_pipe_quoted_history_under_an_attribution_is_removed():
    piped = "\n".join("| " + line for line in ORIGINAL.split("\n")) + "\n|\n| -- \n| Ann"
    assert extract_reply(f"{REPLY}\n\n2024/3/5 Ann via Forum <forum@example.com>\n\n{piped}\n") == REPLY


def test_markdown_table_is_not_a_pipe_quote():
    body = "Prices:\n\n| item | price |\n|------|-------|\n| pen  | 2     |\n\nOK?"
    assert extract_reply(body) == body


@pytest.mark.parametrize(
    "body",
    [
        "L'orario del magazzino è:\nDa: 9:00\nA: 17:00\n\nGrazie a voi.",
        "Les horaires sont :\nDe : 9h\nÀ : 17h\n\nMerci.",
        "Öffnungszeiten:\nVon: 9 Uhr\nAn: Feiertagen geschlossen\n\nDanke.",
    ],
)
def test_two_field_lines_without_an_address_are_text(body):
    assert extract_reply(body) == body


def test_two_field_header_with_an_address_is_history():
    assert extract_reply(f"{REPLY}\n\nVon: Ann <ann@example.com>\nAn: Bob\n\n{ORIGINAL}\n") == REPLY


def test_french_webmail_block_with_message_du_and_copie_a_is_removed():
    block = (
        'Message du : 05/03/2024 09:14\nDe : "Ann" <ann@example.com>\nA : bob@example.org\nCopie à : \nSujet : Facture'
    )
    assert extract_reply(f"{REPLY}\n\n====\n\n{block}\n\n{ORIGINAL}\n") == REPLY


def test_italian_outlook_block_with_a_reply_to_field_is_removed():
    block = "Da: Ann\nRisposta: Ann <ann@example.com>\nData: martedì 5 marzo 2024 09:14\nA: Bob\nOggetto: Fattura"
    assert extract_reply(f"{REPLY}\n\n{block}\n\n{ORIGINAL}\n") == REPLY


@pytest.mark.parametrize("marker", ["-------- Oprindelig besked --------", "-----Original Nachricht-----"])
def test_localised_original_message_rule_is_removed_with_the_history(marker):
    block = "Fra: Ann <ann@example.com>\nDato: 5. marts 2024 09:14\nTil: bob@example.org\nEmne: Faktura"
    assert extract_reply(f"{REPLY}\n\n{marker}\n{block}\n\n{ORIGINAL}\n") == REPLY


def test_attribution_followed_by_an_indented_original_is_removed():
    body = f'{REPLY}\n\nOn 8 May 2024 17:34, "Ann Customer" <ann@example.com> wrote:\n\n    Hi,\n    is it paid?\n'
    assert extract_reply(body) == REPLY


# --------------------------------------------------------------------------------------------------------------------
# Sign-offs: the closing phrase and the name lines under it go, where they end the reply
# --------------------------------------------------------------------------------------------------------------------

SIGN_OFFS = {
    "en": ("Best regards,", "Jane Doe"),
    "en_kind": ("Kind regards", "Jane"),
    "en_cheers": ("Cheers!", "Jane"),
    "de": ("Mit freundlichen Grüßen", "Jana Schmidt"),
    "de_short": ("Viele Grüße", "Jana"),
    "fr": ("Cordialement,", "Jeanne Dupont"),
    "es": ("Saludos,", "Juana"),
    "it": ("Cordiali saluti", "Giovanna Rossi"),
    "it_distinti": ("Distinti saluti,", "Giovanna Rossi"),
    "it_saluti": ("Saluti", "Giovanna"),
    "pt": ("Cumprimentos,", "Joana Silva"),
    "pt_br": ("Atenciosamente,", "Joana Silva"),
    "pt_abracos": ("Abraços", "Joana"),
    "nl": ("Met vriendelijke groet,", "Jan de Vries"),
    "nl_groeten": ("Vriendelijke groeten", "Jan"),
    "nl_mvg": ("Mvg", "Jan"),
    "nl_groetjes": ("Groetjes,", "Sanne"),
    "da": ("Med venlig hilsen", "Jens Hansen"),
    "da_venlig": ("Venlig hilsen", "Jens"),
    "da_hilsen": ("Hilsen", "Jens"),
    "da_mvh": ("Mvh", "Jens"),
    "da_kh": ("Kh", "Jens"),
    "no": ("Med vennlig hilsen", "Kari Nordmann"),
    "no_vennlig": ("Vennlig hilsen", "Kari"),
    "sv": ("Med vänliga hälsningar", "Sven Svensson"),
    "sv_vanliga": ("Vänliga hälsningar", "Sven"),
    "sv_halsningar": ("Hälsningar", "Sven"),
    "sv_mvh": ("MVH", "Sven"),
    "fi": ("Ystävällisin terveisin", "Matti Meikäläinen"),
    "fi_terveisin": ("Terveisin", "Matti"),
    "fi_kh": ("Kh", "Matti"),
    "pl": ("Pozdrawiam", "Jan Kowalski"),
    "pl_powazaniem": ("Z poważaniem", "Jan Kowalski"),
    "pl_pozdrowienia": ("Pozdrowienia,", "Jan"),
    "cs": ("S pozdravem", "Jan Novák"),
    "ru": ("С уважением,", "Иван Петров"),
}


@pytest.mark.parametrize("name", sorted(SIGN_OFFS))
def test_sign_off_and_name_at_the_end_are_removed(name):
    sign_off, who = SIGN_OFFS[name]
    assert extract_reply(f"{REPLY}\n\n{sign_off}\n{who}\n") == REPLY


@pytest.mark.parametrize("name", sorted(SIGN_OFFS))
def test_sign_off_above_quoted_history_is_removed(name):
    sign_off, who = SIGN_OFFS[name]
    body = f"{REPLY}\n\n{sign_off}\n{who}\n\nOn Tue, Mar 5, 2024 at 9:14 AM Ann <ann@example.com> wrote:\n{QUOTED}\n"
    assert extract_reply(body) == REPLY


def test_sign_off_with_title_company_and_phone_lines_is_removed():
    body = f"{REPLY}\n\nBest regards,\nJane Doe\nHead of Accounts\nAcme Inc.\n+49 30 1234567\nwww.acme.example\n"
    assert extract_reply(body) == REPLY


def test_a_blank_line_may_part_the_sign_off_from_the_name():
    assert extract_reply(f"{REPLY}\n\nregards\n\nJane Doe\n") == REPLY


def test_a_sign_off_without_a_name_at_the_end_is_removed():
    assert extract_reply(f"{REPLY}\n\nMed venlig hilsen\n") == REPLY


def test_sign_off_above_a_dash_signature_is_removed_with_it():
    assert extract_reply(f"{REPLY}\n\nMvh\n-- \nJens Hansen\nAcme A/S\n") == REPLY


@pytest.mark.parametrize("name", ["Jens", "Kari Nordmann"])
def test_scandinavian_slash_name_is_removed(name):
    assert extract_reply(f"{REPLY}\n\n/{name}\n") == REPLY
    assert extract_reply(f"{REPLY}\n\nMvh\n/{name}\n") == REPLY


@pytest.mark.parametrize("thanks", ["Thanks,", "Thank you!", "Danke", "Merci,", "Tack!", "Děkuji", "Dziękuję,"])
def test_closing_thanks_with_a_name_below_is_removed(thanks):
    assert extract_reply(f"{REPLY}\n\n{thanks}\nJane\n") == REPLY


def test_html_closing_thanks_with_a_name_stays():
    html = "<div>Hi. I am fine.</div><div><br></div><div>Thanks,</div><div>Alex</div>"
    assert html_to_reply_text(html) == "Hi. I am fine.\n\nThanks,\nAlex"


@pytest.mark.parametrize("thanks", ["Thanks!", "Thank you", "Děkuji.", "Danke!"])
def test_a_last_thanks_alone_is_the_message_and_stays(thanks):
    body = f"Can you send the invoice again?\n\n{thanks}"
    assert extract_reply(body) == body


def test_sign_off_word_inside_the_reply_stays():
    body = "Regards to your team, they did great.\nPlease send the invoice."
    assert extract_reply(body) == body


def test_sign_off_line_followed_by_more_reply_text_stays():
    body = f"Best regards\nwere sent to everyone at the meeting yesterday, as you asked.\n\n{REPLY}"
    assert extract_reply(body) == body


def test_sign_off_followed_by_a_paragraph_stays():
    body = "Cheers\n\nThe party went well and everyone had a great time. See you next week, I hope."
    assert extract_reply(f"Hi,\n\n{body}") == f"Hi,\n\n{body}"


def test_sign_off_that_is_the_whole_message_stays():
    assert extract_reply("Best regards,\nJane") == "Best regards,\nJane"


def test_sign_off_on_the_first_line_stays():
    assert extract_reply("Thanks,\n\nJane") == "Thanks,\n\nJane"


@pytest.mark.parametrize("sign_off", ["Z powazaniem,", "Mit freundlichen Gruessen", "Vanliga halsningar", "Dekuji"])
def test_sign_off_written_without_diacritics_is_removed(sign_off):
    assert extract_reply(f"{REPLY}\n\n{sign_off}\nJan\n") == REPLY


def test_sign_off_of_an_email_that_is_all_history_is_removed():
    # A pasted email (its header block at the very top) is the whole message, less the signature it ends with.
    body = "Od: Jan <jan@example.com>\nWysłano: 5 marca 2024 09:14\nTemat: Faktura\n\nCześć Anno,\n\nPozdrawiam,\nJan"
    assert (
        extract_reply(body) == "Od: Jan <jan@example.com>\nWysłano: 5 marca 2024 09:14\nTemat: Faktura\n\nCześć Anno,"
    )


def test_pasted_email_under_a_top_header_loses_its_own_history_and_signature():
    header = "From: Jan <jan@example.com>\nSent: Tuesday, March 5, 2024 09:14\nTo: Ann\nSubject: Re: Invoice"
    attribution = "On Mon, Mar 4, 2024 at 9:00 AM Ann <a@example.com> wrote:"
    body = f"{header}\n\nHi Ann,\n\nit is paid.\n\nBest,\nJan\n\n{attribution}\n{QUOTED}"
    assert extract_reply(body) == f"{header}\n\nHi Ann,\n\nit is paid."


def test_at_your_service_with_a_business_card_is_a_sign_off():
    assert extract_reply(f"{REPLY}\n\nAt your service,\n\nJohn Smith\nDoe Inc\n555-531-7967\n") == REPLY


def test_single_line_sign_off_with_the_name_stays():
    # "Regards, Roman" on one line reads as part of the text in several clients' own expectations.
    assert extract_reply(f"{REPLY}\n\nRegards, Jane") == f"{REPLY}\n\nRegards, Jane"


def test_sign_off_in_a_bottom_posted_reply_is_removed():
    body = f"On Tue, Mar 5, 2024 at 9:14 AM Ann <ann@example.com> wrote:\n{QUOTED}\n\n{REPLY}\n\nVenlig hilsen\nJens\n"
    assert extract_reply(body) == REPLY


def test_sign_off_above_quote_with_a_bottom_reply_stays():
    # The sign-off ends the top part, but the reply goes on under the quote: it is not where the reply ends.
    body = f"Short answer: yes.\n\nBest,\nJane\n\n{QUOTED}\n\nLonger answer below.\n"
    assert extract_reply(body) == "Short answer: yes.\n\nBest,\nJane\n\nLonger answer below."


def test_html_sign_off_is_removed():
    html = "<div>The printer works now.</div><div><br></div><div>Med venlig hilsen</div><div>Jens Hansen</div>"
    assert html_to_reply_text(html) == "The printer works now."


# --------------------------------------------------------------------------------------------------------------------
# Mobile footers
# --------------------------------------------------------------------------------------------------------------------

FOOTERS = {
    "en_iphone": "Sent from my iPhone",
    "en_any_device": "Sent from my Samsung Galaxy S21 Ultra 5G",
    "en_outlook_ios": "Sent from Outlook for iOS",
    "en_outlook_android": "Sent from Outlook for Android",
    "en_get_outlook": "Get Outlook for iOS<https://aka.ms/o0ukef>",
    "en_via_mobile": "via mobile",
    "en_parenthesised": "(sent from a phone)",
    "en_angle": "<<sent by galaxy>>",
    "de_k9": "Diese Nachricht wurde von meinem Android-Mobiltelefon mit K-9 Mail gesendet.",
    "de_outlook": "Gesendet von Outlook für Android",
    "de_iphone": "Von meinem iPhone gesendet",
    "fr": "Envoyé de mon iPhone",
    "es": "Enviado desde mi iPhone",
    "pt": "Enviado do meu iPhone",
    "it": "Inviato da iPhone",
    "nl": "Verzonden vanaf mijn iPhone",
    "sv": "Skickat från min iPhone",
    "da": "Sendt fra min iPhone",
    "fi": "Lähetetty iPhonesta",
    "pl": "Wysłane z iPhone'a",
    "cs": "Odesláno z iPhonu",
    "ru": "Отправлено с iPhone",
}


@pytest.mark.parametrize("name", sorted(FOOTERS))
def test_mobile_footer_at_the_end_is_removed(name):
    assert extract_reply(f"{REPLY}\n\n{FOOTERS[name]}\n") == REPLY


@pytest.mark.parametrize("name", sorted(FOOTERS))
def test_mobile_footer_and_the_unmarked_original_below_it_are_removed(name):
    for history in (
        f"From: Ann <ann@example.com>\nSent: Tuesday, March 5, 2024 9:14 AM\nTo: Bob <bob@example.org>\n"
        f"Subject: Invoice\n\n{ORIGINAL}\n",
        f"On Tue, Mar 5, 2024 at 9:14 AM Ann <ann@example.com> wrote:\n\n{ORIGINAL}\n",
        f"-------- Original message --------\nFrom: Ann <ann@example.com>\nDate: 05/03/2024 09:14\n\n{ORIGINAL}\n",
    ):
        assert extract_reply(f"{REPLY}\n\n{FOOTERS[name]}\n\n{history}") == REPLY


@pytest.mark.parametrize("name", sorted(FOOTERS))
def test_mobile_footer_above_a_quote_goes_and_the_reply_under_the_quote_stays(name):
    body = f"{FOOTERS[name]}\n\nOn Tue, Mar 5, 2024 at 9:14 AM Ann <ann@example.com> wrote:\n{QUOTED}\n\n{REPLY}\n"
    assert extract_reply(body) == REPLY


@pytest.mark.parametrize("name", sorted(FOOTERS))
def test_mobile_footer_over_an_unmarked_original_without_header_cuts_it(name):
    # Outlook for Android and others paste the email replied to under the footer with no header and no '>'.
    body = f"{REPLY}\n\n{FOOTERS[name]}\n\nHi there!\n\nThe invoice is attached, please check it.\n"
    assert extract_reply(body) == REPLY


def test_mobile_footer_over_a_forward_keeps_the_forward():
    body = f"FYI\n\nSent from my iPhone\n\n---------- Forwarded message ---------\n{FORWARDED_BLOCK}"
    assert extract_reply(body) == body


def test_a_block_of_footers_goes_with_the_first():
    body = f"{REPLY}\n\nEnvoyé depuis mon iPhone\n\nVon meinem Mobilgerät gesendet\nSent from my iPod\n"
    assert extract_reply(body) == REPLY


def test_name_written_right_above_a_mobile_footer_goes_with_it():
    assert extract_reply(f"{REPLY}\n\nJane Doe\nSent from my iPhone\n") == REPLY


def test_text_right_above_a_mobile_footer_stays():
    body = "See you at 5 then\nSent from my iPhone"
    assert extract_reply(body) == "See you at 5 then"


def test_sentence_that_starts_like_a_footer_stays():
    body = f"{REPLY}\n\nSent from my desk, it is much easier than my phone."
    assert extract_reply(body) == body


def test_html_mobile_footer_and_outlook_history_are_removed():
    html = (
        '<div dir="auto">Yes, will do.</div><div dir="auto"><br></div>'
        '<div id="ms-outlook-mobile-signature" dir="auto">Get <a href="https://aka.ms/o0ukef">Outlook for iOS</a></div>'
        '<hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Ann '
        "&lt;ann@example.com&gt;<br><b>Sent:</b> Tuesday, March 5, 2024 9:14 AM<br><b>To:</b> Bob<br>"
        "<b>Subject:</b> Invoice</div><div>Original.</div>"
    )
    assert html_to_reply_text(html) == "Yes, will do."


def test_html_mobile_footer_and_unmarked_history_are_removed():
    html = (
        "<div>Ja.</div><div><br></div><div>Von meinem iPhone gesendet</div><div><br></div>"
        "<div>Am 05.03.2024 um 09:14 schrieb Ann &lt;ann@example.com&gt;:</div><div>Der Drucker ist kaputt.</div>"
    )
    assert html_to_reply_text(html) == "Ja."


# --------------------------------------------------------------------------------------------------------------------
# Never over-trim
# --------------------------------------------------------------------------------------------------------------------


def test_numbered_list_keeps_every_item():
    body = "Steps to reproduce:\n\n1. Open the invoice\n2. Click Pay\n3. Thanks page never shows"
    assert extract_reply(body) == body


def test_numbered_list_alone_is_kept():
    assert extract_reply("1. yes\n2. no\n3. maybe") == "1. yes\n2. no\n3. maybe"


def test_dash_list_of_names_is_kept():
    body = "Who is coming:\n\n- Alice\n- Bob"
    assert extract_reply(body) == body


def test_indented_code_block_is_kept():
    body = "Here is the script:\n\n    > echo hi\n    --\n    return 1\n\nIt fails on line 2."
    assert extract_reply(body) == body


def test_fenced_code_block_keeps_quote_marks_and_header_lines():
    body = (
        "The log says:\n\n```\n> connecting to db\nOn Tue, Mar 5, 2024 at 9:14 AM worker <w@example.com> wrote:\n"
        "--\nFrom: cron@example.com\nSent: now\n```\n\nAny idea?"
    )
    assert extract_reply(body) == body


def test_fenced_code_block_above_history_is_kept_and_history_cut():
    body = f"Try:\n\n~~~\n> select 1;\n~~~\n\nOn Tue, Mar 5, 2024 at 9:14 AM Ann <ann@example.com> wrote:\n{QUOTED}\n"
    assert extract_reply(body) == "Try:\n\n~~~\n> select 1;\n~~~"


def test_unclosed_fence_does_not_hide_history():
    body = f"```\nOops\n\nOn Tue, Mar 5, 2024 at 9:14 AM Ann <ann@example.com> wrote:\n{QUOTED}\n"
    assert extract_reply(body) == "```\nOops"


@pytest.mark.parametrize("emoji", ["👍", "🎉🎉", "👍🏽", "❤️"])
def test_emoji_only_reply_is_kept(emoji):
    assert extract_reply(f"{emoji}\n\nOn Tue, Mar 5, 2024 at 9:14 AM Ann <ann@example.com> wrote:\n> Done?\n") == emoji
    assert extract_reply(emoji) == emoji


def test_attribution_at_the_top_over_an_indented_original_keeps_the_reply_below():
    header = 'On 8 May 2024 17:34, "Ann" <ann@example.com> wrote:'
    body = f"{header}\n\n    Is it paid?\n\nYes, yesterday.\n\n    paid: 2024-05-07\n"
    assert extract_reply(body) == "Yes, yesterday.\n\n    paid: 2024-05-07"


def test_quoted_line_rewrapped_without_its_marker_is_history():
    quote = (
        "> Hi, we checked the invoice you sent last week and the amount is wr\n"
        "ong by ten euros.\n"
        "> Can you send a corrected one? We would like to pay it before Friday\n"
        "afternoon.\n"
        ">\n"
    )
    body = f"{REPLY}\n\nOn Tue, Mar 5, 2024 at 9:14 AM Ann <ann@example.com> wrote:\n{quote}"
    assert extract_reply(body) == REPLY


def test_inline_answers_between_long_quoted_lines_stay():
    body = (
        "> Hi, we checked the invoice you sent last week and the amount is wrong\n"
        "Yes, sorry about that.\n"
        "> Can you send a corrected one? We would like to pay it before Friday?\n"
        "\n"
        "sure, it is attached.\n"
        "> Thanks.\n"
    )
    assert extract_reply(body) == "Yes, sorry about that.\nsure, it is attached."


def test_bottom_posted_reply_keeps_its_text():
    body = f"On Tue, Mar 5, 2024 at 9:14 AM Ann <ann@example.com> wrote:\n{QUOTED}\n\n{REPLY}\n"
    assert extract_reply(body) == REPLY


def test_bottom_posted_reply_with_interleaved_answers_keeps_them():
    body = "> Can you pay on Friday?\nYes.\n\n> And the other invoice?\nNext week.\n"
    assert extract_reply(body) == "Yes.\n\nNext week."


# --------------------------------------------------------------------------------------------------------------------
# Hostile bodies: the new rules stay linear (each body here is near the 20,000-line cap)
# --------------------------------------------------------------------------------------------------------------------

HOSTILE = {
    "unclosed_fence_then_fence_like_lines": "hi\n\n```\n" + "~~~x\n" * 19_000,
    "fence_openers_only": "hi\n\n" + "~~~x\n" * 19_000,
    "footers_over_a_quote": "hi\n\n" + "Sent from my iPhone\n\n" * 9_000 + "> q\n",
    "footers_over_text_and_a_forward": "hi\n\n"
    + "Sent from my iPhone\n\nx\n\n" * 6_000
    + "---------- Forwarded message ---------\nFrom: a@example.com\n",
    "sign_off_lines": "hi\n\n" + "Best regards,\n" * 19_000,
    "name_lines_under_a_sign_off": "hi\n\nBest regards,\n" + "Jane Doe\n" * 19_000,
    "pipe_lines": "hi\n\n" + "| a\n" * 19_000,
    "indented_originals_at_the_top": 'On 8 May 2017 17:34, "A" <a@example.com> wrote:\n    x\n' * 9_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_body_is_extracted_in_bounded_time(name):
    start = time.process_time()
    extract_reply(HOSTILE[name])
    assert time.process_time() - start < 5.0


def test_many_blockquotes_under_forward_markers_render_in_bounded_time():
    html = "<div>hi</div>" + "<div>Begin forwarded message:</div><blockquote type=cite>q</blockquote>" * 15_000
    start = time.process_time()
    html_to_reply_text(html)
    assert time.process_time() - start < 5.0
