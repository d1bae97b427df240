"""Issue 12's data rules without AWS: dated tokens, the exact delimiter, active attachments, named truncation."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from emailpipe.domain import attachments, tokens
from emailpipe.domain.delimiter import DELIMITER
from emailpipe.domain.reply import MAX_LINES, extract_from_message, extract_reply, html_to_reply_text
from emailpipe.mail.dropped import dropped
from emailpipe.mail.parse import MAX_PARTS, parse_email
from emailpipe.store import blobs

KEY = b"k" * 32
DAY = tokens.DAY_SECONDS
NOW = 1_800_000_000.0  # 2027-01-15


# ---------------------------------------------------------------- 3. token lifetime


def test_a_token_carries_its_signed_issue_day_and_expires_after_the_lifetime():
    token = tokens.make_token([KEY], "abcdefghijkl", "bob@agents.example", issued_at=NOW)

    assert len(token) == tokens.TOKEN_LENGTH == 32
    assert tokens.verify_token([KEY], token, "bob@agents.example")
    assert tokens.issued_at(token) == NOW // DAY * DAY
    assert not tokens.expired(token, NOW + 179 * DAY, 180)
    assert tokens.expired(token, NOW + 180 * DAY, 180)


def test_a_token_whose_issue_day_was_changed_does_not_verify():
    token = tokens.make_token([KEY], "abcdefghijkl", "bob@agents.example", issued_at=NOW - 400 * DAY)
    newer = tokens.make_token([KEY], "abcdefghijkl", "olga@agents.example", issued_at=NOW)
    # Bob's old signature with a fresh issue day taken from another token.
    spliced = token[:12] + newer[12:16] + token[16:]

    assert tokens.expired(token, NOW, 180)
    assert not tokens.verify_token([KEY], spliced, "bob@agents.example")


def test_an_undated_token_of_the_first_format_verifies_and_counts_as_issued_on_the_rollout_day():
    import base64
    import hashlib
    import hmac

    digest = hmac.new(KEY, b"abcdefghijkl:bob@agents.example", hashlib.sha256).digest()
    legacy = "abcdefghijkl" + base64.b32encode(digest).decode().lower()[:16]

    assert tokens.find_token(f"AiX| {legacy}") == legacy
    assert tokens.verify_token([KEY], legacy, "bob@agents.example")
    assert tokens.issued_at(legacy) == tokens.LEGACY_ISSUED_AT
    assert not tokens.expired(legacy, tokens.LEGACY_ISSUED_AT + 179 * DAY, 180)
    assert tokens.expired(legacy, tokens.LEGACY_ISSUED_AT + 180 * DAY, 180)


def test_a_dated_token_is_found_in_every_place_a_notification_carries_it():
    token = tokens.make_token([KEY], tokens.new_conversation_id(), "carol@customer.example", issued_at=NOW)
    plus = tokens.plus_address("support@example.com", token)

    assert tokens.find_token(tokens.display_name("AiX", token)) == token
    assert tokens.token_from_plus_address(plus, "support@example.com") == token
    assert tokens.find_token(tokens.message_id(token, "example.com")) == token
    assert len(plus.partition("@")[0]) <= 64  # a local part's limit


# ---------------------------------------------------------------- 5. the delimiter


@pytest.mark.parametrize(
    "shape",
    [
        DELIMITER,
        f"> {DELIMITER}",
        f">> > {DELIMITER}",
        f"   {DELIMITER}   ",
        DELIMITER.replace(" ", "\u00a0"),
        "\u200b" + DELIMITER.upper(),
        "### Please type your reply above this\nline ###",
        "> ### Please type your\n> reply above this line ###",
        "> ### Please type\n> your reply above\n> this line ###",
        "###  Please  type your reply above this line  ###",
    ],
)
def test_our_delimiter_cuts_in_every_shape_a_client_gives_it(shape):
    body = f"My answer.\n\n{shape}\nAgent wrote: the old message\n"

    assert extract_reply(body) == "My answer."


@pytest.mark.parametrize(
    "html",
    [
        f'<div>My answer.</div><p style="color:#888">{DELIMITER}</p><p>Agent: old</p>',
        "<div>My answer.</div><p>###&nbsp;Please type your reply&nbsp;above this line&nbsp;###</p><p>Agent: old</p>",
        "<div>My answer.</div><p>### Please type your reply<br>above this line ###</p><p>Agent: old</p>",
        f"<div>My answer.</div><div><span>###</span> {DELIMITER[4:-4]} <b>###</b></div><div>Agent: old</div>",
    ],
)
def test_our_delimiter_cuts_inside_html(html):
    assert html_to_reply_text(html) == "My answer."


@pytest.mark.parametrize(
    "line",
    [
        "### Attempt 1 ###",
        "### Steps to reproduce ###",
        "### Please read the log below ###",
        "### Type your answer here ###",
        "### Everything above this line is the new config ###",
        "##",
        "###",
    ],
)
def test_other_hash_lines_stay_with_everything_below_them(line):
    body = f"I tried twice.\n\n{line}\nIt failed with error 42.\n\n### Attempt 2 ###\nSame."

    assert extract_reply(body) == body
    assert "###" in extract_from_message(body, None)


def test_hashes_inside_a_message_are_kept():
    body = "Use the C# ### marker and #### headings, then ### again."

    assert extract_reply(body) == body


def test_a_line_starting_like_the_delimiter_but_continuing_otherwise_does_not_cut():
    body = "Answer.\n### Please type your\nname in the form ###\nThanks"

    assert extract_reply(body) == body


# ---------------------------------------------------------------- 7. active attachments


@pytest.mark.parametrize(
    ("name", "ctype", "head"),
    [
        ("page.html", "text/html", b"<html>"),
        ("logo.svg", "image/svg+xml", b"<svg onload=alert(1)>"),
        ("x.bin", "text/html", b"<p>"),
        ("run.exe", "application/octet-stream", b"MZ"),
        ("invoice.pdf", "application/pdf", b"<!DOCTYPE html><html><script>alert(1)</script>"),
        ("invoice.pdf", "application/octet-stream", b"  <svg xmlns='http://www.w3.org/2000/svg'>"),
        ("report", "application/pdf", b"<html><body>"),
    ],
)
def test_active_files_are_served_neutral_and_never_attached(name, ctype, head):
    never = attachments.parse_types(attachments.DEFAULT_NEVER_ATTACH)

    assert attachments.is_active(name, ctype, head)
    assert not attachments.may_attach(name, ctype, head, never)


@pytest.mark.parametrize(
    ("name", "ctype", "head"),
    [
        ("invoice.pdf", "application/pdf", b"%PDF-1.7\n<html> in a PDF string"),
        ("photo.jpg", "image/jpeg", b"\xff\xd8\xff<html>"),
        ("notes.txt", "text/plain", b"see <html> tags"),
    ],
)
def test_harmless_files_are_attached(name, ctype, head):
    never = attachments.parse_types(attachments.DEFAULT_NEVER_ATTACH)

    assert not attachments.is_active(name, ctype, head)
    assert attachments.may_attach(name, ctype, head, never)


def test_the_never_attach_setting_is_a_list_of_extensions():
    assert attachments.parse_types(" .HTML, svg;js ,, ") == {"html", "svg", "js"}
    assert attachments.parse_types("none") == frozenset()
    assert attachments.may_attach("page.html", "text/html", b"<html>", frozenset())
    assert not attachments.may_attach("data.csv", "text/csv", b"a,b", frozenset({"csv"}))


def test_the_download_disposition_carries_any_name_without_injection():
    value = attachments.download_disposition('Résumé "final"\r\n.pdf')

    assert value.startswith('attachment; filename="R_sum_ final.pdf"')
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf" in value
    assert "\r" not in value and "\n" not in value
    assert value.isascii()


# ---------------------------------------------------------------- 4. long texts


def test_a_long_text_is_kept_in_s3_with_a_preview_in_the_item():
    text = "word " * 20_000  # 100 KB

    assert blobs.is_long_text(text)
    assert not blobs.is_long_text("é" * 16_000)  # 32 KB of UTF-8
    preview = blobs.preview(text)
    assert len(preview) <= blobs.PREVIEW_CHARS + 2 and preview.endswith(" …")
    assert blobs.text_key("c1", "m1") == "messages/c1/m1.txt"


def test_a_store_failure_no_retry_can_fix_is_told_from_one_that_may_pass():
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import TransactWriteError

    from emailpipe.store import repo

    def failure(code: str) -> TransactWriteError:
        return TransactWriteError("failed", cause=ClientError({"Error": {"Code": code, "Message": "m"}}, "Transact"))

    assert repo.permanent_error_code(failure("ValidationException")) == "ValidationException"
    assert repo.permanent_error_code(failure("AccessDeniedException")) == "AccessDeniedException"
    assert repo.permanent_error_code(failure("ProvisionedThroughputExceededException")) is None
    assert repo.permanent_error_code(failure("ThrottlingException")) is None
    assert repo.permanent_error_code(TransactWriteError("no answer")) is None  # the network
    assert repo.permanent_error_code(ValueError("ours")) is None


# ---------------------------------------------------------------- 9. nothing dropped silently


def _with_attachments(count: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = "carol@customer.example"
    mail["To"] = "support@example.com"
    mail["Subject"] = "files"
    mail.set_content("see the files")
    for i in range(count):
        mail.add_attachment(b"x", maintype="application", subtype="octet-stream", filename=f"f{i}.bin")
    return bytes(mail)


def test_attachments_over_the_part_limit_are_named_with_their_count():
    parsed = parse_email(_with_attachments(MAX_PARTS))

    kept = len(parsed.attachments)
    assert kept < MAX_PARTS
    details = dropped(parsed)
    assert details["dropped_parts"].startswith(f"{MAX_PARTS - kept} MIME parts")
    assert str(MAX_PARTS) in details["dropped_parts"]


def test_an_ordinary_email_drops_nothing():
    assert dropped(parse_email(_with_attachments(3))) == {}


def test_a_body_over_the_line_limit_is_named():
    mail = EmailMessage()
    mail["From"] = "carol@customer.example"
    mail["To"] = "support@example.com"
    mail.set_content("line\n" * (MAX_LINES + 500))
    details = dropped(parse_email(bytes(mail)))

    assert details["text_cut"] == f"text body of {MAX_LINES + 501} lines: only the first {MAX_LINES} were read"


def test_an_html_body_over_the_line_limit_is_named():
    mail = EmailMessage()
    mail["From"] = "carol@customer.example"
    mail["To"] = "support@example.com"
    mail.set_content("<div>" + "row<br>" * (MAX_LINES + 10) + "</div>", subtype="html")
    details = dropped(parse_email(bytes(mail)))

    assert details["text_cut"].startswith("HTML body of ")
    assert f"only the first {MAX_LINES} were read" in details["text_cut"]
