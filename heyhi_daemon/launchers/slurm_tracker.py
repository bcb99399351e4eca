"""Slurm jobs in the daemon (the ``DaemonLauncher`` for ``heyhi.launchers.slurm``): submit, one
batched poll for all of them, cancel, retries, and a sweep's job arrays.

The poller (``launchers.slurm.SlurmPoller``) makes one ``squeue`` call per interval for all of
the user's jobs, and one ``sacct`` only for jobs that ended; the interval backs off from ~2 s
after a submit or a change to 60 s when nothing changes. The batch scripts are rendered by
``heyhi.slurm.script``; the commands are ``heyhi.launchers.slurm``'s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Callable

from heyhi.runs import records as R
from heyhi.errors import HeyHiError, NothingStarted
from heyhi.launchers import slurm as SL
from heyhi.slurm.script import render_array

from heyhi_daemon.job_store import Job, JobStore
from heyhi_daemon.launchers.slurm_poller import JobChange, SlurmPoller

log = logging.getLogger("heyhi.daemon.slurm")
RETRY_STATES = frozenset({"FAILED", "NODE_FAIL", "OUT_OF_MEMORY"})
DEFAULT_MAX_ARRAY = 1001  # MaxArraySize when scontrol does not say


class SlurmTracker:
    name = SL.SLURM.name

    def __init__(self, store: JobStore, on_change: Callable[[Job], None], min_interval: float = 2.0,
                 max_interval: float = 60.0, run=None):
        self.store = store
        self.on_change = on_change
        self.poller = SlurmPoller(run, min_interval=min_interval, max_interval=max_interval)
        self.by_slurm: dict[str, str] = {}  # slurm id -> job id
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._final_waiters: dict[str, asyncio.Event] = {}
        self._max_array: int | None = None

    # ---- the DaemonLauncher interface -------------------------------------------------------------
    async def start(self, job: Job) -> None:
        await self.submit(job)

    def readopt(self, job: Job, status: dict) -> bool:
        """After a daemon restart: the poller follows the job again."""
        self.track(job)
        return False

    async def stop(self, job: Job) -> None:
        await self.cancel(job)

    def watches(self, job: Job) -> bool:
        return True  # the poller reports every change (a job Slurm forgets is marked lost)

    # ---- submitting -----------------------------------------------------------------------------
    async def submit(self, job: Job, retry: bool = False) -> None:
        """Write slurm.sbatch into the run folder and submit it (a controller is checked first with
        ``scontrol ping``; sbatch is bounded by ``SL.submit_timeout()``). A rejection is a one-line
        ``NothingStarted``: nothing ran, and the launch sequence puts the folder back as it was. A
        failed ``retry`` of a run that did run records it as crashed(submit) instead."""
        rd = R.RunDir(job.run_dir)
        info = rd.read_run()
        try:
            script = SL.write_script(Path(job.run_dir), info)
            await asyncio.to_thread(SL.check_controller)
            slurm_id = await asyncio.to_thread(SL.submit, script, timeout=SL.submit_timeout())
        except (ValueError, SL.SlurmError, OSError) as e:
            why = f"{e.filename}: {e.strerror}" if isinstance(e, OSError) else str(e)
            if not retry:
                raise NothingStarted(f"nothing started: Slurm submission failed: {why}") from None
            rd.set_state(R.CRASHED, reason=f"submit: {why}")
            job.refresh()
            self.on_change(job)
            raise HeyHiError(f"Slurm submission failed: {why}") from None
        rd.write_jobid(slurm_id)
        rd.set_state(R.SUBMITTED, slurm_id=slurm_id, jobid=slurm_id, launcher=self.name, attempt=job.attempts or 1)
        job.refresh()
        job.slurm_id = slurm_id
        if slurm_id not in job.history_ids:
            job.history_ids.append(slurm_id)
        self.on_change(job)
        self.track(job)

    # ---- job arrays (a sweep's points) --------------------------------------------------------------
    def max_array_size(self) -> int:
        """The most tasks one array may have: the cluster's ``MaxArraySize`` (asked once), capped by
        ``$HEYHI_MAX_ARRAY_SIZE``. Blocking: call it in a thread."""
        if self._max_array is None:
            size, why = SL.max_array_size(DEFAULT_MAX_ARRAY)
            if why:
                log.warning("scontrol show config: %s (MaxArraySize taken as %d)", why, size)
            self._max_array = size
        cap = os.environ.get("HEYHI_MAX_ARRAY_SIZE")
        return max(1, min(self._max_array, int(cap))) if cap else max(1, self._max_array)

    async def submit_array(self, settings: dict, name: str, list_file: Path, n: int, throttle: int | None,
                           script: Path, out_dir: Path) -> str:
        """Write the batch script of an array of ``n`` tasks (task i runs the folder on line i+1 of
        ``list_file``; at most ``throttle`` at once) to ``script`` and submit it; the array's id. A
        rejection is a one-line ``NothingStarted``."""
        try:
            spec = SL.spec_of(settings, name)
            script.write_text(render_array(spec, list_file, n, throttle, sys.executable, out_dir))
            return await asyncio.to_thread(SL.submit, script)
        except (ValueError, SL.SlurmError) as e:
            raise NothingStarted(str(e)) from None

    def array_task_submitted(self, job: Job, array_id: str, i: int) -> None:
        """Record that task ``i`` of array ``array_id`` runs ``job`` (its folder says submitted) and follow it."""
        sid = f"{array_id}_{i}"
        rd = R.RunDir(job.run_dir)
        rd.write_jobid(sid)
        rd.set_state(R.SUBMITTED, only_if=frozenset({R.QUEUED}), slurm_id=sid, jobid=sid, launcher=self.name,
                     array_job=array_id, array_task=i)
        job.refresh()
        job.slurm_id = sid
        if sid not in job.history_ids:
            job.history_ids.append(sid)
        self.on_change(job)
        self.track(job)

    def track(self, job: Job) -> None:
        sid = job.slurm_id or R.RunDir(job.run_dir).read_jobid()
        if not sid or sid.startswith("local:"):
            return
        self.by_slurm[sid] = job.job_id
        self.poller.track(sid)
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    # ---- polling --------------------------------------------------------------------------------
    async def _loop(self) -> None:
        while self.poller.tracked:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poller.next_interval())
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                changes = await asyncio.to_thread(self.poller.poll)
            except Exception as e:  # a poll failure must not kill the loop
                log.warning("slurm poll failed: %s", e)
                continue
            for ch in changes:
                await self._apply(ch)
            for sid, n in list(self.poller.missing.items()):
                if n >= 3:
                    await self._lost(sid)

    async def _apply(self, ch: "JobChange") -> None:
        jid = self.by_slurm.get(ch.job_id)
        job = self.store.jobs.get(jid) if jid else None
        if job is None:
            return
        rd = R.RunDir(job.run_dir)
        job.slurm_state = ch.slurm_state
        st = rd.read_status() or {}
        cur = st.get("state")
        if ch.state == R.SUBMITTED and cur == R.SUBMITTED:
            if ch.reason and st.get("reason") != ch.reason:
                rd.set_state(R.SUBMITTED, reason=ch.reason, slurm_id=ch.job_id)
        elif ch.state == R.REQUEUED:
            if cur != R.REQUEUED:
                rd.set_state(R.REQUEUED, reason=ch.reason or "requeued by Slurm", slurm_id=ch.job_id)
        elif ch.state == R.RUNNING:
            pass  # the job records its own start
        elif ch.state in R.FINAL_STATES:
            if cur == R.CANCELLED and ch.slurm_state in ("TIMEOUT", "PREEMPTED", "NODE_FAIL", "OUT_OF_MEMORY", "DEADLINE"):
                # The job saw a SIGTERM and took it for a cancel; Slurm knows better.
                rd.set_state(R.CRASHED, exit_code=ch.exit_code, reason=f"Slurm: {ch.slurm_state}",
                             slurm_state=ch.slurm_state)
            elif cur in R.LIVE_STATES:  # the job did not record its end (killed, timed out, node failure)
                if ch.state == R.COMPLETED:
                    rd.set_state(R.COMPLETED, exit_code=0, slurm_state=ch.slurm_state)
                elif ch.state == R.CANCELLED:
                    rd.set_state(R.CANCELLED, exit_code=ch.exit_code, reason=f"Slurm: {ch.slurm_state}")
                else:
                    rd.set_state(R.CRASHED, exit_code=ch.exit_code, reason=f"Slurm: {ch.slurm_state}",
                                 slurm_state=ch.slurm_state)
            self.poller.untrack(ch.job_id)
            self.by_slurm.pop(ch.job_id, None)
            job.refresh()
            self.on_change(job)
            ev = self._final_waiters.pop(ch.job_id, None)
            if ev:
                ev.set()
            await self._maybe_retry(job, ch)
            return
        if job.refresh() or True:
            self.on_change(job)

    async def _maybe_retry(self, job: Job, ch: "JobChange") -> None:
        info = R.RunDir(job.run_dir).read_run()
        max_attempts = int((info.get("slurm") or {}).get("max_attempts") or 1)
        if ch.slurm_state in RETRY_STATES and job.state == R.CRASHED and job.attempts < max_attempts:
            rd = R.RunDir(job.run_dir)
            rd.set_state(R.QUEUED, attempt=job.attempts + 1, reason=f"retry after {ch.slurm_state}")
            job.refresh()
            try:
                await self.submit(job, retry=True)
            except HeyHiError as e:
                log.warning("retry of %s failed: %s", job.job_id, e)

    async def _lost(self, sid: str) -> None:
        jid = self.by_slurm.pop(sid, None)
        self.poller.untrack(sid)
        job = self.store.jobs.get(jid) if jid else None
        if job is None:
            return
        R.RunDir(job.run_dir).set_state(R.LOST, only_if=R.LIVE_STATES,
                                        reason="Slurm no longer knows the job and it left no final record")
        job.refresh()
        self.on_change(job)

    # ---- cancelling -----------------------------------------------------------------------------
    async def cancel(self, job: Job, timeout: float = 120.0) -> None:
        """scancel, then wait until Slurm reports the job final."""
        sid = job.slurm_id
        if not sid:
            return
        ev = self._final_waiters.setdefault(sid, asyncio.Event())
        if sid not in self.by_slurm:
            self.track(job)
        try:
            await asyncio.to_thread(SL.cancel, sid)
        except SL.SlurmError as e:
            log.warning("scancel %s: %s", sid, e)
        self._wake.set()
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
