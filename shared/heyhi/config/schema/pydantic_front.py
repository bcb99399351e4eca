"""The pydantic front-end: a schema written as pydantic models.

    class Launcher(BaseModel):
        local: Local | None = None
        slurm: Slurm | None = None
        launcher: ClassVar = Oneof("local", "slurm")

Types: ``bool``, ``int`` (int64; ``Int32`` for int32), ``float`` (double; ``Float32``), ``str``,
``bytes``, an ``enum.Enum`` subclass, another model (a message), ``list[X]`` (repeated),
``dict[K, V]`` (map); ``X | None`` is optional. A non-None default is the field's default.
Docs come from ``Field(description=...)`` (or attribute docstrings with
``use_attribute_docstrings``) and class docstrings. Field numbers follow declaration order.
The project names its root model in pyproject.toml: ``[tool.heyhi] schema = "conf.schema:MetaCfg"``.
"""

from __future__ import annotations

import enum
import importlib
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any

from heyhi.errors import ConfigError
from heyhi.config.schema.model import EnumType, FieldSpec, MessageType, Schema

Int32 = Annotated[int, "int32"]
UInt32 = Annotated[int, "uint32"]
Float32 = Annotated[float, "float32"]


class Oneof:
    """Declares a oneof over the named fields: ``task: ClassVar = Oneof("train", "evaluate")``."""

    def __init__(self, *members: str):
        self.members = list(members)


def schema_from_spec(spec: str, project_root: Path) -> Schema:
    """Import ``module:RootModel`` (with the project root on sys.path) and build its schema."""
    mod_name, _, cls_name = spec.partition(":")
    root = str(project_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:  # the user's module: report it in one line
        raise ConfigError(f"cannot import schema module {mod_name!r}: {type(e).__name__}: {e}") from None
    model = getattr(mod, cls_name or "MetaCfg", None)
    if model is None:
        raise ConfigError(f"schema module {mod_name!r} has no model {cls_name or 'MetaCfg'!r}")
    return schema_from_models(model)


def schema_from_models(root_model: type) -> Schema:
    """The compiled ``Schema`` of ``root_model`` and every model and enum it reaches."""
    messages: dict[str, MessageType] = {}
    enums: dict[str, EnumType] = {}

    def name_of(t: type) -> str:
        return t.__qualname__.replace("<locals>.", "")

    def add_enum(e: type[enum.Enum]) -> str:
        full = name_of(e)
        if full not in enums:
            values = {}
            for i, m in enumerate(e):
                values[m.name] = m.value if isinstance(m.value, int) and not isinstance(m.value, bool) else i
            enums[full] = EnumType(e.__name__, full, values, (e.__doc__ or "").strip() if e.__doc__ != enum.Enum.__doc__ else "")
        return full

    def add_model(m: type) -> str:
        full = name_of(m)
        if full in messages:
            return full
        placeholder = MessageType(m.__name__, full, {})
        messages[full] = placeholder
        hints = typing.get_type_hints(m, include_extras=True)
        fields: dict[str, FieldSpec] = {}
        for number, (fname, finfo) in enumerate(m.model_fields.items(), 1):
            fields[fname] = field_spec(fname, number, hints.get(fname, finfo.annotation), finfo, m)
        oneofs: dict[str, list[str]] = {}
        for klass in reversed(m.__mro__):
            for attr, val in vars(klass).items():
                if isinstance(val, Oneof):
                    oneofs[attr] = list(val.members)
        for attr in list(getattr(m, "__class_vars__", ())):
            val = getattr(m, attr, None)
            if isinstance(val, Oneof):
                oneofs[attr] = list(val.members)
        for oneof, members in oneofs.items():
            for mem in members:
                if mem not in fields:
                    raise ConfigError(f"{m.__name__}: oneof {oneof!r} names an unknown field {mem!r}")
                fields[mem].oneof = oneof
        doc = (m.__doc__ or "").strip()
        if doc.startswith("Usage docs:") or "BaseModel" in doc[:40]:
            doc = ""
        mt = MessageType(m.__name__, full, fields, oneofs, doc)
        messages[full] = mt
        return full

    def scalar_kind(tp: Any, meta: tuple) -> str | None:
        for x in meta:
            if isinstance(x, str) and x in ("int32", "uint32", "int64", "uint64", "float32", "double"):
                return "float" if x == "float32" else x
        if tp is bool:
            return "bool"
        if tp is int:
            return "int64"
        if tp is float:
            return "double"
        if tp is str:
            return "string"
        if tp is bytes:
            return "bytes"
        return None

    def unwrap(tp: Any) -> tuple[Any, tuple]:
        meta: tuple = ()
        while True:
            origin = typing.get_origin(tp)
            if origin is Annotated:
                meta += tuple(tp.__metadata__)
                tp = typing.get_args(tp)[0]
                continue
            if origin in (typing.Union, types.UnionType):
                args = [a for a in typing.get_args(tp) if a is not type(None)]
                if len(args) != 1:
                    raise ConfigError(f"unsupported union type {tp!r}")
                tp = args[0]
                continue
            return tp, meta

    def kind_of(tp: Any, meta: tuple, where: str) -> tuple[str, str]:
        k = scalar_kind(tp, meta)
        if k:
            return k, ""
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return "enum", add_enum(tp)
        if isinstance(tp, type) and hasattr(tp, "model_fields"):
            return "message", add_model(tp)
        raise ConfigError(f"{where}: unsupported field type {tp!r}")

    def field_spec(fname: str, number: int, ann: Any, finfo, owner: type) -> FieldSpec:
        where = f"{owner.__name__}.{fname}"
        tp, meta = unwrap(ann)
        origin = typing.get_origin(tp)
        doc = (finfo.description or "").strip()
        if origin in (list, tuple, typing.Sequence) or origin is getattr(typing, "Sequence", None):
            args = [a for a in typing.get_args(tp) if a is not Ellipsis]
            etp, emeta = unwrap(args[0])
            kind, tname = kind_of(etp, emeta, where)
            return FieldSpec(fname, number, kind, repeated=True, type_name=tname, doc=doc)
        if origin is dict:
            ktp, kmeta = unwrap(typing.get_args(tp)[0])
            vtp, vmeta = unwrap(typing.get_args(tp)[1])
            kkind = scalar_kind(ktp, kmeta)
            if kkind is None:
                raise ConfigError(f"{where}: map keys must be scalars")
            vkind, vname = kind_of(vtp, vmeta, where)
            return FieldSpec(fname, number, "map", type_name=vname, doc=doc, map_key=kkind, map_value_kind=vkind)
        kind, tname = kind_of(tp, meta, where)
        spec = FieldSpec(fname, number, kind, type_name=tname, doc=doc)
        default = finfo.default
        from pydantic_core import PydanticUndefined  # lean: pydantic_core loads only when this runs

        if default is not None and default is not PydanticUndefined and kind != "message":
            spec.has_default = True
            if kind == "enum":
                e = enums[tname]
                default = e.values[default.name] if isinstance(default, enum.Enum) else e.values[str(default)]
            elif kind in ("float", "double"):
                default = float(default)
            spec.default = default
        return spec

    root_name = add_model(root_model)
    schema = Schema(messages, enums, root=root_name)
    return schema
