"""Logger, metrics and tracer: the one place that creates them."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger(service="emailpipe")
metrics = Metrics(namespace="emailpipe", service="emailpipe")

F = TypeVar("F", bound=Callable[..., Any])


def hash_address(address: str | None) -> str:
    """A short, stable pseudonym for an email address, so logs never hold the address itself."""
    if not address:
        return "-"
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:12]


def count_with_reason(name: str, reason: str) -> None:
    """Count `name` once overall (for alarms) and once with a `reason` dimension (for the dashboard)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if is_metrics_disabled():
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace="emailpipe") as metric:
        metric.add_dimension(name="reason", value=reason)


def traced(handler: F) -> F:
    """X-Ray tracing of a handler, only when EMAILPIPE_TRACING=true: the Tracer (and the X-Ray SDK) is not even
    imported otherwise, because its import costs cold-start time on every invocation path."""
    if os.environ.get("EMAILPIPE_TRACING", "").lower() != "true":
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer(service="emailpipe").capture_lambda_handler(handler, capture_response=False)  # type: ignore[return-value]
