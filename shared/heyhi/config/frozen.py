"""Frozen configs: immutable pydantic objects built lazily from the schema.

One pydantic model class is built per message type the first time a config of that type is
frozen (never on the print path). Values read like dataclasses: ``cfg.train.lr``; enums as
names; unset -> the declared default, else None (bools False); unset sub-messages -> an empty
frozen message; repeated -> tuple; map -> dict; ``cfg.which_<oneof>`` / ``cfg.<oneof>``.

Below ``heyhi.config.values`` (``Msg.to_frozen`` freezes with it): it reads and copies a ``Msg`` through
its own methods and builds empty ones with ``type(msg)``, so it imports no ``Msg``. ``heyhi.config.frozen``
re-exports these names and keeps ``_unpickle`` for frozen configs pickled by an earlier HeyHi.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Optional

from pydantic import BaseModel, ConfigDict

from heyhi.config.schema.model import MessageType

if TYPE_CHECKING:
    from heyhi.config.values import Msg


class FrozenConfig(BaseModel):
    """Base of every frozen config class."""

    model_config = ConfigDict(frozen=True, protected_namespaces=(), arbitrary_types_allowed=True, extra="forbid")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"config {type(self).__name__} is read-only: cannot set {name!r}; "
            "use cfg.to_editable(), change it, then .to_frozen()"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"config {type(self).__name__} is read-only: cannot delete {name!r}")

    # The editable message this object was frozen from (kept for to_editable / pickling).
    def to_editable(self) -> "Msg":
        return self.__pydantic_private__["_msg"].copy()

    def to_frozen(self) -> "FrozenConfig":
        return self

    def is_frozen(self) -> bool:
        return True

    def to_dict(self, *, with_defaults: bool = False, with_all: bool = False) -> dict:
        return self.__pydantic_private__["_msg"].to_dict(with_defaults=with_defaults, with_all=with_all)

    def __reduce__(self):
        return (freeze, (self.__pydantic_private__["_msg"],))  # unpickled: freeze(the Msg, unpickled)

    def __str__(self) -> str:
        return str(self.__pydantic_private__["_msg"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, FrozenConfig)
            and other._heyhi_type.full_name == self._heyhi_type.full_name
            and other.__pydantic_private__["_msg"] == self.__pydantic_private__["_msg"]
        )

    def __hash__(self) -> int:
        return hash((self._heyhi_type.full_name, str(self)))


def frozen_class(mtype: MessageType) -> type[FrozenConfig]:
    """The pydantic model class of ``mtype`` (built once, cached on the type)."""
    cls = mtype.__dict__.get("_frozen_cls")
    if cls is not None:
        return cls

    from pydantic import PrivateAttr, create_model  # lean: pydantic loads only when this runs

    fields: dict[str, Any] = {}
    for f in mtype.fields.values():
        fields[f.name] = (Optional[Any], None)
    for oneof in mtype.oneofs:
        fields[oneof] = (Optional[Any], None)
        fields["which_" + oneof] = (Optional[str], None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cls = create_model(
            mtype.name,
            __base__=FrozenConfig,
            __doc__=mtype.doc or None,
            _msg=(Any, PrivateAttr(default=None)),
            **fields,
        )
    type.__setattr__(cls, "_heyhi_type", mtype)
    mtype.__dict__["_frozen_cls"] = cls
    return cls


def freeze(msg: "Msg", copy: bool = True) -> FrozenConfig:
    """A frozen copy of ``msg`` (``copy=False``: take ``msg`` over; it must not change after)."""
    return _freeze(msg.copy() if copy else msg, ())


def _freeze(msg: "Msg", stack: tuple) -> FrozenConfig:
    mtype = msg.type
    cls = frozen_class(mtype)
    vals: dict[str, Any] = {}
    v = msg.v
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
    obj = cls.model_construct(**vals)
    object.__setattr__(obj, "__pydantic_private__", {"_msg": msg})
    return obj


def _empty(msg_cls: type, mtype: MessageType, stack: tuple) -> FrozenConfig:
    cached = mtype.__dict__.get("_frozen_empty")
    if cached is None:
        cached = _freeze(msg_cls(mtype), stack)
        mtype.__dict__["_frozen_empty"] = cached
    return cached
