"""Reply tokens: unguessable, signed, and bound to the conversation and the person a notification went to."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence

CONVERSATION_ID_LENGTH = 12
SIGNATURE_LENGTH = 16
TOKEN_LENGTH = CONVERSATION_ID_LENGTH + SIGNATURE_LENGTH
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
TOKEN_PATTERN = re.compile(rf"(?<![a-z2-7])([a-z2-7]{{{TOKEN_LENGTH}}})(?![a-z2-7])")


def new_conversation_id() -> str:
    """A random conversation id: 12 base32 characters, 60 bits."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(CONVERSATION_ID_LENGTH))


def conversation_id_from(seed: str) -> str:
    """A conversation id derived from `seed`, for conversations that must be created once per email."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:CONVERSATION_ID_LENGTH]


def _signature(key: bytes, conversation_id: str, recipient: str) -> str:
    digest = hmac.new(key, f"{conversation_id}:{recipient.strip().lower()}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:SIGNATURE_LENGTH]


def make_token(keys: Sequence[bytes], conversation_id: str, recipient: str) -> str:
    """The token for `recipient` in a conversation, signed with the current (first) key."""
    return conversation_id + _signature(keys[0], conversation_id, recipient)


def split_token(token: str) -> tuple[str, str]:
    """The conversation id and the signature of a token."""
    return token[:CONVERSATION_ID_LENGTH], token[CONVERSATION_ID_LENGTH:]


def verify_token(keys: Iterable[bytes], token: str, sender: str) -> bool:
    """True when `token` was issued to `sender` under any key still accepted (current or in its grace period)."""
    if len(token) != TOKEN_LENGTH:
        return False
    conversation_id, signature = split_token(token)
    return any(hmac.compare_digest(_signature(key, conversation_id, sender), signature) for key in keys)


def find_token(text: str | None) -> str | None:
    """The first token-shaped word in a display name, local part or Message-ID."""
    if not text:
        return None
    match = TOKEN_PATTERN.search(text.lower())
    return match.group(1) if match else None


def display_name(brand: str, token: str) -> str:
    """The From display name of a notification: `AiX| <token>`."""
    return f"{brand}| {token}"


def plus_address(piping_address: str, token: str) -> str:
    """The Reply-To address carrying the token: support+<token>@domain."""
    local, _, domain = piping_address.partition("@")
    return f"{local}+{token}@{domain}"


def token_from_plus_address(address: str, piping_address: str) -> str | None:
    """The token of support+<token>@domain when the address is a plus-address of the piping address."""
    local, _, domain = address.strip().lower().partition("@")
    base_local, _, base_domain = piping_address.strip().lower().partition("@")
    if domain != base_domain or not local.startswith(base_local + "+"):
        return None
    return find_token(local[len(base_local) + 1 :])


def message_id(token: str, domain: str) -> str:
    """A Message-ID for a notification that carries its token, so In-Reply-To/References can match it."""
    return f"<{token}.{secrets.token_hex(8)}@{domain}>"
