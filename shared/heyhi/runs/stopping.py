"""Stopping a live run: SIGTERM to a local job's process group (SIGKILL after a grace period), or
scancel for a Slurm job, returning once it has stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from heyhi.runs import records as R


def stop_run(run_dir: Path, status: dict, grace: float = 10.0) -> None:
    """Stop a live run: SIGTERM to a local job's process group (SIGKILL after ``grace``), or scancel."""
    jobid = status.get("jobid") or R.RunDir(run_dir).read_jobid() or ""
    if status.get("launcher") == "slurm" or (jobid and not jobid.startswith("local:")):
        if jobid:
            subprocess.run(["scancel", jobid], capture_output=True)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                live = R.slurm_live_jobs()
                if live is None or jobid not in live:
                    return
                time.sleep(0.5)
        return
    pid = status.get("pid")
    if not pid or not R.pid_alive(pid, status.get("pid_start")):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not R.pid_alive(pid, status.get("pid_start")):
            return
        time.sleep(0.02)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while R.pid_alive(pid, status.get("pid_start")):
        time.sleep(0.02)
