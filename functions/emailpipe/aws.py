"""boto3 clients, created lazily and cached: the only place that creates them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

# Standard retry mode backs off on throttling and transient errors; SES and DynamoDB both throttle under bursts.
_BOTO_CONFIG = BotoConfig(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


_lock = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    # One session for every client: each session loads and parses botocore's endpoint and service data again.
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    """A cached boto3 client for `service`, honouring AWS_ENDPOINT_URL (the local stack) like every AWS SDK."""
    with _lock:  # a session is not safe to create clients from in several threads at once; clients are
        return _session().client(service, config=_BOTO_CONFIG)


def botocore_session() -> Any:
    """The botocore session under every boto3 client: pynamodb's connection makes its client from it too."""
    return _session()._session


@contextmanager
def creating_client() -> Iterator[None]:
    """Held while a client is made from the shared session (not safe from several threads at once)."""
    with _lock:
        yield


def reset_clients(*, keep_session: bool = False) -> None:
    """Forget cached clients, and their session unless kept (after the endpoint or credentials change)."""
    client.cache_clear()
    if not keep_session:
        _session.cache_clear()
