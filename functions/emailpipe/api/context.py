"""What the API function works with, read once per cold start: the chat side, queue URLs, the idempotency table."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from emailpipe.chat import ChatApi
from emailpipe.config import get_config
from emailpipe.domain.inboxes import Inbox
from emailpipe.store import repo


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The API function's resources, named by template.yaml's environment."""

    chat: ChatApi
    idempotency_table: str
    inbound_queue_url: str
    dead_letter_queues: dict[str, str]
    local: bool


@cache
def api_context() -> ApiContext:
    """Read the configuration and point the store at the table (once)."""
    config = get_config()
    repo.configure(config.table_name)
    missing = [name for name in ("IDEMPOTENCY_TABLE", "INBOUND_QUEUE_URL") if not os.environ.get(name)]
    if missing:
        from emailpipe.config import ConfigError

        raise ConfigError("missing environment variables: " + ", ".join(missing))
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    return ApiContext(
        chat=ChatApi(
            mail_bucket=config.mail_bucket,
            attachment_prefix=config.attachment_prefix,
            default_inbox=Inbox(address=config.piping_address, brand_name=config.brand_name),
        ),
        idempotency_table=os.environ["IDEMPOTENCY_TABLE"],
        inbound_queue_url=os.environ["INBOUND_QUEUE_URL"],
        dead_letter_queues={
            name: os.environ.get(variable, "")
            for name, variable in (
                ("InboundDeadLetterQueue", "INBOUND_DLQ_URL"),
                ("NotifierDeadLetterQueue", "NOTIFIER_DLQ_URL"),
                ("DigestDeadLetterQueue", "DIGEST_DLQ_URL"),
            )
        },
        local=endpoint.startswith(("http://127.", "http://localhost")),
    )


def reset() -> None:
    """Forget the cached context (the local stack was provisioned again)."""
    api_context.cache_clear()
    get_config.cache_clear()
    from emailpipe.api import idempotency

    idempotency.reset()


def chat() -> ChatApi:
    """The chat side of this deployment."""
    return api_context().chat
