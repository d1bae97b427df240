"""The fault-injection suite at a small size (issue 16, section 5): `make faults` runs it at 200 emails."""

from __future__ import annotations

import json
import operator
import threading
import time
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from emailpipe.aws import client
from emailpipe.cli.main import deliver_raw_email
from emailpipe.local.stack import LocalStack, load_template
from emailpipe.store import repo
from tests.faults import run as faults
from tests.faults.injector import FaultInjector, Killed, Rule, fast_backoff

from .cli_process import cli_output


@pytest.fixture
def stack(server: LocalStack) -> Any:
    """The session's local stack (one moto server per process: its backends are global), reset by each run."""
    yield server
    server.reset()  # the next test starts from a fresh stack with its own triggers, as after any test


@pytest.fixture
def injector() -> Any:
    created: list[FaultInjector] = []

    def make(*args: Any, **kwargs: Any) -> FaultInjector:
        created.append(FaultInjector(*args, **kwargs).install())
        return created[-1]

    yield make
    for one in created:
        one.uninstall()


def _summary(report: faults.Report) -> str:
    return f"{report.line()} | {report.detail()}"


def test_the_injector_fails_a_call_inside_a_handler_and_never_outside(stack, injector):
    """A mutation check: at a rate of 1.0 the one call fails (every attempt), of every kind; outside, it works."""
    bucket = stack.info.outputs["MailBucketName"]
    with fast_backoff(0.0):
        for kind, expected in (
            ("5xx", ClientError),
            ("throttle", ClientError),
            ("timeout", (ConnectTimeoutError, ReadTimeoutError)),
        ):
            inj = injector(rate=1.0, seed=3, kinds=(kind,))
            client("s3").list_objects_v2(Bucket=bucket, MaxKeys=1)  # the test's own call: never faulted
            with inj.as_handler(), pytest.raises(expected) as failed:
                client("s3").list_objects_v2(Bucket=bucket, MaxKeys=1)
            if kind != "timeout":
                code = failed.value.response["Error"]["Code"]
                assert code in ({"InternalError", "ServiceUnavailable"} if kind == "5xx" else {"SlowDown"})
            assert inj.injected[kind] == inj.attempts == 6  # botocore's standard mode tried six times
            assert inj.retries == 5 and inj.calls == 1
            inj.uninstall()
        # A kill lets the call through, then stops the caller (an except Exception does not catch it).
        inj = injector(rate=0.0, seed=3, kinds=("kill",))
        inj.rules.append(Rule("s3", "ListObjectsV2", kind="kill", name="kill", times=1))
        with inj.as_handler(), pytest.raises(Killed):
            try:
                client("s3").list_objects_v2(Bucket=bucket, MaxKeys=1)
            except Exception:  # noqa: BLE001 - what a handler's own except clause would do
                pytest.fail("the kill was caught as an Exception")
        assert inj.injected["kill"] == 1 and inj.retries == 0
    # DynamoDB through pynamodb's own client too.
    inj = injector(rate=1.0, seed=3, kinds=("throttle",))
    repo.configure(stack.info.outputs["TableName"])
    with fast_backoff(0.0), inj.as_handler(), pytest.raises(Exception, match="ProvisionedThroughput|Throttling"):
        repo.get_settings()
    assert inj.attempts == 4 and inj.injected["throttle"] == 4  # pynamodb's standard mode: four attempts
    inj.enabled = False
    with inj.as_handler():
        repo.get_settings()


def test_a_burst_at_ten_percent_faults_of_every_kind_ends_with_one_outcome_and_one_email_each(stack, injector):
    inj = injector(rate=0.1, seed=16, kill_rate=0.2)
    # botocore's back-off shortened to a fifth to keep `make test` short; `make faults` sleeps it in full.
    with fast_backoff(0.2):
        report = faults.run(40, stack=stack, injector=inj, concurrency=2, conversations=5, deadline=240)

    assert all(report.faults["by_kind"][kind] > 0 for kind in ("5xx", "throttle", "timeout", "kill")), _summary(report)
    assert report.faults["retries"] > 0
    assert report.settled, _summary(report)
    assert (report.outcomes, report.stored) == (report.emails, report.emails), _summary(report)
    assert (report.duplicates, report.lost) == (0, 0), _summary(report)
    assert report.sent == report.emails
    assert not any(report.dead_letters.values()) and not report.logged_twice and not report.messages_twice
    assert report.ok


def _claim(params: dict[str, Any]) -> bool:
    item = params.get("Item") or {}
    return item.get("pk", {}).get("S", "").startswith("DELIVERY#") and item.get("status", {}).get("S") == "sending"


def test_a_process_killed_between_two_steps_of_each_handler_leaves_one_outcome_and_one_email(stack, injector):
    inj = injector(rate=0.0, seed=1, kill_rate=0.0)
    inj.rules += [
        # The inbound function dies once the message and its outcome are committed, before SQS hears of it.
        Rule("dynamodb", "TransactWriteItems", kind="kill", name="kill", function="InboundFunction", times=1),
        # The notifier dies between claiming a send and sending it.
        Rule("dynamodb", "PutItem", _claim, kind="kill", name="kill", function="NotifierFunction", times=1),
    ]
    report = faults.run(3, stack=stack, injector=inj, conversations=1, deadline=120)

    assert report.faults["crashed_invocations"].get("InboundFunction", 0) >= 1, _summary(report)
    assert report.faults["crashed_invocations"].get("NotifierFunction", 0) >= 1, _summary(report)
    assert report.faults["by_kind"]["kill"] == 2
    assert (report.outcomes, report.stored, report.sent) == (3, 3, 3), _summary(report)
    assert (report.duplicates, report.lost) == (0, 0) and report.ok, _summary(report)


def test_a_kill_right_after_ses_accepted_an_email_never_loses_it(stack, injector):
    """SES keeps no idempotency key, so nothing tells the retry whether the email went: no design is exactly-once
    here, and the random kills of the suite avoid this one point. The notifier's retry takes the claim over and sends
    again (one duplicate, the price of never losing one)."""
    inj = injector(rate=0.0, seed=1, kill_rate=0.0)
    inj.rules.append(Rule("sesv2", "SendEmail", kind="kill", name="kill", function="NotifierFunction", times=1))
    report = faults.run(1, stack=stack, injector=inj, conversations=1, deadline=120)

    assert report.faults["by_kind"]["kill"] == 1
    assert report.outcomes == report.stored == 1 and report.lost == 0, _summary(report)
    assert report.duplicates <= 1, _summary(report)


def _cli(stack: Any, *args: str, code: int = 0) -> str:
    return cli_output(stack.endpoint, *args, code=code)


_COMPARE = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
# The CloudWatch metrics SQS publishes, by the queue attribute they report.
_SQS_METRIC_ATTRIBUTE = {"ApproximateNumberOfMessagesVisible": "ApproximateNumberOfMessages"}


def _alarm_state(stack: Any, alarm: str) -> str:
    """The template's alarm evaluated on its own definition against the queue's attribute now (moto evaluates no
    alarm): the metric's one period's Maximum is the current value of the attribute it reports."""
    props = load_template()["Resources"][alarm]["Properties"]
    assert props["Namespace"] == "AWS/SQS" and props["Statistic"] == "Maximum" and props["EvaluationPeriods"] == 1
    (dimension,) = props["Dimensions"]
    queue, attribute = dimension["Value"]["Fn::GetAtt"]
    assert (dimension["Name"], attribute) == ("QueueName", "QueueName")
    url = stack.info.outputs[f"{queue}Url"]
    name = _SQS_METRIC_ATTRIBUTE[props["MetricName"]]
    value = int(client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name])
    return "ALARM" if _COMPARE[props["ComparisonOperator"]](value, props["Threshold"]) else "OK"


def test_a_poison_email_is_dead_lettered_after_the_configured_tries_alarms_and_is_redriven(stack, injector):
    max_receives = load_template()["Resources"]["InboundQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    inj = injector(rate=0.0, seed=1, kill_rate=0.0)
    world = faults.build_world(stack, conversations=1, emails=4)
    inj.wrap(stack.triggers)
    poison = deliver_raw_email(stack.info, world.reply(0))
    healthy = [deliver_raw_email(stack.info, world.reply(i)) for i in (1, 2, 3)]
    inj.rules.append(Rule("s3", "GetObject", lambda params: params.get("Key") == poison, kind="5xx"))
    outputs = stack.info.outputs
    assert _alarm_state(stack, "InboundDeadLetterQueueAlarm") == "OK"

    deadline = time.monotonic() + 90
    with fast_backoff(0.01):
        while time.monotonic() < deadline and not faults.dead_letters(outputs)["InboundDeadLetterQueue"]:
            stack.triggers.drain(timeout=30)
            time.sleep(0.5)
        failing = repo.get_inbound(poison)

    assert faults.dead_letters(outputs)["InboundDeadLetterQueue"] == 1
    # Every try read the poison's raw mail (six attempts each) and failed; the healthy ones were stored meanwhile.
    assert inj.injected["poison"] == 6 * max_receives
    assert (failing.status.value, failing.reason) == ("quarantined", "processing_failed")
    assert all(repo.get_inbound(key).status.value == "stored" for key in healthy)
    (dead,) = client("sqs").receive_message(QueueUrl=outputs["InboundDeadLetterQueueUrl"], VisibilityTimeout=0)[
        "Messages"
    ]
    assert unquote_plus(json.loads(dead["Body"])["Records"][0]["s3"]["object"]["key"]) == poison
    assert _alarm_state(stack, "InboundDeadLetterQueueAlarm") == "ALARM"
    status = _cli(stack, "status")
    row = next(line for line in status.splitlines() if line.startswith("InboundDeadLetterQueue"))
    assert row.split()[1:] == ["1", "needs", "attention"], status

    inj.rules.clear()  # the cause is fixed
    stop = threading.Event()
    poller = threading.Thread(target=stack.triggers.run_forever, args=(stop, 0.1), daemon=True)
    poller.start()
    try:
        redriven = json.loads(_cli(stack, "redrive", poison, "--timeout", "60"))
    finally:
        stop.set()
        poller.join(timeout=30)
    assert (redriven["status"], redriven["reason"]) == ("stored", "stored")
    assert repo.get_inbound(poison).status.value == "stored"
    to_user = [m for m in faults.outbox() if world.conversations[0][1] in faults._recipients(m)]
    assert sorted(m for mail in to_user for m in faults.main_markers(faults._raw(mail.raw_data))) == [0, 1, 2, 3]
