"""The daemon's job store: one job per run folder, its state with data per status.

The run folders' records are the truth; the store is an index over them (saved atomically to
the state folder, rebuilt by scanning the results roots when missing) plus what only the
daemon knows: its FIFO queue of local jobs. Only the event loop mutates it.

The index carries ``format`` (``heyhi.runs.formats.INDEX``; none is format 0). An index written by a
newer HeyHi is kept as it is: the daemon logs one line naming it, starts with an empty view (run
folders launched from now on are indexed in memory) and never overwrites that file. A run folder
whose records a newer HeyHi wrote is left alone: not indexed by a rebuild, its view never refreshed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from heyhi.launchers import get as get_launcher
from heyhi.runs import records as R, formats as F, view
from heyhi.runs.ownership import canonical
from heyhi.wire.protocol import JobInfo
from heyhi.perms import make_dir

INDEX = "index.json"
log = logging.getLogger("heyhi.daemon.jobs")


def job_id_of(run_dir: Path | str) -> str:
    """A job's id (``heyhi.runs.view.job_id``: the one rule, shared with ``heyhi ctl`` without a daemon)."""
    return view.job_id(run_dir)


MAX_SUMMARY_OVERRIDES = 4096  # characters of overrides a JobInfo carries; more: None (read the record)


def recorded_overrides(run_dir: str) -> list[str] | None:
    """The overrides heyhi.run.json records (None while it is missing, unreadable or a newer HeyHi's)."""
    try:
        run = R.RunDir(run_dir).read_run()
    except F.NewerFormat:
        return None
    got = run.get("overrides")
    return [str(o) for o in got] if isinstance(got, list) else None


def summary_overrides(overrides: list[str] | None) -> list[str] | None:
    """The overrides a ``JobInfo`` carries: all of them, or None when they exceed the summary's budget."""
    if overrides is None or sum(len(o) + 1 for o in overrides) > MAX_SUMMARY_OVERRIDES:
        return None
    return list(overrides)


@dataclass
class Job:
    job_id: str
    run_dir: str
    config: str = ""
    tag: str = ""
    project_root: str = ""
    results_root: str = ""
    launcher: str = "local"
    created: float = field(default_factory=time.time)
    # The view of the folder's status (refreshed from heyhi.status.json).
    state: str = R.QUEUED
    reason: str = ""
    exit_code: int | None = None
    slurm_id: str | None = None
    pid: int | None = None
    pid_start: int | None = None
    node: str | None = None
    started: float | None = None
    ended: float | None = None
    attempts: int = 1
    slurm_state: str | None = None
    history_ids: list[str] = field(default_factory=list)  # every Slurm id / pid this job has had
    previous: list[dict] = field(default_factory=list)  # summaries of earlier runs wiped by restarts
    # The end the daemon saw but could not write into the folder (a full disk): the folder's record
    # of that time (its "updated") is stale, so refresh keeps this job's final state over it.
    unrecorded_over: float | None = None
    # The overrides as heyhi.run.json records them (None: not read yet; read once by refresh).
    overrides: list[str] | None = None
    # A Slurm run's cost (set by the Slurm tracker from the job's final sacct row) and the latest idle
    # warning of its live efficiency check; both cleared when a final run goes live again (a restart).
    cpu_hours: float | None = None
    gpu_hours: float | None = None
    efficiency_warning: str = ""

    def info(self) -> JobInfo:
        return JobInfo(
            job_id=self.job_id, run_dir=self.run_dir, config=self.config, state=self.state, tag=self.tag,
            reason=self.reason, exit_code=self.exit_code, launcher=self.launcher, slurm_id=self.slurm_id,
            pid=self.pid, node=self.node, created=self.created, started=self.started, ended=self.ended,
            attempts=self.attempts, overrides=summary_overrides(self.overrides), project=self.project_root,
            cpu_hours=self.cpu_hours, gpu_hours=self.gpu_hours, efficiency_warning=self.efficiency_warning,
        )

    def refresh(self, st: dict | None = None) -> bool:
        """Update from the folder's status record; True when anything shown changed."""
        if st is None:
            try:
                st = R.RunDir(self.run_dir).read_status()
            except F.NewerFormat as e:  # a newer HeyHi's record: the view stays, with the reason
                changed = self.reason != str(e)
                self.reason = str(e)
                return changed
        if not st:
            return False
        if self.overrides is None:
            self.overrides = recorded_overrides(self.run_dir)
        if self.unrecorded_over is not None:
            if st.get("updated") == self.unrecorded_over and st.get("state") in R.LIVE_STATES:
                return False
            self.unrecorded_over = None
        before = (self.state, self.reason, self.exit_code, self.pid, self.slurm_id, self.attempts, self.node)
        self.state = st.get("state", self.state)
        self.reason = st.get("reason", "") or ""
        self.exit_code = st.get("exit_code")
        self.pid = st.get("pid") or self.pid
        self.pid_start = st.get("pid_start") or self.pid_start
        sid = st.get("slurm_id") or (st.get("jobid") if not get_launcher(st.get("launcher")).by_process else None)
        self.slurm_id = sid or self.slurm_id
        self.node = st.get("host") or st.get("node") or self.node
        self.started = st.get("started", self.started)
        self.ended = st.get("ended") if self.state in R.FINAL_STATES else None
        self.created = view.created_of(st, self.created)  # an adopted run: when it was first queued
        self.attempts = int(st.get("attempt") or self.attempts or 1)
        self.launcher = st.get("launcher", self.launcher)
        if before[0] in R.FINAL_STATES and self.state in R.LIVE_STATES:  # a new run: not the last one's figures
            self.cpu_hours = self.gpu_hours = None
            self.efficiency_warning = ""
        for h in st.get("history", []):
            for key in ("slurm_id", "jobid"):
                v = h.get(key)
                if v and v not in self.history_ids:
                    self.history_ids.append(v)
        return before != (self.state, self.reason, self.exit_code, self.pid, self.slurm_id, self.attempts, self.node)

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in (
            "job_id", "run_dir", "config", "tag", "project_root", "results_root", "launcher", "created",
            "state", "reason", "exit_code", "slurm_id", "pid", "pid_start", "node", "started", "ended",
            "attempts", "history_ids", "previous", "unrecorded_over", "overrides", "cpu_hours", "gpu_hours",
            "efficiency_warning")}

    @classmethod
    def from_json(cls, d: dict) -> "Job":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class JobStore:
    """All jobs the daemon knows, its local FIFO queue, and subscribers to state changes."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self.jobs: dict[str, Job] = {}
        self.queue: list[str] = []  # local jobs waiting for a slot, FIFO
        self.roots: list[str] = []
        self.listeners: list[Callable[[Job], None]] = []
        self._dirty = False
        self._save_failed = False
        self._save_lock = threading.Lock()  # saves come from the loop and from worker threads
        self.index_newer: str | None = None  # the one line when the index is a newer HeyHi's

    # ---- persistence ---------------------------------------------------------------------------
    def load(self) -> bool:
        """Load the index; False when it is missing or unreadable (then ``rebuild``)."""
        try:
            data = json.loads((self.state_dir / INDEX).read_text())
        except (OSError, ValueError):
            return False
        try:
            F.check(self.state_dir / INDEX, data, F.INDEX)
        except F.NewerFormat as e:  # kept as it is (never saved over) and never rebuilt over
            self.index_newer = str(e)
            log.error("%s; the daemon runs with an empty view and leaves that file as it is", e)
            return True
        self.jobs = {j["job_id"]: Job.from_json(j) for j in data.get("jobs", [])}
        self.queue = [q for q in data.get("queue", []) if q in self.jobs]
        self.roots = list(data.get("roots", []))
        return True

    def save(self) -> bool:
        """Write the index aside and rename it into place. A failure (a full disk) keeps the old
        index intact, removes the partial copy, logs one line and leaves the store dirty, so a
        later save retries; returns whether it was saved."""
        if self.index_newer is not None:  # a newer HeyHi's index stays as it is
            self._dirty = False
            return False
        with self._save_lock:
            self._dirty = False
            data = {F.KEY: F.INDEX, "jobs": [j.to_json() for j in list(self.jobs.values())], "queue": list(self.queue),
                    "roots": list(self.roots), "saved": time.time()}
            try:
                make_dir(self.state_dir, shared=False)  # the index is the user's alone: 0700, file 0600
                R.write_atomic(self.state_dir / INDEX, json.dumps(data), shared=False)
            except OSError as e:
                self._dirty = True
                for tmp in self.state_dir.glob(f".{INDEX}.{os.getpid()}.*.tmp"):
                    try:
                        tmp.unlink()
                    except OSError:
                        pass
                if not self._save_failed:
                    log.warning("index not saved (kept the last one): %s: %s", self.state_dir / INDEX, e.strerror)
                self._save_failed = True
                return False
            if self._save_failed:
                log.warning("index saved again: %s", self.state_dir / INDEX)
            self._save_failed = False
            return True

    def rebuild(self, roots: list[str]) -> None:
        """Scan results roots for run folders (the truth) when the index is missing."""
        for root in roots:
            self.add_root(root)
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                if R.STATUS in filenames:
                    dirnames[:] = []
                    try:
                        info = R.RunDir(dirpath).read_run()
                        R.RunDir(dirpath).read_status()
                    except F.NewerFormat as e:  # a newer HeyHi's run: left alone
                        log.warning("not indexed: %s", e)
                        continue
                    job = self.add(Path(dirpath), config=info.get("config", ""), tag=Path(dirpath).name,
                                   project_root=info.get("project_root", ""), results_root=root,
                                   launcher=info.get("launcher", "local"))
                    job.refresh()
        self.save()

    def add_root(self, root: str) -> None:
        if root and root not in self.roots:
            self.roots.append(root)

    # ---- jobs -----------------------------------------------------------------------------------
    def add(self, run_dir: Path, **kw) -> Job:
        jid = job_id_of(run_dir)
        job = self.jobs.get(jid)
        if job is None:
            job = self.jobs[jid] = Job(jid, str(canonical(run_dir)), **kw)
        else:
            for k, v in kw.items():
                setattr(job, k, v)
        self._dirty = True
        return job

    def resolve(self, ref: str) -> Job | None | str:
        """A job by id, unique id prefix, or run folder path; a str is an error message."""
        if ref in self.jobs:
            return self.jobs[ref]
        by_path = self.jobs.get(job_id_of(ref.rstrip("/") or "/"))
        if by_path is not None:
            return by_path
        hits = [j for j in self.jobs.values() if j.job_id.startswith(ref)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            return f"job id prefix {ref!r} is ambiguous: {', '.join(sorted(h.job_id for h in hits)[:5])}"
        return None

    def changed(self, job: Job) -> None:
        """Publish a job's new state to subscribers and mark the index dirty."""
        self._dirty = True
        for fn in list(self.listeners):
            fn(job)

    def save_if_dirty(self) -> None:
        if self._dirty:
            self.save()
