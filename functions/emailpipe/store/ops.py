"""Queues and metrics the chat side reads or feeds: the re-drive message, dead-letter depths, CloudWatch sums."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from emailpipe.aws import client


def send_redrive(queue_url: str, bucket: str, s3_key: str) -> None:
    """Queue an S3 event for an email already stored, as the bucket notification would."""
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Redrive",
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote(s3_key)}},
            }
        ]
    }
    client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))


def queue_depths(urls: Mapping[str, str]) -> dict[str, int]:
    """The approximate number of visible messages of each named queue."""
    depths = {}
    for name, url in urls.items():
        attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        depths[name] = int(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))
    return depths


def metric_sums(names: Sequence[str], since: float, namespace: str = "emailpipe") -> dict[str, float]:
    """The sum of each metric (service dimension emailpipe) since a time."""
    queries = [
        {
            "Id": f"m{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": "service", "Value": "emailpipe"}],
                },
                "Period": 3600,
                "Stat": "Sum",
            },
        }
        for i, name in enumerate(names)
    ]
    response = client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=datetime.fromtimestamp(since, UTC), EndTime=datetime.now(UTC)
    )
    values = {r["Id"]: sum(r.get("Values", [])) for r in response["MetricDataResults"]}
    return {name: values.get(f"m{i}", 0.0) for i, name in enumerate(names)}


def presigned_put_url(bucket: str, key: str, content_type: str, expires_in: int) -> str:
    """A link that lets its holder upload one object under `key` until it expires."""
    return str(
        client("s3").generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": content_type}, ExpiresIn=expires_in
        )
    )


def object_size(bucket: str, key: str) -> int | None:
    """The size of an object, or None when there is none."""
    from botocore.exceptions import ClientError

    try:
        return int(client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
