"""Trust rules: which verdict headers are believed, what they decide, and which mail a machine sent."""

from pathlib import Path

import pytest

from emailpipe.domain.trust import (
    UNTRUSTED,
    Verdicts,
    authenticated,
    bounced_recipients,
    bounced_recipients_of,
    is_bounce,
    is_bounce_subject,
    is_out_of_office_subject,
    machine_mail_reason,
    machine_reason_of,
    parse_authentication_results,
    ses_block,
    strip_comments,
    trusted_verdicts,
    verdict_outcome,
)
from emailpipe.mail.parse import Attachment, parse_email

SAMPLES = Path(__file__).parent / "trust_samples"

SES_RECEIVED = (
    "Received",
    "from mail.example.com (mail.example.com [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com with SMTP id "
    "q041v1u3p6g5 for reply@help.example.net; Mon, 20 Mar 2023 03:11:44 +0000 (UTC)",
)


def ses_headers(
    auth: str | None = "amazonses.com; spf=pass (spfCheck: ok) client-ip=192.0.2.1; dkim=pass header.i=@example.com; "
    "dmarc=pass header.from=example.com;",
    spam: str = "PASS",
    virus: str = "PASS",
    below: tuple[tuple[str, str], ...] = (),
) -> tuple[tuple[str, str], ...]:
    """A header block in the shape SES writes it, followed by the sender's headers (`below`, then From/Subject)."""
    top = [
        ("Return-Path", "<someone@example.com>"),
        SES_RECEIVED,
        ("X-SES-Spam-Verdict", spam),
        ("X-SES-Virus-Verdict", virus),
        ("Received-SPF", "pass (spfCheck: domain of example.com designates 192.0.2.1) client-ip=192.0.2.1;"),
    ]
    if auth is not None:
        top.append(("Authentication-Results", auth))
    top += [("X-SES-RECEIPT", "AEFBQUFBQUFB"), ("X-SES-DKIM-SIGNATURE", "a=rsa-sha256; d=amazonses.com; b=x")]
    return (*top, *below, ("From", "someone@example.com"), ("Subject", "Re: help"))


def load(name: str):
    return parse_email((SAMPLES / name).read_bytes())


# --- which copy is trusted ---------------------------------------------------------------------------------------


def test_ses_block_verdicts_are_read_and_lower_cased():
    v = trusted_verdicts(ses_headers())
    assert v == Verdicts(spf="pass", dkim="pass", dmarc="pass", spam="pass", virus="pass", source="ses")


def test_forged_lower_dmarc_pass_under_ses_dmarc_fail_is_rejected_as_dmarc_fail():
    forged = (
        ("Authentication-Results", "amazonses.com; spf=pass; dkim=pass; dmarc=pass header.from=example.com"),
        ("X-SES-Spam-Verdict", "PASS"),
    )
    headers = ses_headers(
        auth="amazonses.com; spf=fail client-ip=192.0.2.1; dkim=fail header.i=@example.com; dmarc=fail;",
        spam="FAIL",
        below=forged,
    )
    v = trusted_verdicts(headers)
    assert (v.dmarc, v.spam, v.source) == ("fail", "fail", "ses")
    assert verdict_outcome(v) == ("rejected", "dmarc_fail")


def test_only_a_sender_written_copy_below_the_original_received_chain_is_untrusted():
    headers = (
        ("Received", "from laptop by mail.attacker.test with ESMTPSA id 1"),
        ("Authentication-Results", "amazonses.com; spf=pass; dkim=pass; dmarc=pass"),
        ("X-SES-Spam-Verdict", "PASS"),
        ("X-SES-Virus-Verdict", "PASS"),
        ("From", "a@example.com"),
    )
    assert trusted_verdicts(headers) == UNTRUSTED
    assert trusted_verdicts(headers).source is None


def test_a_forged_copy_right_below_an_ses_block_without_authentication_results_is_not_read():
    forged = (("Authentication-Results", "amazonses.com; dmarc=pass"),)
    v = trusted_verdicts(ses_headers(auth=None, below=forged))
    assert v.dmarc is None
    assert v.spf == "pass"  # from SES's own Received-SPF
    assert v.source == "ses"


def test_sender_headers_directly_below_the_receipt_end_the_block():
    # X-SES-RECEIPT closes the block even when the sender starts its headers with names SES also uses.
    block = ses_block(ses_headers(auth=None, below=(("Received-SPF", "pass"), ("X-SES-Virus-Verdict", "PASS"))))
    assert [name for name, _ in block][-2:] == ["X-SES-RECEIPT", "X-SES-DKIM-SIGNATURE"]
    assert len(block) == 7


def test_a_repeated_verdict_header_ends_the_block_so_the_first_copy_wins():
    headers = (
        ("Return-Path", "<a@example.com>"),
        SES_RECEIVED,
        ("X-SES-Spam-Verdict", "FAIL"),
        ("X-SES-Spam-Verdict", "PASS"),
        ("From", "a@example.com"),
    )
    assert trusted_verdicts(headers).spam == "fail"


def test_a_top_received_not_written_by_ses_means_no_ses_block():
    headers = (
        ("Received", "from x by mx.other.example with SMTP id 1"),
        ("X-SES-Spam-Verdict", "PASS"),
        ("Authentication-Results", "amazonses.com; dmarc=pass"),
    )
    assert ses_block(headers) == ()
    assert trusted_verdicts(headers).source is None


def test_a_second_received_ends_the_block():
    headers = (
        SES_RECEIVED,
        ("Received", "from laptop by mail.example.com"),
        ("Authentication-Results", "amazonses.com; dmarc=pass"),
    )
    assert trusted_verdicts(headers) == UNTRUSTED


def test_authentication_results_of_another_authserv_id_is_ignored_in_the_ses_block():
    v = trusted_verdicts(ses_headers(auth="mx.other.example; dmarc=pass"))
    assert v.dmarc is None


def test_header_names_are_case_insensitive_and_values_may_be_folded():
    headers = (
        ("return-path", "<a@example.com>"),
        ("RECEIVED", SES_RECEIVED[1]),
        ("x-ses-spam-verdict", " Fail "),
        (
            "authentication-results",
            "AmazonSES.com;\r\n spf=pass (spfCheck: x (nested) y);\r\n\tdkim=pass;\n dmarc=FAIL",
        ),
    )
    v = trusted_verdicts(headers)
    assert (v.spf, v.dkim, v.dmarc, v.spam) == ("pass", "pass", "fail", "fail")


def test_a_method_reported_twice_keeps_its_least_favourable_result():
    # SES copies the sender's HELO into the header; a HELO of "x; dmarc=pass" must not outvote the real result.
    _, results = parse_authentication_results("amazonses.com; spf=pass helo=x; dmarc=pass; dkim=fail; dmarc=fail")
    assert results["dmarc"] == "fail"


def test_dkim_passes_when_any_signature_passed():
    _, results = parse_authentication_results("mx.google.com; dkim=fail header.i=@old; dkim=pass header.i=@new")
    assert results["dkim"] == "pass"


def test_authentication_results_without_authserv_id_names_no_trusted_service():
    assert parse_authentication_results("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=x; dmarc=pass") == (None, {})


def test_strip_comments_handles_nesting_and_quotes():
    assert strip_comments('pass (a (b) c) "keep (this)" x').split() == ["pass", '"keep', '(this)"', "x"]


def test_ses_verdicts_from_a_raw_message_ignore_the_forged_copies():
    parsed = load("ses_forged_dmarc_pass.eml")
    v = trusted_verdicts(parsed.headers)
    assert (v.spf, v.dkim, v.dmarc, v.source) == ("fail", "fail", "fail", "ses")
    assert verdict_outcome(v) == ("rejected", "dmarc_fail")
    assert machine_reason_of(parsed) is None


# --- mailbox ingress ---------------------------------------------------------------------------------------------


MAILBOX = (
    ("Delivered-To", "support@example.net"),
    ("Received", "by 2002:a05::1 with SMTP id x"),
    ("Authentication-Results", "mx.internal.example; dmarc=pass"),
    (
        "Authentication-Results",
        "mx.google.com; dkim=pass header.i=@ex.com; spf=softfail; dmarc=fail header.from=ex.com",
    ),
    ("Authentication-Results", "mx.google.com; dkim=pass; spf=pass; dmarc=pass"),
    ("X-SES-Spam-Verdict", "FAIL"),
    ("From", "a@ex.com"),
)


def test_mailbox_ingress_trusts_the_topmost_copy_of_the_configured_authserv_id_only():
    v = trusted_verdicts(MAILBOX, trusted_authserv_ids=("mx.google.com",), ses=False)
    assert v == Verdicts(spf="softfail", dkim="pass", dmarc="fail", spam=None, virus=None, source="mailbox")


def test_mailbox_ingress_with_an_unconfigured_authserv_id_is_untrusted():
    assert trusted_verdicts(MAILBOX, trusted_authserv_ids=("mx.fastmail.example",), ses=False) == UNTRUSTED


def test_mailbox_ingress_never_trusts_ses_headers():
    assert trusted_verdicts(MAILBOX, ses=False) == UNTRUSTED


def test_mailbox_ingress_from_a_raw_message():
    parsed = load("gmail_imap_auto_reply.eml")
    v = trusted_verdicts(parsed.headers, trusted_authserv_ids=("mx.google.com",), ses=False)
    assert (v.spf, v.dkim, v.dmarc, v.source) == ("pass", "pass", "pass", "mailbox")
    assert trusted_verdicts(parsed.headers).source is None  # read as SES mail, nothing is trusted
    assert machine_reason_of(parsed) == "auto_submitted"


# --- decisions ---------------------------------------------------------------------------------------------------


def test_clean_mail_is_accepted():
    assert verdict_outcome(trusted_verdicts(ses_headers())) is None


def test_virus_fail_is_rejected():
    assert verdict_outcome(trusted_verdicts(ses_headers(virus="FAIL"))) == ("rejected", "virus")


def test_spam_fail_is_quarantined_and_accepted_when_the_setting_is_off():
    v = trusted_verdicts(ses_headers(spam="FAIL"))
    assert verdict_outcome(v) == ("quarantined", "spam")
    assert verdict_outcome(v, quarantine_spam=False) is None


def test_spam_gray_and_processing_failed_are_accepted():
    assert verdict_outcome(trusted_verdicts(ses_headers(spam="GRAY", virus="PROCESSING_FAILED"))) is None
    assert trusted_verdicts(ses_headers(virus="PROCESSING_FAILED")).virus == "processing_failed"


def test_require_pass_with_no_verdict_is_rejected():
    assert verdict_outcome(UNTRUSTED, require_pass=True) == ("rejected", "authentication_required")
    assert verdict_outcome(UNTRUSTED) is None


def test_require_pass_accepts_dmarc_pass_or_spf_and_dkim_without_dmarc():
    assert verdict_outcome(Verdicts(dmarc="pass", source="ses"), require_pass=True) is None
    assert verdict_outcome(Verdicts(spf="pass", dkim="pass", dmarc="none", source="ses"), require_pass=True) is None
    assert verdict_outcome(Verdicts(spf="pass", dkim="pass", source="mailbox"), require_pass=True) is None


@pytest.mark.parametrize(
    "verdicts",
    [
        Verdicts(spf="pass", dkim=None, dmarc="none", source="ses"),
        Verdicts(spf="pass", dkim="pass", dmarc="temperror", source="ses"),
        Verdicts(spf="softfail", dkim="pass", source="ses"),
        Verdicts(spam="pass", virus="pass", source="ses"),
    ],
)
def test_require_pass_rejects_anything_short_of_a_pass(verdicts):
    assert not authenticated(verdicts)
    assert verdict_outcome(verdicts, require_pass=True) == ("rejected", "authentication_required")


def test_rejection_outranks_the_spam_quarantine():
    v = Verdicts(spam="fail", dmarc="fail", source="ses")
    assert verdict_outcome(v) == ("rejected", "dmarc_fail")
    assert verdict_outcome(Verdicts(spam="fail", source="ses"), require_pass=True) == (
        "rejected",
        "authentication_required",
    )


# --- machine mail: headers ---------------------------------------------------------------------------------------

HUMAN = (("From", "jane@example.com"), ("Subject", "Re: help"))


def reason(*headers: tuple[str, str], subject: str = "Re: help", sender: str | None = "jane@example.com", ct=None):
    return machine_mail_reason((*HUMAN, *headers), subject, sender, ct)


def test_a_persons_reply_is_not_machine_mail():
    assert reason() is None
    assert reason(("Auto-Submitted", "no")) is None
    assert reason(("Auto-Submitted", "No (sent by a person)")) is None


@pytest.mark.parametrize(
    "value", ["auto-replied", "auto-generated", "auto-notified", "auto-replied (vacation)", "AUTO"]
)
def test_auto_submitted_other_than_no_is_machine_mail(value):
    assert reason(("auto-submitted", value)) == "auto_submitted"


@pytest.mark.parametrize("value", ["bulk", "junk", "list", "Bulk (newsletter)"])
def test_precedence_bulk_junk_list(value):
    assert reason(("Precedence", value)) == "precedence_bulk"


def test_precedence_first_class_is_a_person():
    assert reason(("Precedence", "first-class")) is None


@pytest.mark.parametrize(
    "header",
    [
        ("X-Autoreply", "yes"),
        ("X-Autorespond", "Out of office"),
        ("X-AutoReply-From", "jane@example.com"),
        ("X-Mail-Autoreply", "1"),
        ("X-Autogenerated", "Reply"),
        ("X-POST-MessageClass", "9; Autoresponder"),
        ("X-FC-MachineGenerated", "true"),
        ("X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent"),
        ("Precedence", "auto_reply"),
    ],
)
def test_autoreply_headers(header):
    assert reason(header) == "autoreply_header"


@pytest.mark.parametrize(
    "header",
    [
        ("X-Autoreply", "no"),
        ("X-Auto-Response-Suppress", "All"),  # asks others not to auto-reply; set on ordinary mail
        ("X-MS-Exchange-Inbox-Rules-Loop", "jane@example.com"),  # also on mail a rule merely forwarded
        ("List-Id", "<team.customer.example>"),  # a group relays people's own replies
        ("List-Unsubscribe", "<mailto:unsubscribe@customer.example>"),
    ],
)
def test_headers_that_do_not_make_mail_automatic(header):
    assert reason(header) is None


def test_null_return_path_is_machine_mail_but_only_the_topmost_copy_counts():
    assert machine_mail_reason((("Return-Path", "<>"), *HUMAN), "Re: help", "jane@example.com") == ("null_return_path")
    lower_forged = (("Return-Path", "<jane@example.com>"), *HUMAN, ("Return-Path", "<>"))
    assert machine_mail_reason(lower_forged, "Re: help", "jane@example.com") is None


# --- machine mail: bounces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/report; report-type=delivery-status; boundary=x",
        'Multipart/Report; boundary="x"; report-type="Delivery-Status"',
        "multipart/report; boundary=x",
    ],
)
def test_delivery_status_report_is_a_bounce(content_type):
    assert reason(("Content-Type", content_type)) == "bounce"
    assert is_bounce((*HUMAN, ("Content-Type", content_type)), "Re: help", "jane@example.com")


def test_content_type_argument_without_params_takes_them_from_the_header():
    headers = (*HUMAN, ("Content-Type", "multipart/report; report-type=disposition-notification; boundary=x"))
    assert machine_mail_reason(headers, "Read: help", "jane@example.com", "multipart/report") == "report"
    assert machine_mail_reason(HUMAN, "Re: help", "jane@example.com", "multipart/report; report-type=delivery-status")


def test_other_reports_are_machine_mail_but_not_bounces():
    ct = ("Content-Type", "multipart/report; report-type=feedback-report; boundary=x")
    assert reason(ct) == "report"
    assert not is_bounce((*HUMAN, ct), "Re: help", "jane@example.com")


@pytest.mark.parametrize(
    "sender",
    ["MAILER-DAEMON@mx.example.org", "mailer-daemon@googlemail.com", "postmaster@outlook.com", "MAILER-DAEMON"],
)
def test_bounce_senders(sender):
    assert reason(sender=sender) == "bounce"


def test_exchange_ndr_sender_and_headers_are_bounces():
    assert reason(sender="MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@customer.example") == "bounce"
    assert reason(("X-Failed-Recipients", "gone@example.org")) == "bounce"
    assert reason(("X-MS-Exchange-Message-Is-Ndr", "")) == "bounce"


@pytest.mark.parametrize(
    "subject",
    [
        "Undelivered Mail Returned to Sender",
        "Delivery Status Notification (Failure)",
        "Delivery Status Notification (Delay)",
        "Mail delivery failed: returning message to sender",
        "Undeliverable: Re: Your chat",
        "Returned mail: see transcript for details",
        "failure notice",
        "Unzustellbar: Re: Ihr Chat",
        "Non remis : Re: votre chat",
    ],
)
def test_bounce_subjects(subject):
    assert is_bounce_subject(subject)
    assert reason(subject=subject) == "bounce"


@pytest.mark.parametrize(
    "subject",
    ["Re: Undeliverable: Re: Your chat", "Fwd: Undelivered Mail Returned to Sender", "Undeliverable packages", ""],
)
def test_subjects_about_delivery_written_by_people_are_not_bounces(subject):
    assert not is_bounce_subject(subject)
    assert reason(subject=subject) is None


def test_bounce_comes_before_auto_submitted():
    assert reason(("Auto-Submitted", "auto-replied"), subject="Undelivered Mail Returned to Sender") == "bounce"


def test_bounce_from_a_raw_ses_message_and_its_failed_recipients():
    parsed = load("ses_postfix_bounce.eml")
    assert machine_reason_of(parsed) == "bounce"
    assert is_bounce(parsed.headers, parsed.subject, parsed.sender.email)
    # Only the Action: failed recipient, as originally addressed (lower-cased); the delayed one is not dead.
    assert bounced_recipients_of(parsed) == ("gone@example.org",)
    assert trusted_verdicts(parsed.headers).source == "ses"


def test_bounced_recipients_from_x_failed_recipients_and_global_dsn():
    dsn = "Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: utf-8; Jürgen@bücher.example\r\nAction: Failed\r\n".encode()
    part = Attachment("dsn.txt", "message/global-delivery-status", dsn, "x", len(dsn), None, False)
    headers = (("X-Failed-Recipients", "a@example.org, <B@Example.org>"),)
    assert bounced_recipients(headers, [part]) == ("jürgen@bücher.example", "a@example.org", "b@example.org")


def test_bounced_recipients_of_ordinary_mail_is_empty():
    assert bounced_recipients(HUMAN) == ()


# --- machine mail: out-of-office subjects ------------------------------------------------------------------------

OOO_SUBJECTS = {
    "en": ["Out of Office", "Out of office: Re: help", "Automatic reply: Re: help", "Autoreply", "Auto-Reply: x"],
    "de": ["Abwesenheitsnotiz: Re: Hilfe", "Automatische Antwort: Re: Hilfe"],
    "fr": ["Réponse automatique : Re: aide", "Absence", "Réponse automatique d'absence du bureau: Re: aide"],
    "es": ["Respuesta automática: Re: ayuda", "Fuera de la oficina", "Ausente: Re: ayuda"],
    "it": ["Risposta automatica: Re: aiuto", "Fuori sede"],
    "pt": ["Resposta automática: Re: ajuda", "Ausente"],
    "nl": ["Afwezig", "Automatisch antwoord: Re: hulp"],
    "pl": ["Odpowiedź automatyczna: Re: pomoc", "Poza biurem"],
    "ru": ["Автоматический ответ: Re: помощь", "Нет на месте"],
    "uk": ["Автовідповідь: Re: допомога", "Автоматична відповідь: Re: допомога"],
    "sv": ["Frånvaro", "Automatiskt svar: Re: hjälp"],
    "no": ["Fravær: Re: hjelp", "Automatisk svar: Re: hjelp", "Ikke på kontoret"],
    "da": ["Automatisk svar: Re: hjælp", "Ikke på kontoret: Re: hjælp", "Fravær"],
    "fi": ["Poissa", "Automaattinen vastaus: Re: apua"],
    "zh": ["自动回复: Re: 帮助", "自动回复：帮助"],
    "ja": ["自動応答: Re: お問い合わせ", "【自動返信】お問い合わせ", "不在", "不在のお知らせ"],
}


@pytest.mark.parametrize(
    ("language", "subject"), [(lang, subject) for lang, subjects in OOO_SUBJECTS.items() for subject in subjects]
)
def test_out_of_office_subjects(language, subject):
    assert is_out_of_office_subject(subject), language
    assert reason(subject=subject) == "out_of_office"


@pytest.mark.parametrize(
    "subject",
    [
        "RE: Out of Office: Re: help",
        "AW: Abwesenheitsnotiz",
        "SV: Automatiskt svar",
        "[Out of Office] Re: help",
        "OUT  OF   OFFICE",
        "Out of office until Monday 12 May",
        "Jane Doe is out of the office (returning 05/05/2025)",
        "Re\u0301ponse automatique : aide",  # decomposed accent
    ],
)
def test_out_of_office_subject_variants(subject):
    assert is_out_of_office_subject(subject)


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Out of office hours support?",  # a question about support hours
        "Out of office?",
        "Out of office today?",
        "Question about my absence",
        "Re: my absence from the meeting",
        "Absence from the meeting",
        "Automatic reply feature request",
        "Autoreply settings do not work",
        "Poissa olevat tuotteet",  # "out of stock items"
        "不在着信について",  # "about a missed call"
        "Fwd: Automatic reply: Re: help",  # a person forwarding an auto-reply to support
        "Re: help",
        "",
    ],
)
def test_human_subjects_are_not_out_of_office(subject):
    assert not is_out_of_office_subject(subject)
    assert reason(subject=subject) is None


def test_an_out_of_office_subject_alone_is_enough():
    # No Auto-Submitted, no autoreply header: a subject that starts with the phrase still counts.
    assert machine_mail_reason(HUMAN, "Automatic reply: Re: help", "jane@example.com") == "out_of_office"


def test_auto_submitted_is_reported_before_out_of_office():
    assert reason(("Auto-Submitted", "auto-replied"), subject="Out of Office") == "auto_submitted"
