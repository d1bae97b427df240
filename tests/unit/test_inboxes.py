"""Several inboxes in one deployment: which inbox an address names, what each inbox changes, how they are kept and
shown, and a mailbox naming its inbox (no network)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from emailpipe.domain import inboxes
from emailpipe.domain.inboxes import Inbox
from emailpipe.domain.models import Settings
from emailpipe.ingress.settings import INBOX_METADATA, MailboxConfigError, parse_settings
from emailpipe.store.repo import inboxes_from_json
from emailpipe.views import inbox_view

DEFAULT = Inbox("support@brand-a.example", "AiX")
BILLING = Inbox("billing@brand-b.example", "BrandB", from_address="news@brand-b.example", department="Billing")
SETTINGS = Settings(inboxes=(BILLING,))
ALL = inboxes.all_inboxes(DEFAULT, SETTINGS)
MAILBOX = {"host": "imap.brand-b.example", "username": "desk", "password": "secret"}


def test_the_default_inbox_comes_first_and_a_stored_change_of_it_replaces_it_in_place():
    changed_default = Inbox(DEFAULT.address, "AiX Support", department="Sales")

    assert ALL == (DEFAULT, BILLING)
    assert inboxes.all_inboxes(DEFAULT, Settings(inboxes=(BILLING, changed_default))) == (changed_default, BILLING)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("billing@brand-b.example", BILLING),
        ("Billing+abc123@Brand-B.example", BILLING),  # a reply's plus-address, in any case
        ("support+xyz@brand-a.example", DEFAULT),
        ("billing@brand-a.example", None),  # the same local part at another domain is another address
        ("news@brand-b.example", None),  # the From identity sends; replies go to the address
        (None, None),
    ],
)
def test_an_inbox_is_found_by_its_address_or_a_plus_address_of_it(address, expected):
    assert inboxes.find(ALL, address) == expected


def test_an_email_belongs_to_the_first_inbox_among_its_recipients_and_to_none_when_bccd():
    assert inboxes.addressed(ALL, ["carol@customer.example", "billing+t0k@brand-b.example", DEFAULT.address]) == BILLING
    assert inboxes.addressed(ALL, ["carol@customer.example"]) is None


def test_no_inbox_address_and_no_from_identity_is_ever_taken_as_a_sender():
    for address in ("support@brand-a.example", "SUPPORT+x@brand-a.example", "news@brand-b.example"):
        assert inboxes.is_inbox_address(ALL, address), address
    assert not inboxes.is_inbox_address(ALL, "carol@customer.example")


def test_a_conversation_of_a_removed_inbox_falls_back_to_the_default():
    assert inboxes.of_conversation(ALL, BILLING.address) == BILLING
    assert inboxes.of_conversation(ALL, "gone@brand-c.example") == DEFAULT
    assert inboxes.of_conversation(ALL, None) == DEFAULT


def test_an_inboxs_own_choices_win_over_the_settings_and_unset_ones_follow_them():
    own = Inbox("x@brand-c.example", convert_all_emails=True, delimiter=False)
    follows = Inbox("y@brand-c.example")

    applied = inboxes.effective_settings(Settings(convert_all_emails=False, delimiter=True), own)
    assert (applied.convert_all_emails, applied.delimiter) == (True, False)
    assert inboxes.effective_settings(SETTINGS, follows) is SETTINGS


def test_an_inbox_sends_from_its_from_identity_and_replies_come_back_to_its_domain():
    assert (BILLING.sender, BILLING.domain) == ("news@brand-b.example", "brand-b.example")
    assert (DEFAULT.sender, DEFAULT.domain) == ("support@brand-a.example", "brand-a.example")


def test_the_stored_json_reads_back_the_same_inboxes_and_ignores_fields_it_does_not_know():
    stored = json.dumps([asdict(BILLING), {**asdict(DEFAULT), "added_by_a_later_version": 1}])

    assert inboxes_from_json(stored) == (BILLING, DEFAULT)
    assert inboxes_from_json(None) == ()


def test_the_view_shows_the_sender_and_which_inbox_is_the_default():
    assert inbox_view(BILLING) == {
        "address": "billing@brand-b.example",
        "default": False,
        "brand_name": "BrandB",
        "from_address": "news@brand-b.example",
        "sender": "news@brand-b.example",
        "department": "Billing",
        "convert_all_emails": None,
        "delimiter": None,
    }
    assert inbox_view(DEFAULT, default=True)["default"] is True
    assert inbox_view(DEFAULT)["from_address"] is None


def test_a_mailbox_names_the_inbox_its_copies_carry_in_their_metadata():
    serving = parse_settings(json.dumps({**MAILBOX, "inbox": " Billing@Brand-B.example "}))
    default = parse_settings(json.dumps(MAILBOX))

    assert serving.inbox == "billing@brand-b.example"
    assert serving.object_metadata == {INBOX_METADATA: "billing@brand-b.example"}
    assert (default.inbox, default.object_metadata) == (None, {})
    assert "password" not in repr(serving) and "billing@brand-b.example" in repr(serving)


@pytest.mark.parametrize("inbox", ["billing+tag@brand-b.example", "not an address", "bérénice@brand-b.example"])
def test_a_mailbox_inbox_that_s3_metadata_cannot_carry_or_that_is_a_plus_address_is_refused(inbox):
    with pytest.raises(MailboxConfigError, match="inbox must be"):
        parse_settings(json.dumps({**MAILBOX, "inbox": inbox}))
