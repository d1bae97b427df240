"""SES bounce and complaint notifications: which addresses must not be emailed any more (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Feedback:
    """One address SES reported, and what to do about it."""

    address: str
    kind: str  # bounce | complaint


def feedback_from_ses(message: str | dict[str, Any]) -> list[Feedback]:
    """Addresses to mark from an SES notification (SNS message body); transient bounces change nothing."""
    data = json.loads(message) if isinstance(message, str) else message
    kind = data.get("notificationType") or data.get("eventType")
    found: list[Feedback] = []
    if kind == "Bounce":
        bounce = data.get("bounce", {})
        if bounce.get("bounceType") != "Permanent":
            return []
        for recipient in bounce.get("bouncedRecipients", []):
            found.append(Feedback(str(recipient.get("emailAddress", "")).strip().lower(), "bounce"))
    elif kind == "Complaint":
        for recipient in data.get("complaint", {}).get("complainedRecipients", []):
            found.append(Feedback(str(recipient.get("emailAddress", "")).strip().lower(), "complaint"))
    return [f for f in found if "@" in f.address]
