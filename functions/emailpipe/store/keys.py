"""The token signing keys, read from Secrets Manager through powertools parameters (cached)."""

from __future__ import annotations

import json
from functools import cache

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from emailpipe.aws import client

_MAX_AGE_SECONDS = 300


@cache
def _provider() -> SecretsProvider:
    return SecretsProvider(boto3_client=client("secretsmanager"))


def parse_keyring(secret: str) -> tuple[bytes, ...]:
    """Keys from the secret: a plain string, or JSON {"current": k, "previous": [k, ...]} while rolling a key."""
    text = secret.strip()
    if text.startswith("{"):
        data = json.loads(text)
        keys = [data["current"], *data.get("previous", [])]
    else:
        keys = [text]
    return tuple(k.encode("utf-8") for k in keys if k)


def token_keys(secret_id: str) -> tuple[bytes, ...]:
    """The current key first, then keys still accepted during a rotation's grace period."""
    value = _provider().get(secret_id, max_age=_MAX_AGE_SECONDS)
    return parse_keyring(str(value))


def reset() -> None:
    """Forget the provider and its cache (a new endpoint, e.g. a new local stack)."""
    _provider.cache_clear()
