"""Printing composed configs: protobuf text format (``--print``) and flat ``key=value`` lines."""

from __future__ import annotations

from typing import Any, Iterator

from heyhi.config.printer import to_text  # noqa: F401 (re-exported: it lived here)
from heyhi.config.values import Msg, to_dict


def flatten(d: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested dict -> (dotted key, leaf) pairs; an empty dict yields nothing (as the original)."""
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from flatten(v, key + ".")
        else:
            yield key, v


def flat_items(msg: Msg, with_all: bool = False) -> list[tuple[str, Any]]:
    """Sorted (key, value) pairs: set fields, or every field with ``with_all``."""
    return sorted(flatten(to_dict(msg, with_all=with_all)))


def flat_value_text(v: Any) -> str:
    """How ``--print-flat`` shows a value: None -> NULL, strings with spaces/empty as repr."""
    if v is None:
        return "NULL"
    if isinstance(v, str) and (" " in v or not v):
        return repr(v)
    return str(v)


def flat_lines(msg: Msg, with_all: bool = False) -> list[str]:
    return [f"{k}={flat_value_text(v)}" for k, v in flat_items(msg, with_all)]
