"""The job side of the original HeyHi's entry point: a task module whose code hands a function to
``heyhi.parse_args_and_maybe_launch(main)`` (or ``heyhi.maybe_launch(main, ...)``) runs every task
through that function, as the original did.

The job imports the task module (``run.py``) as a module, so its ``if __name__ == "__main__":`` call
never runs there; ``entry_name`` finds the function's name in the module's source instead (read with
``ast``, nothing recorded at launch), so restarts, requeues and sweeps of the run find it too.
``call_original_main`` calls it as the original's job did: ``main(cfg=..., task=..., log_level=...)``
with the task's *editable* config, passing only the keywords the function takes (all of them to one
that takes ``**kwargs``; the config alone, by position, to one that takes none of them). ``log_level`` is ``$HEYHI_LOG_LEVEL`` (set by the launch from
``--log-level``), else ``INFO``.

Stdlib only; nothing here imports the project's code.
"""

from __future__ import annotations

import ast
import inspect
import os
from pathlib import Path
from typing import Any, Callable

from heyhi.errors import ConfigError

__all__ = ["ENTRY_CALLS", "LOG_LEVEL_ENV", "entry_name", "call_original_main"]

ENTRY_CALLS = ("parse_args_and_maybe_launch", "maybe_launch")
LOG_LEVEL_ENV = "HEYHI_LOG_LEVEL"
_KEYWORDS = ("cfg", "task", "log_level")


def entry_name(module_path: Path | str) -> str | None:
    """The name of the function the module hands to HeyHi's ``parse_args_and_maybe_launch(NAME)`` or
    ``maybe_launch(NAME, ...)`` (anywhere in it, ``if __name__ == "__main__":`` included), or None.
    Only calls reached through an import of ``heyhi`` count (``heyhi.X``, ``hh.X``, ``from heyhi import X``)."""
    try:
        tree = ast.parse(Path(module_path).read_bytes(), str(module_path))
    except (OSError, SyntaxError, ValueError) as e:
        raise ConfigError(f"cannot read the task module: {e}", str(module_path)) from None
    modules, functions = _heyhi_names(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute):
            root = f.value
            while isinstance(root, ast.Attribute):
                root = root.value
            ours = f.attr in ENTRY_CALLS and isinstance(root, ast.Name) and root.id in modules
        else:
            ours = isinstance(f, ast.Name) and f.id in functions
        if not ours:
            continue
        arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "main"), None)
        if isinstance(arg, ast.Name):
            return arg.id
    return None


def _heyhi_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(names bound to ``heyhi`` or one of its modules, names bound to its entry functions)."""
    modules, functions = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "heyhi":
                    modules.add(a.asname or "heyhi")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "heyhi":
            for a in node.names:
                (functions if a.name in ENTRY_CALLS else modules).add(a.asname or a.name)
    return modules, functions


def call_original_main(main: Callable, task: str, cfg: Any) -> Any:
    """Run ``task`` through the original-style ``main`` (see the module docstring); ``cfg`` is the
    task's config (frozen or editable: ``main`` gets an editable one)."""
    given = {"cfg": cfg.to_editable(), "task": task, "log_level": os.environ.get(LOG_LEVEL_ENV) or "INFO"}
    try:
        params = inspect.signature(main).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin, a C callable): as the original
        return main(**given)
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return main(**given)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if names.isdisjoint(_KEYWORDS) and any(p.kind is not p.KEYWORD_ONLY for p in params):
        return main(given["cfg"])  # ``def main(config)``: the config, by position
    return main(**{k: v for k, v in given.items() if k in names})
