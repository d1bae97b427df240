"""Reading the emails the local SES sent, as the integration tests look at them."""

from __future__ import annotations

from email import message_from_bytes, message_from_string, policy

from emailpipe.domain import tokens


def header(raw: str | bytes, name: str) -> str:
    """One header of a raw email, decoded ("" when absent)."""
    mail = message_from_bytes(raw) if isinstance(raw, bytes) else message_from_string(raw, policy=policy.default)
    return str(mail[name] or "")


def token_in(raw: str) -> str:
    """The reply token in a notification's From display name."""
    token = tokens.find_token(header(raw, "From"))
    assert token is not None
    return token
