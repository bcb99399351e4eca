"""``import conf.<file>_pb2`` and ``import conf.<file>_cfgs`` without protoc: modules built from HeyHi's schema.

The original HeyHi's users import protoc's output (``conf/conf_pb2.py``) and the ``conf/conf_cfgs.py``
the original generated next to it. This module makes both importable for every ``conf/<file>.proto``
of a HeyHi project, with no protoc and nothing written to disk. What it promises:

- **Which names.** ``<pkg>.<file>_pb2`` / ``<pkg>.<file>_cfgs`` is answered when ``<pkg>`` is an
  imported package (regular or namespace) one of whose ``__path__`` folders is named ``conf``, holds
  ``<file>.proto`` and so is the ``conf/`` folder of a project (its parent is the project root).
  Any other name is left to the normal import machinery (``find_spec`` returns None); so is a
  ``.proto`` of a sub-folder of ``conf/``.
- **Cheap until used.** ``find_spec`` looks at the name first and touches the file system only for
  a name ending in ``_pb2`` / ``_cfgs`` under a folder named ``conf``; this module imports only
  ``os``, ``sys``, ``importlib.machinery`` and ``heyhi.errors`` (not even ``typing``). The schema
  (and the config wing) loads when such a module is executed.
- **HeyHi wins over stale protoc output.** The finder goes first in ``sys.meta_path``, so a
  ``conf/conf_pb2.py`` left by an old protoc run is never imported: these modules are always today's
  ``.proto`` files, and their classes are the ones ``heyhi.load_config`` returns instances of.
- **One schema.** The module is built from the schema ``heyhi.load_config`` uses for that project
  (``heyhi.config.compose.composer_for(root).schema``), so ``isinstance(heyhi.load_config(...),
  conf.conf_cfgs.MetaCfg)`` holds. Like that schema, it is read once per process: an edit of a
  ``.proto`` after the first import is not seen, not even by ``importlib.reload``.
- **``<file>_pb2``** has, for each message DEFINED IN ``<file>.proto`` at top level, its editable
  class (``heyhi.config.values.editable_class``); each top-level enum as an :class:`EnumTypeWrapper`
  (protobuf's API: ``Name``, ``Value``, ``keys``, ``values``, ``items``, values as attributes) and
  each of its values as a module-level int; nested messages and enums as attributes of their parent
  class (``TestTask.SubMessage``, ``TestTask.SomeEnum``) and a nested enum's values as class
  attributes (``TestTask.ZERO``); ``<FIELD>_FIELD_NUMBER`` class constants. As protoc does, the
  names of every file imported with ``import public`` are re-exported (``conf_pb2.Agent`` from
  ``agents.proto``), the file's own names winning.
- **``<file>_cfgs``** has the same names, with the FROZEN classes (``heyhi.config.frozen.frozen_class``)
  in place of the editable ones (nested ones as attributes of the frozen parent), plus
  ``Proto_<Name>`` = the editable class for each top-level message, as the original's did. Unlike the
  original's, a name re-exported through ``import public`` is the frozen class too.
- **A class attribute never hides a field.** A nested type, enum value or field-number constant whose
  name is a field, a oneof, ``which_<oneof>`` or a name the class already has is skipped, silently.
  The classes are shared: ``conf_pb2.TestTask is conf_cfgs.Proto_TestTask``, and the attributes this
  module sets on them are visible wherever the class is used.
- **Errors.** Executing one of these modules reads the whole ``conf/*.proto`` schema; any problem
  (in that file or another of ``conf/``) raises :class:`ProtoModuleError`, an ``ImportError`` whose
  message is HeyHi's one line (``file:line:col: what``) and which is also a ``ConfigError``, so
  ``except ImportError`` and HeyHi's own one-line error handling both catch it. A file of ``conf/``
  that is not part of the project's schema (a pydantic-schema project) is the same error.

Not provided, of protoc's modules: ``DESCRIPTOR`` (module, classes and enums), the ``_<NAME>``
descriptor constants, ``_sym_db`` / ``_builder`` / ``_globals``, the aliases of non-public imports
(``conf_dot_common__pb2``), services, extensions, and the protobuf ``Message`` methods HeyHi's
classes do not have (``SerializeToString``, ``ParseFromString``, ``ByteSize``...). The classes'
``__module__`` is HeyHi's, not ``conf.conf_pb2``.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec

from heyhi.errors import ConfigError

TYPE_CHECKING = False  # not typing's: importing typing would cost the finder's first use ~20 ms
if TYPE_CHECKING:
    from typing import Any, Iterator

__all__ = ["EnumTypeWrapper", "GeneratedModules", "ProtoModuleError", "find_spec"]

_KINDS = (("_pb2", "pb2"), ("_cfgs", "cfgs"))


class ProtoModuleError(ImportError, ConfigError):
    """A generated module could not be built: HeyHi's one-line ``ConfigError``, as an ``ImportError``."""

    def __init__(self, error: ConfigError, name: str, path: str):
        ImportError.__init__(self, str(error), name=name, path=path)
        self.where = error.where
        self.message = error.message
        self.override = None
        self.token = None


def _locate(fullname: str, path: Any) -> tuple[str, str, str] | None:
    """``(conf folder, file stem, "pb2" | "cfgs")`` when ``fullname`` is one of our modules, else None."""
    pkg, dot, leaf = fullname.rpartition(".")
    if not dot:
        return None
    for suffix, kind in _KINDS:
        if leaf.endswith(suffix):
            stem = leaf[: -len(suffix)]
            break
    else:
        return None
    if not stem:
        return None
    if path is None:
        path = getattr(sys.modules.get(pkg), "__path__", None)
        if path is None:
            return None
    for entry in path:
        try:
            entry = os.fspath(entry)
        except TypeError:
            continue
        if not isinstance(entry, str) or os.path.basename(os.path.normpath(entry)) != "conf":
            continue
        folder = os.path.abspath(entry)
        if os.path.isfile(os.path.join(folder, stem + ".proto")):
            return folder, stem, kind
    return None


def find_spec(fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
    """A spec for ``<pkg>.<file>_pb2`` / ``_cfgs`` of a project's ``conf/<file>.proto``, else None."""
    found = _locate(fullname, path)
    if found is None:
        return None
    folder, stem, kind = found
    origin = os.path.join(folder, stem + ".proto")
    spec = ModuleSpec(fullname, _Loader(folder, stem, kind), origin=origin)
    spec.has_location = True  # __file__ is the .proto: os.path.dirname(conf_pb2.__file__) is conf/
    return spec


class GeneratedModules:
    """The ``sys.meta_path`` finder: ``sys.meta_path.insert(0, GeneratedModules)``."""

    @classmethod
    def find_spec(cls, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        return find_spec(fullname, path, target)

    @classmethod
    def invalidate_caches(cls) -> None:
        pass  # nothing cached here: the schema's own cache checks the files' stamps


class _Loader:
    """Builds one generated module in place (``exec_module``)."""

    def __init__(self, folder: str, stem: str, kind: str):
        self.folder = folder
        self.stem = stem
        self.kind = kind

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # a plain module

    def is_package(self, fullname: str) -> bool:
        return False

    def exec_module(self, module: Any) -> None:
        proto = os.path.join(self.folder, self.stem + ".proto")
        try:
            names = _module_names(self.folder, self.stem + ".proto", self.kind == "cfgs")
        except ConfigError as e:
            raise ProtoModuleError(e, module.__name__, proto) from None
        ns = module.__dict__
        for name, value in names.items():
            if not name.startswith("__"):
                ns[name] = value


# ---- enums ----------------------------------------------------------------------------------------


class EnumTypeWrapper:
    """An enum as protoc's modules show one: ``Name(number)``, ``Value(name)``, ``keys()``,
    ``values()``, ``items()`` (declaration order) and each value as an attribute (``Power.FRANCE``)."""

    __slots__ = ("_heyhi_enum",)

    def __init__(self, enum: Any):
        object.__setattr__(self, "_heyhi_enum", enum)

    def Name(self, number: int) -> str:
        e = self._heyhi_enum
        if not isinstance(number, int):
            raise TypeError(f"Enum value for {e.name} must be an int, but got {type(number).__name__} {number!r}.")
        try:
            return e.by_number[number]
        except KeyError:
            raise ValueError(f"Enum {e.name} has no name defined for value {number!r}") from None

    def Value(self, name: str) -> int:
        e = self._heyhi_enum
        try:
            return e.values[name]
        except (KeyError, TypeError):
            raise ValueError(f"Enum {e.name} has no value defined for name {name!r}") from None

    def keys(self) -> list[str]:
        return list(self._heyhi_enum.values)

    def values(self) -> list[int]:
        return list(self._heyhi_enum.values.values())

    def items(self) -> list[tuple[str, int]]:
        return list(self._heyhi_enum.values.items())

    def __getattr__(self, name: str) -> int:
        e = object.__getattribute__(self, "_heyhi_enum")
        try:
            return e.values[name]
        except KeyError:
            raise AttributeError(f"Enum {e.name} has no value defined for name {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Enum {self._heyhi_enum.name} is read-only")

    def __repr__(self) -> str:
        return f"<enum {self._heyhi_enum.full_name}: {', '.join(f'{k}={v}' for k, v in self.items())}>"

    def __reduce__(self):
        return (EnumTypeWrapper, (self._heyhi_enum,))


# One wrapper per schema enum, so that ``conf_pb2.Power is conf_cfgs.Power``. A wrapper holds its
# enum, so an id here is never reused for another enum.
_WRAPPERS: dict[int, EnumTypeWrapper] = {}


def _wrapper(enum: Any) -> EnumTypeWrapper:
    w = _WRAPPERS.get(id(enum))
    if w is None:
        w = _WRAPPERS[id(enum)] = EnumTypeWrapper(enum)
    return w


# ---- building a module's names --------------------------------------------------------------------


def _module_names(folder: str, file: str, frozen: bool) -> dict[str, Any]:
    """Every public name of the module of ``file`` (a ``conf/`` file name), built from the schema."""
    from heyhi.config.compose import composer_for  # lean: the schema loads only when a generated module is imported

    schema = composer_for(os.path.dirname(folder)).schema
    if file not in schema.files:
        where = os.path.join(folder, file)
        raise ConfigError("not part of the project's schema (is [tool.heyhi] schema set in pyproject.toml?)", where)
    return _names(schema, file, frozen, set())


def _names(schema: Any, file: str, frozen: bool, seen: set[str]) -> dict[str, Any]:
    """As protoc's module does: ``from <dep> import *`` for each ``import public`` in order, then
    the file's own names (each file once: ``import public`` may form a diamond)."""
    seen.add(file)
    out: dict[str, Any] = {}
    for dep in schema.files[file].public_imports:
        if dep not in seen and dep in schema.files:
            out.update(_names(schema, dep, frozen, seen))
    out.update(_own_names(schema, file, frozen))
    return out


def _own_names(schema: Any, file: str, frozen: bool) -> dict[str, Any]:
    """The names ``file`` defines: top-level classes, enum wrappers and values; nested ones set on
    their parent class."""
    from heyhi.config.frozen import frozen_class  # lean: the schema loads only when a generated module is imported
    from heyhi.config.values import editable_class  # lean: the schema loads only when a generated module is imported

    cls_of = frozen_class if frozen else editable_class
    package = schema.files[file].package
    out: dict[str, Any] = {}
    for path, mtype in _defined(schema.messages.values(), file, package):
        cls = cls_of(mtype)
        _field_numbers(cls, mtype)
        if len(path) == 1:
            out[mtype.name] = cls
            if frozen:
                out["Proto_" + mtype.name] = editable_class(mtype)
        else:
            _set_on(cls_of(schema.messages[_parent(mtype.full_name)]), mtype.name, cls)
    for path, enum in _defined(schema.enums.values(), file, package):
        wrapper = _wrapper(enum)
        if len(path) == 1:
            out[enum.name] = wrapper
            for value_name, number in enum.values.items():
                out.setdefault(value_name, number)
        else:
            parent = cls_of(schema.messages[_parent(enum.full_name)])
            _set_on(parent, enum.name, wrapper)
            for value_name, number in enum.values.items():
                _set_on(parent, value_name, number)
    return out


def _defined(types: Any, file: str, package: str) -> Iterator[tuple[list[str], Any]]:
    """``(path inside the package, type)`` of each type ``file`` defines, parents before children."""
    prefix = package + "." if package else ""
    found = []
    for t in types:
        if t.file == file and t.full_name.startswith(prefix):
            found.append((t.full_name[len(prefix):].split("."), t))
    found.sort(key=lambda pt: len(pt[0]))
    return iter(found)


def _parent(full_name: str) -> str:
    return full_name.rpartition(".")[0]


_MISSING = object()


def _set_on(cls: type, name: str, value: Any) -> None:
    """Set a class attribute unless it would hide a field (or a oneof, or anything the class has)."""
    mtype = cls._heyhi_type
    if name.startswith("__") or name in mtype.fields or name in mtype.oneofs:
        return
    if name.startswith("which_") and name[6:] in mtype.oneofs:
        return
    current = getattr(cls, name, _MISSING)
    if current is _MISSING or current is value or (type(current) is int and type(value) is int and current == value):
        setattr(cls, name, value)


def _field_numbers(cls: type, mtype: Any) -> None:
    for f in mtype.fields.values():
        _set_on(cls, f.name.upper() + "_FIELD_NUMBER", f.number)
