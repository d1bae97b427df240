"""template.yaml: transformed by aws-sam-translator, then linted by cfn-lint (which alone misses SAM errors)."""

import json
from pathlib import Path

from cfnlint.api import lint_file

from emailpipe.local.stack import TEMPLATE, load_template, local_template, transform_template


def test_the_sam_template_transforms_and_the_result_passes_cfn_lint(tmp_path: Path):
    transformed = transform_template(load_template())
    out = tmp_path / "transformed.json"
    out.write_text(json.dumps(transformed))

    for target in (out, TEMPLATE):
        matches = lint_file(target)
        assert [str(m) for m in matches] == []


def test_the_template_declares_every_piece_of_the_pipeline():
    resources = transform_template(load_template())["Resources"]
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
    } <= types
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert all(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"] for m in mappings)
    stream = next(m for m in mappings if "DestinationConfig" in m)
    assert stream["DestinationConfig"]["OnFailure"]["Destination"]


def test_the_local_stack_deploys_the_templates_own_storage_resources():
    local = local_template(transform_template(load_template()))

    assert {r["Type"] for r in local["Resources"].values()} == {
        "AWS::S3::Bucket",
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
    }
    assert {"TableName", "MailBucketName", "InboundQueueUrl", "TokenSecretName"} <= set(local["Outputs"])
