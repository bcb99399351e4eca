"""The daemon's core: composition, launches, job state, restarts, wipes, live logs.

It walks the same path as the embedded CLI (``heyhi.compose`` -> ``heyhi.outdir`` ->
``heyhi.modes`` -> ``heyhi.launch.prepare_run`` -> ``python -m heyhi.job``); blocking work
(composition, snapshots, wipes) runs in threads so the event loop keeps answering.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import AsyncIterator

from heyhi import records as R
from heyhi.errors import ConfigError, HeyHiError
from heyhi.protocol import (
    Cancel, DirEntry, DirListing, Error, FileData, JobDetail, JobEvent, JobList, Launch, Launched, ListDir,
    ListJobs, Logs, Ok, OverrideError, ReadFile, Restart, ShowJob, Subscribe, Validate, ValidateResult, Wipe,
)

from .jobs import Job, JobStore, job_id_of
from .launchers.local import LocalLauncher
from .logs import follow, last_lines_offset

_OVERRIDE_WHERE = re.compile(r"^override '(.*)'$", re.S)


class DaemonCore:
    """Implements ``heyhi_daemon.server.Core``."""

    def __init__(self, state_dir: Path, max_local: int | None = None, slurm_poll: dict | None = None):
        self.store = JobStore(Path(state_dir))
        self.local = LocalLauncher(self.store, max_local, on_change=self._changed)
        self.subscribers: set[asyncio.Queue] = set()
        self.slurm = None
        self._slurm_opts = slurm_poll or {}
        self._composers: dict[str, object] = {}
        self._save_task: asyncio.Task | None = None
        from .sweeps import SweepManager  # sweeps (heyhi_daemon/sweeps.py)

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
        and hand Slurm jobs to the poller."""
        queued = []
        for job in list(self.store.jobs.values()):
            st = R.RunDir(job.run_dir).read_status()
            if st is None:
                # A launch the daemon died in before the folder was written: nothing to run.
                if job.state in R.LIVE_STATES:
                    self.store.jobs.pop(job.job_id, None)
                continue
            job.refresh(st)
            if job.state not in R.LIVE_STATES:
                continue
            if job.launcher == "slurm":
                self._slurm().track(job)
                continue
            if job.state == R.QUEUED and not st.get("pid"):
                queued.append(job)
                continue
            if not self.local.adopt(job):
                R.RunDir(job.run_dir).set_state(R.LOST, only_if=R.LIVE_STATES, reason="process gone without a final record")
                job.refresh()
                self._changed(job)
        order = {jid: i for i, jid in enumerate(self.store.queue)}
        queued.sort(key=lambda j: (order.get(j.job_id, 1 << 30), j.created))
        self.store.queue = [j.job_id for j in queued]
        self.local.pump()
        self.store.save()

    def _slurm(self):
        if self.slurm is None:
            from .launchers.slurm_daemon import SlurmTracker

            self.slurm = SlurmTracker(self.store, self._changed, **self._slurm_opts)
        return self.slurm

    # ---- events ---------------------------------------------------------------------------------
    def _changed(self, job: Job) -> None:
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
    def _composer(self, project_root: str):
        from heyhi.compose import Composer
        from heyhi.project import Project

        c = self._composers.get(project_root)
        if c is None:
            c = self._composers[project_root] = Composer(Project(project_root))
        return c

    async def validate(self, req: Validate) -> ValidateResult | Error:
        return await asyncio.to_thread(self._validate, req)

    def _validate(self, req: Validate) -> ValidateResult | Error:
        from heyhi.outdir import run_folder
        from heyhi.printing import flat_items, flat_value_text

        comp = self._composer(req.project_root)
        overrides = list(req.overrides)
        errors: list[OverrideError] = []
        active = list(range(len(overrides)))
        composed = None
        for _ in range(len(overrides) + 1):
            try:
                composed = comp.compose(Path(req.config), [overrides[i] for i in active])
                break
            except ConfigError as e:
                m = _OVERRIDE_WHERE.match(e.where or "")
                bad = None
                if m:
                    src = m.group(1)
                    bad = next((i for i in active if overrides[i] == src), None)
                if bad is None:
                    return ValidateResult(ok=False, errors=errors + [OverrideError(-1, "", str(e))])
                key = overrides[bad].lstrip("-").split("=", 1)[0]
                errors.append(OverrideError(bad, key, e.message, len(key) + 1))
                active.remove(bad)
            except HeyHiError as e:
                return ValidateResult(ok=False, errors=[OverrideError(-1, "", str(e))])
        if composed is None:
            return ValidateResult(ok=False, errors=errors)
        project = comp.project
        root = Path(req.results_root) if req.results_root else project.results_root
        provenance = self._provenance(comp, composed)
        flat = [(k, flat_value_text(v), provenance.get(k, "default")) for k, v in flat_items(composed.task_msg)]
        out = run_folder(root, composed.config, project.conf_dir, composed.raw_overrides, req.adhoc)
        state, _ = R.RunDir(out).state(slurm_live=set()) if not errors else ("", {})
        return ValidateResult(ok=not errors, errors=sorted(errors, key=lambda x: x.index), flat=flat,
                              out_dir=str(out) if not errors else "", out_dir_state=state, task=composed.task)

    def _provenance(self, comp, composed) -> dict[str, str]:
        """Where each set value came from: the file, an include, an include override, an override."""
        from heyhi.printing import flat_items

        own, includes = comp.file_msg(Path(composed.config), comp.schema.root)
        own_keys = {k.split(".", 1)[1] for k, _ in flat_items(own) if "." in k}
        src: dict[str, str] = {}
        for k, _ in flat_items(composed.task_msg):
            src[k] = "file" if k in own_keys else "include"
        for o in composed.overrides:
            if o.kind == "include":
                prefix = (o.key + ".") if o.key else ""
                for k in src:
                    if k.startswith(prefix) and src[k] != "file":
                        src[k] = f"include override {o.raw}"
        for o in composed.overrides:
            if o.kind != "include":
                for k in src:
                    if k == o.key or k.startswith(o.key + "."):
                        src[k] = f"override {o.raw}"
        return src

    # ---- launching ------------------------------------------------------------------------------
    async def launch(self, req: Launch) -> Launched | Error:
        try:
            return await self._launch(req)
        except HeyHiError as e:
            return Error("bad_request" if e.exit_code == 2 else "taken" if e.exit_code == 3 else "failed", str(e))

    async def _launch(self, req: Launch, restart_of: Job | None = None) -> Launched:
        from heyhi.launch import check_task, folder_lock, launcher_of, prepare_run
        from heyhi.modes import decide, wipe
        from heyhi.outdir import run_folder

        comp = self._composer(req.project_root)
        project = comp.project
        composed = await asyncio.to_thread(comp.compose, Path(req.config), list(req.overrides))
        results_root = Path(req.results_root) if req.results_root else project.results_root
        await asyncio.to_thread(check_task, project, composed)
        run_dir = run_folder(results_root, composed.config, project.conf_dir, composed.raw_overrides, req.adhoc, req.out)
        self.store.add_root(str(results_root))
        launcher, _ = launcher_of(composed)
        with folder_lock(results_root, run_dir):
            existing = self.store.jobs.get(job_id_of(run_dir))
            state, st = R.RunDir(run_dir).state(slurm_live=None if launcher == "slurm" else set())
            d = decide(req.mode, state)
            job_id = job_id_of(run_dir)
            if not d.run:
                if existing is None and state != R.NOT_STARTED:
                    job = self.store.add(run_dir, config=str(composed.config), tag=run_dir.name,
                                         project_root=str(project.root), results_root=str(results_root), launcher=launcher)
                    job.refresh()
                return Launched(job_id=job_id, run_dir=str(run_dir), decision="skip", reason=d.reason)
            if d.stop and existing is not None:
                await self._stop(existing)
            elif d.stop:
                from heyhi.launch import stop_run

                await asyncio.to_thread(stop_run, run_dir, st)
            if d.wipe:
                await asyncio.to_thread(wipe, run_dir, results_root, force=True)
            previous = list(existing.previous) if existing else []
            if d.wipe and st:
                st = R.RunDir(run_dir).read_status() or st  # after the stop: how the old run ended
                previous.append({k: st.get(k) for k in ("state", "exit_code", "reason", "jobid", "slurm_id", "pid",
                                                        "started", "ended", "attempt") if st.get(k) is not None})
            # Write-ahead: the index knows the job before its folder says "queued", so a daemon
            # killed in between finds it again on restart (reconcile) and never loses it.
            job = self.store.add(run_dir, config=str(composed.config), tag=run_dir.name, project_root=str(project.root),
                                 results_root=str(results_root), launcher=launcher)
            job.previous = previous
            self.store.save()
            await asyncio.to_thread(prepare_run, project, composed, run_dir, adhoc=req.adhoc,
                                    checkpoint=req.checkpoint, owner_pid=None, results_root=results_root)
            job.refresh()
            job.pid = None
            job.exit_code = None
            self._changed(job)
            if launcher == "slurm":
                await self._slurm().submit(job)
            else:
                self.local.enqueue(job)
        what = "stop, wipe and run" if d.stop else "wipe and run" if d.wipe else "run"
        return Launched(job_id=job.job_id, run_dir=str(run_dir), decision=what, reason=d.reason)

    # ---- jobs -----------------------------------------------------------------------------------
    def _resolve(self, ref: str) -> Job | Error:
        j = self.store.resolve(ref)
        if isinstance(j, str):
            return Error("ambiguous", j)
        if j is None:
            p = Path(ref).expanduser().absolute()
            if (p / R.STATUS).exists():
                info = R.RunDir(p).read_run()
                j = self.store.add(p, config=info.get("config", ""), tag=p.name, project_root=info.get("project_root", ""),
                                   results_root=info.get("results_root", ""), launcher=info.get("launcher", "local"))
                j.refresh()
                return j
            return Error("not_found", f"no job {ref!r} (an id, a unique id prefix or a run folder)")
        return j

    def _matches(self, job: Job, req: ListJobs) -> bool:
        if req.state and job.state != req.state:
            return False
        if req.config and req.config not in job.config:
            return False
        if req.text and req.text not in f"{job.job_id} {job.config} {job.tag} {job.run_dir} {job.reason}":
            return False
        return True

    async def list_jobs(self, req: ListJobs) -> JobList:
        for job in self.store.jobs.values():
            if job.state in R.LIVE_STATES and job.launcher == "local" and job.job_id not in self.local.running \
                    and job.job_id not in self.store.queue:
                job.refresh()
        jobs = sorted((j for j in self.store.jobs.values() if self._matches(j, req)), key=lambda j: j.created)
        return JobList(jobs=[j.info() for j in jobs])

    async def show_job(self, req: ShowJob) -> JobDetail | Error:
        job = self._resolve(req.job)
        if isinstance(job, Error):
            return job
        st = R.RunDir(job.run_dir).read_status() or {}
        job.refresh(st)
        history = [{**p, "state": "previous_run", "run": i + 1, "ended_as": p.get("state")}
                   for i, p in enumerate(job.previous)]
        history += list(st.get("history", []))
        extra = {"slurm_ids": [h for h in job.history_ids if not str(h).startswith("local:")],
                 "slurm_state": job.slurm_state}
        return JobDetail(job=job.info(), history=history + [{"state": "_summary", **extra}])

    async def _stop(self, job: Job) -> None:
        if job.launcher == "slurm":
            await self._slurm().cancel(job)
        else:
            await self.local.stop(job)

    async def cancel(self, req: Cancel) -> Ok | Error:
        job = self._resolve(req.job)
        if isinstance(job, Error):
            return job
        if job.state not in R.LIVE_STATES:
            return Error("not_running", f"job {job.job_id} is {job.state}: nothing to cancel")
        await self._stop(job)
        job.refresh()
        if job.state in R.LIVE_STATES:
            R.RunDir(job.run_dir).set_state(R.CANCELLED, only_if=R.LIVE_STATES, reason="cancelled")
            job.refresh()
        self._changed(job)
        return Ok(detail=f"cancelled {job.job_id}")

    async def restart(self, req: Restart) -> Launched | Error:
        job = self._resolve(req.job)
        if isinstance(job, Error):
            return job
        info = R.RunDir(job.run_dir).read_run()
        if not info:
            return Error("not_found", f"job {job.job_id} has no heyhi.run.json: cannot restart it")
        # Restart in the job's own folder (even when it was launched with --out or --adhoc).
        launch = Launch(project_root=info["project_root"], results_root=info.get("results_root"), config=info["config"],
                        overrides=list(info.get("overrides", [])), mode="restart", adhoc=False, force=True,
                        out=job.run_dir, checkpoint=None if not info.get("adhoc") else "")
        try:
            return await self._launch(launch)
        except HeyHiError as e:
            return Error("failed", str(e))

    async def wipe(self, req: Wipe) -> Ok | Error:
        from heyhi.modes import wipe as do_wipe

        job = self._resolve(req.job)
        if isinstance(job, Error):
            return job
        if req.confirm_job not in (req.job, job.job_id, job.run_dir):
            return Error("confirm", "wipe needs the job named twice (confirm_job == job)")
        if job.state in R.LIVE_STATES:
            await self._stop(job)
        root = job.results_root or R.RunDir(job.run_dir).read_run().get("results_root", "")
        if not root:
            return Error("refused", f"refusing to wipe {job.run_dir}: unknown results root")
        try:
            await asyncio.to_thread(do_wipe, Path(job.run_dir), Path(root), force=True)
        except HeyHiError as e:
            return Error("refused", str(e))
        self.store.jobs.pop(job.job_id, None)
        job.state = "wiped"
        self._changed(job)
        return Ok(detail=f"wiped {job.run_dir}")

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
            if job.launcher == "local" and job.job_id not in self.local.running and job.job_id not in self.store.queue:
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
        from heyhi.fieldhelp import task_fields
        from heyhi.protocol import FieldDoc, FieldList

        def run():
            try:
                task, fields, includes = task_fields(self._composer(req.project_root), req.config)
            except HeyHiError as e:
                return Error("bad_request", str(e))
            return FieldList(task=task, fields=[FieldDoc(**f) for f in fields], includes=includes)

        return await asyncio.to_thread(run)

    # ---- remote browsing ------------------------------------------------------------------------
    async def read_file(self, req: ReadFile) -> FileData | Error:
        def read():
            p = Path(req.path).expanduser()
            try:
                with open(p, "rb") as fh:
                    size = os.fstat(fh.fileno()).st_size
                    fh.seek(req.offset)
                    return FileData(path=str(p), offset=req.offset, data=fh.read(min(req.length, 8 << 20)), size=size)
            except OSError as e:
                return Error("not_found", f"{p}: {e.strerror}")

        return await asyncio.to_thread(read)

    async def list_dir(self, req: ListDir) -> DirListing | Error:
        def ls():
            p = Path(req.path).expanduser()
            try:
                entries = []
                for e in sorted(os.scandir(p), key=lambda e: e.name):
                    st = e.stat(follow_symlinks=True) if e.is_file() or e.is_dir() else None
                    entries.append(DirEntry(name=e.name, is_dir=e.is_dir(), size=st.st_size if st else 0,
                                            mtime=st.st_mtime if st else 0.0))
                return DirListing(path=str(p), entries=entries)
            except OSError as e:
                return Error("not_found", f"{p}: {e.strerror}")

        return await asyncio.to_thread(ls)
