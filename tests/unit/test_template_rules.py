"""template.yaml's Rules and the mail domain (issue 15): a deployment in a region where SES cannot receive email is
refused before anything is created, and the mail domain is PipingAddress's own, so the two cannot disagree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cfnlint
import pytest

from emailpipe.local.stack import load_template, transform_template

PROVIDERS = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
# Partitions with their own endpoints and documentation (China, GovCloud, the isolated and sovereign ones).
OTHER_PARTITIONS = re.compile(r"^(cn-|us-gov-|us-iso|eu-isoe-|eusc-)")


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_template()


def _rule_value(node: Any, region: str) -> Any:
    """The rule functions template.yaml uses (Fn::Contains, Fn::Equals, Fn::Not, Ref AWS::Region), as CloudFormation
    evaluates them before a stack operation."""
    if isinstance(node, list):
        return [_rule_value(item, region) for item in node]
    if not isinstance(node, dict):
        return node
    ((key, value),) = node.items()
    if key == "Ref":
        assert value == "AWS::Region", value
        return region
    if key == "Fn::Contains":
        return _rule_value(value[1], region) in _rule_value(value[0], region)
    if key == "Fn::Equals":
        return _rule_value(value[0], region) == _rule_value(value[1], region)
    if key == "Fn::Not":
        return not _rule_value(value[0], region)
    raise AssertionError(f"not a rule function this test knows: {key}")


def _allowed(source: dict[str, Any]) -> list[str]:
    [assertion] = source["Rules"]["ReceivingRegion"]["Assertions"]
    return list(assertion["Assert"]["Fn::Contains"][0])


def _receipt_rule_regions() -> set[str]:
    """The standard-partition regions where CloudFormation has AWS::SES::ReceiptRule, per cfn-lint's data."""
    found = set()
    for provider in PROVIDERS.glob("*.json"):
        region = provider.stem
        if region == "sam" or OTHER_PARTITIONS.match(region):
            continue
        if "AWS::SES::ReceiptRule" in json.loads(provider.read_text()):
            found.add(region)
    return found


def test_the_region_rule_lists_exactly_the_regions_where_ses_receives_email(source: dict[str, Any]):
    allowed = _allowed(source)
    assert len(allowed) == len(set(allowed))
    # The receipt rule and its rule set exist only where SES receives email; a new receiving region shows up here
    # with a cfn-lint upgrade, and docs/operations.md's table must follow.
    assert set(allowed) == _receipt_rule_regions()
    operations = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    documented = set(re.findall(r"`inbound-smtp\.([a-z0-9-]+)\.amazonaws\.com`", operations))
    assert documented == set(allowed)


@pytest.mark.parametrize(
    ("region", "passes"),
    [
        ("us-east-1", True),
        ("eu-west-1", True),
        ("ap-southeast-2", True),
        ("eu-central-2", False),  # SES sends from Zurich but does not receive there
        ("ap-south-2", False),
        ("ca-west-1", False),
        ("us-gov-west-1", False),
    ],
)
def test_the_region_rule_refuses_a_region_where_ses_cannot_receive(source: dict[str, Any], region: str, passes: bool):
    rule = source["Rules"]["ReceivingRegion"]
    assert "RuleCondition" not in rule  # it applies to every deployment
    [assertion] = rule["Assertions"]
    assert _rule_value(assertion["Assert"], region) is passes
    assert "does not receive email" in assertion["AssertDescription"]


def test_the_rules_survive_the_sam_transform(source: dict[str, Any]):
    assert transform_template(source)["Rules"] == source["Rules"]


def _domain(node: Any, address: str) -> str:
    """!Select [1, !Split ["@", !Ref PipingAddress]] for one address."""
    assert node == {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "PipingAddress"}]}]}, node
    return address.split("@")[1]


@pytest.mark.parametrize("address", ["support@example.com", "help@reply.example.org"])
def test_the_mail_domain_is_the_piping_addresses_own(source: dict[str, Any], address: str):
    parameters = source["Parameters"]
    assert "MailDomain" not in parameters  # nothing to disagree with the address
    assert re.fullmatch(parameters["PipingAddress"]["AllowedPattern"], address)
    for bad in ("support", "support@example", "a@b@example.com", "@example.com", "support@ example.com"):
        assert not re.fullmatch(parameters["PipingAddress"]["AllowedPattern"], bad), bad
    domain = address.split("@")[1]

    resources = source["Resources"]
    identity = resources["MailIdentity"]
    assert identity["Condition"] == "CreatesMailIdentity"
    assert _domain(identity["Properties"]["EmailIdentity"], address) == domain
    assert _domain(source["Outputs"]["MailDomain"]["Value"], address) == domain

    senders = 0
    for name in ("NotifierFunction", "DigestFunction"):
        for statement in resources[name]["Properties"]["Policies"][0]["Statement"]:
            if isinstance(statement, dict) and statement.get("Sid") == "SendAsPipingAddress":
                template, variables = statement["Resource"][0]["Fn::Sub"]
                assert template.endswith(":identity/${MailDomain}")
                assert _domain(variables["MailDomain"], address) == domain
                assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "PipingAddress"}}}
                senders += 1
    assert senders == 2


def test_an_identity_that_already_exists_is_used_not_created(source: dict[str, Any]):
    parameter = source["Parameters"]["CreateMailIdentity"]
    assert parameter["AllowedValues"] == ["true", "false"] and parameter["Default"] == "true"
    assert source["Conditions"]["CreatesMailIdentity"] == {"Fn::Equals": [{"Ref": "CreateMailIdentity"}, "true"]}
    # Nothing else refers to the identity resource, so leaving it out removes nothing the stack needs.
    others = json.dumps({k: v for k, v in source["Resources"].items() if k != "MailIdentity"})
    assert '"MailIdentity"' not in others


def test_the_operations_parameter_table_lists_every_template_parameter_with_its_default(source: dict[str, Any]):
    operations = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    table = operations.split("| parameter | default | what |\n", 1)[1].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| `([A-Za-z]+)` \| ([^|]+) \|", table, flags=re.MULTILINE))
    assert set(rows) == set(source["Parameters"])
    for name, parameter in source["Parameters"].items():
        default = str(parameter.get("Default", ""))
        shown = rows[name].strip().strip("`")
        assert shown == (default or "empty"), (name, shown, default)


def test_the_readme_names_the_same_receiving_regions(source: dict[str, Any]):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    deploy = readme.split("## Deploy\n", 1)[1].split("\n## ", 1)[0]
    sentence = deploy.split("receives email:", 1)[1].split("(", 1)[0]
    assert [r.strip() for r in sentence.replace("\n", " ").split(",")] == _allowed(source)
