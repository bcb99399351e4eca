"""The project: its root (the folder holding ``conf/``), schema, settings and results root.

Every HeyHi program finds its project the same way (``find_project_root``): ``--project DIR`` if
given, else the nearest folder holding ``conf/`` upward from the config file, then upward from the
working folder (so a program started anywhere inside a project, ``conf/`` included, finds it).
``resolve_config`` reads ``-c``: a path, or a path relative to the project's ``conf/`` (as a sweep
file's ``config:``), made absolute and normalised so that every spelling names one file and so one
run folder.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from heyhi.errors import ConfigError

DEFAULT_RESULTS = "~/heyhi_experiments"


SCRIPT_ROOT_MARKS = ("conf", "pyproject.toml", ".git")  # what marks the project of a plain script


def find_project_root(config: Path | None = None, explicit: Path | str | None = None) -> Path:
    """The nearest folder holding ``conf/``: upward from the config file, else from the cwd.

    ``explicit`` (``--project DIR``) wins. A plain Python script (a script task) needs no
    ``conf/``: its project is the nearest folder upward from it holding ``conf/``,
    ``pyproject.toml`` or ``.git``, else the script's own folder.
    """
    if config is not None and str(config).endswith(".py"):
        return script_project_root(Path(config), explicit)
    if explicit is not None:
        root = Path(explicit).expanduser().absolute()
        if not (root / "conf").is_dir():
            raise ConfigError(f"--project {explicit}: no conf/ folder in {root}")
        return root
    starts = []
    if config is not None:
        starts.append(Path(config).expanduser().absolute().parent)
    starts.append(Path.cwd())
    for start in starts:
        for d in (start, *start.parents):
            if (d / "conf").is_dir():
                return d
    where = f"{config}" if config is not None else str(Path.cwd())
    raise ConfigError("no project found: no folder holding conf/ above the config or the working folder", where)


def script_project_root(script: Path, explicit: Path | str | None = None) -> Path:
    """The project of a script task (or of a file beside one, a sweep file): the nearest folder
    upward from it holding ``conf/``, ``pyproject.toml`` or ``.git``, else its own folder."""
    here = Path(os.path.normpath(script.expanduser().absolute())).parent
    if explicit is not None:
        root = Path(explicit).expanduser().absolute()
        if not root.is_dir():
            raise ConfigError(f"--project {explicit}: not a folder")
        if not here.is_relative_to(root):
            raise ConfigError(f"--project {explicit}: the script {script} is not inside it")
        return root
    for d in (here, *here.parents):
        if any((d / mark).exists() for mark in SCRIPT_ROOT_MARKS):
            return d
    return here


def resolve_config(cfg: str | Path, explicit: Path | str | None = None) -> tuple[Path, str | None]:
    """(the config file ``-c cfg`` names, a note or None). A relative ``cfg`` is looked for in the
    working folder, then in the project's ``conf/``; when both hold it (different files) the working
    folder's wins and the note says so. The path is absolute with ``.`` and ``..`` folded (symlinks
    kept, as the original named folders). Neither there: a one-line ``ConfigError``."""
    p = Path(cfg).expanduser()
    here = Path(os.path.normpath(p if p.is_absolute() else Path.cwd() / p))
    if p.is_absolute():
        return here, None
    try:
        root = find_project_root(here if here.exists() else None, explicit)
    except ConfigError:
        return here, None  # no project: the composer says what is missing
    in_conf = Path(os.path.normpath(root / "conf" / p))
    if here.is_file():
        if in_conf.is_file() and not os.path.samefile(here, in_conf):
            return here, f"-c {cfg}: both ./{p} and {root / 'conf' / p} exist; using ./{p}"
        return here, None
    if in_conf.is_file():
        return in_conf, None
    if here.exists():
        return here, None
    raise ConfigError(f"config file not found (neither in the working folder nor in {root / 'conf'})", str(cfg))


class Project:
    """A HeyHi project rooted at ``root`` (``root/conf`` holds the schema and configs)."""

    def __init__(self, root: Path | str):
        self.root = Path(root).absolute()
        self.conf_dir = self.root / "conf"

    @classmethod
    def find(cls, config: Path | str | None = None, explicit: Path | str | None = None) -> "Project":
        return cls(find_project_root(Path(config) if config is not None else None, explicit))

    @cached_property
    def settings(self) -> dict:
        """``[tool.heyhi]`` of the project's pyproject.toml (empty when absent)."""
        pp = self.root / "pyproject.toml"
        if not pp.is_file():
            return {}
        import tomllib  # lean: keeps the start-up of heyhi run --print from loading it

        try:
            data = tomllib.loads(pp.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"bad TOML: {e}", str(pp)) from None
        return data.get("tool", {}).get("heyhi", {})

    @cached_property
    def schema(self):
        from heyhi.config.schema.loader import load_project_schema  # lean: keeps the start-up of heyhi run --print from loading it

        return load_project_schema(self)

    @property
    def results_root(self) -> Path:
        """``$HH_EXP_DIR``, else ``[tool.heyhi] results_root``, else ``~/heyhi_experiments/<project>``."""
        env = os.environ.get("HH_EXP_DIR")
        if env:
            p = Path(env).expanduser()
            if not p.is_absolute():
                raise ConfigError(f"HH_EXP_DIR={env!r}: expected an absolute path (the results root)")
            if p.resolve() in (Path("/"), Path.home().resolve()):
                raise ConfigError(f"HH_EXP_DIR={env!r}: the results root cannot be / or your home folder itself")
            return p.absolute()
        configured = self.settings.get("results_root")
        if configured:
            p = Path(configured).expanduser()
            return (p if p.is_absolute() else self.root / p).absolute()
        return Path(DEFAULT_RESULTS).expanduser() / self.root.name

    @property
    def run_module(self) -> str:
        """Where the task functions live (``[tool.heyhi] tasks``, default ``run.py``)."""
        return self.settings.get("tasks", "run.py")
