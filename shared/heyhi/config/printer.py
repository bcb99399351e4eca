"""Printing a message in protobuf text format (``--print``, ``str(msg)``): fields in field-number
order, map entries sorted by key, floats as the shortest text that reads back the same value.

Below ``heyhi.config.values`` (``Msg.__str__`` prints with it) and ``heyhi.config.printing`` (which re-exports
``to_text``): it reads a message through ``msg._type`` and ``msg._v`` only and imports no ``Msg``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from heyhi.config.textformat import format_float, quote_bytes, quote_string

if TYPE_CHECKING:
    from heyhi.config.values import Msg

__all__ = ["to_text"]


def _scalar_text(kind: str, value: Any, enum=None) -> str:
    if kind == "string":
        return quote_string(value)
    if kind == "bytes":
        return quote_bytes(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "enum":
        return enum.by_number.get(value, str(value))
    if kind in ("float", "double"):
        return format_float(value, kind == "float")
    return str(value)


def to_text(msg: "Msg", indent: int = 0) -> str:
    """``msg`` in protobuf text format, fields in field-number order (as protobuf prints)."""
    lines: list[str] = []
    _emit(msg, indent, lines)
    return "".join(lines)


def _emit(msg: "Msg", indent: int, out: list[str]) -> None:
    pad = " " * indent
    v = msg._v
    for f in msg._type.by_number:
        if f.name not in v:
            continue
        val = v[f.name]
        if f.kind == "map":
            for k in sorted(val) if f.map_key != "bool" else val:
                out.append(f"{pad}{f.name} {{\n")
                out.append(f"{pad}  key: {_scalar_text(f.map_key, k)}\n")
                x = val[k]
                if f.map_value_kind == "message":  # a message map holds only ``Msg`` values
                    out.append(f"{pad}  value {{\n")
                    _emit(x, indent + 4, out)
                    out.append(f"{pad}  }}\n")
                else:
                    out.append(f"{pad}  value: {_scalar_text(f.map_value_kind, x, f.enum)}\n")
                out.append(f"{pad}}}\n")
            continue
        items = val if f.repeated else (val,)
        for x in items:
            if f.kind == "message":
                out.append(f"{pad}{f.name} {{\n")
                _emit(x, indent + 2, out)
                out.append(f"{pad}}}\n")
            else:
                out.append(f"{pad}{f.name}: {_scalar_text(f.kind, x, f.enum)}\n")
