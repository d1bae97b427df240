"""Issue 12's pure rules: invisible characters, alignment, staff replies, bounce evidence, duplicates, rate keys."""

from __future__ import annotations

import json

import pytest

from emailpipe.domain import trust
from emailpipe.domain.bounces import BounceEvidence
from emailpipe.domain.names import clean_name, is_clean_name
from emailpipe.domain.trust import (
    UNALIGNED,
    Verdicts,
    aligned,
    authenticated,
    bounce_references,
    domain_listed,
    organizational_domain,
    staff_reply_outcome,
    trusted_verdicts,
    verdict_outcome,
)
from emailpipe.inbound.logic import email_key, rate_sender
from emailpipe.mail.parse import parse_email, sanitize_filename
from emailpipe.notifier.feedback import feedback_from_ses

INVISIBLE = "\u2028\u2029\u200b\ufeff\u202e\u0000\u0007\u00ad\u2066"

# --- 10. invisible characters --------------------------------------------------------------------------------


@pytest.mark.parametrize("char", list(INVISIBLE))
def test_each_control_format_and_separator_character_is_cleaned_out_of_names(char):
    assert is_clean_name(clean_name(f"Ann{char}a Smith"))
    assert clean_name(f"Ann{char}a Smith") in ("Anna Smith", "Ann a Smith")


def test_printable_names_are_unchanged_and_separators_become_one_space():
    assert clean_name("Zoë Ł. 王") == "Zoë Ł. 王"
    assert clean_name("Line\u2028Two\u2029\u2029Three") == "Line Two Three"
    assert clean_name("\ufeff\u200b") == ""


def test_attachment_file_names_lose_invisible_characters():
    assert sanitize_filename("in\u200bvoice\ufeff.pdf", "application/pdf", 1) == "invoice.pdf"
    assert sanitize_filename("\u202egpj.exe", "application/octet-stream", 1) == "gpj.exe"
    assert sanitize_filename("\u200b\ufeff", "application/pdf", 3) == "attachment-3.pdf"


def test_parsed_display_names_and_filenames_hold_no_invisible_character():
    raw = (
        "From: =?utf-8?b?" + _b64("Eve\u2028Admin\u200b\ufeff") + "?= <eve@example.com>\r\n"
        "To: support@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n'
        "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=utf-8''"
        "re%E2%80%8Bport%E2%80%A8%EF%BB%BF.pdf\r\n\r\nPDF\r\n--b--\r\n"
    ).encode()

    parsed = parse_email(raw)

    assert parsed.sender.name == "Eve Admin"
    assert [a.filename for a in parsed.attachments] == ["report.pdf"]


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


# --- 2. alignment ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "organization"),
    [
        ("example.com", "example.com"),
        ("mail.eu.example.com", "example.com"),
        ("shop.example.co.uk", "example.co.uk"),
        ("example.com.au", "example.com.au"),
        ("a.b.example.co.jp", "example.co.jp"),
        ("Example.COM.", "example.com"),
        ("localhost", "localhost"),
    ],
)
def test_organizational_domain(domain, organization):
    assert organizational_domain(domain) == organization


def test_relaxed_alignment_is_same_organization_only():
    assert aligned("bounces.example.com", "example.com")
    assert not aligned("example.co.uk", "other.co.uk")
    assert not aligned("attacker.example", "example.com")
    assert not aligned(None, "example.com")


SES_TOP = (
    ("Return-Path", "<x@example.com>"),
    (
        "Received",
        "from mail.example.com (mail.example.com [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com with SMTP id q",
    ),
    ("X-SES-Spam-Verdict", "PASS"),
    ("X-SES-Virus-Verdict", "PASS"),
)


def ses(auth: str, received_spf: str = "pass (spfCheck: ok) client-ip=192.0.2.1;") -> tuple[tuple[str, str], ...]:
    return (
        *SES_TOP,
        ("Received-SPF", received_spf),
        ("Authentication-Results", auth),
        ("X-SES-RECEIPT", "AEFB"),
        ("X-SES-DKIM-SIGNATURE", "a=rsa-sha256; d=amazonses.com; b=x"),
        ("From", "carol@customer.example"),
    )


def test_a_dmarc_pass_for_another_domain_than_the_froms_does_not_count():
    headers = ses(
        "amazonses.com; spf=pass smtp.mailfrom=x@attacker.example; dkim=pass header.d=attacker.example;"
        " dmarc=pass header.from=attacker.example"
    )

    unaligned = trusted_verdicts(headers, from_domain="customer.example")
    legacy = trusted_verdicts(headers)

    assert (unaligned.spf, unaligned.dkim, unaligned.dmarc) == (UNALIGNED, UNALIGNED, UNALIGNED)
    assert not authenticated(unaligned)
    assert authenticated(legacy)  # without the From domain every pass counted: the hole
    assert verdict_outcome(unaligned, require_pass=True) == ("rejected", "authentication_required")


def test_passes_for_the_from_domain_and_its_subdomains_count():
    headers = ses(
        "amazonses.com; spf=pass (spfCheck: ok) client-ip=192.0.2.1; envelope-from=b@bounce.customer.example;"
        " helo=mx.customer.example; dkim=pass header.i=@customer.example; dmarc=pass header.from=customer.example"
    )

    v = trusted_verdicts(headers, from_domain="customer.example")

    assert (v.spf, v.dkim, v.dmarc) == ("pass", "pass", "pass")
    assert authenticated(v)


def test_one_aligned_dkim_signature_among_others_passes():
    headers = ses("amazonses.com; dkim=pass header.d=esp.example; dkim=pass header.d=customer.example; spf=none")
    assert trusted_verdicts(headers, from_domain="customer.example").dkim == "pass"


def test_received_spf_alone_is_aligned_on_its_envelope_from():
    headers = ses("amazonses.com; dkim=none", "pass (ok) client-ip=192.0.2.1; envelope-from=a@attacker.example;")
    assert trusted_verdicts(headers, from_domain="customer.example").spf == UNALIGNED


def test_spf_fail_and_dkim_fail_without_dmarc_is_quarantined():
    headers = ses(
        "amazonses.com; spf=fail smtp.mailfrom=carol@customer.example; dkim=fail header.d=customer.example;"
        " dmarc=none header.from=customer.example"
    )

    v = trusted_verdicts(headers, from_domain="customer.example")

    assert verdict_outcome(v) == ("quarantined", "spf_dkim_fail")
    assert verdict_outcome(Verdicts(spf="fail", dkim=UNALIGNED, source="ses")) == ("quarantined", "spf_dkim_fail")
    assert verdict_outcome(Verdicts(spf="fail", dkim="pass", source="ses")) is None  # a forwarder, signed
    assert verdict_outcome(Verdicts(spf="fail", dkim="fail", dmarc="fail", source="ses")) == ("rejected", "dmarc_fail")
    assert verdict_outcome(Verdicts()) is None  # no verdict at all: nothing failed


def test_a_staff_reply_needs_an_aligned_pass_unless_its_domain_is_relaxed():
    unaligned = Verdicts(spf=UNALIGNED, dkim=UNALIGNED, dmarc=UNALIGNED, source="ses")
    passed = Verdicts(spf="pass", dkim="pass", dmarc="pass", source="ses")

    assert staff_reply_outcome(unaligned, "agents.example") == "staff_not_authenticated"
    assert staff_reply_outcome(unaligned, "eu.agents.example", "other.example, agents.example") is None
    assert staff_reply_outcome(passed, "agents.example") is None
    assert staff_reply_outcome(Verdicts(), "agents.example") is None  # nothing to check: require_authentication's
    assert not domain_listed("evilagents.example", "agents.example")


def test_several_from_mailboxes_or_headers_are_counted():
    one = parse_email(b"From: a@x.example\r\nTo: s@y.example\r\nSubject: s\r\n\r\nhi\r\n")
    two = parse_email(b"From: a@x.example, b@z.example\r\nTo: s@y.example\r\nSubject: s\r\n\r\nhi\r\n")
    headers = parse_email(b"From: a@x.example\r\nFrom: b@z.example\r\nTo: s@y.example\r\nSubject: s\r\n\r\nhi\r\n")

    assert (one.from_count, two.from_count, headers.from_count) == (1, 2, 2)
    assert two.sender.email == "a@x.example"


# --- 1. bounce evidence ----------------------------------------------------------------------------------------

TOKEN = "a" * 12 + "b" * 20


def _bounce(extra_part: str = "", headers: str = "") -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example\r\nTo: support@example.com\r\n{headers}Subject: Undeliverable\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; carol@customer.example\r\nAction: failed\r\n"
        f"Status: 5.1.1\r\n{extra_part}--b--\r\n"
    ).encode()


def test_a_bounce_quoting_nothing_of_ours_has_no_references():
    assert bounce_references(parse_email(_bounce()), "support@example.com") == ((), ())


def test_a_bounce_quoting_our_notification_headers_gives_its_message_id_and_token():
    returned = (
        f'--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: "AiX| {TOKEN}" <support@example.com>\r\n'
        f"Reply-To: support+{TOKEN}@example.com\r\nMessage-ID: <{TOKEN}.0123abcd@example.com>\r\n\r\n"
    )

    message_ids, tokens = bounce_references(parse_email(_bounce(returned)), "support@example.com")

    assert message_ids == (f"<{TOKEN}.0123abcd@example.com>",)
    assert tokens == (TOKEN,)


def test_a_bounce_threaded_on_our_message_id_gives_it():
    parsed = parse_email(_bounce(headers=f"In-Reply-To: <{TOKEN}.ff@example.com>\r\n"))
    assert bounce_references(parsed, "support@example.com")[0] == (f"<{TOKEN}.ff@example.com>",)


def test_message_ids_of_other_domains_are_not_ours():
    parsed = parse_email(_bounce(headers=f"In-Reply-To: <{TOKEN}.ff@example.com.attacker.example>\r\n"))
    assert bounce_references(parsed, "support@example.com") == ((), ())


def test_ses_feedback_carries_its_evidence_and_deliveries_are_read():
    bounce = {
        "notificationType": "Bounce",
        "mail": {"messageId": "ses-1", "commonHeaders": {"messageId": "<t.1@example.com>"}},
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "feedbackId": "fb-1",
            "timestamp": "2026-12-01T10:00:00.000Z",
            "bouncedRecipients": [{"emailAddress": "Carol@Customer.example"}],
        },
    }
    delivery = {
        "notificationType": "Delivery",
        "mail": {"messageId": "ses-2"},
        "delivery": {"timestamp": "2026-12-02T10:00:00.000Z", "recipients": ["carol@customer.example"]},
    }

    [marked] = feedback_from_ses(json.dumps(bounce))
    [delivered] = feedback_from_ses(delivery)

    assert (marked.address, marked.kind, marked.ses_message_id, marked.feedback_id, marked.status) == (
        "carol@customer.example",
        "bounce",
        "ses-1",
        "fb-1",
        "Permanent/General",
    )
    assert marked.mail_message_id == "<t.1@example.com>"
    assert (delivered.kind, delivered.ses_message_id) == ("delivery", "ses-2")
    assert delivered.at > marked.at


def test_bounce_evidence_round_trips_through_its_stored_map():
    evidence = BounceEvidence(source="inbound_report", marked_at=12.5, notification_message_id="<m@x>")
    stored = evidence.cleared(20.0, "delivery", "ses-2").as_dict()

    again = BounceEvidence.from_dict(stored)

    assert again == evidence.cleared(20.0, "delivery", "ses-2")
    assert "report_s3_key" not in stored


# --- 6. duplicates and 8. rate keys ----------------------------------------------------------------------------


def test_the_same_email_has_one_key_and_mail_without_a_message_id_has_none():
    assert email_key("Carol@customer.example", "<m1@x>") == email_key("carol@customer.example", " <m1@x> ")
    assert email_key("carol@customer.example", "<m1@x>") != email_key("dave@customer.example", "<m1@x>")
    assert email_key("carol@customer.example", None) is None
    assert email_key("carol@customer.example", "  ") is None


def test_plus_tags_and_case_do_not_make_a_new_sender():
    assert rate_sender("Spam+1@Example.com") == rate_sender("spam+2@example.com") == "spam@example.com"
    assert rate_sender("plain@example.com") == "plain@example.com"


@pytest.mark.parametrize(
    ("verdicts", "unproven"),
    [
        (trust.Verdicts(spf="softfail", dkim="none", dmarc="none", source="ses"), True),
        (trust.Verdicts(spf="fail", dkim=None, dmarc=None, source="ses"), True),
        (trust.Verdicts(spf="softfail", dkim="pass", dmarc="none", source="ses"), False),  # signed by the domain
        (trust.Verdicts(spf="softfail", dkim="none", dmarc="pass", source="ses"), False),
        (trust.Verdicts(spf="none", dkim="none", dmarc="none", source="ses"), False),  # nothing says it is forged
        (trust.UNTRUSTED, False),  # hand-fed mail: nothing could be checked
    ],
)
def test_a_reply_is_unproven_only_when_a_trusted_verdict_points_at_a_forged_from(verdicts, unproven):
    assert trust.sender_unproven(verdicts) is unproven
