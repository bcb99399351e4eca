"""``heyhi.conf``: the original HeyHi's config module, on HeyHi's composition (``heyhi.config.compose``).

Same names, signatures and meaning as the original's ``heyhi/conf.py``: ``load_proto_message`` returns
an editable config, ``load_config`` a frozen one; ``conf_get``/``conf_set``/``conf_is_set`` take an
editable config and ``conf_with_overrides`` a frozen one (each asserts it, as the original did);
``conf_to_dict`` gives what protobuf's ``MessageToDict`` gave (field names as declared, enums by
name, 64-bit integers as strings, bytes as base64, NaN/Infinity as strings, and with
``include_defaults`` every unset scalar, list and map of a present message). ``PROJ_ROOT`` is the
project found from the working folder (the folder itself when none is found) and ``CONF_ROOT`` its
``conf/``, both read when asked for.

Errors: what the original raised as ``ValueError`` (a bad override, a value of the wrong type) is
HeyHi's one-line ``ConfigError``, which is a ``ValueError`` too.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any, Sequence, TypeVar

from heyhi.config.compose import composer_for, load_config, load_message, load_root_config
from heyhi.config.grammar import INCLUDE_KEY, SELECT_VALUE, UNSET_VALUE, OverrideKind
from heyhi.config.overrides import apply_scalar, parse_override
from heyhi.config.printing import flatten
from heyhi.config.project import Project, find_project_root
from heyhi.config.schema.model import MessageType
from heyhi.errors import ConfigError

__all__ = [
    "load_config", "load_root_config", "load_proto_message", "load_root_proto_message", "flatten_cfg",
    "save_config", "conf_to_dict", "conf_is_set", "conf_get", "conf_set", "conf_with_overrides",
    "UNSET_VALUE", "SELECT_ONEOF_VALUE", "INCLUDE_KEY", "INCLUDES_FIELD", "EXT",
]  # and CONF_ROOT, PROJ_ROOT (module ``__getattr__``: found when read)

EXT = ".prototxt"
INCLUDES_FIELD = "includes"
SELECT_ONEOF_VALUE = SELECT_VALUE
_INT64_KINDS = frozenset({"int64", "uint64", "sint64", "fixed64", "sfixed64"})

T = TypeVar("T")


def __getattr__(name: str) -> Path:
    if name == "PROJ_ROOT":
        return _project_root()
    if name == "CONF_ROOT":
        return _project_root() / "conf"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _project_root() -> Path:
    try:
        return find_project_root()
    except ConfigError:
        return Path.cwd()


# ---- loading ------------------------------------------------------------------------------------

def load_proto_message(
    config_path: str | Path,
    overrides: Sequence[str] = (),
    *,
    msg_class: Any = None,
    extra_include_dirs: Sequence[Path] = (),
):
    """``config_path`` composed with ``overrides`` as an editable config of type ``msg_class`` (a
    config class, editable or frozen, a message name or a schema type; None guesses it). For the
    top-level ``MetaCfg`` override keys and mounts are relative to the task, as in the original."""
    return load_message(config_path, overrides, msg_class=msg_class, extra_include_dirs=extra_include_dirs)


def load_root_proto_message(
    config_path: str | Path,
    overrides: Sequence[str],
    extra_include_dirs: Sequence[Path] = (),
) -> tuple[str, Any]:
    """``(task name, editable MetaCfg)`` of a top-level config composed with ``overrides``."""
    path = Path(config_path)
    comp = composer_for(Project.find(path))
    task = comp.task_of(path)  # the task the file itself sets (overrides cannot switch it)
    meta = load_message(path, overrides, msg_class=comp.schema.root, extra_include_dirs=extra_include_dirs)
    return task, meta


def save_config(cfg: Any, path: str | Path) -> None:
    """Write ``cfg`` (editable or frozen) to ``path`` in text format, and a newline after it."""
    msg = cfg._msg if cfg.is_frozen() else cfg
    with Path(path).open("w") as fh:
        fh.write(str(msg))
        fh.write("\n")


def flatten_cfg(cfg: Any, *, with_all: bool = True) -> dict[str, Any]:
    """``{"a.b": value}`` for every leaf of ``cfg.to_dict(with_all=with_all)``, sorted by key."""
    return dict(sorted(flatten(cfg.to_dict(with_all=with_all))))


# ---- paths into an editable config --------------------------------------------------------------

def _walk(cfg: Any, parts: Sequence[str]) -> Any:
    for part in parts:
        cfg = getattr(cfg, part)
    return cfg


def _is_message(value: Any) -> bool:
    return callable(getattr(value, "is_frozen", None))


def conf_is_set(cfg: Any, path: str) -> bool:
    """Is the scalar at dotted ``path`` set explicitly? (Reading does not change ``cfg``.)"""
    assert not cfg.is_frozen()
    *parents, name = path.split(".")
    sub = _walk(cfg, parents)
    assert hasattr(sub, name), f"{path!r}: no such field"
    assert not _is_message(getattr(sub, name)), f"{path!r} is a message, not a scalar"
    return sub.HasField(name)


def conf_get(cfg: Any, path: str) -> Any:
    """The value at dotted ``path`` of an editable config."""
    assert not cfg.is_frozen()
    return _walk(cfg, path.split("."))


def conf_set(cfg: Any, path: str, value: Any) -> None:
    """Set dotted ``path`` of an editable config to ``value`` as the override ``path=str(value)`` would
    (``NULL`` clears, ``SELECT`` selects an empty message of a oneof; text is cast to the field's type)."""
    assert not cfg.is_frozen()
    o = parse_override(f"{path}={value}")
    if o.kind == OverrideKind.INCLUDE:
        raise ConfigError("an include override cannot be set on a loaded config", f"override {o.token!r}")
    apply_scalar(cfg, path, o)


def conf_with_overrides(cfg: T, overrides: list[str]) -> T:
    """A frozen copy of the frozen ``cfg`` with scalar ``overrides`` (``key=value``) applied."""
    assert cfg.is_frozen()  # an editable config would be changed in place
    edited = cfg.to_editable()
    for token in overrides:
        key, value = token.split("=", 1)
        assert not key.startswith(INCLUDE_KEY), f"include overrides are not supported here: {key}"
        conf_set(edited, key, value)
    return edited.to_frozen()


# ---- conf_to_dict: protobuf's MessageToDict, without protobuf --------------------------------------

def conf_to_dict(cfg: Any, include_defaults: bool = False) -> dict[str, Any]:
    """``cfg`` (editable or frozen) as protobuf's ``MessageToDict(preserving_proto_field_name=True,
    including_default_value_fields=include_defaults)`` gave it (see the module docstring)."""
    return _message_dict(cfg._msg if cfg.is_frozen() else cfg, include_defaults)


def _schema_type(msg: Any) -> MessageType:
    """The schema type of an editable config (``_type``: no field can take that name)."""
    found = getattr(msg, "_type", None)
    if not isinstance(found, MessageType):
        raise TypeError(f"conf_to_dict: {type(msg).__name__} is not a config")
    return found


def _message_dict(msg: Any, defaults: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in _schema_type(msg).by_number:
        value = getattr(msg, f.name)
        if f.kind == "map":
            if value or defaults:
                out[f.name] = {_map_key(f.map_key, k): _json_value(f, f.map_value_kind, v, defaults)
                               for k, v in value.items()}
        elif f.repeated:
            if len(value) or defaults:
                out[f.name] = [_json_value(f, f.kind, v, defaults) for v in value]
        elif msg.HasField(f.name):
            out[f.name] = _json_value(f, f.kind, value, defaults)
        elif defaults and f.kind != "message" and f.oneof is None:
            out[f.name] = _json_value(f, f.kind, value, defaults)  # an unset field reads as its default
    return out


def _json_value(f, kind: str, v: Any, defaults: bool) -> Any:
    if kind == "message":
        return _message_dict(v, defaults)
    if kind == "enum":
        return f.enum.by_number.get(v, v)
    if kind in _INT64_KINDS:
        return str(v)
    if kind == "bytes":
        return base64.b64encode(v).decode("ascii")
    if kind in ("float", "double"):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    return v


def _map_key(kind: str, k: Any) -> str:
    if kind == "bool":
        return "true" if k else "false"
    return str(k)
