"""Who is emailed about a new chat message: pure rules, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from emailpipe.domain.models import Conversation, Message, Person, Role, Settings


def is_offline(person: Person, settings: Settings, now: float) -> bool:
    """An agent is offline when set offline or not seen for longer than the offline-after setting."""
    return not person.online or now - person.last_seen > settings.offline_after_seconds


def is_member(email: str, conversation: Conversation) -> bool:
    """True for the conversation's user and its participants: the people its answers are emailed to."""
    return email == conversation.user_email or email in conversation.participants


@dataclass(frozen=True, slots=True)
class Routing:
    """The people to email, and the people deliberately not emailed with the reason (recorded)."""

    recipients: tuple[Person, ...]
    skipped: tuple[tuple[Person, str], ...] = ()


def recipients_for(
    message: Message,
    conversation: Conversation,
    user: Person | None,
    staff: Iterable[Person],
    settings: Settings,
    now: float,
    participants: Iterable[Person] = (),
) -> Routing:
    """The people to email about `message`: never its author, never a bouncing or unsubscribed address."""
    if message.author_role is Role.USER:
        chosen = _staff_for_user_message(conversation, list(staff), settings, now)
    else:
        # Agents', admins' and the bot's answers always reach the user and every participant (each with their own
        # token), whatever their notification setting. A staff address is never a participant.
        chosen = [user] if user is not None else []
        chosen += [p for p in participants if not p.role.is_staff and p.email != conversation.user_email]
    author = (message.author_email or "").lower()
    recipients: list[Person] = []
    skipped: list[tuple[Person, str]] = []
    for person in chosen:
        if person.email == author:
            continue
        if person.email in message.also_to:
            # A reply-all reached them directly: the same words a second time from us would be noise.
            skipped.append((person, "received_directly"))
            continue
        reason = delivery_block(person, for_user_answer=message.author_role is not Role.USER)
        if reason:
            skipped.append((person, reason))
        else:
            recipients.append(person)
    return Routing(tuple(recipients), tuple(skipped))


def bot_is_answering(conversation: Conversation, settings: Settings) -> bool:
    """Human-takeover mode before a human took the conversation: the chatbot answers the user first."""
    return settings.human_takeover and not conversation.assigned_agent


def bot_answered(pending: Sequence[Message], conversation_messages: Sequence[Message]) -> bool:
    """True when the chatbot answered after every pending user message (then no agent needs an email)."""
    bot_times = [m.created_at for m in conversation_messages if m.author_role is Role.BOT]
    return bool(pending) and all(any(t > m.created_at for t in bot_times) for m in pending)


def delivery_block(person: Person, *, for_user_answer: bool) -> str | None:
    """Why an email must not go to `person` now, or None."""
    if person.unsubscribed:
        return "unsubscribed"
    if person.bouncing:
        return "bouncing"
    if not person.email_notifications and not for_user_answer:
        return "notifications_off"
    return None


def staff_candidates(conversation: Conversation, staff: Iterable[Person]) -> list[Person]:
    """The staff a user message may reach, before presence: the assigned agent, else the agents of the
    conversation's department, else every agent and admin."""
    if conversation.assigned_agent:
        return [p for p in staff if p.email == conversation.assigned_agent]
    if conversation.department:
        return [p for p in staff if p.role.is_staff and conversation.department in p.departments]
    return [p for p in staff if p.role.is_staff]


def _staff_for_user_message(
    conversation: Conversation, staff: list[Person], settings: Settings, now: float
) -> list[Person]:
    offline = [p for p in staff_candidates(conversation, staff) if is_offline(p, settings, now)]
    return offline if conversation.assigned_agent else sorted(offline, key=lambda p: p.email)
