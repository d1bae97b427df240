"""Frozen record classes without most of @dataclass's cost at import (pure).

@dataclass adds each method by compiling generated source when the class is created, about 0.1 ms a method, so
@dataclass(frozen=True) costs about half a millisecond per class at every Lambda cold start. A record is declared

    @dataclass(frozen=True, init=False, repr=False, eq=False)
    class Name(Record):
        field: type = default
        ...
        def __init__(self, field: type = default, ...) -> None:
            object.__setattr__(self, "field", field)
            ...

and behaves exactly like the @dataclass(frozen=True) class of the same fields: the same __init__ (written out,
and so compiled once into the .pyc), and repr, == and hash from Record below, which compute what the generated
methods compute. fields(), replace(), asdict() and immutability still come from @dataclass. A field added to a
record must be added to its __init__ too; tests/unit/test_records.py compares every record with the dataclass
generated from its fields.
"""

from __future__ import annotations

from dataclasses import fields
from reprlib import recursive_repr

# The default of an __init__ parameter whose field has a default_factory (@dataclass uses a sentinel the same way).
FACTORY: object = object()


def _values(record: Record) -> tuple[object, ...]:
    return tuple(getattr(record, field.name) for field in fields(record))


class Record:
    """repr, == and hash as @dataclass(frozen=True) generates them: over every field, in order."""

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
