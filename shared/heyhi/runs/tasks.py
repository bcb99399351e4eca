"""Task dispatch: the function that runs a task lives in the project's ``run.py``: one registered
with ``@heyhi.task("train")``, else the original HeyHi's entry point (the function ``run.py`` hands to
``heyhi.parse_args_and_maybe_launch``: ``heyhi.runs.original_main``) for every task, else a function
named after the task (``def train(cfg)``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Callable

from heyhi.errors import ConfigError
from heyhi.runs.original_main import call_original_main, entry_name
import ast

_REGISTRY: dict[str, Callable] = {}


def task(name: str) -> Callable[[Callable], Callable]:
    """Register a function as the runner of task ``name``."""

    def deco(fn: Callable) -> Callable:
        _REGISTRY[name] = fn
        return fn

    return deco


def load_tasks_module(code_dir: Path, module_file: str = "run.py"):
    """Import the project's task module from ``code_dir`` (the code snapshot or the project)."""
    path = Path(code_dir) / module_file
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "__file__", None) and Path(main.__file__).resolve() == path.resolve():
        return main  # `python run.py ...`: the module is already running
    if not path.is_file():
        raise ConfigError(f"no task module: {path} does not exist")
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    name = "heyhi_project_tasks"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def find_task(module, name: str, known: list[str]) -> Callable:
    """The function running task ``name``; a one-line error listing the known tasks otherwise."""
    fn = _REGISTRY.get(name)
    entry = None if fn is not None or not getattr(module, "__file__", None) else entry_name(module.__file__)
    if entry is not None and callable(getattr(module, entry, None)):
        main = getattr(module, entry)
        return lambda cfg: call_original_main(main, name, cfg)
    fn = fn or getattr(module, name, None)
    if callable(fn):
        return fn
    have = sorted(n for n in known if n in _REGISTRY or callable(getattr(module, n, None)))
    raise ConfigError(
        f"unknown task {name!r}: no function {name}() or @heyhi.task({name!r}) in {getattr(module, '__file__', 'run.py')}; "
        f"known tasks: {', '.join(have) or 'none'}"
    )


def declared_tasks(module_path: Path) -> set[str]:
    """Task names a task module declares, read with ``ast`` (the module is not imported, so a
    launcher never runs the project's imports): top-level functions, and the names given to
    ``@heyhi.task("name")`` / ``@task("name")``."""
    try:
        tree = ast.parse(Path(module_path).read_text(), str(module_path))
    except (OSError, SyntaxError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the task module: {e}", str(module_path)) from None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and dec.args and isinstance(dec.args[0], ast.Constant):
                    fn = dec.func
                    fname = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                    if fname == "task" and isinstance(dec.args[0].value, str):
                        names.add(dec.args[0].value)
    return names


def check_task(project, composed) -> None:
    """Fail early (one line) when the project's run.py has no function for the task (read with
    ast: the launcher does not import the project's code). A script task runs its script: nothing
    to look for."""
    if getattr(composed, "script", None) is not None:
        return
    path = project.root / project.run_module
    if not path.is_file():
        raise ConfigError(f"no task module: {path} does not exist")
    declared = declared_tasks(path)
    if composed.task not in declared and entry_name(path) is None:  # an original-style main runs every task
        known = sorted(t for t in project.schema.root.oneofs.get("task", []) if t in declared)
        raise ConfigError(
            f"unknown task {composed.task!r}: no function {composed.task}() or @heyhi.task({composed.task!r}) "
            f"in {path}; known tasks: {', '.join(known) or 'none'}"
        )
