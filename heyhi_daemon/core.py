"""The daemon's core: composition, launches, job state, restarts, wipes, live logs.

It walks the same path as the embedded CLI (``heyhi.config.compose`` -> ``heyhi.runs.outdir`` ->
``heyhi.runs.sequence`` -> ``python -m heyhi.job``); blocking work (composition, snapshots, wipes)
runs in threads so the event loop keeps answering. A job is started, re-adopted after a restart and
stopped by its launcher's daemon side (``heyhi_daemon.launchers``: ``daemon_launcher(job.launcher)``),
never by asking which launcher it is. The sweep manager uses ``composer``, ``changed`` and
``daemon_launcher``.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import AsyncIterator

from heyhi.wire import protocol as P
from heyhi.runs import (
    records as R, Host, NeedsConfirm, Plan, guard, launch as run_sequence, ownership, remove_stale_aside,
    roots_for, run_lock, wipe as do_wipe,
)
from heyhi.errors import ConfigError, HeyHiError, Busy, NothingStarted, Refused
from heyhi.runs.formats import NewerFormat
from heyhi.states import JobState, RunState
from heyhi.wire.protocol import (
    Cancel, DirEntry, DirListing, Error, FileData, JobDetail, JobEvent, JobList, Launch, Launched, ListDir,
    ListJobs, Logs, Ok, OverrideError, ReadFile, Restart, ShowJob, Subscribe, Validate, ValidateResult, Wipe,
    FieldDoc, FieldList,
)

from heyhi.launchers import DEFAULT as DEFAULT_LAUNCHER, for_config, get as get_launcher
from heyhi_daemon.job_store import Job, JobStore, job_id_of
from heyhi_daemon.launchers.local import LocalLauncher
from heyhi_daemon.logs import follow, last_lines_offset
from heyhi_daemon.sweep_manager import SweepManager
from heyhi.runs.ownership import launches_since
from heyhi.wire.limits import MAX_DIR_ENTRIES, MAX_READ_LENGTH


def _error_of(e: HeyHiError) -> Error:
    """The protocol's answer to a HeyHi error (its exit code picks the code)."""
    if isinstance(e, Refused):
        return Error(P.REFUSED, str(e))
    if isinstance(e, NothingStarted):
        return Error(P.NOTHING_STARTED, str(e))
    if e.exit_code == 3:
        return Error(P.TAKEN, str(e))
    if e.exit_code == 2:
        return Error(P.BAD_REQUEST, str(e))
    return Error(P.FAILED, str(e))


def _schema_signature(project_root: str) -> tuple:
    """What the project's schema is read from (``conf/*.proto``, ``conf/*.py``, pyproject.toml), by
    name, size and mtime: the daemon's cached composer is rebuilt when any of it changes."""
    root = Path(project_root)
    files = [root / "pyproject.toml", *sorted((root / "conf").glob("*.proto")), *sorted((root / "conf").glob("*.py"))]
    sig = []
    for f in files[:1000]:
        try:
            st = f.stat()
        except OSError:
            continue
        sig.append((f.name, st.st_size, st.st_mtime_ns))
    return tuple(sig)


def _typed(cls: type, records: list) -> list:
    """Protocol values (``HistoryEntry``, ``PreviousRun``) from a record's dicts: the keys the class
    has, the ones not recorded (absent or null) left at their defaults; a row whose state is not a
    ``RunState`` (a hand-edited record) is left out rather than sent."""
    names = set(P.field_names(cls))
    out = []
    for d in records:
        if not isinstance(d, dict) or d.get("state") not in _RUN_STATES:
            continue
        kw = {k: v for k, v in d.items() if k in names and v is not None}
        out.append(cls(**{**kw, "state": RunState(kw["state"])}))
    return out


_RUN_STATES = frozenset(RunState)


_PREVIOUS_KEYS = ("state", "exit_code", "reason", "jobid", "slurm_id", "pid", "started", "ended", "attempt")


class _DaemonHost(Host):
    """The launch sequence's host in the daemon: runs in a worker thread; the index, the local
    queue and the Slurm tracker are touched on the event loop."""

    def __init__(self, core: "DaemonCore", loop: asyncio.AbstractEventLoop, project, composed, results_root: Path):
        self.core, self.loop = core, loop
        self.project, self.composed, self.results_root = project, composed, results_root
        self.launcher = for_config(composed).name
        self.job: Job | None = None
        self.existed = False

    def _on_loop(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self, folder: Path, status: dict) -> None:
        existing = self.core.store.jobs.get(job_id_of(folder))
        if existing is not None:
            self._on_loop(self.core._stop(existing))
        else:
            super().stop(folder, status)

    def before_write(self, folder: Path, previous: dict) -> None:
        async def add():
            store = self.core.store
            existing = store.jobs.get(job_id_of(folder))
            self.existed = existing is not None
            prev = list(existing.previous) if existing else []
            if previous:
                prev.append({k: previous.get(k) for k in _PREVIOUS_KEYS if previous.get(k) is not None})
            # Write-ahead: the index knows the job before its folder says "queued", so a daemon
            # killed in between finds it again on restart (reconcile) and never loses it.
            job = store.add(folder, config=str(self.composed.config), tag=folder.name,
                            project_root=str(self.project.root), results_root=str(self.results_root),
                            launcher=self.launcher)
            job.previous = prev
            store.save()
            self.job = job

        self._on_loop(add())

    def start(self, folder: Path, info: dict) -> Job:
        async def go():
            job = self.job
            job.refresh()
            job.pid = None
            job.exit_code = None
            self.core.changed(job)
            await self.core.daemon_launcher(self.launcher).start(job)
            return job

        return self._on_loop(go())

    def abort(self, folder: Path) -> None:
        async def forget():
            job = self.job
            if job is None:
                return
            store = self.core.store
            if job.job_id in store.queue:
                store.queue.remove(job.job_id)
            if not self.existed:
                store.jobs.pop(job.job_id, None)
                job.state = JobState.WIPED
            else:
                job.refresh()
            self.core.changed(job)
            store.save()

        self._on_loop(forget())

_RECHECKS = 3  # Validate: how many more compositions may drop an override that failed only there


class DaemonCore:
    """Implements ``heyhi_daemon.server.Core``."""

    def __init__(self, state_dir: Path, max_local: int | None = None, slurm_poll: dict | None = None):
        self.store = JobStore(Path(state_dir))
        self.local = LocalLauncher(self.store, max_local, on_change=self.changed)
        self.subscribers: set[asyncio.Queue] = set()
        self.slurm = None  # the Slurm tracker, made on first use
        self._slurm_opts = slurm_poll or {}
        self._composers: dict[str, object] = {}
        self._save_task: asyncio.Task | None = None
        self.sweeps = SweepManager(self)

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.store.load():
            roots = [os.environ["HH_EXP_DIR"]] if os.environ.get("HH_EXP_DIR") else []
            await asyncio.to_thread(self.store.rebuild, roots)
        await self._reconcile()
        await self.sweeps.start()  # sweeps: resume the active ones

    async def save(self) -> None:
        if self.slurm is not None:
            await self.slurm.close()
        self.store.save()

    async def _reconcile(self) -> None:
        """After a (re)start: re-adopt live local jobs, mark dead ones lost, restore the queue,
        and hand Slurm jobs to the poller; final runs of a scheduler (their end may have come while no
        daemon was up) go to its daemon side's ``ended_unwatched``, with whether the index saw them live."""
        queued = []
        ended: dict[str, list] = {}  # launcher -> [(job, the index last saw it live)]
        for job in list(self.store.jobs.values()):
            try:
                st = R.RunDir(job.run_dir).read_status()
            except NewerFormat as e:  # a newer HeyHi's run: left alone (not adopted, never marked lost)
                job.reason = str(e)
                continue
            if st is None:
                # A launch the daemon died in before the folder was written: nothing to run.
                if job.state in R.LIVE_STATES:
                    self.store.jobs.pop(job.job_id, None)
                continue
            seen_live = job.state in R.LIVE_STATES
            job.refresh(st)
            if job.state not in R.LIVE_STATES:
                if not get_launcher(job.launcher).by_process:  # a scheduler's job: records from the scheduler
                    ended.setdefault(job.launcher, []).append((job, seen_live))
                continue
            if self.daemon_launcher(job.launcher).readopt(job, st):
                queued.append(job)
        for name, jobs in ended.items():
            self.daemon_launcher(name).ended_unwatched(jobs)
        order = {jid: i for i, jid in enumerate(self.store.queue)}
        queued.sort(key=lambda j: (order.get(j.job_id, 1 << 30), j.created))
        self.store.queue = [j.job_id for j in queued]
        self.local.pump()
        self.store.save()

    def daemon_launcher(self, name: str | None):
        """The daemon side (``heyhi_daemon.launchers.DaemonLauncher``) of the launcher ``name``: the
        Slurm tracker (made on first use) for Slurm jobs, the local queue for every launcher whose jobs
        are processes (``heyhi.launchers``)."""
        launcher = get_launcher(name)
        if launcher.by_process:
            return self.local
        if self.slurm is None:
            from heyhi_daemon.launchers.slurm_tracker import SlurmTracker  # lean: keeps the start-up of the daemon from loading it

            self.slurm = SlurmTracker(self.store, self.changed, **self._slurm_opts)
        return self.slurm

    # ---- events ---------------------------------------------------------------------------------
    def changed(self, job: Job) -> None:
        """A job's view changed: tell the subscribers, save the index soon."""
        self.store.changed(job)
        ev = JobEvent(job=job.info())
        for q in list(self.subscribers):
            q.put_nowait(ev)
        self._schedule_save()

    def _schedule_save(self) -> None:
        if self._save_task is None or self._save_task.done():
            self._save_task = asyncio.get_running_loop().create_task(self._save_soon())

    async def _save_soon(self) -> None:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(self.store.save_if_dirty)

    # ---- composition ----------------------------------------------------------------------------
    def composer(self, project_root: str):
        """The project's composer, cached until one of its schema files changes."""
        from heyhi.config import Composer  # lean: keeps the start-up of the daemon from loading it
        from heyhi.config import Project  # lean: keeps the start-up of the daemon from loading it

        sig = _schema_signature(project_root)
        cached = self._composers.get(project_root)
        if cached is None or cached[0] != sig:  # a schema file changed: compose against today's
            cached = self._composers[project_root] = (sig, Composer(Project(project_root)))
        return cached[1]

    async def validate(self, req: Validate) -> ValidateResult | Error:
        return await asyncio.to_thread(self._validate, req)

    def _validate(self, req: Validate) -> ValidateResult | Error:
        """Each override is checked once (parsed, then applied in composition order to one message,
        a failing one skipped), then the config is composed once with the good ones: linear in the
        number of overrides."""
        from heyhi.runs import run_folder  # lean: keeps the start-up of the daemon from loading it
        from heyhi_daemon.configs import flat_rows  # lean: keeps the start-up of the daemon from loading it

        comp = self.composer(req.project_root)
        overrides = list(req.overrides)
        config = Path(req.config)
        errors: list[OverrideError] = []
        try:
            comp = comp.for_config(config)  # a script task: its derived schema (derived in a subprocess, cached)
        except HeyHiError as e:
            return ValidateResult(ok=False, errors=[OverrideError(-1, "", str(e))])

        def bad(i: int, e: ConfigError) -> None:
            key = overrides[i].lstrip("-").split("=", 1)[0]
            errors.append(OverrideError(i, key, e.message, len(key) + 1))

        try:
            active = self._check_overrides(comp, config, overrides, bad)
        except HeyHiError as e:
            return ValidateResult(ok=False, errors=[OverrideError(-1, "", str(e))])
        composed = None
        for _ in range(_RECHECKS + 1):  # overrides that fail only beside others: rare, bounded
            try:
                composed = comp.compose(config, [overrides[i] for i in active])
                break
            except ConfigError as e:
                i = self._override_of(e, overrides, active)
                if i is None:
                    return ValidateResult(ok=False, errors=errors + [OverrideError(-1, "", str(e))])
                bad(i, e)
                active.remove(i)
            except HeyHiError as e:
                return ValidateResult(ok=False, errors=[OverrideError(-1, "", str(e))])
        if composed is None:
            return ValidateResult(ok=False, errors=errors)
        project = comp.project
        root = Path(req.results_root) if req.results_root else project.results_root
        flat, flat_where = flat_rows(comp, composed)  # each value with its writer (file:line, include, override)
        out = run_folder(root, composed.config, project.conf_dir, composed.raw_overrides, req.adhoc)
        state, _ = R.RunDir(out).state(slurm_live=set()) if not errors else ("", {})
        return ValidateResult(ok=not errors, errors=sorted(errors, key=lambda x: x.index), flat=flat,
                              out_dir=str(out) if not errors else "", out_dir_state=state, task=composed.task,
                              flat_where=flat_where)

    @staticmethod
    def _override_of(e: ConfigError, overrides: list[str], active: list[int]) -> int | None:
        """The index (among ``active``) of the override a ``ConfigError`` carries, if it carries one."""
        if e.override is None:
            return None
        return next((i for i in active if overrides[i] == e.override.token), None)

    @staticmethod
    def _check_overrides(comp, config: Path, overrides: list[str], bad) -> list[int]:
        """The indices of the overrides that apply; ``bad(i, error)`` for each one that does not.

        Mirrors ``Composer.compose``: the config is composed once without overrides, then the
        effective overrides are applied to it in the same order (includes first), each once. A
        ``HeyHiError`` not naming an override (the config itself is bad) propagates.
        """
        from heyhi.config import apply_scalar, effective, parse_override  # lean: keeps the start-up of the daemon from loading it

        parsed, by_source = [], {}
        for i, token in enumerate(overrides):
            try:
                parsed.append(parse_override(token, i))
            except ConfigError as e:
                bad(i, e)
                continue
            by_source.setdefault(token, []).append(i)
        task = comp.task_of(config)
        msg = comp.load_message(config, comp.schema.root, (), task=task)
        dirs = comp.include_dirs(config)
        failed: set[int] = set()
        eff = effective(parsed)
        for includes in (True, False):
            for o in eff:
                if (o.kind == "include") != includes:
                    continue
                mount = f"{task}.{o.key}".strip(".")
                try:
                    if includes:
                        comp._apply_include(msg, mount, o.value, dirs, o.where, o.key)
                    else:
                        apply_scalar(msg, mount, o, f"{task}.")
                except ConfigError as e:
                    i = by_source[o.source][0]  # as a recomposition would: the first with this text
                    if i not in failed:
                        failed.add(i)
                        bad(i, e)
        return [o.index for o in parsed if o.index not in failed]

    # ---- launching ------------------------------------------------------------------------------
    async def launch(self, req: Launch) -> Launched | Error:
        try:
            return await self._launch(req)
        except HeyHiError as e:
            return _error_of(e)

    async def _launch(self, req: Launch, *, own_folder: str | None = None, composed=None,
                      said: str = "") -> Launched:
        """One launch through ``heyhi.runs.sequence`` (run in a worker thread: the folder lock,
        stops and the snapshot never block the loop; the index and the launchers are touched on
        the loop). ``own_folder``: a job's own folder (restart), used as the explicit folder;
        ``composed``: what to launch (a restart's recorded config) instead of composing ``req``;
        ``said``: added to the reason of a launch that runs."""
        from heyhi.runs import check_task  # lean: keeps the start-up of the daemon from loading it
        from heyhi.runs import run_folder  # lean: keeps the start-up of the daemon from loading it

        if composed is None:
            comp = self.composer(req.project_root)
            composed = await asyncio.to_thread(comp.compose, Path(req.config), list(req.overrides))
        project = composed.project
        computed_root = project.results_root  # from the daemon's environment and pyproject.toml
        await asyncio.to_thread(ownership.register_root, computed_root)
        results_root = Path(req.results_root) if req.results_root else computed_root
        await asyncio.to_thread(check_task, project, composed)
        out = own_folder or req.out
        run_dir = run_folder(results_root, composed.config, project.conf_dir, composed.raw_overrides, req.adhoc, out)
        if ownership.acceptable_root(results_root):  # never "/" (a rebuild would scan it)
            self.store.add_root(str(results_root))
        plan = Plan(project, composed, run_dir, results_root, req.mode, trusted_roots=[computed_root],
                    explicit_out=bool(out), yes=bool(req.force), expect_state=req.expect_state or "",
                    adhoc=req.adhoc, checkpoint=req.checkpoint, owner_pid=None)
        host = _DaemonHost(self, asyncio.get_running_loop(), project, composed, results_root)
        try:
            res = await asyncio.to_thread(run_sequence, plan, host)
        except NeedsConfirm as e:
            return Launched(job_id="", run_dir=str(e.folder), decision="confirm", state=e.state,
                            reason=f"the run is {e.state}: {req.mode} moves its folder to the trash")
        job_id = job_id_of(res.run_dir)
        if not res.decision.run:
            if job_id not in self.store.jobs and res.state != R.NOT_STARTED:
                job = self.store.add(res.run_dir, config=str(composed.config), tag=res.run_dir.name,
                                     project_root=str(project.root), results_root=str(results_root),
                                     launcher=host.launcher)
                job.refresh()
            return Launched(job_id=job_id, run_dir=str(res.run_dir), decision="skip", reason=res.decision.reason,
                            state=res.state)
        return Launched(job_id=job_id, run_dir=str(res.run_dir), decision=res.what,
                        reason=f"{res.decision.reason}; {said}" if said else res.decision.reason, state=res.state)

    # ---- jobs -----------------------------------------------------------------------------------
    def _resolve(self, ref: str) -> Job | Error:
        j = self.store.resolve(ref)
        if isinstance(j, str):
            return Error(P.AMBIGUOUS, j)
        if j is None:
            p = Path(ref).expanduser().absolute()
            if (p / R.STATUS).exists():
                info = R.RunDir(p).read_run()
                j = self.store.add(p, config=info.get("config", ""), tag=p.name, project_root=info.get("project_root", ""),
                                   results_root=info.get("results_root", ""), launcher=info.get("launcher", DEFAULT_LAUNCHER))
                j.refresh()
                return j
            return Error(P.NOT_FOUND, f"no job {ref!r} (an id, a unique id prefix or a run folder)")
        return j

    def _matches(self, job: Job, req: ListJobs) -> bool:
        if req.state and job.state != req.state:
            return False
        if req.config and req.config not in job.config:
            return False
        if req.text and req.text not in f"{job.job_id} {job.config} {job.tag} {job.run_dir} {job.reason}":
            return False
        return True

    async def _ingest_launches(self) -> None:
        """Index the run folders launched without the daemon since it last looked
        (``heyhi.runs.ownership.record_launch``), so a half-finished one is listed, never hidden."""
        def read():
            paths, offset = launches_since(getattr(self, "_launch_offset", 0))
            found = []
            for p in paths:
                if job_id_of(p) in self.store.jobs:
                    continue
                remove_stale_aside(Path(p))  # what a killed launch left half-written beside it
                if (Path(p) / R.STATUS).is_file():
                    try:
                        state, st = R.RunDir(p).state()  # judged: a killed launcher's run is lost
                        found.append((p, R.RunDir(p).read_run(), {**st, "state": state}))
                    except NewerFormat:  # a newer HeyHi's run: left alone
                        continue
            return found, offset

        found, self._launch_offset = await asyncio.to_thread(read)
        for p, info, st in found:
            job = self.store.add(Path(p), config=info.get("config", ""), tag=Path(p).name,
                                 project_root=info.get("project_root", ""), results_root=info.get("results_root", ""),
                                 launcher=info.get("launcher", DEFAULT_LAUNCHER))
            job.refresh(st)
            self.changed(job)

    async def list_jobs(self, req: ListJobs) -> JobList:
        await self._ingest_launches()
        for job in self.store.jobs.values():
            if job.state in R.LIVE_STATES and not self.daemon_launcher(job.launcher).watches(job):
                try:
                    state, st = R.RunDir(job.run_dir).state(slurm_live=set())  # judged: not ours, maybe gone
                except NewerFormat:
                    job.refresh()  # keeps the view, with the one line as its reason
                    continue
                job.refresh({**st, "state": state} if st else None)
        jobs = sorted((j for j in self.store.jobs.values() if self._matches(j, req)), key=lambda j: j.created)
        rate = self.slurm.poller.rate.summary() if self.slurm is not None else None
        return JobList(jobs=[j.info() for j in jobs], slurm_queries=rate)

    async def show_job(self, req: ShowJob) -> JobDetail | Error:
        job = self._resolve(req.job)
        if isinstance(job, Error):
            return job
        try:
            st = R.RunDir(job.run_dir).read_status() or {}
        except NewerFormat as e:
            return Error(P.BAD_REQUEST, str(e))
        job.refresh(st)
        return JobDetail(job=job.info(), history=_typed(P.HistoryEntry, st.get("history", [])),
                         previous_runs=_typed(P.PreviousRun, job.previous),
                         slurm_ids=[str(h) for h in job.history_ids if not str(h).startswith("local:")],
                         slurm_state=job.slurm_state)

    async def _stop(self, job: Job) -> None:
        await self.daemon_launcher(job.launcher).stop(job)

    async def cancel(self, req: Cancel) -> Ok | Error:
        job = self._resolve(req.job)
        if isinstance(job, Error):
            return job
        if job.state not in R.LIVE_STATES:
            return Error(P.NOT_RUNNING, f"job {job.job_id} is {job.state}: nothing to cancel")

        try:
            await self._stop(job)
            job.refresh()
            if job.state in R.LIVE_STATES:
                # Off the loop: the status lock is waited for (briefly), never on the event loop.
                await asyncio.to_thread(R.RunDir(job.run_dir).set_state, R.CANCELLED, only_if=R.LIVE_STATES,
                                        reason="cancelled")
                job.refresh()
        except Busy as e:
            job.refresh()
            self.changed(job)
            return Error(P.TAKEN, str(e))
        self.changed(job)
        return Ok(detail=f"cancelled {job.job_id}")

    async def restart(self, req: Restart) -> Launched | Error:
        job = self._resolve(req.job)
        if isinstance(job, Error):
            return job
        try:
            info = R.RunDir(job.run_dir).read_run()
        except HeyHiError as e:  # e.g. a record of a newer HeyHi: one line, nothing touched
            return _error_of(e)
        if not info:
            return Error(P.NOT_FOUND, f"job {job.job_id} has no heyhi.run.json: cannot restart it")
        try:  # the config recorded in the folder, not today's conf files (heyhi.runs.recorded)
            composed = await asyncio.to_thread(self._recorded, job.run_dir, info)
        except HeyHiError as e:
            return Error(P.INVALID, f"cannot restart job {job.job_id}: {e}")
        # Restart in the job's own folder (even when it was launched with --out or --adhoc).
        launch = Launch(project_root=info["project_root"], results_root=info.get("results_root"), config=info["config"],
                        overrides=list(info.get("overrides", [])), mode="restart", adhoc=False, force=req.force,
                        expect_state=req.expect_state, checkpoint=None if not info.get("adhoc") else "")
        try:
            return await self._launch(launch, own_folder=job.run_dir, composed=composed, said=self._reran(info))
        except HeyHiError as e:
            return _error_of(e)

    @staticmethod
    def _recorded(run_dir: str, info: dict):
        """The run's recorded config, typed against today's schema (``heyhi.runs.recorded``)."""
        from heyhi.runs import load_recorded  # lean: keeps the start-up of the daemon from loading it

        return load_recorded(run_dir, info)

    @staticmethod
    def _reran(info: dict) -> str:
        """What a restart's ``Launched.reason`` adds: it reran the record (with a fresh snapshot)."""
        from heyhi.runs import RERAN  # lean: keeps the start-up of the daemon from loading it

        return RERAN if info.get("adhoc") else f"{RERAN}, with a fresh code snapshot"

    async def wipe(self, req: Wipe) -> Ok | Error:
        """Wipe a job's folder (to the trash, or ``purge``): stopped first if live, re-checked under
        the folder lock, through the one rule set (``heyhi.runs.sequence.wipe``)."""
        job = self._resolve(req.job)
        if isinstance(job, Error):
            return job
        if req.confirm_job not in (req.job, job.job_id, job.run_dir):
            return Error(P.CONFIRM, "wipe needs the job named twice (confirm_job == job)")
        loop = asyncio.get_running_loop()

        def run():
            roots = roots_for([])
            folder = guard.check_wipe(job.run_dir, roots, ownership.created_outs())  # before any lock file
            with run_lock(folder, job.results_root or folder.parent, roots):
                state, st = R.RunDir(job.run_dir).state()
                if req.expect_state and state != req.expect_state:
                    raise Refused(f"not wiped: {job.run_dir} is {state} now, not {req.expect_state}")
                if state in R.LIVE_STATES:
                    asyncio.run_coroutine_threadsafe(self._stop(job), loop).result()
                return do_wipe(Path(job.run_dir), [], purge=req.purge)

        try:
            entry = await asyncio.to_thread(run)
        except HeyHiError as e:
            return _error_of(e)
        self.store.jobs.pop(job.job_id, None)
        job.state = JobState.WIPED
        self.changed(job)
        if entry is None:
            return Ok(detail=f"deleted {job.run_dir}")
        return Ok(detail=f"wiped {job.run_dir}: in the trash at {entry.path} (heyhi ctl restore {entry.path})")

    # ---- streams --------------------------------------------------------------------------------
    async def logs(self, req: Logs) -> AsyncIterator[LogChunk | Error]:
        job = self._resolve(req.job)
        if isinstance(job, Error):
            yield job
            return
        path = Path(job.run_dir) / (R.STDOUT if req.stream == "stdout" else R.STDERR)
        if req.offset is not None:
            offset = req.offset
        elif req.last_lines is not None:
            offset = await asyncio.to_thread(last_lines_offset, path, req.last_lines)
        else:
            offset = 0

        def final() -> bool:
            if not self.daemon_launcher(job.launcher).watches(job):
                job.refresh()
            return job.state not in R.LIVE_STATES

        async for chunk in follow(job.job_id, path, req.stream, offset, req.follow, final):
            yield chunk

    async def subscribe(self, req: Subscribe) -> AsyncIterator[JobEvent]:
        q: asyncio.Queue = asyncio.Queue()
        self.subscribers.add(q)
        try:
            for job in sorted(self.store.jobs.values(), key=lambda j: j.created):
                yield JobEvent(job=job.info())
            while True:
                ev = await q.get()
                f = req.filters or {}
                if f.get("state") and ev.job.state != f["state"]:
                    continue
                if f.get("job") and ev.job.job_id != f["job"]:
                    continue
                yield ev
        finally:
            self.subscribers.discard(q)

    async def fields(self, req) -> "FieldList | Error":
        from heyhi.config import task_fields  # lean: keeps the start-up of the daemon from loading it

        def run():
            try:
                task, fields, includes = task_fields(self.composer(req.project_root), req.config)
            except HeyHiError as e:
                return Error(P.BAD_REQUEST, str(e))
            return FieldList(task=task, fields=[FieldDoc(**f) for f in fields], includes=includes)

        return await asyncio.to_thread(run)

    # ---- remote browsing ------------------------------------------------------------------------
    async def read_file(self, req: ReadFile) -> FileData | Error:
        """Up to ``req.length`` bytes (at most ``limits.MAX_READ_LENGTH``, checked on receipt) of a
        regular file; anything else (a FIFO, a device) is refused without being read."""
        def read():
            p = Path(req.path).expanduser()
            try:
                fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
            except OSError as e:
                return Error(P.NOT_FOUND, f"{p}: {e.strerror}")
            with os.fdopen(fd, "rb", buffering=0) as fh:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    return Error(P.BAD_REQUEST, f"{p}: not a regular file ({_file_kind(st.st_mode)}): "
                                                f"ReadFile reads regular files only")
                try:
                    fh.seek(req.offset)
                    data = fh.read(min(req.length, MAX_READ_LENGTH))
                except OSError as e:
                    return Error(P.NOT_FOUND, f"{p}: {e.strerror}")
                return FileData(path=str(p), offset=req.offset, data=data, size=st.st_size)

        return await asyncio.to_thread(read)

    async def list_dir(self, req: ListDir) -> DirListing | Error:
        """The folder's entries, sorted by name: at most ``limits.MAX_DIR_ENTRIES`` (the first the
        folder yields), so a huge folder costs bounded time and fits one frame."""
        def ls():
            p = Path(req.path).expanduser()
            try:
                entries = []
                with os.scandir(p) as it:
                    for e in it:
                        if len(entries) >= MAX_DIR_ENTRIES:
                            break
                        try:
                            st = e.stat(follow_symlinks=True) if e.is_file() or e.is_dir() else None
                        except OSError:
                            st = None
                        entries.append(DirEntry(name=e.name, is_dir=e.is_dir(), size=st.st_size if st else 0,
                                                mtime=st.st_mtime if st else 0.0))
                entries.sort(key=lambda d: d.name)
                return DirListing(path=str(p), entries=entries)
            except OSError as e:
                return Error(P.NOT_FOUND, f"{p}: {e.strerror}")

        return await asyncio.to_thread(ls)


def _file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"
