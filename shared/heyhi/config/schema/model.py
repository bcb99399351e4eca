"""The compiled schema: a tree of typed messages with oneofs, as in protobuf.

Both front-ends (``.proto`` files and pydantic models) produce these objects; everything
downstream (parsing, composition, printing, frozen configs) reads only them. They are
plain classes (no pydantic, no dataclasses: importing this module costs next to nothing, which a
shell completion after a schema edit needs), fast to print from, and pickled into a cache. The
scalar kinds live in the leaf ``heyhi.config.schema.kinds`` (re-exported here).
"""

from __future__ import annotations

from heyhi.config.schema.kinds import FLOAT_KINDS, INT_KINDS, INT_RANGES, SCALAR_KINDS
from heyhi.errors import ConfigError

__all__ = ["FLOAT_KINDS", "INT_KINDS", "INT_RANGES", "SCALAR_KINDS", "EnumType", "FieldSpec", "MessageType",
           "ProtoFile", "Schema"]


def _repr(obj, attrs) -> str:
    """``Class(attr=value, ...)``: every attribute that says what the object is (no recursion: a
    field shows the type it refers to by name)."""
    return f"{type(obj).__name__}({', '.join(f'{a}={getattr(obj, a)!r}' for a in attrs)})"


class EnumType:
    """An enum: ``values`` maps names to numbers in declaration order; ``by_number`` maps each
    number to its first name.

    ``file`` names the ``.proto`` file that defines it (see :class:`ProtoFile`); empty for an
    enum from a pydantic schema.
    """

    __slots__ = ("name", "full_name", "values", "doc", "by_number", "file")

    def __init__(self, name: str, full_name: str, values: dict[str, int], doc: str = "",
                 by_number: dict[int, str] | None = None, file: str = ""):
        self.name = name
        self.full_name = full_name
        self.values = values
        self.doc = doc
        self.by_number = {} if by_number is None else by_number
        self.file = file
        if not self.by_number:
            for n, v in values.items():
                self.by_number.setdefault(v, n)

    def __repr__(self) -> str:
        return _repr(self, self.__slots__)

    @property
    def first_name(self) -> str:
        return next(iter(self.values))


class FieldSpec:
    """One field of a message.

    ``kind`` is a scalar kind (``int32``, ``string``...), ``"enum"``, ``"message"`` or ``"map"``.
    ``type_name`` is the referenced enum/message full name for enum and message fields (and
    the value type of a map). ``repeated`` marks a list. ``default`` is the declared default
    (already a Python value, enums by number) when ``has_default``. For a map field, ``map_key``
    is the key kind and ``map_value_kind`` the value kind. ``message`` and ``enum`` are the
    resolved types (filled by ``Schema.link()``).
    """

    __slots__ = ("name", "number", "kind", "repeated", "type_name", "has_default", "default", "oneof", "doc",
                 "map_key", "map_value_kind", "message", "enum")

    def __init__(self, name: str, number: int, kind: str, repeated: bool = False, type_name: str = "",
                 has_default: bool = False, default: object = None, oneof: str | None = None, doc: str = "",
                 map_key: str = "", map_value_kind: str = "", message: MessageType | None = None,
                 enum: EnumType | None = None):
        self.name = name
        self.number = number
        self.kind = kind
        self.repeated = repeated
        self.type_name = type_name
        self.has_default = has_default
        self.default = default
        self.oneof = oneof
        self.doc = doc
        self.map_key = map_key
        self.map_value_kind = map_value_kind
        self.message = message
        self.enum = enum

    def __repr__(self) -> str:
        return _repr(self, self.__slots__[:-2])  # the resolved types are named by type_name

    @property
    def is_message(self) -> bool:
        return self.kind == "message"

    @property
    def is_map(self) -> bool:
        return self.kind == "map"

    def type_label(self) -> str:
        """Human name of the type, e.g. ``repeated int32``, ``map<string, float>``, ``Launcher``."""
        if self.kind == "map":
            return f"map<{self.map_key}, {self.map_value_kind if self.map_value_kind not in ('message', 'enum') else self.type_name.rsplit('.', 1)[-1]}>"
        base = self.type_name.rsplit(".", 1)[-1] if self.kind in ("message", "enum") else self.kind
        return f"repeated {base}" if self.repeated else base


class MessageType:
    """A message: fields in declaration order, oneofs as name -> member field names.

    ``file`` names the ``.proto`` file that defines it (see :class:`ProtoFile`); empty for a
    message from a pydantic schema. A nested message's ``full_name`` is its parent's plus
    ``.<name>``. ``by_number`` lists the fields by number. Other modules keep runtime caches on a
    message type as attributes whose names start with ``_`` (never pickled).
    """

    def __init__(self, name: str, full_name: str, fields: dict[str, FieldSpec],
                 oneofs: dict[str, list[str]] | None = None, doc: str = "", file: str = ""):
        self.name = name
        self.full_name = full_name
        self.fields = fields
        self.oneofs = {} if oneofs is None else oneofs
        self.doc = doc
        self.file = file
        self.by_number = sorted(fields.values(), key=lambda f: f.number)

    def __repr__(self) -> str:
        return _repr(self, ("name", "full_name", "fields", "oneofs", "doc", "file"))

    def __getstate__(self):
        # Runtime caches (frozen classes, empty instances) start with "_" and are not pickled.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def field(self, name: str) -> FieldSpec | None:
        return self.fields.get(name)

    def has_includes(self) -> bool:
        f = self.fields.get("includes")
        return f is not None and f.repeated and f.kind == "message"


class ProtoFile:
    """One ``.proto`` file read into a schema.

    ``name`` is the key of ``Schema.files`` and the ``file`` of the types it defines: the path
    relative to the folder the reader was given (``conf/`` for a project: ``"conf.proto"``), as
    ``/``-separated text, or the path as read for a file outside that folder. ``public_imports``
    names (the same way) the files it imports with ``import public``, in order.
    """

    __slots__ = ("name", "package", "public_imports")

    def __init__(self, name: str, package: str = "", public_imports: tuple[str, ...] = ()):
        self.name = name
        self.package = package
        self.public_imports = public_imports

    def __repr__(self) -> str:
        return _repr(self, self.__slots__)


class Schema:
    """All messages and enums of a project, linked, with the root message (``MetaCfg``).

    ``files`` maps a ``.proto`` file's name to its :class:`ProtoFile` (empty for a pydantic schema).
    """

    def __init__(
        self,
        messages: dict[str, MessageType],
        enums: dict[str, EnumType],
        root: str = "MetaCfg",
        files: dict[str, ProtoFile] | None = None,
    ):
        self.messages = messages
        self.enums = enums
        self.root_name = root
        self.files = {} if files is None else files
        self.link()

    def link(self) -> None:
        """Resolve field type names to the message/enum objects."""
        for msg in self.messages.values():
            for f in msg.fields.values():
                if f.kind == "message" or (f.kind == "map" and f.map_value_kind == "message"):
                    f.message = self.messages[f.type_name]
                elif f.kind == "enum" or (f.kind == "map" and f.map_value_kind == "enum"):
                    f.enum = self.enums[f.type_name]

    def find_message(self, name: str) -> MessageType | None:
        """A message by full name, or by short name when that is unique."""
        if name in self.messages:
            return self.messages[name]
        hits = [m for m in self.messages.values() if m.name == name or m.full_name.endswith("." + name)]
        return hits[0] if len(hits) == 1 else None

    @property
    def root(self) -> MessageType:
        m = self.find_message(self.root_name)
        if m is None:
            raise ConfigError(f"the schema has no root message {self.root_name!r}")
        return m
