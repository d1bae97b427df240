"""Who is emailed about a new chat message: pure rules, no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from emailpipe.domain.models import Conversation, Message, Person, Role, Settings


def is_offline(person: Person, settings: Settings, now: float) -> bool:
    """An agent is offline when set offline or not seen for longer than the offline-after setting."""
    return not person.online or now - person.last_seen > settings.offline_after_seconds


def recipients_for(
    message: Message,
    conversation: Conversation,
    user: Person | None,
    staff: Iterable[Person],
    settings: Settings,
    now: float,
) -> list[Person]:
    """The people to email about `message`, never its author and never a bouncing address."""
    if message.author_role is Role.USER:
        chosen = _staff_for_user_message(conversation, list(staff), settings, now)
    else:
        # Agents', admins' and the bot's answers always reach the user, whatever their chat notification setting.
        chosen = [user] if user is not None else []
    author = (message.author_email or "").lower()
    return [person for person in chosen if person.email != author and not person.bouncing]


def _staff_for_user_message(
    conversation: Conversation, staff: list[Person], settings: Settings, now: float
) -> list[Person]:
    if settings.human_takeover and not conversation.assigned_agent:
        # The chatbot answers until a human takes the conversation over; agents are not emailed meanwhile.
        return []
    if conversation.assigned_agent:
        assigned = [p for p in staff if p.email == conversation.assigned_agent]
        return [p for p in assigned if is_offline(p, settings, now)]
    if conversation.department:
        members = [p for p in staff if p.role.is_staff and conversation.department in p.departments]
    else:
        members = [p for p in staff if p.role.is_staff]
    return sorted((p for p in members if is_offline(p, settings, now)), key=lambda p: p.email)
