"""The local DynamoDB answers a Query as DynamoDB does: one partition's items in key order, pages that join up,
reverse order, index queries and filters; the same items a Scan finds, however many other partitions the table has.

The local server starts a Query from the partition it names instead of moto's sort of the whole table (which made
every read slower as the table grew); these pin the answers that shortcut must keep.
"""

from __future__ import annotations

import pytest

from emailpipe.aws import client


@pytest.fixture()
def table(env):
    name = env.stack.info.outputs["TableName"]
    dynamodb = client("dynamodb")
    for p in range(6):
        for s in (3, 1, 10, 2, 7):
            item = {
                "pk": {"S": f"QUERY#{p}"},
                "sk": {"S": f"MSG#{s:03d}"},
                "n": {"N": str(s)},
                "gsi1pk": {"S": f"QUERYIDX#{s % 2}"},
                "gsi1sk": {"S": f"{p}-{s:03d}"},
            }
            dynamodb.put_item(TableName=name, Item=item)
    # An index key of another type that looks the same must not match.
    dynamodb.put_item(
        TableName=name,
        Item={"pk": {"S": "QUERY#odd"}, "sk": {"S": "X"}, "gsi1pk": {"S": "QUERYIDX#1 "}, "gsi1sk": {"S": "z"}},
    )
    return name


def _scan(name: str, attr: str, value: str) -> list[dict]:
    dynamodb = client("dynamodb")
    items, start = [], None
    while True:
        kwargs = {"ExclusiveStartKey": start} if start else {}
        page = dynamodb.scan(TableName=name, **kwargs)
        items += [i for i in page["Items"] if i.get(attr, {}).get("S") == value]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def _query_pages(name: str, limit: int, **kwargs) -> list[dict]:
    dynamodb = client("dynamodb")
    items, start = [], None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = dynamodb.query(TableName=name, Limit=limit, **kwargs, **extra)
        assert len(page["Items"]) <= limit
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def test_a_table_query_reads_its_partition_in_key_order_over_pages_and_backwards(table):
    key = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "QUERY#4"}}}
    expected = sorted(_scan(table, "pk", "QUERY#4"), key=lambda i: i["sk"]["S"])
    assert [i["sk"]["S"] for i in expected] == ["MSG#001", "MSG#002", "MSG#003", "MSG#007", "MSG#010"]
    assert client("dynamodb").query(TableName=table, **key)["Items"] == expected
    assert _query_pages(table, 2, **key) == expected
    assert _query_pages(table, 2, ScanIndexForward=False, **key) == expected[::-1]
    ranged = client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        FilterExpression="n > :two",
        ExpressionAttributeValues={
            ":p": {"S": "QUERY#4"},
            ":a": {"S": "MSG#002"},
            ":b": {"S": "MSG#007"},
            ":two": {"N": "2"},
        },
    )["Items"]
    assert [i["sk"]["S"] for i in ranged] == ["MSG#003", "MSG#007"]
    assert (
        client("dynamodb").query(
            TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "QUERY#none"}}
        )["Items"]
        == []
    )


def test_an_index_query_finds_what_a_scan_finds_in_index_order(table):
    key = {
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "QUERYIDX#1"}},
    }
    expected = sorted(_scan(table, "gsi1pk", "QUERYIDX#1"), key=lambda i: i["gsi1sk"]["S"])
    assert len(expected) == 18  # 6 partitions x 3 odd sort keys; the look-alike key with a space is not one
    got = client("dynamodb").query(TableName=table, **key)["Items"]
    assert [i["gsi1sk"]["S"] for i in got] == [i["gsi1sk"]["S"] for i in expected]
    assert _query_pages(table, 4, **key) == got
    assert _query_pages(table, 4, ScanIndexForward=False, **key) == got[::-1]
    since = client("dynamodb").query(
        TableName=table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :p AND gsi1sk >= :s",
        ExpressionAttributeValues={":p": {"S": "QUERYIDX#1"}, ":s": {"S": "5-"}},
    )["Items"]
    assert [i["gsi1sk"]["S"] for i in since] == ["5-001", "5-003", "5-007"]
