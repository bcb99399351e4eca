"""Stopping a live run, the one entry: the run's launcher (``heyhi.launchers.for_status``) stops it
(SIGTERM to a local job's process group, SIGKILL after a grace period; scancel for a Slurm job) and
this returns once it has stopped."""

from __future__ import annotations

from pathlib import Path

from heyhi import launchers
from heyhi.runs import records as R


def stop_run(run_dir: Path, status: dict) -> None:
    """Stop a live run through the launcher its status names (its job id, when it names a scheduler's
    job, wins: a record that disagrees is cancelled there rather than signalled as a local pid)."""
    jobid = status.get("jobid") or R.RunDir(run_dir).read_jobid() or ""
    launcher = launchers.for_status(status, jobid, stopping=True)
    launcher.stop(run_dir, {**status, "jobid": jobid} if jobid else status)
