"""The inbound log's index key is write-sharded by day and shard (issue 16); `inbound-log`, `status` and the API's
paged `GET /v1/inbound` read every shard and give what one partition gave: every outcome once, oldest first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emailpipe.aws import client
from emailpipe.domain.models import InboundRecord, Outcome
from emailpipe.store import apikeys, repo

BIN = Path(sys.executable).parent / "emailpipe"
DAY = 86400.0


def _records(now: float) -> list[InboundRecord]:
    """Outcomes over three days and the last hour, rejected and quarantined, under many S3 keys."""
    records = []
    for i in range(36):
        age = (i % 3) * DAY + (i * 37) % 3000 + 1  # today, yesterday and the day before, within 50 minutes each
        status, reason = (Outcome.REJECTED, "unknown_sender") if i % 4 else (Outcome.QUARANTINED, "spam")
        key = f"inbound/msg-{i:03d}"
        records.append(InboundRecord(s3_key=key, status=status, reason=reason, received_at=now - age))
    return records


def _legacy_item(table: str, s3_key: str, received_at: float) -> None:
    """An outcome as it was recorded before sharding: gsi1pk INBOUND, the bare time as its sort key."""
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(received_at)) + f".{int(received_at % 1 * 1e6):06d}Z"
    client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": f"INBOUND#{s3_key}"},
            "sk": {"S": "OUTCOME"},
            "entity": {"S": "inbound"},
            "gsi1pk": {"S": "INBOUND"},
            "gsi1sk": {"S": iso},
            "s3_key": {"S": s3_key},
            "status": {"S": "rejected"},
            "reason": {"S": "unknown_sender"},
            "received_at": {"N": repr(received_at)},
            "details": {"M": {}},
            "attempts": {"N": "1"},
        },
    )


@pytest.fixture
def log(env):
    now = time.time()
    records = _records(now)
    for record in records:
        assert repo.record_outcome(record)
    table = env.stack.info.outputs["TableName"]
    legacy = ("inbound/before-sharding", now - 3 * DAY - 500)
    _legacy_item(table, *legacy)
    expected = sorted([(r.received_at, r.s3_key) for r in records] + [(legacy[1], legacy[0])])
    return {"now": now, "records": records, "expected": [key for _, key in expected], "table": table}


def test_outcomes_are_spread_over_day_and_shard_keys(log):
    items = client("dynamodb").scan(TableName=log["table"], ProjectionExpression="gsi1pk, gsi1sk, s3_key")["Items"]
    keys = [item["gsi1pk"]["S"] for item in items if item.get("gsi1pk", {}).get("S", "").startswith("INBOUND")]
    sharded = {key for key in keys if key != "INBOUND"}

    assert len(keys) == 37
    assert len({key.split("#")[1] for key in sharded}) == 3  # three days
    assert len(sharded) >= 20  # 36 outcomes over 3 x 16 partitions, none carrying them all
    assert max(keys.count(key) for key in sharded) <= 5
    # The sort key is the receipt time and the S3 key: unique, so shards merge into one order.
    in_shards = [item for item in items if item.get("gsi1pk", {}).get("S") in sharded]
    assert all(item["gsi1sk"]["S"].endswith("#" + item["s3_key"]["S"]) for item in in_shards)


def test_list_inbound_reads_every_shard_and_the_legacy_key_oldest_first(log):
    listed = repo.list_inbound(0.0)
    since_an_hour = repo.list_inbound(log["now"] - 3600)

    assert [r.s3_key for r in listed] == log["expected"]
    assert {r.s3_key for r in since_an_hour} == {r.s3_key for r in log["records"] if r.received_at >= log["now"] - 3600}
    assert [r.received_at for r in since_an_hour] == sorted(r.received_at for r in since_an_hour)


@pytest.mark.parametrize("limit", [7, 100])
def test_api_pages_over_shards_give_every_outcome_once_in_order(log, api_url, limit):
    _record, key = apikeys.create_key("tests")
    headers = {"Authorization": f"Bearer {key}"}

    def pages(query: str) -> list[str]:
        seen, cursor = [], None
        for _ in range(200):
            params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
            body = requests.get(f"{api_url}/v1/inbound{query}", params=params, headers=headers, timeout=30).json()
            assert len(body["items"]) <= limit
            seen += [item["s3_key"] for item in body["items"]]
            cursor = body.get("next")
            if not cursor:
                return seen
        raise AssertionError("paging did not end")

    everything = pages("")
    spam = pages("?reason=spam")

    assert everything == log["expected"]
    assert spam == [k for k in log["expected"] if k in {r.s3_key for r in log["records"] if r.reason == "spam"}]


def test_inbound_log_and_status_from_the_cli_read_every_shard(log, env):
    environment = dict(os.environ, AWS_ENDPOINT_URL=env.stack.endpoint)

    def cli(*args: str) -> str:
        result = subprocess.run([str(BIN), *args], capture_output=True, text=True, env=environment, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    listed = [row["s3_key"] for row in json.loads(cli("inbound-log", "--json"))]
    status = json.loads(cli("status", "--hours", "1", "--json"))
    last_hour = [r for r in log["records"] if r.received_at >= log["now"] - 3600]

    assert listed == log["expected"]
    assert status["metrics"]["EmailsReceived"] == len(last_hour)
    assert status["reasons"] == {
        f"{status_}:{reason}": sum(1 for r in last_hour if (r.status.value, r.reason) == (status_, reason))
        for status_, reason in {(r.status.value, r.reason) for r in last_hour}
    }


# ---------------------------------------------------------------- the settings every email reads


def test_a_function_keeps_the_settings_it_read_for_their_max_age_and_sees_a_change_after_it(env, monkeypatch):
    monkeypatch.setenv("SETTINGS_MAX_AGE_SECONDS", "30")
    repo.forget_settings()
    before = repo.cached_settings(now=1000.0).max_emails_per_sender
    environment = dict(os.environ, AWS_ENDPOINT_URL=env.stack.endpoint)
    changed = subprocess.run(  # another process: the operator's CLI
        [str(BIN), "settings", "set", "max_emails_per_sender", str(before + 7)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert changed.returncode == 0, changed.stderr

    assert repo.cached_settings(now=1029.0).max_emails_per_sender == before  # within the max age: as read
    assert repo.cached_settings(now=1030.0).max_emails_per_sender == before + 7  # after it: read again
    assert repo.get_settings().max_emails_per_sender == before + 7  # the API and the CLI always read now


def test_a_settings_change_in_the_same_process_applies_at_once_and_zero_reads_every_time(env, monkeypatch):
    monkeypatch.setenv("SETTINGS_MAX_AGE_SECONDS", "30")
    repo.forget_settings()
    before = repo.cached_settings(now=1000.0)
    env.api.set_setting("max_emails_per_sender", str(before.max_emails_per_sender + 1))
    assert repo.cached_settings(now=1001.0).max_emails_per_sender == before.max_emails_per_sender + 1

    monkeypatch.setenv("SETTINGS_MAX_AGE_SECONDS", "0")
    repo.cached_settings(now=2000.0)
    client("dynamodb").update_item(
        TableName=env.stack.info.outputs["TableName"],
        Key={"pk": {"S": "SETTINGS"}, "sk": {"S": "GLOBAL"}},
        UpdateExpression="SET max_emails_per_sender = :v",
        ExpressionAttributeValues={":v": {"N": "42"}},
    )
    assert repo.cached_settings(now=2000.0).max_emails_per_sender == 42

    monkeypatch.setenv("SETTINGS_MAX_AGE_SECONDS", "ten")  # a typo falls back to the default, never stops mail
    assert repo.cached_settings(now=2001.0).max_emails_per_sender == 42
