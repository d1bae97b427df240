"""Support Board's webhook: `POST /v1/connectors/support-board/webhook`, authenticated by its webhook key.

Not by an API key (api/auth.py exempts /v1/connectors/): Support Board sends its own key in the body. The key is
compared in constant time with the one in the connector's secret (docs/support-board.md).
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from emailpipe.api.context import api_context
from emailpipe.api.problems import ProblemError
from emailpipe.observability import count_with_reason, logger, metrics

router = APIGatewayHttpRouter()

MAX_WEBHOOK_BYTES = 1024 * 1024


@cache
def _client(url: str, token: str) -> Any:
    from emailpipe.connectors.support_board.client import SupportBoardClient

    # Support Board waits at most 7 s for the webhook's answer; calls back into api.php must be quicker.
    return SupportBoardClient(url, token, timeout=3.0)


@router.post("/v1/connectors/support-board/webhook")
def support_board_webhook() -> Response:
    """One Support Board webhook: 200 processed or ignored; 400 naming the bad field; 401 for a wrong key."""
    # Imported here: the API's cold start (a person waits on it) does not pay for the connector.
    from emailpipe.connectors.support_board import inbound, settings
    from emailpipe.connectors.support_board.client import SupportBoardError

    if not settings.is_configured():
        raise ProblemError("not-found", "this deployment has no Support Board connector (SupportBoardSecretName)")
    event = router.current_event
    raw = event.decoded_body or ""
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise ProblemError("too-large", f"a webhook body is at most {MAX_WEBHOOK_BYTES} bytes")
    config = settings.load_settings()
    chat = api_context().chat

    def connector() -> inbound.Connector:
        return inbound.Connector(client=_client(config.url, config.token), chat=chat)

    try:
        result = inbound.receive(raw, config.webhook_key, connector, time.time)
    except inbound.UnauthorizedError as exc:
        metrics.add_metric(name="SupportBoardWebhookAuthFailures", unit=MetricUnit.Count, value=1)
        logger.info("support board webhook refused", extra={"reason": "wrong_key"})
        raise ProblemError("unauthorized", "the webhook key is not the one configured for Support Board") from exc
    except SupportBoardError as exc:
        logger.warning("support board unreachable from the webhook", extra={"function": exc.function, "code": exc.code})
        raise ProblemError(
            "unavailable", f"Support Board's api.php answered {exc.function}: {exc.code}; the webhook is kept"
        ) from exc
    count_with_reason("SupportBoardWebhooks", result.reason or result.status)
    return Response(status_code=200, content_type="application/json", body=json.dumps(result.body()))
