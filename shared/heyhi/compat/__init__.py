"""The compat wing: the original HeyHi's package API (facebookresearch/diplomacy_cicero's ``heyhi/``),
so code written for it runs unchanged. ``conf`` (loading and editing configs), ``run`` (the entry
points ``parse_args_and_maybe_launch`` and ``maybe_launch``) and ``util`` (job environment, logging,
results) re-implement it on the other wings; it ranks above them all and nothing imports it but the
package root (lazily) and the shims ``heyhi.conf``, ``heyhi.run`` and ``heyhi.util``. What differs is
in docs/compat.md.
"""

from __future__ import annotations

from heyhi.exports import public

_CONF = ("load_proto_message", "load_root_proto_message", "flatten_cfg", "save_config", "conf_to_dict",
         "conf_is_set", "conf_get", "conf_set", "conf_with_overrides")
_RUN = ("parse_args_and_maybe_launch", "maybe_launch", "get_default_exp_dir")
_UTIL = ("MODES", "get_job_env", "get_slurm_job_id", "get_slurm_master", "is_adhoc", "is_aws", "is_devfair",
         "is_master", "is_on_slurm", "log_git_status", "maybe_init_requeue_handler", "reset_slurm_cache",
         "save_result_in_cwd", "setup_logging", "ExperimentDir", "Status")

_EXPORTS = {
    **{m: f"heyhi.compat.{m}" for m in ("conf", "run", "util")},
    **dict.fromkeys(_CONF, "heyhi.compat.conf"),
    **dict.fromkeys(_RUN, "heyhi.compat.run"),
    **dict.fromkeys(_UTIL, "heyhi.compat.util"),
}

__all__, __getattr__, __dir__ = public(__name__, _EXPORTS)
