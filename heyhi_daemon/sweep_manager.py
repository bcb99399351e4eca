"""The daemon's sweeps: launching a sweep's points within its parallelism, Slurm job arrays,
adaptive search with Optuna, and picking all of it up again after a restart.

The CLI expands and validates a sweep and writes its record (``heyhi.sweep``); ``LaunchSweep``
names the record's folder. A runner task per active sweep then launches the points:

* local points through the core's own launch path (``DaemonCore.launch``: compose, snapshot,
  ``prepare_run``, the local FIFO queue and its ``HEYHI_MAX_LOCAL_JOBS`` limit), at most
  ``max_parallel`` of the sweep at once, the next one when one ends (the store's listeners wake
  the runner);
* points whose launcher takes ``arrays`` (Slurm) as job arrays, one per submission (split at the
  cluster's ``MaxArraySize``), throttled with ``%N``; the chunks of one launch run one after another
  (each depends on the one before), so ``max_parallel`` holds across all of them: the batch script (``heyhi.slurm.script``) reads
  the N-th line of a file listing the folders and runs ``python -m heyhi.job <folder>``; each task is
  followed by that launcher's daemon side (the Slurm tracker) as ``<array id>_<task>`` (squeue's
  folded pending ranges ``123_[4-11%2]`` included); each array is recorded as intended
  (``arrays/NNNN.submit.json``) before sbatch and its comment carries its identity, so an array whose
  id the daemon did not record before dying is found in Slurm and adopted on restart, never submitted twice;
* an adaptive search asks an Optuna study (TPE by default; SQLite in the sweep folder) for a
  trial when a slot is free, launches its points (the sampled values x the sweep's grid axes, e.g.
  seeds), and tells the study each trial's metric (the mean over its points) when they end, or
  FAIL when none completed; the points of the trials asked together (up to the parallelism) go
  as one launch: on Slurm, one job array.

Which sweeps are active is kept in ``<state dir>/sweeps.json``; on start every active sweep's
runner resumes: points already launched are never launched again (their folders say so, and
``heyhi.job`` claims a run exactly once), trials the study holds as running are followed to
their end, and no trial beyond the budget is asked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from heyhi.launchers import Launcher, config_of, for_config, for_status, get as get_launcher
from heyhi.runs import records as R, formats as F, Host, Plan, launch as run_sequence, unstart
from heyhi.errors import HeyHiError, NothingStarted
from heyhi.wire import protocol as P
from heyhi.states import JobState
from heyhi.wire.protocol import (
    CancelSweep, Error, Launch, LaunchSweep, Ok, SweepInfo, SweepLaunched, SweepList, SweepStatus, Cancel,
)
from heyhi.sweep import (
    LazySlurm, plan_state, plan_states, PointResult, best_point, group, Record, SweepError, count_states,
    metric_value, point_line, sweep_id, unlogged_metric,
)
from heyhi.launchers import slurm_once as once
from heyhi_daemon.job_store import job_id_of
import math

log = logging.getLogger("heyhi.daemon.sweeps")
STATE_FILE = "sweeps.json"
SAFETY_WAIT_S = 5.0  # a runner re-checks its points at least this often (events are the fast path)
DEFAULT_ADAPTIVE_PARALLEL = 2
MAX_ERRORS = 50
INTENT_SUFFIX = ".submit.json"  # an array's intent, beside its script: NNNN.submit.json


class _Sweep:
    def __init__(self, sid: str, sweep_dir: str):
        self.id = sid
        self.dir = sweep_dir
        self.active = False
        self.retry: set[str] = set()
        self.submitting: set[str] = set()
        self.max_parallel: int | None = None
        self.errors: list[str] = []
        self.record = None
        self.task: asyncio.Task | None = None
        self.wake = asyncio.Event()
        self.launched_at: float | None = None

    def to_json(self) -> dict:
        return {"dir": self.dir, "active": self.active, "retry": sorted(self.retry), "submitting": sorted(self.submitting),
                "max_parallel": self.max_parallel, "errors": self.errors[-MAX_ERRORS:], "launched_at": self.launched_at}

    @classmethod
    def from_json(cls, sid: str, d: dict) -> "_Sweep":
        s = cls(sid, d["dir"])
        s.active = bool(d.get("active"))
        s.retry = set(d.get("retry") or [])
        s.submitting = set(d.get("submitting") or [])
        s.max_parallel = d.get("max_parallel")
        s.errors = list(d.get("errors") or [])
        s.launched_at = d.get("launched_at")
        return s

    def error(self, msg: str) -> None:
        log.warning("sweep %s: %s", self.id, msg)
        self.errors.append(msg)
        del self.errors[:-MAX_ERRORS]


class SweepManager:
    def __init__(self, core):
        self.core = core
        self.sweeps: dict[str, _Sweep] = {}
        self._by_dir: dict[str, str] = {}  # point folder -> sweep id (active sweeps)
        self._path = Path(core.store.state_dir) / STATE_FILE
        self.newer: str | None = None  # the one line when sweeps.json is a newer HeyHi's: never saved over
        self._metric_cache: dict[tuple, float | None] = {}
        core.store.listeners.append(self._on_job)

    # ---- lifecycle and persistence ----------------------------------------------------------------
    async def start(self) -> None:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            data = {}
        try:
            F.check(self._path, data, F.DAEMON_SWEEPS)
        except F.NewerFormat as e:  # a newer HeyHi's sweeps: kept as they are, not resumed here
            self.newer = str(e)
            log.error("%s; the daemon resumes no sweep and leaves that file as it is", e)
            return
        for sid, d in (data.get("sweeps") or {}).items():
            self.sweeps[sid] = _Sweep.from_json(sid, d)
        for sw in self.sweeps.values():
            if sw.active:
                self._start_runner(sw)

    def _save(self) -> None:
        if self.newer is not None:  # a newer HeyHi's file stays as it is
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        data = F.stamp({"sweeps": {s.id: s.to_json() for s in self.sweeps.values()}}, F.DAEMON_SWEEPS)
        R.write_atomic(self._path, json.dumps(data))

    def _on_job(self, job) -> None:
        sid = self._by_dir.get(job.run_dir)
        if sid is not None:
            sw = self.sweeps.get(sid)
            if sw is not None:
                sw.wake.set()

    def _start_runner(self, sw: _Sweep) -> None:
        if sw.task is not None and not sw.task.done():
            sw.wake.set()
            return
        sw.task = asyncio.get_running_loop().create_task(self._run(sw))

    # ---- requests ---------------------------------------------------------------------------------
    async def launch(self, req: LaunchSweep) -> SweepLaunched | Error:
        if self.newer is not None:  # its sweeps could not be recorded without writing over that file
            return Error(P.REFUSED, f"{self.newer}: this daemon launches no sweep; use the newer HeyHi")
        sdir = str(Path(req.sweep_dir).expanduser().absolute())
        try:
            rec = await asyncio.to_thread(Record, sdir)
        except SweepError as e:
            return Error(P.NOT_FOUND, str(e))
        points = rec.points()
        states = await asyncio.to_thread(self._states, [p.dir for p in points])
        counts = count_states(states)
        sw = self.sweeps.get(rec.id)
        if sw is None:
            sw = self.sweeps[rec.id] = _Sweep(rec.id, sdir)
        sw.record = rec
        if req.max_parallel:
            sw.max_parallel = req.max_parallel
        elif not sw.active:
            sw.max_parallel = rec.spec.max_parallel
        if req.retry_failed:
            sw.retry |= {p.dir for p, s in zip(points, states) if s in ("crashed", "lost")}
        if rec.spec.kind == "adaptive":
            done = await asyncio.to_thread(_count_trials, Path(sdir))
            n = max(0, (rec.spec.trials or 0) - done)
            detail = f"adaptive search: {done} of {rec.spec.trials} trials asked"
        else:
            n = sum(1 for p, s in zip(points, states) if s == "new" or p.dir in sw.retry)
            detail = f"the daemon launches {n}" + (f", at most {sw.max_parallel} at once" if sw.max_parallel else "")
        already = sw.active and sw.task is not None and not sw.task.done()
        sw.active = True
        sw.launched_at = time.time()
        if not already:
            sw.errors = []
        self._save()
        self._start_runner(sw)
        if already:
            detail = "already running; " + detail
        return SweepLaunched(sweep_id=rec.id, sweep_dir=sdir, total=len(points), to_launch=n, counts=counts,
                             detail=detail)

    # For other daemon views (heyhi_daemon.sweepviews): the same lookups and reads as the requests here.
    def lookup(self, ref: str) -> _Sweep | Error:
        """The sweep ``ref`` names: an id, a unique id prefix or a sweep folder."""
        return self._resolve(ref)

    def info(self, sw: _Sweep, rows: bool = False) -> SweepInfo:
        """``sw``'s ``SweepInfo`` (reads its folders: call it in a worker thread)."""
        return self._info(sw, rows)

    def states(self, dirs: list[str]) -> list[str]:
        """Plan states of run folders, from the daemon's jobs where it tracks them (a worker thread)."""
        return self._states(dirs)

    def _resolve(self, ref: str) -> _Sweep | Error:
        if ref in self.sweeps:
            return self.sweeps[ref]
        p = str(Path(ref).expanduser().absolute())
        for s in self.sweeps.values():
            if s.dir == p:
                return s
        hits = [s for s in self.sweeps.values() if s.id.startswith(ref) or ref in Path(s.dir).name]
        if len(hits) == 1:
            return hits[0]
        if (Path(p) / "sweep.json").is_file():
            return _Sweep(sweep_id(p), p)
        if hits:
            return Error(P.AMBIGUOUS, f"sweep {ref!r} is ambiguous: {', '.join(h.id for h in hits[:5])}")
        return Error(P.NOT_FOUND, f"no sweep {ref!r} (an id, a unique id prefix or a sweep folder)")

    async def status(self, req: SweepStatus) -> SweepList | Error:
        if req.sweep:
            sw = self._resolve(req.sweep)
            if isinstance(sw, Error):
                return sw
            targets = [sw]
        else:
            targets = list(self.sweeps.values())
        infos = []
        for sw in targets:
            try:
                infos.append(await asyncio.to_thread(self._info, sw, req.rows))
            except HeyHiError as e:
                if req.sweep:
                    return Error(P.NOT_FOUND, str(e))
        return SweepList(sweeps=infos)

    async def cancel(self, req: CancelSweep) -> Ok | Error:
        sw = self._resolve(req.sweep)
        if isinstance(sw, Error):
            return sw
        sw.active = False
        sw.wake.set()
        self._save()
        n = 0
        for d, sid in list(self._by_dir.items()):
            if sid != sw.id:
                continue
            job = self.core.store.jobs.get(_job_id(d))
            if job is not None and job.state in R.LIVE_STATES:
                res = await self.core.cancel(Cancel(job=job.job_id))
                n += not isinstance(res, Error)
        return Ok(detail=f"sweep {sw.id} stopped; {n} live points cancelled")

    # ---- state of points --------------------------------------------------------------------------
    def _states(self, dirs: list[str]) -> list[str]:
        """Plan states, from the daemon's jobs where it tracks them (else from the folders)."""
        jobs = self.core.store.jobs
        out: list[str | None] = []
        unknown = []
        for i, d in enumerate(dirs):
            j = jobs.get(_job_id(d))
            if j is not None and j.state in R.LIVE_STATES | R.FINAL_STATES:
                out.append(plan_state(j.state))
            else:
                out.append(None)
                unknown.append(i)
        if unknown:
            rest = plan_states([dirs[i] for i in unknown], LazySlurm())
            for i, s in zip(unknown, rest):
                out[i] = s
        return out  # type: ignore[return-value]

    def _live(self, dirs) -> int:
        jobs = self.core.store.jobs
        return sum(1 for d in dirs if (j := jobs.get(_job_id(d))) is not None and j.state in R.LIVE_STATES)

    async def _wait(self, sw: _Sweep, timeout: float = SAFETY_WAIT_S) -> None:
        """Until a point of the sweep changes (or the safety timeout). The flag is cleared after
        waking, before the caller looks again: a change during that look sets it anew."""
        try:
            await asyncio.wait_for(sw.wake.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        sw.wake.clear()

    # ---- the runner -------------------------------------------------------------------------------
    async def _run(self, sw: _Sweep) -> None:
        try:
            if sw.record is None:
                sw.record = await asyncio.to_thread(Record, sw.dir)
            if sw.record.spec.kind == "adaptive":
                await self._run_adaptive(sw)
            else:
                await self._run_points(sw)
        except asyncio.CancelledError:
            raise
        except F.NewerFormat as e:  # a newer HeyHi's sweep record or run: left alone, one line
            log.error("sweep %s: %s", sw.id, e)
            sw.error(str(e))
        except Exception as e:  # noqa: BLE001 - a runner must not die silently
            log.exception("sweep %s failed", sw.id)
            sw.error(f"the sweep runner failed: {type(e).__name__}: {e}")
        sw.active = False
        self._save()
        for d in [d for d, s in self._by_dir.items() if s == sw.id]:
            self._by_dir.pop(d, None)

    async def _run_points(self, sw: _Sweep) -> None:
        """Grid and random sweeps: launch every new (or retried) point, then wait for all."""
        rec = sw.record
        points = rec.points()
        for p in points:
            self._by_dir[p.dir] = sw.id
        dirs = [p.dir for p in points]
        await self._recover_arrays(sw)
        states = await asyncio.to_thread(self._states, dirs)
        pending = [p for p, s in zip(points, states) if s == "new" or p.dir in sw.retry
                   or (p.dir in sw.submitting and _never_submitted(p.dir))]
        single = await self._submit_arrays_of(sw, pending)
        for p in single:
            while sw.active and sw.max_parallel and self._live(dirs) >= sw.max_parallel:
                await self._wait(sw)
            if not sw.active:
                return
            await self._launch_local(sw, p)
        while sw.active and self._live(dirs):
            await self._wait(sw)

    async def _submit_arrays_of(self, sw: _Sweep, points) -> list:
        """Submit the points whose launcher takes ``arrays`` (Slurm) as job arrays, one group per
        launcher; the other points are returned, to be launched one by one."""
        launchers = await asyncio.to_thread(self._launchers, sw.record, points)
        arrays: dict[str, list] = {}  # launcher name -> its points, submitted as arrays
        for p in points:
            if launchers[p.dir].arrays:
                arrays.setdefault(launchers[p.dir].name, []).append(p)
        for name, pts in arrays.items():
            if sw.active:
                await self._submit_arrays(sw, pts, get_launcher(name))
        return [p for p in points if not launchers[p.dir].arrays]

    def _launchers(self, rec, points) -> dict[str, Launcher]:
        """Each point's launcher (``heyhi.launchers``), composing once per distinct launcher override set."""
        comp = self.core.composer(rec.project_root)
        cache: dict[tuple, Launcher] = {}
        out = {}
        for p in points:
            key = tuple(o for o in p.overrides if o.startswith(("I", "launcher")))
            if key not in cache:
                try:
                    cache[key] = for_config(comp.compose(Path(rec.spec.config), p.overrides))
                except HeyHiError:
                    cache[key] = get_launcher(None)  # the default; the launch itself reports the error
            out[p.dir] = cache[key]
        return out

    async def _launch_local(self, sw: _Sweep, p) -> None:
        rec = sw.record
        retry = p.dir in sw.retry
        res = await self.core.launch(Launch(
            project_root=rec.project_root, results_root=rec.results_root, config=str(rec.spec.config),
            overrides=list(p.overrides), mode="start_restart" if retry else "gentle_start", force=True))
        if isinstance(res, Error):
            if res.code != "taken":
                sw.error(f"{p.describe()}: {res.message}")
        if retry:
            sw.retry.discard(p.dir)
            self._save()

    # ---- job arrays (Slurm) ---------------------------------------------------------------------------
    async def _submit_arrays(self, sw: _Sweep, points, launcher: Launcher) -> None:
        """Write the points' folders through the launch sequence, then submit them as arrays of
        ``launcher`` (one per distinct launcher settings, split at its maximum array size)."""
        rec = sw.record
        comp = self.core.composer(rec.project_root)
        tracker = self.core.daemon_launcher(launcher.name)
        project = comp.project
        root = Path(rec.results_root)
        self.core.store.add_root(str(root))
        sw.submitting |= {p.dir for p in points}
        self._save()
        jobs = []
        for p in points:  # write-ahead: the index knows each job before its folder is written
            jobs.append(self.core.store.add(Path(p.dir), config=str(rec.spec.config), tag=Path(p.dir).name,
                                            project_root=str(project.root), results_root=str(root), launcher=launcher.name))
        self.core.store.save()

        def prepare() -> list[tuple[Any, dict]]:
            class _ArrayHost(Host):  # started together, as arrays, once every folder is written
                def start(self, folder, info):
                    return None

            out = []
            for p, job in zip(points, jobs):
                try:
                    composed = comp.compose(Path(rec.spec.config), p.overrides)
                    retry = p.dir in sw.retry
                    plan = Plan(project, composed, Path(p.dir), root, "start_restart" if retry else "gentle_start",
                                trusted_roots=[project.results_root], yes=retry)
                    res = run_sequence(plan, _ArrayHost())
                    if not res.decision.run:
                        sw.submitting.discard(p.dir)
                        continue
                    out.append((p, job, config_of(composed)[1] or {}, res))
                except HeyHiError as e:
                    sw.error(f"{p.describe()}: {e}")
                    sw.submitting.discard(p.dir)
            return out

        prepared = await asyncio.to_thread(prepare)
        groups: dict[str, list] = {}
        for p, job, spec, res in prepared:
            groups.setdefault(json.dumps(spec, sort_keys=True), []).append((p, job, spec, res))
        max_size = await asyncio.to_thread(tracker.max_array_size)
        chunks = [g[i:i + max_size] for g in groups.values() for i in range(0, len(g), max_size)]
        # One --max-parallel N across all chunks of this launch: each chunk is throttled to %N and
        # depends (afterany) on the chunk before it, so the chunks run one after another and at most N
        # tasks run at once. (Each chunk with %(N / chunks) would need N >= chunks, and lose slots.)
        throttle = sw.max_parallel or None
        prev_array: str | None = None
        limits = await asyncio.to_thread(tracker.limits)
        n_points = sum(map(len, chunks))
        if limits.max_submit and n_points > limits.max_submit:  # each array task counts as a job
            sw.error(f"{n_points} points exceed your MaxSubmitJobs ({limits.max_submit}): Slurm may refuse the "
                     "later arrays (their points go back unstarted: launch the sweep again when earlier ones ended)")
        adir = Path(sw.dir) / "arrays"
        adir.mkdir(parents=True, exist_ok=True)
        out_dir = Path(sw.dir) / launcher.name  # the scheduler's output of each task
        out_dir.mkdir(exist_ok=True)
        for chunk in chunks:
            n = len(list(adir.glob("*.folders")))
            lst = adir / f"{n:04d}.folders"
            R.write_atomic(lst, "".join(p.dir + "\n" for p, _, _, _ in chunk))
            script = adir / f"{n:04d}.sbatch"
            try:
                array_id = await tracker.submit_array(chunk[0][2], f"hh-{sw.id}-{n}", lst, len(chunk), throttle,
                                                      script, out_dir, intent_path=adir / f"{n:04d}{INTENT_SUFFIX}",
                                                      dependency=f"afterany:{prev_array}" if throttle and prev_array else None)
            except NothingStarted as e:
                sw.error(f"{launcher.title} array submission failed: nothing started: {e}")
                for p, job, _, res in chunk:  # nothing started: the folders go back as they were
                    await asyncio.to_thread(unstart, Path(p.dir), res.created, res.saved_status)
                    if res.created:
                        self.core.store.jobs.pop(job.job_id, None)
                        job.state = JobState.WIPED
                    else:
                        job.refresh()
                    self.core.changed(job)
                    sw.submitting.discard(p.dir)
                continue
            (adir / f"{n:04d}.jobid").write_text(array_id + "\n")
            prev_array = array_id
            for i, (p, job, _, _) in enumerate(chunk):
                tracker.array_task_submitted(job, array_id, i)
                sw.submitting.discard(p.dir)
                sw.retry.discard(p.dir)
            _array_recorded(adir / f"{n:04d}{INTENT_SUFFIX}", array_id)
            self._save()
            log.info("sweep %s: array %s of %d points%s", sw.id, array_id, len(chunk),
                     f" (%{throttle})" if throttle else "")
        self.core.store.save()

    async def _recover_arrays(self, sw: _Sweep) -> None:
        """Arrays whose submission was recorded as intended (``NNNN.submit.json``) but whose id was
        not (the daemon died around sbatch): the array Slurm has with its identity is adopted, and
        when Slurm has none the same script is submitted now (``recover_array``). Never a second array."""
        adir = Path(sw.dir) / "arrays"
        for intent_path in sorted(adir.glob(f"*{INTENT_SUFFIX}"))[:10_000]:
            intent = once.read_intent(intent_path)
            if not once.is_pending(intent):
                continue
            stem = intent_path.name[: -len(INTENT_SUFFIX)]
            recorded = _read_small(adir / f"{stem}.jobid").strip()
            if recorded:  # recorded, only not in the intent yet
                once.mark_submitted(intent_path, intent, recorded)
                continue
            folders = [d for d in _read_small(adir / f"{stem}.folders").splitlines() if d]
            tracker = self.core.daemon_launcher(intent.get("launcher"))
            try:
                array_id = await tracker.recover_array(intent_path, intent, adir / f"{stem}.sbatch")
            except NothingStarted as e:
                sw.error(f"array {stem}: cannot submit it or find it in Slurm: {e}")
                continue
            R.write_atomic(adir / f"{stem}.jobid", array_id + "\n")
            for i, d in enumerate(folders):
                job = self.core.store.jobs.get(_job_id(d)) or self.core.store.add(
                    Path(d), config=str(sw.record.spec.config), tag=Path(d).name,
                    results_root=str(sw.record.results_root), launcher=tracker.name)
                tracker.array_task_submitted(job, array_id, i)
                sw.submitting.discard(d)
                sw.retry.discard(d)
            _array_recorded(intent_path, array_id)
            self._save()
            self.core.store.save()

    # ---- adaptive search ----------------------------------------------------------------------------
    async def _run_adaptive(self, sw: _Sweep) -> None:
        rec = sw.record
        spec, lay = rec.spec, rec.layout
        budget = spec.trials or 0
        par = sw.max_parallel or DEFAULT_ADAPTIVE_PARALLEL
        await self._recover_arrays(sw)  # on Slurm its trials go as arrays: one the daemon died submitting
        study, optuna = await asyncio.to_thread(_open_study, Path(sw.dir), spec)
        dists = _distributions(lay, optuna)
        known: set[tuple] = set()
        for line in _lines(Path(sw.dir) / "points.jsonl"):
            known.add((line.get("dir"), line.get("trial")))
        trial_points: dict[int, list] = {}

        def points_of(t) -> list:
            pts = trial_points.get(t.number)
            if pts is None:
                params = {k: _param_text(v) for k, v in t.params.items()}
                pts = trial_points[t.number] = lay.trial_points(params, t.number)
            return pts

        def record_points(pts) -> None:
            new = [p for p in pts if (p.dir, p.trial) not in known]
            if new:
                with open(Path(sw.dir) / "points.jsonl", "a") as fh:
                    fh.write("".join(point_line(p) for p in new))
                    fh.flush()
                    os.fsync(fh.fileno())
                known.update((p.dir, p.trial) for p in new)
            for p in pts:
                self._by_dir[p.dir] = sw.id

        metric_seen = False  # a point logged the metric: no need to look again
        while sw.active:
            trials = await asyncio.to_thread(study.get_trials, deepcopy=False)
            running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
            unlaunched = []
            live = told = 0
            for t in running:
                pts = points_of(t)
                await asyncio.to_thread(record_points, pts)
                states = await asyncio.to_thread(self._states, [p.dir for p in pts])
                if all(s in ("completed", "crashed", "lost") for s in states):
                    await asyncio.to_thread(self._tell, study, optuna, t, pts, states, spec)
                    told += 1
                    ended = [p.dir for p, s in zip(pts, states) if s == "completed"]
                    if not metric_seen and ended:  # a metric no run logs: stop now, not after the budget
                        why = await asyncio.to_thread(unlogged_metric, ended, spec.metric)
                        if why:
                            sw.error(why)
                            return
                        metric_seen = True
                    continue
                live += sum(1 for s in states if s == "running")
                unlaunched += [p for p, s in zip(pts, states) if s == "new"]
            # What fits in the parallelism now: the points waiting, then new trials' points; launched
            # together, so that on Slurm they go as one array (of ``parallelism`` trials at most).
            batch = []
            for p in list(unlaunched):
                if live >= par or not sw.active:
                    break
                batch.append(p)
                unlaunched.remove(p)
                live += 1
            launched = len(batch)
            asked = 0
            while sw.active and len(trials) < budget and live < par and not unlaunched:
                t = await asyncio.to_thread(study.ask, dists)
                trials = trials + [t]
                asked += 1
                pts = points_of(t)
                await asyncio.to_thread(record_points, pts)
                for p in pts:
                    if live >= par:
                        unlaunched.append(p)
                        continue
                    batch.append(p)
                    live += 1
            for p in await self._submit_arrays_of(sw, batch) if batch else ():
                if sw.active:
                    await self._launch_local(sw, p)
            if len(trials) >= budget and len(running) - told + asked == 0:
                return
            if not (asked or told or launched):
                await self._wait(sw)

    def _tell(self, study, optuna, t, pts, states, spec) -> None:
        """The trial's value is the mean metric of its points; a crashed or lost point, or one
        that logged no metric, fails the trial."""
        vals = [self._metric(p.dir, spec.metric, spec.metric_mode) for p, s in zip(pts, states) if s == "completed"]
        ok = len(vals) == len(pts) and all(v is not None for v in vals)
        try:
            if ok:
                study.tell(t.number, sum(vals) / len(vals), skip_if_finished=True)
            else:
                study.tell(t.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        except (ValueError, RuntimeError) as e:
            log.warning("tell trial %d: %s", t.number, e)

    def _metric(self, run_dir: str, name: str, mode: str) -> float | None:
        key = (run_dir, name, mode)
        if key not in self._metric_cache:
            v = metric_value(run_dir, name, mode)
            if v is None:
                return None
            self._metric_cache[key] = v
        return self._metric_cache[key]

    # ---- status ------------------------------------------------------------------------------------
    def _info(self, sw: _Sweep, rows: bool) -> SweepInfo:
        rec = Record(sw.dir)
        spec = rec.spec
        points = rec.points()
        states = self._states([p.dir for p in points])
        metric = spec.metric or "loss"
        mode, direction = (spec.metric_mode, spec.direction) if spec.metric else ("last", "min")
        results = [PointResult(p.dir, s, p.params, p.overrides,
                               self._metric(p.dir, metric, mode) if s == "completed" else None)
                   for p, s in zip(points, states)]
        b = best_point(results, direction)
        best = None if b is None else {"run_dir": b.dir, "value": b.value, "params": b.params, "overrides": b.overrides}
        table = [r.to_json() for r in group(results, spec.group_over, direction)] if rows else []
        active = sw.active and sw.task is not None and not sw.task.done()
        return SweepInfo(
            sweep_id=rec.id, sweep_dir=sw.dir, config=str(spec.config), kind=spec.kind, metric=metric,
            direction=direction, total=len(points), counts=count_states(states), active=active,
            budget=spec.trials, trials=_count_trials(Path(sw.dir)) if spec.kind == "adaptive" else 0,
            best=best, rows=table, errors=list(sw.errors[-10:]), created=rec.data.get("created"))


# ---- helpers ---------------------------------------------------------------------------------------


def _job_id(run_dir: str) -> str:
    return job_id_of(run_dir)


def _read_small(path: Path, limit: int = 16 << 20) -> str:
    """A file the daemon wrote itself (an array's list of folders, its id), read up to ``limit``."""
    try:
        with open(path, errors="replace") as fh:
            return fh.read(limit)
    except OSError:
        return ""


def _array_recorded(intent_path: Path, array_id: str) -> None:
    """Mark an array's intent as submitted (its id is recorded in ``NNNN.jobid``)."""
    intent = once.read_intent(intent_path)
    if intent is not None:
        once.mark_submitted(intent_path, intent, array_id)


def _never_submitted(run_dir: str) -> bool:
    st = R.RunDir(run_dir).read_status() or {}
    return st.get("state") == R.QUEUED and for_status(st).arrays and not st.get("jobid") \
        and not R.RunDir(run_dir).read_jobid()


def _lines(path: Path) -> list[dict]:
    out = []
    try:
        with open(path) as fh:
            for line in fh:
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                out.append(F.check(path, d, F.POINTS))  # never appended to: a newer HeyHi's points
    except OSError:
        pass
    return out


def _count_trials(sweep_dir: Path) -> int:
    """Trials in the study (read with sqlite3: no Optuna import for a status)."""
    db = Path(sweep_dir) / "study.db"
    if not db.is_file():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM trials").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _open_study(sweep_dir: Path, spec):
    import optuna  # lean: optuna loads only when this runs

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{Path(sweep_dir) / 'study.db'}"
    # A resumed search must not replay its sampler's random stream (it would ask the same points
    # again): the seed moves on by the number of trials the study already holds.
    seed = spec.sweep_seed + _count_trials(Path(sweep_dir))
    sampler = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed),
        "qmc": lambda: optuna.samplers.QMCSampler(seed=seed),
    }[spec.sampler]()
    study = optuna.create_study(storage=storage, study_name="heyhi", load_if_exists=True, sampler=sampler,
                                direction="maximize" if spec.direction == "max" else "minimize")
    return study, optuna


def _distributions(lay, optuna) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution  # lean: optuna loads only when this runs

    out = {}
    for ai in lay.sampled:
        ax = lay.axes[ai]
        if ax.kind == "choice":
            out[ax.key] = CategoricalDistribution(list(ax.values))
        elif ax.kind == "randint":
            out[ax.key] = IntDistribution(int(ax.low), int(ax.high))
        elif ax.is_int:
            out[ax.key] = IntDistribution(int(math.ceil(ax.low)), int(math.floor(ax.high)), log=ax.log)
        else:
            out[ax.key] = FloatDistribution(ax.low, ax.high, log=ax.log)
    return out


def _param_text(v) -> str:
    if isinstance(v, str):
        return v
    return repr(v)
