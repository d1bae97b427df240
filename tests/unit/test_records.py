"""Every Record behaves exactly like the @dataclass(frozen=True) class generated from its fields (see records.py)."""

from __future__ import annotations

import copy
import inspect
import pickle
from dataclasses import MISSING, FrozenInstanceError, asdict, dataclass, field, fields, replace

import pytest

from emailpipe.config import Config
from emailpipe.domain.models import (
    AttachmentRef,
    Conversation,
    Department,
    InboundRecord,
    Message,
    Person,
    Settings,
)
from emailpipe.domain.trust import Verdicts
from emailpipe.mail.parse import Address, Attachment, ParsedEmail
from emailpipe.records import Record

RECORDS = [
    Person,
    Department,
    Conversation,
    AttachmentRef,
    Message,
    Settings,
    InboundRecord,
    Verdicts,
    Address,
    Attachment,
    ParsedEmail,
    Config,
]


def _reference(cls: type) -> type:
    """The class @dataclass(frozen=True) generates from cls's fields, under the same names."""
    namespace: dict = {
        "__annotations__": {f.name: f.type for f in fields(cls)},
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
    }
    for f in fields(cls):
        if f.default is not MISSING:
            namespace[f.name] = f.default
        elif f.default_factory is not MISSING:
            namespace[f.name] = field(default_factory=f.default_factory)
    return dataclass(frozen=True)(type(cls.__name__, (), namespace))


def _values(cls: type, tag: str) -> dict[str, object]:
    return {f.name: f"{tag}-{f.name}" for f in fields(cls)}


def _required(cls: type) -> dict[str, object]:
    return {f.name: f"required-{f.name}" for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}


def test_every_record_is_listed() -> None:
    modules = {cls.__module__ for cls in RECORDS}
    found = {
        obj
        for module in modules
        for obj in vars(__import__(module, fromlist=["_"])).values()
        if isinstance(obj, type) and issubclass(obj, Record) and obj is not Record and obj.__module__ == module
    }
    assert found == set(RECORDS)


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_record_matches_generated_dataclass(cls: type) -> None:
    ref = _reference(cls)
    params = list(inspect.signature(cls).parameters.values())
    ref_params = list(inspect.signature(ref).parameters.values())
    assert [(p.name, p.kind) for p in params] == [(p.name, p.kind) for p in ref_params]
    for p, q in zip(params, ref_params, strict=True):
        assert repr(p.default) == repr(q.default) and type(p.default) is type(q.default)
    assert cls.__match_args__ == ref.__match_args__
    assert [f.name for f in fields(cls)] == [f.name for f in fields(ref)]

    values = _values(cls, "a")
    record, reference = cls(**values), ref(**values)
    assert repr(record) == repr(reference)
    assert hash(record) == hash(reference)
    assert asdict(record) == asdict(reference)
    assert record == cls(**values)
    assert (record != cls(**values)) is False
    assert record.__eq__(reference) is NotImplemented and record != reference
    for name in values:
        other = {**values, name: "changed"}
        assert record != cls(**other)
        assert replace(record, **{name: "changed"}) == cls(**other)
        with pytest.raises(FrozenInstanceError):
            setattr(record, name, "x")
        with pytest.raises(FrozenInstanceError):
            delattr(record, name)
    assert copy.copy(record) == record and copy.deepcopy(record) == record
    assert pickle.loads(pickle.dumps(record)) == record

    # Defaults and default factories, applied per instance.
    required = _required(cls)
    minimal, ref_minimal = cls(**required), ref(**required)
    assert repr(minimal) == repr(ref_minimal)
    for f in fields(cls):
        assert getattr(minimal, f.name) == getattr(ref_minimal, f.name)
        if f.default_factory is not MISSING:
            assert getattr(minimal, f.name) is not getattr(cls(**required), f.name)
            assert getattr(cls(**{**required, f.name: None}), f.name) is None

    # Wrong calls fail alike.
    for args, kwargs in (((), {}), ((), {**values, "unknown": 1}), (tuple(values.values()) + ("extra",), {})):
        if not args and not kwargs and not required:
            continue
        with pytest.raises(TypeError):
            cls(*args, **kwargs)
        with pytest.raises(TypeError):
            ref(*args, **kwargs)


def test_repr_of_a_record_inside_itself() -> None:
    record = InboundRecord(s3_key="k", status="stored", reason="r", received_at=0.0)  # type: ignore[arg-type]
    reference = _reference(InboundRecord)(s3_key="k", status="stored", reason="r", received_at=0.0)
    record.details["self"] = record  # type: ignore[assignment]
    reference.details["self"] = reference
    assert repr(record) == repr(reference)
