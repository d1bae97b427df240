"""template.yaml: transformed by aws-sam-translator, then checked by cfn-lint and checkov (each skip justified in
place), and read for what docs/operations.md promises: encryption, retention, scoped policies, alarms, dashboard."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file

from emailpipe.local.stack import TEMPLATE, load_template, local_template, transform_template

SAMCONFIG = TEMPLATE.parent / "samconfig.toml"
# Actions that AWS authorizes on "*" only (no resource types): the API's status figures read CloudWatch.
NO_RESOURCE_LEVEL_PERMISSIONS = {"cloudwatch:GetMetricData"}
ALARM_ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def transformed(source: dict[str, Any]) -> dict[str, Any]:
    return transform_template(source)


@pytest.fixture(scope="module")
def transformed_file(transformed: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("template") / "transformed.json"
    out.write_text(json.dumps(transformed))
    return out


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _dead_letter_queues(template: dict[str, Any]) -> set[str]:
    """Queues that are a queue's redrive target, a function's dead-letter queue or an event source's on-failure one."""
    found = set()
    for queue in _of_type(template, "AWS::SQS::Queue").values():
        target = queue["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if target:
            found.add(target["Fn::GetAtt"][0])
    for function in _of_type(template, "AWS::Lambda::Function").values():
        target = function["Properties"].get("DeadLetterConfig", {}).get("TargetArn")
        if target:
            found.add(target["Fn::GetAtt"][0])
    for mapping in _of_type(template, "AWS::Lambda::EventSourceMapping").values():
        destination = mapping["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination:
            found.add(destination["Fn::GetAtt"][0])
    return found


# ---------------------------------------------------------------- linters


def test_the_sam_template_transforms_and_the_result_passes_cfn_lint(transformed_file: Path):
    for target in (transformed_file, TEMPLATE):
        matches = lint_file(target)
        assert [str(m) for m in matches] == []


def test_checkov_finds_nothing_that_is_not_justified_in_place(transformed_file: Path):
    # checkov lives in its own environment beside the project's (see the Makefile): it pins an older boto3.
    checkov = Path(sys.executable).parent.parent / "checkov" / "bin" / "checkov"
    config = Path(__file__).resolve().parents[2] / "infra" / "checkov.yaml"
    command = [str(checkov), "--config-file", str(config), "-f", str(transformed_file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    skipped = report["results"]["skipped_checks"]

    assert failed == []
    assert skipped, "the in-place skips should reach checkov through the SAM transform"
    assert all(c["check_result"].get("suppress_comment", "").strip() for c in skipped)


def test_every_skip_in_the_template_names_a_check_and_says_why(source: dict[str, Any]):
    skips = []
    for name, resource in source["Resources"].items():
        skips += [(name, s) for s in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])]

    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
        assert len(skip.get("comment", "")) > 60, f"{name} {skip['id']}: say why"


# ---------------------------------------------------------------- hardening


def test_raw_mail_is_encrypted_private_tls_only_and_expires(source: dict[str, Any]):
    bucket = source["Resources"]["MailBucket"]["Properties"]
    policy = source["Resources"]["MailBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]

    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireRawMail"]["Prefix"] == {"Ref": "InboundPrefix"}
    assert rules["ExpireRawMail"]["ExpirationInDays"] == {"Ref": "RawMailRetentionDays"}


def test_the_table_is_encrypted_and_recoverable_to_a_point_in_time(source: dict[str, Any]):
    table = source["Resources"]["Table"]["Properties"]

    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_every_queue_is_encrypted(source: dict[str, Any]):
    for name, queue in _of_type(source, "AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name


def test_every_function_has_a_log_group_with_the_retention_parameter(source: dict[str, Any]):
    groups = {
        json.dumps(g["Properties"]["LogGroupName"]): g["Properties"]
        for g in _of_type(source, "AWS::Logs::LogGroup").values()
    }
    for name in _of_type(source, "AWS::Serverless::Function"):
        group = groups[json.dumps({"Fn::Sub": f"/aws/lambda/${{{name}}}"})]
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy's statements, with those that exist only under a condition (`Fn::If`) in their existing form."""
    found = []
    for statement in policy["PolicyDocument"]["Statement"]:
        if "Fn::If" in statement:
            found += [s for s in statement["Fn::If"][1:] if s != {"Ref": "AWS::NoValue"}]
        else:
            found.append(statement)
    return found


def test_every_inline_policy_names_its_resources_and_sending_is_limited_to_the_inboxes(
    transformed: dict[str, Any],
):
    managed = set()
    for name, role in _of_type(transformed, "AWS::IAM::Role").items():
        managed |= {arn.rsplit("/", 1)[-1] for arn in role["Properties"].get("ManagedPolicyArns", [])}
        for policy in role["Properties"].get("Policies", []):
            for statement in _statements(policy):
                actions, resources = (_as_list(statement[key]) for key in ("Action", "Resource"))
                if set(actions) <= NO_RESOURCE_LEVEL_PERMISSIONS:
                    continue  # AWS accepts only "*" for these
                assert "*" not in resources, name
                assert not any(a.endswith(":*") for a in actions), (name, actions)
                if any(a.startswith("ses:Send") for a in actions):
                    sender = statement["Condition"]["StringEquals"]["ses:FromAddress"]
                    assert sender in ({"Ref": "PipingAddress"}, {"Ref": "AdditionalInboxAddresses"}), name

    # The AWS managed policies SAM attaches for logs and the event sources; no X-Ray write-all (Tracing unset).
    assert managed <= {
        "AWSLambdaBasicExecutionRole",
        "AWSLambdaSQSQueueExecutionRole",
        "AWSLambdaDynamoDBExecutionRole",
    }


def _evaluate(node: Any, parameters: dict[str, Any], conditions: dict[str, Any]) -> Any:
    """Ref, Fn::If, Fn::Join, Fn::Split, Fn::Equals, Fn::Not as CloudFormation evaluates them for these parameters."""
    if isinstance(node, list):
        return [_evaluate(item, parameters, conditions) for item in node]
    if not isinstance(node, dict) or len(node) != 1:
        return node
    ((key, value),) = node.items()
    if key == "Ref":
        return parameters.get(value, node)  # a resource or AWS::NoValue stays as written
    if key == "Fn::If":
        chosen = _evaluate(conditions[value[0]], parameters, conditions)
        return _evaluate(value[1] if chosen else value[2], parameters, conditions)
    if key == "Fn::Join":
        return value[0].join(_evaluate(value[1], parameters, conditions))
    if key == "Fn::Split":
        return _evaluate(value[1], parameters, conditions).split(value[0])
    if key == "Fn::Equals":
        return _evaluate(value[0], parameters, conditions) == _evaluate(value[1], parameters, conditions)
    if key == "Fn::Not":
        return not _evaluate(value[0], parameters, conditions)
    return {key: _evaluate(value, parameters, conditions)}


@pytest.mark.parametrize(
    ("additional", "recipients"),
    [
        ([""], ["support@example.com"]),  # the parameter left empty: CloudFormation passes one empty item
        (
            ["billing@brand-b.example", "help@brand-c.example"],
            ["support@example.com", "billing@brand-b.example", "help@brand-c.example"],
        ),
    ],
)
def test_the_receipt_rule_and_the_senders_cover_every_inbox_and_no_other_address(
    source: dict[str, Any], transformed: dict[str, Any], additional: list[str], recipients: list[str]
):
    assert source["Parameters"]["AdditionalInboxAddresses"]["Type"] == "CommaDelimitedList"
    parameters = {"PipingAddress": "support@example.com", "AdditionalInboxAddresses": additional}
    conditions = source["Conditions"]
    rule = source["Resources"]["ReceiptRule"]["Properties"]["Rule"]

    assert _evaluate(rule["Recipients"], parameters, conditions) == recipients

    senders = {}
    for name, role in _of_type(transformed, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in _evaluate(policy["PolicyDocument"]["Statement"], parameters, conditions):
                if statement != {"Ref": "AWS::NoValue"} and "ses:SendEmail" in _as_list(statement["Action"]):
                    allowed = _evaluate(statement["Condition"]["StringEquals"]["ses:FromAddress"], parameters, {})
                    senders.setdefault(name, []).extend(_as_list(allowed))
    assert set(senders) == {"NotifierFunctionRole", "DigestFunctionRole"}
    assert all(sorted(allowed) == sorted(recipients) for allowed in senders.values()), senders


# ---------------------------------------------------------------- observability


def test_every_function_has_errors_and_throttles_alarms(source: dict[str, Any]):
    alarms = source["Resources"]
    for name in _of_type(source, "AWS::Serverless::Function"):
        for metric in ("Errors", "Throttles"):
            alarm = alarms[f"{name}{metric}Alarm"]["Properties"]
            assert alarm["Namespace"] == "AWS/Lambda"
            assert alarm["MetricName"] == metric
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]


def test_any_message_in_a_dead_letter_queue_raises_an_alarm(transformed: dict[str, Any]):
    watched = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in _of_type(transformed, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and a["Properties"]["Threshold"] == 1
        and a["Properties"]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    }

    assert {"InboundDeadLetterQueue", "NotifierDeadLetterQueue"} <= _dead_letter_queues(transformed) <= watched


def test_stream_lag_and_a_spike_of_rejections_raise_alarms(source: dict[str, Any]):
    lag = source["Resources"]["NotifierFunctionIteratorAgeAlarm"]["Properties"]
    spike = source["Resources"]["RejectionSpikeAlarm"]["Properties"]

    assert (lag["MetricName"], lag["Statistic"], lag["Threshold"]) == ("IteratorAge", "Maximum", 300000)
    # Alarms cannot use SEARCH: the inbound function also counts rejections with the service dimension alone.
    assert (spike["Namespace"], spike["MetricName"], spike["Period"]) == ("emailpipe", "EmailsRejected", 900)
    assert spike["Dimensions"] == [{"Name": "service", "Value": "emailpipe"}]
    assert spike["Threshold"] == {"Ref": "RejectionSpikeThreshold"}


def test_every_alarm_notifies_the_alarm_topic_only_when_one_is_given(source: dict[str, Any]):
    alarms = _of_type(source, "AWS::CloudWatch::Alarm")

    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == ALARM_ACTIONS, name
        assert alarm["Properties"]["OKActions"] == ALARM_ACTIONS, name
    assert source["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    assert source["Parameters"]["AlarmTopicArn"]["Default"] == ""


def test_the_dashboard_shows_outcomes_by_reason_errors_durations_queues_and_lag(source: dict[str, Any]):
    body_template = source["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    references = set(re.findall(r"\$\{([^}]+)\}", body_template))
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", body_template))
    metrics = json.dumps([w["properties"].get("metrics", []) for w in body["widgets"]])
    expressions = [
        m[0]["expression"]
        for w in body["widgets"]
        for m in w["properties"].get("metrics", [])
        if isinstance(m[0], dict)
    ]
    searches = [query for e in expressions for query in re.findall(r"SEARCH\('([^']*)'", e)]
    alarm_widget = next(w for w in body["widgets"] if w["type"] == "alarm")

    for name in ("EmailsReceived", "MessagesStored", "NotificationsSent", "NotificationsFailed"):
        assert f'["emailpipe", "{name}", "service", "emailpipe"' in metrics
    for name in ("EmailsRejected", "EmailsQuarantined"):
        assert f'{{emailpipe,reason,service}} MetricName="{name}" service="emailpipe"' in searches
    for name in ("Errors", "Throttles", "Duration", "IteratorAge", "ApproximateNumberOfMessagesVisible"):
        assert f'"{name}"' in metrics
    assert {"InboundFunction", "NotifierFunction"} <= references
    assert {f"{q}.QueueName" for q in _dead_letter_queues(transform_template(source))} <= references
    # Alarms of optional parts (mailbox ingress) exist only under their condition, so the always-present
    # dashboard cannot name them; it shows their metrics instead.
    unconditional = {k for k, v in _of_type(source, "AWS::CloudWatch::Alarm").items() if "Condition" not in v}
    assert len(alarm_widget["properties"]["alarms"]) == len(unconditional)
    assert {f"{a}.Arn" for a in unconditional} <= references


def test_the_outputs_name_the_dashboard_and_the_alarm_topic(source: dict[str, Any]):
    assert {"DashboardName", "DashboardUrl", "AlarmTopicArn", "ReceiptRuleSetName"} <= set(source["Outputs"])


# ---------------------------------------------------------------- deployment


def test_samconfig_deploys_the_stack_with_parameters_the_template_declares(source: dict[str, Any]):
    deploy = tomllib.loads(SAMCONFIG.read_text())["default"]
    overrides = deploy["deploy"]["parameters"]["parameter_overrides"].split()

    assert deploy["global"]["parameters"]["stack_name"] == "emailpipe"
    assert deploy["deploy"]["parameters"]["capabilities"] == "CAPABILITY_IAM"
    assert deploy["deploy"]["parameters"]["resolve_s3"] is True
    assert "region" not in deploy["deploy"]["parameters"]
    assert {o.split("=", 1)[0] for o in overrides} <= set(source["Parameters"])


def test_sam_build_needs_no_container(source: dict[str, Any]):
    code = TEMPLATE.parent / source["Globals"]["Function"]["CodeUri"]

    assert (code / "requirements.txt").is_file()
    assert source["Globals"]["Function"]["Runtime"].startswith("python")


def test_sam_build_runs_the_functions_makefile_for_every_function(source: dict[str, Any]):
    makefile = (TEMPLATE.parent / source["Globals"]["Function"]["CodeUri"] / "Makefile").read_text()
    declared = re.search(r"^FUNCTIONS := (.+)$", makefile, re.MULTILINE)
    functions = _of_type(source, "AWS::Serverless::Function")

    assert {name: f.get("Metadata", {}).get("BuildMethod") for name, f in functions.items()} == dict.fromkeys(
        functions, "makefile"
    )
    assert declared is not None and set(declared.group(1).split()) == set(functions)


def test_the_build_ships_bytecode_that_lambda_uses_without_reading_the_source(tmp_path: Path):
    code = TEMPLATE.parent / "functions"
    subprocess.run(
        ["make", "-s", "-C", str(code), "package", f"ARTIFACTS_DIR={tmp_path}", f"PYTHON={sys.executable}"],
        check=True,
        capture_output=True,
    )
    sources = sorted((tmp_path / "emailpipe").rglob("*.py"))
    # Unchecked-hash .pyc (PEP 552): flags 0b01, so the runtime never compares it with the source's mtime.
    flags = {
        py.relative_to(tmp_path).as_posix(): int.from_bytes(
            (py.parent / "__pycache__" / f"{py.stem}.{sys.implementation.cache_tag}.pyc").read_bytes()[4:8], "little"
        )
        for py in sources
    }
    # Break a source after the build: importing it must still work, from the bytecode.
    models = tmp_path / "emailpipe" / "domain" / "models.py"
    models.write_text('raise SystemExit("the source was compiled again")\n')
    imported = subprocess.run(
        [sys.executable, "-B", "-c", "import emailpipe.domain.models as m; print(m.Outcome.STORED.value, m.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
    )

    assert len(sources) > 40 and set(flags.values()) == {1}
    assert (imported.returncode, imported.stdout.split()) == (0, ["stored", str(models)])


def test_the_template_declares_every_piece_of_the_pipeline(transformed: dict[str, Any]):
    resources = transformed["Resources"]
    types = {r["Type"] for r in resources.values()}

    assert {
        "AWS::S3::Bucket",
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::Lambda::Function",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Logs::LogGroup",
        "AWS::SES::ReceiptRuleSet",
        "AWS::SES::ReceiptRule",
        "AWS::SecretsManager::Secret",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
    } <= types
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert all(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"] for m in mappings)
    stream = next(m for m in mappings if "DestinationConfig" in m)
    assert stream["DestinationConfig"]["OnFailure"]["Destination"]


def test_the_local_stack_deploys_the_templates_own_storage_resources(transformed: dict[str, Any]):
    local = local_template(transformed)

    assert (
        {"AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue"}
        <= {r["Type"] for r in local["Resources"].values()}
        <= {
            "AWS::S3::Bucket",
            "AWS::DynamoDB::Table",
            "AWS::SQS::Queue",
            "AWS::SNS::Topic",
            "AWS::Events::EventBus",
            "AWS::Events::Rule",
        }
    )
    assert {
        "TableName",
        "MailBucketName",
        "InboundPrefix",
        "InboundQueueUrl",
        "InboundDeadLetterQueueUrl",
        "NotifierDeadLetterQueueUrl",
        "TokenSecretName",
        "PipingAddress",
        "MailDomain",
        "BrandName",
    } <= set(local["Outputs"])


def test_extra_mailboxes_are_polled_by_the_one_function_and_only_secrets_tagged_for_the_stack_are_readable(
    source: dict[str, Any],
):
    assert source["Parameters"]["AdditionalMailboxSecretNames"]["Type"] == "CommaDelimitedList"
    function = source["Resources"]["MailboxIngressFunction"]["Properties"]
    names = function["Environment"]["Variables"]["MAILBOX_SECRET_IDS"]
    assert _evaluate(names, {"AdditionalMailboxSecretNames": ["box-b", "box-c"]}, {}) == "box-b,box-c"
    statements = function["Policies"][0]["Statement"]
    [extra] = [s["Fn::If"][1] for s in statements if isinstance(s, dict) and "Fn::If" in s]
    assert (extra["Action"], extra["Effect"]) == ("secretsmanager:GetSecretValue", "Allow")
    assert extra["Condition"] == {"StringEquals": {"aws:ResourceTag/emailpipe-mailbox": {"Ref": "AWS::StackName"}}}


def test_the_event_sources_cap_concurrency_where_a_downstream_quota_needs_it(transformed: dict[str, Any]):
    mappings = {
        m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
        for m in _of_type(transformed, "AWS::Lambda::EventSourceMapping").values()
    }
    # Inbound: a backlog must not take the whole account's concurrency (docs/capacity.md, section 6).
    assert mappings["InboundFunction"]["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "InboundMaxConcurrency"}}
    assert mappings["DigestFunction"]["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "DigestMaxConcurrency"}}
    assert mappings["NotifierFunction"]["ParallelizationFactor"] == {"Ref": "NotifierParallelization"}
    parameters = transformed["Parameters"]
    assert (parameters["NotifierParallelization"]["MinValue"], parameters["NotifierParallelization"]["MaxValue"]) == (
        1,
        10,
    )
    for name in ("InboundMaxConcurrency", "DigestMaxConcurrency"):
        assert (parameters[name]["MinValue"], parameters[name]["MaxValue"]) == (2, 1000)  # the API's own range
    capacity = (Path(__file__).parents[2] / "docs" / "capacity.md").read_text()
    assert all(
        name in capacity for name in ("InboundMaxConcurrency", "NotifierParallelization", "DigestMaxConcurrency")
    )
