"""Completion of override lines from a task's schema (``FieldList``): pure functions, no Textual.

``complete(line, fields)`` returns the candidates for one override line as typed:

- before ``=``: dotted keys (immediate children of what is typed first, then deeper ones, in schema
  order; a substring match when nothing starts with it), oneof branches marked, and include mounts
  ``I<mount>=``;
- after ``=``: values by the key's type (enum names, ``true``/``false``, the include names that fit
  an ``I<mount>``, ``SELECT`` for a oneof message, ``NULL`` for anything).

A candidate's ``text`` is the whole line once accepted, so an editor just replaces the line.
``describe(line, fields)`` is the one-line help for the key on a line (type, default, doc).
"""

from __future__ import annotations


import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from heyhi.wire.protocol import FieldDoc, FieldList


INCLUDE = "I"
NULL = "NULL"
SELECT = "SELECT"
_INDEX = re.compile(r"^-?\d+$")


@dataclass(frozen=True, slots=True)
class Candidate:
    """``text``: the whole line after accepting; ``label``: what a list shows; ``detail``: a hint."""

    text: str
    label: str
    detail: str = ""


def field_detail(f: FieldDoc) -> str:
    """``float = 0.5 [oneof x] - Learning rate.``: type, default, oneof, doc on one line."""
    out = f.type
    if f.default != "":
        out += f" = {f.default}"
    if f.oneof:
        out += f" [oneof {f.oneof}]"
    if f.enum_values:
        out += f" ({'|'.join(f.enum_values)})"
    if f.doc:
        out += f" - {f.doc}"
    return out


class Schema:
    """A ``FieldList`` indexed for lookups (built once per config)."""

    def __init__(self, fields: FieldList | None):
        self.fields: list[FieldDoc] = list(fields.fields) if fields else []
        self.includes: dict[str, list[str]] = dict(fields.includes) if fields else {}
        self.task = fields.task if fields else ""
        self.by_key: dict[str, FieldDoc] = {f.key: f for f in self.fields}
        self.maps = {f.key for f in self.fields if f.type.startswith("map<")}

    def lookup(self, key: str) -> tuple[FieldDoc | None, bool]:
        """The field a dotted key names, and whether the key names a map entry or a list element
        (``notes.x`` -> notes, ``lr_schedule.0.step`` -> lr_schedule.step)."""
        f = self.by_key.get(key)
        if f is not None:
            return f, False
        parts = key.split(".")
        kept: list[str] = []
        for i, p in enumerate(parts):
            prefix = ".".join(kept)
            if prefix in self.maps:
                return self.by_key[prefix], True
            if _INDEX.match(p):
                continue
            kept.append(p)
        k = ".".join(kept)
        return self.by_key.get(k), k != key


def _key_text(f: FieldDoc, schema: Schema) -> str:
    if f.is_message or f.key in schema.maps:
        return f.key + "."
    return f.key + "="


def complete_keys(prefix: str, schema: Schema, dashes: str = "", limit: int = 60) -> list[Candidate]:
    low = prefix.lower()
    depth = low.count(".")
    near: list[Candidate] = []
    deep: list[Candidate] = []
    for f in schema.fields:
        k = f.key.lower()
        if not k.startswith(low):
            continue
        c = Candidate(dashes + _key_text(f, schema), f.key, field_detail(f))
        (near if k.count(".") == depth else deep).append(c)
    mounts = [Candidate(f"{dashes}{INCLUDE}{m}=", f"{INCLUDE}{m}=", "include: " + ", ".join(names))
              for m, names in schema.includes.items() if (INCLUDE + m).lower().startswith(low)]
    if prefix:  # the closest first: shorter keys before longer ones (stable: schema order)
        near.sort(key=lambda c: len(c.label))
    if prefix.startswith(INCLUDE) and mounts:
        out = mounts + near + (deep if prefix else [])
    else:
        out = near + mounts + (deep if prefix else [])
    if not out and len(prefix) >= 2:
        out = [Candidate(dashes + _key_text(f, schema), f.key, field_detail(f))
               for f in schema.fields if low in f.key.lower()]
    return out[:limit]


def complete_values(key: str, value: str, schema: Schema, dashes: str = "") -> list[Candidate]:
    head = f"{dashes}{key}="
    if key.startswith(INCLUDE) and not schema.by_key.get(key):
        mount = key[len(INCLUDE):].lstrip(".")
        names = schema.includes.get(mount, [])
        return [Candidate(head + n, n, f"include {n} at {mount or 'the task'}")
                for n in names if n.lower().startswith(value.lower())]
    f, _ = schema.lookup(key)
    if f is None:
        return []
    values: list[tuple[str, str]] = []
    if f.enum_values:
        values += [(v, f"{f.type} value") for v in f.enum_values]
    elif f.type.endswith("bool"):
        values += [("true", "bool"), ("false", "bool")]
    if f.is_message and f.oneof:
        values.append((SELECT, f"select {f.key} in oneof {f.oneof}"))
    values.append((NULL, "clear the field"))
    return [Candidate(head + v, v, d) for v, d in values if v.lower().startswith(value.lower()) and v != value]


def complete(line: str, fields: FieldList | Schema | None, limit: int = 60) -> list[Candidate]:
    """The candidates for ``line`` (one override as typed)."""
    schema = fields if isinstance(fields, Schema) else Schema(fields)
    stripped = line.strip()
    raw = stripped.lstrip("-")
    dashes = stripped[: len(stripped) - len(raw)]
    if "=" in raw:
        key, value = raw.split("=", 1)
        return complete_values(key, value, schema, dashes)[:limit]
    return complete_keys(raw, schema, dashes, limit)


def suggestion(line: str, candidates: Iterable[Candidate]) -> str | None:
    """The first candidate that extends ``line`` as typed (for inline ghost text)."""
    if not line:
        return None
    for c in candidates:
        if c.label in (NULL, SELECT):
            continue
        if c.text.startswith(line) and len(c.text) > len(line):
            return c.text
    return None


def describe(line: str, fields: FieldList | Schema | None) -> str:
    """One line of help for the key on ``line``: ``key: type = default - doc``."""
    schema = fields if isinstance(fields, Schema) else Schema(fields)
    raw = line.strip().lstrip("-")
    key = raw.split("=", 1)[0].rstrip(".")
    if not key:
        return ""
    if key.startswith(INCLUDE) and key not in schema.by_key:
        mount = key[len(INCLUDE):].lstrip(".")
        names = schema.includes.get(mount)
        if names is not None:
            return f"I{mount}: include one of {', '.join(names)}"
        return f"I{mount}: no includes fit mount {mount!r}"
    f, _ = schema.lookup(key)
    return f"{key}: {field_detail(f)}" if f else ""


def split_overrides(text: str) -> list[str]:
    """Pasted text as overrides, one per item: lines, and within a line the space-separated tokens,
    cut only outside quotes and brackets (``name="a b"`` and ``lr=[0.1, 0.2]`` stay whole, as the
    grammar's ``split_items`` reads them). A token quoted whole, as a shell command line has it
    (``'lr=[0.1, 0.2]'``), loses its outer quotes. Empty items are dropped."""
    out: list[str] = []
    for line in text.splitlines():
        cur: list[str] = []
        depth = 0
        quote = ""
        for ch in line:
            if quote:
                cur.append(ch)
                if ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
                cur.append(ch)
            elif ch in "[({":
                depth += 1
                cur.append(ch)
            elif ch in "])}":
                depth = max(0, depth - 1)
                cur.append(ch)
            elif ch.isspace() and depth == 0:
                if cur:
                    out.append("".join(cur))
                    cur = []
            else:
                cur.append(ch)
        if cur:
            out.append("".join(cur))
    return [t[1:-1] if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'" else t for t in out if t.strip()]
