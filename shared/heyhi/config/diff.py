"""Comparing two composed configs: the one implementation behind every diff HeyHi shows.

Pure functions over two config messages (``Msg``, e.g. ``Composed.meta`` or a run's recorded
config): ``flat_changes`` gives the dotted keys whose effective value differs (a field left unset
counts as its declared default, so ``lr: 0.5`` written out and an unset ``lr`` whose default is
0.5 are the same), ``unified`` the line diff of the two configs as printed in text format (what
``config_meta.prototxt`` holds), ``diff_configs`` both at once, and ``diff_composed`` both for two
``Composed`` (keys relative to the task when both run the same one). Composing the two sides (a run's
record, today's config file with the run's overrides) is the caller's part: the daemon's
``DiffRuns`` and the CLI. Nothing is read or written here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from heyhi.config.printer import to_text
from heyhi.config.printing import flat_value_text, flatten
from heyhi.config.values import Msg, to_dict

__all__ = ["Change", "ConfigDiff", "diff_composed", "diff_configs", "flat_changes", "unified", "value_text"]

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass(frozen=True)
class Change:
    """One dotted key whose value differs: ``a`` / ``b`` are the values as text (None: the key has
    no value on that side); ``kind`` is "added" (only in b), "removed" (only in a) or "changed"."""

    key: str
    a: str | None
    b: str | None

    @property
    def kind(self) -> str:
        return ADDED if self.a is None else REMOVED if self.b is None else CHANGED


@dataclass(frozen=True)
class ConfigDiff:
    """The changes, sorted by key, and the unified diff of the printed configs ("" when equal)."""

    changes: list[Change]
    text: str

    @property
    def same(self) -> bool:
        return not self.changes and not self.text


def value_text(value: Any) -> str:
    """A flat value as shown (as ``--print-flat``: NULL, quoted strings with spaces, lists as lists)."""
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) if not isinstance(v, dict) else _dict_text(v) for v in value) + "]"
    return flat_value_text(value)


def _dict_text(d: dict) -> str:
    return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in d.items()) + "}"


def effective_items(msg: Msg) -> dict[str, Any]:
    """Dotted key -> value of every set field and every unset one with a declared default."""
    return dict(flatten(to_dict(msg, with_defaults=True)))


def flat_changes(a: Msg, b: Msg) -> list[Change]:
    """The keys whose effective value differs between ``a`` and ``b``, sorted by key."""
    fa, fb = effective_items(a), effective_items(b)
    out = []
    for key in sorted(fa.keys() | fb.keys()):
        in_a, in_b = key in fa, key in fb
        if in_a and in_b and fa[key] == fb[key]:
            continue
        out.append(Change(key, value_text(fa[key]) if in_a else None, value_text(fb[key]) if in_b else None))
    return out


def unified(a_text: str, b_text: str, a_label: str = "a", b_label: str = "b", context: int = 3) -> str:
    """The unified line diff of two texts ("" when they are equal)."""
    lines = difflib.unified_diff(a_text.splitlines(keepends=True), b_text.splitlines(keepends=True),
                                 fromfile=a_label, tofile=b_label, n=context)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def diff_configs(a: Msg, b: Msg, a_label: str = "a", b_label: str = "b", context: int = 3) -> ConfigDiff:
    """``flat_changes`` and the ``unified`` diff of ``a`` and ``b`` printed in text format."""
    return ConfigDiff(flat_changes(a, b), unified(to_text(a), to_text(b), a_label, b_label, context))


def diff_composed(a: Any, b: Any, a_label: str = "a", b_label: str = "b", context: int = 3) -> ConfigDiff:
    """Two composed configs (``Composed``) compared: keys relative to the task when both run the
    same task (as overrides spell them, as ``heyhi diff`` shows them), else to the top-level
    config; the text diff is of the whole configs as printed."""
    same_task = a.task == b.task
    changes = flat_changes(a.task_msg, b.task_msg) if same_task else flat_changes(a.meta, b.meta)
    return ConfigDiff(changes, unified(to_text(a.meta), to_text(b.meta), a_label, b_label, context))
