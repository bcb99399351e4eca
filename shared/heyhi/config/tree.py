"""The untyped tree every config file parses into, whatever its format.

Text format (.prototxt), YAML and JSON all become a ``Node``: an ordered list of
``Entry(name, value)`` where a value is a ``Scalar``, a nested ``Node``, or a ``ListValue``
(the ``[a, b]`` syntax, or a YAML/JSON list). Every piece remembers where it came from
(``Loc``), so that typing it against the schema can point at file:line:col.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True, slots=True)
class Loc:
    file: str
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(slots=True)
class Scalar:
    """A leaf value.

    ``kind`` says how it was written:
      - ``"string"``: a quoted string (text format) or a YAML/JSON string; ``value`` is the decoded str.
      - ``"number"``: a text-format number; ``value`` is its raw text, sign included
        (``-0x1F``, ``1e-3``, ``1.0f``, ``-inf`` is an ident, see below).
      - ``"ident"``: a bare text-format identifier (``AUSTRIA``, ``true``, ``t``, ``inf``, ``nan``),
        with a leading ``-`` kept in the text for ``-inf``; ``value`` is the text.
      - ``"int"`` / ``"float"`` / ``"bool"`` / ``"null"``: YAML/JSON typed values; ``value`` is the Python value.
    """

    kind: str
    value: Any
    loc: Loc


@dataclass(slots=True)
class ListValue:
    items: list["Value"]
    loc: Loc


@dataclass(slots=True)
class Entry:
    name: str
    value: "Value"
    loc: Loc  # where the field name is


@dataclass(slots=True)
class Node:
    entries: list[Entry] = field(default_factory=list)
    loc: Loc | None = None


Value = Union[Scalar, Node, ListValue]
