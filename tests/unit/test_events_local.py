"""The local stack's reading of the template for its generic triggers: references, conditions, event sources."""

from __future__ import annotations

from emailpipe.local.stack import _Resolver, load_template, transform_template


def _resolver(params: dict[str, str]) -> _Resolver:
    transformed = transform_template(load_template(), params)
    physical = {"Table": "emailpipe-Table-X", "WebhookQueue": "http://sqs/123456789012/emailpipe-WebhookQueue-Y"}
    return _Resolver(transformed, "emailpipe", params, physical)


def test_refs_subs_and_parameters_resolve_against_the_stack_and_unknown_resources_do_not():
    resolver = _resolver({"BrandName": "AiX", "MailboxSecretName": ""})

    assert resolver.value({"Ref": "Table"}) == "emailpipe-Table-X"
    assert resolver.value({"Ref": "BrandName"}) == "AiX"
    assert resolver.value({"Fn::Sub": "${AWS::StackName}/token-key"}) == "emailpipe/token-key"
    assert resolver.value({"Fn::GetAtt": ["WebhookQueue", "QueueName"]}) == "emailpipe-WebhookQueue-Y"
    assert resolver.value({"Ref": "ConfigurationSet"}) is None  # not deployed locally: the variable is left out
    assert resolver.value({"Fn::Sub": "${ConfigurationSet}-x"}) is None


def test_conditions_decide_which_optional_functions_the_local_stack_runs():
    assert not _resolver({"MailboxSecretName": ""}).condition("HasMailbox")
    assert _resolver({"MailboxSecretName": "mailbox/settings"}).condition("HasMailbox")


def test_every_queue_or_stream_triggered_function_of_the_template_has_an_event_source_mapping():
    resources = transform_template(load_template())["Resources"]
    mapped = {
        r["Properties"]["FunctionName"]["Ref"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }

    assert {"InboundFunction", "NotifierFunction", "DigestFunction", "EventsFunction", "WebhookFunction"} <= mapped
