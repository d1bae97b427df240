"""Where the connector finds Support Board: the api.php URL (a parameter) and its secret (admin token, webhook key)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from emailpipe.aws import client
from emailpipe.config import ConfigError

_MAX_AGE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class SupportBoardSettings:
    """The api.php URL, the admin token it accepts, and the key Support Board puts in every webhook."""

    url: str
    token: str
    webhook_key: str

    def __repr__(self) -> str:  # never show the token or the key
        return f"SupportBoardSettings(url={self.url!r})"


@cache
def _provider_for(secrets_client: object) -> SecretsProvider:
    return SecretsProvider(boto3_client=secrets_client)


def _provider() -> SecretsProvider:
    # Keyed by the client, so a new endpoint (reset_clients, a new local stack) gets a new provider and cache.
    return _provider_for(client("secretsmanager"))


def parse_secret(text: str, url: str = "") -> SupportBoardSettings:
    """The secret's JSON `{"token", "webhook_key", "url"?}` (a `url` in the secret overrides the parameter)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError("the Support Board secret is not JSON") from exc
    if not isinstance(data, dict):
        raise ConfigError("the Support Board secret must be a JSON object")
    missing = [k for k in ("token", "webhook_key") if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise ConfigError("the Support Board secret lacks: " + ", ".join(missing))
    url = str(data.get("url") or url)
    if not url.startswith(("https://", "http://")):
        raise ConfigError("no Support Board URL: set the SupportBoardUrl parameter (the full URL of api.php)")
    return SupportBoardSettings(url=url, token=data["token"], webhook_key=data["webhook_key"])


def is_configured(env: Mapping[str, str] | None = None) -> bool:
    """The deployment has a Support Board connector."""
    env = os.environ if env is None else env
    return bool(env.get("SUPPORT_BOARD_SECRET_ID"))


def load_settings(env: Mapping[str, str] | None = None) -> SupportBoardSettings:
    """Read the settings (the secret is cached for five minutes, so a rotated key is picked up)."""
    env = os.environ if env is None else env
    secret_id = env.get("SUPPORT_BOARD_SECRET_ID")
    if not secret_id:
        raise ConfigError("missing environment variable: SUPPORT_BOARD_SECRET_ID (no Support Board connector)")
    return parse_secret(str(_provider().get(secret_id, max_age=_MAX_AGE_SECONDS)), env.get("SUPPORT_BOARD_URL", ""))


def reset() -> None:
    """Forget the provider and its cache (a new endpoint, e.g. a new local stack)."""
    _provider_for.cache_clear()
