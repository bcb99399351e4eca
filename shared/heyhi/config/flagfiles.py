"""Flag files on the command line: ``@params.yaml``, ``@params.json``, ``@params.csv``, ``@params.txt``.

* A text file (``.txt``) holds one override a line, exactly as it would be given on the command
  line (no shell quoting): what ``--print-flat --replayable`` prints. Blank lines and lines starting
  with ``#`` are skipped; spaces around a line are dropped.

* A mapping (YAML or JSON object) is a set of overrides: ``lr: 0.1`` is ``lr=0.1``; nested
  mappings are dotted keys (``data: {noise: 0.1}`` is ``data.noise=0.1``); a list is a sweep
  axis (``lr: [0.1, 0.01]`` is ``lr=[0.1,0.01]``), except on a repeated field where the list is
  the field's value; a string may use the sweep grammar (``lr: loguniform(1e-4, 1e-1)``);
  ``null`` is ``NULL``.
* A YAML/JSON list of mappings, or a CSV file (a header of keys, one row per run), is one run
  per row (empty CSV cells leave the key alone for that row).

Values keep the text they were written with (``0.10`` stays ``0.10``: run folders hash the
override strings as typed). Keys are checked against the schema by ``heyhi.sweep`` like any
override: an unknown key is an error naming ``file:line``, never ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from heyhi.config.source import read_text
from heyhi.errors import ConfigError
from heyhi.config.yamljson import _compose
import csv
import io
import json

SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".txt")


@dataclass
class Entry:
    """One ``key: value`` of a flag file; ``value`` is the override text (a list: ``[a,b]``)."""

    key: str
    value: str
    where: str  # file:line
    is_list: bool = False

    @property
    def token(self) -> str:
        return f"{self.key}={self.value}"


@dataclass
class FlagFile:
    path: Path
    entries: list[Entry] = field(default_factory=list)  # a mapping: overrides
    rows: list[list[Entry]] | None = None  # a list of mappings / a CSV: one run per row


def load(path: str | Path) -> FlagFile:
    """Read a flag file (the format by its suffix); errors are one line naming file:line."""
    p = Path(path).expanduser()
    where = str(path)
    if p.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"a flag file is .yaml, .yml, .json, .csv or .txt, not {p.suffix or 'without a suffix'!r}", where)
    if not os.path.lexists(p):
        raise ConfigError("flag file not found", where)
    text = read_text(p, "flag file")  # a regular file, bounded, never blocks; UTF-8 at file:line:col
    if p.suffix.lower() == ".csv":
        return _load_csv(p, text, where)
    if p.suffix.lower() == ".txt":
        return _load_lines(p, text, where)
    if p.suffix.lower() == ".json":
        try:
            json.loads(text)
        except ValueError as e:
            raise ConfigError(f"invalid JSON: {e}", where) from None
    return _load_yaml(p, text, where)


# ---- YAML / JSON ---------------------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"


def _load_yaml(p: Path, text: str, where: str) -> FlagFile:
    import yaml  # lean: yaml loads only when this runs

    root = _compose(text, where, "YAML" if p.suffix.lower() != ".json" else "JSON")
    ff = FlagFile(p)
    if root is None:
        return ff
    if isinstance(root, yaml.MappingNode):
        ff.entries = _mapping(root, "", where)
        return ff
    if isinstance(root, yaml.SequenceNode):
        ff.rows = []
        for item in root.value:
            if not isinstance(item, yaml.MappingNode):
                raise ConfigError("a list in a flag file holds one mapping per run", _at(where, item))
            row = _mapping(item, "", where)
            for e in row:
                if e.is_list:
                    raise ConfigError(
                        f"key {e.key!r}: a row is one run, it cannot sweep a list (on a repeated field write it "
                        f"in the overrides, or use a mapping flag file)", e.where)
            ff.rows.append(row)
        return ff
    raise ConfigError("a flag file holds a mapping of overrides, or a list of them (one run each)", _at(where, root))


def _at(where: str, node) -> str:
    return f"{where}:{node.start_mark.line + 1}"


def _mapping(node, prefix: str, where: str) -> list[Entry]:
    import yaml  # lean: yaml loads only when this runs

    out: list[Entry] = []
    seen: set[str] = set()
    for knode, vnode in node.value:
        if not isinstance(knode, yaml.ScalarNode):
            raise ConfigError("a key must be a plain name", _at(where, knode))
        key = prefix + str(knode.value).lstrip("-")
        if not knode.value:
            raise ConfigError("empty key", _at(where, knode))
        if key in seen:
            raise ConfigError(f"duplicate key {key!r}", _at(where, knode))
        seen.add(key)
        if isinstance(vnode, yaml.MappingNode):
            if key.startswith("I") and not vnode.value:
                raise ConfigError(f"key {key!r}: an include override takes a name", _at(where, vnode))
            out.extend(_mapping(vnode, key + ".", where))
        elif isinstance(vnode, yaml.SequenceNode):
            items = [_list_item(x, where) for x in vnode.value]
            out.append(Entry(key, "[" + ",".join(items) + "]", _at(where, knode), is_list=True))
        else:
            text = _scalar(vnode)
            for o, c in ("()", "[]"):
                if text.count(o) != text.count(c) or key.count(o) != key.count(c):
                    raise ConfigError(
                        f"key {key!r}: unbalanced {o!r} in {text!r}: inside a YAML flow mapping {{..}} a comma ends "
                        f"the value; quote it or use a block mapping", _at(where, knode))
            out.append(Entry(key, text, _at(where, knode)))
    return out


def _list_item(node, where: str) -> str:
    import yaml  # lean: yaml loads only when this runs

    if isinstance(node, yaml.SequenceNode):
        return "[" + ",".join(_list_item(x, where) for x in node.value) + "]"
    if isinstance(node, yaml.MappingNode):
        raise ConfigError("a mapping inside a list: set message fields with dotted keys", _at(where, node))
    return quote_item(_scalar(node))


def _scalar(node) -> str:
    """The text of a scalar as written (a quoted string: its value), with YAML's null and bools
    in HeyHi's spelling (NULL, true, false)."""
    tag = node.tag or ""
    if tag == _TAG + "null" or (not node.style and node.value in ("", "~", "null", "Null", "NULL")):
        return "NULL"
    if tag == _TAG + "bool" and not node.style:
        return "true" if node.value.lower() in ("true", "yes", "on", "y") else "false"
    return str(node.value)


def quote_item(s: str) -> str:
    """A list element as the sweep grammar reads it: quoted when it holds , [ ] ( ) or quotes."""
    if s and not any(c in s for c in ",[]()\"'") and s == s.strip():
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---- lines ---------------------------------------------------------------------------------------


def _load_lines(p: Path, text: str, where: str) -> FlagFile:
    ff = FlagFile(p)
    seen: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        tok = line.strip()
        if not tok or tok.startswith("#"):
            continue
        at = f"{where}:{n}"
        if tok.startswith("@"):
            raise ConfigError("a flag file cannot name another flag file", at)
        key, eq, value = tok.lstrip("-").partition("=")
        if not eq or not key:
            raise ConfigError(f"expected key=value, got {tok!r}", at)
        if key in seen:
            raise ConfigError(f"duplicate key {key!r} (first at {seen[key]})", at)
        seen[key] = at
        ff.entries.append(Entry(key, value, at))
    return ff


# ---- CSV -----------------------------------------------------------------------------------------


def _load_csv(p: Path, text: str, where: str) -> FlagFile:
    reader = csv.reader(io.StringIO(text))
    rows = [r for r in reader]
    lines = [i + 1 for i, r in enumerate(rows)]
    keep = [(n, r) for n, r in zip(lines, rows) if any(c.strip() for c in r)]
    if not keep:
        raise ConfigError("empty CSV: expected a header of keys and one row per run", where)
    hline, header = keep[0]
    keys = [h.strip().lstrip("-") for h in header]
    for i, k in enumerate(keys):
        if not k:
            raise ConfigError(f"column {i + 1} of the header has no key", f"{where}:{hline}")
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ConfigError(f"duplicate column {sorted(dup)[0]!r}", f"{where}:{hline}")
    ff = FlagFile(p, rows=[])
    for n, r in keep[1:]:
        if len(r) != len(keys):
            raise ConfigError(f"{len(r)} cells for {len(keys)} columns", f"{where}:{n}")
        ff.rows.append([Entry(k, c.strip(), f"{where}:{n}") for k, c in zip(keys, r) if c.strip()])
    if not ff.rows:
        raise ConfigError("the CSV has a header but no rows", where)
    return ff
