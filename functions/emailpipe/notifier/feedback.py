"""SES bounce, complaint and delivery notifications: which addresses to mark, and which marks to lift (pure).

SES's feedback is the one bounce source that needs no proof: SES itself tried the delivery, and the notification
arrives on our own topic. Each mark keeps SES's ids of the send and of the notification as its evidence. A delivery
notification (the configuration set publishes them too) lifts a bouncing mark set before that delivery succeeded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Feedback:
    """One address SES reported, and what to do about it."""

    address: str
    kind: str  # bounce | complaint | delivery
    ses_message_id: str | None = None  # SES's id of the send concerned
    feedback_id: str | None = None  # SES's id of the bounce or complaint
    status: str | None = None  # "Permanent/General", a DSN status such as "5.1.1"
    at: float | None = None  # when SES says it happened
    mail_message_id: str | None = None  # our Message-ID of the send, when SES included the headers


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _message_id(mail: dict[str, Any]) -> str | None:
    found = (mail.get("commonHeaders") or {}).get("messageId")
    if found:
        return str(found)
    for header in mail.get("headers") or []:
        if str(header.get("name", "")).lower() == "message-id":
            return str(header.get("value", "")) or None
    return None


def feedback_from_ses(message: str | dict[str, Any]) -> list[Feedback]:
    """Addresses to mark (or clear) from an SES notification (SNS message body); transient bounces change nothing."""
    data = json.loads(message) if isinstance(message, str) else message
    kind = data.get("notificationType") or data.get("eventType")
    mail = data.get("mail") or {}
    common = {"ses_message_id": mail.get("messageId"), "mail_message_id": _message_id(mail)}
    found: list[Feedback] = []
    if kind == "Bounce":
        bounce = data.get("bounce", {})
        if bounce.get("bounceType") != "Permanent":
            return []
        status = "/".join(str(part) for part in (bounce.get("bounceType"), bounce.get("bounceSubType")) if part)
        for recipient in bounce.get("bouncedRecipients", []):
            found.append(
                Feedback(
                    str(recipient.get("emailAddress", "")).strip().lower(),
                    "bounce",
                    feedback_id=bounce.get("feedbackId"),
                    status=recipient.get("status") or status or None,
                    at=_timestamp(bounce.get("timestamp")),
                    **common,
                )
            )
    elif kind == "Complaint":
        complaint = data.get("complaint", {})
        for recipient in complaint.get("complainedRecipients", []):
            found.append(
                Feedback(
                    str(recipient.get("emailAddress", "")).strip().lower(),
                    "complaint",
                    feedback_id=complaint.get("feedbackId"),
                    at=_timestamp(complaint.get("timestamp")),
                    **common,
                )
            )
    elif kind == "Delivery":
        delivery = data.get("delivery", {})
        at = _timestamp(delivery.get("timestamp")) or _timestamp(mail.get("timestamp"))
        for address in delivery.get("recipients", []):
            found.append(Feedback(str(address).strip().lower(), "delivery", at=at, **common))
    return [f for f in found if "@" in f.address]
