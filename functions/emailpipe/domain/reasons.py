"""Every reason an inbound email's recorded outcome can carry, with what it means (pure).

The inbound log, `emailpipe inbound-log --reason`, the API's `GET /v1/inbound?reason=` and the `EmailsRejected` /
`EmailsQuarantined` metrics all use these codes. A filter naming a code that is not here is refused instead of
quietly matching nothing. tests/unit/test_reasons.py reads the code that records outcomes and fails when it can
record a reason this table does not list.
"""

from __future__ import annotations

STORED = "stored"

REASONS: dict[str, str] = {
    STORED: "posted as a chat message",
    # The raw email itself.
    "too_large": "the raw email is larger than the inbound function reads",
    "headers_too_large": "the header block is larger than any real one",
    "too_deep": "MIME parts nested deeper than any real email",
    "unparseable": "not readable as an email at all",
    "no_sender": "no From address a person could be told apart by",
    "no_content": "neither text nor an attachment",
    "multiple_from": "more than one author in From",
    "from_piping_address": "sent from the piping address itself (or another inbox's)",
    # Machine mail, never posted so that no reply loop can start.
    "bounce": "a delivery failure report (the bounced address is counted)",
    "report": "a feedback or delivery report",
    "auto_submitted": "Auto-Submitted says a machine sent it",
    "autoreply_header": "an auto-reply header (X-Autoreply, X-Autorespond, ...)",
    "precedence_bulk": "Precedence bulk, list or junk",
    "out_of_office": "an out-of-office answer",
    "null_return_path": "an empty Return-Path: a bounce or a machine's notice",
    # Verdicts of the receiving server (SES or a trusted mailbox provider).
    "dmarc_fail": "DMARC failed for the From domain",
    "virus": "the receiving server found a virus",
    "authentication_required": "no SPF or DKIM pass while the require_authentication setting is on",
    "spf_dkim_fail": "SPF and DKIM both failed (quarantined)",
    "spam": "the receiving server's spam verdict (quarantined)",
    # Matching the reply to its conversation and its author.
    "token_expired": "the reply's token is older than its lifetime",
    "unknown_sender": "the sender is not a known person, and convert-all is off",
    "unknown_conversation": "the token or thread names a conversation that does not exist",
    "wrong_inbox": "addressed to another inbox than its conversation's",
    "thread_not_authenticated": "matched only by threading, without a verdict that the From is real",
    "reply_not_authenticated": "a trusted verdict says the From of a token reply is forged (quarantined)",
    "token_not_valid_for_sender": "the token was issued to someone else",
    "sender_not_participant": "the sender is not in the conversation",
    "staff_not_authenticated": "an agent's mail without an aligned SPF or DKIM pass",
    "no_conversation_token": "no token, plus address or thread, and convert-all is off",
    "conversation_closed": "a reply to a closed conversation (closed_reply=refuse)",
    "conversation_archived": "a reply to an archived conversation",
    # Forwards and new conversations.
    "staff_mail_without_token": "an agent's mail that is neither a reply nor a forward",
    "staff_forward_not_enabled": "an agent's forward while neither convert-all nor staff_forwards is on",
    "forward_without_customer": "an agent's forward that names no customer",
    "forward_of_staff_mail": "an agent's forward of mail that staff wrote",
    "empty_reply": "nothing is left once quoted history and signature are cut",
    # Caps, copies and storage.
    "duplicate": "the same email (sender and Message-ID) was stored before",
    "rate_limited_sender": "over the sender's cap within the rate window (quarantined)",
    "rate_limited_conversation": "over the conversation's cap within the rate window (quarantined)",
    "rate_limited_domain": "over the cap for strangers of one domain within the rate window (quarantined)",
    "rate_limited_conversation_gone": "its conversation was deleted while it was stored (quarantined)",
    "store_failed": "DynamoDB refused the write for good, e.g. an item over 400 KB (quarantined)",
    "processing_failed": "the inbound function raised on it; SQS retries it and a success replaces this (quarantined)",
}


def unknown_reason_message(reason: str) -> str | None:
    """None for a known reason; else one line saying so and listing the known ones."""
    if reason in REASONS:
        return None
    return f"unknown reason {reason!r}; known reasons: {', '.join(sorted(REASONS))}"
