"""The automatic answer: a queued request (store/auto_answers.py) -> one polite email from the conversation's inbox.

The inbound path queues it for a reply it does not post (a closed conversation under closed_reply=reject, or an
archived one) after rejecting machine mail; the queue caps it at one per sender and day. Here it is sent at most once
(a delivery claim), and never to a bouncing or unsubscribed person or to an inbox's own address.
"""

from __future__ import annotations

import secrets

from emailpipe.domain.inboxes import Inbox, all_inboxes, is_inbox_address, of_conversation
from emailpipe.mail.compose import AutoAnswerMail, build_auto_answer
from emailpipe.notifier.logic import Delivery, NotifierContext, PermanentSendError
from emailpipe.observability import hash_address, logger
from emailpipe.store import repo
from emailpipe.store.auto_answers import AutoAnswer, claim_key, day_of


def send_auto_answer(request: AutoAnswer, ctx: NotifierContext, *, claim: str | None = None) -> Delivery:
    """Send the answer once (`claim`: its delivery claim key; by default the recipient's key of today)."""
    now = ctx.clock()
    recipient = request.recipient.strip().lower()
    claim = claim or claim_key(recipient, day_of(now))
    settings = repo.cached_settings()
    inboxes = all_inboxes(ctx.default_inbox, settings)
    reason = _blocked(recipient, inboxes)
    if reason is not None:
        repo.record_skip(claim, recipient, request.conversation_id, reason, now)
        logger.info("auto answer skipped", extra={"recipient": hash_address(recipient), "reason": reason})
        return Delivery(recipient, f"skipped_{reason}")
    if not repo.claim_delivery(claim, recipient, request.conversation_id, now):
        return Delivery(recipient, "duplicate")
    inbox = of_conversation(inboxes, request.inbox)
    mail_message_id = f"<auto-{secrets.token_hex(12)}@{inbox.domain}>"
    mail = build_auto_answer(
        AutoAnswerMail(
            from_name=inbox.brand_name,
            from_address=inbox.sender,
            to_name=request.recipient_name,
            to_address=recipient,
            subject=request.subject,
            message_id=mail_message_id,
            reason=request.reason,
            inbox_address=inbox.address,
            in_reply_to=request.email_message_id,
            date=now,
        )
    )
    try:
        ses_id = ctx.send(bytes(mail), recipient, inbox.sender)
    except PermanentSendError as exc:
        repo.finish_delivery(claim, recipient, status="failed_permanent", now=ctx.clock(), error=str(exc))
        logger.warning("auto answer refused", extra={"recipient": hash_address(recipient), "error": str(exc)})
        return Delivery(recipient, "failed")
    except Exception:
        # The stream retries the record; the released claim lets the retry send.
        repo.finish_delivery(claim, recipient, status="failed", now=ctx.clock())
        raise
    repo.finish_delivery(
        claim, recipient, status="sent", now=ctx.clock(), mail_message_id=mail_message_id, ses_message_id=ses_id
    )
    logger.info(
        "auto answer sent",
        extra={"recipient": hash_address(recipient), "reason": request.reason, "conversation": request.conversation_id},
    )
    return Delivery(recipient, "sent")


def _blocked(recipient: str, inboxes: tuple[Inbox, ...]) -> str | None:
    """Why no answer may go to `recipient`, or None."""
    if is_inbox_address(inboxes, recipient):
        return "inbox_address"  # an answer to ourselves would come back in as mail
    person = repo.get_person(recipient)
    if person is not None and person.bouncing:
        return "bouncing"
    if person is not None and person.unsubscribed:
        return "unsubscribed"
    return None
