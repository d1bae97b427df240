"""The events and webhook functions' settings, read once per cold start from what template.yaml passes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from emailpipe.config import ConfigError


@dataclass(frozen=True, slots=True)
class EventsSettings:
    """Resource names and the webhook knobs."""

    table_name: str
    event_bus_name: str | None
    webhook_queue_url: str | None
    # Local stack only (never set by the template): http and 127.0.0.1 URLs are allowed.
    allow_loopback: bool = False
    # Local stack only: multiplies the retry delays (0 = retry at once), so tests see retries without waiting.
    backoff_scale: float = 1.0
    # How long a function reuses the subscription list it read (new or removed subscriptions take this long).
    subscription_cache_seconds: float = 30.0


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def settings_from_env(env: dict[str, str] | None = None) -> EventsSettings:
    """Build the settings, naming a missing variable."""
    env = dict(os.environ) if env is None else env
    if not env.get("TABLE_NAME"):
        raise ConfigError("missing environment variables: TABLE_NAME")
    return EventsSettings(
        table_name=env["TABLE_NAME"],
        event_bus_name=env.get("EVENT_BUS_NAME") or None,
        webhook_queue_url=env.get("WEBHOOK_QUEUE_URL") or None,
        allow_loopback=_flag(env.get("WEBHOOK_ALLOW_LOOPBACK")),
        backoff_scale=float(env.get("WEBHOOK_BACKOFF_SCALE") or 1.0),
        subscription_cache_seconds=float(env.get("WEBHOOK_SUBSCRIPTION_CACHE_SECONDS") or 30.0),
    )


@cache
def events_settings() -> EventsSettings:
    """The process-wide settings (once per cold start)."""
    return settings_from_env()
