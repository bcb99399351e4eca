"""Slurm jobs in the daemon (the ``DaemonLauncher`` for ``heyhi.launchers.slurm``): submit, one
batched poll for all of them, cancel, retries, and a sweep's job arrays.

The poller (``launchers.slurm.SlurmPoller``) makes one ``squeue`` call per interval for all of
the user's jobs, and one ``sacct`` only for jobs that ended; the interval backs off from ~2 s
after a submit or a change to 60 s when nothing changes. The batch scripts are rendered by
``heyhi.slurm.script``; the commands are ``heyhi.launchers.slurm``'s.

Cost and limits: a job's final sacct row (from the poller's batched sacct, no query of its own) is
recorded as the run's ``heyhi.cost.json`` (``heyhi.slurm.cost``, atomically; when slurmdbd lags, the
poller keeps the job in its sacct batch a few polls more), and its CPU-/GPU-hours go to the job's
``JobInfo``. An idle warning of the poller's live efficiency check (``heyhi.slurm.efficiency``) is
logged and becomes the job's ``efficiency_warning``, sent to subscribers as a JobEvent. The cluster's
limits (``heyhi.slurm.limits``: MaxArraySize, MaxJobCount, MaxSubmitJobs) are asked once per daemon
start; every Slurm query the poller makes is counted (``poller.rate``) for ``heyhi ctl status``.

Exactly once (``heyhi.launchers.slurm_once``): every submission is recorded as intended before sbatch
and carries its identity in the job's comment; a job whose id was not recorded when the daemon died is
looked up by that identity on restart (``readopt``, ``recover_array``) and adopted, or submitted when
Slurm has none.

Runs that ended while no daemon was up (``ended_unwatched``, on a daemon start) get the records a watched
run gets: the job id the job itself recorded goes to ``heyhi.jobid`` and its intent; Slurm's end
(``_record_end``: a time limit the job took for a cancel is a crash) and the cost come from the job's
final sacct row, fetched by the poller's one batched sacct (no query per run). Only runs the index last
saw live (they ended unwatched) or whose job id record is missing are looked at, and a folder is
written only when it is HeyHi's own run folder, under its launch lock (``_own_run``).

Segments (``heyhi.slurm.segments``): a run planned as N segments keeps at most two of its jobs in the
queue: the current segment's, and the next one's, submitted right after it with
``--dependency=afterok:<current>`` (its intent recorded in the chain record first). When the current job
ends well as a segment (the job recorded the run as waiting for segment k+1), the next becomes current
and the one after it is queued. A run that completes (its work done early, or the last segment) or
ends for good otherwise (crashed after its retries, cancelled) cancels the queued next; a crash is
"segment k of N failed: ...". A retry of segment k re-queues the next after the retried job.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from heyhi.runs import guard, records as R, roots_for, run_lock
from heyhi.errors import HeyHiError, NothingStarted, Refused
from heyhi.launchers import containers as CT
from heyhi.launchers import slurm as SL
from heyhi.launchers import slurm_once as once
from heyhi.slurm.identity import identity, with_identity
from heyhi.slurm import cost as C, limits as LIM, query as SQ, segments as SEG
from heyhi.slurm.script import render_array

from heyhi_daemon.job_store import Job, JobStore, job_id_of
from heyhi_daemon.launchers.slurm_poller import JobChange, SlurmPoller

log = logging.getLogger("heyhi.daemon.slurm")
RETRY_STATES = frozenset({"FAILED", "NODE_FAIL", "OUT_OF_MEMORY"})
DEFAULT_MAX_ARRAY = LIM.DEFAULT_MAX_ARRAY  # MaxArraySize when scontrol does not say
#: Slurm ends a job with SIGTERM in these states too: a job that recorded "cancelled" was not (what it was)
NOT_A_CANCEL = {"TIMEOUT": "time limit reached", "PREEMPTED": "preempted", "NODE_FAIL": "node failure",
                "OUT_OF_MEMORY": "out of memory", "DEADLINE": "deadline reached"}


def _known_ids(job: Job) -> list[str]:
    """The Slurm ids recorded for a run folder so far: never adopted for a new submission of it."""
    ids = [str(h) for h in job.history_ids if h and not str(h).startswith("local:")]
    ids += [str(p.get(k)) for p in job.previous for k in ("slurm_id", "jobid") if p.get(k)]
    ids += [str(i) for i in SEG.read(Path(job.run_dir)).get("jobs") or ()]  # every segment's job
    return sorted({i.split("_")[0] for i in ids})


def _array_path(script: Path) -> Path:
    """The path an array's identity is a hash of: its script's, without the suffix (``arrays/0003``)."""
    return Path(script).with_suffix("")


def _sbatch_once(script: Path, timeout: float) -> str:
    """sbatch, between the two test hooks (``heyhi.launchers.slurm_once.test_pause``). Blocking."""
    once.test_pause(once.PAUSE_BEFORE_SBATCH)
    slurm_id = SL.submit(script, timeout=timeout)
    once.test_pause(once.PAUSE_AFTER_SBATCH)
    return slurm_id


def _record_end(rd: "R.RunDir", ch: JobChange, cur: str | None) -> None:
    """Slurm's word on how its job ended over the run's record (``cur``: the state it holds): a job that
    took Slurm's SIGTERM for a cancel (time limit, preemption, node failure, no memory) crashed, named
    so; a job that recorded no end (killed, timed out, node failure) gets Slurm's. The one rule, for
    watched runs and runs that ended while no daemon was up."""
    if cur == R.CANCELLED and ch.slurm_state in NOT_A_CANCEL:
        rd.set_state(R.CRASHED, only_if=frozenset({R.CANCELLED}), exit_code=ch.exit_code,
                     reason=f"Slurm: {ch.slurm_state} ({NOT_A_CANCEL[ch.slurm_state]})", slurm_state=ch.slurm_state)
    elif cur in R.LIVE_STATES:
        if ch.state == R.COMPLETED:
            rd.set_state(R.COMPLETED, only_if=R.LIVE_STATES, exit_code=0, slurm_state=ch.slurm_state)
        elif ch.state == R.CANCELLED:
            rd.set_state(R.CANCELLED, only_if=R.LIVE_STATES, exit_code=ch.exit_code, reason=f"Slurm: {ch.slurm_state}")
        else:
            rd.set_state(R.CRASHED, only_if=R.LIVE_STATES, exit_code=ch.exit_code, reason=f"Slurm: {ch.slurm_state}",
                         slurm_state=ch.slurm_state)


def _write_cost(rd: "R.RunDir", ch: JobChange) -> dict | None:
    """Write what the job cost (``heyhi.cost.json``, atomically) from its final sacct row, if sacct gave
    one; that cost, or None."""
    c = C.cost_of(ch.acct) if ch.acct is not None else None
    if c is None:
        return None
    try:
        R.write_atomic(Path(rd.path) / C.COST_FILE, json.dumps(c, indent=1, sort_keys=True))
        log.debug("%s: cost of Slurm job %s recorded", rd.path, ch.job_id)
    except OSError as e:
        log.warning("%s: cannot record the cost: %s", rd.path, e)
    return c


def _slurm_id(st: dict) -> str | None:
    """The Slurm job id a status record names (the job records its own when it starts), if it is one."""
    sid = str(st.get("slurm_id") or "")
    return sid if SQ.is_job_id(sid) else None


@contextmanager
def _own_run(run_dir: str, results_root: str | None) -> Iterator["R.RunDir"]:
    """The run folder ``run_dir`` under its launch lock (``heyhi.runs.run_lock``: taken at once, else
    ``Busy``), when it is HeyHi's own run folder at that very path (its run record there; no symlink,
    results root or HeyHi state: ``heyhi.runs.guard``), else ``Refused``. Blocking."""
    roots = roots_for([])
    folder = guard.check_writable(run_dir, roots)
    if str(folder) != str(run_dir) or not guard.is_run_folder(folder):
        raise Refused(f"{run_dir}: not HeyHi's run folder: its records are left as they are")
    with run_lock(folder, results_root or folder.parent, roots):
        if not guard.is_run_folder(folder):  # wiped meanwhile
            raise Refused(f"{run_dir}: not HeyHi's run folder any more: its records are left as they are")
        yield R.RunDir(folder)


def _fill_job_id(run_dir: str, results_root: str | None, seen_live: bool) -> str | None:
    """A run that is final now, after a daemon restart: the job id its job recorded goes to
    ``heyhi.jobid`` and to its pending intent (that submission is done), as for a watched run; the Slurm
    id whose final sacct row it still needs (no ``heyhi.cost.json`` of that job), or None. Looked at only
    when the index last saw it live (``seen_live``: it ended unwatched) or its job id record is missing.
    Blocking."""
    rd = R.RunDir(run_dir)
    intent_path = rd.path / once.INTENT
    try:
        sid = _slurm_id(rd.read_status() or {})
        if sid is None:
            return None

        def adoptable(intent) -> bool:  # a pending intent whose submission this job is (not an earlier one)
            return once.is_pending(intent) and sid.split("_")[0] not in (intent.get("known") or ())

        missing = rd.read_jobid() != sid or adoptable(once.read_intent(intent_path))
        if not (seen_live or missing):
            return None
        if missing:
            with _own_run(run_dir, results_root):
                st = rd.read_status() or {}
                if st.get("state") not in R.FINAL_STATES or _slurm_id(st) != sid:
                    return None  # launched again meanwhile: not this run's end any more
                intent = once.read_intent(intent_path)
                if rd.read_jobid() != sid:
                    rd.write_jobid(sid)
                if adoptable(intent):
                    once.mark_submitted(intent_path, intent, sid)
                log.info("%s: Slurm job %s ended while no daemon was up: its id recorded", run_dir, sid)
    except (HeyHiError, OSError) as e:  # Busy (a launch holds it), Refused, a newer HeyHi's record
        log.info("%s: the records of its end are not filled in: %s", run_dir, e)
        return None
    cost = C.read_cost(run_dir)
    return None if cost and str(cost.get("slurm_id")) == sid else sid


def _settle_unwatched(run_dir: str, results_root: str | None, ch: JobChange) -> dict | None:
    """The final sacct row of a run that ended while no daemon was up: Slurm's end over its record
    (``_record_end``) and its cost, written under its launch lock; that cost, or None. Blocking."""
    try:
        with _own_run(run_dir, results_root) as rd:
            st = rd.read_status() or {}
            if st.get("state") not in R.FINAL_STATES or _slurm_id(st) != ch.job_id:
                return None  # launched again meanwhile
            _record_end(rd, ch, st.get("state"))
            return _write_cost(rd, ch)
    except (HeyHiError, OSError) as e:
        log.info("%s: the records of its end are not filled in: %s", run_dir, e)
        return None


class SlurmTracker:
    name = SL.SLURM.name

    def __init__(self, store: JobStore, on_change: Callable[[Job], None], min_interval: float = 2.0,
                 max_interval: float = 60.0, run=None):
        self.store = store
        self.on_change = on_change
        # sacct_retries: polls a job final in squeue waits for its sacct row (exit code, cost) when
        # slurmdbd lags behind a busy controller
        self.poller = SlurmPoller(run, min_interval=min_interval, max_interval=max_interval, sacct_retries=8)
        self.by_slurm: dict[str, str] = {}  # slurm id -> job id
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._final_waiters: dict[str, asyncio.Event] = {}
        self._limits: LIM.Limits | None = None
        # Slurm id -> run folder of a job already final whose sacct row (what it cost) has not come yet:
        # the poller keeps it in its sacct batch until the row comes or its retries run out
        self._cost_pending: dict[str, str] = {}
        # Slurm id -> (run folder, results root) of a run that ended while no daemon was up, waiting for
        # its final sacct row (ended_unwatched): kept until the row comes or the poller drops the job
        self._unwatched: dict[str, tuple[str, str | None]] = {}

    # ---- the DaemonLauncher interface -------------------------------------------------------------
    async def start(self, job: Job) -> None:
        await self.submit(job)

    def readopt(self, job: Job, status: dict) -> bool:
        """After a daemon restart: the poller follows the job again. A submission whose job id was
        never recorded (the daemon died around sbatch) is looked up by its identity first
        (``heyhi.launchers.slurm_once``): the job found is adopted, none found is submitted now."""
        intent = once.read_intent(Path(job.run_dir) / once.INTENT)
        if once.is_pending(intent):
            asyncio.get_running_loop().create_task(self._recover(job, status, intent))
            return False
        self.track(job)
        return False

    def ended_unwatched(self, ended: list[tuple[Job, bool]]) -> None:
        """After a daemon restart: the final Slurm runs of the index, each with whether the index last saw
        it live. Those that ended while no daemon was up get the records of a watched run (see the module
        docstring); done in the background, their sacct rows in the poller's next batched sacct."""
        if ended:
            items = [(j.job_id, j.run_dir, j.results_root, seen_live) for j, seen_live in ended]
            asyncio.get_running_loop().create_task(self._catch_up(items))

    async def _catch_up(self, items: list[tuple[str, str, str, bool]]) -> None:
        def fill():
            return [(run_dir, root, sid) for _, run_dir, root, seen in items
                    if (sid := _fill_job_id(run_dir, root, seen))]

        try:
            need = await asyncio.to_thread(fill)
        except Exception:  # noqa: BLE001 - the daemon goes on without these records
            log.exception("slurm: filling in the records of runs that ended while no daemon was up failed")
            return
        for run_dir, root, sid in need:
            self._unwatched[sid] = (run_dir, root)
            self._follow(sid)
        if need:
            log.info("slurm: %d runs ended while no daemon was up: their sacct rows asked for", len(need))

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
            intent_path = Path(job.run_dir) / once.INTENT
            intent = once.write_intent(intent_path, identity(job.run_dir), _known_ids(job))
            slurm_id = await asyncio.to_thread(_sbatch_once, script, SL.submit_timeout())
        except (ValueError, SL.SlurmError, OSError) as e:
            why = f"{e.filename}: {e.strerror}" if isinstance(e, OSError) else str(e)
            if not retry:
                raise NothingStarted(f"nothing started: Slurm submission failed: {why}") from None
            rd.set_state(R.CRASHED, reason=f"submit: {why}")
            job.refresh()
            self.on_change(job)
            raise HeyHiError(f"Slurm submission failed: {why}") from None
        self._record(job, slurm_id, intent_path, intent)
        await self._chain(job, slurm_id)

    def _record(self, job: Job, slurm_id: str, intent_path: Path, intent: dict, reason: str | None = None) -> None:
        """The job id of a submission: in the run folder (``heyhi.jobid``, the status), then in its
        intent (that submission is done); the poller follows it."""
        rd = R.RunDir(job.run_dir)
        rd.write_jobid(slurm_id)
        n = SEG.planned(rd.read_run())
        seg = {}
        if n > 1:
            k = min(max(1, int((rd.read_status() or {}).get("segment") or 1)), n)
            seg = dict(segment=k, segments=n)
            reason = reason or SEG.reason(k, n)
        rd.set_state(R.SUBMITTED, only_if=frozenset({R.QUEUED, R.SUBMITTED}), slurm_id=slurm_id, jobid=slurm_id,
                     launcher=self.name, attempt=job.attempts or 1, reason=reason, **seg)
        once.mark_submitted(intent_path, intent, slurm_id)
        job.refresh()
        job.slurm_id = slurm_id
        if slurm_id not in job.history_ids:
            job.history_ids.append(slurm_id)
        self.on_change(job)
        self.track(job)

    async def _recover(self, job: Job, status: dict, intent: dict) -> None:
        """A submission without a recorded job id: adopt the job Slurm has with its identity (the
        one the job itself recorded when it started, else one squeue, then sacct), or submit it now
        when Slurm has none. While Slurm cannot be asked, ask again later: never submit blindly."""
        known = set(intent.get("known") or ())
        sid = status.get("slurm_id")
        delay = 2.0
        while not sid or sid.split("_")[0] in known:
            try:
                sid = await asyncio.to_thread(once.find_submitted, intent)
                break
            except SL.SlurmError as e:
                log.warning("%s: cannot look up its Slurm job yet (%s); asking again in %g s", job.run_dir, e, delay)
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)
        path = Path(job.run_dir) / once.INTENT
        if sid:
            log.info("%s: adopted Slurm job %s (submitted before the daemon stopped)", job.run_dir, sid)
            self._record(job, sid, path, intent, reason=f"adopted Slurm job {sid} after a daemon restart")
            await self._chain(job, sid)
            return
        log.info("%s: Slurm has no job %s: submitting it now", job.run_dir, intent.get("identity"))
        try:
            await self.submit(job, retry=True)
        except HeyHiError as e:
            log.warning("submission of %s failed: %s", job.job_id, e)

    # ---- job arrays (a sweep's points) --------------------------------------------------------------
    def limits(self) -> LIM.Limits:
        """The cluster's limits (``heyhi.slurm.limits``): ``scontrol show config`` and sacctmgr's
        MaxSubmit, asked once per daemon start (each call counted in the query rate); a command that
        fails leaves its values unknown. Blocking: call it in a thread."""
        if self._limits is None:
            run = self.poller.run
            try:
                lim = LIM.parse_config(run(LIM.config_argv()))
            except SL.SlurmError as e:
                log.warning("scontrol show config: %s (MaxArraySize taken as %d)", e, DEFAULT_MAX_ARRAY)
                lim = LIM.Limits(None, None)
            try:
                lim = lim._replace(max_submit=LIM.parse_max_submit(run(LIM.assoc_argv())))
            except SL.SlurmError as e:  # no slurmdbd: MaxSubmitJobs unknown
                log.info("sacctmgr show assoc: %s (MaxSubmitJobs unknown)", e)
            self._limits = lim
        return self._limits

    def max_array_size(self) -> int:
        """The most tasks one array may have: the cluster's ``MaxArraySize`` (asked once), lowered by
        ``$HEYHI_MAX_ARRAY_SIZE`` (tests). Blocking: call it in a thread."""
        try:
            lim = LIM.with_override(self.limits(), os.environ.get("HEYHI_MAX_ARRAY_SIZE"))
        except ValueError as e:
            log.warning("%s: ignored", e)
            lim = self.limits()
        return lim.array_size()

    def _record_cost(self, rd: "R.RunDir", ch: JobChange) -> Job | None:
        """Write what the job cost (``heyhi.cost.json``, atomically) from its final sacct row, if sacct gave one,
        and give its CPU-/GPU-hours to the run's job (``JobInfo``); that job, or None (no cost, no job)."""
        return self._give_cost(rd.path, _write_cost(rd, ch))

    def _give_cost(self, run_dir, c: dict | None) -> Job | None:
        """The CPU-/GPU-hours of cost ``c`` to the job of ``run_dir`` (``JobInfo``); that job, or None."""
        if c is None:
            return None
        job = self.store.jobs.get(job_id_of(run_dir))
        if job is not None:
            job.cpu_hours, job.gpu_hours = c["cpu_hours"], c["gpu_hours"]
        return job

    async def submit_array(self, settings: dict, name: str, list_file: Path, n: int, throttle: int | None,
                           script: Path, out_dir: Path, intent_path: Path | None = None,
                           dependency: str | None = None) -> str:
        """Write the batch script of an array of ``n`` tasks (task i runs the folder on line i+1 of
        ``list_file``; at most ``throttle`` at once) to ``script`` and submit it; the array's id. A
        rejection is a one-line ``NothingStarted``. The array's comment carries its identity (a hash of
        ``script`` without its suffix); with ``intent_path`` the intent is recorded there before sbatch.
        ``dependency`` (``afterany:ID``): the array waits for that job (a launch's earlier chunk) to end."""
        try:
            spec = SL.spec_of(settings, name)
            spec.comment = with_identity(spec.comment, identity(_array_path(script)))
            # the points of one sweep share a container (if any): the first folder's record says which
            first = R.RunDir(list_file.read_text()[:65536].split("\n", 1)[0].strip()).read_run() or {}
            python = CT.job_python(first) if first.get("container") else sys.executable
            script.write_text(render_array(spec, list_file, n, throttle, python, out_dir, dependency,
                                           prefix=CT.shell_prefix(first, '"$d"')))
            if intent_path is not None:
                once.write_intent(intent_path, identity(_array_path(script)), launcher=self.name)
            return await asyncio.to_thread(_sbatch_once, script, SL.DEFAULT_TIMEOUT_S)
        except (ValueError, SL.SlurmError) as e:
            raise NothingStarted(str(e)) from None

    async def recover_array(self, intent_path: Path, intent: dict, script: Path) -> str:
        """An array whose id was never recorded (the daemon died around sbatch): the array Slurm
        has with its identity, else the same script submitted now (under a fresh intent). Its id;
        ``NothingStarted`` when Slurm cannot be asked or refuses."""
        try:
            found = await asyncio.to_thread(once.find_submitted, intent)
            if found:
                log.info("adopted Slurm array %s (%s, submitted before the daemon stopped)", found, script)
                return found
            once.write_intent(intent_path, str(intent["identity"]), launcher=self.name)
            return await asyncio.to_thread(_sbatch_once, script, SL.DEFAULT_TIMEOUT_S)
        except (OSError, SL.SlurmError) as e:
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
        self._cost_pending.pop(sid, None)  # live again (requeued): its final row is yet to come
        self._follow(sid)

    def _follow(self, sid: str) -> None:
        """The poller follows Slurm job ``sid`` from its next poll (now)."""
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
                try:
                    await self._apply(ch)
                except Exception:  # noqa: BLE001 - one job's change must not stop the polling of all
                    log.exception("slurm: applying %s failed", ch[:3])
            while self.poller.efficiency_warnings:  # live efficiency (one batched sstat per interval)
                self._warn(self.poller.efficiency_warnings.popleft())
            for sid, n in list(self.poller.missing.items()):
                if n >= 3:
                    await self._lost(sid)
            for pending in (self._cost_pending, self._unwatched):
                if pending:
                    tracked = self.poller.tracked
                    for sid in [s for s in pending if s not in tracked]:  # sacct never gave it
                        del pending[sid]

    def _warn(self, w) -> None:
        """An idle warning (``heyhi.slurm.efficiency.IdleWarning``): one log line, and the job's latest
        warning, sent to subscribers as a JobEvent (``heyhi ctl show`` and the TUI show it)."""
        log.warning("%s", w.text)
        jid = self.by_slurm.get(w.job)
        job = self.store.jobs.get(jid) if jid else None
        if job is not None:
            job.efficiency_warning = w.text
            self.on_change(job)

    async def _apply(self, ch: "JobChange") -> None:
        unwatched = self._unwatched.get(ch.job_id)
        if unwatched is not None:  # ended while no daemon was up: only its final sacct row was awaited
            if ch.acct is not None:
                del self._unwatched[ch.job_id]
                c = await asyncio.to_thread(_settle_unwatched, *unwatched, ch)
                job = self.store.jobs.get(job_id_of(unwatched[0]))
                if job is not None:
                    job.refresh()
                    self._give_cost(unwatched[0], c)
                    self.on_change(job)
            return
        run_dir = self._cost_pending.get(ch.job_id)
        if run_dir is not None:  # final already: only its sacct row (the cost) was awaited
            if ch.acct is not None:
                del self._cost_pending[ch.job_id]
                job = self._record_cost(R.RunDir(run_dir), ch)
                if job is not None:
                    self.on_change(job)
            return
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
            n_seg = SEG.planned(rd.read_run())
            chain = (SEG.read(Path(job.run_dir)) or {"segments": n_seg, "jobs": {}, "next": None}) if n_seg > 1 else {}
            k = SEG.segment_of(chain, ch.job_id)
            if k is None and chain and cur == R.SUBMITTED and st.get("slurm_id") == ch.job_id:
                k = int(st.get("segment") or 1) - 1  # a job outside the chain record (a sweep's array task)
            if k and ch.state == R.COMPLETED and int(st.get("segment") or 1) > k:
                await self._advance(job, rd, ch, chain, k)  # segment k ended well: the run moved on
                return
            _record_end(rd, ch, cur)
            self._record_cost(rd, ch)
            if ch.acct is None and ch.job_id in self.poller.tracked:
                self._cost_pending[ch.job_id] = str(job.run_dir)  # sacct lags: the poller keeps asking
            else:
                self.poller.untrack(ch.job_id)
            self.by_slurm.pop(ch.job_id, None)
            job.refresh()
            self.on_change(job)
            ev = self._final_waiters.pop(ch.job_id, None)
            if ev:
                ev.set()
            await self._maybe_retry(job, ch)
            if chain:
                await self._chain_ended(job)
            return
        if job.refresh() or True:
            self.on_change(job)

    # ---- segments (heyhi.slurm.segments) ---------------------------------------------------------
    async def _chain(self, job: Job, slurm_id: str) -> None:
        """A segmented run's job ``slurm_id`` was submitted: record the segment it runs and queue the next."""
        rd = R.RunDir(job.run_dir)
        n = SEG.planned(rd.read_run())
        if n <= 1:
            return
        k = min(max(1, int((rd.read_status() or {}).get("segment") or 1)), n)
        chain = SEG.read(rd.path) or {"jobs": {}, "next": None}
        chain["segments"] = n
        chain["jobs"][str(slurm_id)] = k
        try:
            SEG.write(rd.path, chain)
        except OSError as e:
            log.warning("%s: cannot record its segments: %s", job.run_dir, e)
            return
        await self._submit_next(job, str(slurm_id), chain)

    async def _submit_next(self, job: Job, after: str, chain: dict) -> None:
        """Queue the job of the segment after the one Slurm job ``after`` runs, held by
        ``--dependency=afterok:<after>``; an earlier queued next (after a job that failed) is cancelled.
        Its intent is recorded in the chain first; a failed sbatch leaves it to the end of ``after``."""
        k, n = SEG.segment_of(chain, after), int(chain.get("segments") or 1)
        if k is None or k >= n:
            return
        await self._cancel_next(job, chain)
        path = Path(job.run_dir)
        chain["next"] = {"segment": k + 1, "slurm_id": None, "after": after, "at": time.time()}
        try:
            SEG.write(path, chain)
            sid = await asyncio.to_thread(SL.submit, path / SL.SCRIPT, timeout=SL.submit_timeout(),
                                          dependency=f"afterok:{after}")
        except (OSError, SL.SlurmError) as e:
            log.warning("%s: cannot queue segment %d yet (%s): submitted when segment %d ends", job.run_dir,
                        k + 1, e, k)
            return
        chain["jobs"][sid] = k + 1
        chain["next"] = {"segment": k + 1, "slurm_id": sid, "after": after}
        SEG.write(path, chain)
        log.info("%s: segment %d of %d queued as Slurm job %s (afterok:%s)", job.run_dir, k + 1, n, sid, after)

    async def _cancel_next(self, job: Job, chain: dict) -> None:
        """scancel the queued next segment's job, if any, and forget it."""
        nxt = chain.get("next") or {}
        if nxt.get("slurm_id"):
            try:
                await asyncio.to_thread(SL.cancel, str(nxt["slurm_id"]))
            except SL.SlurmError as e:
                log.warning("scancel %s (next segment of %s): %s", nxt["slurm_id"], job.run_dir, e)
        if chain.get("next") is not None:
            chain["next"] = None
            try:
                SEG.write(Path(job.run_dir), chain)
            except OSError as e:
                log.warning("%s: cannot record its segments: %s", job.run_dir, e)

    async def _advance(self, job: Job, rd: "R.RunDir", ch: "JobChange", chain: dict, k: int) -> None:
        """Segment k's job ``ch`` ended well: the queued next becomes the run's job (found by its identity
        when the daemon died around its sbatch; submitted now when there is none), the one after is queued."""
        self._record_cost(rd, ch)
        self.poller.untrack(ch.job_id)
        self.by_slurm.pop(ch.job_id, None)
        nxt = chain.get("next") or {}
        sid = str(nxt["slurm_id"]) if nxt.get("after") == ch.job_id and nxt.get("slurm_id") else None
        if sid is None and nxt.get("after") == ch.job_id:  # intended, its id never recorded
            intent = {"identity": identity(job.run_dir), "at": nxt.get("at") or 0, "known": _known_ids(job)}
            try:
                sid = await asyncio.to_thread(once.find_submitted, intent)
            except SL.SlurmError as e:
                log.warning("%s: cannot look up the next segment's job (%s)", job.run_dir, e)
        chain["next"] = None
        st = rd.read_status() or {}
        if sid is None:
            SEG.write(rd.path, chain)
            if st.get("state") == R.SUBMITTED:
                try:
                    await self.submit(job, retry=True)
                except HeyHiError as e:
                    log.warning("segment %s of %s: %s", st.get("segment"), job.job_id, e)
            return
        chain["jobs"][sid] = k + 1
        SEG.write(rd.path, chain)
        rd.write_jobid(sid)
        rd.set_state(R.SUBMITTED, only_if=lambda c: c.get("state") == R.SUBMITTED and c.get("slurm_id") != sid,
                     slurm_id=sid, jobid=sid)
        job.refresh()
        job.slurm_id = sid
        for i in (ch.job_id, sid):
            if i not in job.history_ids:
                job.history_ids.append(i)
        self.on_change(job)
        self.track(job)
        if (rd.read_status() or {}).get("state") not in R.FINAL_STATES:
            await self._submit_next(job, sid, chain)

    async def _chain_ended(self, job: Job) -> None:
        """The run's current job ended: a run that ended for good (completed, crashed after its retries,
        cancelled) cancels its queued next segment; a crash Slurm recorded names the segment."""
        rd = R.RunDir(job.run_dir)
        st = rd.read_status() or {}
        if st.get("state") not in R.FINAL_STATES:
            return  # retried: the retry queued the next again
        await self._cancel_next(job, SEG.read(rd.path))
        n, k = int(st.get("segments") or 0), int(st.get("segment") or 1)
        if st.get("state") == R.CRASHED and n > 1 and not str(st.get("reason") or "").startswith("segment "):
            rd.set_state(R.CRASHED, reason=SEG.reason(k, n, f"failed: {st.get('reason') or 'crashed'}"))
            job.refresh()
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
        if SEG.planned(R.RunDir(job.run_dir).read_run()) > 1:
            await self._cancel_next(job, SEG.read(Path(job.run_dir)))
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
