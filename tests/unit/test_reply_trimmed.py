"""The trimmed part of an email ("show the rest of this email"), and forwards that are never trimmed as history."""

from __future__ import annotations

import time

import pytest

from emailpipe.domain.reply import DELIMITER, Extracted, extract_from_message, extract_parts

GMAIL_REPLY = """Thanks, the new invoice looks right.

On Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> wrote:
> Hi,
> please find the corrected invoice attached.
> Best, Jane
"""


def test_quoted_history_is_the_trimmed_part():
    parts = extract_parts(GMAIL_REPLY, None)

    assert parts.reply == "Thanks, the new invoice looks right."
    assert parts.trimmed == (
        "On Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> wrote:\n"
        "> Hi,\n> please find the corrected invoice attached.\n> Best, Jane"
    )


def test_signature_is_in_the_trimmed_part():
    body = "I will pay it on Friday.\n\n-- \nBob Smith\nAccounts, Example Ltd\n+44 20 7946 0000\n"

    parts = extract_parts(body, None)

    assert parts.reply == "I will pay it on Friday."
    assert parts.trimmed == "--\nBob Smith\nAccounts, Example Ltd\n+44 20 7946 0000"


def test_what_sat_below_the_delimiter_is_trimmed_without_the_delimiter_line():
    body = f"Yes, please go ahead.\n\n{DELIMITER}\n\nAlex (Acme Support) wrote:\nYour replacement ships today.\n"

    parts = extract_parts(body, None)

    assert parts.reply == "Yes, please go ahead."
    assert parts.trimmed == "Alex (Acme Support) wrote:\nYour replacement ships today."
    assert DELIMITER not in parts.trimmed


def test_quoted_delimiter_is_left_out_of_the_trimmed_part():
    body = (
        "Yes, please go ahead.\n\nOn Tue, Mar 5, 2024 at 9:14 AM Acme Support <support@acme.example> wrote:\n"
        f"> {DELIMITER}\n>\n> Your replacement ships today.\n"
    )

    parts = extract_parts(body, None)

    assert parts.reply == "Yes, please go ahead."
    assert "Please type your reply" not in parts.trimmed
    assert "> Your replacement ships today." in parts.trimmed


def test_with_delimiter_off_the_delimiter_line_is_not_special():
    body = f"Yes.\n\n{DELIMITER}\n\nbelow\n"

    parts = extract_parts(body, None, delimiter=False)

    assert parts.reply == extract_from_message(body, None, delimiter=False)
    assert parts.trimmed == ""


def test_nothing_cut_gives_an_empty_trimmed_part():
    body = "Hello,\n\nmy order 1234 has not arrived yet.\n\nThank you!"

    assert extract_parts(body, None) == Extracted(reply=extract_from_message(body, None), trimmed="")
    assert extract_parts(None, None) == Extracted(reply="", trimmed="")
    assert extract_parts("  \n", "") == Extracted(reply="", trimmed="")


def test_interleaved_answers_keep_the_quotes_apart_in_the_trimmed_part():
    body = (
        "On Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> wrote:\n> Can you ship on Monday?\n\n"
        "Yes, Monday works.\n\n> And the invoice?\n\nIt is attached.\n"
    )

    parts = extract_parts(body, None)

    assert parts.reply == extract_from_message(body, None)
    assert "Yes, Monday works." in parts.reply and "It is attached." in parts.reply
    assert "Yes, Monday works." not in parts.trimmed
    assert "> Can you ship on Monday?\n\n> And the invoice?" in parts.trimmed


def test_reply_sharing_its_line_with_the_quote_header():
    body = "Sure thing On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:\n> Can you call me?\n"

    parts = extract_parts(body, None)

    assert parts.reply == "Sure thing"
    assert parts.trimmed == "On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:\n> Can you call me?"


GMAIL_HTML_REPLY = """<div dir="ltr">Thanks, the new invoice looks right.</div><br><div class="gmail_quote">
<div dir="ltr" class="gmail_attr">On Tue, Mar 5, 2024 at 9:14 AM Jane Doe &lt;jane@example.com&gt; wrote:<br></div>
<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">Hi,<br>please find the corrected invoice attached.
</blockquote></div>"""


def test_html_quote_block_is_the_trimmed_part():
    parts = extract_parts(None, GMAIL_HTML_REPLY)

    assert parts.reply == "Thanks, the new invoice looks right."
    assert "On Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> wrote:" in parts.trimmed
    assert "please find the corrected invoice attached." in parts.trimmed
    assert "Thanks, the new invoice" not in parts.trimmed


OUTLOOK_HTML_REPLY = """<html><body><p class="MsoNormal">Paid today.</p>
<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">
<p class="MsoNormal"><b>From:</b> Jane Doe &lt;jane@example.com&gt;<br><b>Sent:</b> Tuesday, March 5, 2024 9:14 AM
<br><b>To:</b> Bob &lt;bob@example.com&gt;<br><b>Subject:</b> Invoice</p></div>
<p class="MsoNormal">Please pay the invoice.</p></body></html>"""


def test_html_outlook_history_after_the_divider_is_the_trimmed_part():
    parts = extract_parts(None, OUTLOOK_HTML_REPLY)

    assert parts.reply == "Paid today."
    assert parts.trimmed.startswith("From: Jane Doe <jane@example.com>")
    assert parts.trimmed.endswith("Please pay the invoice.")


REPLIES = {
    "gmail": (GMAIL_REPLY, None),
    "gmail_html": (None, GMAIL_HTML_REPLY),
    "outlook_html": (None, OUTLOOK_HTML_REPLY),
    "text_and_html": (GMAIL_REPLY, GMAIL_HTML_REPLY),
    "german": ("Danke!\n\nAm 05.03.24 um 09:14 schrieb Jane Doe:\n> Hallo\n", None),
    "mobile_signature": ("Ok, see you.\n\nSent from my iPhone\n\n> On 5 Mar 2024, at 09:14, J wrote:\n> Hi\n", None),
    "delimiter": (f"Fine.\n{DELIMITER}\nold text\n", None),
    "bare_forward": ("---------- Forwarded message ---------\nFrom: a@b.example\n\nText\n", None),
}


@pytest.mark.parametrize("case", REPLIES)
@pytest.mark.parametrize("delimiter", [True, False])
def test_reply_is_exactly_what_extract_from_message_returns(case, delimiter):
    text, html = REPLIES[case]

    assert extract_parts(text, html, delimiter=delimiter).reply == extract_from_message(text, html, delimiter=delimiter)


@pytest.mark.parametrize("case", REPLIES)
def test_reply_and_trimmed_together_hold_every_line_of_the_body(case):
    text, html = REPLIES[case]
    if text is None:
        return  # an HTML body's lines depend on its rendering; the cases above check them
    parts = extract_parts(text, html)
    held = set((parts.reply + "\n" + parts.trimmed).split("\n"))

    for line in text.split("\n"):
        if line.strip() and line.strip() != DELIMITER:
            assert line.strip() in held, line


def test_trimmed_part_costs_one_more_pass_not_a_second_extraction():
    history = "".join(f"> line {i} of a long quoted thread with some words in it\n" for i in range(15_000))
    body = "Short answer.\n\nOn Tue, Mar 5, 2024 at 9:14 AM Jane Doe <jane@example.com> wrote:\n" + history

    started = time.process_time()
    parts = extract_parts(body, None)
    elapsed = time.process_time() - started

    assert parts.reply == "Short answer."
    assert parts.trimmed.count("\n") == 15_000
    assert elapsed < 1.0


# --------------------------------------------------------------------------------------------------------------------
# A forward is content, never quoted history
# --------------------------------------------------------------------------------------------------------------------

OUTLOOK_FORWARD = """Please see the customer's email below.

________________________________
From: Jane Customer <jane@customer.example>
Sent: Monday, March 4, 2024 10:15 AM
To: Support <support@acme.example>
Subject: Broken widget

My widget broke after two days.
"""


@pytest.mark.parametrize("subject", ["FW: Broken widget", "WG: Broken widget", "TR: Broken widget", "RV: x", "I: x"])
def test_outlook_forward_is_kept_whole_when_the_subject_says_forward(subject):
    parts = extract_parts(OUTLOOK_FORWARD, None, subject=subject)

    assert parts.reply == OUTLOOK_FORWARD.strip()
    assert parts.trimmed == ""
    assert extract_from_message(OUTLOOK_FORWARD, None, subject=subject) == parts.reply


@pytest.mark.parametrize("subject", [None, "RE: Broken widget", "AW: Broken widget", "RE: FW: Broken widget"])
def test_outlook_reply_with_the_same_block_is_trimmed(subject):
    parts = extract_parts(OUTLOOK_FORWARD, None, subject=subject)

    assert parts.reply == "Please see the customer's email below."
    assert "My widget broke after two days." in parts.trimmed


OUTLOOK_FORWARD_HTML = """<html><body><p class="MsoNormal">Please see the customer's email below.</p>
<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">
<p class="MsoNormal"><b>From:</b> Jane Customer &lt;jane@customer.example&gt;<br><b>Sent:</b> Monday, March 4, 2024
<br><b>To:</b> Support &lt;support@acme.example&gt;<br><b>Subject:</b> Broken widget</p></div>
<p class="MsoNormal">My widget broke after two days.</p></body></html>"""


def test_outlook_html_forward_is_not_trimmed_as_history():
    text = extract_from_message(None, OUTLOOK_FORWARD_HTML, subject="FW: Broken widget")

    assert "My widget broke after two days." in text
    assert text.startswith("Please see the customer's email below.")


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",
        "-------- Forwarded Message --------",
        "-------- Weitergeleitete Nachricht --------",
        "----- Forwarded Message -----",
        "Begin forwarded message:",
        "Anfang der weitergeleiteten Nachricht:",
        "Inicio del mensaje reenviado:",
        "Début du message réexpédié :",
    ],
)
def test_forward_markers_keep_the_forward_whatever_the_subject(marker):
    body = f"FYI\n\n{marker}\n\nFrom: Jane Customer <jane@customer.example>\nSubject: Broken widget\n\nIt broke.\n"

    parts = extract_parts(body, None)

    assert parts.reply == body.strip()
    assert parts.trimmed == ""
