"""The project: its root (the folder holding ``conf/``), schema, settings and results root."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from heyhi.errors import ConfigError

DEFAULT_RESULTS = "~/heyhi_experiments"


def find_project_root(config: Path | None = None, explicit: Path | str | None = None) -> Path:
    """The nearest folder holding ``conf/``: upward from the config file, else from the cwd.

    ``explicit`` (``--project DIR``) wins.
    """
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
