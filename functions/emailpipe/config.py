"""Deployment settings, read once from the environment into one typed object."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from emailpipe.records import Record


class ConfigError(RuntimeError):
    """A required environment variable is missing."""


@dataclass(frozen=True, repr=False, eq=False)
class Config(Record):
    """Names of the resources a function works with, as template.yaml passes them."""

    table_name: str
    mail_bucket: str
    inbound_prefix: str
    piping_address: str
    brand_name: str
    token_secret_id: str
    attachment_prefix: str = "attachments/"
    digest_queue_url: str | None = None
    configuration_set: str | None = None


_REQUIRED = {
    "table_name": "TABLE_NAME",
    "mail_bucket": "MAIL_BUCKET",
    "piping_address": "PIPING_ADDRESS",
    "token_secret_id": "TOKEN_SECRET_ID",
}


def config_from_env(env: os._Environ[str] | dict[str, str] | None = None) -> Config:
    """Build the config from environment variables, naming every missing one."""
    env = os.environ if env is None else env
    missing = [name for name in _REQUIRED.values() if not env.get(name)]
    if missing:
        raise ConfigError("missing environment variables: " + ", ".join(missing))
    return Config(
        table_name=env["TABLE_NAME"],
        mail_bucket=env["MAIL_BUCKET"],
        inbound_prefix=env.get("INBOUND_PREFIX", "inbound/"),
        piping_address=env["PIPING_ADDRESS"].strip().lower(),
        brand_name=env.get("BRAND_NAME", "AiX"),
        token_secret_id=env["TOKEN_SECRET_ID"],
        digest_queue_url=env.get("DIGEST_QUEUE_URL") or None,
        configuration_set=env.get("SES_CONFIGURATION_SET") or None,
    )


@lru_cache(maxsize=1)
def get_config() -> Config:
    """The process-wide config, read on first use (once per cold start)."""
    return config_from_env()
