"""Overrides applied: typed ``Override`` objects (parsed by ``heyhi.config.grammar``, the one
override grammar) applied by ``compose``.

``a.b=1`` sets a scalar (a leading ``--`` is optional); ``I<mount>=<path>`` (also ``I.<mount>``,
and ``I=`` for the task itself) merges an include; the value ``NULL`` clears a field or a whole
oneof; ``SELECT`` selects an empty message in a oneof (on a scalar it is the text, as in the original); ``list.N=v`` sets, ``list.-1=v`` appends;
``map.k=v`` sets an entry. The last value of a repeated key wins, at its first position.

Promises: an error applying an override is one line at ``override 'TOKEN'``; a ``ConfigError``
there carries the ``Override`` (``.override``). The grammar's names (``Override``,
``OverrideKind``, ``split_items``, ...) are re-exported for the modules that import them from here.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from heyhi.config.cast import cast_python_value, cast_string  # noqa: F401 (cast_python_value: re-exported)
from heyhi.config.grammar import (  # noqa: F401 (re-exported)
    INCLUDE_KEY,
    SELECT_VALUE,
    UNSET_VALUE,
    Override,
    OverrideKind,
    blame,
    parse,
    parse_literal,
    split_items,
    strip_dashes,
)
from heyhi.errors import ConfigError
from heyhi.config.schema.model import FieldSpec, MessageType
from heyhi.config.values import Msg

_NULL, _SELECT, _SCALAR = OverrideKind.NULL, OverrideKind.SELECT, OverrideKind.SCALAR


def parse_override(token: str, index: int = 0) -> Override:
    """One token as composition reads it (``heyhi.config.grammar.parse``; a value is a value)."""
    return parse(token, index, sweep=False)


def parse_overrides(tokens: Iterable[str]) -> list[Override]:
    """All tokens as ``Override`` objects, in order (duplicates kept: see ``effective``)."""
    return [parse(t, i, sweep=False) for i, t in enumerate(tokens)]


def effective(overrides: Sequence[Override]) -> list[Override]:
    """The last value of a repeated key wins, at the key's first position (as the original)."""
    by_key: dict[str, Override] = {}
    for o in overrides:
        k = o.raw_key  # the original keyed by the raw key text
        first = by_key.get(k)
        by_key[k] = o if first is None else o.at(first.index)
    return sorted(by_key.values(), key=lambda o: o.index)


# ---------------------------------------------------------------------------------------------
# Applying scalar overrides.

def apply_scalar(root: Msg, path: str, o: Override, display_prefix: str = "") -> None:
    """Apply a scalar/null/select override at dotted ``path`` (task prefix already added); an
    error naming the override carries it (``ConfigError.override``)."""
    try:
        _apply_scalar(root, path, o, display_prefix)
    except ConfigError as e:
        blame(e, o)
        raise


def _apply_scalar(root: Msg, path: str, o: Override, display_prefix: str) -> None:
    where = o.where
    key = o.key
    parts = path.split(".")
    cur: Any = root
    i = 0
    n = len(parts)

    def shown(upto: int) -> str:
        k = ".".join(parts[:upto])
        return k[len(display_prefix):] if display_prefix and k.startswith(display_prefix) else k

    def unknown(at: int) -> ConfigError:
        from heyhi.config.suggest import did_you_mean_key  # lean: only an error needs it (keeps difflib off the start-up of heyhi run --print)

        return ConfigError(f"unknown key {key!r}{did_you_mean_key(key, root._type, display_prefix)}", where)

    while True:
        seg = parts[i]
        last = i == n - 1
        if not isinstance(cur, Msg):
            raise unknown(i)
        f = cur._type.fields.get(seg)
        if f is None:
            if last and seg in cur._type.oneofs and o.kind == _NULL:
                cur._clear(seg)
                return
            raise unknown(i)
        if last:
            _set_leaf(cur, f, o, key, where)
            return
        if f.kind == "message" and not f.repeated:
            # NULL inside an unset message creates the parents, as the original's did (protobuf's
            # ClearField through nested reads): ``launcher.slurm.partition=NULL`` selects slurm.
            cur = cur._sub(seg)
            i += 1
            continue
        if f.kind == "map":
            mkey = _cast_map_key(f, parts[i + 1], where, key)
            m = cur._map(seg)
            if i + 1 == n - 1:
                if o.kind == _NULL:
                    m.pop(mkey, None)
                elif f.map_value_kind == "message":
                    if o.kind != _SELECT:
                        raise ConfigError(f"{key!r} is a message: set its fields, not a value", where)
                    m.setdefault(mkey, Msg(f.message))
                else:
                    m[mkey] = cast_string(f, f.map_value_kind, o.text, where, key)
                return
            if f.map_value_kind != "message":
                raise unknown(i + 2)
            cur = m.setdefault(mkey, Msg(f.message))
            i += 2
            continue
        if f.repeated:
            lst = cur._list(seg)
            try:
                idx = int(parts[i + 1])
            except ValueError:
                raise ConfigError(f"{shown(i + 1)!r} is a list: expected an index, got {parts[i + 1]!r}", where) from None
            if idx != -1 and not 0 <= idx <= len(lst):
                raise ConfigError(
                    f"cannot access element {idx} of list {seg!r} that has {len(lst)} elements; use -1 to append",
                    where,
                )
            append = idx == -1 or idx == len(lst)
            if i + 1 == n - 1:
                if o.kind == _NULL:
                    if not append:
                        del lst[idx]
                    return
                if f.kind == "message":
                    if o.kind != _SELECT:
                        raise ConfigError(f"{key!r} is a message: set its fields, not a value", where)
                    if append:
                        lst.append(Msg(f.message))
                    return
                val = cast_string(f, f.kind, o.text, where, key)
                if append:
                    lst.append(val)
                else:
                    lst[idx] = val
                return
            if f.kind != "message":
                raise unknown(i + 2)
            if append:
                lst.append(Msg(f.message))
                idx = len(lst) - 1
            cur = lst[idx]
            i += 2
            continue
        raise ConfigError(f"{shown(i + 1)!r} is {f.type_label()}: it has no field {parts[i + 1]!r}", where)


def _set_leaf(cur: Msg, f: FieldSpec, o: Override, key: str, where: str) -> None:
    if o.kind == _NULL:
        cur._clear(f.name)
        return
    if f.kind == "message" and not f.repeated:
        if o.kind == _SELECT:
            cur._sub(f.name)
            return
        raise ConfigError(f"{key!r} is a message ({f.message.name}): set its fields, or use NULL/SELECT", where)
    if f.repeated and f.kind != "message" and o.kind == _SCALAR and o.value.startswith("[") and o.value.endswith("]"):
        # A list is a repeated field's whole value (to sweep it, use choice(...)).
        items = split_items(o.value[1:-1], where, o.token, value=True) if o.value[1:-1].strip() else []
        cur._set(f.name, [cast_string(f, f.kind, x, where, key) for x in items])
        return
    if f.repeated and f.kind == "message" and o.kind == _SCALAR and o.value.startswith("[") and o.value.endswith("]"):
        # A list of mappings is a repeated message field's whole value (grammar.parse_literal).
        items = parse_literal(o.value, where, o.token)
        cur._set(f.name, [_message_of(f.message, x, where, f"{key}.{i}") for i, x in enumerate(items)])
        return
    if f.repeated or f.kind == "map":
        if o.kind == _SELECT:
            raise ConfigError(f"SELECT only applies to a message in a oneof; {key!r} is {f.type_label()}", where)
        raise ConfigError(
            f"{key!r} is {f.type_label()}: set an element with {key}.N=VALUE or append with {key}.-1=VALUE", where
        )
    if o.kind == _SELECT:  # on a scalar it is its plain text, as in the original: a string stores "SELECT"
        try:
            value = cast_string(f, f.kind, o.value, where, key)
        except ConfigError:
            raise ConfigError(f"SELECT only applies to a message in a oneof; {key!r} is {f.type_label()}", where) from None
        cur._set(f.name, value)
        return
    cur._set(f.name, cast_string(f, f.kind, o.text, where, key))


def _message_of(mtype: MessageType, x: Any, where: str, key: str) -> Msg:
    """A message from a mapping of ``parse_literal`` (None leaves a field unset), each value read
    with its field's type; an unknown field or a value of the wrong shape is one line at ``where``."""
    if not isinstance(x, dict):
        raise ConfigError(f"{key!r} is a {mtype.name} message: expected a mapping {{field: value, ...}}", where)
    m = Msg(mtype)
    for name, v in x.items():
        f, k = mtype.fields.get(name), f"{key}.{name}"
        if f is None:
            from heyhi.config.suggest import did_you_mean  # lean: only an error needs it

            raise ConfigError(f"unknown key {k!r}{did_you_mean(name, list(mtype.fields))}", where)
        shape = dict if f.kind == "map" or (f.kind == "message" and not f.repeated) else list if f.repeated else str
        if v is not None and not isinstance(v, shape):
            want = {dict: "a mapping", list: "a list [...]", str: "a value"}[shape]
            raise ConfigError(f"{k!r} is {f.type_label()}: expected {want}", where)
        if v is None:
            continue
        if f.kind == "map":
            kind = f.map_value_kind
            v = {_cast_map_key(f, mk, where, k): (_message_of(f.message, mv, where, f"{k}.{mk}") if kind == "message"
                                                  else cast_string(f, kind, _text(mv, f"{k}.{mk}", where), where, k))
                 for mk, mv in v.items() if mv is not None}
        elif f.kind == "message":
            v = [_message_of(f.message, e, where, f"{k}.{i}") for i, e in enumerate(v)] if f.repeated \
                else _message_of(f.message, v, where, k)
        elif f.repeated:
            v = [cast_string(f, f.kind, _text(e, f"{k}.{i}", where), where, k) for i, e in enumerate(v)]
        else:
            v = cast_string(f, f.kind, v, where, k)
        m._set(name, v)
    return m


def _text(v: Any, key: str, where: str) -> str:
    if not isinstance(v, str):
        raise ConfigError(f"{key!r}: expected a value, got {'a list' if isinstance(v, list) else 'a mapping or None'}", where)
    return v


def _cast_map_key(f: FieldSpec, text: str, where: str, key: str):
    return cast_string(f, f.map_key, text, where, key)


def all_keys(mtype: MessageType, prefix: str = "", depth: int = 0, seen: tuple = ()) -> list[str]:
    """Every dotted field path under ``mtype`` (recursion-safe), for suggestions and completion."""
    out: list[str] = []
    if depth > 10 or mtype.full_name in seen:
        return out
    seen = seen + (mtype.full_name,)
    for f in mtype.fields.values():
        key = prefix + f.name
        if f.kind == "message" and not f.repeated:
            out.append(key)
            out.extend(all_keys(f.message, key + ".", depth + 1, seen))
        else:
            out.append(key)
    return out
