"""Editable config values: ``Msg``, a message instance with protobuf's semantics and API.

A ``Msg`` holds only the fields that are set (``_v``: name -> value). Scalars are Python values
(enums by number), messages are ``Msg``, repeated fields lists, maps dicts. Setting a member of
a oneof clears the other members. Merging is protobuf's ``MergeFrom``: scalars replace, messages
merge, repeated fields concatenate, maps update, a oneof switches.

Every message type has its own class (``editable_class``: ``conf.conf_pb2.TestTask`` of the
original's users), a subclass of ``Msg`` with a keyword constructor. What a user sees, as with a
protobuf message:
- fields read as attributes and always win over helpers: the helpers are protobuf's CamelCase
  methods (``HasField``, ``WhichOneof``, ``ClearField``, ``MergeFrom``, ``CopyFrom``,
  ``ListFields``, ``Clear``) and the original HeyHi's (``to_dict``, ``to_frozen``, ``to_editable``,
  ``is_frozen``, ``to_str_with_defaults``), plus HeyHi's own spellings (``has``, ``which``,
  ``which_<oneof>``, ``set``, ``clear``, ``sub``, ``merge_from``, ``copy``...) where no field
  takes the name;
- reads never set anything: an unset sub-message reads as an empty message that is not attached
  (inside a oneof it does not select), an unset list or map as an empty one; writing through such a
  read attaches it and its parents (``cfg.a.b = 1`` makes ``HasField("a")`` true);
- errors are protobuf's types: ``AttributeError`` for an unknown attribute (a oneof's own name
  included), ``ValueError`` for an unknown name given to ``HasField``/``WhichOneof``/``ClearField``,
  ``TypeError`` for merging another type; a value that does not fit a field is a ``ConfigError``.
HeyHi's own code uses only the underscored methods (``_has``, ``_sub``, ``_v``, ``_type``...):
no schema field starts with ``_`` (the schema readers refuse one), so no field can hide them.

Imports only what sits below it (``heyhi.config``'s printer, casting, freezing).
"""

from __future__ import annotations

from typing import Any, Iterator

from heyhi.config import frozen as _frozen
from heyhi.config.cast import cast_python_value
from heyhi.config.printer import to_text
from heyhi.config.schema.model import FieldSpec, MessageType
from heyhi.errors import ConfigError

_SLOTS = ("_type", "_v", "_up", "_stubs")


class Msg:
    """A mutable message of schema type ``_type`` (protobuf semantics, no protobuf)."""

    __slots__ = _SLOTS
    heyhi_patched = True  # what the original's patched protobuf classes answered (Cicero's code checks it)

    def __new__(cls, *args, **fields):
        if cls is Msg:  # Msg(mtype[, values]): an instance of the type's own class
            cls = editable_class(args[0])
        return object.__new__(cls)

    def __init__(self, *args, **fields):
        """``Msg(mtype, values=None)`` (HeyHi's internal form), or ``TypeClass(field=value, ...)``."""
        if args:
            mtype, values = (args[0], args[1] if len(args) > 1 else None)
            object.__setattr__(self, "_type", mtype)
            object.__setattr__(self, "_v", {} if values is None else values)
            object.__setattr__(self, "_up", None)
            object.__setattr__(self, "_stubs", None)
            return
        mtype = type(self).__dict__.get("_heyhi_type")
        if mtype is None:
            raise TypeError("Msg() needs a message type: Msg(mtype) or a message class from editable_class()")
        object.__setattr__(self, "_type", mtype)
        object.__setattr__(self, "_v", {})
        object.__setattr__(self, "_up", None)
        object.__setattr__(self, "_stubs", None)
        for name, value in fields.items():
            self._assign(name, value, constructing=True)

    def __reduce__(self):
        return (Msg, (self._type, self._v))

    def __copy__(self):
        return self._copy()

    def __deepcopy__(self, memo):
        return self._copy()

    # ---- HeyHi's internal API (names no field can take) ------------------------------------
    def _has(self, name: str) -> bool:
        x = self._v.get(name)
        if x is None:
            return False
        return bool(x) if isinstance(x, (list, dict)) else True

    def _which(self, oneof: str) -> str | None:
        """The set member of ``oneof`` (or None)."""
        v = self._v
        for name in self._type.oneofs[oneof]:
            if name in v:
                return name
        return None

    def _claim_oneof(self, f: FieldSpec) -> None:
        if f.oneof is not None:
            for other in self._type.oneofs[f.oneof]:
                if other != f.name:
                    self._v.pop(other, None)
                    self._forget(other)

    def _forget(self, name: str) -> None:
        """Detach the read-only stand-in handed out for ``name`` (its field was set or cleared)."""
        st = self._stubs
        if st:
            stub = st.pop(name, None)
            if isinstance(stub, Msg):
                object.__setattr__(stub, "_up", None)
            elif isinstance(stub, _BoundList):
                stub._live = False
            elif isinstance(stub, _BoundDict):
                stub._owner = None

    def _set(self, name: str, value: Any) -> None:
        """Set a field (the value must already have the right Python type)."""
        f = self._type.fields[name]
        self._claim_oneof(f)
        if self._stubs:
            self._forget(name)
        self._v[name] = value

    def _clear(self, name: str) -> None:
        """Clear a field, or every member of a oneof when ``name`` is a oneof."""
        names = self._type.oneofs[name] if name in self._type.oneofs else (name,)
        for member in names:
            self._v.pop(member, None)
            if self._stubs:
                self._forget(member)

    def _sub(self, name: str) -> "Msg":
        """The sub-message ``name``, created (and so marked present) if unset."""
        cur = self._v.get(name)
        if cur is None:
            f = self._type.fields[name]
            self._claim_oneof(f)
            stub = self._stubs.pop(name, None) if self._stubs else None
            if stub is not None:  # keep the object a user read before alive: it is the value now
                object.__setattr__(stub, "_up", None)
                cur = stub
            else:
                cur = Msg(f.message)
            self._v[name] = cur
        return cur

    def _list(self, name: str) -> list:
        cur = self._v.get(name)
        if cur is None:
            cur = self._v[name] = []
        return cur

    def _map(self, name: str) -> dict:
        cur = self._v.get(name)
        if cur is None:
            cur = self._v[name] = {}
        return cur

    def _value(self, name: str) -> Any:
        """The field's value as protobuf's getter returns it: default if unset."""
        if name in self._v:
            return self._v[name]
        return default_value(self._type.fields[name])

    def _merge(self, other: "Msg") -> None:
        """protobuf MergeFrom: scalars replace, messages merge, repeated concatenate."""
        fields = self._type.fields
        for name, val in other._v.items():
            f = fields[name]
            if f.kind == "message":
                if f.repeated:
                    self._list(name).extend(m._copy() for m in val)
                else:
                    self._sub(name)._merge(val)
            elif f.kind == "map":
                dst = self._map(name)
                for k, x in val.items():
                    dst[k] = x._copy() if isinstance(x, Msg) else x
            elif f.repeated:
                self._list(name).extend(val)
            else:
                self._set(name, val)

    def _copy(self) -> "Msg":
        return Msg(self._type, _copy_values(self._v))

    def _walk_set(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        for name, val in self._v.items():
            key = f"{prefix}{name}"
            if isinstance(val, Msg):
                yield from val._walk_set(key + ".")
            elif not (isinstance(val, (list, dict)) and not val):
                yield key, val

    # ---- reads and writes as a user makes them ---------------------------------------------
    def _read(self, f: FieldSpec) -> Any:
        """A field's value without setting anything (see the module docstring)."""
        name = f.name
        cur = self._v.get(name)
        if cur is not None:
            if f.repeated and f.kind == "message" and type(cur) is list:  # so that ``.add()`` works
                bound = _BoundList(self, name, live=False)
                list.extend(bound, cur)
                cur = self._v[name] = bound
            return cur
        if f.kind == "message" and not f.repeated:
            return self._stub(name, f)
        if f.repeated or f.kind == "map":
            return self._stub(name, f)
        return default_value(f)

    def _stub(self, name: str, f: FieldSpec) -> Any:
        st = self._stubs
        if st is None:
            st = {}
            object.__setattr__(self, "_stubs", st)
        stub = st.get(name)
        if stub is None:
            if f.kind == "map":
                stub = _BoundDict(self, name)
            elif f.repeated:
                stub = _BoundList(self, name)
            else:
                stub = Msg(f.message)
                object.__setattr__(stub, "_up", self)
            st[name] = stub
        return stub

    def _touch(self) -> None:
        """About to be written: attach this message (and its parents) if it is a read's stand-in."""
        parent = self._up
        if parent is None:
            return
        object.__setattr__(self, "_up", None)
        parent._touch()
        for name, stub in list((parent._stubs or {}).items()):
            if stub is self:
                del parent._stubs[name]
                if name not in parent._v:
                    parent._claim_oneof(parent._type.fields[name])
                    parent._v[name] = self
                return

    def _attach_container(self, name: str, container: Any) -> None:
        """A list or map read from ``name`` is being written: it becomes the field's value."""
        self._touch()
        if self._stubs and self._stubs.get(name) is container:
            del self._stubs[name]
        if name not in self._v:
            self._v[name] = container

    def _assign(self, name: str, value: Any, constructing: bool = False) -> None:
        mtype = self._type
        f = mtype.fields.get(name)
        if f is None:
            if constructing:
                raise ValueError(f"{mtype.name} has no field {name!r}")
            raise AttributeError(f"{mtype.name} has no field {name!r}")
        self._touch()
        if value is None:
            self._clear(name)
            return
        where = f"{mtype.name}.{name}"
        if f.kind == "message" and not f.repeated:
            self._set(name, _as_msg(f.message, value, where))
        elif f.kind == "map":
            if not isinstance(value, dict):
                raise ConfigError(f"{name!r} is {f.type_label()}: expected a dict, got {type(value).__name__}", where)
            if f.map_value_kind == "message":
                self._set(name, {k: _as_msg(f.message, x, where) for k, x in value.items()})
            else:
                val_spec = FieldSpec(f.name, f.number, f.map_value_kind, False, f.type_name, enum=f.enum)
                self._set(name, {k: cast_python_value(val_spec, x, where) for k, x in value.items()})
        elif f.repeated and f.kind == "message":
            if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
                raise ConfigError(f"{name!r} is {f.type_label()}: expected a list, got {type(value).__name__}", where)
            self._set(name, [_as_msg(f.message, x, where) for x in value])
        else:
            if f.repeated and (isinstance(value, (str, bytes)) or not hasattr(value, "__iter__")):
                raise ConfigError(f"{name!r} is {f.type_label()}: expected a list, got {type(value).__name__}", where)
            self._set(name, cast_python_value(f, list(value) if f.repeated else value, where))

    def __getattr__(self, name: str) -> Any:
        if name in _SLOTS or name.startswith("__"):
            raise AttributeError(name)
        mtype = self._type
        f = mtype.fields.get(name)
        if f is not None:
            return self._read(f)
        if name.startswith("which_") and name[6:] in mtype.oneofs:
            return self._which(name[6:])
        raise AttributeError(f"{mtype.name} has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._assign(name, value)

    def __delattr__(self, name: str) -> None:
        if name not in self._type.fields:
            raise AttributeError(f"{self._type.name} has no field {name!r}")
        self._clear(name)

    # ---- protobuf's API ---------------------------------------------------------------------
    def HasField(self, name: str) -> bool:
        """protobuf's ``HasField``: is the singular field (or a member of the oneof) set."""
        mtype = self._type
        if name in mtype.oneofs:
            return self._which(name) is not None
        f = mtype.fields.get(name)
        if f is None or f.repeated or f.kind == "map":
            raise ValueError(f"{mtype.name} has no singular field {name!r}")
        return name in self._v

    def WhichOneof(self, oneof: str) -> str | None:
        """protobuf's ``WhichOneof``: the set member's name, or None."""
        if oneof not in self._type.oneofs:
            raise ValueError(f"{self._type.name} has no oneof {oneof!r}")
        return self._which(oneof)

    def ClearField(self, name: str) -> None:
        """protobuf's ``ClearField``: unset a field, or every member of a oneof."""
        if name not in self._type.fields and name not in self._type.oneofs:
            raise ValueError(f"{self._type.name} has no field {name!r}")
        self._clear(name)

    def Clear(self) -> None:
        """Unset every field."""
        for name in list(self._v):
            self._clear(name)

    def MergeFrom(self, other: Any) -> None:
        """protobuf's ``MergeFrom`` (``other``: a message of the same type, editable or frozen)."""
        other = _same_type(self, other, "MergeFrom")
        self._touch()
        self._merge(other._copy())

    def CopyFrom(self, other: Any) -> None:
        """protobuf's ``CopyFrom``: this message becomes a copy of ``other``."""
        other = _same_type(self, other, "CopyFrom")
        if other is self:
            return
        src = other._copy()
        self._touch()
        self.Clear()
        self._merge(src)

    def ListFields(self) -> list[tuple[FieldSpec, Any]]:
        """protobuf's ``ListFields``: (field, value) of the set fields, by field number."""
        v = self._v
        out = []
        for f in self._type.by_number:
            x = v.get(f.name)
            if x is None or (isinstance(x, (list, dict)) and not x):
                continue
            out.append((f, x))
        return out

    # ---- the original HeyHi's API ----------------------------------------------------------
    def to_dict(self, *, with_defaults: bool = False, with_all: bool = False) -> dict:
        return to_dict(self, with_defaults=with_defaults, with_all=with_all)

    def to_frozen(self):
        return _frozen.freeze(self)

    def to_editable(self) -> "Msg":
        return self

    def is_frozen(self) -> bool:
        return False

    def to_str_with_defaults(self) -> str:
        """The text format of this message with every declared default filled in."""
        return str(type(self)(**to_dict(self, with_defaults=True)))

    # ---- HeyHi's own spellings (where no field takes the name) -----------------------------
    def has(self, name: str) -> bool:
        return self._has(name)

    def which(self, oneof: str) -> str | None:
        return self._which(oneof)

    def set(self, name: str, value: Any) -> None:
        self._touch()
        self._set(name, value)

    def clear(self, name: str) -> None:
        self._clear(name)

    def sub(self, name: str) -> "Msg":
        self._touch()
        return self._sub(name)

    def get_list(self, name: str) -> list:
        self._touch()
        return self._list(name)

    def get_map(self, name: str) -> dict:
        self._touch()
        return self._map(name)

    def value_of(self, name: str) -> Any:
        return self._value(name)

    def merge_from(self, other: "Msg") -> None:
        self.MergeFrom(other)

    def copy(self) -> "Msg":
        return self._copy()

    def walk_set(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        return self._walk_set(prefix)

    @property
    def type(self) -> MessageType:
        return self._type

    @property
    def v(self) -> dict:
        return self._v

    # ---- value semantics -------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if hasattr(other, "get_proto_class") and hasattr(other, "_msg"):
            other = other.__dict__["_msg"]  # a frozen config equals the editable one of the same value
        return (
            isinstance(other, Msg)
            and other._type.full_name == self._type.full_name
            and _present(other._v) == _present(self._v)
        )

    def __hash__(self):  # mutable
        raise TypeError(f"unhashable type: '{self._type.name}' (an editable config; freeze it with to_frozen())")

    def __repr__(self) -> str:
        return f"<{self._type.name}>\n{to_text(self)}"

    def __str__(self) -> str:
        return to_text(self)


# Names every ``Msg`` answers by class lookup; a field with one of these names gets a descriptor
# on its type's class so that the field wins.
_MSG_NAMES = frozenset(n for c in Msg.__mro__ for n in vars(c))


class _Field:
    """A field whose name a helper also has: the field wins (a non-data descriptor)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj._read(obj._type.fields[self.name])


def editable_class(mtype: MessageType) -> type[Msg]:
    """The class of editable messages of ``mtype`` (built once, cached on the type): a ``Msg``
    subclass named after the message, with a keyword constructor (``cls(field=value, ...)``;
    sub-messages as messages, frozen configs or dicts, enums by name or number)."""
    cls = mtype.__dict__.get("_editable_cls")
    if cls is not None:
        return cls
    ns: dict[str, Any] = {"__slots__": (), "_heyhi_type": mtype, "__doc__": mtype.doc or None}
    for name in mtype.fields:
        if name in _MSG_NAMES:
            ns[name] = _Field(name)
    cls = type(mtype.name, (Msg,), ns)
    cls.__qualname__ = mtype.full_name.split(".", 1)[-1] if "." in mtype.full_name else mtype.name
    mtype.__dict__["_editable_cls"] = cls
    return cls


class _BoundList(list):
    """An unset repeated field as read: an empty list that becomes the field's value when written."""

    __slots__ = ("_owner", "_name", "_live")

    def __init__(self, owner: Msg, name: str, live: bool = True):
        super().__init__()
        self._owner = owner
        self._name = name
        self._live = live  # still a stand-in: not yet the field's value

    def _w(self) -> None:
        if self._live:
            self._live = False
            self._owner._attach_container(self._name, self)

    def __reduce__(self):
        return (list, (list(self),))

    def add(self, **fields) -> Msg:
        """protobuf's ``add`` of a repeated message field: append a new message and return it."""
        f = self._owner._type.fields[self._name]
        if f.kind != "message":
            raise TypeError(f"add() is for repeated message fields; {self._name!r} is {f.type_label()}")
        m = editable_class(f.message)(**fields)
        self.append(m)
        return m


def _writer(name: str):
    base = getattr(list, name)

    def method(self, *args, **kw):
        self._w()
        return base(self, *args, **kw)

    method.__name__ = name
    return method


for _n in ("append", "extend", "insert", "__setitem__", "__delitem__", "__iadd__", "__imul__", "pop", "remove",
           "sort", "reverse", "clear"):
    setattr(_BoundList, _n, _writer(_n))


class _BoundDict(dict):
    """An unset map field as read: an empty dict that becomes the field's value when written."""

    __slots__ = ("_owner", "_name")

    def __init__(self, owner: Msg, name: str):
        super().__init__()
        self._owner = owner
        self._name = name

    def _w(self) -> None:
        owner = self._owner
        if owner is not None:
            self._owner = None
            owner._attach_container(self._name, self)

    def __reduce__(self):
        return (dict, (dict(self),))


def _dict_writer(name: str):
    base = getattr(dict, name)

    def method(self, *args, **kw):
        self._w()
        return base(self, *args, **kw)

    method.__name__ = name
    return method


for _n in ("__setitem__", "__delitem__", "__ior__", "update", "setdefault", "pop", "popitem", "clear"):
    setattr(_BoundDict, _n, _dict_writer(_n))


def _present(v: dict) -> dict:
    """``v`` without empty lists and maps (a repeated field has no presence: empty is unset)."""
    if not any(isinstance(x, (list, dict)) and not x for x in v.values()):
        return v
    return {k: x for k, x in v.items() if not (isinstance(x, (list, dict)) and not x)}


def _same_type(self: Msg, other: Any, what: str) -> Msg:
    msg = other.__dict__.get("_msg") if hasattr(other, "get_proto_class") else other
    if not isinstance(msg, Msg) or msg._type.full_name != self._type.full_name:
        raise TypeError(
            f"{what}: expected a {self._type.name} message, got {getattr(type(other), '__name__', type(other))}"
        )
    return msg


def _as_msg(mtype: MessageType, value: Any, where: str) -> Msg:
    """A value given for a message field (editable, frozen or a dict) as a fresh ``Msg``."""
    if isinstance(value, Msg):
        if value._type.full_name != mtype.full_name:
            raise ConfigError(f"expected a {mtype.name} message, got a {value._type.name}", where)
        return value._copy()
    if hasattr(value, "get_proto_class") and "_msg" in getattr(value, "__dict__", {}):
        return _as_msg(mtype, value.__dict__["_msg"], where)
    if isinstance(value, dict):
        return editable_class(mtype)(**value)
    raise ConfigError(f"expected a {mtype.name} message (or a dict of its fields), got {type(value).__name__}", where)


def _copy_values(v: dict) -> dict:
    out = {}
    for k, x in v.items():
        if isinstance(x, Msg):
            out[k] = x._copy()
        elif isinstance(x, list):
            out[k] = [m._copy() if isinstance(m, Msg) else m for m in x]
        elif isinstance(x, dict):
            out[k] = {a: (m._copy() if isinstance(m, Msg) else m) for a, m in x.items()}
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
    v = msg._v
    for name, f in msg._type.fields.items():
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
    return m._copy()


_frozen.register_editable(editable_class, Msg)
