"""Domain errors; names end in Error."""

from __future__ import annotations

from emailpipe.domain.models import Outcome


class EmailpipeError(Exception):
    """Base of every error this package raises on purpose."""


class NotFoundError(EmailpipeError):
    """A person, department or conversation does not exist."""


class AlreadyExistsError(EmailpipeError):
    """A person or department with that key exists already."""


class InvalidInputError(EmailpipeError):
    """A caller passed something the product does not accept; `field` names the input at fault, when one is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RejectedError(EmailpipeError):
    """An inbound email is not posted; `reason` is the recorded reason code, `status` rejected or quarantined."""

    def __init__(self, reason: str, detail: str = "", *, quarantine: bool = False) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status = Outcome.QUARANTINED if quarantine else Outcome.REJECTED


class TooLargeError(EmailpipeError):
    """An attachment or a request body is larger than accepted; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
