"""Editable config values: ``Msg``, a message instance with protobuf semantics.

A ``Msg`` holds only the fields that are set (``v``: name -> value). Scalars are Python values
(enums by number), messages are ``Msg``, repeated fields lists, maps dicts. Setting a member of
a oneof clears the other members. ``merge_from`` is protobuf's ``MergeFrom``: scalars replace,
messages merge, repeated fields concatenate, maps update, a oneof switches.

Imports only what sits below it (``heyhi.config``'s printer, casting and, lazily, freezing), so
``printing``, ``overrides``, ``typed`` and ``frozen`` can all build on it without a cycle.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator

from heyhi.config.cast import cast_python_value
from heyhi.config.printer import to_text
from heyhi.errors import ConfigError
from heyhi.config.schema.model import FieldSpec, MessageType


class Msg:
    """A mutable message of schema type ``type`` (protobuf semantics, no pydantic)."""

    __slots__ = ("type", "v")

    def __init__(self, mtype: MessageType, values: dict[str, Any] | None = None):
        object.__setattr__(self, "type", mtype)
        object.__setattr__(self, "v", {} if values is None else values)

    def __reduce__(self):
        return (Msg, (self.type, self.v))

    # ---- presence and oneofs -------------------------------------------------------------
    def has(self, name: str) -> bool:
        return name in self.v

    def which(self, oneof: str) -> str | None:
        """The set member of ``oneof`` (or None)."""
        for name in self.type.oneofs[oneof]:
            if name in self.v:
                return name
        return None

    def _claim_oneof(self, f: FieldSpec) -> None:
        if f.oneof is not None:
            for other in self.type.oneofs[f.oneof]:
                if other != f.name:
                    self.v.pop(other, None)

    def set(self, name: str, value: Any) -> None:
        """Set a field (the value must already have the right Python type)."""
        f = self.type.fields[name]
        self._claim_oneof(f)
        self.v[name] = value

    def clear(self, name: str) -> None:
        """Clear a field, or every member of a oneof when ``name`` is a oneof."""
        if name in self.type.oneofs:
            for member in self.type.oneofs[name]:
                self.v.pop(member, None)
        else:
            self.v.pop(name, None)

    def sub(self, name: str) -> "Msg":
        """The sub-message ``name``, created (and so marked present) if unset."""
        cur = self.v.get(name)
        if cur is None:
            f = self.type.fields[name]
            self._claim_oneof(f)
            cur = Msg(f.message)
            self.v[name] = cur
        return cur

    def get_list(self, name: str) -> list:
        cur = self.v.get(name)
        if cur is None:
            cur = self.v[name] = []
        return cur

    def get_map(self, name: str) -> dict:
        cur = self.v.get(name)
        if cur is None:
            cur = self.v[name] = {}
        return cur

    # ---- value semantics -----------------------------------------------------------------
    def value_of(self, name: str) -> Any:
        """The field's value as protobuf's getter returns it: default if unset."""
        if name in self.v:
            return self.v[name]
        f = self.type.fields[name]
        return default_value(f)

    def merge_from(self, other: "Msg") -> None:
        """protobuf MergeFrom: scalars replace, messages merge, repeated concatenate."""
        fields = self.type.fields
        for name, val in other.v.items():
            f = fields[name]
            if f.kind == "message":
                if f.repeated:
                    self.get_list(name).extend(m.copy() for m in val)
                else:
                    self.sub(name).merge_from(val)
            elif f.kind == "map":
                dst = self.get_map(name)
                for k, x in val.items():
                    dst[k] = x.copy() if isinstance(x, Msg) else x
            elif f.repeated:
                self.get_list(name).extend(val)
            else:
                self.set(name, val)

    def copy(self) -> "Msg":
        return Msg(self.type, _copy_values(self.v))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Msg) and other.type.full_name == self.type.full_name and other.v == self.v

    def __hash__(self):  # mutable
        raise TypeError("unhashable type: 'Msg'")

    def __repr__(self) -> str:
        return f"<{self.type.name}>\n{to_text(self)}"

    def __str__(self) -> str:
        return to_text(self)

    # ---- convenience: attribute access for editable configs ------------------------------
    def __getattr__(self, name: str) -> Any:
        mtype = object.__getattribute__(self, "type")
        f = mtype.fields.get(name)
        if f is None:
            if name in mtype.oneofs:
                w = self.which(name)
                return None if w is None else self.__getattr__(w)
            if name.startswith("which_") and name[6:] in mtype.oneofs:
                return self.which(name[6:])
            raise AttributeError(f"{mtype.name} has no field {name!r}")
        if f.kind == "message" and not f.repeated:
            return self.sub(name)
        if f.repeated:
            return self.get_list(name)
        if f.kind == "map":
            return self.get_map(name)
        return self.value_of(name)

    def __setattr__(self, name: str, value: Any) -> None:
        f = self.type.fields.get(name)
        if f is None:
            raise AttributeError(f"{self.type.name} has no field {name!r}")
        if value is None:
            self.clear(name)
            return
        self.set(name, cast_python_value(f, value, where=f"{self.type.name}.{name}"))

    # ---- conversions ---------------------------------------------------------------------
    def to_dict(self, *, with_defaults: bool = False, with_all: bool = False) -> dict:
        return to_dict(self, with_defaults=with_defaults, with_all=with_all)

    def to_frozen(self):
        from heyhi.config.frozen import freeze  # lean: keeps pydantic off the start-up of heyhi run --print

        return freeze(self)

    def to_editable(self) -> "Msg":
        return self

    def is_frozen(self) -> bool:
        return False

    def walk_set(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        for name, val in self.v.items():
            key = f"{prefix}{name}"
            if isinstance(val, Msg):
                yield from val.walk_set(key + ".")
            else:
                yield key, val


def _copy_values(v: dict) -> dict:
    out = {}
    for k, x in v.items():
        if isinstance(x, Msg):
            out[k] = x.copy()
        elif isinstance(x, list):
            out[k] = [m.copy() if isinstance(m, Msg) else m for m in x]
        elif isinstance(x, dict):
            out[k] = {a: (m.copy() if isinstance(m, Msg) else m) for a, m in x.items()}
        else:
            out[k] = x
    return out


_ZERO = {"bool": False, "string": "", "bytes": b"", "float": 0.0, "double": 0.0}


def default_value(f: FieldSpec) -> Any:
    """What protobuf's getter returns for an unset singular scalar/enum field."""
    if f.has_default:
        return f.default
    if f.kind == "enum":
        return next(iter(f.enum.values.values()))
    return _ZERO.get(f.kind, 0)


def enum_name(f: FieldSpec, number: int) -> str:
    name = f.enum.by_number.get(number)
    if name is None:
        raise ConfigError(f"{f.name}: {number} is not a value of enum {f.enum.name}")
    return name


def to_dict(msg: Msg, *, with_defaults: bool = False, with_all: bool = False) -> dict:
    """The config as a nested dict, as the original HeyHi's ``to_dict``.

    By default only fields that are set; ``with_defaults`` adds unset fields that declare a
    default; ``with_all`` shows every field (unset ones as None, unset bools False), empty
    messages and lists included. For a oneof only the chosen member is shown.
    """
    if with_all:
        with_defaults = True
    ret: dict[str, Any] = {}
    v = msg.v
    for name, f in msg.type.fields.items():
        if f.oneof is not None and name not in v:
            continue  # unchosen oneof member
        if f.kind == "message" and not f.repeated:
            sub = v.get(name)
            value = to_dict(sub if sub is not None else Msg(f.message), with_defaults=with_defaults, with_all=with_all)
            if not with_all and not value and f.oneof is None:
                continue
        elif f.kind == "map":
            m = v.get(name) or {}
            value = {
                k: (to_dict(x, with_defaults=with_defaults, with_all=with_all) if isinstance(x, Msg) else
                    (enum_name_or_none(f, x) if f.map_value_kind == "enum" else x))
                for k, x in m.items()
            }
            if not with_all and not value:
                continue
        elif f.repeated:
            lst = v.get(name) or []
            if f.kind == "message":
                value = [to_dict(x, with_defaults=with_defaults, with_all=with_all) for x in lst]
            elif f.kind == "enum":
                value = [enum_name(f, x) for x in lst]
            else:
                value = list(lst)
            if not with_all and not value:
                continue
        else:
            if name in v:
                value = v[name]
                if f.kind == "enum":
                    value = enum_name(f, value)
            else:
                if not with_all and not (f.has_default and with_defaults):
                    continue
                if f.has_default:
                    value = f.default
                    if f.kind == "enum":
                        value = enum_name(f, value)
                else:
                    value = False if f.kind == "bool" else None
        ret[name] = value
    return ret


def enum_name_or_none(f: FieldSpec, x: int) -> str:
    return f.enum.by_number.get(x, str(x))


def deepcopy_msg(m: Msg) -> Msg:
    return copy.deepcopy(m)
