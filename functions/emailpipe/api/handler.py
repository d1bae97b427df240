"""The API function: API Gateway HTTP API (payload 2.0) events, routed by powertools to one router per resource."""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from emailpipe.api import problems, routes
from emailpipe.api.auth import authenticate
from emailpipe.api.context import api_context  # the first request's init (benchmarks/bench_coldstart.py runs it)
from emailpipe.observability import logger, metrics

# Most requests count nothing (ApiAuthFailures is the API's metric); an empty flush is not worth a warning each.
warnings.filterwarnings("ignore", message="No application metrics to publish")
app = APIGatewayHttpResolver(strip_prefixes=None)
# Every module of api/routes (ours, the webhooks', the connectors') is one router.
ROUTE_MODULES = tuple(
    importlib.import_module(f"{routes.__name__}.{info.name}") for info in pkgutil.iter_modules(routes.__path__)
)
for _module in ROUTE_MODULES:
    app.include_router(_module.router)
app.use(middlewares=[authenticate])


__all__ = ["api_context", "app", "lambda_handler"]


@app.exception_handler(Exception)
def _problem(exc: Exception) -> Response:
    return problems.to_response(exc)


@app.not_found
def _route_not_found(exc: Exception) -> Response:
    return problems.problem_response("route-not-found", "no route matches this method and path")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One HTTP request."""
    return app.resolve(event, context)
