"""HeyHi: typed configs composed from .proto or pydantic schemas, deterministic run folders,
local and Slurm launches, and a daemon that tracks every run.

The public API is listed in ``__all__``; names are imported lazily so that ``import heyhi``
stays cheap (the CLI's ``ctl`` path must not pay for pydantic).
"""

from __future__ import annotations

import importlib
import sys

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
    "segment": "heyhi.runs.task_api",
    "segment_done": "heyhi.runs.task_api",
    "main": "heyhi.cli.run",
    "job_env": "heyhi.runs.jobenv",
    "is_master": "heyhi.runs.jobenv",
    # The original HeyHi's package API (heyhi.compat; docs/compat.md).
    **dict.fromkeys(("load_proto_message", "flatten_cfg", "save_config", "CONF_ROOT", "PROJ_ROOT", "conf_to_dict",
                     "conf_is_set", "conf_get", "conf_set", "conf_with_overrides"), "heyhi.compat.conf"),
    **dict.fromkeys(("parse_args_and_maybe_launch", "maybe_launch", "get_default_exp_dir"), "heyhi.compat.run"),
    **dict.fromkeys(("MODES", "get_job_env", "get_slurm_job_id", "get_slurm_master", "is_adhoc", "is_aws",
                     "is_devfair", "is_on_slurm", "log_git_status", "maybe_init_requeue_handler",
                     "reset_slurm_cache", "save_result_in_cwd", "setup_logging"), "heyhi.compat.util"),
}
_READ_EACH_TIME = {"CONF_ROOT", "PROJ_ROOT"}  # found from the working folder whenever read
# The original HeyHi's modules, served as ``heyhi.conf`` etc. even before they are imported (not in
# ``__all__``, which lists functions and classes only).
_MODULES = ("conf", "run", "util")

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"heyhi.{name}")
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'heyhi' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    if name not in _READ_EACH_TIME:
        globals()[name] = value
    return value


def __dir__():
    return __all__


class _GeneratedModules:
    """``import conf.<file>_pb2`` / ``conf.<file>_cfgs`` without protoc: the finder of
    ``heyhi.compat.protomodules``, loaded only when such a name is imported. It sits first in
    ``sys.meta_path`` so that stale protoc output in conf/ does not win over HeyHi's classes."""

    @staticmethod
    def find_spec(fullname: str, path=None, target=None):
        if "." not in fullname or not fullname.endswith(("_pb2", "_cfgs")):
            return None
        return importlib.import_module("heyhi.compat.protomodules").find_spec(fullname, path, target)

    @staticmethod
    def invalidate_caches() -> None:
        pass


if not any(getattr(f, "__qualname__", "") == "_GeneratedModules" for f in sys.meta_path):
    sys.meta_path.insert(0, _GeneratedModules)
