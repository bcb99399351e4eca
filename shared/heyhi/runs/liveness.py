"""Is a run alive? One judgement, by the host the run recorded.

Promises:
- A run of this host is alive while its recorded process (pid and start time) lives.
- A run of another host (a results root shared over NFS, say) is alive while its heartbeat file
  (``heyhi.heartbeat``, touched by ``heyhi.job`` every ``heartbeat_interval()`` s, default 30) is
  younger than ``stale_after()`` s (default 300), or while Slurm says the job is live. Its age is
  measured against the shared filesystem's own clock (the mtime of a probe file written now in
  the run folder), never this host's clock, so skewed clocks do not kill or revive runs.
- When the age cannot be measured (the probe cannot be written), a run of another host is
  judged alive: nothing is wiped, relaunched or cleaned on a guess.

Environment (for tests): ``HEYHI_HEARTBEAT_S`` (default 30), ``HEYHI_HEARTBEAT_STALE_S``
(default 300). Stdlib only; imports nothing of HeyHi.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

HEARTBEAT = "heyhi.heartbeat"
DEFAULT_INTERVAL_S = 30.0
DEFAULT_STALE_S = 300.0


def _env_seconds(name: str, default: float) -> float:
    try:
        v = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return v if v > 0 else default


def heartbeat_interval() -> float:
    """Seconds between heartbeats (``HEYHI_HEARTBEAT_S``, default 30)."""
    return _env_seconds("HEYHI_HEARTBEAT_S", DEFAULT_INTERVAL_S)


def stale_after() -> float:
    """Age in seconds after which another host's heartbeat is stale (``HEYHI_HEARTBEAT_STALE_S``, default 300)."""
    return _env_seconds("HEYHI_HEARTBEAT_STALE_S", DEFAULT_STALE_S)


def this_host() -> str:
    return socket.gethostname()


def is_other_host(status: dict) -> bool:
    """Did a host other than this one record ``status`` (a record without a host is this host's)?"""
    h = status.get("host")
    return bool(h) and h != this_host()


def fs_now(folder: Path | str) -> float | None:
    """The filesystem's clock: the mtime of a probe file created now in ``folder`` (then removed);
    None when no probe can be written there."""
    probe = Path(folder) / f".heyhi.clock.{this_host()}.{os.getpid()}.{threading.get_ident()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return None
    try:
        return os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        try:
            os.unlink(probe)
        except OSError:
            pass


def heartbeat_age(run_dir: Path | str) -> float | None:
    """Seconds since the run's last heartbeat, by the filesystem's clock (the status record's
    mtime when there is no heartbeat file); None when it cannot be measured."""
    run_dir = Path(run_dir)
    last = None
    for name in (HEARTBEAT, "heyhi.status.json"):
        try:
            last = os.stat(run_dir / name).st_mtime
            break
        except OSError:
            continue
    if last is None:
        return None
    now = fs_now(run_dir)
    if now is None:
        return None
    return max(0.0, now - last)


def other_host_alive(run_dir: Path | str, status: dict, slurm_says_live: bool = False) -> tuple[bool, str]:
    """(alive, why) for a run another host recorded: Slurm says it is live, or its heartbeat is fresh."""
    host = status.get("host") or "another host"
    if slurm_says_live:
        return True, f"Slurm runs it (on {host})"
    age = heartbeat_age(run_dir)
    if age is None:
        return True, f"runs on {host}; its heartbeat's age cannot be measured here"
    limit = stale_after()
    if age < limit:
        return True, f"runs on {host} (heartbeat {age:.0f} s ago)"
    return False, f"runs on {host} but its heartbeat is {age:.0f} s old (stale after {limit:.0f} s)"


class Heartbeat:
    """Touches ``run_dir/heyhi.heartbeat`` now and every ``heartbeat_interval()`` s from a daemon
    thread (it cannot outlive the process) until ``stop()``. Failures to touch are ignored: a
    missed beat only makes the run look older."""

    def __init__(self, run_dir: Path | str, interval: float | None = None):
        self.path = Path(run_dir) / HEARTBEAT
        self.interval = interval or heartbeat_interval()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        try:
            if self.path.exists():
                os.utime(self.path, None)  # None: "now" by the file server's clock on NFS
            else:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
                try:
                    os.write(fd, f"{this_host()} {os.getpid()}\n".encode())
                finally:
                    os.close(fd)
        except OSError:
            pass

    def start(self) -> "Heartbeat":
        self.beat()
        self._thread = threading.Thread(target=self._run, name="heyhi-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
