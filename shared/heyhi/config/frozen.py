"""Frozen configs: read-only objects with the original HeyHi's frozen API, one class per message type.

A frozen config reads like a dataclass: ``cfg.train.lr``; enums as names; unset -> the declared
default, else None (bools False); an unset sub-message -> an empty frozen message (None inside a
oneof); repeated -> tuple; map -> dict; ``cfg.which_<oneof>`` / ``cfg.<oneof>`` (the chosen
member's value). Values live in the instance's ``__dict__``, so a field always wins over a helper
of the same name (helpers are methods: ``HasField``, ``WhichOneof``, ``ListFields``, ``to_dict``,
``to_editable``, ``to_frozen``, ``is_frozen``, ``to_str_with_defaults``, ``get_proto_class``).
Writing raises ``RuntimeError``, as the original's did. ``repr`` is the editable message's, so a
frozen and an editable config of the same value print alike; they also compare equal.

The class of a type (``frozen_class``) is ``conf.conf_cfgs.<Name>`` of the original's users; its
keyword constructor gives a frozen config (``FrozenCfg(scalar=1, sub=...)``). No pydantic: building
and reading a frozen config costs a dict per message.

Below ``heyhi.config.values`` (which registers its editable classes here with
``register_editable``): this module imports no ``Msg``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from heyhi.config.schema.model import MessageType

if TYPE_CHECKING:
    from heyhi.config.values import Msg

_editable_class: Callable[[MessageType], type] | None = None
_msg_base: type | None = None


def register_editable(factory: Callable[[MessageType], type], base: type) -> None:
    """Called once by ``heyhi.config.values``: how to get a type's editable class."""
    global _editable_class, _msg_base
    _editable_class, _msg_base = factory, base


class FrozenConfig:
    """Base of every frozen config class."""

    _heyhi_type: MessageType
    heyhi_patched = True  # what the original's frozen configs answered (Cicero's code checks it)

    def __new__(cls, *args, **fields):
        mtype = cls.__dict__.get("_heyhi_type")
        if mtype is None:
            raise TypeError("FrozenConfig is abstract: use a message's frozen class (frozen_class(mtype))")
        if args:
            raise TypeError(f"{cls.__name__}() takes fields as keywords")
        return freeze(_editable_class(mtype)(**fields), copy=False)

    def __init__(self, *args, **fields):
        pass  # built by __new__

    @classmethod
    def get_proto_class(cls) -> type:
        """The editable class of this message type (the original's ``conf_pb2`` class)."""
        return _editable_class(cls._heyhi_type)

    # ---- read-only -----------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        raise RuntimeError(
            f"config {self._heyhi_type.name} is read-only: cannot set {name!r}; "
            "use cfg.to_editable(), change it, then .to_frozen()"
        )

    def __delattr__(self, name: str) -> None:
        raise RuntimeError(f"config {self._heyhi_type.name} is read-only: cannot delete {name!r}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        mtype = self._heyhi_type
        from heyhi.config.suggest import did_you_mean  # lean: only an error needs it (keeps difflib off the start-up)

        raise AttributeError(f"{mtype.name} has no field {name!r}{did_you_mean(name, list(mtype.fields))}")

    # ---- the original's API --------------------------------------------------------------
    def to_editable(self) -> "Msg":
        return self.__dict__["_msg"]._copy()

    def to_frozen(self) -> "FrozenConfig":
        return self

    def is_frozen(self) -> bool:
        return True

    def to_dict(self, *, with_defaults: bool = False, with_all: bool = False) -> dict:
        return _msg_base.to_dict(self.__dict__["_msg"], with_defaults=with_defaults, with_all=with_all)

    def to_str_with_defaults(self) -> str:
        return _msg_base.to_str_with_defaults(self.__dict__["_msg"])

    def HasField(self, name: str) -> bool:
        return _msg_base.HasField(self.__dict__["_msg"], name)

    def WhichOneof(self, oneof: str) -> str | None:
        return _msg_base.WhichOneof(self.__dict__["_msg"], oneof)

    def ListFields(self) -> list:
        d = self.__dict__
        return [(f, d[f.name]) for f, _ in _msg_base.ListFields(d["_msg"])]

    # ---- value semantics -----------------------------------------------------------------
    def __reduce__(self):
        return (freeze, (self.__dict__["_msg"],))  # unpickled: freeze(the Msg, unpickled)

    def __str__(self) -> str:
        return str(self.__dict__["_msg"])

    def __repr__(self) -> str:
        return repr(self.__dict__["_msg"])

    def __eq__(self, other: object) -> bool:
        mine = self.__dict__["_msg"]
        if isinstance(other, FrozenConfig):
            other = other.__dict__["_msg"]
        return mine == other

    def __hash__(self) -> int:
        return hash((self._heyhi_type.full_name, str(self)))


def frozen_class(mtype: MessageType) -> type[FrozenConfig]:
    """The frozen class of ``mtype`` (built once, cached on the type), named ``Frozen<Name>`` as
    the original's were."""
    cls = mtype.__dict__.get("_frozen_cls")
    if cls is not None:
        return cls
    cls = type(f"Frozen{mtype.name}", (FrozenConfig,), {"_heyhi_type": mtype, "__doc__": mtype.doc or None})
    mtype.__dict__["_frozen_cls"] = cls
    return cls


def freeze(msg: "Msg", copy: bool = True) -> FrozenConfig:
    """A frozen copy of ``msg`` (``copy=False``: take ``msg`` over; it must not change after)."""
    return _freeze(msg._copy() if copy else msg, ())


def _freeze(msg: "Msg", stack: tuple) -> FrozenConfig:
    mtype = msg._type
    cls = frozen_class(mtype)
    vals: dict[str, Any] = {}
    v = msg._v
    for name, f in mtype.fields.items():
        if f.oneof is not None and name not in v:
            vals[name] = None
            continue
        if f.kind == "message" and not f.repeated:
            sub = v.get(name)
            if sub is not None:
                vals[name] = _freeze(sub, stack + (mtype.full_name,))
            elif f.message.full_name in stack or f.message.full_name == mtype.full_name:
                vals[name] = None  # recursive schema: no infinite chain of empty messages
            else:
                vals[name] = _empty(type(msg), f.message, stack + (mtype.full_name,))
        elif f.kind == "map":
            m = v.get(name) or {}
            if f.map_value_kind == "message":
                vals[name] = {k: _freeze(x, stack) for k, x in m.items()}
            elif f.map_value_kind == "enum":
                vals[name] = {k: f.enum.by_number.get(x, x) for k, x in m.items()}
            else:
                vals[name] = dict(m)
        elif f.repeated:
            lst = v.get(name) or ()
            if f.kind == "message":
                vals[name] = tuple(_freeze(x, stack) for x in lst)
            elif f.kind == "enum":
                vals[name] = tuple(f.enum.by_number.get(x, x) for x in lst)
            else:
                vals[name] = tuple(lst)
        else:
            if name in v:
                x = v[name]
            elif f.has_default:
                x = f.default
            else:
                vals[name] = False if f.kind == "bool" else None
                continue
            vals[name] = f.enum.by_number.get(x, x) if f.kind == "enum" else x
    for oneof, members in mtype.oneofs.items():
        chosen = next((m for m in members if m in v), None)
        vals["which_" + oneof] = chosen
        vals[oneof] = vals[chosen] if chosen is not None else None
    obj = object.__new__(cls)
    d = obj.__dict__
    d.update(vals)
    d["_msg"] = msg
    return obj


def _empty(msg_cls: type, mtype: MessageType, stack: tuple) -> FrozenConfig:
    cached = mtype.__dict__.get("_frozen_empty")
    if cached is None:
        cached = _freeze(_msg_base(mtype), stack)
        mtype.__dict__["_frozen_empty"] = cached
    return cached
