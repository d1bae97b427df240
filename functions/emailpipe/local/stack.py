"""The embedded local AWS: a moto server provisioned from template.yaml, and the triggers Lambda would run.

The SAM template is transformed with aws-sam-translator and deployed into moto's CloudFormation, so the
local bucket, table and queues are the ones the template declares. What moto's CloudFormation does not
implement (the functions themselves, SES, the bucket notification, the secret) is applied here by API
calls derived from the same template, and every SQS and DynamoDB-stream event source of the template is
emulated by polling (`Triggers`): each queue or stream feeds the real handler its function names.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emailpipe.aws import client, reset_clients

REGION = "us-east-1"
DEFAULT_STACK = "emailpipe"
TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"

# Resource types moto's CloudFormation creates for real; everything else is applied by `_apply_extras` or
# emulated (functions and their triggers).
_MOTO_TYPES = {
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::SNS::Topic",
    # The event bus and its rules: PutEvents reaches a rule's SQS target for real.
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
}


def local_credentials() -> None:
    """Dummy credentials and a region for talking to the embedded server (never a real account)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_LOADED: dict[tuple[str, int], str] = {}


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as plain JSON-able data (intrinsic functions in their long form), a fresh copy each call; the
    YAML is parsed once while the file is unchanged (a fifth of a second, and every reset of the stack reads it)."""
    from cfnlint.decode import cfn_yaml

    key = (str(path), path.stat().st_mtime_ns)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = json.dumps(cfn_yaml.load(str(path)))
    return json.loads(_LOADED[key])


def transform_template(template: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The SAM template transformed to plain CloudFormation, as `sam deploy` would submit it."""
    from samtranslator.translator.transform import transform

    class _NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    template = json.loads(json.dumps(template))
    # A local CodeUri is uploaded by `sam deploy`; the transform needs an S3 location in its place.
    placeholder = "s3://local-placeholder/code.zip"
    template.get("Globals", {}).get("Function", {})["CodeUri"] = placeholder
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in resource.get("Properties", {}):
            resource["Properties"]["CodeUri"] = placeholder
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return transform(template, parameters or {}, _NoManagedPolicies())


_TRANSFORMED: dict[str, dict[str, Any]] = {}


def _transformed(params: dict[str, str]) -> dict[str, Any]:
    """template.yaml transformed with these parameters, cached while the file is unchanged (it takes seconds)."""
    key = json.dumps([TEMPLATE.stat().st_mtime_ns, sorted(params.items())])
    if key not in _TRANSFORMED:
        # A few entries: the parameters as given and as CloudFormation reports them back (a list parameter reads
        # back joined) are two keys, and every reset uses both.
        if len(_TRANSFORMED) >= 8:
            _TRANSFORMED.pop(next(iter(_TRANSFORMED)))
        _TRANSFORMED[key] = transform_template(load_template(), params)
    return json.loads(json.dumps(_TRANSFORMED[key]))


def _references(node: Any) -> set[str]:
    """Logical ids a template node refers to (Ref, GetAtt, Sub, DependsOn)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                for part in str(text).split("${")[1:]:
                    found.add(part.split("}")[0].split(".")[0])
                if isinstance(value, list):
                    found |= _references(value[1])
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def local_template(transformed: dict[str, Any]) -> dict[str, Any]:
    """The part of the transformed template that moto's CloudFormation deploys (and the outputs it can resolve)."""
    transformed = json.loads(json.dumps(transformed))
    resources = {k: v for k, v in transformed["Resources"].items() if v["Type"] in _MOTO_TYPES}
    while True:
        # A kept resource that refers to a dropped one (a topic under a KMS key, say) cannot be created either.
        dropped = set(transformed["Resources"]) - set(resources)
        orphans = {k for k, v in resources.items() if _references(v.get("Properties", {})) & dropped}
        if not orphans:
            break
        resources = {k: v for k, v in resources.items() if k not in orphans}
    for resource in resources.values():
        # Properties moto ignores or cannot resolve once their targets are dropped are applied by API instead.
        resource.pop("DependsOn", None)
        resource.get("Properties", {}).pop("NotificationConfiguration", None)
    outputs = {k: v for k, v in transformed.get("Outputs", {}).items() if not (_references(v) & dropped)}
    return {**transformed, "Resources": resources, "Outputs": outputs}


@dataclass(frozen=True, slots=True)
class StackInfo:
    """What the CLI and the functions need to know of a deployed stack (local or real)."""

    stack_name: str
    outputs: dict[str, str]

    def env(self) -> dict[str, str]:
        """The environment variables template.yaml gives the functions."""
        o = self.outputs
        return {
            "TABLE_NAME": o["TableName"],
            "MAIL_BUCKET": o["MailBucketName"],
            "INBOUND_PREFIX": o.get("InboundPrefix", "inbound/"),
            "PIPING_ADDRESS": o["PipingAddress"],
            "BRAND_NAME": o.get("BrandName", "AiX"),
            "TOKEN_SECRET_ID": o["TokenSecretName"],
            "DIGEST_QUEUE_URL": o.get("DigestQueueUrl", ""),
        }


def describe_stack(stack_name: str = DEFAULT_STACK) -> StackInfo:
    """Resolve names from the stack's outputs, the same way on a real account as on the local stack."""
    stack = client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return StackInfo(stack_name, {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])})


def provision(stack_name: str = DEFAULT_STACK, parameters: dict[str, str] | None = None) -> StackInfo:
    """Deploy template.yaml into the moto server at AWS_ENDPOINT_URL and apply what moto leaves out."""
    template = load_template()
    params = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    params.update(parameters or {})
    transformed = _transformed(params)
    cfn = client("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(local_template(transformed)),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    }
    _apply_extras(transformed, stack_name, params, physical)
    return describe_stack(stack_name)


def _queue_arn(queue_url: str) -> str:
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _apply_extras(transformed: dict[str, Any], stack: str, params: dict[str, str], physical: dict[str, str]) -> None:
    resources = transformed["Resources"]
    for logical, resource in resources.items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::SecretsManager::Secret":
            name = str(props.get("Name", {}).get("Fn::Sub", f"{stack}/{logical}")).replace("${AWS::StackName}", stack)
            client("secretsmanager").create_secret(Name=name, SecretString=secrets.token_urlsafe(48))
        elif kind == "AWS::SES::EmailIdentity":
            # The mail domain is PipingAddress's domain (template.yaml has no separate parameter).
            client("ses").verify_domain_identity(Domain=params["PipingAddress"].rpartition("@")[2])
        elif kind == "AWS::S3::Bucket" and "NotificationConfiguration" in props:
            queues = []
            for config in props["NotificationConfiguration"].get("QueueConfigurations", []):
                target = config["Queue"]["Fn::GetAtt"][0]
                queues.append(
                    {
                        "QueueArn": _queue_arn(physical[target]),
                        "Events": [config["Event"]],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": params["InboundPrefix"]}]}},
                    }
                )
            client("s3").put_bucket_notification_configuration(
                Bucket=physical[logical], NotificationConfiguration={"QueueConfigurations": queues}
            )
    rule_set = f"{stack}-inbound"
    ses = client("ses")
    ses.create_receipt_rule_set(RuleSetName=rule_set)
    ses.create_receipt_rule(
        RuleSetName=rule_set,
        Rule={
            "Name": f"{stack}-store-in-s3",
            "Enabled": True,
            "ScanEnabled": True,
            "TlsPolicy": "Require",
            "Recipients": [params["PipingAddress"]],
            "Actions": [
                {"S3Action": {"BucketName": physical["MailBucket"], "ObjectKeyPrefix": params["InboundPrefix"]}}
            ],
        },
    )


# ---------------------------------------------------------------- triggers


@dataclass
class FakeLambdaContext:
    """The attributes of a Lambda context object that powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""

    @property
    def invoked_function_arn(self) -> str:
        """The function ARN."""
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Plenty."""
        return 60_000


def _matches(pattern: Any, value: Any) -> bool:
    """EventBridge-style filter matching, for the subset the template's FilterCriteria use."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(_matches(p, value.get(k)) for k, p in pattern.items())
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


@dataclass
class _Source:
    """One event source mapping of the template, as the local triggers run it."""

    function: str
    kind: str  # "sqs" or "stream"
    queue_url: str = ""
    batch_size: int = 10
    filters: list[dict[str, Any]] = field(default_factory=list)
    max_retries: int = 5
    on_failure_url: str | None = None
    stream_arn: str = ""


_PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


class _Resolver:
    """Ref, Fn::GetAtt and Fn::Sub of the template, resolved against the deployed stack (None: cannot be)."""

    def __init__(self, transformed: dict[str, Any], stack: str, params: dict[str, str], physical: dict[str, str]):
        self.resources = transformed["Resources"]
        self.values = {**_PSEUDO, "AWS::StackName": stack, **params}
        self.physical = physical
        self.conditions = transformed.get("Conditions", {})

    def condition(self, node: Any) -> bool:
        """A condition of the template (Fn::Not, Fn::Equals, Fn::And, Fn::Or over Refs); unknown ones hold."""
        if isinstance(node, str):
            return self.condition(self.conditions.get(node, True))
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Fn::Not":
                return not self.condition(value[0])
            if key == "Fn::And":
                return all(self.condition(v) for v in value)
            if key == "Fn::Or":
                return any(self.condition(v) for v in value)
            if key == "Fn::Equals":
                return self.value(value[0]) == self.value(value[1])
            if key == "Condition":
                return self.condition(value)
        return True

    def value(self, node: Any) -> str | None:
        if isinstance(node, str | int | float) and not isinstance(node, bool):
            return str(node)
        if not isinstance(node, dict) or len(node) != 1:
            return None
        ((key, arg),) = node.items()
        if key == "Ref":
            return self.values.get(arg) if arg in self.values else self.physical.get(arg)
        if key == "Fn::GetAtt":
            name, attr = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self.attribute(name, attr)
        if key == "Fn::Sub":
            text, extra = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
            resolved = {k: self.value(v) for k, v in extra.items()}

            def sub(match: Any) -> str:
                name = match.group(1)
                if name in resolved:
                    found = resolved[name]
                elif "." in name and name.split(".", 1)[0] in self.resources:
                    found = self.attribute(*name.split(".", 1))
                else:
                    found = self.value({"Ref": name})
                if found is None:
                    raise LookupError(name)
                return found

            import re

            try:
                return re.sub(r"\$\{([^}!][^}]*)\}", sub, text)
            except LookupError:
                return None
        return None

    def attribute(self, name: str, attr: str) -> str | None:
        kind = self.resources.get(name, {}).get("Type")
        physical = self.physical.get(name)
        if physical is None:
            return None
        if kind == "AWS::SQS::Queue":
            if attr == "Arn":
                return _queue_arn(physical)
            return physical.rsplit("/", 1)[-1] if attr == "QueueName" else physical if attr == "QueueUrl" else None
        if kind == "AWS::DynamoDB::Table":
            table = client("dynamodb").describe_table(TableName=physical)["Table"]
            return {"Arn": table.get("TableArn"), "StreamArn": table.get("LatestStreamArn")}.get(attr)
        if kind == "AWS::Events::EventBus":
            bus = client("events").describe_event_bus(Name=physical)
            return {"Arn": bus["Arn"], "Name": bus["Name"]}.get(attr)
        if kind == "AWS::SNS::Topic" and attr == "TopicName":
            return physical.rsplit(":", 1)[-1]
        return None


def _deployment(info: StackInfo) -> tuple[dict[str, Any], _Resolver]:
    """The transformed template of a deployed local stack and a resolver of its references."""
    cfn = client("cloudformation")
    stack = cfn.describe_stacks(StackName=info.stack_name)["Stacks"][0]
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    transformed = _transformed(params)
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=info.stack_name)["StackResourceSummaries"]
    }
    # What _apply_extras creates by API: the secrets, under the names the template gives them.
    for logical, resource in transformed["Resources"].items():
        if resource["Type"] == "AWS::SecretsManager::Secret" and logical not in physical:
            name = resource.get("Properties", {}).get("Name", {}).get("Fn::Sub", f"{info.stack_name}/{logical}")
            physical[logical] = str(name).replace("${AWS::StackName}", info.stack_name)
    return transformed, _Resolver(transformed, info.stack_name, params, physical)


class Triggers:
    """Runs the template's event sources as Lambda would, calling the real handler functions in this process.

    Every function of the transformed template with an SQS or DynamoDB-stream event source mapping is run by
    polling: its handler is resolved from the `Handler` property, stream records pass its FilterCriteria, each
    stream consumer keeps its own shard iterators and retries like Lambda (then its on-failure queue), and an SQS
    message reported as a batch-item failure stays in the queue, visible again when the handler's (or the poll's)
    visibility timeout says, as does the whole batch of an invocation that raised (a crash). Every function's
    `Environment.Variables` (and the Globals) are resolved against the stack and put in os.environ, shared by the
    functions of this one process (a name two functions set to different values is an error). `local=True` (the
    local stack) also sets WEBHOOK_ALLOW_LOOPBACK=true (webhooks to http://127.0.0.1), WEBHOOK_BACKOFF_SCALE=0
    (retries at once; set it beforehand to slow them) and a subscription cache of 0 s; `local=False` keeps the
    deployment's URL rules, for tests of them.
    """

    def __init__(
        self,
        info: StackInfo,
        visibility_timeout: int = 2,
        max_stream_retries: int = 5,
        *,
        local: bool = True,
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency is 1 or more")
        self.info = info
        # Concurrent invocations, as Lambda runs them: `concurrency` workers receive from each queue at once, and
        # each stream consumer runs beside them in one worker of its own, so a shard's records keep their order.
        self.concurrency = concurrency
        self._pool: Any = None
        self.visibility_timeout = visibility_timeout
        self.max_stream_retries = max_stream_retries
        self.local = local
        self._iterators: dict[tuple[str, str], str] = {}
        self._arns: dict[str, str] = {}
        self._lock = threading.Lock()
        transformed, resolver = _deployment(info)
        self.environment = self._environment(transformed, resolver)
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "emailpipe")
        self._handlers: dict[str, Any] = {}
        self.sources = self._sources(transformed, resolver)
        self._reset_caches()
        self._warm()

    def _environment(self, transformed: dict[str, Any], resolver: _Resolver) -> dict[str, str]:
        env = dict(self.info.env())
        literal: dict[str, str] = {}
        owners: dict[str, str] = {}
        for logical, resource in transformed["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function" or not resolver.condition(resource.get("Condition", True)):
                continue
            variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
            for name, node in variables.items():
                value = resolver.value(node)
                if not value:
                    continue  # a resource moto does not deploy (the SES configuration set) or an empty parameter
                target = literal if isinstance(node, str) else env
                if name in owners and target.get(name) != value:
                    if target is env:  # two functions would read different resources under one name
                        raise ValueError(f"{logical} and {owners[name]} set {name} to different values")
                    print(f"local stack: {name} differs between {owners[name]} and {logical}; using the first")
                    continue
                target[name], owners[name] = value, logical
        if self.local:
            env["WEBHOOK_ALLOW_LOOPBACK"] = "true"
            literal.setdefault("WEBHOOK_BACKOFF_SCALE", "0")
            literal.setdefault("WEBHOOK_SUBSCRIPTION_CACHE_SECONDS", "0")
            # The local CLI changes settings from another process, and a person trying it expects the next email
            # to see the change: the local functions read them for every email (deployed ones keep them 10 s).
            literal["SETTINGS_MAX_AGE_SECONDS"] = "0"
        else:
            env["WEBHOOK_ALLOW_LOOPBACK"] = "false"
        os.environ.update(env)
        for name, value in literal.items():
            os.environ.setdefault(name, value)  # settings the caller chose (log level, back-off) win
        return {**literal, **env}

    def _sources(self, transformed: dict[str, Any], resolver: _Resolver) -> list[_Source]:
        import importlib

        resources = transformed["Resources"]
        sources = []
        for resource in resources.values():
            if resource["Type"] != "AWS::Lambda::EventSourceMapping":
                continue
            if not resolver.condition(resource.get("Condition", True)):
                continue  # an optional part the parameters leave out (Support Board, the mailbox)
            props = resource["Properties"]
            function = props["FunctionName"]["Ref"]
            target = props["EventSourceArn"]["Fn::GetAtt"]
            handler_path = resources[function]["Properties"]["Handler"]
            module, _, attr = handler_path.rpartition(".")
            self._handlers[function] = getattr(importlib.import_module(module), attr)
            source = _Source(function=function, kind="sqs", batch_size=int(props.get("BatchSize", 10)))
            if resources[target[0]]["Type"] == "AWS::SQS::Queue":
                source.queue_url = resolver.physical[target[0]]
            else:
                source.kind = "stream"
                source.stream_arn = str(resolver.attribute(target[0], "StreamArn"))
                source.filters = [json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])]
                source.max_retries = min(int(props.get("MaximumRetryAttempts", 5)), self.max_stream_retries)
                failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                if failure:
                    source.on_failure_url = resolver.physical.get(failure["Fn::GetAtt"][0])
            sources.append(source)
        return sources

    @staticmethod
    def _reset_caches() -> None:
        # The handlers cache their adapters per cold start; a re-provisioned stack has new resource names.
        from emailpipe.config import get_config
        from emailpipe.events import adapters as events_adapters
        from emailpipe.inbound import handler as inbound_handler
        from emailpipe.notifier import adapters
        from emailpipe.store import keys, mailbox_state

        get_config.cache_clear()
        inbound_handler._context.cache_clear()
        adapters.notifier_context.cache_clear()
        events_adapters.reset()
        keys.reset()
        mailbox_state.reset()

    @staticmethod
    def _warm() -> None:
        # Lambda builds a function's clients in its init phase, before the first event; done here too, so the first
        # drain after a reset does not spend seconds loading service models (a digest's 1 s delay would pass).
        from emailpipe.events import adapters as events_adapters

        for service in ("events", "sqs", "dynamodbstreams"):
            client(service)
        events_adapters.events_context()
        events_adapters.webhook_context()

    # The benchmarks wrap these entry points to count their work.
    @property
    def _inbound(self) -> Any:
        return self._handlers["InboundFunction"]

    @_inbound.setter
    def _inbound(self, handler: Any) -> None:
        self._handlers["InboundFunction"] = handler

    @property
    def _notifier(self) -> Any:
        return self._handlers["NotifierFunction"]

    @_notifier.setter
    def _notifier(self, handler: Any) -> None:
        self._handlers["NotifierFunction"] = handler

    @property
    def _digest(self) -> Any:
        return self._handlers["DigestFunction"]

    @_digest.setter
    def _digest(self, handler: Any) -> None:
        self._handlers["DigestFunction"] = handler

    def pump(self, function: str) -> int:
        """Run one function's event sources once; the number of messages or records it handled."""
        return sum(self._pump(s) for s in self.sources if s.function == function)

    def _pump(self, source: _Source) -> int:
        if source.kind == "sqs":
            return self._pump_queue(
                source.queue_url, self._handlers[source.function], source.function, source.batch_size
            )
        return self._pump_stream(source)

    def pump_inbound(self) -> int:
        """Deliver waiting S3 notifications to the inbound handler; the number of SQS messages handled."""
        return self.pump("InboundFunction")

    def pump_digests(self) -> int:
        """Deliver digest windows whose delay has passed to the digest handler."""
        return self.pump("DigestFunction")

    def pump_stream(self) -> int:
        """Deliver new stream records to every stream consumer (each with its own filter); records read."""
        return sum(self._pump(s) for s in self.sources if s.kind == "stream")

    def pump_queues(self) -> int:
        """Deliver visible messages of every queue-triggered function."""
        return sum(self._pump(s) for s in self.sources if s.kind == "sqs")

    def _pump_queue(self, url: str, handler: Any, function_name: str, batch_size: int = 10) -> int:
        sqs = client("sqs")
        arn = self._arns.get(url) or self._arns.setdefault(url, _queue_arn(url))
        handled = 0
        while True:
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=max(1, min(10, batch_size)),
                VisibilityTimeout=self.visibility_timeout,
                AttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages:
                return handled
            event = {
                "Records": [
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                        "attributes": m.get("Attributes", {}),
                        "messageAttributes": {},
                        "md5OfBody": m.get("MD5OfBody", ""),
                        "eventSource": "aws:sqs",
                        "eventSourceARN": arn,
                        "awsRegion": REGION,
                    }
                    for m in messages
                ]
            }
            try:
                result = handler(event, FakeLambdaContext(function_name))
            except Exception:  # noqa: BLE001 - a failed invocation (every record failed, or the process crashed)
                # As Lambda does: nothing of the batch is deleted, so all of it comes back after the visibility
                # timeout (and goes to the dead-letter queue after the redrive policy's maxReceiveCount).
                return handled
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            for m in messages:
                if m["MessageId"] not in failed:
                    # A batch that outlasted its visibility timeout: the message went back to the queue and another
                    # worker has it (Lambda's poller sees the same); the handlers are idempotent.
                    with contextlib.suppress(sqs.exceptions.ReceiptHandleIsInvalid):
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            handled += len(messages) - len(failed)
            if failed:
                return handled

    def _pump_stream(self, source: _Source) -> int:
        streams = client("dynamodbstreams")
        shards = streams.describe_stream(StreamArn=source.stream_arn)["StreamDescription"]["Shards"]
        handled = 0
        for shard in shards:
            key = (source.function, shard["ShardId"])
            if key not in self._iterators:
                self._iterators[key] = streams.get_shard_iterator(
                    StreamArn=source.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            response = streams.get_records(ShardIterator=self._iterators[key], Limit=source.batch_size)
            self._iterators[key] = response["NextShardIterator"]
            read = response.get("Records", [])
            records = [dict(r, eventSourceARN=source.stream_arn) for r in read]
            if source.filters:
                records = [r for r in records if any(_matches(f, r) for f in source.filters)]
            if records:
                self._invoke_stream(source, records)
            # Records the filter leaves out are consumed too (as Lambda does): they count, or a page of them would
            # look like the end of the stream and stop drain() before the records behind it.
            handled += len(read)
        return handled

    def _invoke_stream(self, source: _Source, records: list[dict[str, Any]]) -> None:
        pending = records
        for _attempt in range(source.max_retries + 1):
            try:
                result = self._handlers[source.function](
                    {"Records": _jsonable(pending)}, FakeLambdaContext(source.function)
                )
                failed = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
            except Exception:  # noqa: BLE001 - the whole batch failed: Lambda retries all of it
                failed = [pending[0]["dynamodb"]["SequenceNumber"]]
            if not failed:
                return
            # Like Lambda: retry from the first failed record onward.
            first = next(i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] == failed[0])
            pending = pending[first:]
            time.sleep(0.05)
        if source.on_failure_url:
            client("sqs").send_message(
                QueueUrl=source.on_failure_url,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": source.function},
                        "DDBStreamBatchInfo": {
                            "streamArn": source.stream_arn,
                            "startSequenceNumber": pending[0]["dynamodb"]["SequenceNumber"],
                            "endSequenceNumber": pending[-1]["dynamodb"]["SequenceNumber"],
                            "batchSize": len(pending),
                        },
                    }
                ),
            )

    def _pump_all(self) -> int:
        """Every event source once; with concurrency > 1, each queue by that many workers at once and each stream
        consumer by one worker beside them (a shard's records in order, as Lambda keeps them)."""
        if self.concurrency == 1:
            return sum(self._pump(s) for s in self.sources)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            workers = self.concurrency * max(1, len(self.sources))
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emailpipe-trigger")
        jobs = [
            self._pool.submit(self._pump, source)
            for source in self.sources
            for _ in range(self.concurrency if source.kind == "sqs" else 1)
        ]
        return sum(job.result() for job in jobs)

    def close(self) -> None:
        """Let the concurrent workers go (they finish what they run)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def drain(self, timeout: float = 30.0, *, wait_for_digests: bool = False) -> None:
        """Run the triggers until none has anything left; optionally until delayed digests have gone out too."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while time.monotonic() < deadline:
                if self._pump_all():
                    continue
                if not wait_for_digests or not self._digests_waiting():
                    return
                time.sleep(0.2)

    def _digests_waiting(self) -> bool:
        url = self.info.outputs.get("DigestQueueUrl")
        if not url:
            return False
        # In flight too: a digest whose invocation failed is invisible until its visibility timeout, not done.
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
        ]
        attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return any(int(attributes.get(name, 0)) for name in names)

    def run_forever(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Poll every trigger until `stop` is set."""
        while not stop.is_set():
            try:
                self.drain()
            except Exception as exc:  # noqa: BLE001 - keep the local stack alive; the error is shown
                print(f"local trigger error: {type(exc).__name__}: {exc}", flush=True)
            stop.wait(interval)


def _jsonable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stream records as Lambda delivers them: JSON (datetimes as epoch seconds)."""

    def default(value: Any) -> Any:
        if hasattr(value, "timestamp"):
            return int(value.timestamp())
        if isinstance(value, bytes):
            return base64.b64encode(value).decode("ascii")
        raise TypeError(type(value).__name__)

    return json.loads(json.dumps(records, default=default))


# ---------------------------------------------------------------- the server


def _transactions_roll_back_their_items() -> None:
    """Make moto roll a cancelled TransactWriteItems back from the items it touched, not a copy of every table.

    moto deep-copies each table of a transaction, its items and stream included, before applying any of its items
    (to roll back on failure): a cost that grows with the table and made the local stack slower with every email
    (0.73 s an email at 1 worker after a few hundred). The local server applies transactions one at a time (below),
    so the items a transaction names are all it can change: they are kept before it runs and put back if it fails.
    """
    import contextvars
    import copy

    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models.table import Table

    if getattr(dynamodb_models, "_emailpipe_item_rollback", False):
        return
    in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar("in_transaction", default=False)

    class _Copy:
        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        def deepcopy(self, value: Any, *args: Any) -> Any:
            if in_transaction.get() and not args and isinstance(value, Table):
                return value  # moto's "backup": the rollback below restores the touched items in place
            return copy.deepcopy(value, *args)

    original = dynamodb_models.DynamoDBBackend.transact_write_items
    # A cancelled transaction's rollback puts back the items as they were before it: a write another request thread
    # committed to one of them meanwhile would vanish. DynamoDB never loses a committed write, so the local server
    # applies writes one at a time (re-entrant: a transaction applies its items through the same methods). Reads
    # take the same lock: moto applies a transaction's items one by one to the live table, so a read between two of
    # them saw writes that the transaction's failure then undid (an outcome `stored` for a message never stored),
    # and a stream reader saw their records. DynamoDB's transactions are isolated: no read sees part of one.
    serial = threading.RLock()

    def one_at_a_time(method: Any) -> Any:
        def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
            with serial:
                return method(self, *args, **kwargs)

        return serialised

    for name in ("put_item", "update_item", "delete_item", "get_item", "query", "scan"):
        setattr(dynamodb_models.DynamoDBBackend, name, one_at_a_time(getattr(dynamodb_models.DynamoDBBackend, name)))
    import moto.dynamodbstreams.models as streams_models

    streams_models.DynamoDBStreamsBackend.get_records = one_at_a_time(  # type: ignore[method-assign]
        streams_models.DynamoDBStreamsBackend.get_records
    )

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with serial:
            _transact(self, transact_items)

    def _touched(self: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], Any]]:
        """(table, key, a copy of the item now or None) for every item the transaction may write."""
        touched = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            name = op.get("TableName")
            if op_type == "ConditionCheck" or name not in self.tables:
                continue
            table = self.tables[name]
            if op_type == "Put":
                attrs = op.get("Item") or {}
                names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
                if any(n not in attrs for n in names):
                    continue  # moto refuses it before writing anything
                key = {n: attrs[n] for n in names}
            else:
                key = op.get("Key") or {}
            try:
                current = self.get_item(name, key)
            except Exception:  # noqa: BLE001, S112 - a malformed key: moto refuses the item without writing it
                continue
            touched.append((name, key, None if current is None else copy.deepcopy(current.to_json()["Attributes"])))
        return touched

    def _put_back(self: Any, touched: list[tuple[str, dict[str, Any], Any]]) -> None:
        for name, key, attributes in reversed(touched):
            if name not in self.tables:
                continue
            if attributes is None:
                if self.get_item(name, key) is not None:
                    self.delete_item(name, key)
            else:
                self.put_item(name, attributes)

    def _transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        token = in_transaction.set(True)
        # Like DynamoDB Streams, the stream must hold exactly the committed writes: what a cancelled transaction
        # (and its rollback) appended to a table's shard is cut off again.
        shards = {
            name: (table.stream_shard, len(table.stream_shard.items))
            for name, table in self.tables.items()
            if getattr(table, "stream_shard", None) is not None
        }
        touched = _touched(self, transact_items)
        try:
            original(self, transact_items)
        except Exception:
            _put_back(self, touched)
            for shard, committed in shards.values():
                del shard.items[committed:]
            raise
        finally:
            in_transaction.reset(token)

    dynamodb_models.copy = _Copy()  # type: ignore[assignment,attr-defined]
    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    dynamodb_models._emailpipe_item_rollback = True  # type: ignore[attr-defined]


def _queries_read_only_their_partition() -> None:
    """Make moto's Query look at the items of the partition it names, not sort the whole table first.

    moto's Table.query starts from `all_items()`, which sorts every item of the table by its key with Python-level
    DynamoType comparisons, then keeps the items of one partition and sorts those again: a read of one
    conversation cost 0.6 s in a table of 4,000 items, and the local stack slowed down with every email it stored.
    DynamoDB reads a partition in key order; here a Query on the table starts from that partition's items, and a
    Query on an index from the items whose index key is a string or binary equal to the one asked for (moto's own
    checks and sort then run on them unchanged). Scans keep moto's sorted order, which their paging relies on.
    """
    import contextvars

    from moto.dynamodb.models.table import Table

    if getattr(Table, "_emailpipe_partition_query", False):
        return
    candidates: contextvars.ContextVar[Any] = contextvars.ContextVar("query_candidates", default=None)
    sorted_all_items = Table.all_items
    original_query = Table.query

    def all_items(self: Any) -> Any:
        pick = candidates.get()
        return sorted_all_items(self) if pick is None else pick(self)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name") or (args[6] if len(args) > 6 else None)
        conditions = [(n, v) for n, v in kwargs.get("hash_key_conditions") or [] if v.type in ("S", "B")]

        def pick(table: Any) -> list[Any]:
            if not index_name:
                partition = table.items.get(hash_key) if hash_key is not None else None
                if partition is None:
                    return []
                return list(partition.values()) if table.range_key_attr else [partition]
            items = [i for p in table.items.values() for i in (p.values() if table.range_key_attr else [p])]
            for name, value in conditions:
                items = [
                    i
                    for i in items
                    if (a := i.attrs.get(name)) is not None and (a.type, a.value) == (value.type, value.value)
                ]
            return items

        token = candidates.set(pick)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            candidates.reset(token)

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table._emailpipe_partition_query = True  # type: ignore[attr-defined]


def _event_bus_ref_is_its_name() -> None:
    """Give moto's EventBus the physical id CloudFormation gives it (its name), so `!Ref EventBus` in the template
    (a rule's EventBusName, an output, a function's environment) resolves as on AWS instead of to an object repr."""
    from moto.events.models import EventBus

    if not hasattr(EventBus, "physical_resource_id"):
        EventBus.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]


class LocalStack:
    """A moto server on 127.0.0.1 with the stack deployed into it."""

    def __init__(
        self, port: int | None = None, stack_name: str = DEFAULT_STACK, *, local: bool = True, concurrency: int = 1
    ) -> None:
        self.port = port or free_port()
        self.concurrency = concurrency
        self.stack_name = stack_name
        # The triggers' local mode (webhooks may go to http://127.0.0.1, retries at once); see Triggers.
        self.local = local
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self.info: StackInfo | None = None
        self.triggers: Triggers | None = None

    def start(self, parameters: dict[str, str] | None = None) -> LocalStack:
        """Start the server, point this process at it, deploy the stack and prepare the triggers."""
        import logging

        from moto.server import ThreadedMotoServer

        # werkzeug logs every request to stderr; the transcript and test output should not drown in it.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        _transactions_roll_back_their_items()
        _queries_read_only_their_partition()
        _event_bus_ref_is_its_name()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        local_credentials()
        reset_clients()
        self.info = provision(self.stack_name, parameters)
        self.triggers = Triggers(self.info, local=self.local, concurrency=self.concurrency)
        return self

    def reset(self, parameters: dict[str, str] | None = None) -> StackInfo:
        """Empty every service and deploy the stack again (fresh state between tests)."""
        import urllib.request

        from emailpipe.store import repo

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10)  # noqa: S310 - loopback
        reset_clients(keep_session=True)  # same endpoint and credentials: the session's loaded models stay valid
        if self.triggers is not None:
            self.triggers.close()
        repo.clear_caches()  # what this process's functions kept of the old tables (settings, inbound days)
        self.info = provision(self.stack_name, parameters)
        self.triggers = Triggers(self.info, local=self.local, concurrency=self.concurrency)
        return self.info

    def stop(self) -> None:
        """Stop the server."""
        if self.triggers is not None:
            self.triggers.close()
        if self._server is not None:
            self._server.stop()
            self._server = None


def sent_emails(endpoint: str) -> list[dict[str, Any]]:
    """The emails the local SES has accepted, oldest first: {"id", "source", "destinations", "raw"}."""
    import urllib.request

    with urllib.request.urlopen(f"{endpoint.rstrip('/')}/moto-api/data.json", timeout=30) as response:  # noqa: S310
        data = json.loads(response.read())
    messages = data.get("ses", {}).get("RawMessage", [])
    from email.utils import getaddresses

    def addresses(values: list[str] | None) -> list[str]:
        # moto adds the To/Cc headers' addresses to the envelope destinations; keep each bare address once.
        seen: dict[str, None] = {}
        for _name, address in getaddresses(values or []):
            seen.setdefault(address.lower(), None)
        return list(seen)

    return [
        {
            "id": m.get("id"),
            "source": m.get("source"),
            "destinations": addresses(m.get("destinations")),
            "raw": m.get("raw_data"),
        }
        for m in messages
    ]
