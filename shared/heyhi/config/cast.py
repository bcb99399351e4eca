"""Casting values to a field's Python value: override strings (``cast_string``), Python values
assigned to an editable config (``cast_python_value``), and float32 rounding (``to_float32``).

Promises: a value that does not fit the field is a one-line ``ConfigError`` naming the key and
``where``; ints are range-checked for their kind; ``float`` fields hold the float32 value (as
protobuf stores it), with a warning on stderr when a finite value overflows to inf.

Below ``heyhi.config.values``, ``heyhi.config.overrides`` and ``heyhi.config.typed`` (which re-export these names):
imports the schema model, ``heyhi.errors`` and (for C-style integers) ``heyhi.config.textformat``; never
``Msg`` (a message value is recognised by its ``to_editable``).
"""

from __future__ import annotations

import math
import struct
from typing import Any

from heyhi.errors import ConfigError
from heyhi.config.schema.model import FLOAT_KINDS, INT_KINDS, INT_RANGES, FieldSpec
from heyhi.config.textformat import parse_int
import sys

__all__ = ["cast_string", "cast_python_value", "to_float32"]


def cast_string(f: FieldSpec, kind: str, value: str, where: str, key: str) -> Any:
    """Cast an override's string value to the Python value of a field of scalar kind ``kind``."""
    if kind == "string":
        return value
    if kind == "bool":
        low = value.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        raise ConfigError(f"{key!r} expects bool (true/false/1/0), got {value!r}", where)
    if kind == "enum":
        enum = f.enum
        if value in enum.values:
            return enum.values[value]
        try:
            n = int(value) if value.isascii() and "_" not in value else None
        except ValueError:
            n = None
        if n is not None and n in enum.by_number:
            return n
        raise ConfigError(
            f"{key!r} expects enum {enum.name}: {value!r} is not one of {', '.join(enum.values)}", where
        )
    if kind in INT_KINDS:
        try:
            n = int(_number_text(value, key, kind, where))  # the original's int(): "010" is 10
        except ValueError:
            try:
                n = parse_int(value)
            except ValueError:
                raise ConfigError(f"{key!r} expects {kind} (an integer), got {value!r}", where) from None
        lo, hi = INT_RANGES[kind]
        if not lo <= n <= hi:
            raise ConfigError(f"{key!r} expects {kind}: {n} is out of range [{lo}, {hi}]", where)
        return n
    if kind in FLOAT_KINDS:
        try:
            x = float(_number_text(value.rstrip("fF") if value[-1:] in "fF" and not value.lower().endswith("inf")
                                   else value, key, kind, where))
        except (ValueError, IndexError):
            raise ConfigError(f"{key!r} expects {kind} (a number), got {value!r}", where) from None
        if kind == "float":
            x32 = to_float32(x)
            if x32 != x and x32 in (float("inf"), float("-inf")):  # as the original: inf, but said

                print(f"heyhi: warning: {where}: {key!r} is a float (float32): {value} is beyond its "
                      f"range and becomes {x32}", file=sys.stderr)
            x = x32
        return x
    if kind == "bytes":
        return value.encode()
    raise ConfigError(f"{key!r}: cannot set a value of type {kind} from the command line", where)


def _number_text(value: str, key: str, kind: str, where: str) -> str:
    """``value``, for Python's ``int()``/``float()`` to read as the original HeyHi did; but ``_``
    separators and non-ASCII digits, which those accept, are refused (a documented difference):
    a ``ConfigError`` saying so when Python would have read it, else ``ValueError`` (not a number)."""
    if "_" in value or not value.isascii():
        try:
            float(value)
        except ValueError:
            raise ValueError(value) from None
        raise ConfigError(
            f"{key!r} expects {kind}, got {value!r}: numbers are ASCII digits without '_' separators", where
        )
    return value


def cast_python_value(f: FieldSpec, value: Any, where: str) -> Any:
    """Check/convert a Python value assigned to an editable config's field."""
    if isinstance(value, str) and f.kind != "string":
        return cast_string(f, f.kind, value, where, f.name)
    if f.kind == "message":
        if hasattr(value, "to_editable"):  # an editable ``Msg`` returns itself, a frozen config its copy
            return value.to_editable()
    if f.repeated:
        return [cast_python_value(_elem(f), x, where) for x in value]
    if f.kind == "bool" and isinstance(value, bool):
        return value
    if f.kind in INT_KINDS and isinstance(value, int) and not isinstance(value, bool):
        return value
    if f.kind in FLOAT_KINDS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if f.kind == "enum":
        if isinstance(value, int) and value in f.enum.by_number:
            return value
    if f.kind == "bytes" and isinstance(value, bytes):
        return value
    raise ConfigError(f"{f.name!r} expects {f.type_label()}, got {value!r}", where)


def _elem(f: FieldSpec) -> FieldSpec:
    return FieldSpec(f.name, f.number, f.kind, False, f.type_name, message=f.message, enum=f.enum)


def to_float32(x: float) -> float:
    """Round to the nearest float32 and back, keeping the shortest decimal that round-trips."""
    if math.isinf(x) or math.isnan(x):
        return x
    try:
        y = struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)
    # Shortest decimal representation that maps to the same float32.
    for digits in range(1, 10):
        s = f"{y:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(s)))[0] == y:
            return float(s)
    return y
