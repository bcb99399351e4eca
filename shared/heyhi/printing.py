"""Printing composed configs: protobuf text format (``--print``) and flat ``key=value`` lines."""

from __future__ import annotations

from typing import Any, Iterator

from .values import Msg, to_dict


def _scalar_text(kind: str, value: Any, enum=None) -> str:
    from .textformat import format_float, quote_string

    if kind == "string":
        return quote_string(value)
    if kind == "bytes":
        return quote_string(value.decode("utf-8", "backslashreplace"))
    if kind == "bool":
        return "true" if value else "false"
    if kind == "enum":
        return enum.by_number.get(value, str(value))
    if kind in ("float", "double"):
        return format_float(value, kind == "float")
    return str(value)


def to_text(msg: Msg, indent: int = 0) -> str:
    """``msg`` in protobuf text format, fields in field-number order (as protobuf prints)."""
    lines: list[str] = []
    _emit(msg, indent, lines)
    return "".join(lines)


def _emit(msg: Msg, indent: int, out: list[str]) -> None:
    pad = " " * indent
    v = msg.v
    for f in msg.type.by_number:
        if f.name not in v:
            continue
        val = v[f.name]
        if f.kind == "map":
            for k in sorted(val) if f.map_key != "bool" else val:
                out.append(f"{pad}{f.name} {{\n")
                out.append(f"{pad}  key: {_scalar_text(f.map_key, k)}\n")
                x = val[k]
                if isinstance(x, Msg):
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


def flatten(d: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested dict -> (dotted key, leaf) pairs; an empty dict yields nothing (as the original)."""
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from flatten(v, key + ".")
        else:
            yield key, v


def flat_items(msg: Msg, with_all: bool = False) -> list[tuple[str, Any]]:
    """Sorted (key, value) pairs: set fields, or every field with ``with_all``."""
    return sorted(flatten(to_dict(msg, with_all=with_all)))


def flat_value_text(v: Any) -> str:
    """How ``--print-flat`` shows a value: None -> NULL, strings with spaces/empty as repr."""
    if v is None:
        return "NULL"
    if isinstance(v, str) and (" " in v or not v):
        return repr(v)
    return str(v)


def flat_lines(msg: Msg, with_all: bool = False) -> list[str]:
    return [f"{k}={flat_value_text(v)}" for k, v in flat_items(msg, with_all)]
