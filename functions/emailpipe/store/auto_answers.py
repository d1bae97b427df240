"""The automatic answer to a reply that is not posted (closed_reply=reject, or an archived conversation): queued here
at most once per sender and day, sent by the notifier from the item's stream INSERT.

| entity      | pk                                  | sk              |
|-------------|-------------------------------------|-----------------|
| auto_answer | AUTOANSWER#<sha256 of the sender>   | DAY#<YYYY-MM-DD>|

The item expires by the table's TTL (`expires_at`) two days later; the day in its key is the cap.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from emailpipe.records import Record
from emailpipe.store.models import Item
from emailpipe.store.repo import _is_conditional_failure, share_connection

ENTITY = "auto_answer"
REASONS = ("closed", "archived")
_TTL_SECONDS = 2 * 86400


@dataclass(frozen=True, repr=False, eq=False)
class AutoAnswer(Record):
    """One automatic answer to send: to whom, about which conversation and email, and why it was not posted."""

    recipient: str  # the sender of the reply, lower-cased
    conversation_id: str
    reason: str  # closed | archived
    s3_key: str  # the raw email that was not posted
    subject: str = ""  # the email's subject; the answer's is "Re: <subject>"
    recipient_name: str = ""
    inbox: str | None = None  # the inbox address the email came to (None: the default inbox)
    email_message_id: str | None = None  # the email's Message-ID: the answer's In-Reply-To and References


class AutoAnswerItem(Item):
    """A queued automatic answer; its INSERT on the stream makes the notifier send it."""

    recipient = UnicodeAttribute()
    recipient_name = UnicodeAttribute(default="")
    conversation_id = UnicodeAttribute()
    reason = UnicodeAttribute()
    s3_key = UnicodeAttribute()
    subject = UnicodeAttribute(default="")
    inbox = UnicodeAttribute(null=True)
    email_message_id = UnicodeAttribute(null=True)
    queued_at = NumberAttribute()
    expires_at = NumberAttribute()


def sender_hash(recipient: str) -> str:
    """The SHA-256 of the lower-cased address: the key never holds the address itself."""
    return hashlib.sha256(recipient.strip().lower().encode("utf-8")).hexdigest()


def day_of(now: float) -> str:
    """The UTC day of a time, as the cap counts days."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def claim_key(recipient: str, day: str) -> str:
    """The delivery claim of the one answer to `recipient` on `day` (repo.claim_delivery's message id)."""
    return f"auto-{sender_hash(recipient)}-{day}"


def answer_item(request: AutoAnswer, now: float) -> AutoAnswerItem:
    """The item that queues one automatic answer, keyed by its sender and the UTC day of `now`."""
    recipient = request.recipient.strip().lower()
    return AutoAnswerItem(
        pk=f"AUTOANSWER#{sender_hash(recipient)}",
        sk=f"DAY#{day_of(now)}",
        entity=ENTITY,
        recipient=recipient,
        recipient_name=request.recipient_name,
        conversation_id=request.conversation_id,
        reason=request.reason,
        s3_key=request.s3_key,
        subject=request.subject,
        inbox=request.inbox,
        email_message_id=request.email_message_id,
        queued_at=now,
        expires_at=int(now) + _TTL_SECONDS,
    )


def queue_auto_answer(request: AutoAnswer, now: float) -> bool:
    """Queue the answer in one conditional put; False when one was queued for that sender that day already."""
    if request.reason not in REASONS:
        raise ValueError(f"reason is one of {', '.join(REASONS)}")
    share_connection([AutoAnswerItem])
    item = answer_item(request, now)
    try:
        item.save(condition=AutoAnswerItem.pk.does_not_exist())
    except PutError as exc:
        if _is_conditional_failure(exc):
            return False
        raise
    return True


def from_stream_image(image: dict) -> tuple[AutoAnswer, str] | None:
    """The queued answer in a stream NewImage and its delivery claim key, or None for another entity."""
    if image.get("entity", {}).get("S") != ENTITY:
        return None
    item = AutoAnswerItem.from_raw_data(image)
    request = AutoAnswer(
        recipient=item.recipient,
        conversation_id=item.conversation_id,
        reason=item.reason,
        s3_key=item.s3_key,
        subject=item.subject or "",
        recipient_name=item.recipient_name or "",
        inbox=item.inbox,
        email_message_id=item.email_message_id,
    )
    return request, claim_key(item.recipient, item.sk.removeprefix("DAY#"))
