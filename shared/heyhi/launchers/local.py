"""The local launcher: the job is ``python -m heyhi.job RUN_DIR`` in its own session on this host.

``start`` starts it detached from the caller's terminal (it outlives its launcher); ``stop`` sends
SIGTERM to its process group and SIGKILL after a grace period. A local job is alive while its
recorded pid is the same process (``pid_alive``: pid and start time, as pids are reused). The
daemon's queue of local jobs (N at once, FIFO) is ``heyhi_daemon.launchers.local``.

Stdlib only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from heyhi.launchers.base import Launcher
from heyhi.launchers.containers import job_argv

__all__ = ["LocalLauncher", "LOCAL", "job_env", "start_local", "proc_start_time", "pid_alive", "GRACE_S"]

GRACE_S = 10.0


def proc_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2:].split()
    try:
        if rest[0] == b"Z":
            return None  # a zombie has exited
        return int(rest[19])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int | None, start: int | None) -> bool:
    """Is ``pid`` the same live process that was recorded (start time checked: pids are reused)?"""
    if not pid:
        return False
    now = proc_start_time(pid)
    return now is not None and (start is None or now == start)


def job_env(run_dir: Path) -> dict:
    """The environment of a job process: the caller's, with ``HEYHI_RUN_DIR``."""
    env = dict(os.environ)
    env["HEYHI_RUN_DIR"] = str(run_dir)
    env.pop("HEYHI_JOB_NO_REDIRECT", None)
    return env


def start_local(run_dir: Path, python: str | None = None, argv: list[str] | None = None) -> subprocess.Popen:
    """Start ``python -m heyhi.job RUN_DIR`` (or ``argv``: that command in a container) in its own
    session (it outlives its launcher)."""
    return subprocess.Popen(
        argv or [python or sys.executable, "-m", "heyhi.job", str(run_dir)],
        cwd=str(run_dir), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env=job_env(run_dir), close_fds=True,
    )


class LocalLauncher(Launcher):
    name = "local"
    title = "local"
    tracked_by_daemon = False
    arrays = False
    by_process = True

    def owns_job_id(self, jobid: str) -> bool:
        return jobid.startswith("local:")

    def start(self, folder: Path, info: dict) -> subprocess.Popen:
        """The job in the foreground's stead: a detached process (``start_local``) the caller follows."""
        return start_local(folder, argv=job_argv(info, folder))

    def stop(self, folder: Path, status: dict, grace: float = GRACE_S) -> None:
        """SIGTERM to the job's process group, SIGKILL after ``grace``; returns when it is gone."""
        pid = status.get("pid")
        if not pid or not pid_alive(pid, status.get("pid_start")):
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not pid_alive(pid, status.get("pid_start")):
                return
            time.sleep(0.02)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while pid_alive(pid, status.get("pid_start")):
            time.sleep(0.02)


LOCAL = LocalLauncher()
