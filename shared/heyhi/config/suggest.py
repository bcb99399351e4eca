"""Close-match suggestions for unknown keys ("did you mean ..."): nearest by edit distance, ties
alphabetical. Dotted keys of a schema are searched through its key index (``config.keyindex``),
built once per message type, never by one full edit distance per key."""

from __future__ import annotations


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (two rows, no numpy)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def closest(name: str, candidates: list[str], n: int = 5) -> list[str]:
    """Up to ``n`` candidates sorted by edit distance to ``name`` (ties: alphabetical)."""
    return sorted(candidates, key=lambda c: (edit_distance(name, c), c))[:n]


def did_you_mean(name: str, candidates: list[str], n: int = 5) -> str:
    """``"; did you mean: a, b"`` or an empty string."""
    best = closest(name, candidates, n)
    return f"; did you mean: {', '.join(best)}" if best else ""


def did_you_mean_key(key: str, mtype, prefix: str = "", n: int = 5) -> str:
    """``"; did you mean: a.b, c.d"`` for an unknown dotted ``key`` under ``mtype``'s key
    ``prefix`` (candidates relative to it), from the type's key index, or an empty string."""
    from heyhi.config.keyindex import key_index_under  # lean: keeps the start-up of heyhi run --print from loading it

    idx, within = key_index_under(mtype, prefix)
    best = idx.closest(key, n, within)
    return f"; did you mean: {', '.join(best)}" if best else ""
