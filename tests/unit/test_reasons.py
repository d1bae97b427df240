"""Every reason the code can record for an inbound email is in domain/reasons.py, and filters refuse any other."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from emailpipe.chat import known_reason
from emailpipe.domain.errors import InvalidInputError
from emailpipe.domain.reasons import REASONS, unknown_reason_message

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "emailpipe"
# The functions whose string results become a recorded reason as they are.
REASON_FUNCTIONS = {
    "domain/trust.py": ("machine_mail_reason", "verdict_outcome", "staff_reply_outcome"),
}
CODE = re.compile(r"[a-z][a-z0-9_]*")


def _tree(relative: str) -> ast.Module:
    return ast.parse((PACKAGE / relative).read_text(encoding="utf-8"))


def _literal_codes(node: ast.AST) -> set[str]:
    """Reason-code-shaped string constants anywhere under `node` (f-strings give their literal prefix + '*')."""
    found = set()
    in_fstrings = {id(part) for sub in ast.walk(node) if isinstance(sub, ast.JoinedStr) for part in sub.values}
    for sub in ast.walk(node):
        if id(sub) in in_fstrings:
            continue
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and CODE.fullmatch(sub.value):
            found.add(sub.value)
        elif isinstance(sub, ast.JoinedStr) and sub.values and isinstance(sub.values[0], ast.Constant):
            found.add(f"{sub.values[0].value}*")
    return found


def _recorded_literals() -> set[str]:
    """What `RejectedError(...)`, `_rejected(...)` and `reason=` are given as literals across the package."""
    codes: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if {"cli", "local"} & set(path.relative_to(PACKAGE).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in ("RejectedError", "_rejected") and node.args:
                codes |= _literal_codes(node.args[0])
            if name == "InboundRecord" or name == "replace":
                for keyword in node.keywords:
                    if keyword.arg == "reason" and isinstance(keyword.value, ast.Constant):
                        codes |= _literal_codes(keyword.value)
    return codes


def test_every_literal_reason_the_code_records_is_listed():
    recorded = _recorded_literals()
    assert {"unknown_sender", "too_large", "processing_failed", "store_failed", "no_sender"} <= recorded
    prefixed = {code for code in recorded if code.endswith("*")}
    assert prefixed == {"conversation_*"}  # _refuse_closed: conversation_closed / conversation_archived
    assert sorted(recorded - prefixed - set(REASONS)) == []
    assert {"conversation_closed", "conversation_archived"} <= set(REASONS)


def test_every_reason_the_verdict_and_machine_mail_rules_return_is_listed():
    for relative, names in REASON_FUNCTIONS.items():
        for node in ast.walk(_tree(relative)):
            if isinstance(node, ast.FunctionDef) and node.name in names:
                returned = set()
                for ret in (n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None):
                    returned |= _literal_codes(ret.value) - {"rejected", "quarantined"}
                assert returned, node.name
                assert sorted(returned - set(REASONS)) == [], node.name


def test_every_rate_cap_scope_has_its_quarantine_reason():
    # store_inbound_message answers "rate_limited:<scope>"; inbound records it with "_" for ":".
    scopes = set(re.findall(r'RateLimit\("(\w+)"', (PACKAGE / "inbound" / "logic.py").read_text(encoding="utf-8")))
    assert scopes == {"sender", "conversation", "domain"}
    source = (PACKAGE / "store" / "repo.py").read_text(encoding="utf-8")
    special = set(re.findall(r'"rate_limited:(\w+)"', source))
    for scope in scopes | special:
        assert f"rate_limited_{scope}" in REASONS


def test_a_bogus_reason_is_refused_naming_the_field_and_the_known_ones():
    with pytest.raises(InvalidInputError) as caught:
        known_reason("bogus")
    assert caught.value.field == "reason"
    assert "unknown reason 'bogus'" in str(caught.value)
    assert "unknown_sender" in str(caught.value)
    assert known_reason("unknown_sender") == "unknown_sender"
    assert unknown_reason_message("stored") is None


def test_every_reason_has_a_one_line_meaning():
    for code, meaning in REASONS.items():
        assert CODE.fullmatch(code), code
        assert meaning.strip() and "\n" not in meaning, code


def test_the_operations_guide_lists_every_reason():
    guide = (PACKAGE.parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    assert [code for code in REASONS if f"| `{code}` |" not in guide] == []
