"""Inboxes: the piping addresses one deployment serves, each with its brand, From identity and defaults (pure).

The deployment's default inbox comes from the template parameters (PIPING_ADDRESS, BRAND_NAME) and always exists;
more inboxes are kept with the settings (`emailpipe inbox add`, `POST /v1/inboxes`). An inbox is named by its
address, which is where replies come in: its domain is the reply domain (the Reply-To plus-address and the
notifications' Message-IDs). Notifications of a conversation come from its inbox's From identity (`from_address`,
the address itself unless set). `convert_all_emails` and `delimiter` of an inbox, when set, win over the settings
of the same name; `department` is given to the conversations that mail to the inbox opens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from emailpipe.records import Record

if TYPE_CHECKING:
    from emailpipe.domain.models import Settings


@dataclass(frozen=True, repr=False, eq=False)
class Inbox(Record):
    """One piping address and what differs per inbox."""

    address: str  # lower-case; where replies come in (the SES receipt rule's recipient)
    brand_name: str = "AiX"  # the display-name prefix of notifications: `AiX| <token>`
    from_address: str | None = None  # the From identity of notifications; None: the address itself
    department: str | None = None  # given to conversations this inbox opens
    convert_all_emails: bool | None = None  # None: the setting of the same name
    delimiter: bool | None = None  # None: the setting of the same name

    @property
    def sender(self) -> str:
        """The address notifications come from."""
        return self.from_address or self.address

    @property
    def domain(self) -> str:
        """The reply domain: the plus-address and Message-ID domain of its notifications."""
        return self.address.rpartition("@")[2]


def base_address(address: str) -> str:
    """The address without its plus tag, lower-cased: `support+abc@x` -> `support@x`."""
    local, at, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}{at}{domain}" if at else address.strip().lower()


def all_inboxes(default: Inbox, settings: Settings) -> tuple[Inbox, ...]:
    """The default inbox (first) and every stored one; a stored inbox with the default's address replaces it."""
    stored = {inbox.address: inbox for inbox in settings.inboxes}
    first = stored.pop(default.address, default)
    return (first, *stored.values())


def find(inboxes: Iterable[Inbox], address: str | None) -> Inbox | None:
    """The inbox whose address is `address` or a plus-address of it, or None."""
    if not address:
        return None
    wanted = base_address(address)
    return next((inbox for inbox in inboxes if inbox.address == wanted), None)


def is_inbox_address(inboxes: Iterable[Inbox], address: str) -> bool:
    """True for any inbox's address or plus-address, and any inbox's From identity: never a sender."""
    wanted = base_address(address)
    return any(wanted in (inbox.address, base_address(inbox.sender)) for inbox in inboxes)


def all_addressed(inboxes: Sequence[Inbox], recipients: Iterable[str]) -> tuple[Inbox, ...]:
    """The inboxes among an email's recipients (To, then Cc), in their order; () when Bcc'd or relayed."""
    return tuple(dict.fromkeys(inbox for address in recipients if (inbox := find(inboxes, address)) is not None))


def addressed(inboxes: Sequence[Inbox], recipients: Iterable[str]) -> Inbox | None:
    """The first inbox among an email's recipients (To, then Cc), or None (Bcc'd, or relayed)."""
    return next(iter(all_addressed(inboxes, recipients)), None)


def of_conversation(inboxes: Sequence[Inbox], inbox_address: str | None) -> Inbox:
    """The inbox a conversation belongs to; the default (first) when it has none or its inbox was removed."""
    return find(inboxes, inbox_address) or inboxes[0]


def effective_settings(settings: Settings, inbox: Inbox) -> Settings:
    """The settings with the inbox's own convert-all and delimiter choices applied."""
    changes: dict[str, Any] = {}  # field -> value, for dataclasses.replace
    if inbox.convert_all_emails is not None:
        changes["convert_all_emails"] = inbox.convert_all_emails
    if inbox.delimiter is not None:
        changes["delimiter"] = inbox.delimiter
    return replace(settings, **changes) if changes else settings
