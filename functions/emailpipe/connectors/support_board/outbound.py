"""emailpipe's messages out to Support Board: every message that arrived by email is posted there, exactly once.

Exactly once: a claim (conditional write) per emailpipe message before send-message, the Support Board message id
recorded after it. The pending-post record written with the claim lets the webhook handler recognise the echo that
Support Board fires for that message before send-message even returns (docs/support-board.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emailpipe.connectors.support_board import mapping
from emailpipe.connectors.support_board.client import SupportBoardClient, SupportBoardError
from emailpipe.connectors.support_board.inbound import SYSTEM
from emailpipe.observability import hash_address, logger
from emailpipe.store import external_ids


class PostInProgressError(Exception):
    """Another attempt holds the claim of this message and may still be posting it: retry later."""


AttachmentLinks = Callable[[str, str], Sequence[tuple[str, str]]]


@dataclass
class Poster:
    """Posts emailed messages into one Support Board (`chat` is a ChatApi, for the names of new users)."""

    client: SupportBoardClient
    chat: Any
    attachment_links: AttachmentLinks | None = None
    full_text: Callable[[str, str], str] | None = None  # (conversation, message) -> a long message's whole text
    clock: Callable[[], float] = time.time
    lease_seconds: float = 120.0

    def post(self, detail: dict[str, Any]) -> str:
        """Post the message of a `message.created` event; what happened: posted, duplicate, reconciled, skipped_*."""
        data = detail.get("data") or {}
        message = data.get("message") or {}
        conversation = data.get("conversation") or {}
        if message.get("source") != "email":
            return "skipped_not_email"
        message_id = str(message["id"])
        claim = external_ids.get_claim(SYSTEM, message_id)
        if claim is not None and claim.done:
            return "duplicate"
        author = message.get("author") or {}
        if not author.get("email"):
            return "skipped_no_author"
        sb_conversation = self.sb_conversation(conversation)
        sb_sender = self.sb_user(str(author["email"]), str(author.get("role") or "user"))
        links = list(self.attachment_links(message["conversation_id"], message_id)) if self.attachment_links else []
        text = str(message.get("text") or "")
        if message.get("text_truncated") and self.full_text is not None:
            text = self.full_text(message["conversation_id"], message_id)  # the event carries a preview only
        text, attachments = mapping.outbound_text(text, links)
        owned, claim = external_ids.begin_post(
            SYSTEM, message_id, sb_conversation, sb_sender, mapping.text_hash(text), self.clock(), self.lease_seconds
        )
        if not owned:
            if claim.done:
                return "duplicate"
            raise PostInProgressError(f"message {message_id} is being posted by another attempt")
        if claim.attempts > 1:
            # An earlier attempt died after claiming: the message may be in Support Board already.
            found = external_ids.external_for(SYSTEM, "message", message_id) or self.find_posted(
                sb_conversation, sb_sender, text, claim.first_claimed_at
            )
            if found:
                external_ids.finish_post(SYSTEM, claim, found, self.clock())
                return "reconciled"
        sb_message = self.client.send_message(sb_sender, sb_conversation, text, attachments)
        external_ids.finish_post(SYSTEM, claim, sb_message, self.clock())
        logger.info(
            "posted to support board",
            extra={"message_id": message_id, "sb_message_id": sb_message, "sb_conversation_id": sb_conversation},
        )
        return "posted"

    def sb_conversation(self, conversation: dict[str, Any]) -> str:
        """The Support Board conversation of an emailpipe conversation, opened there when it has none."""
        conversation_id = str(conversation["id"])
        known = external_ids.external_for(SYSTEM, "conversation", conversation_id)
        if known:
            return known
        sb_user = self.sb_user(str(conversation["user"]), "user")
        department = conversation.get("department")
        sb_department = self.sb_department(str(department)) if department else None
        created = self.client.new_conversation(sb_user, str(conversation.get("subject") or ""), sb_department)
        external_ids.link_once(SYSTEM, "conversation", created, conversation_id, self.clock())
        # A concurrent attempt may have linked another Support Board conversation first: use the one in force.
        return external_ids.external_for(SYSTEM, "conversation", conversation_id) or created

    def sb_department(self, name: str) -> str | None:
        """The Support Board department of that name (get-departments when it is not mapped yet), or None."""
        known = external_ids.external_for(SYSTEM, "department", name)
        if known:
            return known
        for sb_department, sb_name in mapping.department_names(self.client.get_departments()).items():
            if sb_name.casefold() == name.casefold():
                external_ids.link(SYSTEM, "department", sb_department, name, None, self.clock())
                return sb_department
        return None

    def sb_user(self, email: str, role: str) -> str:
        """The Support Board user id of an emailpipe person: mapped, found by email, or (a user) created there."""
        known = external_ids.external_for(SYSTEM, "user", email)
        if known:
            return known
        found = self.client.get_user_by_email(email)
        if found is not None:
            sb_id = mapping.sb_id(found.get("id"), "get-user-by.id")
        elif role == "user":
            person = self.chat.get_person(email)
            first, last = mapping.display_name(person.name, email)
            sb_id = self.client.add_user(email, first, last)
        else:
            raise SupportBoardError("get-user-by", "agent-not-in-support-board", hash_address(email))
        external_ids.link(SYSTEM, "user", sb_id, email, role, self.clock())
        return sb_id

    def find_posted(self, sb_conversation: str, sb_sender: str, text: str, since: float) -> str | None:
        """A message of `sb_sender` with this text in the conversation, stored since `since` (an earlier attempt's)."""
        messages = self.client.get_conversation(sb_conversation).get("messages") or []
        for row in messages:
            if mapping.optional_id(row.get("user_id")) != sb_sender:
                continue
            if not mapping.same_text(str(row.get("message") or ""), text):
                continue
            if _sb_time(row.get("creation_time")) < since - 60:
                continue
            sb_message = mapping.optional_id(row.get("id"))
            if sb_message and external_ids.get_link(SYSTEM, "message", sb_message) is None:
                return sb_message
        return None


def _sb_time(value: Any) -> float:
    """Support Board's `Y-m-d H:i:s` (UTC, gmdate) as epoch seconds; 0 when unreadable."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0
