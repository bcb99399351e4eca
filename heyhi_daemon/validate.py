"""Receiving-side validation: each decoded frame is checked once, against the ``Request`` union.

pydantic validates the stdlib dataclasses of ``heyhi.protocol`` directly (the ``kind`` field is the
discriminator), so the message types stay defined once and the CLI never imports pydantic.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from heyhi.protocol import Request

_REQUEST = TypeAdapter(
    Annotated[Request, Field(discriminator="kind")],
    config=ConfigDict(extra="forbid"),
)


class BadRequest(Exception):
    """A frame that is not a valid request; the message is one line."""


def parse_request(obj: Any) -> Request:
    """The request ``obj`` (a decoded frame) stands for, or ``BadRequest``."""
    try:
        return _REQUEST.validate_python(obj)
    except ValidationError as e:
        raise BadRequest(_one_line(e, obj)) from None


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
