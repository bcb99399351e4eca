"""The daemon's local launcher (a ``DaemonLauncher`` for ``heyhi.launchers.local``): at most N jobs
at once, the rest in a FIFO queue.

Each job is ``python -m heyhi.job RUN_DIR`` (in its container, ``heyhi.launchers.containers``, if
the run records one) in its own session and process group, so it is not
killed when the daemon dies; after a daemon restart the running ones are re-adopted (watched
through a pidfd) and end with the state they record themselves.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from typing import Callable

from heyhi.runs import records as R
from heyhi.errors import Busy
from heyhi.launchers.containers import job_argv
from heyhi.launchers.local import LOCAL, job_env  # the module is listed whole in heyhi.launchers.__all__

from heyhi_daemon.job_store import Job, JobStore
import subprocess

GRACE_S = 10.0


class LocalLauncher:
    name = LOCAL.name

    def __init__(self, store: JobStore, max_jobs: int | None = None, on_change: Callable[[Job], None] | None = None):
        self.store = store
        self.max_jobs = max_jobs or os.cpu_count() or 1
        self.running: dict[str, int] = {}  # job_id -> pid
        self.on_change = on_change or store.changed
        self._tasks: set[asyncio.Task] = set()
        # pid -> the status record's "updated" when that process was spawned: a process that ends
        # before claiming its run judges only that record, never a newer run of the same folder.
        self._spawned_over: dict[int, float | None] = {}
        self._stopping: set[int] = set()  # pids this launcher is stopping (cancel, restart)

    # ---- the DaemonLauncher interface ---------------------------------------------------------------
    async def start(self, job: Job) -> None:
        """Queue the job; it starts when a slot is free."""
        self.enqueue(job)

    def readopt(self, job: Job, status: dict) -> bool:
        """After a daemon restart: watch a running job's process again (lost when it is gone); a queued
        job waits again (True), unless a launch without the daemon queued it (then it is judged)."""
        if job.state == R.QUEUED and not status.get("pid"):
            if status.get("owner_pid"):  # queued by a launch without the daemon: not ours to start
                state, judged = R.RunDir(job.run_dir).state(slurm_live=set())
                if state == R.LOST:
                    R.RunDir(job.run_dir).set_state(R.LOST, only_if=R.LIVE_STATES, reason=judged.get("reason"))
                    job.refresh()
                return False
            return True
        if not self.adopt(job):
            R.RunDir(job.run_dir).set_state(R.LOST, only_if=R.LIVE_STATES, reason="process gone without a final record")
            job.refresh()
            self.on_change(job)
        return False

    def watches(self, job: Job) -> bool:
        return job.job_id in self.running or job.job_id in self.store.queue

    # ---- queue ----------------------------------------------------------------------------------
    def enqueue(self, job: Job) -> None:
        if job.job_id not in self.store.queue:
            self.store.queue.append(job.job_id)
        self.pump()

    def pump(self) -> None:
        """Start queued jobs while there are free slots."""
        while self.store.queue and len(self.running) < self.max_jobs:
            jid = self.store.queue.pop(0)
            job = self.store.jobs.get(jid)
            if job is None:
                continue
            st = R.RunDir(job.run_dir).read_status() or {}
            if st.get("state") != R.QUEUED:
                job.refresh(st)
                self.on_change(job)
                continue
            self._spawn(job)
            self._spawned_over[job.pid] = st.get("updated")
        self.store.save_if_dirty()

    def _spawn(self, job: Job) -> None:
        info = R.RunDir(job.run_dir).read_run()
        argv = job_argv({**info, "python": info.get("python") or sys.executable}, job.run_dir)  # in its container, if any
        exe = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
        pid = os.posix_spawn(
            exe, argv, job_env(job.run_dir),
            setsid=True,
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                          (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                          (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)],
        ) if hasattr(os, "posix_spawn") and exe else self._popen(argv, job)
        job.pid = pid
        job.pid_start = R.proc_start_time(pid)
        job.state = R.RUNNING
        job.started = time.time()
        job.node = R.host()  # a local job runs on the daemon's host (the list's node column)
        self.running[job.job_id] = pid
        self.on_change(job)
        self._watch(job, pid, child=True)

    def _popen(self, argv: list[str], job: Job) -> int:
        p = subprocess.Popen(argv, cwd=job.run_dir, env=job_env(job.run_dir),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        return p.pid

    # ---- watching processes -----------------------------------------------------------------------
    def adopt(self, job: Job) -> bool:
        """Watch a running job started by an earlier daemon; False when its process is gone."""
        if not R.pid_alive(job.pid, job.pid_start):
            return False
        self.running[job.job_id] = job.pid
        self._watch(job, job.pid, child=False)
        return True

    def _watch(self, job: Job, pid: int, child: bool) -> None:
        t = asyncio.get_running_loop().create_task(self._wait(job, pid, child))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _wait(self, job: Job, pid: int, child: bool) -> None:
        code: int | None = None
        if child:
            code = await _wait_child(pid)
        else:
            await _wait_pid(pid, job.pid_start)
        if self.running.get(job.job_id) == pid:  # a restart may already run a new process for it
            self.running.pop(job.job_id, None)
        try:
            await self._finish(job, pid, code)
        finally:  # whatever happened recording the end, the next queued job starts
            self.pump()

    async def _finish(self, job: Job, pid: int, code: int | None) -> None:
        rd = R.RunDir(job.run_dir)
        st = rd.read_status() or {}
        from heyhi.runs import ALREADY_CLAIMED  # lean: keeps the start-up of the daemon from loading it

        if code == ALREADY_CLAIMED and st.get("state") == R.RUNNING and st.get("pid") != pid:
            job.refresh(st)  # another process runs it: watch that one
            if self.adopt(job):
                self.on_change(job)
                return
            st = rd.read_status() or {}
        spawned_over = self._spawned_over.pop(pid, None)
        unclaimed = st.get("pid") is None and spawned_over is not None and st.get("updated") == spawned_over
        ours = st.get("pid") == pid or unclaimed  # not a newer run of the folder (a restart's)
        stopped = pid in self._stopping
        self._stopping.discard(pid)
        if st.get("state") in R.LIVE_STATES and ours:
            # The job died without writing its final state.
            if stopped:  # we stopped it (before its own handler could record that): cancelled
                end = dict(state=R.CANCELLED, exit_code=143 if code in (None, -15, 143) else (128 - code if code < 0 else code),
                           reason="cancelled")
            elif code is not None and code < 0:
                end = dict(state=R.CRASHED, exit_code=128 - code, reason=f"killed by signal {-code}")
            elif code is not None:
                end = dict(state=R.CRASHED, exit_code=code, reason=f"exit code {code} without a final record")
            else:
                end = dict(state=R.LOST, reason="process gone without a final record")
            try:
                seen = st.get("updated")  # only the record judged above, never one written since
                await asyncio.to_thread(rd.set_state, only_if=lambda cur: cur.get("updated") == seen, **end)
            except (OSError, Busy) as e:  # a full disk, a lock held: the index tells the truth, with the reason
                stale = st.get("updated")
                why = getattr(e, "strerror", None) or str(e)
                st = {**st, **end, "reason": f"{end['reason']}; could not record it in the folder: {why}"}
                job.refresh(st)
                job.ended = time.time()
                job.unrecorded_over = stale
                self.on_change(job)
                return
            st = rd.read_status() or {}
        job.refresh(st)
        self.on_change(job)

    # ---- stopping ---------------------------------------------------------------------------------
    async def stop(self, job: Job, grace: float = GRACE_S) -> None:
        """SIGTERM to the job's process group, SIGKILL after ``grace``; returns when it is gone."""
        if job.job_id in self.store.queue:
            self.store.queue.remove(job.job_id)
            R.RunDir(job.run_dir).set_state(R.CANCELLED, only_if=frozenset({R.QUEUED}), reason="cancelled while queued")
            job.refresh()
            self.on_change(job)
            return
        pid = job.pid
        if not pid or not R.pid_alive(pid, job.pid_start):
            return
        self._stopping.add(pid)
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            self._stopping.discard(pid)
            return
        deadline = time.monotonic() + grace
        while R.pid_alive(pid, job.pid_start) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if R.pid_alive(pid, job.pid_start):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while R.pid_alive(pid, job.pid_start):
                await asyncio.sleep(0.02)
        # Wait for the watcher to record the end.
        while job.job_id in self.running:
            await asyncio.sleep(0.01)


async def _pidfd_wait(pid: int) -> bool:
    """Wait until ``pid`` exits, through a pidfd (no polling); False when no pidfd could be had."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return False
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
    try:
        await fut
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return True


async def _wait_child(pid: int) -> int:
    """Exit status of our child ``pid`` (negative: killed by that signal), without blocking the loop."""
    if await _pidfd_wait(pid):
        _, status = os.waitpid(pid, 0)
    else:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            await asyncio.sleep(0.05)
    return os.waitstatus_to_exitcode(status)


async def _wait_pid(pid: int, start: int | None) -> None:
    """Wait for a process that is not our child to end (pid reuse checked by start time)."""
    if R.pid_alive(pid, start) and await _pidfd_wait(pid):
        return
    while R.pid_alive(pid, start):
        await asyncio.sleep(0.2)
