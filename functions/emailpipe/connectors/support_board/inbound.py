"""Support Board's webhooks in: its users, agents, departments, conversations and messages mapped onto emailpipe.

Every chat rule is ChatApi's (upsert_person, open_conversation, post_message with external_id, set_presence,
update_conversation); this module only decides what Support Board's data means and keeps the id mapping.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from emailpipe.connectors.support_board import mapping
from emailpipe.connectors.support_board.client import SupportBoardClient
from emailpipe.domain.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from emailpipe.domain.models import Role
from emailpipe.observability import hash_address, logger
from emailpipe.store import external_ids
from emailpipe.store.external_ids import Link

SYSTEM = "sb"
BOT = "bot"


class UnauthorizedError(Exception):
    """The webhook's key is not the configured one."""


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What became of a webhook: processed, or ignored with a reason (both are answered 200)."""

    status: str
    reason: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    function: str = ""

    def body(self) -> dict[str, Any]:
        """The JSON answer."""
        answer: dict[str, Any] = {"status": self.status, "function": self.function}
        if self.reason:
            answer["reason"] = self.reason
        answer.update(self.details)
        return answer


def _ignored(reason: str, **details: str) -> WebhookResult:
    return WebhookResult("ignored", reason, dict(details))


@dataclass
class Connector:
    """The mapping between one Support Board and emailpipe (`chat` is a ChatApi)."""

    client: SupportBoardClient
    chat: Any
    clock: Callable[[], float] = time.time
    refresh_seconds: float = 3600.0
    echo_window_seconds: float = 300.0
    _departments: dict[str, str] | None = field(default=None, repr=False)

    # ------------------------------------------------------------ webhooks

    def handle(self, envelope: mapping.Envelope) -> WebhookResult:
        """Act on one (authenticated) webhook."""
        if envelope.function == mapping.MESSAGE_SENT:
            return self.on_message_sent(mapping.parse_message_sent(envelope.data))
        if envelope.function == mapping.STATUS_UPDATED:
            return self.on_status_updated(mapping.parse_status_updated(envelope.data))
        return _ignored("unhandled_event")

    def on_message_sent(self, event: mapping.MessageSent) -> WebhookResult:
        """A message stored in Support Board becomes the same message in emailpipe, unless it came from emailpipe."""
        known = external_ids.get_link(SYSTEM, "message", event.message_id)
        if known is not None:
            return _ignored("known", message_id=known.target)
        # The echo of our own send-message arrives before that call returns: recognise it before anything else.
        echo = external_ids.match_echo(
            SYSTEM,
            event.conversation_id,
            event.sender_id,
            mapping.text_hash(event.text),
            event.message_id,
            self.clock(),
            self.echo_window_seconds,
        )
        if echo is not None:
            return _ignored("echo", message_id=echo)
        text = mapping.chat_text(event.text, event.attachments)
        if not text:
            return _ignored("empty")  # e.g. the bot's human-takeover marker
        conversation_id = self.conversation(event)
        if conversation_id is None:
            return _ignored("user_without_email")
        author = self.person(event.sender_id)
        if author is None:
            return _ignored("sender_without_email")
        if author.role == Role.USER.value:
            self.sync_staff()
        message, created = self.chat.post_message(conversation_id, author.target, text, external_id=event.message_id)
        external_ids.link_once(SYSTEM, "message", event.message_id, message.id, self.clock())
        logger.info(
            "support board message mapped",
            extra={"sb_message_id": event.message_id, "message_id": message.id, "created": created},
        )
        return WebhookResult(
            "processed",
            None if created else "known",
            {"conversation_id": conversation_id, "message_id": message.id},
        )

    def on_status_updated(self, event: mapping.StatusUpdated) -> WebhookResult:
        """Archived in Support Board: archived in emailpipe; trashed: closed; any other status: open."""
        link = external_ids.get_link(SYSTEM, "conversation", event.conversation_id)
        if link is None:
            return _ignored("conversation_unknown")
        status = mapping.conversation_status(event.status_code)
        # Support Board reports a status change with nearly every message (waiting for the user / for an agent):
        # only a change of emailpipe's status is written.
        if self.chat.get_conversation(link.target).status == status:
            return _ignored("unchanged", conversation_id=link.target)
        conversation = self.chat.update_conversation(link.target, status=status)
        return WebhookResult("processed", None, {"conversation_id": conversation.id, "conversation_status": status})

    # ------------------------------------------------------------ mapping

    def conversation(self, event: mapping.MessageSent) -> str | None:
        """The emailpipe conversation of a Support Board conversation, opened at its first message."""
        link = external_ids.get_link(SYSTEM, "conversation", event.conversation_id)
        if link is not None:
            return link.target
        details = self.client.get_conversation(event.conversation_id)["details"]
        owner = mapping.optional_id(details.get("user_id")) or event.conversation_user_id or event.sender_id
        user = self.person(owner)
        if user is None or user.target == BOT:
            return None
        department = self.department_name(mapping.optional_id(details.get("department")))
        opened = self.chat.open_conversation(user.target, department, subject=str(details.get("title") or ""))
        # Two webhooks racing for a new conversation: the first link wins, the other conversation stays empty.
        return external_ids.link_once(SYSTEM, "conversation", event.conversation_id, opened.id, self.clock()).target

    def person(self, sb_user_id: str, row: dict[str, Any] | None = None) -> Link | None:
        """The emailpipe person (link target: an email, or "bot") of a Support Board user, refreshed hourly."""
        now = self.clock()
        link = external_ids.get_link(SYSTEM, "user", sb_user_id)
        if link is not None and now - link.synced_at < self.refresh_seconds:
            return link
        user = row if row is not None else self.client.get_user(sb_user_id)
        if user is None:
            return link
        if user.get("user_type") == "bot":
            external_ids.link(SYSTEM, "user", sb_user_id, BOT, BOT, now)
            return Link("user", sb_user_id, BOT, BOT, now)
        spec = mapping.person_from_user(user, self.departments())
        if spec is None:
            return None
        for department in spec.departments:
            self._ensure_department(department)
        try:
            person = self.chat.upsert_person(spec.email, spec.name, spec.role, spec.departments)
        except InvalidInputError:
            logger.warning("support board user has an address emailpipe refuses", extra={"sb_user_id": sb_user_id})
            return None
        external_ids.link(SYSTEM, "user", sb_user_id, person.email, person.role.value, now)
        logger.info(
            "support board user mapped",
            extra={"sb_user_id": sb_user_id, "role": person.role.value, "person": hash_address(person.email)},
        )
        return Link("user", sb_user_id, person.email, person.role.value, now)

    def departments(self) -> dict[str, str]:
        """Support Board's departments `{id: name}`, read once per webhook and created in emailpipe when new."""
        if self._departments is None:
            names = mapping.department_names(self.client.get_departments())
            for sb_department, name in names.items():
                known = external_ids.get_link(SYSTEM, "department", sb_department)
                if known is None or known.target != name:
                    self._ensure_department(name)
                    external_ids.link(SYSTEM, "department", sb_department, name, None, self.clock())
            self._departments = names
        return self._departments

    def department_name(self, sb_department: str | None) -> str | None:
        """The emailpipe department of a Support Board department id."""
        if sb_department is None:
            return None
        link = external_ids.get_link(SYSTEM, "department", sb_department)
        if link is not None:
            return link.target
        return self.departments().get(sb_department)

    def _ensure_department(self, name: str) -> None:
        with contextlib.suppress(AlreadyExistsError):
            self.chat.add_department(name)

    def sync_staff(self) -> None:
        """Agents and admins (new ones mapped, the others refreshed hourly) and their presence, before a user's
        message is stored, so that the notifier picks the offline agents as Support Board sees them now."""
        agent_ids = self.client.get_agents_ids()
        online_rows = {mapping.optional_id(u.get("id")): u for u in self.client.get_online_agents()}
        for sb_user_id in agent_ids:
            link = self.person(sb_user_id, online_rows.get(sb_user_id))
            if link is None or link.target == BOT or link.role not in (Role.AGENT.value, Role.ADMIN.value):
                continue
            self.chat.set_presence(link.target, sb_user_id in online_rows)


# ---------------------------------------------------------------- the HTTP side, without HTTP


def body_digest(body: dict[str, Any]) -> tuple[str, str]:
    """The body kept for a webhook (without its key) and its SHA-256."""
    kept = json.dumps({k: v for k, v in body.items() if k != "key"}, sort_keys=True, ensure_ascii=False)
    return kept, hashlib.sha256(kept.encode("utf-8")).hexdigest()


def parse_body(raw: bytes | str) -> dict[str, Any]:
    """The webhook body as JSON (InvalidWebhookError naming `body` otherwise)."""
    try:
        body = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise mapping.InvalidWebhookError("body", "not JSON") from exc
    if not isinstance(body, dict):
        raise mapping.InvalidWebhookError("body", "a JSON object is expected")
    return body


def check_key(envelope: mapping.Envelope, expected: str) -> None:
    """Compare the webhook's key with the configured one in constant time."""
    if not expected or not hmac.compare_digest(envelope.key.encode("utf-8"), expected.encode("utf-8")):
        raise UnauthorizedError("wrong webhook key")


def receive(
    raw: bytes | str, expected_key: str, connector: Callable[[], Connector], clock: Callable[[], float]
) -> WebhookResult:
    """Authenticate, record, then act on one webhook; the record keeps the body until it was acted on.

    Raises InvalidWebhookError (400, the field named), UnauthorizedError (401), or whatever acting on it raised
    (the webhook stays recorded as failed, with its body, to be processed again).
    """
    body = parse_body(raw)
    envelope = mapping.parse_envelope(body)
    check_key(envelope, expected_key)
    kept, digest = body_digest(body)
    external_ids.record_hook(SYSTEM, digest, envelope.function, kept, clock())
    result = _handle_recorded(envelope, digest, connector, clock)
    logger.info(
        "support board webhook", extra={"function": envelope.function, "status": result.status, "reason": result.reason}
    )
    return replace(result, function=envelope.function)


def reprocess(digest: str, connector: Callable[[], Connector], clock: Callable[[], float]) -> WebhookResult:
    """Act again on a recorded webhook that failed (Support Board unreachable, say) or was invalid.

    The record keeps the body of such webhooks; one that was processed or ignored is answered as it was.
    """
    hook = external_ids.get_hook(SYSTEM, digest)
    if hook is None:
        raise NotFoundError(f"no recorded Support Board webhook {digest}")
    if hook.status in ("processed", "ignored") or hook.body is None:
        return WebhookResult(hook.status, hook.reason, dict(hook.result), hook.function)
    envelope = mapping.parse_envelope({**json.loads(hook.body), "key": ""})
    return replace(_handle_recorded(envelope, digest, connector, clock), function=envelope.function)


def _handle_recorded(
    envelope: mapping.Envelope, digest: str, connector: Callable[[], Connector], clock: Callable[[], float]
) -> WebhookResult:
    """Act on a recorded webhook and record how it ended (invalid, failed, or the result's status)."""
    try:
        if envelope.function not in mapping.HANDLED:
            result = _ignored("unhandled_event")
        else:
            result = connector().handle(envelope)
    except mapping.InvalidWebhookError as exc:
        external_ids.finish_hook(SYSTEM, digest, "invalid", exc.field, clock())
        raise
    except Exception as exc:
        external_ids.finish_hook(SYSTEM, digest, "failed", type(exc).__name__, clock())
        raise
    external_ids.finish_hook(SYSTEM, digest, result.status, result.reason, clock(), result.details)
    return result
