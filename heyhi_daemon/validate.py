"""Receiving-side validation: each decoded frame is checked once, against the limits and the ``Request`` union.

Three steps, cheapest first, each refusing with a one-line ``BadRequest`` (answered ``bad_request``):
sizes and counts against ``heyhi.wire.limits`` (a list of a million junk items is refused on its
length, before pydantic could build one error per item); then pydantic, against dataclasses made here
from the annotations of ``heyhi.wire.protocol``'s classes (the ``kind`` field is the discriminator), so
the message types stay defined once and the CLI never imports pydantic; then every length, offset and count
against its range (``limits.INT_RANGES``). The work is bounded by ``MAX_REQUEST_FRAME``, so it is cheap
enough for the event loop.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import typing
from typing import Annotated, Any

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from heyhi.wire import limits as L
from heyhi.wire import protocol as P
from heyhi.wire.protocol import Request


def _mirror(cls: type) -> type:
    """A stdlib dataclass with ``cls``'s fields, types and defaults, for pydantic to validate."""
    specs = []
    for name, kind in P.field_types(cls).items():
        default = cls._defaults.get(name, dataclasses.MISSING)
        if isinstance(default, P._Factory):
            spec = dataclasses.field(default_factory=default.make)
        elif default is dataclasses.MISSING:
            spec = dataclasses.field()
        else:
            spec = dataclasses.field(default=str(default) if name == "kind" else default, kw_only=name == "kind")
        specs.append((name, kind, spec))
    own = {"__post_init__": cls.__post_init__} if hasattr(cls, "__post_init__") else {}
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True, namespace=own)


_MIRRORS = {cls: _mirror(cls) for cls in typing.get_args(Request)}
_REAL = {m: cls for cls, m in _MIRRORS.items()}
_REQUEST = TypeAdapter(
    Annotated[functools.reduce(operator.or_, _MIRRORS.values()), Field(discriminator="kind")],
    config=ConfigDict(extra="forbid"),
)


class BadRequest(Exception):
    """A frame that is not a valid request; the message is one line."""


def parse_request(obj: Any) -> Request:
    """The request ``obj`` (a decoded frame) stands for, or ``BadRequest``."""
    _check_sizes(obj)
    try:
        checked = _REQUEST.validate_python(obj)
    except ValidationError as e:
        raise BadRequest(_one_line(e, obj)) from None
    cls = _REAL[type(checked)]
    req = P._rebuild(cls, tuple(getattr(checked, n) for n in P.field_names(cls)))  # checked already
    _check_ranges(req)
    return req


def _head(obj: Any) -> str:
    kind = obj.get("kind") if isinstance(obj, dict) else None
    return f"bad {kind} request" if isinstance(kind, str) and len(kind) <= 40 else "bad request"


def _check_sizes(obj: Any) -> None:
    """Counts and string sizes, before pydantic: each check looks at a length, never item by item
    beyond a bounded list (so its cost is bounded whatever the frame holds)."""
    if not isinstance(obj, dict):
        return  # pydantic says what it should be
    if len(obj) > L.MAX_FIELDS:
        raise BadRequest(f"bad request: {len(obj)} fields, at most {L.MAX_FIELDS}")
    for name, value in obj.items():
        if not isinstance(name, str) or len(name) > 64:
            raise BadRequest(f"{_head(obj)}: a field name that is not a short string")
        if isinstance(value, (str, bytes)):
            if len(value) > L.MAX_STRING:
                raise BadRequest(f"{_head(obj)}: {name}: {len(value)} characters, at most {L.MAX_STRING}")
        elif isinstance(value, (list, tuple, dict)):
            most = L.MAX_OVERRIDES if name == "overrides" else L.MAX_ITEMS
            if len(value) > most:
                raise BadRequest(f"{_head(obj)}: {name}: {len(value)} items, at most {most}")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:  # every list and map of a request holds strings
                for part in ((key, item) if isinstance(value, dict) else (item,)):
                    if not isinstance(part, str):
                        raise BadRequest(f"{_head(obj)}: {name}[{_short(key)}]: a {type(part).__name__}, "
                                         f"expected a string")
                    if len(part) > L.MAX_STRING:
                        raise BadRequest(f"{_head(obj)}: {name}[{_short(key)}]: {len(part)} characters, "
                                         f"at most {L.MAX_STRING}")


def _short(key: Any) -> str:
    text = repr(key) if not isinstance(key, int) else str(key)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_ranges(req: Any) -> None:
    """Every length, offset and count against ``limits.INT_RANGES``."""
    for name, (low, high) in L.INT_RANGES.items():
        value = getattr(req, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
            raise BadRequest(f"bad {req.kind} request: {name}: {value} is out of range ({low} to {high})")


def _one_line(e: ValidationError, obj: Any) -> str:
    errors = e.errors(include_url=False, include_context=False)
    first = errors[0]
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if first["type"] == "union_tag_invalid":
        return f"bad request: unknown request kind {kind!r}"
    if first["type"] == "union_tag_not_found":
        return "bad request: no 'kind' field"
    loc = [str(p) for p in first["loc"]]
    if kind is not None and loc and loc[0] == str(kind):
        loc = loc[1:]
    where = ".".join(loc)
    head = f"bad {kind} request" if isinstance(kind, str) else "bad request"
    msg = first["msg"].replace("\n", " ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{head}: {where + ': ' if where else ''}{msg}{more}"
