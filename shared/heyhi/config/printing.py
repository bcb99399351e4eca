"""Printing composed configs: protobuf text format (``--print``) and flat ``key=value`` lines.

``flat_lines`` is the original HeyHi's ``--print-flat`` output, byte for byte (Python's ``str`` of
each leaf, ``repr`` for strings with spaces and empty ones). ``replayable_lines`` (``--replayable``)
prints the same keys so that each line, given back as an override (an argv token or a line of an
``@file.txt``), sets exactly the value and presence it shows: strings the grammar would read as
something else are quoted (``heyhi.config.grammar.needs_quotes``), a repeated message is a list of
mappings of its set fields, a field that is not set is ``NULL`` (it keeps its default), a message
set but empty is ``SELECT``; with ``with_all`` an unset message is one ``NULL`` line and an unset
oneof ``ONEOF=NULL``.
"""

from __future__ import annotations

from typing import Any, Iterator

from heyhi.config.printer import to_text  # noqa: F401 (re-exported: it lived here)
from heyhi.config.values import Msg, to_dict
from heyhi.config.grammar import item_needs_quotes, needs_quotes, quote
from heyhi.config.flattext import flat_value_text  # noqa: F401 (re-exported: it lived here)


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


def flat_lines(msg: Msg, with_all: bool = False) -> list[str]:
    return [f"{k}={flat_value_text(v)}" for k, v in flat_items(msg, with_all)]


# ---- replayable lines ------------------------------------------------------------------------------


def replayable_lines(msg: Msg, with_all: bool = False) -> list[str]:
    """``key=value`` lines that set back what ``msg`` holds (see the module docstring), by key."""
    out: list[tuple[str, str]] = []
    _walk(msg, "", with_all, out)
    return [f"{k}={v}" for k, v in sorted(out)]


def _walk(m: Msg, prefix: str, with_all: bool, out: list) -> None:
    v = m._v
    for name, f in m._type.fields.items():
        key = prefix + name
        if f.oneof is not None and name not in v:
            continue  # an unchosen member: the oneof's own line says it (below)
        x = v.get(name)
        if f.kind == "message" and not f.repeated:
            if x is None:
                if with_all:
                    out.append((key, "NULL"))
            else:
                _sub(x, key, with_all, out)
        elif f.kind == "map":
            for mk, mv in (x or {}).items():
                k = f"{key}.{_scalar(f.map_key, mk, f)}"
                if isinstance(mv, Msg):
                    _sub(mv, k, with_all, out)
                else:
                    out.append((k, _value(f.map_value_kind, mv, f)))
        elif f.repeated:
            if x or with_all:
                if f.kind == "message":
                    out.append((key, "[" + ", ".join(_literal(e) for e in x or []) + "]"))
                else:
                    out.append((key, "[" + ",".join(_item(f.kind, e, f) for e in x or []) + "]"))
        elif name in v:
            out.append((key, _value(f.kind, x, f)))
        elif with_all:
            out.append((key, "NULL"))
    if with_all:
        for oneof in m._type.oneofs:
            if m._which(oneof) is None:
                out.append((prefix + oneof, "NULL"))


def _sub(m: Msg, key: str, with_all: bool, out: list) -> None:
    """A message that is set: its fields' lines, or ``SELECT`` when none would set it."""
    n = len(out)
    _walk(m, key + ".", with_all, out)
    if len(out) == n:
        out.append((key, "SELECT"))


def _scalar(kind: str, x: Any, f) -> str:
    if kind == "enum":
        return f.enum.by_number.get(x, str(x))
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    return str(x)


def _value(kind: str, x: Any, f) -> str:
    s = _scalar(kind, x, f)
    return quote(s) if isinstance(x, (str, bytes)) and needs_quotes(s) else s


def _item(kind: str, x: Any, f) -> str:
    s = _scalar(kind, x, f)
    return quote(s) if isinstance(x, (str, bytes)) and item_needs_quotes(s) else s


def _literal(m: Msg) -> str:
    """A message as a mapping of its set fields, in Python's literal syntax (``parse_literal``)."""
    return repr(_plain(m))


def _plain(m: Msg) -> dict:
    d: dict[str, Any] = {}
    for name, f in m._type.fields.items():
        if name not in m._v:
            continue
        x = m._v[name]
        if f.kind == "map":
            if x:
                d[name] = {_key(f, k): (_plain(e) if isinstance(e, Msg) else _leaf(f.map_value_kind, e, f)) for k, e in x.items()}
        elif f.repeated:
            if x:
                d[name] = [_plain(e) if isinstance(e, Msg) else _leaf(f.kind, e, f) for e in x]
        elif isinstance(x, Msg):
            d[name] = _plain(x)
        else:
            d[name] = _leaf(f.kind, x, f)
    return d


def _key(f, k: Any) -> Any:
    return k if isinstance(k, (str, int)) else str(k)


def _leaf(kind: str, x: Any, f) -> Any:
    if kind == "enum":
        return f.enum.by_number.get(x, str(x))
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    return x
