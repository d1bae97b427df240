"""The persistence of powertools' idempotency utility: its own table (TTL `expiration`), not the main table,
whose stream feeds the notifier and the events function and should carry chat records only."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from emailpipe.aws import client


@cache
def persistence_layer(table_name: str) -> DynamoDBPersistenceLayer:
    """The idempotency records of the API (one per Idempotency-Key), kept 24 hours."""
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client("dynamodb"))
