"""The compiled schema: a tree of typed messages with oneofs, as in protobuf.

Both front-ends (``.proto`` files and pydantic models) produce these objects; everything
downstream (parsing, composition, printing, frozen configs) reads only them. They are
plain slotted classes (no pydantic) so that the print path stays fast and the compiled
schema can be pickled into a cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any
from heyhi.errors import ConfigError

# Scalar kinds, as protobuf names them.
INT_KINDS = frozenset(
    {"int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"}
)
FLOAT_KINDS = frozenset({"float", "double"})
SCALAR_KINDS = INT_KINDS | FLOAT_KINDS | {"bool", "string", "bytes"}

INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "sint32": (-(2**31), 2**31 - 1),
    "sfixed32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "sint64": (-(2**63), 2**63 - 1),
    "sfixed64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "fixed32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
    "fixed64": (0, 2**64 - 1),
}


@dataclass(eq=False)
class EnumType:
    """An enum: ``values`` maps names to numbers in declaration order.

    ``file`` names the ``.proto`` file that defines it (see :class:`ProtoFile`); empty for an
    enum from a pydantic schema.
    """

    name: str
    full_name: str
    values: dict[str, int]
    doc: str = ""
    by_number: dict[int, str] = dc_field(default_factory=dict)
    file: str = ""

    def __post_init__(self) -> None:
        if not self.by_number:
            for n, v in self.values.items():
                self.by_number.setdefault(v, n)

    @property
    def first_name(self) -> str:
        return next(iter(self.values))


@dataclass(eq=False)
class FieldSpec:
    """One field of a message.

    ``kind`` is a scalar kind (``int32``, ``string``...), ``"enum"``, ``"message"`` or ``"map"``.
    ``type_name`` is the referenced enum/message full name for enum and message fields (and
    the value type of a map). ``repeated`` marks a list. ``default`` is the declared default
    (already a Python value, enums by number) when ``has_default``.
    """

    name: str
    number: int
    kind: str
    repeated: bool = False
    type_name: str = ""
    has_default: bool = False
    default: Any = None
    oneof: str | None = None
    doc: str = ""
    # For map fields: key kind and value kind / type name.
    map_key: str = ""
    map_value_kind: str = ""
    # Resolved references (filled by Schema.link()).
    message: "MessageType | None" = None
    enum: "EnumType | None" = None

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


@dataclass(eq=False)
class MessageType:
    """A message: fields in declaration order, oneofs as name -> member field names.

    ``file`` names the ``.proto`` file that defines it (see :class:`ProtoFile`); empty for a
    message from a pydantic schema. A nested message's ``full_name`` is its parent's plus
    ``.<name>``.
    """

    name: str
    full_name: str
    fields: dict[str, FieldSpec]
    oneofs: dict[str, list[str]] = dc_field(default_factory=dict)
    doc: str = ""
    file: str = ""

    def __post_init__(self) -> None:
        self.by_number = sorted(self.fields.values(), key=lambda f: f.number)

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


@dataclass(eq=False)
class ProtoFile:
    """One ``.proto`` file read into a schema.

    ``name`` is the key of ``Schema.files`` and the ``file`` of the types it defines: the path
    relative to the folder the reader was given (``conf/`` for a project: ``"conf.proto"``), as
    ``/``-separated text, or the path as read for a file outside that folder. ``public_imports``
    names (the same way) the files it imports with ``import public``, in order.
    """

    name: str
    package: str = ""
    public_imports: tuple[str, ...] = ()


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
