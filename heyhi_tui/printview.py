"""The ``--print`` view (protobuf text format) rebuilt from ``ValidateResult.flat``: pure functions.

The daemon sends the composed config as flat ``(key, value text, source)`` rows; with the task's
schema (``FieldList``: field order, types, map fields) this prints it the way ``heyhi run --print``
does: fields in schema order, nested messages as blocks, repeated values one per line, strings
quoted, map entries as ``key``/``value`` blocks.
"""

from __future__ import annotations


import ast
import json
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from heyhi.wire.protocol import FieldList


_STRINGS = ("string", "bytes")


def _parse_value(text: str) -> Any:
    """A flat value text back to a Python value: lists and dicts (repeated fields), quoted strings
    (values with spaces), or the text itself."""
    if text[:1] in "[{'\"":
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    return text


def _scalar(value: Any, ftype: str) -> str:
    """One value as text format writes it; ``ftype`` "" means unknown (shown as sent)."""
    base = ftype.removeprefix("repeated ").strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "NULL":
        return "NULL"
    if base in _STRINGS:
        return json.dumps(str(value), ensure_ascii=False)
    if base == "bool" or (base in ("", "?") and value in ("True", "False")):
        return str(value).lower()
    return str(value)


def _guess(value: Any) -> str:
    """The type of a value inside a repeated message (the schema lists no types there): a str is
    a string unless it looks like an enum name."""
    if isinstance(value, str) and not (value.isupper() and value.replace("_", "").isalnum()):
        return "string"
    return "?"


class _Node(dict):
    """Ordered children: name -> _Node | ("value", value, type)."""


def print_text(flat: Sequence[tuple[str, Any, str]], fields: FieldList | None = None) -> str:
    """The composed config in text format (without the task's own ``name { }`` wrapper)."""
    types: dict[str, str] = {}
    order: dict[str, int] = {}
    maps: set[str] = set()
    if fields is not None:
        for i, f in enumerate(fields.fields):
            types[f.key] = f.type
            order[f.key] = i
            if f.type.startswith("map<"):
                maps.add(f.key)
    root = _Node()
    for key, value, _src in flat:
        parts = key.split(".")
        node = root
        path = ""
        for j, p in enumerate(parts[:-1]):
            path = f"{path}.{p}" if path else p
            if path in maps:
                entry_key = ".".join(parts[j + 1:])
                node.setdefault(p, _Node())
                node[p][("map", entry_key)] = ("value", value, types.get(path, ""))
                break
            node = node.setdefault(p, _Node())
        else:
            node[parts[-1]] = ("value", value, types.get(key, ""))
    lines: list[str] = []
    _emit(root, "", 0, lines, types, order)
    return "\n".join(lines) + ("\n" if lines else "")


def _emit(node: _Node, path: str, indent: int, out: list[str], types: dict, order: dict) -> None:
    pad = "  " * indent

    def rank(name: Any) -> tuple:
        if isinstance(name, tuple):
            return (0, str(name[1]))
        full = f"{path}.{name}" if path else name
        return (order.get(full, 1 << 30), name)

    for name in sorted(node, key=rank):
        child = node[name]
        full = f"{path}.{name}" if path and not isinstance(name, tuple) else (name if not path else path)
        if isinstance(name, tuple):  # a map entry (inside its own block, see below)
            _, value, mtype = child
            ktype, _, vtype = mtype.removeprefix("map<").removesuffix(">").partition(",")
            out.append(f"{pad}key: {_scalar(name[1], ktype.strip() or 'string')}")
            out.append(f"{pad}value: {_scalar(_parse_value(str(value)), vtype.strip() or 'string')}")
            continue
        if isinstance(child, _Node):
            if any(isinstance(k, tuple) for k in child):  # a map field: one block per entry
                for k in sorted(child, key=lambda t: str(t[1])):
                    out.append(f"{pad}{name} {{")
                    _emit(_Node({k: child[k]}), full, indent + 1, out, types, order)
                    out.append(f"{pad}}}")
                continue
            out.append(f"{pad}{name} {{")
            _emit(child, full, indent + 1, out, types, order)
            out.append(f"{pad}}}")
            continue
        _, value, ftype = child
        parsed = _parse_value(str(value))
        items = parsed if isinstance(parsed, list) else [parsed]
        for item in items:
            if isinstance(item, dict):
                out.append(f"{pad}{name} {{")
                _emit_dict(item, full, indent + 1, out, types, order)
                out.append(f"{pad}}}")
            else:
                out.append(f"{pad}{name}: {_scalar(item, ftype or (_guess(item) if item is not parsed else ''))}")


def _emit_dict(d: dict, path: str, indent: int, out: list[str], types: dict, order: dict) -> None:
    pad = "  " * indent
    pos = {k: i for i, k in enumerate(d)}
    for k in sorted(d, key=lambda k: (order.get(f"{path}.{k}", 1 << 30), pos[k])):
        v = d[k]
        full = f"{path}.{k}"
        items = v if isinstance(v, list) else [v]
        for item in items:
            if isinstance(item, dict):
                out.append(f"{pad}{k} {{")
                _emit_dict(item, full, indent + 1, out, types, order)
                out.append(f"{pad}}}")
            else:
                out.append(f"{pad}{k}: {_scalar(item, types.get(full) or _guess(item))}")
