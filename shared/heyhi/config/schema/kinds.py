"""The scalar kinds of a schema field, as protobuf names them, and the range of each integer kind.

A leaf with no imports: the ``.proto`` reader, the schema model and the value checks share these
names, and the completion refresh reads a schema without loading anything heavier.
"""

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
