"""Typing a parsed file (``tree.Node``) against the schema into a ``Msg``.

Errors name file:line:col, the field and what was expected, on one line.
"""

from __future__ import annotations

from typing import Any

from heyhi.config import textformat as tf
from heyhi.config.cast import to_float32  # noqa: F401 (re-exported: it lived here)
from heyhi.errors import ConfigError
from heyhi.config.schema.model import FLOAT_KINDS, INT_KINDS, INT_RANGES, FieldSpec, MessageType
from heyhi.config.suggest import did_you_mean
from heyhi.config.tree import ListValue, Node, Scalar
from heyhi.config.values import Msg


def node_to_msg(node: Node, mtype: MessageType, into: Msg | None = None) -> Msg:
    """Merge ``node`` into ``into`` (or a new ``Msg``), as protobuf's text_format.Merge."""
    msg = into if into is not None else Msg(mtype)
    for entry in node.entries:
        f = mtype.fields.get(entry.name)
        if f is None:
            hint = did_you_mean(entry.name, list(mtype.fields))
            raise ConfigError(f"unknown field {entry.name!r} in {mtype.name}{hint}", str(entry.loc))
        val = entry.value
        if f.kind == "map":
            _merge_map(msg, f, val, entry)
        elif f.repeated:
            items = val.items if isinstance(val, ListValue) else [val]
            lst = msg._list(f.name)
            for item in items:
                lst.append(_typed_value(f, item, entry.name))
        elif isinstance(val, ListValue):
            raise ConfigError(f"field {entry.name!r} is not repeated: a list is not allowed here", str(val.loc))
        elif f.kind == "message":
            if not isinstance(val, Node):
                raise ConfigError(
                    f"field {entry.name!r} is a message ({f.message.name}): expected '{{ ... }}', got a value",
                    str(val.loc),
                )
            node_to_msg(val, f.message, msg._sub(f.name))
        else:
            if isinstance(val, Scalar) and val.kind == "null":
                msg._clear(f.name)
                continue
            msg._set(f.name, _typed_value(f, val, entry.name))
    return msg


def _merge_map(msg: Msg, f: FieldSpec, val: Any, entry) -> None:
    dst = msg._map(f.name)
    if isinstance(val, Node) and not any(e.name in ("key", "value") for e in val.entries) and val.entries:
        # YAML/JSON style: a mapping of key -> value.
        for e in val.entries:
            dst[_map_key(f, Scalar("string", e.name, e.loc))] = _map_value(f, e.value, e.name)
        return
    items = val.items if isinstance(val, ListValue) else [val]
    for item in items:
        if not isinstance(item, Node):
            raise ConfigError(f"map field {f.name!r} expects entries '{{ key: ... value: ... }}'", str(item.loc))
        key = None
        value: Any = None
        for e in item.entries:
            if e.name == "key":
                key = _map_key(f, e.value)
            elif e.name == "value":
                value = _map_value(f, e.value, f.name)
            else:
                raise ConfigError(f"map entry of {f.name!r} has only 'key' and 'value', got {e.name!r}", str(e.loc))
        if key is None:
            key = _typed_scalar(f.map_key, None, Scalar("string", "", item.loc), f.name) if f.map_key == "string" else 0
        if value is None:
            value = Msg(f.message) if f.map_value_kind == "message" else None
        dst[key] = value


def _map_key(f: FieldSpec, sc: Any):
    if not isinstance(sc, Scalar):
        raise ConfigError(f"map key of {f.name!r} must be a scalar", str(sc.loc))
    return _typed_scalar(f.map_key, None, sc, f.name)


def _map_value(f: FieldSpec, val: Any, name: str):
    if f.map_value_kind == "message":
        if not isinstance(val, Node):
            raise ConfigError(f"map {f.name!r} holds {f.message.name} messages: expected '{{ ... }}'", str(val.loc))
        return node_to_msg(val, f.message)
    if not isinstance(val, Scalar):
        raise ConfigError(f"map {f.name!r} holds {f.map_value_kind} values: expected a scalar", str(val.loc))
    return _typed_scalar(f.map_value_kind, f.enum, val, name)


def _typed_value(f: FieldSpec, val: Any, name: str) -> Any:
    if f.kind == "message":
        if not isinstance(val, Node):
            raise ConfigError(f"field {name!r} is a message ({f.message.name}): expected '{{ ... }}'", str(val.loc))
        return node_to_msg(val, f.message)
    if not isinstance(val, Scalar):
        what = "a list" if isinstance(val, ListValue) else "a message"
        raise ConfigError(f"field {name!r} is {f.type_label()}: got {what}", str(val.loc))
    return _typed_scalar(f.kind, f.enum, val, name)


def _typed_scalar(kind: str, enum, sc: Scalar, name: str) -> Any:
    k, v = sc.kind, sc.value
    where = str(sc.loc)
    try:
        if kind in INT_KINDS:
            if k == "number":
                out = tf.parse_int(v)
            elif k == "int":
                out = v
            elif k == "string" and not isinstance(v, bool):
                out = tf.parse_int(v)
            else:
                raise ValueError
            lo, hi = INT_RANGES[kind]
            if not lo <= out <= hi:
                raise ConfigError(f"field {name!r} ({kind}): {out} is out of range [{lo}, {hi}]", where)
            return out
        if kind in FLOAT_KINDS:
            if k in ("number", "ident", "string"):
                out = tf.parse_float(v)
            elif k in ("int", "float") and not isinstance(v, bool):
                out = float(v)
            else:
                raise ValueError
            return to_float32(out) if kind == "float" else out
        if kind == "bool":
            if k == "bool":
                return v
            if k in ("ident", "number", "string"):
                return tf.parse_bool(v)
            if k == "int" and v in (0, 1):
                return bool(v)
            raise ValueError
        if kind == "string":
            if k == "string":
                return v
            if k in ("int", "float"):
                return str(v)
            raise ValueError
        if kind == "bytes":
            if k == "string":
                return v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v
            raise ValueError
        if kind == "enum":
            if k in ("ident", "string"):
                if v in enum.values:
                    return enum.values[v]
                raise ConfigError(
                    f"field {name!r}: {v!r} is not a value of enum {enum.name}; valid: {', '.join(enum.values)}", where
                )
            if k in ("number", "int"):
                n = tf.parse_int(v) if k == "number" else v
                if n in enum.by_number:
                    return n
                raise ConfigError(
                    f"field {name!r}: {n} is not a value of enum {enum.name}; valid: {', '.join(enum.values)}", where
                )
            raise ValueError
    except ConfigError:
        raise
    except (ValueError, TypeError, OverflowError):
        shown = v if k in ("number", "ident") else repr(v)
        label = f"enum {enum.name}" if kind == "enum" else kind
        raise ConfigError(f"field {name!r} expects {label}, got {shown}", where) from None
    raise ConfigError(f"field {name!r}: unsupported type {kind}", where)
