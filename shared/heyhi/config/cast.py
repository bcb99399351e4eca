"""Casting values to a field's Python value: override strings (``cast_string``), Python values
assigned to an editable config (``cast_python_value``), and float32 rounding (``to_float32``).

Promises: a value that does not fit the field is a one-line ``ConfigError`` (also a ``ValueError``)
naming the key and ``where``; ints are range-checked for their kind; ``float`` fields hold the
float32 value (as protobuf stores it), with a warning on stderr when a finite override overflows
to inf. Override strings are read as the original HeyHi read them (Python's ``int()``/``float()``:
``010`` is 10, ``' 5'`` is 5, ``1e39`` on a float field is inf), except that ``_`` separators and
non-ASCII digits are refused and ints may also be C hex (``0x10``), both documented differences.

Python values follow protobuf's assignment checks: a value of the wrong Python type (a float for an
int field, an int for a string field) is a ``ConfigTypeError`` (also a ``TypeError``, as protobuf
raises); ``bool`` and other ``__index__`` ints fit int, float, bool and enum fields; ``bytes`` that
are UTF-8 fit a string field; a string with a lone surrogate (not Unicode text) fits none. HeyHi
also takes a ``str`` for any scalar field, read as an override value (protobuf refuses it).

Below ``heyhi.config.values``, ``heyhi.config.overrides`` and ``heyhi.config.typed`` (which re-export these names):
imports the schema model, ``heyhi.errors`` and (for C-style integers) ``heyhi.config.textformat``; never
``Msg`` (a message value is recognised by its ``to_editable``).
"""

from __future__ import annotations

import math
import operator
import struct
import sys
from typing import Any

from heyhi.errors import ConfigError, ConfigTypeError
from heyhi.config.schema.model import FLOAT_KINDS, INT_KINDS, INT_RANGES, FieldSpec
from heyhi.config.textformat import parse_int

__all__ = ["cast_string", "cast_python_value", "to_float32"]


def cast_string(f: FieldSpec, kind: str, value: str, where: str, key: str) -> Any:
    """Cast an override's string value to the Python value of a field of scalar kind ``kind``."""
    if kind == "string":
        return _utf8_text(value, key, where)
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
        except ConfigError:
            raise
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
            x = float(_number_text(value[:-1] if value[-1:] in ("f", "F") and not value.lower().endswith("inf")
                                   else value, key, kind, where))
        except ConfigError:
            raise
        except ValueError:
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
    """Check/convert a Python value assigned to an editable config's field (see the module's
    docstring for what fits which field)."""
    kind = f.kind
    if isinstance(value, str) and kind != "string" and kind != "message":
        return cast_string(f, kind, value, where, f.name)
    if kind == "message" and hasattr(value, "to_editable"):  # an editable ``Msg`` returns itself,
        return value.to_editable()  # a frozen config its copy
    if f.repeated:
        return [cast_python_value(_elem(f), x, where) for x in value]
    if kind == "string":
        if isinstance(value, str):
            return _utf8_text(value, f.name, where)
        if isinstance(value, bytes):  # protobuf takes UTF-8 bytes for a string field
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                raise ConfigError(f"{f.name!r} expects string: {_shown(value)} is not UTF-8", where) from None
    elif kind == "bytes":
        if isinstance(value, bytes):
            return value
    elif kind in FLOAT_KINDS:
        if _fits_float(value):
            try:
                x = float(value)
            except OverflowError:
                raise ConfigError(f"{f.name!r} expects {kind}: {_shown(value)} is beyond any float", where) from None
            return to_float32(x) if kind == "float" else x
    elif _is_index(value):  # int kinds, bool and enum: ints (bool and numpy's included)
        n = operator.index(value)
        if kind == "bool":
            return bool(n)
        if kind == "enum":
            if n in f.enum.by_number:
                return n
            raise ConfigError(f"{f.name!r} expects enum {f.enum.name}: {n} is not one of its numbers", where)
        if kind in INT_KINDS:
            lo, hi = INT_RANGES[kind]
            if not lo <= n <= hi:
                raise ConfigError(f"{f.name!r} expects {kind}: {n} is out of range [{lo}, {hi}]", where)
            return n
    raise _wrong_type(f, value, where)


def _is_index(value: Any) -> bool:
    """An int as protobuf takes one: anything with ``__index__`` (bool, numpy ints), no array."""
    return hasattr(type(value), "__index__") and type(value).__name__ != "ndarray"


def _fits_float(value: Any) -> bool:
    """A number as protobuf takes one for a float field: ``__float__`` or ``__index__``, no array."""
    t = type(value)
    return (hasattr(t, "__float__") or hasattr(t, "__index__")) and t.__name__ != "ndarray"


def _wrong_type(f: FieldSpec, value: Any, where: str) -> ConfigTypeError:
    return ConfigTypeError(f"{f.name!r} expects {f.type_label()}, got {type(value).__name__} {_shown(value)}", where)


def _shown(value: Any) -> str:
    """``repr(value)`` on one line, at most 60 characters."""
    r = repr(value)
    if "\n" in r or len(r) > 60:
        r = " ".join(r.split())
        r = r if len(r) <= 60 else r[:57] + "..."
    return r


def _utf8_text(value: str, key: str, where: str) -> str:
    """``value`` when it is Unicode text; a lone surrogate (bytes that were not UTF-8) is refused,
    as protobuf refuses a string it cannot encode as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ConfigError(f"{key!r} expects string: {_shown(value)} holds {value[e.start]!r}, "
                          "which is not Unicode text", where) from None
    return value


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
