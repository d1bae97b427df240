"""Why an address is marked bouncing: the evidence a mark records, and when it was cleared (pure)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from emailpipe.records import Record

# Where a mark came from: a delivery report we received that quotes our notification, SES's own bounce
# notification (the feedback function), or a person (`emailpipe person set --bouncing on`).
SOURCES = ("inbound_report", "ses_feedback", "hand")


@dataclass(frozen=True, repr=False, eq=False)
class BounceEvidence(Record):
    """The notification that bounced and the report that said so; `cleared_*` once the mark was lifted."""

    source: str
    marked_at: float
    notification_message_id: str | None = None  # our Message-ID of the notification that bounced
    conversation_id: str | None = None  # the conversation that notification was about
    report_s3_key: str | None = None  # the delivery report's raw mail (and its inbound outcome)
    ses_message_id: str | None = None  # SES's id of the send that bounced (SES feedback)
    feedback_id: str | None = None  # SES's id of the bounce notification
    status: str | None = None  # the report's status: a DSN's `5.1.1`, SES's `Permanent/General`
    cleared_at: float | None = None
    cleared_by: str | None = None  # "delivery" (a later successful delivery) or "hand"
    cleared_detail: str | None = None  # the SES id of the delivered send

    def cleared(self, at: float, by: str, detail: str | None = None) -> BounceEvidence:
        """This evidence with the mark lifted at `at`."""
        return replace(self, cleared_at=at, cleared_by=by, cleared_detail=detail)

    def as_dict(self) -> dict[str, Any]:
        """The fields that have a value (the stored map, and the JSON `person show` prints)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BounceEvidence:
        """The evidence of a stored map; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        for key in ("marked_at", "cleared_at"):
            if values.get(key) is not None:
                values[key] = float(values[key])
        values.setdefault("source", "hand")
        values.setdefault("marked_at", 0.0)
        return cls(**values)
