"""``heyhi.run``: the original HeyHi's entry points, on HeyHi's CLI and launch sequence.

``parse_args_and_maybe_launch(main)`` (the last line of an original-style ``run.py``) is ``heyhi run``
(``heyhi.cli.run``) with the original's flags also understood: ``--exp_id_pattern_override P`` is
``--out P`` (``--out`` wins when both are given), ``--log-level L`` reaches ``main`` as ``log_level``
(through ``$HEYHI_LOG_LEVEL``), and ``--checkpoint`` keeps the original's values (``DEFAULT``: HeyHi's
default code snapshot; ``none`` or empty: no snapshot; a folder: snapshots stored there). It returns
when the command succeeded and exits with its code otherwise (errors in one line).

The job (``python -m heyhi.job``) imports ``run.py`` as a module and finds ``main`` by reading the
file (``heyhi.runs.original_main``), then calls ``main(cfg=..., task=..., log_level=...)`` as the
original did. So before launching, ``main`` must be the module-level function of the project's task
module that it hands to ``parse_args_and_maybe_launch``; anything else is a one-line error here
rather than a job that runs something else.

``maybe_launch(...)`` is the same launch, called from Python; it waits for a local job and returns an
``ExperimentDir``. ``get_default_exp_dir()`` is the project's results root (``$HH_EXP_DIR``,
``[tool.heyhi] results_root``, else ``~/heyhi_experiments/<project>``).
"""

from __future__ import annotations

import os
import pprint
import sys
from pathlib import Path
from typing import Callable, Sequence

from heyhi import launchers
from heyhi.cli.args import RunArgs, parse_run_args
from heyhi.cli.embedded import launch_from_cli
from heyhi.cli.exits import one_line_errors
from heyhi.cli.run import main as cli_main
from heyhi.compat.util import EXP_ID_PATTERN, ExperimentDir, ModeType, setup_logging
from heyhi.config.compose import composer_for
from heyhi.config.project import Project
from heyhi.errors import ConfigError, UsageError
from heyhi.runs.modes import MODES
from heyhi.runs.original_main import LOG_LEVEL_ENV, entry_name
from heyhi.runs.outdir import run_folder

__all__ = ["parse_args_and_maybe_launch", "maybe_launch", "get_default_exp_dir", "translate_args",
           "DEFAULT_CHECKPOINT", "NONE_CHECKPOINT", "LOG_LEVELS"]

DEFAULT_CHECKPOINT = "DEFAULT"
NONE_CHECKPOINT = "none"
LOG_LEVELS = ("ERROR", "WARN", "INFO", "DEBUG")
_VALUE_FLAGS = ("--exp_id_pattern_override", "--log-level", "--checkpoint")
_NO_LAUNCH = ("help", "print", "print_flat", "print_flat_all", "print_out_dir", "remote")


def get_default_exp_dir() -> Path:
    """The results root of the project found from the working folder (``$HH_EXP_DIR`` outside one)."""
    try:
        project = Project.find()
    except ConfigError:
        if not os.environ.get("HH_EXP_DIR"):
            raise
        project = Project(Path.cwd())
    return project.results_root


def _checkpoint(value: str | None) -> str | None:
    """The original's ``--checkpoint`` value as HeyHi's (None: the default snapshot; "": none)."""
    if value is None or value == DEFAULT_CHECKPOINT:
        return None
    return "" if value in ("", NONE_CHECKPOINT) else value


def translate_args(argv: Sequence[str]) -> tuple[list[str], str]:
    """The original's command line as ``heyhi run``'s, and the log level it asks for."""
    out: list[str] = []
    found: dict[str, str] = {}
    i = 0
    while i < len(argv):
        tok = argv[i]
        name, eq, value = tok.partition("=")
        if name not in _VALUE_FLAGS:
            out.append(tok)
            i += 1
            continue
        if not eq:
            if i + 1 >= len(argv):
                raise UsageError(f"{name} needs a value")
            i += 1
            value = argv[i]
        found[name] = value
        i += 1
    level = found.get("--log-level", "INFO")
    if level not in LOG_LEVELS:
        raise UsageError(f"--log-level {level!r}: expected one of {', '.join(LOG_LEVELS)}")
    pattern = found.get("--exp_id_pattern_override")
    if pattern not in (None, EXP_ID_PATTERN) and not any(t == "--out" or t.startswith("--out=") for t in out):
        out.append(f"--out={pattern}")
    if "--checkpoint" in found:
        snapshot = _checkpoint(found["--checkpoint"])
        if snapshot is not None:
            out.append(f"--checkpoint={snapshot}")
    return out, level


def check_entry(main: Callable, project: Project) -> None:
    """Is ``main`` what the job will call: the function the project's task module hands to
    ``parse_args_and_maybe_launch`` (see the module docstring)? A one-line ``UsageError`` otherwise."""
    module_path = (project.root / project.run_module).resolve()
    name = entry_name(module_path) if module_path.is_file() else None
    if name is not None and name == getattr(main, "__name__", None):
        for mod in list(sys.modules.values()):
            f = getattr(mod, "__file__", None)
            if f and os.path.basename(f) == module_path.name and Path(f).resolve() == module_path \
                    and getattr(mod, name, None) is main:
                return
    shown = getattr(main, "__qualname__", repr(main))
    raise UsageError(
        f"cannot launch {shown}: the job runs the function {module_path} hands to "
        f"heyhi.parse_args_and_maybe_launch(...) ({name or 'none there'}); define main at the top level "
        f"of {module_path.name} and call heyhi.parse_args_and_maybe_launch(main) there"
    )


def _parse_and_launch(main: Callable, argv: Sequence[str]) -> int:
    heyhi_argv, level = translate_args(argv)
    args = parse_run_args(heyhi_argv)
    launching = not any(getattr(args, flag) for flag in _NO_LAUNCH) and args.help_fields is None
    if launching and args.effective_mode != "dryrun":
        check_entry(main, Project.find(Path(args.cfg), args.project))
    os.environ[LOG_LEVEL_ENV] = level
    return cli_main(heyhi_argv)


def parse_args_and_maybe_launch(main: Callable) -> None:
    """Compose the config the command line names, then print it or launch ``main`` on it (see the
    module docstring). Exits with the command's code when it failed."""
    code = one_line_errors(_parse_and_launch, main, sys.argv[1:])
    if code:
        raise SystemExit(code)


class _RootedProject(Project):
    """A project whose runs go under ``results_root`` (``maybe_launch(exp_root=...)``)."""

    def __init__(self, root: Path, results_root: Path):
        super().__init__(root)
        self._results_root = Path(results_root).expanduser().absolute()

    @property
    def results_root(self) -> Path:
        return self._results_root


def maybe_launch(
    main: Callable,
    *,
    exp_root: Path | None,
    overrides: Sequence[str],
    cfg: Path,
    mode: ModeType,
    checkpoint: str = DEFAULT_CHECKPOINT,
    adhoc: bool = False,
    exp_id_pattern_override: str | None = None,
    force: bool = False,
    log_level: str = "INFO",
) -> ExperimentDir:
    """Launch ``main`` on ``cfg`` with ``overrides`` as ``mode`` says (under ``exp_root``, default the
    project's results root); wait for a local job; return the run's ``ExperimentDir`` (and print the
    simple values of a finished run's result, as the original did)."""
    if mode is not None and mode not in MODES:
        raise UsageError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    setup_logging(console_level=log_level)
    os.environ[LOG_LEVEL_ENV] = log_level
    cfg = Path(cfg)
    project = Project.find(cfg)
    if exp_root is not None:
        project = _RootedProject(project.root, exp_root)
    composed = composer_for(project).compose(cfg, list(overrides))
    if mode != "dryrun":
        check_entry(main, project)
    pattern = None if exp_id_pattern_override in (None, EXP_ID_PATTERN) else exp_id_pattern_override
    folder = run_folder(project.results_root, cfg, project.conf_dir, composed.raw_overrides, adhoc, pattern)
    args = RunArgs(cfg=str(cfg), adhoc=adhoc, mode=mode, out=str(folder) if adhoc else pattern,
                   checkpoint=_checkpoint(checkpoint), force=force, overrides=list(overrides),
                   wait=not launchers.for_config(composed).tracked_by_daemon)  # a local job runs in the foreground
    launch_from_cli(project, composed, args)
    exp = ExperimentDir(folder, exp_id=os.path.relpath(folder, project.results_root))
    if exp.is_done():
        result = exp.load_result()
        if isinstance(result, dict):
            pprint.pprint({k: v for k, v in result.items() if isinstance(v, (int, float, str))}, indent=2)
    return exp

