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

Items are cut at commas outside brackets and quotes (``split_items``); a quoted item loses its
quotes and keeps its spaces. A token ``@file.yaml`` is a flag file (``heyhi.config.flagfiles``),
not an override: ``looks_like_sweep`` says yes to it, ``parse`` says ``expected key=value``.

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


def split_items(text: str, where: str, token: str | None = None) -> list[str]:
    """``a, [b,c],"d,e"`` -> ["a", "[b,c]", "d,e"]: commas at depth 0, quotes respected and removed
    (a quoted item is kept whole, spaces included).

    An empty unquoted item, or unbalanced quotes or brackets, is a ``SweepError`` naming ``where``."""
    items: list[str] = []
    cur: list[str] = []
    depth = 0
    quote = None
    quoted = False
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\" and i + 1 < n and depth == 0:
                cur.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
                if depth:
                    cur.append(ch)
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
        elif ch in "[(":
            depth += 1
            cur.append(ch)
        elif ch in "])":
            depth -= 1
            if depth < 0:
                raise SweepError(f"{where}: unbalanced {ch!r}", token=token)
            cur.append(ch)
        elif ch == "," and depth == 0:
            items.append(_item("".join(cur), quoted, where, token))
            cur, quoted = [], False
        else:
            cur.append(ch)
        i += 1
    if quote or depth:
        raise SweepError(f"{where}: unbalanced {'quote' if quote else 'brackets'}", token=token)
    last = "".join(cur)
    if items or last.strip() or quoted:
        items.append(_item(last, quoted, where, token))
    return items


def _item(s: str, quoted: bool, where: str, token: str | None) -> str:
    if quoted:
        return s
    s = s.strip()
    if not s:
        raise SweepError(f"{where}: an empty element in a list", token=token)
    return s
