"""The local DynamoDB isolates transactions as DynamoDB does: no read sees part of a transaction that then fails.

moto applies a transaction's items one by one to the live table and, on a failure, swaps in a copy taken before.
A read in between saw the first items' writes: `emailpipe redrive` once printed `stored` for a reply whose item was
too big, and that was never stored (CI, under load).
"""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

from emailpipe.aws import client


def test_a_read_during_a_transaction_that_fails_never_sees_its_first_write(env):
    table = env.stack.info.outputs["TableName"]
    dynamodb = client("dynamodb")
    key = {"pk": {"S": "ISOLATION#probe"}, "sk": {"S": "OUTCOME"}}
    # Too big (about 450 KB in 900 attributes): moto sizes the item attribute by attribute, so this write is slow
    # and fails last, after the first item of the transaction is already in the live table.
    big = {"pk": {"S": "ISOLATION#big"}, "sk": {"S": "ITEM"}}
    big.update({f"a{i:04d}": {"S": "x" * 500} for i in range(900)})
    seen: list[dict] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
            if item:
                seen.append(item)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    failures = 0
    try:
        for _ in range(5):
            try:
                dynamodb.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": table, "Item": {**key, "status": {"S": "stored"}}}},
                        {"Put": {"TableName": table, "Item": big}},
                    ]
                )
            except ClientError as exc:
                failures += exc.response["Error"]["Code"] == "ValidationException"
    finally:
        done.set()
        for reader in readers:
            reader.join()

    assert failures == 5
    assert seen == []  # not once, in five transactions read by two threads all along
    assert "Item" not in dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
