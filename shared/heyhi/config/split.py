"""Splitting a bracketed override value into its items: the one piece of the override grammar that
overrides (a repeated field's ``[a,b]``) and sweeps (``[a,b]``, ``choice(a, b)``) both read.

Promises: ``split_items`` cuts at commas outside brackets and quotes; a quoted item loses its
quotes (at depth 0) and keeps its spaces; an empty unquoted item, or unbalanced quotes or
brackets, is a one-line ``SweepError`` naming ``where``.

A leaf: imports only ``heyhi.errors`` (``heyhi.sweep`` and ``heyhi.config.overrides`` both sit above it).
"""

from __future__ import annotations

from heyhi.errors import HeyHiError

__all__ = ["SweepError", "split_items"]


class SweepError(HeyHiError):
    """A bad sweep: one line naming the token or point and what is wrong (exit code 2)."""


def split_items(text: str, where: str) -> list[str]:
    """``a, [b,c], "d,e"`` -> ["a", "[b,c]", "d,e"]: commas at depth 0, quotes respected and removed."""
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
                raise SweepError(f"{where}: unbalanced {ch!r}")
            cur.append(ch)
        elif ch == "," and depth == 0:
            items.append(_item("".join(cur), quoted, where))
            cur, quoted = [], False
        else:
            cur.append(ch)
        i += 1
    if quote or depth:
        raise SweepError(f"{where}: unbalanced {'quote' if quote else 'brackets'}")
    last = "".join(cur)
    if items or last.strip() or quoted:
        items.append(_item(last, quoted, where))
    return items


def _item(s: str, quoted: bool, where: str) -> str:
    if quoted:
        return s
    s = s.strip()
    if not s:
        raise SweepError(f"{where}: an empty element in a list")
    return s
