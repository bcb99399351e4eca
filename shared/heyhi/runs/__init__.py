"""The runs wing: what happens to a run folder. Its name (``outdir``), what a mode does with it
(``modes``), its records and their formats (``records``, ``formats``), the code snapshot, the project's
tasks, the one launch sequence (``sequence``: lock, decide, confirm, stop, wipe, ``prepare``, start)
with its safety rules (``guard``, ``ownership``, ``locks``, ``trash``), liveness, stopping, the
recorded config a restart reruns (``recorded``), the job runner (``runner``) and what a running task
can call (``task_api``, ``jobenv``). It imports the launchers, slurm, wire (paths) and config wings.
"""

from __future__ import annotations

from heyhi.exports import public

_EXPORTS = {
    **{m: f"heyhi.runs.{m}" for m in ("records", "formats", "guard", "ownership", "view", "provenance")},
    **dict.fromkeys(("Host", "Plan", "Outcome", "NeedsConfirm", "launch", "remove_stale_aside", "roots_for",
                     "run_lock", "unstart", "wipe"), "heyhi.runs.sequence"),
    **dict.fromkeys(("RERAN", "load_recorded"), "heyhi.runs.recorded"),
    "ALREADY_CLAIMED": "heyhi.runs.runner",
    "check_task": "heyhi.runs.tasks",
    "run_folder": "heyhi.runs.outdir",
    "NewerFormat": "heyhi.runs.formats",
    **dict.fromkeys(("job_env", "JobEnv", "expand_hostlist", "HostlistError"), "heyhi.runs.jobenv"),
}

__all__, __getattr__, __dir__ = public(__name__, _EXPORTS)
