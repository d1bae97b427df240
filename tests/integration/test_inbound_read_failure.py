"""An email whose raw mail cannot be read has an outcome while SQS retries it (issue 16, the fault suite)."""

from __future__ import annotations

import time

from emailpipe.aws import client
from emailpipe.cli.main import deliver_raw_email
from emailpipe.local.mailclient import reply_to
from emailpipe.store import repo
from tests.faults.injector import error_response


def test_an_email_whose_raw_mail_cannot_be_read_is_quarantined_processing_failed_then_stored_once_it_can(env, world):
    notification = env.notification_to(world, world.offline_agent)
    s3 = client("s3")

    def refuse(request, **_):  # S3 answers every GetObject 403 (a key policy that lost the function's role, say)
        return error_response(s3.meta.service_model, "GetObject", request.url, 403, "AccessDenied", "Access Denied")

    s3.meta.events.register("before-send.s3.GetObject", refuse)
    try:
        key = deliver_raw_email(env.stack.info, reply_to(notification, world.offline_agent, "Bob", "On it.\n\nBob"))
        env.drain()
        failing = repo.get_inbound(key)
    finally:
        s3.meta.events.unregister("before-send.s3.GetObject", refuse)

    # Before, nothing was recorded: inbound-log did not show the email and `emailpipe redrive` refused it.
    assert failing is not None
    assert (failing.status.value, failing.reason, failing.details) == (
        "quarantined",
        "processing_failed",
        {"error": "AccessDenied"},
    )
    time.sleep(env.stack.triggers.visibility_timeout + 0.5)  # SQS gives the message back
    env.drain()
    assert repo.get_inbound(key).status.value == "stored"
    assert len(env.outbox(world.user)) == 1
