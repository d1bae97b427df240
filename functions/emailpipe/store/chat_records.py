"""The reads and writes the chat API adds: upserts, deletes, pages of people, conversations and messages, and the
external-id guard of a message."""

from __future__ import annotations

import time
from itertools import groupby

from pynamodb.exceptions import DeleteError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from emailpipe.domain.models import Conversation, Department, InboundRecord, Message, Person, Role
from emailpipe.store.models import (
    ConversationItem,
    DepartmentItem,
    ExternalIdItem,
    InboundItem,
    MessageItem,
    PersonItem,
)
from emailpipe.store.paging import Page, decode_cursor, encode_cursor
from emailpipe.store.repo import (
    _connection,
    _conversation_from,
    _inbound_from,
    _is_conditional_failure,
    _iso,
    _message_from,
    _message_item,
    _person_from,
    forget_staff,
    inbound_partitions,
    update_person,
)

# ---------------------------------------------------------------- people


def upsert_person(person: Person, now: float | None = None) -> tuple[Person, bool]:
    """Create or replace a person's name, role and departments (one write); presence and email flags are kept.

    Returns the stored person and whether it was created."""
    now = time.time() if now is None else now
    forget_staff()
    item = PersonItem(pk=f"PERSON#{person.email}", sk="PROFILE")
    item.update(
        actions=[
            PersonItem.entity.set("person"),
            PersonItem.gsi1pk.set(f"ROLE#{person.role.value}"),
            PersonItem.gsi1sk.set(person.email),
            PersonItem.email.set(person.email),
            PersonItem.name.set(person.name),
            PersonItem.role.set(person.role.value),
            PersonItem.departments.set(list(person.departments)),
            PersonItem.created_at.set(PersonItem.created_at | now),
        ]
    )
    return _person_from(item), float(item.created_at) == now


def delete_person(email: str) -> bool:
    """Remove a person; False when there was none."""
    forget_staff()
    try:
        PersonItem(pk=f"PERSON#{email}", sk="PROFILE").delete(condition=PersonItem.pk.exists())
    except DeleteError as exc:
        if _is_conditional_failure(exc):
            return False
        raise
    return True


def page_people(role: Role, limit: int, cursor: str | None = None) -> Page[Person]:
    """People of one role, by email."""
    start = decode_cursor(cursor, hash_key=f"ROLE#{role.value}", hash_attr="gsi1pk")
    results = PersonItem.gsi1.query(f"ROLE#{role.value}", limit=limit, last_evaluated_key=start["k"] if start else None)
    items = [_person_from(i) for i in results]
    return Page(items, encode_cursor(results.last_evaluated_key))


def set_presence_once(email: str, online: bool, now: float) -> bool:
    """Mark a person online or offline in one conditional write; False when there is no such person."""
    return update_person(email, [PersonItem.online.set(online), PersonItem.last_seen.set(now)])


# ---------------------------------------------------------------- departments


def list_departments() -> list[Department]:
    """Every department, by name."""
    return [Department(name=i.name) for i in DepartmentItem.gsi1.query("DEPARTMENTS")]


# ---------------------------------------------------------------- conversations


def page_conversations_of_user(
    email: str, status: str | None, limit: int, cursor: str | None = None
) -> Page[Conversation]:
    """A user's conversations, oldest first (optionally of one status)."""
    start = decode_cursor(cursor, hash_key=f"USER#{email}", hash_attr="gsi1pk")
    results = ConversationItem.gsi1.query(
        f"USER#{email}",
        filter_condition=(ConversationItem.status == status) if status else None,
        limit=limit,
        last_evaluated_key=start["k"] if start else None,
    )
    items = [_conversation_from(i) for i in results]
    return Page(items, encode_cursor(results.last_evaluated_key))


def page_conversations_by_status(status: str, limit: int, cursor: str | None = None) -> Page[Conversation]:
    """Conversations of one status, oldest first."""
    start = decode_cursor(cursor, hash_key=f"STATUS#{status}", hash_attr="gsi2pk")
    results = ConversationItem.gsi2.query(
        f"STATUS#{status}", limit=limit, last_evaluated_key=start["k"] if start else None
    )
    items = [_conversation_from(i) for i in results]
    return Page(items, encode_cursor(results.last_evaluated_key))


def update_conversation(
    conversation_id: str,
    *,
    status: str | None = None,
    department: str | None = None,
    assigned_agent: str | None = None,
) -> Conversation | None:
    """Change a conversation's status, department or assigned agent (None: unchanged, "": cleared) in one write.

    Returns the conversation as stored, or None when there is none."""
    actions: list[Action] = []
    if status is not None:
        actions += [ConversationItem.status.set(status), ConversationItem.gsi2pk.set(f"STATUS#{status}")]
    for attribute, value in (
        (ConversationItem.department, department),
        (ConversationItem.assigned_agent, assigned_agent),
    ):
        if value == "":
            actions.append(attribute.remove())
        elif value is not None:
            actions.append(attribute.set(value))
    item = ConversationItem(pk=f"CONV#{conversation_id}", sk="META")
    try:
        if actions:
            item.update(actions=actions, condition=ConversationItem.pk.exists())
        else:
            item.refresh()
    except UpdateError as exc:
        if _is_conditional_failure(exc):
            return None
        raise
    except ConversationItem.DoesNotExist:
        return None
    return _conversation_from(item)


def add_participant(conversation_id: str, email: str, limit: int) -> tuple[Conversation | None, str]:
    """Append `email` to a conversation's participants in one conditional write (absent, and fewer than `limit`).

    Returns the conversation as stored and "added", "present" (already a participant) or "full"; (None, "missing")
    when there is no conversation."""
    participants = ConversationItem.participants
    item = ConversationItem(pk=f"CONV#{conversation_id}", sk="META")
    try:
        item.update(
            actions=[participants.set((participants | []).append([email]))],
            condition=ConversationItem.pk.exists()
            & ~participants.contains(email)
            & (participants.does_not_exist() | (size(participants) < limit)),
        )
    except UpdateError as exc:
        if not _is_conditional_failure(exc):
            raise
        # Which condition failed is read back: the conversation is gone, the address is there, or the list is full.
        try:
            item.refresh(consistent_read=True)
        except ConversationItem.DoesNotExist:
            return None, "missing"
        return _conversation_from(item), "present" if email in (item.participants or ()) else "full"
    return _conversation_from(item), "added"


_PARTICIPANT_ATTEMPTS = 5


def remove_participant(conversation_id: str, email: str) -> tuple[Conversation | None, bool]:
    """Take `email` out of a conversation's participants: the list is rewritten on condition it did not change.

    Returns the conversation as stored and whether the address was a participant; (None, False) when there is none."""
    participants = ConversationItem.participants
    for _ in range(_PARTICIPANT_ATTEMPTS):
        item = ConversationItem(pk=f"CONV#{conversation_id}", sk="META")
        try:
            item.refresh(consistent_read=True)
        except ConversationItem.DoesNotExist:
            return None, False
        old = list(item.participants or ())
        if email not in old:
            return _conversation_from(item), False
        kept = [address for address in old if address != email]
        try:
            item.update(
                actions=[participants.set(kept) if kept else participants.remove()],
                condition=ConversationItem.pk.exists() & (participants == old),
            )
        except UpdateError as exc:
            if not _is_conditional_failure(exc):
                raise
            continue  # someone changed the list meanwhile: read it again
        return _conversation_from(item), True
    raise RuntimeError("the participants kept changing; try again")


# ---------------------------------------------------------------- messages


def put_message_once(message: Message) -> tuple[Message, bool]:
    """Store a chat message; with an external id, only once per conversation (a guard item in the same
    transaction). Returns the stored message and True, or the message stored earlier under that id and False."""
    item = _message_item(message)
    if not message.external_id:
        item.save(condition=MessageItem.pk.does_not_exist())
        return message, True
    guard = ExternalIdItem(
        pk=f"CONV#{message.conversation_id}",
        sk=f"EXT#{message.external_id}",
        entity="external_id",
        message_sk=item.sk,
    )
    try:
        with TransactWrite(connection=_connection()) as transaction:
            transaction.save(guard, condition=ExternalIdItem.pk.does_not_exist())
            transaction.save(item, condition=MessageItem.pk.does_not_exist())
    except TransactWriteError as exc:
        if not _is_conditional_failure(exc):
            raise
        earlier = ExternalIdItem.get(guard.pk, guard.sk, consistent_read=True)
        return _message_from(MessageItem.get(guard.pk, earlier.message_sk, consistent_read=True)), False
    return message, True


def page_messages(conversation_id: str, limit: int, cursor: str | None = None) -> Page[Message]:
    """A conversation's messages, oldest first."""
    start = decode_cursor(cursor, hash_key=f"CONV#{conversation_id}")
    results = MessageItem.query(
        f"CONV#{conversation_id}",
        MessageItem.sk.startswith("MSG#"),
        limit=limit,
        last_evaluated_key=start["k"] if start else None,
    )
    items = [_message_from(i) for i in results]
    return Page(items, encode_cursor(results.last_evaluated_key))


def get_message(conversation_id: str, message_id: str) -> Message | None:
    """One message of a conversation, by id."""
    for item in MessageItem.query(
        f"CONV#{conversation_id}", MessageItem.sk.startswith("MSG#"), filter_condition=MessageItem.id == message_id
    ):
        return _message_from(item)
    return None


# ---------------------------------------------------------------- inbound outcomes


def page_inbound(since: float, reason: str | None, limit: int, cursor: str | None = None) -> Page[InboundRecord]:
    """Inbound outcomes received at or after `since`, oldest first (optionally of one reason).

    The log is sharded (repo.inbound_index_key): each page merges every shard of a day, day after day, until it
    has `limit` outcomes; the cursor is the sort key of the last one, so the next page starts right after it."""
    start = decode_cursor(cursor, hash_key="inbound", hash_attr="log")
    lower = _iso(since)
    after = start["k"]["gsi1sk"]["S"] if start and "gsi1sk" in start["k"] else None
    condition = InboundItem.gsi1sk > after if after and after >= lower else InboundItem.gsi1sk >= lower
    found: list[InboundItem] = []
    more = False
    groups = groupby(inbound_partitions(since, (after or "")[:10]), key=lambda key: key.split("#")[1:2])
    for _day, partitions in groups:
        if len(found) >= limit:
            more = True  # later days are left for the next page
            break
        for partition in partitions:
            results = InboundItem.gsi1.query(
                partition,
                condition,
                filter_condition=(InboundItem.reason == reason) if reason else None,
                limit=limit,
            )
            found += results
            more = more or results.last_evaluated_key is not None
    found.sort(key=lambda item: item.gsi1sk)
    page, more = found[:limit], more or len(found) > limit
    cursor_key = {"log": {"S": "inbound"}, "gsi1sk": {"S": page[-1].gsi1sk}} if more and page else None
    return Page([_inbound_from(i) for i in page], encode_cursor(cursor_key))
