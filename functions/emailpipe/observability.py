"""Logger, metrics and tracer: the one place that creates them."""

from __future__ import annotations

import hashlib

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger(service="emailpipe")
metrics = Metrics(namespace="emailpipe", service="emailpipe")


def hash_address(address: str | None) -> str:
    """A short, stable pseudonym for an email address, so logs never hold the address itself."""
    if not address:
        return "-"
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:12]


def count_with_reason(name: str, reason: str) -> None:
    """Emit one count of `name` with a `reason` dimension (its own EMF record, so reasons do not mix)."""
    if is_metrics_disabled():
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace="emailpipe") as metric:
        metric.add_dimension(name="reason", value=reason)
