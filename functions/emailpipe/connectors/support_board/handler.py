"""SupportBoardFunction: SQS batch of `message.created` events (EventBridge rule: source email) -> send-message."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from emailpipe.batch import process_partial_response, sqs_id
from emailpipe.chat import ChatApi
from emailpipe.config import get_config
from emailpipe.connectors.support_board.client import SupportBoardClient
from emailpipe.connectors.support_board.outbound import Poster
from emailpipe.connectors.support_board.settings import load_settings
from emailpipe.observability import logger, metrics, traced
from emailpipe.store import blobs, repo

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def _attachment_links(conversation_id: str, message_id: str) -> Sequence[tuple[str, str]]:
    """Links to an emailed message's attachments (they expire with the link-expiry setting, at most 7 days)."""
    config = get_config()
    expiry = min(repo.cached_settings().link_expiry_seconds, 7 * 24 * 3600)
    for message in repo.list_messages(conversation_id):
        if message.id == message_id:
            bucket = config.mail_bucket
            return [(a.filename, blobs.presigned_url(bucket, a.s3_key, expiry)) for a in message.attachments]
    return []


def _full_text(conversation_id: str, message_id: str) -> str:
    """The whole text of a long emailed message (the event carries its preview)."""
    config = get_config()
    chat = ChatApi(mail_bucket=config.mail_bucket, attachment_prefix=config.attachment_prefix)
    for message in repo.list_messages(conversation_id):
        if message.id == message_id:
            return chat.with_full_text(message).text
    raise LookupError(f"message {message_id} is not in conversation {conversation_id}")


def poster() -> Poster:
    """The poster of this deployment, built once per cold start (again when the configuration changes)."""
    config = get_config()
    return _poster(config.table_name, config.mail_bucket, os.environ.get("SUPPORT_BOARD_SECRET_ID", ""))


@cache
def _poster(table_name: str, mail_bucket: str, secret_id: str) -> Poster:
    config = get_config()
    repo.configure(table_name)
    settings = load_settings()
    return Poster(
        client=SupportBoardClient(settings.url, settings.token),
        chat=ChatApi(mail_bucket=mail_bucket, attachment_prefix=config.attachment_prefix),
        attachment_links=_attachment_links,
        full_text=_full_text,
        clock=time.time,
        lease_seconds=float(os.environ.get("SUPPORT_BOARD_LEASE_SECONDS", "120")),
    )


def handle_record(record: dict[str, Any]) -> str:
    """One SQS message: an EventBridge event whose detail is emailpipe's `message.created` event."""
    event = json.loads(record["body"])
    detail = event.get("detail", event)
    if isinstance(detail, str):
        detail = json.loads(detail)
    outcome = poster().post(detail)
    logger.info("support board outcome", extra={"outcome": outcome, "event_id": detail.get("id")})
    name = "SupportBoardPosts" if outcome == "posted" else "SupportBoardSkips"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return outcome


@traced
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Post each emailed message into Support Board; only the records that failed are retried."""
    return process_partial_response(event, handle_record, sqs_id)
