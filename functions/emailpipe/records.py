"""The base of the frozen record classes: repr, == and hash without @dataclass generating them (pure).

@dataclass compiles each method it adds from generated source when the class is created, and a frozen dataclass
gets six: together about half a millisecond per class at every Lambda cold start. A record is declared

    @dataclass(frozen=True, repr=False, eq=False)
    class Name(Record):
        field: type = default

and behaves like the @dataclass(frozen=True) class of the same fields: @dataclass still generates __init__ and the
frozen __setattr__/__delattr__ (and fields(), replace(), asdict() work as ever), while repr, == and hash come from
Record below and compute what the generated methods would. tests/unit/test_records.py checks every record against
the dataclass generated from its fields.
"""

from __future__ import annotations

from dataclasses import Field, fields
from reprlib import recursive_repr
from typing import Any, ClassVar


def _values(record: Record) -> tuple[object, ...]:
    return tuple(getattr(record, field.name) for field in fields(record))


class Record:
    """repr, == and hash as @dataclass(frozen=True) generates them: over every field, in order."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # set by @dataclass on every subclass

    @recursive_repr()
    def __repr__(self) -> str:
        shown = ", ".join(f"{field.name}={getattr(self, field.name)!r}" for field in fields(self))
        return f"{self.__class__.__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return _values(self) == _values(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(_values(self))
