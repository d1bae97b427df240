"""Forwards as mail clients write them (Gmail, Outlook, Apple Mail, Thunderbird, Yahoo; inline, HTML, attached)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from emailpipe.domain.forwards import Forwarded, find_forward, strip_forward_prefixes
from emailpipe.mail.parse import parse_email

CUSTOMER_TEXT = "My widget broke after two days.\nCan you replace it?\n\nJane"


def mail(
    subject: str,
    text: str | None = None,
    html: str | None = None,
    *,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    attached_email: EmailMessage | None = None,
    sender: str = "Alex Agent <alex@acme.example>",
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@acme.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<fwd-1@acme.example>"
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    if text is None and html is None:
        msg.set_content("")
    for filename, ctype, payload in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    if attached_email is not None:
        msg.add_attachment(attached_email, filename="original.eml")
    return msg


def forward_of(msg: EmailMessage) -> Forwarded | None:
    return find_forward(parse_email(msg.as_bytes()))


def the_forward(msg: EmailMessage) -> Forwarded:
    found = forward_of(msg)
    assert found is not None
    return found


# --------------------------------------------------------------------------------------------------------------------
# Gmail
# --------------------------------------------------------------------------------------------------------------------

GMAIL_EN = f"""Hi team, can you look at this one?

--
Alex Agent
Acme Support

---------- Forwarded message ---------
From: Jane Customer <jane@customer.example>
Date: Mon, Mar 4, 2024 at 10:15 AM
Subject: Broken widget
To: <alex@acme.example>


{CUSTOMER_TEXT}
"""


def test_gmail_forward_gives_the_original_sender_subject_date_and_content():
    found = the_forward(mail("Fwd: Broken widget", GMAIL_EN))

    assert found.sender_email == "jane@customer.example"
    assert found.sender_name == "Jane Customer"
    assert found.subject == "Broken widget"
    assert found.date == "Mon, Mar 4, 2024 at 10:15 AM"
    assert found.text == CUSTOMER_TEXT
    assert found.inner is None


def test_gmail_forward_note_is_the_forwarders_words_without_their_signature():
    found = the_forward(mail("Fwd: Broken widget", GMAIL_EN))

    assert found.note == "Hi team, can you look at this one?"
    assert "Forwarded message" not in found.text and "From:" not in found.text


def test_gmail_forward_without_a_note_has_an_empty_note():
    body = GMAIL_EN[GMAIL_EN.index("----------") :]  # from the marker line down

    found = the_forward(mail("Fwd: Broken widget", body))

    assert found.note == ""
    assert found.text == CUSTOMER_TEXT


GMAIL_DE = f"""Bitte übernehmen.

---------- Weitergeleitete Nachricht ---------
Von: Jana Kundin <Jana.Kundin@Kunde.example>
Date: Mo., 4. März 2024 um 10:15 Uhr
Subject: Defektes Gerät
To: <support@acme.example>


{CUSTOMER_TEXT}
"""


def test_gmail_german_forward_is_read_and_the_address_lower_cased():
    found = the_forward(mail("Fwd: Defektes Gerät", GMAIL_DE))

    assert (found.sender_email, found.sender_name) == ("jana.kundin@kunde.example", "Jana Kundin")
    assert found.subject == "Defektes Gerät"
    assert found.date == "Mo., 4. März 2024 um 10:15 Uhr"
    assert found.note == "Bitte übernehmen."


GMAIL_FR = f"""---------- Message transféré ---------
De : Jeanne Cliente <jeanne@client.example>
Date: lun. 4 mars 2024 à 10:15
Subject: Facture erronée
To: <support@acme.example>


{CUSTOMER_TEXT}
"""


def test_gmail_french_forward_with_a_space_before_the_colon():
    found = the_forward(mail("Fwd: Facture erronée", GMAIL_FR))

    assert (found.sender_email, found.sender_name) == ("jeanne@client.example", "Jeanne Cliente")
    assert found.subject == "Facture erronée"


GMAIL_HTML = """<div dir="ltr">Can you take this one?<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">
---------- Forwarded message ---------<br>From: <strong class="gmail_sendername" dir="auto">Jane Customer</strong>
 <span dir="auto">&lt;<a href="mailto:jane@customer.example">jane@customer.example</a>&gt;</span><br>
Date: Mon, Mar 4, 2024 at 10:15 AM<br>Subject: Broken widget<br>To: &lt;<a href="mailto:alex@acme.example">
alex@acme.example</a>&gt;<br></div><br><br><div dir="ltr">My widget broke after two days.<div>Can you replace it?
</div><div><br></div><div>Jane</div></div></div></div>
"""


def test_gmail_html_only_forward_is_rendered_and_read():
    found = the_forward(mail("Fwd: Broken widget", html=GMAIL_HTML))

    assert (found.sender_email, found.sender_name) == ("jane@customer.example", "Jane Customer")
    assert found.subject == "Broken widget"
    assert found.text == CUSTOMER_TEXT
    assert found.note == "Can you take this one?"


# --------------------------------------------------------------------------------------------------------------------
# Outlook: no marker, a header block, and the subject's prefix
# --------------------------------------------------------------------------------------------------------------------

OUTLOOK_BLOCKS = {
    "en": (
        "FW: Broken widget",
        "From: Jane Customer <jane@customer.example>\nSent: Monday, March 4, 2024 10:15 AM\n"
        "To: Alex Agent <alex@acme.example>\nSubject: Broken widget",
        ("jane@customer.example", "Jane Customer"),
        "Broken widget",
        "Monday, March 4, 2024 10:15 AM",
    ),
    "de": (
        "WG: Defektes Gerät",
        "Von: Kundin, Jana <jana@kunde.example>\nGesendet: Montag, 4. März 2024 10:15\n"
        "An: Support <support@acme.example>\nBetreff: Defektes Gerät",
        ("jana@kunde.example", "Kundin, Jana"),
        "Defektes Gerät",
        "Montag, 4. März 2024 10:15",
    ),
    "fr": (
        "TR: Facture erronée",
        "De : Jeanne Cliente <jeanne@client.example>\nEnvoyé : lundi 4 mars 2024 10:15\n"
        "À : Support <support@acme.example>\nObjet : Facture erronée",
        ("jeanne@client.example", "Jeanne Cliente"),
        "Facture erronée",
        "lundi 4 mars 2024 10:15",
    ),
    "es": (
        "RV: Factura incorrecta",
        "De: Juana Cliente <juana@cliente.example>\nEnviado: lunes, 4 de marzo de 2024 10:15\n"
        "Para: soporte@acme.example\nAsunto: Factura incorrecta",
        ("juana@cliente.example", "Juana Cliente"),
        "Factura incorrecta",
        "lunes, 4 de marzo de 2024 10:15",
    ),
    "it": (
        "I: Fattura errata",
        "Da: Giovanna Cliente <giovanna@cliente.example>\nInviato: lunedì 4 marzo 2024 10:15\n"
        "A: assistenza@acme.example\nOggetto: Fattura errata",
        ("giovanna@cliente.example", "Giovanna Cliente"),
        "Fattura errata",
        "lunedì 4 marzo 2024 10:15",
    ),
    "nl": (
        "Doorst: Onjuiste factuur",
        "Van: Jan Klant <jan@klant.example>\nVerzonden: maandag 4 maart 2024 10:15\n"
        "Aan: support@acme.example\nOnderwerp: Onjuiste factuur",
        ("jan@klant.example", "Jan Klant"),
        "Onjuiste factuur",
        "maandag 4 maart 2024 10:15",
    ),
    "pt": (
        "ENC: Fatura errada",
        "De: João Cliente <joao@cliente.example>\nEnviado: segunda-feira, 4 de março de 2024 10:15\n"
        "Para: suporte@acme.example\nAssunto: Fatura errada",
        ("joao@cliente.example", "João Cliente"),
        "Fatura errada",
        "segunda-feira, 4 de março de 2024 10:15",
    ),
    "sv": (
        "VB: Felaktig faktura",
        "Från: Johan Kund <johan@kund.example>\nSkickat: den 4 mars 2024 10:15\n"
        "Till: support@acme.example\nÄmne: Felaktig faktura",
        ("johan@kund.example", "Johan Kund"),
        "Felaktig faktura",
        "den 4 mars 2024 10:15",
    ),
}
RULES = {
    "owa_underscores": "________________________________\n",
    "original_message": "-----Original Message-----\n",
    "bare_block": "",
}


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("language", OUTLOOK_BLOCKS)
def test_outlook_forward_in_each_language_and_shape(language, rule):
    subject, block, sender, original_subject, date = OUTLOOK_BLOCKS[language]
    body = f"Please handle this.\n\nAlex\n\n{RULES[rule]}{block}\n\n{CUSTOMER_TEXT}\n"

    found = the_forward(mail(subject, body))

    assert (found.sender_email, found.sender_name) == sender
    assert found.subject == original_subject
    assert found.date == date
    assert found.text == CUSTOMER_TEXT
    assert found.note.startswith("Please handle this.")


def test_old_outlook_from_with_mailto_in_square_brackets():
    body = (
        "FYI\n\n-----Original Message-----\nFrom: Jane Customer [mailto:jane@customer.example]\n"
        "Sent: Monday, March 04, 2024 10:15 AM\nTo: support@acme.example\nSubject: Broken widget\n\n"
        f"{CUSTOMER_TEXT}\n"
    )

    found = the_forward(mail("FW: Broken widget", body))

    assert (found.sender_email, found.sender_name) == ("jane@customer.example", "Jane Customer")


OUTLOOK_HTML = """<html><body><div class="WordSection1"><p class="MsoNormal">Please handle this.<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">
<p class="MsoNormal"><b>From:</b> Jane Customer &lt;jane@customer.example&gt; <br><b>Sent:</b> Monday, March 4, 2024
 10:15 AM<br><b>To:</b> Support &lt;support@acme.example&gt;<br><b>Subject:</b> Broken widget<o:p></o:p></p></div></div>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<p class="MsoNormal">My widget broke after two days.<o:p></o:p></p>
<p class="MsoNormal">Can you replace it?<o:p></o:p></p>
</div></body></html>"""


def test_outlook_html_only_forward_is_rendered_and_read():
    found = the_forward(mail("FW: Broken widget", html=OUTLOOK_HTML))

    assert (found.sender_email, found.sender_name) == ("jane@customer.example", "Jane Customer")
    assert found.subject == "Broken widget"
    assert found.text == "My widget broke after two days.\nCan you replace it?"
    assert found.note == "Please handle this."


# --------------------------------------------------------------------------------------------------------------------
# Apple Mail, Thunderbird, Yahoo
# --------------------------------------------------------------------------------------------------------------------

APPLE = {
    "en": "Begin forwarded message:\n\nFrom: Jane Customer <jane@customer.example>\nSubject: Broken widget\n"
    "Date: 4 March 2024 at 10:15:32 CET\nTo: support@acme.example",
    "de": 'Anfang der weitergeleiteten Nachricht:\n\nVon: "Jane Customer" <jane@customer.example>\n'
    "Betreff: Broken widget\nDatum: 4. März 2024 um 10:15:32 MEZ\nAn: support@acme.example",
    "fr": "Début du message réexpédié :\n\nDe: Jane Customer <jane@customer.example>\nObjet: Broken widget\n"
    "Date: 4 mars 2024 à 10:15:32 UTC+1\nÀ: support@acme.example",
    "es": "Inicio del mensaje reenviado:\n\nDe: Jane Customer <jane@customer.example>\nAsunto: Broken widget\n"
    "Fecha: 4 de marzo de 2024, 10:15:32 CET\nPara: support@acme.example",
}


@pytest.mark.parametrize("language", APPLE)
def test_apple_mail_forward_in_each_language(language):
    body = f"Sent this to us yesterday.\n\nSent from my iPhone\n\n{APPLE[language]}\n\n{CUSTOMER_TEXT}\n"

    found = the_forward(mail("Fwd: Broken widget", body))

    assert (found.sender_email, found.sender_name) == ("jane@customer.example", "Jane Customer")
    assert found.subject == "Broken widget"
    assert found.text == CUSTOMER_TEXT
    assert found.note == "Sent this to us yesterday."


APPLE_HTML = """<html><body dir="auto">See below.<br><div dir="ltr"><br><blockquote type="cite">Begin forwarded message:
<br><br></blockquote></div><blockquote type="cite"><div dir="ltr"><b>From:</b> Jane Customer
 &lt;jane@customer.example&gt;<br><b>Subject:</b> <b>Broken widget</b><br><b>Date:</b> 4 March 2024 at 10:15:32 CET
<br><b>To:</b> support@acme.example<br></div></blockquote><blockquote type="cite"><div dir="ltr"><br>
<div>My widget broke after two days.</div><div>Can you replace it?</div></div></blockquote></body></html>"""


def test_apple_mail_html_only_forward_is_rendered_and_read():
    found = the_forward(mail("Fwd: Broken widget", html=APPLE_HTML))

    assert (found.sender_email, found.sender_name) == ("jane@customer.example", "Jane Customer")
    assert found.subject == "Broken widget"
    assert found.text == "My widget broke after two days.\nCan you replace it?"
    assert found.note == "See below."


THUNDERBIRD = {
    "en": "-------- Forwarded Message --------\nSubject: \tBroken widget\nDate: \tMon, 4 Mar 2024 10:15:32 +0100\n"
    "From: \tJane Customer <jane@customer.example>\nTo: \tsupport@acme.example",
    "de": "-------- Weitergeleitete Nachricht --------\nBetreff: \tBroken widget\n"
    "Datum: \tMon, 4 Mar 2024 10:15:32 +0100\n"
    "Von: \tJane Customer <jane@customer.example>\nAn: \tsupport@acme.example",
    "fr": "-------- Message transféré --------\nSujet : \tBroken widget\nDate : \tMon, 4 Mar 2024 10:15:32 +0100\n"
    "De : \tJane Customer <jane@customer.example>\nPour : \tsupport@acme.example",
}


@pytest.mark.parametrize("language", THUNDERBIRD)
def test_thunderbird_forward_with_subject_first_and_tabs(language):
    body = f"Another one for the queue.\n\n{THUNDERBIRD[language]}\n\n{CUSTOMER_TEXT}\n"

    found = the_forward(mail("Fwd: Broken widget", body))

    assert (found.sender_email, found.sender_name) == ("jane@customer.example", "Jane Customer")
    assert found.subject == "Broken widget"
    assert found.date == "Mon, 4 Mar 2024 10:15:32 +0100"
    assert found.text == CUSTOMER_TEXT


THUNDERBIRD_HTML = """<html><body><p>Another one for the queue.<br></p><div class="moz-forward-container"><br><br>
-------- Forwarded Message --------<table class="moz-email-headers-table" cellspacing="0" cellpadding="0" border="0">
<tbody><tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">Subject: </th><td>Broken widget</td></tr>
<tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">Date: </th><td>Mon, 4 Mar 2024 10:15:32 +0100</td></tr>
<tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">From: </th><td>Jane Customer
 <a class="moz-txt-link-rfc2396E" href="mailto:jane@customer.example">&lt;jane@customer.example&gt;</a></td></tr>
<tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">To: </th><td>support@acme.example</td></tr></tbody></table>
<br><p>My widget broke after two days.<br>Can you replace it?</p></div></body></html>"""


def test_thunderbird_html_only_forward_with_its_header_table():
    found = the_forward(mail("Fwd: Broken widget", html=THUNDERBIRD_HTML))

    assert (found.sender_email, found.sender_name) == ("jane@customer.example", "Jane Customer")
    assert found.subject == "Broken widget"
    assert found.text == "My widget broke after two days.\nCan you replace it?"


def test_yahoo_forward_with_sent_after_to():
    body = (
        "Please see below.\n\n----- Forwarded Message -----\nFrom: Jane Customer <jane@customer.example>\n"
        "To: Alex Agent <alex@acme.example>\nSent: Monday, March 4, 2024, 10:15:32 AM GMT+1\n"
        f"Subject: Broken widget\n\n{CUSTOMER_TEXT}\n"
    )

    found = the_forward(mail("Fwd: Broken widget", body))

    assert (found.sender_email, found.sender_name) == ("jane@customer.example", "Jane Customer")
    assert found.date == "Monday, March 4, 2024, 10:15:32 AM GMT+1"
    assert found.text == CUSTOMER_TEXT


# --------------------------------------------------------------------------------------------------------------------
# The From value, in every shape a header block writes it
# --------------------------------------------------------------------------------------------------------------------

FROM_VALUES = {
    "name_angle": ("Jane Customer <jane@customer.example>", "Jane Customer"),
    "quoted_name": ('"Jane Customer" <jane@customer.example>', "Jane Customer"),
    "bare_address": ("jane@customer.example", ""),
    "address_as_name": ("jane@customer.example <jane@customer.example>", ""),
    "mailto_brackets": ("Jane Customer [mailto:jane@customer.example]", "Jane Customer"),
    "mailto_angle": ("Jane Customer <mailto:jane@customer.example>", "Jane Customer"),
    "parentheses": ("Jane Customer (jane@customer.example)", "Jane Customer"),
    "upper_case": ("Jane Customer <JANE@Customer.Example>", "Jane Customer"),
    "split_over_two_lines": ("Jane Customer\n<jane@customer.example>", "Jane Customer"),
    "bold_markers_of_a_rendering": ("*Jane Customer* <jane@customer.example>", "Jane Customer"),
}


@pytest.mark.parametrize("shape", FROM_VALUES)
def test_from_value_in_each_shape(shape):
    value, name = FROM_VALUES[shape]
    body = (
        f"---------- Forwarded message ---------\nFrom: {value}\nDate: Mon, Mar 4, 2024 at 10:15 AM\n"
        f"Subject: Broken widget\nTo: <alex@acme.example>\n\n{CUSTOMER_TEXT}\n"
    )

    found = the_forward(mail("Fwd: Broken widget", body))

    assert (found.sender_email, found.sender_name) == ("jane@customer.example", name)
    assert found.text == CUSTOMER_TEXT


def test_wrapped_subject_is_joined():
    body = (
        "FYI\n\n---------- Forwarded message ----------\nFrom: bob@example.com\nDate: Tue, Sep 4, 2012 at 1:35 PM\n"
        "Subject: Two\nline subject\nTo: rob@example.com\n\nText"
    )

    found = the_forward(mail("Fwd: Two line subject", body))

    assert found.subject == "Two line subject"
    assert found.text == "Text"


def test_missing_subject_field_falls_back_to_the_outer_subject_without_prefix():
    body = f"---------- Forwarded message ---------\nFrom: Jane <jane@customer.example>\n\n{CUSTOMER_TEXT}\n"

    found = the_forward(mail("Fwd: WG: Broken widget", body))

    assert found.subject == "Broken widget"


# --------------------------------------------------------------------------------------------------------------------
# Attachments
# --------------------------------------------------------------------------------------------------------------------


def test_inline_forward_keeps_every_attachment_but_an_attached_email():
    original = mail("Other", "other mail", sender="Someone <someone@else.example>")
    msg = mail(
        "Fwd: Broken widget",
        GMAIL_EN,
        attachments=(("photo.jpg", "image/jpeg", b"\xff\xd8jpeg"), ("receipt.pdf", "application/pdf", b"%PDF-1")),
        attached_email=original,
    )
    parsed = parse_email(msg.as_bytes())

    found = find_forward(parsed)

    assert found is not None
    names = [parsed.attachments[i].filename for i in found.attachment_indexes]
    assert names == ["photo.jpg", "receipt.pdf"]


def test_forward_as_attachment_reads_the_attached_email():
    original = mail(
        "Broken widget",
        CUSTOMER_TEXT,
        sender="Jane Customer <jane@customer.example>",
        attachments=(("photo.jpg", "image/jpeg", b"\xff\xd8jpeg"),),
    )
    original["Date"] = "Mon, 04 Mar 2024 10:15:32 +0100"

    found = the_forward(mail("FW: Broken widget", "", attached_email=original))

    assert (found.sender_email, found.sender_name) == ("jane@customer.example", "Jane Customer")
    assert found.subject == "Broken widget"
    assert found.text == CUSTOMER_TEXT
    assert found.date is not None and found.date.startswith("2024-03-04")
    assert found.inner is not None
    assert [a.filename for a in found.inner.attachments] == ["photo.jpg"]
    assert found.attachment_indexes == ()
    assert found.note == ""


def test_forward_as_attachment_with_a_short_note_and_no_prefix():
    original = mail("Broken widget", CUSTOMER_TEXT, sender="Jane Customer <jane@customer.example>")

    found = the_forward(mail("Broken widget", "See the attached mail.\n\nAlex", attached_email=original))

    assert found.sender_email == "jane@customer.example"
    assert found.note.startswith("See the attached mail.")


def test_long_email_that_carries_an_email_as_a_file_is_not_a_forward():
    original = mail("Broken widget", CUSTOMER_TEXT, sender="Jane Customer <jane@customer.example>")
    letter = "\n\n".join(f"Paragraph {i} of a long report about last week's tickets and causes." for i in range(8))

    assert forward_of(mail("Weekly report", letter, attached_email=original)) is None


# --------------------------------------------------------------------------------------------------------------------
# What is not a forward
# --------------------------------------------------------------------------------------------------------------------


def test_plain_reply_with_attribution_and_quotes_is_not_a_forward():
    body = (
        "Thanks, that works.\n\nOn Mon, Mar 4, 2024 at 10:15 AM Jane Customer <jane@customer.example> wrote:\n"
        "> My widget broke after two days.\n> Can you replace it?\n"
    )

    assert forward_of(mail("Re: Broken widget", body)) is None


def test_outlook_reply_with_a_header_block_is_not_a_forward():
    subject, block, *_ = OUTLOOK_BLOCKS["en"]
    body = f"Thanks, that works.\n\n________________________________\n{block}\n\n{CUSTOMER_TEXT}\n"

    assert forward_of(mail("RE: Broken widget", body)) is None
    assert forward_of(mail("RE: FW: Broken widget", body)) is None
    assert forward_of(mail("Broken widget", body)) is None


def test_reply_quoting_a_forward_is_not_a_forward():
    quoted = "\n".join(f"> {line}" if line else ">" for line in GMAIL_EN.splitlines())
    body = f"Done, replaced.\n\nOn Tue, Mar 5, 2024 at 9:00 AM Alex Agent <alex@acme.example> wrote:\n{quoted}\n"

    assert forward_of(mail("Re: Fwd: Broken widget", body)) is None


def test_new_email_without_history_is_not_a_forward():
    assert forward_of(mail("Broken widget", CUSTOMER_TEXT, sender="Jane <jane@customer.example>")) is None


def test_forward_without_a_sender_address_gives_none():
    body = (
        "FYI\n\nFrom: Customer, Jane\nSent: Monday, March 4, 2024 10:15 AM\nTo: Support\nSubject: Broken widget\n\n"
        f"{CUSTOMER_TEXT}\n"
    )

    assert forward_of(mail("FW: Broken widget", body)) is None


DELIVERY_REPORT = b"""From: MAILER-DAEMON@mx.customer.example
To: alex@acme.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example

Final-Recipient: rfc822; jane@customer.example
Action: failed
Status: 5.1.1

--b1
Content-Type: message/rfc822

From: Jane Customer <jane@customer.example>
To: alex@acme.example
Subject: Broken widget

My widget broke after two days.

--b1--
"""


def test_delivery_report_carrying_the_bounced_email_is_not_a_forward():
    assert find_forward(parse_email(DELIVERY_REPORT)) is None


# --------------------------------------------------------------------------------------------------------------------
# Subjects
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Fwd: Broken widget", "Broken widget"),
        ("FW: RE: Broken widget", "Broken widget"),
        ("WG: AW: Bestellung", "Bestellung"),
        ("[EXTERNAL] TR: Facture", "Facture"),
        ("[Fwd: Broken widget]", "Broken widget"),
        ("Fwd[2]: Broken widget", "Broken widget"),
        ("Information: the new prices", "Information: the new prices"),
        ("Broken widget", "Broken widget"),
    ],
)
def test_strip_forward_prefixes(subject, expected):
    assert strip_forward_prefixes(subject) == expected
