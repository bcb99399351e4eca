"""HeyHi: typed configs composed from .proto or pydantic schemas, deterministic run folders,
local and Slurm launches, and a daemon that tracks every run.

The public API is listed in ``__all__``; names are imported lazily so that ``import heyhi``
stays cheap (the CLI's ``ctl`` path must not pay for pydantic).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_config": "heyhi.compose",
    "load_root_config": "heyhi.compose",
    "compose": "heyhi.compose",
    "ConfigError": "heyhi.errors",
    "HeyHiError": "heyhi.errors",
    "Oneof": "heyhi.schema.pydantic_front",
    "task": "heyhi.tasks",
    "run_dir": "heyhi.jobapi",
    "log_metrics": "heyhi.jobapi",
    "on_preemption": "heyhi.jobapi",
    "preemption_requested": "heyhi.jobapi",
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
