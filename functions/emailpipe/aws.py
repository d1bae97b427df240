"""boto3 clients, created lazily and cached: the only place that creates them."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

# Standard retry mode backs off on throttling and transient errors; SES and DynamoDB both throttle under bursts.
_BOTO_CONFIG = BotoConfig(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


@cache
def client(service: str) -> Any:
    """A cached boto3 client for `service`, honouring AWS_ENDPOINT_URL (the local stack) like every AWS SDK."""
    return boto3.session.Session().client(service, config=_BOTO_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (after the endpoint or credentials change, e.g. between local stacks)."""
    client.cache_clear()
