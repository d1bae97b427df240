"""Raw mail, attachments and long message texts in the mail bucket: the only code that talks to S3.

Every object is stored with `Content-Disposition: attachment`, and an active one (HTML, SVG, scripts, programs,
markup disguised as a PDF: domain/attachments.py) with the neutral `application/octet-stream`. S3 cannot add
`X-Content-Type-Options: nosniff` per object, so the bucket is never served as a website (public access is
blocked) and the only links given out are presigned GETs whose signed `response-content-disposition` forces a
download, with `response-content-type` neutral for active files: changing either breaks the signature.
"""

from __future__ import annotations

from emailpipe.aws import client
from emailpipe.domain import attachments
from emailpipe.domain.models import Message

TEXT_PREFIX = "messages/"
# A text longer than this (UTF-8) lives in S3; DynamoDB items stop at 400 KB, attachments' metadata included.
INLINE_TEXT_BYTES = 64 * 1024
PREVIEW_CHARS = 4000


class TooLargeError(Exception):
    """The stored object is larger than the caller accepts."""

    def __init__(self, size: int) -> None:
        super().__init__(f"object of {size} bytes")
        self.size = size


def read_object(bucket: str, key: str, max_bytes: int) -> bytes:
    """The bytes of an object, refusing (before download) one larger than `max_bytes`."""
    return read_object_with_metadata(bucket, key, max_bytes)[0]


def read_object_with_metadata(bucket: str, key: str, max_bytes: int) -> tuple[bytes, dict[str, str]]:
    """`read_object` and the object's user metadata (x-amz-meta-*, names lower-case without the prefix)."""
    s3 = client("s3")
    head = s3.head_object(Bucket=bucket, Key=key)
    size = int(head["ContentLength"])
    if size > max_bytes:
        raise TooLargeError(size)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read(), dict(head.get("Metadata") or {})


def _name_in(key: str) -> str:
    """The file name in an attachment key (`.../<index>-<name>`) or the key's last segment."""
    last = key.rsplit("/", 1)[-1]
    index, dash, name = last.partition("-")
    return name if dash and index.isdigit() and name else last


def put_object(
    bucket: str,
    key: str,
    data: bytes,
    content_type: str,
    filename: str | None = None,
    metadata: dict[str, str] | None = None,
) -> None:
    """Store bytes (encrypted at rest by the bucket's default encryption) as a download; active types neutral.

    `metadata` becomes the object's user metadata (ASCII names and values)."""
    name = filename or _name_in(key)
    if attachments.is_active(name, content_type, data[: attachments.SNIFF_BYTES]):
        content_type = attachments.NEUTRAL_CONTENT_TYPE
    client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ContentType=content_type,
        ContentDisposition=attachments.download_disposition(name),
        **({"Metadata": metadata} if metadata else {}),
    )


def presigned_url(
    bucket: str, key: str, expires_in: int = 7 * 24 * 3600, filename: str | None = None, active: bool = False
) -> str:
    """A link to an object that expires and always downloads (as `application/octet-stream` when `active`)."""
    params = {
        "Bucket": bucket,
        "Key": key,
        "ResponseContentDisposition": attachments.download_disposition(filename or _name_in(key)),
    }
    if active:
        params["ResponseContentType"] = attachments.NEUTRAL_CONTENT_TYPE
    return client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)


def text_key(conversation_id: str, message_id: str) -> str:
    """Where the full text of a long message lives."""
    return f"{TEXT_PREFIX}{conversation_id}/{message_id}.txt"


def trimmed_key(conversation_id: str, message_id: str) -> str:
    """Where the part of an email that reply extraction cut (quoted history, signature) is kept."""
    return f"{TEXT_PREFIX}{conversation_id}/{message_id}.trimmed.txt"


def full_text(bucket: str, message: Message) -> str:
    """A message's whole text: read from S3 when the item keeps only a preview (`text_s3_key`)."""
    if not message.text_s3_key:
        return message.text
    data = read_object(bucket, message.text_s3_key, 64 * 1024 * 1024)
    return data.decode("utf-8")


def is_long_text(text: str) -> bool:
    """True when a message text is too long to keep in its DynamoDB item."""
    return len(text) > INLINE_TEXT_BYTES // 4 and len(text.encode("utf-8")) > INLINE_TEXT_BYTES


def preview(text: str) -> str:
    """The start of a long text, cut at a word, for the message item (the whole text is in S3)."""
    head = text[:PREVIEW_CHARS]
    cut = head.rstrip().rfind(" ", PREVIEW_CHARS // 2)
    return (head[:cut] if cut > 0 else head).rstrip() + " …"
