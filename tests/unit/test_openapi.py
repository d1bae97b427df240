"""docs/openapi.yaml against the served routes: every route documented, every documented route served, every
example valid against its schema, the file valid OpenAPI 3.1; and every route declared in template.yaml."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from emailpipe.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "openapi.yaml"
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text())


@pytest.fixture(scope="module")
def served() -> set[tuple[str, str]]:
    from emailpipe.api.handler import app

    routes = app._static_routes + app._dynamic_routes
    return {(r.method.upper(), re.sub(r"<(\w+)>", r"{\1}", r.path)) for r in routes}


def _documented(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item if method in METHODS}


def _examples(node: Any, where: str = "") -> list[tuple[str, dict[str, Any], Any]]:
    """Every media type object (or parameter) that has both a schema and an example."""
    found = []
    if isinstance(node, dict):
        if "schema" in node and "example" in node:
            found.append((where, node["schema"], node["example"]))
        for key, value in node.items():
            found += _examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _examples(value, f"{where}/{index}")
    return found


def test_the_file_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_served_route_is_documented_and_every_documented_route_is_served(spec, served):
    documented = _documented(spec)

    assert served - documented == set(), "served but not in docs/openapi.yaml"
    assert documented - served == set(), "in docs/openapi.yaml but not served"


def test_every_example_is_valid_against_its_schema(spec):
    examples = _examples(spec["paths"]) + _examples(spec["components"].get("responses", {}), "#/responses")

    assert len(examples) >= 30
    for where, schema, example in examples:
        validator = Draft202012Validator({**schema, "components": spec["components"]})
        errors = [e.message for e in validator.iter_errors(example)]
        assert errors == [], where


def test_every_write_takes_an_idempotency_key_and_every_route_but_the_connectors_needs_an_api_key(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            if path.startswith("/v1/connectors/"):
                assert operation["security"] == [], path
                continue
            assert "security" not in operation, (method, path)
            if method in {"post", "put", "patch"} and not path.startswith("/v1/webhooks/"):
                refs = [p.get("$ref") for p in operation.get("parameters", [])]
                assert "#/components/parameters/IdempotencyKey" in refs, (method, path)
    assert spec["security"] == [{"apiKey": []}]


def test_every_served_route_is_a_route_of_the_http_api_in_the_template(served):
    events = load_template()["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    declared = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events if e["Type"] == "HttpApi"}

    assert served <= declared
    assert ("ANY", "$default") in declared  # anything else still gets a problem+json 404


def test_the_access_log_names_route_keys_never_paths_bodies_or_queries():
    api = load_template()["Resources"]["HttpApi"]["Properties"]
    log_format = api["AccessLogSettings"]["Format"]
    fields = set(re.findall(r"\$context\.([A-Za-z.]+)", log_format))

    assert "routeKey" in fields
    assert not fields & {"path", "resourcePath", "requestOverride.path", "identity.user", "authorizer.claims"}
    assert "body" not in log_format.lower() and "querystring" not in log_format.lower()
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert "POST /v1/conversations/{conversation_id}/messages" in api["RouteSettings"]
