"""HeyHi: typed configs composed from .proto or pydantic schemas, deterministic run folders,
local and Slurm launches, and a daemon that tracks every run.

The public API is listed in ``__all__``; names are imported lazily so that ``import heyhi``
stays cheap (the CLI's ``ctl`` path must not pay for pydantic).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_config": "heyhi.config.compose",
    "load_root_config": "heyhi.config.compose",
    "compose": "heyhi.config.compose",
    "ConfigError": "heyhi.errors",
    "HeyHiError": "heyhi.errors",
    "Oneof": "heyhi.config.schema.pydantic_front",
    "task": "heyhi.runs.tasks",
    "run_dir": "heyhi.runs.task_api",
    "log_metrics": "heyhi.runs.task_api",
    "on_preemption": "heyhi.runs.task_api",
    "preemption_requested": "heyhi.runs.task_api",
    "main": "heyhi.cli.run",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'heyhi' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
