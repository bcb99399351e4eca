"""Flag files on the command line: ``@params.yaml`` (``.yml``), ``.json``, ``.csv``, ``.tsv``, ``.ini``
(``.cfg``), ``.py`` and ``.txt``.

* A text file (``.txt``) holds one override a line, exactly as it would be given on the command
  line (no shell quoting): what ``--print-flat --replayable`` prints. Blank lines and lines starting
  with ``#`` are skipped; spaces around a line are dropped.

* A mapping (YAML or JSON object) is a set of overrides: ``lr: 0.1`` is ``lr=0.1``; nested
  mappings are dotted keys (``data: {noise: 0.1}`` is ``data.noise=0.1``); a list is a sweep
  axis (``lr: [0.1, 0.01]`` is ``lr=[0.1,0.01]``), except on a repeated field where the list is
  the field's value; a string may use the sweep grammar (``lr: loguniform(1e-4, 1e-1)``);
  ``null`` is ``NULL``.
* A YAML/JSON list of mappings, or a CSV or TSV file (a header of keys, one row per run), is one run
  per row (empty cells leave the key alone for that row). A TSV's cells are cut at tabs only: quotes
  in a cell are part of its text.
* An INI file (``.ini``, ``.cfg``; read by ``configparser``, interpolation off, keys' case kept) is a
  mapping: a section is a dotted prefix (``[data]`` then ``noise = 0.1`` is ``data.noise=0.1``;
  ``[data.aug]`` nests further); keys before any section and keys of ``[DEFAULT]`` are top-level
  (``[DEFAULT]`` is not copied into the other sections). ``#`` and ``;`` start comment lines only: the
  rest of a value's line is its text. A value goes on one line.
* A Python module (``.py``) is a mapping of its top-level literal assignments (``lr = 0.1``,
  ``lr: float = 0.1``, ``a = b = 1``), read with ``ast``: the module is never executed nor imported.
  A literal is a number (also negative), a string, ``True``/``False``, ``None`` (``NULL``), or a list,
  tuple or dict of literals; a dict is a nested mapping (dotted keys); a list or tuple is a sweep
  axis, as in YAML (a dict inside it is a message of a repeated field). Names starting with ``_``,
  imports, assignments of anything else (``x = f()``, ``a, b = 1, 2``) and every other statement are
  skipped; a name assigned twice is an error.

Values keep the text they were written with (``0.10`` stays ``0.10``: run folders hash the
override strings as typed). In a ``.py``, that is the literal's source text (``'adam'`` keeps its
quotes: a quoted value is that string, never ``NULL`` nor a sweep); where HeyHi would read that text
otherwise it is respelled (``1_000`` is ``1000``, ``0o17`` is ``15``, a triple-quoted or prefixed string
is quoted again). Keys are checked against the schema by ``heyhi.sweep`` like any override: an
unknown key is an error naming ``file:line``, never ignored.

Bounded: every file is read by ``heyhi.config.source`` (a regular file of at most 4 MiB of UTF-8);
keys and values nest at most ``MAX_DEPTH`` (100) deep; a Python expression too deep or too long for
Python's own parser is a one-line error naming its line, not a crash. Every error is one line naming
``file:line``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from heyhi.config.grammar import quote, unquote
from heyhi.config.source import read_text
from heyhi.errors import ConfigError
from heyhi.config.yamljson import _compose
import csv
import io
import json

SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".tsv", ".ini", ".cfg", ".py", ".txt")
MAX_DEPTH = 100  # keys and values nest at most this deep (as in YAML configs: heyhi.config.yamljson)


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
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"a flag file is {', '.join(SUFFIXES[:-1])} or {SUFFIXES[-1]}, "
                          f"not {p.suffix or 'without a suffix'!r}", where)
    if not os.path.lexists(p):
        raise ConfigError("flag file not found", where)
    text = read_text(p, "flag file")  # a regular file, bounded, never blocks; UTF-8 at file:line:col
    if suffix in (".csv", ".tsv"):
        return _load_csv(p, text, where, tsv=suffix == ".tsv")
    if suffix == ".txt":
        return _load_lines(p, text, where)
    if suffix in (".ini", ".cfg"):
        return _load_ini(p, text, where)
    if suffix == ".py":
        return _load_python(p, text, where)
    if suffix == ".json":
        try:
            json.loads(text)
        except ValueError as e:
            raise ConfigError(f"invalid JSON: {e}", where) from None
    return _load_yaml(p, text, where)


def _deep(key: str, where: str) -> None:
    """Refuse a dotted key nested more than ``MAX_DEPTH`` deep."""
    if key.count(".") >= MAX_DEPTH:
        raise ConfigError(f"key {key[:40]}...: nested more than {MAX_DEPTH} deep", where)


def _remember(seen: dict[str, str], key: str, where: str) -> None:
    """A key given twice in one flag file is an error naming both places."""
    if key in seen:
        raise ConfigError(f"duplicate key {key!r} (first at {seen[key]})", where)
    seen[key] = where


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


# ---- CSV / TSV -----------------------------------------------------------------------------------


def _load_csv(p: Path, text: str, where: str, tsv: bool = False) -> FlagFile:
    what = "TSV" if tsv else "CSV"
    opts = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if tsv else {}
    reader = csv.reader(io.StringIO(text), **opts)
    rows: list[tuple[int, list[str]]] = []
    try:
        for r in reader:
            rows.append((reader.line_num, r))
    except csv.Error as e:  # a cell beyond csv's field size limit, a NUL, an unclosed quote...
        raise ConfigError(f"bad {what}: {e}", f"{where}:{reader.line_num}") from None
    keep = [(n, r) for n, r in rows if any(c.strip() for c in r)]
    if not keep:
        raise ConfigError(f"empty {what}: expected a header of keys and one row per run", where)
    hline, header = keep[0]
    keys = [h.strip().lstrip("-") for h in header]
    for i, k in enumerate(keys):
        if not k:
            raise ConfigError(f"column {i + 1} of the header has no key", f"{where}:{hline}")
        _deep(k, f"{where}:{hline}")
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ConfigError(f"duplicate column {sorted(dup)[0]!r}", f"{where}:{hline}")
    ff = FlagFile(p, rows=[])
    for n, r in keep[1:]:
        if len(r) != len(keys):
            raise ConfigError(f"{len(r)} cells for {len(keys)} columns", f"{where}:{n}")
        ff.rows.append([Entry(k, c.strip(), f"{where}:{n}") for k, c in zip(keys, r) if c.strip()])
    if not ff.rows:
        raise ConfigError(f"the {what} has a header but no rows", where)
    return ff


# ---- INI -----------------------------------------------------------------------------------------

_TOP = "\0heyhi: before any section"  # the section of the keys before the first header (a NUL: no real name)
_NO_DEFAULT = "\0heyhi: no default section"  # so that [DEFAULT] is a plain section, not copied into others


def _load_ini(p: Path, text: str, where: str) -> FlagFile:
    import configparser  # lean: only an INI flag file needs it

    at = {"line": 0}  # the line configparser is reading (0: the section header added in front)

    class _Lines(dict):
        """A dict remembering the line each key was first set on (configparser's sections and options)."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.lines: dict[str, int] = {}

        def __setitem__(self, k, v):
            self.lines.setdefault(k, at["line"])
            super().__setitem__(k, v)

    def lines():
        yield f"[{_TOP}]\n"  # keys before any section belong to it (configparser refuses them otherwise)
        for n, line in enumerate(text.splitlines(keepends=True), 1):
            at["line"] = n
            yield line

    cp = configparser.ConfigParser(interpolation=None, dict_type=_Lines, default_section=_NO_DEFAULT,
                                   strict=True, empty_lines_in_values=False)
    cp.optionxform = str  # keys keep their case
    try:
        cp.read_file(lines(), source=where)
    except configparser.DuplicateSectionError as e:
        raise ConfigError(f"duplicate section [{e.section}]", f"{where}:{(e.lineno or 1) - 1}") from None
    except configparser.DuplicateOptionError as e:
        raise ConfigError(f"duplicate key {e.option!r} in {_section_name(e.section)}",
                          f"{where}:{(e.lineno or 1) - 1}") from None
    except configparser.ParsingError as e:
        n = max((e.errors[0][0] if e.errors else 2) - 1, 1)
        got = (text.splitlines()[n - 1:n] or [""])[0].strip()
        raise ConfigError(f"expected key = value or [section], got {got[:80]!r}", f"{where}:{n}") from None
    except configparser.Error as e:
        raise ConfigError(f"bad INI: {str(e).splitlines()[0][:120]}", f"{where}:{at['line'] or 1}") from None
    ff = FlagFile(p)
    seen: dict[str, str] = {}
    sections = cp._sections  # configparser's own table (a _Lines): the sections' header lines
    for name, options in sections.items():
        head = f"{where}:{max(sections.lines.get(name, 1), 1)}"
        if name in (_TOP, "DEFAULT"):
            prefix = ""
        else:
            prefix = name.strip()
            if not prefix or any(not part.strip() for part in prefix.split(".")):
                raise ConfigError(f"section [{name}]: expected a dotted key ([data] or [data.aug])", head)
            prefix += "."
        for key, value in options.items():
            at_key = f"{where}:{options.lines.get(key, 1)}"
            k = key.strip().lstrip("-")
            if not k:
                raise ConfigError("empty key", at_key)
            full = prefix + k
            _deep(full, at_key)
            value = "" if value is None else value
            if "\n" in value:
                raise ConfigError(f"key {full!r}: the value goes on over several lines; write it on one", at_key)
            _remember(seen, full, at_key)
            ff.entries.append(Entry(full, value.strip(), at_key))
    return ff


def _section_name(section: str) -> str:
    return "the keys before any section" if section == _TOP else f"[{section}]"


# ---- Python modules ------------------------------------------------------------------------------


def _load_python(p: Path, text: str, where: str) -> FlagFile:
    """The top-level literal assignments of a module, read with ``ast`` (never executed)."""
    import ast  # lean: only a .py flag file needs it

    tree = _parse_python(text, where)
    data = text.encode("utf-8")  # ast's columns count UTF-8 bytes
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def source(node) -> str:
        begin = starts[node.lineno - 1] + node.col_offset
        return data[begin: starts[node.end_lineno - 1] + node.end_col_offset].decode()

    ff = FlagFile(p)
    seen: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets = [stmt.target]
        else:
            continue  # imports, defs, expressions, if/for/with...: skipped
        names = [t.id for t in targets if isinstance(t, ast.Name) and not t.id.startswith("_")]
        if not names or not _is_literal(stmt.value, 0, where):
            continue
        for name in names:
            _py_entries(name, stmt.value, f"{where}:{stmt.lineno}", where, source, seen, ff.entries)
    return ff


def _parse_python(text: str, where: str):
    import ast  # lean: only a .py flag file needs it

    import warnings  # lean: only a .py flag file needs it

    try:
        with warnings.catch_warnings():  # an invalid escape ("\\d") warns on stderr: not HeyHi's one line
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=where)
    except SyntaxError as e:  # also a NUL byte, an integer literal of too many digits
        line = e.lineno or (text.count("\n", 0, text.index("\0")) + 1 if "\0" in text else 1)
        raise ConfigError(f"invalid Python: {e.msg}", f"{where}:{line}") from None
    except ValueError as e:  # e.g. an integer literal of too many digits (no line given)
        raise ConfigError(f"invalid Python: {str(e).split(';')[0]}", f"{where}:{_heaviest_line(text)}") from None
    except (RecursionError, MemoryError):  # Python's own parser gives up, without a line
        raise ConfigError("an expression nested too deeply or too long for Python's parser",
                          f"{where}:{_heaviest_line(text)}") from None


def _heaviest_line(text: str) -> int:
    """The line most likely to have defeated Python's parser: the one with the most operators and
    brackets (ties: the first), or with the longest run of digits."""
    best, best_n = 1, -1
    for n, line in enumerate(text.splitlines(), 1):
        weight = sum(line.count(c) for c in "+-*/%~&|^<>([{") + line.count(" not ") + max(
            (len(run) for run in "".join(c if c.isdigit() else " " for c in line).split()), default=0)
        if weight > best_n:
            best, best_n = n, weight
    return best


def _is_literal(node, depth: int, where: str) -> bool:
    """Is ``node`` a literal flag value (numbers, strings, bools, None, lists/tuples/dicts of them)?
    Nesting deeper than ``MAX_DEPTH`` is an error naming its line."""
    import ast  # lean: only a .py flag file needs it

    if depth > MAX_DEPTH:
        raise ConfigError(f"values nested more than {MAX_DEPTH} deep", f"{where}:{node.lineno}")
    if isinstance(node, ast.Constant):
        return node.value is None or isinstance(node.value, (bool, int, float, str))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return (isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float))
                and not isinstance(node.operand.value, bool))
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_is_literal(x, depth + 1, where) for x in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_literal(k, depth + 1, where) for k in node.keys) and all(
            _is_literal(v, depth + 1, where) for v in node.values)
    return False


def _py_entries(key: str, node, at: str, where: str, source, seen: dict[str, str], out: list[Entry]) -> None:
    import ast  # lean: only a .py flag file needs it

    _deep(key, at)
    if isinstance(node, ast.Dict):
        if not node.keys and key.startswith("I"):
            raise ConfigError(f"key {key!r}: an include override takes a name", at)
        for k, v in zip(node.keys, node.values):
            k_at = f"{where}:{k.lineno}"
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)) or not k.value.strip().lstrip("-"):
                raise ConfigError(f"key {key!r}: a dict's keys are names (non-empty strings), not {source(k)[:40]}",
                                  k_at)
            _py_entries(f"{key}.{k.value.strip().lstrip('-')}", v, k_at, where, source, seen, out)
        return
    _remember(seen, key, at)
    if isinstance(node, (ast.List, ast.Tuple)):
        out.append(Entry(key, _py_text(node, source, item=True), at, is_list=True))
    else:
        out.append(Entry(key, _py_text(node, source, item=False), at))


def _py_text(node, source, item: bool) -> str:
    """The override text of a literal: its source where HeyHi reads it the same, else respelled."""
    import ast  # lean: only a .py flag file needs it

    if isinstance(node, (ast.List, ast.Tuple)):
        return "[" + ",".join(_py_text(x, source, item=True) for x in node.elts) + "]"
    if isinstance(node, ast.Dict):  # a message in a list (a repeated field's whole value)
        return "{" + ", ".join(f"{quote(k.value)}: {_py_text(v, source, item=True)}"
                               for k, v in zip(node.keys, node.values)) + "}"
    if isinstance(node, ast.UnaryOp):
        return "-" + _py_text(node.operand, source, item)
    v = node.value
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return str(v)
    text = source(node)
    if isinstance(v, str):
        return text if unquote(text) == v else quote(v)
    if isinstance(v, int) and (not text[:1].isdigit() or "_" in text or text[:2].lower() in ("0o", "0b")):
        return str(v)  # 1_000, 0o17, 0b101: Python's spelling, not the override grammar's
    if "_" in text:
        return repr(v)
    return text
