"""Bouncing marks with their evidence, on the person item (see domain/bounces.py for what the evidence holds)."""

from __future__ import annotations

from emailpipe.domain.bounces import BounceEvidence
from emailpipe.store.models import PersonItem
from emailpipe.store.repo import thread_message_ids, update_person


def _address(email: str) -> str:
    return email.strip().lower()


def mark_bouncing(email: str, evidence: BounceEvidence) -> bool:
    """Mark a registered address as bouncing with the evidence why; False when no such person exists."""
    actions = [PersonItem.bouncing.set(True), PersonItem.bounce_evidence.set(evidence.as_dict())]
    return update_person(_address(email), actions)


def clear_bouncing(email: str, at: float, by: str, detail: str | None = None) -> bool:
    """Lift a bouncing mark, recording when and why beside its evidence; False when the address was not marked."""
    evidence = get_bounce_evidence(email) or BounceEvidence(source="hand", marked_at=0.0)
    actions = [
        PersonItem.bouncing.set(False),
        PersonItem.bounce_evidence.set(evidence.cleared(at, by, detail).as_dict()),
    ]
    return update_person(_address(email), actions, PersonItem.bouncing == True)  # noqa: E712 - a condition, not a test


def get_bounce_evidence(email: str) -> BounceEvidence | None:
    """The evidence of the address's latest bouncing mark (cleared or not), or None when it was never marked."""
    try:
        item = PersonItem.get(
            f"PERSON#{email.strip().lower()}", "PROFILE", attributes_to_get=["bounce_evidence"], consistent_read=True
        )
    except PersonItem.DoesNotExist:
        return None
    if not item.bounce_evidence:
        return None
    return BounceEvidence.from_dict(item.bounce_evidence.as_dict())


def was_sent(conversation_id: str, recipient: str, mail_message_id: str) -> bool:
    """True when `mail_message_id` is the Message-ID of a notification sent to `recipient` in the conversation."""
    wanted = mail_message_id.strip().lower()
    return any(sent.lower() == wanted for sent in thread_message_ids(conversation_id, recipient))
