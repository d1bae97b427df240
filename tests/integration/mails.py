"""Reading the emails the local SES sent, as the integration tests look at them."""

from __future__ import annotations

from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage
from email.utils import make_msgid

from emailpipe.domain import tokens


def header(raw: str | bytes, name: str) -> str:
    """One header of a raw email, decoded ("" when absent)."""
    mail = message_from_bytes(raw) if isinstance(raw, bytes) else message_from_string(raw, policy=policy.default)
    return str(mail[name] or "")


def token_in(raw: str) -> str:
    """The reply token in a notification's From display name."""
    token = tokens.find_token(header(raw, "From"))
    assert token is not None
    return token


CUSTOMER = "erin@buyer.example"


def gmail_forward(
    sender: str, name: str, to: str, note: str = "Please handle.", customer: str = CUSTOMER, **headers: str
) -> bytes:
    """A forward as Gmail writes it: the note, the forwarded header block, Erin's original and its photo."""
    mail = EmailMessage()
    mail["From"] = f"{name} <{sender}>"
    mail["To"] = to
    mail["Subject"] = "Fwd: Parcel 7731 arrived broken"
    mail["Date"] = "Tue, 01 Dec 2026 09:30:00 +0000"
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    for key, value in headers.items():
        mail[key.replace("_", "-")] = value
    mail.set_content(
        f"{note}\n\n"
        "---------- Forwarded message ---------\n"
        f"From: Erin Buyer <{customer}>\n"
        "Date: Mon, 30 Nov 2026 at 18:02\n"
        "Subject: Parcel 7731 arrived broken\n"
        f"To: {name} <{sender}>\n"
        "\n"
        "Hello,\n\nmy parcel 7731 arrived with a broken lid. A photo is attached.\n\nErin\n"
    )
    mail.add_attachment(b"\xff\xd8\xff\xe0 photo", maintype="image", subtype="jpeg", filename="lid.jpg")
    return bytes(mail)
