"""Reply tokens: unguessable, signed, bound to the conversation and the person a notification went to, and dated.

A token is `<conversation id (12)><issue day (4)><signature (16)>`, 32 base32 characters. The issue day (days since
1970-01-01 UTC) is inside the signed part, so nobody can make an old token look new; a token expires
`token_lifetime_days` after the start of its issue day. Tokens of the first format, `<conversation id><signature>`
(28 characters, no date), still verify and count as issued at LEGACY_ISSUED_AT, the day dated tokens were rolled
out: they expire with the same lifetime from that day.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Sequence

CONVERSATION_ID_LENGTH = 12
ISSUED_LENGTH = 4  # 20 bits of days since 1970: good until the year 4840
SIGNATURE_LENGTH = 16
TOKEN_LENGTH = CONVERSATION_ID_LENGTH + ISSUED_LENGTH + SIGNATURE_LENGTH
LEGACY_TOKEN_LENGTH = CONVERSATION_ID_LENGTH + SIGNATURE_LENGTH
LEGACY_ISSUED_AT = 1_796_083_200.0  # 2026-12-01T00:00:00Z: undated tokens count as issued on the rollout day
DAY_SECONDS = 86_400
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
TOKEN_PATTERN = re.compile(rf"(?<![a-z2-7])([a-z2-7]{{{TOKEN_LENGTH}}}|[a-z2-7]{{{LEGACY_TOKEN_LENGTH}}})(?![a-z2-7])")


def new_conversation_id() -> str:
    """A random conversation id: 12 base32 characters, 60 bits."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(CONVERSATION_ID_LENGTH))


def conversation_id_from(seed: str) -> str:
    """A conversation id derived from `seed`, for conversations that must be created once per email."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:CONVERSATION_ID_LENGTH]


def _encode_day(day: int) -> str:
    chars = []
    for _ in range(ISSUED_LENGTH):
        day, digit = divmod(day, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def _decode_day(text: str) -> int:
    day = 0
    for char in text:
        day = day * 32 + _ALPHABET.index(char)
    return day


def _signature(key: bytes, conversation_id: str, recipient: str, issued: str | None = None) -> str:
    signed = (
        f"{conversation_id}:{recipient.strip().lower()}"
        if issued is None
        else f"{conversation_id}:{issued}:{recipient.strip().lower()}"
    )
    digest = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:SIGNATURE_LENGTH]


def make_token(keys: Sequence[bytes], conversation_id: str, recipient: str, issued_at: float | None = None) -> str:
    """The token for `recipient` in a conversation, issued at `issued_at` (now), signed with the current (first) key."""
    day = int((time.time() if issued_at is None else issued_at) // DAY_SECONDS)
    issued = _encode_day(max(0, min(day, 32**ISSUED_LENGTH - 1)))
    return conversation_id + issued + _signature(keys[0], conversation_id, recipient, issued)


def split_token(token: str) -> tuple[str, str]:
    """The conversation id and the signature of a token."""
    return token[:CONVERSATION_ID_LENGTH], token[-SIGNATURE_LENGTH:]


def verify_token(keys: Iterable[bytes], token: str, sender: str) -> bool:
    """True when `token` was issued to `sender` under any key still accepted (current or in its grace period).

    This checks the signature only; `expired` says whether the token is still within its lifetime.
    """
    if len(token) == TOKEN_LENGTH:
        issued: str | None = token[CONVERSATION_ID_LENGTH:-SIGNATURE_LENGTH]
    elif len(token) == LEGACY_TOKEN_LENGTH:
        issued = None
    else:
        return False
    conversation_id, signature = split_token(token)
    return any(hmac.compare_digest(_signature(key, conversation_id, sender, issued), signature) for key in keys)


def issued_at(token: str) -> float:
    """When a token was issued: the start of its (signed) issue day, or LEGACY_ISSUED_AT for an undated token."""
    if len(token) != TOKEN_LENGTH:
        return LEGACY_ISSUED_AT
    return float(_decode_day(token[CONVERSATION_ID_LENGTH:-SIGNATURE_LENGTH]) * DAY_SECONDS)


def expires_at(token: str, lifetime_days: int) -> float:
    """The moment a token stops being accepted."""
    return issued_at(token) + lifetime_days * DAY_SECONDS


def expired(token: str, now: float, lifetime_days: int) -> bool:
    """True when `token` is older than `lifetime_days` days (counted from the start of its issue day)."""
    return now >= expires_at(token, lifetime_days)


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
