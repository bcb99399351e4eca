"""Read ``.proto`` files into the compiled :class:`~heyhi.config.schema.model.Schema`, at load time.

No protoc and no generated code: one compiled regex tokenizes a file (``re.finditer``, no
per-character Python loop), a small recursive-descent parser reads proto2 / proto3 / editions
declarations, and a linker resolves type names with protobuf's scoping rules.

What is kept: messages (nested at any depth), enums, fields with their number, label, kind,
resolved type, ``[default = ...]`` (as a Python value, enums by number), oneofs, maps, the
comments around declarations as docs, and which file defines each type (``Schema.files``: each
file's package and ``import public`` list). What is accepted and ignored: options of every kind
(including aggregate values), ``reserved`` (checked against fields), ``extensions``,
``extend``, ``service``. ``group`` is rejected with a clear error.

Every problem raises :class:`~heyhi.errors.ConfigError` with a one-line message and
``where="file:line:col"``.

Per-file parse cache (``read_protos(..., cache=FOLDER)``): what parsing one file gave (its package,
imports, messages, enums, and every name it defined, in order) is kept as plain data (``marshal``)
under ``FOLDER`` (by default ``parse_cache_dir()``), keyed by the file's resolved path and checked
against its content (length and two checksums), the reader's version and its source file's stamp,
so after an edit only the edited file is tokenized and parsed again; the others are replayed, names
defined in the same order, so every error (a duplicate name across files included) is the one a
full parse gives. An entry is read bounded (``MAX_CACHE_BYTES``)
and checked for shape before anything of it is used: an unreadable, corrupt or foreign entry is a
miss, never an error. Linking always runs on the whole schema.

Public API: :func:`read_protos`, :func:`read_project_schema` and :func:`parse_cache_dir`.
"""

from __future__ import annotations

import os
import re

from heyhi.errors import ConfigError
from heyhi.config.schema.kinds import FLOAT_KINDS, INT_KINDS, INT_RANGES, SCALAR_KINDS
from heyhi.config.schema.model import EnumType, FieldSpec, MessageType, ProtoFile, Schema
from heyhi.config.source import decode, read_bytes, write_cache

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: a completion reads .proto files without typing or pathlib
    from pathlib import Path
    from typing import Any, Sequence

PARSE_FORMAT = 1  # bumped when the parsed form of a file (below: _plain) changes shape
MAX_CACHE_BYTES = 64 << 20

__all__ = ["read_protos", "read_project_schema", "parse_cache_dir"]

# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------

# One regex for every token; whitespace before a token is part of its match. The groups are
# numbered (see _KIND): the match's lastindex gives the kind without a Python-level branch.
_TOKEN_RE = re.compile(
    r"\s*(?:"
    r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"  # 1 identifier, maybe dotted
    r"|([{}\[\]()<>;,=:+\-])"  # 2 symbol
    r"|(//[^\n]*)"  # 3 line comment
    r"|(0[xX][0-9A-Fa-f]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"  # 4 number
    r'|("[^"\\\n]*(?:\\[^\n][^"\\\n]*)*"|\'[^\'\\\n]*(?:\\[^\n][^\'\\\n]*)*\')'  # 5 string
    r"|(\.[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"  # 6 fully-qualified identifier
    r"|(/\*.*?\*/)"  # 7 block comment
    r"|(\.)"  # 8 lone dot (option names like `(ext).field`)
    r"|(\S)"  # 9 anything else: an error
    r")",
    re.S,
)
_KIND = (None, "id", "sym", "lc", "num", "str", "id", "bc", "sym", "bad")
_NOT_TOKEN = frozenset({"lc", "bc", "bad"})

# A token: (kind, text, end offset); kind is "id", "num", "sym", "str" or "eof". Line and
# column are computed from the offset only when an error is reported.
_Tok = tuple


def _line_col(text: str, pos: int) -> tuple[int, int]:
    return text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)


def _line_doc(tok: str) -> str:
    s = tok[2:].rstrip()
    return s[1:] if s.startswith(" ") else s


def _block_doc(tok: str) -> str:
    lines = tok[2:-2].split("\n")
    out = []
    for k, ln in enumerate(lines):
        if k:
            ln = ln.lstrip()
            if ln.startswith("*"):
                ln = ln[1:]
        elif ln.startswith("*"):  # "/**" javadoc opener
            ln = ln[1:]
        ln = ln.rstrip()
        out.append(ln[1:] if ln.startswith(" ") else ln)
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _tokenize(text: str, shown: str) -> tuple[list[_Tok], dict[int, str], dict[int, str]]:
    """Tokens plus docs: ``leading[i]`` is the comment block right above token i and
    ``trailing[i]`` the comment after token i on its line.

    One ``finditer`` in a list comprehension makes every token (comments included); comments
    are then split off and attached by protoc's rules, simplified: consecutive ``//`` lines
    form one block, a ``/* */`` comment is a block of its own, a blank line detaches a block
    from what follows, and a comment that starts on the line of the previous token is that
    token's trailing comment, never a leading one.
    """
    kinds = _KIND
    allt = [(kinds[(g := m.lastindex)], m[g], m.end()) for m in _TOKEN_RE.finditer(text)]
    eof = ("eof", "", len(text.rstrip()))  # reported right after the last character
    not_token = _NOT_TOKEN
    where_comments = [k for k, t in enumerate(allt) if t[0] in not_token]
    leading: dict[int, str] = {}
    trailing: dict[int, str] = {}
    if not where_comments:
        allt.append(eof)
        return allt, leading, trailing
    toks = [t for t in allt if t[0] not in not_token]
    toks.append(eof)

    # Walk the comments; all comments between token g-1 and token g form one gap.
    n = len(where_comments)
    j = 0
    while j < n:
        k = where_comments[j]
        g = k - j  # index of the next real token
        ctoks = []
        while j < n and where_comments[j] - j == g:
            c = allt[where_comments[j]]
            if c[0] == "bad":
                start = c[2] - len(c[1])
                line, col = _line_col(text, start)
                where = f"{shown}:{line}:{col}"
                if text.startswith("/*", start):
                    raise ConfigError("syntax error: unterminated /* comment", where)
                if c[1] in "\"'":
                    raise ConfigError("syntax error: unterminated string", where)
                raise ConfigError(f"syntax error: unexpected character {c[1]!r}", where)
            ctoks.append(c)
            j += 1
        pos = toks[g - 1][2] if g else 0  # end of the previous item
        buf: list[str] | None = None
        buf_block = False
        pend: str | None = None  # /* */ after the token on its line: trailing if the line ends
        for ci, (kind, ctext, cend) in enumerate(ctoks):
            cstart = cend - len(ctext)
            nl = text.count("\n", pos, cstart)
            doc = _line_doc(ctext) if kind == "lc" else _block_doc(ctext)
            if g and not nl and (ci == 0 or pend is not None):
                # On the line of the previous token: its trailing comment.
                if kind == "lc":
                    trailing[g - 1] = doc
                    pend = None
                else:
                    pend = doc
            else:
                if pend is not None:
                    trailing[g - 1] = pend
                    pend = None
                if kind == "bc" or buf is None or buf_block or nl >= 2:
                    buf = [doc]
                    buf_block = kind == "bc"
                else:
                    buf.append(doc)
            pos = cend
        nt = toks[g]
        nl = text.count("\n", pos, nt[2] - len(nt[1]))
        if pend is not None and nl:
            trailing[g - 1] = pend
        if buf is not None and nl < 2 and not (nt[0] == "sym" and nt[1] in "}])") and nt[0] != "eof":
            leading[g] = "\n".join(buf)
    return toks, leading, trailing


# --------------------------------------------------------------------------------------------
# Parsed declarations (before linking)
# --------------------------------------------------------------------------------------------


class _File:
    __slots__ = ("key", "path", "shown", "name", "text", "syntax", "package", "imports", "toks", "leading", "trailing")

    def __init__(self, key: str, path: str):
        self.key = key
        self.path = path
        self.shown = str(path)
        self.name = self.shown  # the name in the schema (relative to the reader's base folder)
        self.syntax = "proto2"
        self.package = ""
        self.imports: list[tuple[str, _Tok, bool]] = []  # (import path, token, public)


class _Field:
    __slots__ = ("name", "number", "label", "type", "type_tok", "map_key", "default", "oneof", "doc", "tok", "num_tok")

    def __init__(self, name, number, label, type_, type_tok, map_key, default, oneof, doc, tok, num_tok):
        self.name = name
        self.number = number
        self.label = label
        self.type = type_
        self.type_tok = type_tok
        self.map_key = map_key
        self.default = default  # (neg, [tokens], first token) or None
        self.oneof = oneof
        self.doc = doc
        self.tok = tok
        self.num_tok = num_tok


class _Msg:
    __slots__ = ("name", "full", "file", "tok", "doc", "fields", "oneofs", "reserved")

    def __init__(self, name, full, file, tok, doc):
        self.name = name
        self.full = full
        self.file = file
        self.tok = tok
        self.doc = doc
        self.fields: list[_Field] = []
        self.oneofs: dict[str, list[str]] = {}
        self.reserved: list[tuple[Any, Any, _Tok]] = []  # (lo, hi, tok) or (name, None, tok)


class _Enum:
    __slots__ = ("name", "full", "file", "tok", "doc", "values")

    def __init__(self, name, full, file, tok, doc):
        self.name = name
        self.full = full
        self.file = file
        self.tok = tok
        self.doc = doc
        self.values: dict[str, int] = {}


class _Sym:
    __slots__ = ("kind", "file", "tok", "decl")

    def __init__(self, kind, file, tok, decl=None):
        self.kind = kind  # message, enum, package, field, oneof, enumvalue, service
        self.file = file
        self.tok = tok
        self.decl = decl


_LABELS = ("optional", "required", "repeated")
_MAP_KEY_KINDS = INT_KINDS | {"bool", "string"}
_MAX_FIELD = 2**29 - 1


def _where(f: _File, t: _Tok) -> str:
    line, col = _line_col(f.text, t[2] - len(t[1]))
    return f"{f.shown}:{line}:{col}"


def _desc(t: _Tok) -> str:
    if t[0] == "eof":
        return "end of file"
    if t[0] == "str":
        return f"string {t[1]}"
    return f"`{t[1]}`"


def _parse_int(text: str) -> int | None:
    if text[:2] in ("0x", "0X"):
        return int(text, 16)
    if not text.isdigit():
        return None
    if len(text) > 1 and text[0] == "0":
        try:
            return int(text, 8)
        except ValueError:
            return None
    return int(text)


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, f: _File, msgs: list[_Msg], enums: list[_Enum], symbols: dict[str, _Sym]):
        self.f = f
        self.toks = f.toks
        self.i = 0
        self.msgs = msgs
        self.enums = enums
        self.symbols = symbols
        self.events: list[tuple] = []  # every name defined, in order: (full, kind, tok, decl, note)

    # -- helpers -----------------------------------------------------------------------------

    def err(self, msg: str, t: _Tok | None = None) -> ConfigError:
        return ConfigError(msg, _where(self.f, t if t is not None else self.toks[self.i]))

    def expect(self, text: str, what: str | None = None) -> int:
        t = self.toks[self.i]
        if t[1] != text or t[0] not in ("sym", "id"):
            raise self.err(f"syntax error: expected {what or '`' + text + '`'}, got {_desc(t)}", t)
        self.i += 1
        return self.i - 1

    def name(self, what: str) -> _Tok:
        t = self.toks[self.i]
        if t[0] != "id" or "." in t[1]:
            raise self.err(f"syntax error: expected {what}, got {_desc(t)}", t)
        self.i += 1
        return t

    def type_name(self) -> _Tok:
        t = self.toks[self.i]
        if t[0] != "id":
            raise self.err(f"syntax error: expected a type name, got {_desc(t)}", t)
        self.i += 1
        return t

    def doc(self, first: int, trail: int) -> str:
        lead = self.f.leading.get(first, "")
        tr = self.f.trailing.get(trail, "")
        if lead and tr:
            return lead + "\n" + tr
        return lead or tr

    def define(self, full: str, kind: str, t: _Tok, decl=None, note: str = "") -> None:
        self.events.append((full, kind, t, decl, note))
        self._define(full, kind, t, decl, note)

    def define_field(self, full: str, t: _Tok) -> None:
        self.events.append((full, "field", t, None, ""))
        if full in self.symbols:
            self._define(full, "field", t)  # raises
        self.symbols[full] = _Sym("field", self.f, t)

    def replay(self, events: list[tuple]) -> None:
        """Define the names a cached parse of this file defined, in the same order (same errors)."""
        for full, kind, t, decl, note in events:
            if kind == "field":
                self.define_field(full, t)
            else:
                self.define(full, kind, t, decl, note)

    def _define(self, full: str, kind: str, t: _Tok, decl=None, note: str = "") -> None:
        old = self.symbols.get(full)
        if old is not None:
            if kind == "package" and old.kind == "package":
                return
            scope, _, short = full.rpartition(".")
            inside = f" in `{scope}`" if scope else ""
            raise self.err(
                f"duplicate name `{short}`{inside} (already defined at {_where(old.file, old.tok)}){note}", t
            )
        self.symbols[full] = _Sym(kind, self.f, t, decl)

    def skip_balanced(self) -> None:
        """Skip from an opening bracket to its matching close."""
        toks = self.toks
        open_t = toks[self.i]
        depth = 0
        while True:
            t = toks[self.i]
            self.i += 1
            if t[0] == "sym":
                if t[1] in "{[(":
                    depth += 1
                elif t[1] in "}])":
                    depth -= 1
                    if depth == 0:
                        return
            elif t[0] == "eof":
                raise self.err(f"syntax error: `{open_t[1]}` is never closed", open_t)

    def skip_statement(self) -> None:
        """Skip to the ``;`` that ends a statement, over balanced brackets."""
        toks = self.toks
        while True:
            t = toks[self.i]
            if t[0] == "sym":
                if t[1] == ";":
                    self.i += 1
                    return
                if t[1] in "{[(":
                    self.skip_balanced()
                    continue
                if t[1] in "}])":
                    raise self.err(f"syntax error: expected `;`, got {_desc(t)}", t)
            elif t[0] == "eof":
                raise self.err("syntax error: expected `;`, got end of file", t)
            self.i += 1

    def option_name(self) -> str:
        toks = self.toks
        parts = []
        t = toks[self.i]
        if t[1] == "(" and t[0] == "sym":
            self.i += 1
            inner = self.type_name()
            self.expect(")")
            parts.append(f"({inner[1]})")
        else:
            parts.append(self.type_name()[1])
        while True:
            t = toks[self.i]
            if t[0] == "id" and t[1].startswith("."):
                parts.append(t[1])
                self.i += 1
            elif t[0] == "sym" and t[1] == ".":
                self.i += 1
                t = toks[self.i]
                if t[1] == "(":
                    self.i += 1
                    inner = self.type_name()
                    self.expect(")")
                    parts.append(f".({inner[1]})")
                else:
                    parts.append("." + self.name("an option name")[1])
            else:
                return "".join(parts)

    def option_value(self) -> tuple[bool, list[_Tok], _Tok] | None:
        """A constant: ``-``? then a number / identifier, or adjacent strings. None for ``{...}``."""
        toks = self.toks
        first = t = toks[self.i]
        if t[0] == "sym" and t[1] == "{":
            self.skip_balanced()
            return None
        neg = False
        if t[0] == "sym" and t[1] in "-+":
            neg = t[1] == "-"
            self.i += 1
            t = toks[self.i]
            if t[0] not in ("num", "id"):
                raise self.err(f"syntax error: expected a number after `{first[1]}`, got {_desc(t)}", t)
        if t[0] == "str":
            vals = [t]
            self.i += 1
            while toks[self.i][0] == "str":
                vals.append(toks[self.i])
                self.i += 1
            return neg, vals, first
        if t[0] in ("num", "id"):
            self.i += 1
            return neg, [t], first
        raise self.err(f"syntax error: expected a constant, got {_desc(t)}", t)

    def option_statement(self) -> tuple[str, Any]:
        self.i += 1  # "option"
        name = self.option_name()
        self.expect("=")
        value = self.option_value()
        self.expect(";")
        return name, value

    def field_options(self) -> tuple[bool, list[_Tok], _Tok] | None:
        """``[name = value, ...]``; returns the ``default`` value if declared."""
        self.i += 1  # "["
        default = None
        while True:
            name_tok = self.toks[self.i]
            name = self.option_name()
            self.expect("=")
            value = self.option_value()
            if name == "default":
                if default is not None:
                    raise self.err("duplicate `default` option", name_tok)
                if value is None:
                    raise self.err("syntax error: a default value cannot be an aggregate `{...}`", name_tok)
                default = value
            t = self.toks[self.i]
            self.i += 1
            if t[1] == "]" and t[0] == "sym":
                return default
            if t[1] != "," or t[0] != "sym":
                raise self.err(f"syntax error: expected `,` or `]`, got {_desc(t)}", t)

    def reserved(self, holder: list | None, max_value: int) -> None:
        """``reserved 2, 15, 9 to 11;`` or ``reserved "foo", "bar";`` (editions: bare names)."""
        self.i += 1
        toks = self.toks
        while True:
            t = toks[self.i]
            if t[0] == "str" or (t[0] == "id" and t[1] not in ("max",)):
                self.i += 1
                name = t[1][1:-1] if t[0] == "str" else t[1]
                if holder is not None:
                    holder.append((name, None, t))
            else:
                lo = self.int_const("a field number or name")
                hi = lo
                if toks[self.i][1] == "to" and toks[self.i][0] == "id":
                    self.i += 1
                    if toks[self.i][1] == "max" and toks[self.i][0] == "id":
                        self.i += 1
                        hi = max_value
                    else:
                        hi = self.int_const("a number or `max`")
                if hi < lo:
                    raise self.err(f"reserved range {lo} to {hi} is empty", t)
                if holder is not None:
                    holder.append((lo, hi, t))
            t = toks[self.i]
            self.i += 1
            if t[0] == "sym" and t[1] == ";":
                return
            if t[0] != "sym" or t[1] != ",":
                raise self.err(f"syntax error: expected `,` or `;`, got {_desc(t)}", t)

    def int_const(self, what: str) -> int:
        toks = self.toks
        t = toks[self.i]
        neg = False
        if t[0] == "sym" and t[1] == "-":
            neg = True
            self.i += 1
            t = toks[self.i]
        v = _parse_int(t[1]) if t[0] == "num" else None
        if v is None:
            raise self.err(f"syntax error: expected {what}, got {_desc(t)}", t)
        self.i += 1
        return -v if neg else v

    # -- file ----------------------------------------------------------------------------------

    def parse_file(self) -> None:
        f = self.f
        toks = self.toks
        seen_package = None
        while True:
            t = toks[self.i]
            kind, text = t[0], t[1]
            if kind == "eof":
                return
            if kind == "sym" and text == ";":
                self.i += 1
                continue
            if kind != "id":
                raise self.err(f"syntax error: expected a declaration (message, enum, import...), got {_desc(t)}")
            if text in ("syntax", "edition"):
                self.i += 1
                self.expect("=")
                v = toks[self.i]
                if v[0] != "str":
                    raise self.err(f"syntax error: expected a string, got {_desc(v)}", v)
                self.i += 1
                self.expect(";")
                value = v[1][1:-1]
                if text == "syntax":
                    if value not in ("proto2", "proto3"):
                        raise self.err(f'unknown syntax "{value}" (expected "proto2" or "proto3")', v)
                    f.syntax = value
                else:
                    f.syntax = "editions"
            elif text == "package":
                if seen_package is not None:
                    raise self.err("a file may declare only one package", t)
                self.i += 1
                p = self.type_name()
                if p[1].startswith("."):
                    raise self.err(f"syntax error: expected a package name, got {_desc(p)}", p)
                self.expect(";")
                seen_package = p
                f.package = p[1]
                parts = p[1].split(".")
                for k in range(1, len(parts) + 1):
                    self.define(".".join(parts[:k]), "package", p)
            elif text == "import":
                self.i += 1
                public = False
                m = toks[self.i]
                if m[0] == "id" and m[1] in ("public", "weak"):
                    public = m[1] == "public"
                    self.i += 1
                v = toks[self.i]
                if v[0] != "str":
                    raise self.err(f"syntax error: expected the imported file as a string, got {_desc(v)}", v)
                self.i += 1
                self.expect(";")
                f.imports.append((_decode_string([v], self.f)[0], v, public))
            elif text == "option":
                self.option_statement()
            elif text == "message":
                self.message(f.package)
            elif text == "enum":
                self.enum(f.package)
            elif text in ("service", "extend"):
                self.i += 1
                self.type_name()
                t2 = toks[self.i]
                if t2[1] != "{":
                    raise self.err(f"syntax error: expected `{{`, got {_desc(t2)}", t2)
                self.skip_balanced()
            else:
                raise self.err(f"syntax error: expected a declaration (message, enum, import...), got {_desc(t)}")

    # -- message -------------------------------------------------------------------------------

    def message(self, scope: str) -> None:
        toks = self.toks
        first = self.i
        self.i += 1  # "message"
        nt = self.name("a message name")
        full = f"{scope}.{nt[1]}" if scope else nt[1]
        lb = self.expect("{")
        msg = _Msg(nt[1], full, self.f, nt, self.doc(first, lb))
        self.define(full, "message", nt, msg)
        self.msgs.append(msg)
        while True:
            t = toks[self.i]
            kind, text = t[0], t[1]
            if kind == "sym":
                if text == "}":
                    self.i += 1
                    break
                if text == ";":
                    self.i += 1
                    continue
                raise self.err(f"syntax error: expected a field or `}}`, got {_desc(t)}", t)
            if kind != "id":
                raise self.err(f"syntax error: expected a field or `}}`, got {_desc(t)}", t)
            if text == "message":
                self.message(full)
            elif text == "enum":
                self.enum(full)
            elif text == "oneof":
                self.oneof(msg)
            elif text == "option":
                self.option_statement()
            elif text == "reserved":
                self.reserved(msg.reserved, _MAX_FIELD)
            elif text == "extensions":
                self.skip_statement()
            elif text == "extend":
                self.i += 1
                self.type_name()
                t2 = toks[self.i]
                if t2[1] != "{":
                    raise self.err(f"syntax error: expected `{{`, got {_desc(t2)}", t2)
                self.skip_balanced()
            elif text in _LABELS:
                self.field(msg, text, None)
            elif text == "map" and toks[self.i + 1][1] == "<":
                self.field(msg, None, None)
            elif text == "group":
                raise self.err("groups are not supported; use a nested message instead", t)
            elif self.f.syntax == "proto2":
                raise self.err(
                    f"syntax error: expected a label (optional, required or repeated) before `{text}` in proto2", t
                )
            else:
                self.field(msg, None, None)
        self.check_message(msg)

    def check_message(self, msg: _Msg) -> None:
        numbers: dict[int, _Field] = {}
        for fd in msg.fields:
            if fd.name.startswith("_"):  # config objects keep their own state under such names
                raise self.err(f"field name `{fd.name}` in message `{msg.full}` starts with `_`: HeyHi reserves "
                               "those names (rename the field)", fd.tok)
            old = numbers.get(fd.number)
            if old is not None:
                raise self.err(
                    f"duplicate field number {fd.number} in message `{msg.full}`: "
                    f"`{fd.name}` and `{old.name}`",
                    fd.num_tok,
                )
            numbers[fd.number] = fd
        for lo, hi, rt in msg.reserved:
            if hi is None:
                for fd in msg.fields:
                    if fd.name == lo:
                        raise self.err(f"field name `{lo}` is reserved in message `{msg.full}`", fd.tok)
            else:
                for fd in msg.fields:
                    if lo <= fd.number <= hi:
                        raise self.err(
                            f"field number {fd.number} of `{fd.name}` is reserved in message `{msg.full}`",
                            fd.num_tok,
                        )

    def oneof(self, msg: _Msg) -> None:
        toks = self.toks
        self.i += 1  # "oneof"
        nt = self.name("a oneof name")
        self.define(f"{msg.full}.{nt[1]}", "oneof", nt)
        self.expect("{")
        members = msg.oneofs[nt[1]] = []
        while True:
            t = toks[self.i]
            kind, text = t[0], t[1]
            if kind == "sym" and text == "}":
                self.i += 1
                break
            if kind == "sym" and text == ";":
                self.i += 1
                continue
            if kind != "id":
                raise self.err(f"syntax error: expected a field or `}}`, got {_desc(t)}", t)
            if text == "option":
                self.option_statement()
            elif text in _LABELS:
                raise self.err(f"fields in oneof `{nt[1]}` must not have a label (`{text}`)", t)
            elif text == "map" and toks[self.i + 1][1] == "<":
                raise self.err(f"map fields are not allowed in oneof `{nt[1]}`", t)
            elif text == "group":
                raise self.err("groups are not supported; use a nested message instead", t)
            else:
                members.append(self.field(msg, None, nt[1]).name)
        if not members:
            raise self.err(f"oneof `{nt[1]}` has no fields", nt)

    def field(self, msg: _Msg, label: str | None, oneof: str | None) -> _Field:
        toks = self.toks
        first = self.i
        if label is not None:
            self.i += 1
            if label == "required" and self.f.syntax == "proto3":
                raise self.err("required fields are not allowed in proto3", toks[first])
            t = toks[self.i]
            if t[0] == "id" and t[1] == "group":
                raise self.err("groups are not supported; use a nested message instead", t)
        t = toks[self.i]
        map_key = ""
        if t[0] == "id" and t[1] == "map" and toks[self.i + 1][1] == "<":
            if label is not None:
                raise self.err("map fields cannot have a label", toks[first])
            self.i += 2
            kt = toks[self.i]
            if kt[0] != "id":
                raise self.err(f"syntax error: expected a map key type, got {_desc(kt)}", kt)
            if kt[1] not in _MAP_KEY_KINDS:
                raise self.err(f"invalid map key type `{kt[1]}` (use an integer type, bool or string)", kt)
            self.i += 1
            map_key = kt[1]
            self.expect(",")
            type_tok = self.type_name()
            self.expect(">")
            label = "map"
        else:
            type_tok = self.type_name()
        i = self.i
        nt, eq, num_tok = toks[i], toks[i + 1], toks[i + 2]
        if nt[0] != "id" or "." in nt[1]:
            self.name("a field name")  # raises
        if eq[1] != "=" or eq[0] != "sym":
            self.i = i + 1
            self.expect("=")  # raises
        number = _parse_int(num_tok[1]) if num_tok[0] == "num" else None
        if number is None:
            raise self.err(f"syntax error: expected a field number, got {_desc(num_tok)}", num_tok)
        if not 1 <= number <= _MAX_FIELD:
            raise self.err(f"field number {number} of `{nt[1]}` is out of range (1 to {_MAX_FIELD})", num_tok)
        if 19000 <= number <= 19999:
            raise self.err(f"field number {number} of `{nt[1]}` is reserved by protobuf (19000 to 19999)", num_tok)
        default = None
        t = toks[i + 3]
        self.i = i + 3
        if t[1] == "[" and t[0] == "sym":
            default = self.field_options()
            if default is not None and self.f.syntax == "proto3":
                raise self.err("explicit default values are not allowed in proto3", default[2])
        semi = self.expect(";")
        fd = _Field(
            nt[1], number, label, type_tok[1], type_tok, map_key, default, oneof, self.doc(first, semi), nt, num_tok
        )
        self.define_field(f"{msg.full}.{nt[1]}", nt)
        msg.fields.append(fd)
        return fd

    # -- enum ----------------------------------------------------------------------------------

    def enum(self, scope: str) -> None:
        toks = self.toks
        first = self.i
        self.i += 1  # "enum"
        nt = self.name("an enum name")
        full = f"{scope}.{nt[1]}" if scope else nt[1]
        lb = self.expect("{")
        en = _Enum(nt[1], full, self.f, nt, self.doc(first, lb))
        self.define(full, "enum", nt, en)
        self.enums.append(en)
        allow_alias = False
        reserved: list = []
        value_toks: dict[str, _Tok] = {}
        while True:
            t = toks[self.i]
            kind, text = t[0], t[1]
            if kind == "sym" and text == "}":
                self.i += 1
                break
            if kind == "sym" and text == ";":
                self.i += 1
                continue
            if kind != "id" or "." in text:
                raise self.err(f"syntax error: expected an enum value or `}}`, got {_desc(t)}", t)
            if text == "option" and toks[self.i + 1][1] != "=":
                name, value = self.option_statement()
                if name == "allow_alias" and value is not None and value[1][0][1] == "true":
                    allow_alias = True
                continue
            if text == "reserved" and toks[self.i + 1][1] != "=":
                self.reserved(reserved, 2**31 - 1)
                continue
            self.i += 1
            self.expect("=")
            num_tok = toks[self.i]
            number = self.int_const("an enum value number")
            if not -(2**31) <= number <= 2**31 - 1:
                raise self.err(f"enum value `{text}` = {number} is out of the int32 range", num_tok)
            tt = toks[self.i]
            if tt[0] == "sym" and tt[1] == "[":
                self.field_options()
            self.expect(";")
            if text in en.values:
                raise self.err(
                    f"duplicate name `{text}` in enum `{full}` "
                    f"(already defined at {_where(self.f, value_toks[text])})",
                    t,
                )
            if not en.values and number != 0 and self.f.syntax == "proto3":
                raise self.err(f"the first value of a proto3 enum must be 0 (`{text}` = {number})", num_tok)
            # Enum values are siblings of their enum (C++ scoping), as protoc checks.
            self.define(
                f"{scope}.{text}" if scope else text,
                "enumvalue",
                t,
                note="; enum values share the scope that encloses their enum",
            )
            en.values[text] = number
            value_toks[text] = t
        if not en.values:
            raise self.err(f"enum `{full}` has no values", nt)
        if not allow_alias:
            seen: dict[int, str] = {}
            for name, number in en.values.items():
                if number in seen:
                    raise self.err(
                        f"duplicate number {number} in enum `{full}`: `{name}` and `{seen[number]}` "
                        "(add `option allow_alias = true;` to allow this)",
                        value_toks[name],
                    )
                seen[number] = name
        for lo, hi, rt in reserved:
            for name, number in en.values.items():
                if (hi is None and name == lo) or (hi is not None and lo <= number <= hi):
                    raise self.err(f"enum value `{name}` is reserved in enum `{full}`", value_toks[name])


# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

_ESC_RE = re.compile(r"\\(?:([0-7]{1,3})|[xX]([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.S)
_SIMPLE_ESC = {
    "n": b"\n", "t": b"\t", "r": b"\r", "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v",
    "\\": b"\\", "'": b"'", '"': b'"', "?": b"?",
}  # fmt: skip


def _decode_string(toks: list[_Tok], f: _File) -> tuple[str, bytes]:
    """Concatenate string literal tokens, decode escapes; returns (text, raw bytes)."""
    parts = []
    for t in toks:
        body = t[1][1:-1]
        if "\\" not in body:
            parts.append(body.encode("utf-8"))
            continue
        out = bytearray()
        pos = 0
        for m in _ESC_RE.finditer(body):
            out += body[pos : m.start()].encode("utf-8")
            pos = m.end()
            octal, hx, u4, u8, simple = m.groups()
            if octal is not None:
                out.append(int(octal, 8) & 0xFF)
            elif hx is not None:
                out.append(int(hx, 16))
            elif u4 is not None or u8 is not None:
                cp = int(u4 or u8, 16)
                try:
                    out += chr(cp).encode("utf-8")
                except (ValueError, UnicodeEncodeError):
                    raise ConfigError(f"invalid unicode escape `{m.group(0)}` in string", _where(f, t)) from None
            else:
                b = _SIMPLE_ESC.get(simple)
                if b is None:
                    raise ConfigError(f"invalid escape `\\{simple}` in string", _where(f, t))
                out += b
        out += body[pos:].encode("utf-8")
        parts.append(bytes(out))
    raw = b"".join(parts)
    try:
        return raw.decode("utf-8"), raw
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), raw


class _BadDefault(Exception):
    """A bad default value; the caller adds where it is."""


def _convert_default(fd: _Field, kind: str, enum: _Enum | None, msg: _Msg) -> Any:
    try:
        return _default_value(fd, kind, enum, msg)
    except _BadDefault as e:
        raise ConfigError(str(e), _where(msg.file, fd.default[2])) from None


def _default_value(fd: _Field, kind: str, enum: _Enum | None, msg: _Msg) -> Any:
    neg, toks, _ = fd.default
    f = msg.file
    t = toks[0]
    label = f"field `{fd.name}` of message `{msg.full}`"
    if fd.label == "repeated" or kind in ("message", "map"):
        what = "repeated" if fd.label == "repeated" else kind
        raise _BadDefault(f"{what} fields cannot have a default ({label})")
    if kind in ("string", "bytes"):
        if t[0] != "str":
            raise _BadDefault(f"expected a string as default of {label}, got {_desc(t)}")
        if neg:
            raise _BadDefault(f"expected a string as default of {label}, got `-`")
        _, raw = _decode_string(toks, f)
        if kind == "bytes":
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _BadDefault(f"default of {label} is not valid UTF-8") from None
    text = t[1]
    if kind in INT_KINDS:
        v = _parse_int(text) if t[0] == "num" else None
        if v is None:
            raise _BadDefault(f"expected an integer as default of {label}, got `{'-' if neg else ''}{text}`")
        v = -v if neg else v
        lo, hi = INT_RANGES[kind]
        if not lo <= v <= hi:
            raise _BadDefault(f"default {v} of {label} is out of the {kind} range")
        return v
    if kind in FLOAT_KINDS:
        if t[0] == "num":
            iv = _parse_int(text)
            v = float(iv) if iv is not None else float(text)
        elif text.lower() in ("inf", "infinity", "nan"):
            v = float(text)
        else:
            raise _BadDefault(f"expected a number as default of {label}, got `{text}`")
        return -v if neg else v
    if kind == "bool":
        if text in ("true", "false") and not neg:
            return text == "true"
        raise _BadDefault(f"expected true or false as default of {label}, got `{'-' if neg else ''}{text}`")
    if kind == "enum":
        assert enum is not None
        if t[0] == "id" and not neg and text in enum.values:
            return enum.values[text]
        hint = _suggest(text, list(enum.values))
        raise _BadDefault(f"`{'-' if neg else ''}{text}` is not a value of enum `{enum.full}` (default of {label}){hint}")
    raise _BadDefault(f"fields of type {kind} cannot have a default ({label})")  # pragma: no cover


def _suggest(name: str, candidates: list[str]) -> str:
    import difflib  # lean: only the error path needs it

    hits = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if not hits:
        low = name.lower()
        hits = [c for c in candidates if c.lower() == low][:3]
    return "; did you mean " + " or ".join(f"`{h}`" for h in hits) + "?" if hits else ""


# --------------------------------------------------------------------------------------------
# Linking
# --------------------------------------------------------------------------------------------


class _Linker:
    def __init__(self, files: dict[str, _File], symbols: dict[str, _Sym]):
        self.files = files
        self.symbols = symbols
        self.deps: dict[str, set[str]] = {}
        self.visible: dict[str, set[str]] = {}
        self.import_keys: dict[str, list[tuple[str, bool]]] = {}

    def compute_visibility(self, import_keys: dict[str, list[tuple[str, bool]]]) -> None:
        pub_closure: dict[str, set[str]] = {}

        def pub(k: str) -> set[str]:
            s = pub_closure.get(k)
            if s is None:
                s = pub_closure[k] = {k}
                for dk, public in import_keys.get(k, ()):
                    if public:
                        s |= pub(dk)
            return s

        for k in self.files:
            vis = {k}
            for dk, _ in import_keys.get(k, ()):
                vis |= pub(dk)
            self.visible[k] = vis
            deps = {k}
            stack = [k]
            while stack:
                for dk, _ in import_keys.get(stack.pop(), ()):
                    if dk not in deps:
                        deps.add(dk)
                        stack.append(dk)
            self.deps[k] = deps

    def lookup(self, name: str, scope: str, deps: set[str] | None) -> str | None:
        """Resolve a type name as protoc does, from the innermost scope outward."""
        symbols = self.symbols

        def ok(sym: _Sym | None) -> bool:
            return sym is not None and (deps is None or sym.kind == "package" or sym.file.key in deps)

        if name.startswith("."):
            full = name[1:]
            sym = symbols.get(full)
            return full if ok(sym) and sym.kind in ("message", "enum") else None
        first, _, rest = name.partition(".")
        s = scope
        while True:
            cand = f"{s}.{first}" if s else first
            sym = symbols.get(cand)
            if ok(sym):
                if rest:
                    if sym.kind in ("message", "enum", "package"):
                        full = f"{cand}.{rest}"
                        sym2 = symbols.get(full)
                        return full if ok(sym2) and sym2.kind in ("message", "enum") else None
                elif sym.kind in ("message", "enum"):
                    return cand
            if not s:
                return None
            s = s.rpartition(".")[0]

    def resolve(self, fd: _Field, msg: _Msg, type_text: str) -> str:
        f = msg.file
        full = self.lookup(type_text, msg.full, self.deps[f.key])
        what = f"in field `{fd.name}` of message `{msg.full}`"
        if full is None:
            where = _where(f, fd.type_tok)
            anywhere = self.lookup(type_text, msg.full, None)
            if anywhere is not None:
                other = self.symbols[anywhere].file
                raise ConfigError(
                    f"type `{type_text}` {what} is defined in {other.shown}, which is not imported by {f.shown}",
                    where,
                )
            short = type_text.rsplit(".", 1)[-1]
            types = [k for k, s in self.symbols.items() if s.kind in ("message", "enum")]
            by_short: dict[str, list[str]] = {}
            for k in types:
                by_short.setdefault(k.rsplit(".", 1)[-1], []).append(k)
            hint = ""
            import difflib  # lean: only the error path needs it

            close = difflib.get_close_matches(short, list(by_short), n=3, cutoff=0.6)
            if not close:
                close = [c for c in by_short if c.lower() == short.lower()]
            names = [full_name for c in close for full_name in by_short[c]][:3]
            if names:
                hint = "; did you mean " + " or ".join(f"`{n}`" for n in names) + "?"
            raise ConfigError(f"unknown type `{type_text}` {what}{hint}", where)
        sym = self.symbols[full]
        if sym.file.key not in self.visible[f.key]:
            where = _where(f, fd.type_tok)
            raise ConfigError(
                f"type `{type_text}` {what} is defined in {sym.file.shown}, which is not imported by {f.shown}"
                " (imports are not transitive unless `import public`)",
                where,
            )
        return full

    def build(self, msgs: list[_Msg], enums: list[_Enum], root: str, import_keys: dict[str, list[tuple[str, bool]]]) -> Schema:
        symbols = self.symbols
        out_enums = {e.full: EnumType(e.name, e.full, e.values, e.doc, file=e.file.name) for e in enums}
        out_msgs: dict[str, MessageType] = {}
        for m in msgs:
            fields: dict[str, FieldSpec] = {}
            for fd in m.fields:
                t = fd.type
                type_name = ""
                if t in SCALAR_KINDS:
                    kind = t
                else:
                    type_name = self.resolve(fd, m, t)
                    kind = symbols[type_name].kind
                spec_kind = kind
                map_key = map_value_kind = ""
                if fd.label == "map":
                    spec_kind, map_key, map_value_kind = "map", fd.map_key, kind
                has_default = fd.default is not None
                default = None
                if has_default:
                    enum = symbols[type_name].decl if kind == "enum" else None
                    default = _convert_default(fd, spec_kind if fd.label != "map" else "map", enum, m)
                fields[fd.name] = FieldSpec(
                    name=fd.name,
                    number=fd.number,
                    kind=spec_kind,
                    repeated=fd.label == "repeated",
                    type_name=type_name,
                    has_default=has_default,
                    default=default,
                    oneof=fd.oneof,
                    doc=fd.doc,
                    map_key=map_key,
                    map_value_kind=map_value_kind,
                )
            out_msgs[m.full] = MessageType(m.name, m.full, fields, dict(m.oneofs), m.doc, file=m.file.name)
        files = {
            f.name: ProtoFile(f.name, f.package, tuple(self.files[k].name for k, public in import_keys.get(key, ()) if public))
            for key, f in self.files.items()
        }
        return Schema(out_msgs, out_enums, root, files)


# --------------------------------------------------------------------------------------------
# Per-file parse cache
# --------------------------------------------------------------------------------------------

_EVENT_KINDS = frozenset({"message", "enum", "package", "field", "oneof", "enumvalue"})


class _Corrupt(Exception):
    """A cache entry not of the shape this reader writes."""


def _need(ok: bool) -> None:
    if not ok:
        raise _Corrupt


def _is_tok(t) -> bool:
    return type(t) is tuple and len(t) == 3 and type(t[0]) is str and type(t[1]) is str and type(t[2]) is int


def _is_str_or_none(v) -> bool:
    return v is None or type(v) is str


def _checksum(text: str) -> tuple[int, int, int]:
    import zlib  # lean: only the parse cache needs it

    data = text.encode("utf-8", "surrogatepass")
    return len(data), zlib.crc32(data), zlib.adler32(data)


def _entry_stamp(key: str) -> tuple:
    import sys  # lean: the interpreter's version names the marshal format

    from heyhi import __version__  # lean: the package is imported already

    try:  # this reader's own file: an edited parser (a development tree) reads no older parse
        st = os.stat(__file__)
        reader = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        reader = ""
    return (PARSE_FORMAT, __version__, sys.version, reader, str(key))


def _entry_path(cache: Path | str, key: str) -> str:
    import zlib  # lean: only the parse cache needs it

    name = key.encode("utf-8", "surrogateescape")
    return os.path.join(cache, f"{zlib.crc32(name):08x}{zlib.adler32(name):08x}.marshal")


def parse_cache_dir() -> str:
    """Where each ``.proto`` file's parse is kept by default: ``$XDG_CACHE_HOME/heyhi/proto``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "heyhi", "proto")


def _plain(f: _File, msgs: list[_Msg], enums: list[_Enum], events: list[tuple]) -> tuple:
    """What parsing ``f`` gave, as plain data (tuples, lists, dicts, str, int, bool, None)."""
    refs = {id(m): ("m", i) for i, m in enumerate(msgs)}
    refs.update({id(e): ("e", i) for i, e in enumerate(enums)})
    return (
        f.syntax, f.package, list(f.imports),
        [(m.name, m.full, m.tok, m.doc,
          [(fd.name, fd.number, fd.label, fd.type, fd.type_tok, fd.map_key, fd.default, fd.oneof, fd.doc, fd.tok,
            fd.num_tok) for fd in m.fields],
          m.oneofs, m.reserved) for m in msgs],
        [(e.name, e.full, e.tok, e.doc, e.values) for e in enums],
        [(full, kind, t, None if decl is None else refs[id(decl)], note) for full, kind, t, decl, note in events],
    )


def _unplain(f: _File, data) -> tuple[str, str, list, list[_Msg], list[_Enum], list[tuple]]:
    """``_plain``'s data back as parser objects of ``f``, every part's shape checked first
    (raises ``_Corrupt``, ``ValueError`` or ``TypeError`` for anything else)."""
    _need(type(data) is tuple and len(data) == 6)
    syntax, package, imports, pmsgs, penums, pevents = data
    _need(syntax in ("proto2", "proto3", "editions") and type(package) is str)
    _need(type(imports) is list and type(pmsgs) is list and type(penums) is list and type(pevents) is list)
    for imp in imports:
        _need(type(imp) is tuple and len(imp) == 3 and type(imp[0]) is str and _is_tok(imp[1]) and type(imp[2]) is bool)
    msgs: list[_Msg] = []
    for name, full, tok, doc, fields, oneofs, reserved in pmsgs:
        _need(type(name) is str and type(full) is str and _is_tok(tok) and type(doc) is str)
        _need(type(fields) is list and type(oneofs) is dict and type(reserved) is list)
        m = _Msg(name, full, f, tok, doc)
        for fname, number, label, type_, type_tok, map_key, default, oneof, fdoc, ftok, num_tok in fields:
            _need(type(fname) is str and type(number) is int and _is_str_or_none(label) and type(type_) is str)
            _need(_is_tok(type_tok) and type(map_key) is str and _is_str_or_none(oneof) and type(fdoc) is str)
            _need(_is_tok(ftok) and _is_tok(num_tok))
            if default is not None:
                _need(type(default) is tuple and len(default) == 3 and type(default[0]) is bool)
                _need(type(default[1]) is list and len(default[1]) > 0 and all(_is_tok(t) for t in default[1]))
                _need(_is_tok(default[2]))
            m.fields.append(_Field(fname, number, label, type_, type_tok, map_key, default, oneof, fdoc, ftok, num_tok))
        for k, members in oneofs.items():
            _need(type(k) is str and type(members) is list and all(type(x) is str for x in members))
        for lo, hi, rt in reserved:
            _need((type(lo) is str and hi is None or type(lo) is int and type(hi) is int) and _is_tok(rt))
        m.oneofs = oneofs
        m.reserved = reserved
        msgs.append(m)
    enums: list[_Enum] = []
    for name, full, tok, doc, values in penums:
        _need(type(name) is str and type(full) is str and _is_tok(tok) and type(doc) is str and type(values) is dict)
        _need(all(type(k) is str and type(v) is int for k, v in values.items()))
        e = _Enum(name, full, f, tok, doc)
        e.values = values
        enums.append(e)
    events = []
    for full, kind, t, ref, note in pevents:
        _need(type(full) is str and kind in _EVENT_KINDS and _is_tok(t) and type(note) is str)
        decl = None
        if ref is not None:
            _need(type(ref) is tuple and len(ref) == 2 and type(ref[1]) is int)
            pool = msgs if ref[0] == "m" else enums if ref[0] == "e" else None
            _need(pool is not None and 0 <= ref[1] < len(pool))
            decl = pool[ref[1]]
        events.append((full, kind, t, decl, note))
    return syntax, package, imports, msgs, enums, events


def _cached(cache: Path | str, key: str, f: _File, checksum: tuple) -> tuple | None:
    """The parsed form of ``f`` from the cache, or None (no entry, another text, or not ours)."""
    import marshal  # lean: only the parse cache needs it

    try:
        raw = read_bytes(_entry_path(cache, key), "parse cache entry", MAX_CACHE_BYTES)
        entry = marshal.loads(raw)
        if type(entry) is not tuple or len(entry) != 3 or entry[0] != _entry_stamp(key) or entry[1] != checksum:
            return None
        return _unplain(f, entry[2])
    except (ConfigError, _Corrupt, EOFError, ValueError, TypeError):
        return None


def _store(cache: Path | str, key: str, checksum: tuple, data: tuple) -> None:
    import marshal  # lean: only the parse cache needs it

    try:
        write_cache(_entry_path(cache, key), marshal.dumps((_entry_stamp(key), checksum, data)))
    except (OSError, ValueError):
        pass  # a read-only cache still reads the schema, only slower


# --------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------


def _norm(p: str) -> str:
    """``p`` as ``str(pathlib.Path(p))`` writes it: no ``.`` parts, no doubled or trailing ``/``
    (``..`` kept). The reader names files so without importing pathlib (a completion imports it)."""
    parts = [x for x in p.split("/") if x and x != "."]
    return ("/" if p.startswith("/") else "") + "/".join(parts) or "."


def _read_file(path: str, where: str | None) -> str:
    """The UTF-8 text of a .proto file, read by ``heyhi.config.source`` (a regular file, bounded,
    never blocking); errors name the file, at ``where`` (the import that named it) when given."""
    try:
        data = read_bytes(path, "proto file")
    except ConfigError as e:
        detail = e.message.removeprefix("cannot read proto file: ")
        if detail == "No such file or directory":
            detail = "no such file"
        raise ConfigError(f"cannot read proto file {path}: {detail}", where) from None
    return decode(data, str(path))  # an undecodable byte: an error at path:line:col


def read_protos(
    paths: Sequence[Path | str], root: str = "MetaCfg", import_roots: Sequence[Path | str] = (),
    base: Path | str | None = None, cache: Path | str | None = None,
) -> Schema:
    """Read ``paths`` and every file they import into one linked :class:`Schema`.

    An ``import "a/b.proto"`` is looked up under each of ``import_roots`` in order, then in
    the importing file's folder. Each file is read once (by resolved path). Type names are
    resolved with protobuf's scoping rules and must be visible through imports, as protoc
    requires. The returned schema also has ``source_files``: every file read, as a list of str.
    Each file read is named in the schema (``Schema.files``, the ``file`` of its types) by its path
    relative to ``base`` (``/``-separated) when it lies under ``base``, else by its path as read.
    With ``cache`` (a folder), each file's parse is kept there and reused while its text is the
    same (see the module docstring).
    Raises :class:`ConfigError` (``where="file:line:col"``) on any problem.
    """
    roots = [_norm(os.fspath(r)) for r in import_roots]
    files: dict[str, _File] = {}
    symbols: dict[str, _Sym] = {}
    msgs: list[_Msg] = []
    enums: list[_Enum] = []
    import_keys: dict[str, list[tuple[str, bool]]] = {}

    queue: list[tuple[str, str | None]] = [(_norm(os.fspath(p)), None) for p in paths]
    qi = 0
    while qi < len(queue):
        path, where = queue[qi]
        qi += 1
        key = os.path.realpath(path)
        if key in files:
            continue
        f = _File(key, path)
        files[key] = f
        text = _read_file(path, where)
        if text.startswith("\ufeff"):  # UTF-8 byte order mark
            text = text[1:]
        f.text = text
        checksum = _checksum(text) if cache is not None else None
        parsed = _cached(cache, key, f, checksum) if cache is not None else None
        if parsed is not None:
            f.syntax, f.package, f.imports, file_msgs, file_enums, events = parsed
            f.toks, f.leading, f.trailing = [], {}, {}
            msgs.extend(file_msgs)
            enums.extend(file_enums)
            _Parser(f, msgs, enums, symbols).replay(events)
        else:
            f.toks, f.leading, f.trailing = _tokenize(text, f.shown)
            m0, e0 = len(msgs), len(enums)
            parser = _Parser(f, msgs, enums, symbols)
            parser.parse_file()
            if cache is not None:
                _store(cache, key, checksum, _plain(f, msgs[m0:], enums[e0:], parser.events))
        keys = import_keys[key] = []
        for imp, tok, public in f.imports:
            dirs = [*roots, _norm(os.path.dirname(path))]
            for d in dirs:
                cand = _norm(os.path.join(d, imp))
                if os.path.isfile(cand):
                    break
            else:
                if imp.startswith("google/protobuf/"):
                    # Well-known files (descriptor.proto for custom options...): without them,
                    # options still parse; a field using one of their types fails to resolve.
                    continue
                looked = ", ".join(str(d) for d in dirs)
                raise ConfigError(f"cannot find imported file `{imp}` (looked in {looked})", _where(f, tok))
            keys.append((os.path.realpath(cand), public))
            queue.append((cand, _where(f, tok)))

    if base is not None:
        base_key = os.path.realpath(base)
        for key, f in files.items():
            if key == base_key or key.startswith(base_key.rstrip(os.sep) + os.sep):
                f.name = os.path.relpath(key, base_key).replace(os.sep, "/")
    linker = _Linker(files, symbols)
    linker.compute_visibility(import_keys)
    schema = linker.build(msgs, enums, root, import_keys)
    # Every file read, imports included (for cache invalidation by heyhi.config.schema.loader).
    schema.source_files = [str(f.path) for f in files.values()]
    return schema


def read_project_schema(conf_dir: Path | str, cache: Path | str | None = None) -> Schema:
    """Every ``conf_dir/*.proto``, imports resolved against ``conf_dir.parent`` then ``conf_dir``;
    files are named relative to ``conf_dir`` (``"conf.proto"``); ``cache`` as for ``read_protos``."""
    conf_dir = _norm(os.fspath(conf_dir))
    try:
        names = os.listdir(conf_dir)
    except OSError:
        names = []
    paths = sorted(os.path.join(conf_dir, n) for n in names if n.endswith(".proto"))  # as Path.glob("*.proto")
    if not paths:
        raise ConfigError(f"no .proto files in {conf_dir}")
    return read_protos(paths, import_roots=[_norm(os.path.dirname(conf_dir)), conf_dir], base=conf_dir,
                       cache=cache)
