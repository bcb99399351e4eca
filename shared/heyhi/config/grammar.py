"""The override grammar: every override token, from argv, a flag file, a sweep file or the TUI,
parsed once into a typed ``Override``.

| token | ``Override`` |
|---|---|
| ``a.b=1``, ``--a.b=1`` | ``SCALAR``: key ``a.b``, value ``1`` (leading dashes dropped) |
| ``list.N=v``, ``list.-1=v``, ``map.k=v`` | ``SCALAR``: set element N, append, set entry k |
| ``a=NULL`` | ``NULL``: clear a field, a oneof, a list element or a map entry |
| ``a=SELECT`` | ``SELECT``: select an empty message (in a oneof) |
| ``I<mount>=name``, ``I.<mount>=name``, ``I=name`` | ``INCLUDE``: key is the mount ("" for the task) |

A value may also be a sweep (``Override.sweep``; a repeated field's whole value is a list too,
which composition, knowing the schema, reads as the value):

| value | sweep |
|---|---|
| ``[a,b,c]`` (nested ``[[1,2],[3]]``) | ``GridList``: one run per item |
| ``range(start, stop[, step])`` | ``Range``: integers, as Python's ``range`` |
| ``choice(a, b, ...)`` | ``Choice``: a grid axis, or sampled under ``--trials`` |
| ``uniform(lo, hi)``, ``loguniform(lo, hi)``, ``randint(lo, hi)`` | ``Distribution`` |

Items are cut at commas outside brackets (``[]``, ``()``, ``{}``) and quotes (``split_items``); a quoted
item loses its quotes and keeps its spaces; ``\\`` escapes as in Python (``\\n``, ``\\"``, ``\\x41``...).

Quoting and whole values (``Override.text``, ``parse_literal``):

| value | reads as |
|---|---|
| ``'a b'``, ``"NULL"`` (the whole value one quoted string) | that string (quotes off, escapes read): not NULL, not a sweep |
| ``[{step: 200, factor: 0.2}, {'step': 5}]`` on a repeated message | the field's whole value: one message per mapping |

``needs_quotes`` says which strings a printed value must quote to read back the same, and ``quote``
quotes them (Python's ``repr``: what the original's ``--print-flat`` printed for spaces and empty
strings).

A token ``@file.yaml`` (``.txt``: one override a line) is a flag file (``heyhi.config.flagfiles``), not an override: ``looks_like_sweep`` says yes to it, ``parse`` says ``expected key=value``.

Promises: ``parse`` is the one parser (composition, sweeps, the daemon and the CLI call it); a bad
token is a one-line ``ConfigError`` (not key=value, empty key, not UTF-8) or ``SweepError`` (a bad
sweep value) naming ``where`` and carrying the token (``.token``); an error found later while
applying an ``Override`` carries it (``ConfigError.override``, set by ``blame``).

A leaf, cheap to import (``heyhi run`` reads it to tell a sweep from a run): the standard library and
``heyhi.errors`` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from heyhi.errors import ConfigError, SweepError

__all__ = [
    "OverrideKind", "SweepKind", "Override", "GridList", "Range", "Choice", "Distribution", "SweepValue",
    "parse", "parse_sweep", "looks_like_sweep", "split_items", "strip_dashes", "blame", "ConfigError", "SweepError",
    "INCLUDE_KEY", "UNSET_VALUE", "SELECT_VALUE", "FUNCS", "DISTRIBUTIONS",
    "unquote", "needs_quotes", "quote", "item_needs_quotes", "parse_literal", "MAX_LITERAL_DEPTH",
]

INCLUDE_KEY = "I"
UNSET_VALUE = "NULL"
SELECT_VALUE = "SELECT"
FUNCS = ("range", "choice", "uniform", "loguniform", "randint")
DISTRIBUTIONS = ("uniform", "loguniform", "randint")


class OverrideKind(StrEnum):
    """What an override does (a ``str``: ``kind == "include"`` holds for ``INCLUDE``)."""

    SCALAR = "scalar"  # sets a value (a field, a list element, an append, a map entry, a whole list)
    INCLUDE = "include"  # merges a config file at a mount
    NULL = "null"  # clears
    SELECT = "select"  # selects an empty message


class SweepKind(StrEnum):
    """The kind of a sweep value (the ``Axis.kind`` a sweep records)."""

    LIST = "list"
    RANGE = "range"
    CHOICE = "choice"
    UNIFORM = "uniform"
    LOGUNIFORM = "loguniform"
    RANDINT = "randint"


# ---- sweep values ----------------------------------------------------------------------------------


class _Value:
    """An immutable value: its fields are its ``__slots__``; equal by type and fields. (Plain
    classes, not dataclasses: this module is on ``heyhi run``'s start-up path.)"""

    __slots__ = ()

    def __init__(self, *values) -> None:
        for name, v in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, v)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _fields(self) -> tuple:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._fields() == self._fields()

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"


class GridList(_Value):
    """``[a,b,c]``: one run per item (items as written, quotes removed)."""

    __slots__ = ("items",)
    kind = SweepKind.LIST

    def __init__(self, items) -> None:
        super().__init__(tuple(items))


class Range(_Value):
    """``range(start, stop[, step])``: ``items`` are the integers as text."""

    __slots__ = ("start", "stop", "step")
    kind = SweepKind.RANGE

    def __init__(self, start: int, stop: int, step: int = 1) -> None:
        super().__init__(start, stop, step)

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(str(x) for x in range(self.start, self.stop, self.step))


class Choice(_Value):
    """``choice(a, b, ...)``: a grid axis, or sampled (random or adaptive search)."""

    __slots__ = ("items",)
    kind = SweepKind.CHOICE

    def __init__(self, items) -> None:
        super().__init__(tuple(items))


class Distribution(_Value):
    """``uniform(lo, hi)``, ``loguniform(lo, hi)`` (floats), ``randint(lo, hi)`` (ints, both ends in)."""

    __slots__ = ("kind", "low", "high")

    def __init__(self, kind: SweepKind | str, low: float, high: float) -> None:
        super().__init__(SweepKind(kind), low, high)


SweepValue = GridList | Range | Choice | Distribution


# ---- the override ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Override:
    """One override token, typed.

    ``key`` is the dotted field path (for ``INCLUDE``: the mount, "" for the task itself);
    ``value`` the text after the first ``=``; ``token`` the token exactly as given; ``sweep`` the
    sweep its value stands for (None for a plain value, or when parsed for composition, where a
    value is a value); ``index`` its position among the overrides.
    """

    key: str
    kind: OverrideKind
    value: str
    token: str
    sweep: SweepValue | None = None
    index: int = 0

    @property
    def source(self) -> str:
        """The token as given (the name run records and the daemon use)."""
        return self.token

    @property
    def raw(self) -> str:
        """The token without its leading dashes: what run folder names hash."""
        return self.token.lstrip("-")

    @property
    def raw_key(self) -> str:
        """The key as written (``I`` of an include kept): what a repeated key is recognised by."""
        return self.raw.split("=", 1)[0]

    @property
    def where(self) -> str:
        return f"override {self.token!r}"

    @property
    def text(self) -> str:
        """The value as a scalar reads it: a wholly quoted value (``'a b'``) is its string."""
        q = unquote(self.value)
        return self.value if q is None else q

    def at(self, index: int) -> "Override":
        """The same override at another position."""
        return replace(self, index=index)


def strip_dashes(token: str) -> str:
    return token.lstrip("-")


def parse(token: str, index: int = 0, *, where: str | None = None, sweep: bool = True) -> Override:
    """Parse one token (``--a.b=1``, ``Ilauncher=slurm``, ``x=NULL``, ``lr=[0.1,0.2]``).

    ``where`` names the token in errors (default ``override 'TOKEN'``; a flag file's entry gives
    ``file:line``). ``sweep=False`` (composition) reads the value as written: no sweep part, and
    no sweep syntax errors."""
    if any("\ud800" <= c <= "\udfff" for c in token):  # bytes that were not UTF-8 (surrogateescape)
        try:
            shown = token.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            shown = ascii(token)[1:-1]
        raise ConfigError("not UTF-8 text", f"override '{shown}'", token=token)
    raw = token.lstrip("-")
    if "=" not in raw:
        raise ConfigError("expected key=value", where or f"override {token!r}", token=token)
    key, value = raw.split("=", 1)
    if not key:
        raise ConfigError("empty key", where or f"override {token!r}", token=token)
    sw = parse_sweep(value, where or f"override {token!r}", token) if sweep else None
    if key.startswith(INCLUDE_KEY):
        return Override(key[1:].lstrip("."), OverrideKind.INCLUDE, value, token, sw, index)
    if value == UNSET_VALUE:
        kind = OverrideKind.NULL
    elif value == SELECT_VALUE:
        kind = OverrideKind.SELECT
    else:
        kind = OverrideKind.SCALAR
    return Override(key, kind, value, token, sw, index)


def parse_sweep(value: str, where: str, token: str | None = None) -> SweepValue | None:
    """The sweep a value stands for, or None for a plain value; a bad one is a ``SweepError``."""
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        return GridList(tuple(split_items(v[1:-1], where, token)))
    call = _call(v)
    if call is None:
        return None
    fn, inner = call
    args = split_items(inner, where, token) if inner.strip() else []

    def bad(message: str) -> SweepError:
        return SweepError(f"{where}: {message}", token=token)

    if fn == "choice":
        if not args:
            raise bad("choice() needs at least one value")
        return Choice(tuple(args))
    if fn == "range":
        try:
            nums = [int(a) for a in args]
        except ValueError:
            raise bad("range() takes integers (for other values use a list [..] or uniform())") from None
        if not 1 <= len(nums) <= 3 or (len(nums) == 3 and nums[2] == 0):
            raise bad("range(start, stop[, step]) with a step that is not 0")
        r = range(*nums)
        if not r:
            raise bad(f"range{tuple(nums)} is empty")
        return Range(r.start, r.stop, r.step)
    # distributions
    if len(args) != 2:
        raise bad(f"{fn}(low, high) takes two numbers, got {len(args)}")
    try:
        lo, hi = (int(a) for a in args) if fn == "randint" else (float(a) for a in args)
    except ValueError:
        what = "integers" if fn == "randint" else "numbers"
        raise bad(f"{fn}() takes two {what}, got {', '.join(args)}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise bad(f"{fn}() bounds must be finite")
    if fn == "randint" and lo > hi:
        raise bad("randint(low, high) needs low <= high")
    if fn != "randint" and not lo < hi:
        raise bad(f"{fn}(low, high) needs low < high")
    if fn == "loguniform" and lo <= 0:
        raise bad("loguniform(low, high) needs 0 < low")
    return Distribution(SweepKind(fn), lo, hi)


def looks_like_sweep(token: str) -> bool:
    """A cheap syntactic test (no schema, no errors): is the token a flag file, or its value a
    list or a sweep function? (A list on a repeated field turns out to be a value.)"""
    if token.startswith("@"):
        return True
    _, eq, v = token.partition("=")
    if not eq:
        return False
    v = v.strip()
    return (v.startswith("[") and v.endswith("]")) or _call(v) is not None


def _call(v: str) -> tuple[str, str] | None:
    """``fn(inner)`` with ``fn`` one of ``FUNCS`` -> (fn, inner), else None (``f(x)`` is a value)."""
    if not v.endswith(")"):
        return None
    fn, paren, rest = v.partition("(")
    if not paren or fn not in FUNCS:
        return None
    return fn, rest[:-1]


def blame(e: ConfigError, o: Override) -> ConfigError:
    """Mark ``e`` as ``o``'s error when it names ``o`` (its ``where``); returns ``e``."""
    if e.override is None and e.where == o.where:
        e.override = o
        e.token = o.token
    return e


# ---- items -----------------------------------------------------------------------------------------


def split_items(text: str, where: str, token: str | None = None, *, value: bool = False) -> list[str]:
    """``a, [b,c],"d,e"`` -> ["a", "[b,c]", "d,e"]: commas at depth 0, quotes respected and removed
    (a quoted item is kept whole, spaces included). ``value`` (a list that is a repeated field's
    whole value): the spaces outside a quoted item's quotes are dropped, the quoted text kept exactly.

    An empty unquoted item, or unbalanced quotes or brackets, is a ``SweepError`` naming ``where``."""
    items: list[str] = []
    cur: list[str] = []
    depth = 0
    quote = None
    quoted = False
    span: list[int] = []  # where the quoted text of the item starts and ends in ``cur`` (depth 0)
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\" and i + 1 < n and depth == 0:
                c, i = _escape(text, i)
                cur.append(c)
                continue
            if ch == quote:
                quote = None
                if depth:
                    cur.append(ch)
                else:
                    span[1:] = [len(cur)]
            else:
                cur.append(ch)
            i += 1
            continue
        if ch in "\"'":
            quote = ch
            if depth:
                cur.append(ch)
            else:
                quoted = True
                span[:1] = span[:1] or [len(cur)]
        elif ch in "[({":
            depth += 1
            cur.append(ch)
        elif ch in "])}":
            depth -= 1
            if depth < 0:
                raise SweepError(f"{where}: unbalanced {ch!r}", token=token)
            cur.append(ch)
        elif ch == "," and depth == 0:
            items.append(_item(_outside_dropped(cur, span) if value and quoted else "".join(cur), quoted, where, token))
            cur, quoted, span = [], False, []
        else:
            cur.append(ch)
        i += 1
    if quote or depth:
        raise SweepError(f"{where}: unbalanced {'quote' if quote else 'brackets'}", token=token)
    last = "".join(cur)
    if items or last.strip() or quoted:
        items.append(_item(_outside_dropped(cur, span) if value and quoted else last, quoted, where, token))
    return items


def _outside_dropped(cur: list[str], span: list[int]) -> str:
    """An item's text without the spaces before its first quote and after its last one."""
    s = "".join(cur)
    start, end = span[0], span[-1]
    return s[:start].lstrip() + s[start:end] + s[end:].rstrip()


def _item(s: str, quoted: bool, where: str, token: str | None) -> str:
    if quoted:
        return s
    s = s.strip()
    if not s:
        raise SweepError(f"{where}: an empty element in a list", token=token)
    return s


# ---- quoting ---------------------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_HEX = {"x": 2, "u": 4, "U": 8}


def _escape(text: str, i: int) -> tuple[str, int]:
    """The character the backslash at ``text[i]`` escapes, and the index after it: Python's escapes
    (``\\n``, ``\\x41``, ``\\u00e9``...); any other character stands for itself (``\\"``, ``\\\\``)."""
    c = text[i + 1]
    if c in _ESCAPES:
        return _ESCAPES[c], i + 2
    width = _HEX.get(c)
    if width is not None:
        digits = text[i + 2:i + 2 + width]
        if len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
            code = int(digits, 16)
            if code <= 0x10FFFF:
                return chr(code), i + 2 + width
    return c, i + 2


def unquote(value: str) -> str | None:
    """The string a wholly quoted value stands for (``'a b'`` -> ``a b``, escapes read), else None."""
    if len(value) < 2 or value[0] not in "'\"":
        return None
    q = value[0]
    out: list[str] = []
    i, n = 1, len(value)
    while i < n:
        ch = value[i]
        if ch == "\\" and i + 1 < n:
            c, i = _escape(value, i)
            out.append(c)
            continue
        if ch == q:
            return "".join(out) if i == n - 1 else None
        out.append(ch)
        i += 1
    return None


def needs_quotes(s: str) -> bool:
    """Would the value ``s`` read back as something else unquoted: empty, ``NULL``/``SELECT``, sweep
    syntax (``[..]``, ``range(..)``...), a space or a character a line cannot hold, or quotes around it?"""
    if not s or s in (UNSET_VALUE, SELECT_VALUE) or s[0] in "'\"[{" or s[-1] in ")]}":
        return True
    if any(c.isspace() or not c.isprintable() for c in s):
        return True
    return looks_like_sweep("k=" + s)


def item_needs_quotes(s: str) -> bool:
    """Would a list element ``s`` read back as something else unquoted (``split_items``)?"""
    return not s or any(c in ",[](){}\"'\\" or c.isspace() or not c.isprintable() for c in s)


def quote(s: str) -> str:
    """``s`` quoted so that ``unquote`` (and ``split_items``) give it back: Python's ``repr``."""
    return repr(s)


# ---- literals: lists and mappings as a whole value ---------------------------------------------------

MAX_LITERAL_DEPTH = 32


def parse_literal(text: str, where: str, token: str | None = None):
    """A whole value written as a literal: ``[...]`` a list, ``{key: value, ...}`` a mapping (keys
    quoted or bare), quoted strings (escapes read), ``None``/``null``/``NULL`` None, any other bare
    text a string (``0.2``, ``True``, ``ADAM``) for the field's type to read. The original's
    ``--print-flat`` writes such values (``[{'step': 200, 'factor': 0.2}]``).

    A syntax error is a one-line ``ConfigError`` at ``where``; nesting is bounded."""
    p = _Literal(text, where, token)
    value = p.value(0)
    p.ws()
    if p.i != len(text):
        raise p.bad(f"unexpected {text[p.i]!r} after the value")
    return value


class _Literal:
    __slots__ = ("s", "i", "where", "token")

    def __init__(self, s: str, where: str, token: str | None):
        self.s, self.i, self.where, self.token = s, 0, where, token

    def bad(self, message: str) -> ConfigError:
        return ConfigError(f"{message} (at character {self.i + 1} of the value)", self.where, token=self.token)

    def ws(self) -> None:
        s, n = self.s, len(self.s)
        while self.i < n and s[self.i].isspace():
            self.i += 1

    def value(self, depth: int):
        if depth > MAX_LITERAL_DEPTH:
            raise self.bad(f"nested deeper than {MAX_LITERAL_DEPTH}")
        self.ws()
        if self.i >= len(self.s):
            raise self.bad("a value is missing")
        ch = self.s[self.i]
        if ch == "[":
            return self.items(depth, "]", lambda: self.value(depth + 1), list)
        if ch == "{":
            return self.items(depth, "}", lambda: self.pair(depth), self.mapping)
        if ch in "'\"":
            return self.quoted()
        text = self.bare()
        if not text:
            raise self.bad("a value is missing")
        return None if text in ("None", "null", UNSET_VALUE) else text

    def items(self, depth: int, close: str, one, make):
        self.i += 1
        out = []
        while True:
            self.ws()
            if self.i >= len(self.s):
                raise self.bad(f"{close!r} is missing")
            if self.s[self.i] == close:
                self.i += 1
                return make(out)
            out.append(one())
            self.ws()
            if self.i < len(self.s) and self.s[self.i] == ",":
                self.i += 1
            elif self.i >= len(self.s) or self.s[self.i] != close:
                raise self.bad(f"expected ',' or {close!r}")

    def mapping(self, pairs: list) -> dict:
        out = dict(pairs)
        if len(out) != len(pairs):
            dup = next(k for i, (k, _) in enumerate(pairs) if k in dict(pairs[:i]))
            raise self.bad(f"the key {dup!r} is given twice")
        return out

    def pair(self, depth: int):
        self.ws()
        key = self.quoted() if self.i < len(self.s) and self.s[self.i] in "'\"" else self.bare(":")
        if not key:
            raise self.bad("a key is missing")
        self.ws()
        if self.i >= len(self.s) or self.s[self.i] != ":":
            raise self.bad(f"expected ':' after the key {key!r}")
        self.i += 1
        return key, self.value(depth + 1)

    def quoted(self) -> str:
        s, n = self.s, len(self.s)
        q = s[self.i]
        self.i += 1
        out: list[str] = []
        while self.i < n:
            ch = s[self.i]
            if ch == "\\" and self.i + 1 < n:
                c, self.i = _escape(s, self.i)
                out.append(c)
                continue
            self.i += 1
            if ch == q:
                return "".join(out)
            out.append(ch)
        raise self.bad("unbalanced quote")

    def bare(self, stops: str = "") -> str:
        s, n = self.s, len(self.s)
        start = self.i
        while self.i < n and s[self.i] not in ",]}" + stops:
            if s[self.i] in "[{'\"":
                raise self.bad(f"unexpected {s[self.i]!r} (quote a string that holds it)")
            self.i += 1
        return s[start:self.i].strip()
