"""Raw mail and attachments in the mail bucket: the only code that talks to S3."""

from __future__ import annotations

from emailpipe.aws import client


class TooLargeError(Exception):
    """The stored object is larger than the caller accepts."""

    def __init__(self, size: int) -> None:
        super().__init__(f"object of {size} bytes")
        self.size = size


def read_object(bucket: str, key: str, max_bytes: int) -> bytes:
    """The bytes of an object, refusing (before download) one larger than `max_bytes`."""
    s3 = client("s3")
    size = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    if size > max_bytes:
        raise TooLargeError(size)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def put_object(bucket: str, key: str, data: bytes, content_type: str) -> None:
    """Store bytes (encrypted at rest by the bucket's default encryption)."""
    client("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)


def presigned_url(bucket: str, key: str, expires_in: int = 7 * 24 * 3600) -> str:
    """A link to an object that expires."""
    return client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )
