"""The daemon's batched Slurm poller (``SlurmPoller``: one squeue per poll for all of the user's jobs,
one sacct for the tracked jobs that finished, at most one sstat per efficiency interval for the running
ones (``heyhi.slurm.efficiency``: its idle warnings wait in ``efficiency_warnings``), and the interval to
wait before the next poll), and
``QueryRate``: when each Slurm command ran, for ``heyhi ctl status``'s query rate.

The Slurm commands (sbatch, scancel, scontrol) are the core Slurm launcher's (``heyhi.launchers.slurm``),
the batch scripts and the squeue/sacct parsing the slurm wing's (``heyhi.slurm.script``,
``heyhi.slurm.query``); the daemon's tracker (``heyhi_daemon.launchers.slurm_tracker``) drives this poller.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable, Iterable, NamedTuple

from heyhi.launchers.slurm import SlurmError, run_slurm
from heyhi.slurm import efficiency as EFF, query as sp

__all__ = ["JobChange", "SlurmPoller", "QueryRate"]


class QueryRate:
    """When each Slurm command ran, over the last ``keep_s`` seconds (at most ``max_events`` kept):
    ``per_minute()`` is what ``heyhi ctl status`` shows an admin (squeue, sacct, scontrol...)."""

    def __init__(self, keep_s: float = 3600.0, max_events: int = 100_000, clock=time.monotonic):
        self.keep_s = keep_s
        self.clock = clock
        self.since = clock()
        self._events: deque[tuple[float, str]] = deque(maxlen=max_events)

    def record(self, command: str) -> None:
        self._events.append((self.clock(), command))

    def counts(self, window_s: float) -> tuple[dict[str, int], float]:
        """({command: runs in the last window_s seconds}, the window actually covered: shorter when
        this rate was started more recently)."""
        now = self.clock()
        ev = self._events
        while ev and ev[0][0] < now - self.keep_s:
            ev.popleft()
        out: dict[str, int] = {}
        start = now - window_s
        for t, cmd in reversed(ev):
            if t <= start:
                break
            out[cmd] = out.get(cmd, 0) + 1
        return out, min(window_s, max(now - self.since, 1e-9))

    def summary(self, window_s: float = 600.0) -> dict:
        """``{"window_s": covered, "counts": {...}, "per_minute": {...}}`` (squeue and sacct always listed)."""
        counts, covered = self.counts(window_s)
        for cmd in ("squeue", "sacct"):
            counts.setdefault(cmd, 0)
        minutes = covered / 60
        return {"window_s": covered, "counts": counts,
                "per_minute": {k: v / minutes for k, v in sorted(counts.items())}}


# --------------------------------------------------------------------------------------------
# polling


_STARTED = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"})


_NO_OBS = ("", "", "")


def _chunks(ids: list[str], max_chars: int):
    """Split ids so that each comma-joined -j argument stays below max_chars (Linux refuses a
    single argument over 128 KiB)."""
    if sum(map(len, ids)) + len(ids) <= max_chars:
        yield ids
        return
    chunk: list[str] = []
    size = 0
    for j in ids:
        if chunk and size + len(j) + 1 > max_chars:
            yield chunk
            chunk, size = [], 0
        chunk.append(j)
        size += len(j) + 1
    if chunk:
        yield chunk


class JobChange(NamedTuple):
    job_id: str
    slurm_state: str  # normalised Slurm state: PENDING, RUNNING, FAILED, CANCELLED, ...
    state: str  # HeyHi state: submitted, running, completed, crashed, cancelled, requeued
    reason: str
    exit_code: int | None  # known once sacct has the job; -N when signal N ended it
    node: str
    acct: "sp.SacctRow | None" = None  # the final sacct row (what the job cost: heyhi.slurm.cost)


Runner = Callable[[list[str]], str]


class SlurmPoller:
    """Tracks job ids and polls Slurm for all of them at once.

    One ``poll()``: one ``squeue`` for all of the user's jobs; then, only if some tracked job left
    squeue or squeue shows it in a final state, one ``sacct`` for exactly those ids (for the exit
    code; split only if the id list would exceed ``sacct_max_chars``, ~12,000 ids). It returns
    the JobChanges since the previous poll (a change = new Slurm state, reason, node or exit
    code; a job's first poll always reports it). Slurm 22.05 puts a requeued job straight back to
    PENDING: PENDING after a started state is reported as HeyHi state "requeued". A job whose final state sacct
    confirmed is no longer tracked (``track`` it again after a requeue). A job final in squeue
    that sacct does not know (accounting disabled or lagging) is reported with exit_code None and
    dropped after ``sacct_retries`` polls. A tracked job in neither answer is counted in
    ``missing`` (job id -> consecutive polls) for the caller to judge.
    ``run(argv) -> stdout`` is injectable (default: subprocess; SlurmError on failure).

    ``next_interval()``: ``min_interval`` after a track() or a poll that saw a change, then
    multiplied by ``growth`` after each quiet poll, up to ``max_interval``.
    """

    def __init__(
        self,
        run: Runner | None = None,
        *,
        user: str | None = None,
        min_interval: float = 2.0,
        max_interval: float = 60.0,
        growth: float = 2.0,
        sacct_max_chars: int = 100_000,
        sacct_retries: int = 3,
        efficiency: "EFF.EfficiencyWatch | None" = None,
    ):
        self._run = run or run_slurm
        self.rate = QueryRate()  # every Slurm command run through this poller, for ctl status
        self._squeue_argv = sp.squeue_argv(user)
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.growth = growth
        self.sacct_max_chars = sacct_max_chars
        self.sacct_retries = sacct_retries
        self._tracked: set[str] = set()
        # last reported observation (see poll) and HeyHi state per tracked job
        self._last: dict[str, tuple] = {}
        self._heyhi: dict[str, str] = {}
        self._map_cache: dict[tuple[str, str], tuple[str, str]] = {}
        #: consecutive polls in which a tracked job was in neither squeue nor sacct
        self.missing: dict[str, int] = {}
        self._sacct_waits: dict[str, int] = {}
        self._interval = min_interval
        self.calls = 0  # Slurm commands run so far (squeue + sacct + sstat)
        self.polls = 0
        #: live efficiency: at most one batched sstat per efficiency.interval_s for the running jobs;
        #: its warnings (job id and one line each) wait in efficiency_warnings for the tracker to emit
        self.efficiency = efficiency or EFF.EfficiencyWatch.from_env()
        self.efficiency_warnings: deque[EFF.IdleWarning] = deque(maxlen=1000)
        self._raw: dict[str, str] = {}  # array task id (5_2) -> its own job id (squeue's %A)

    def run(self, argv: list[str]) -> str:
        """Run one Slurm command through this poller's runner, counted in ``rate``."""
        self.rate.record(argv[0])
        return self._run(argv)

    # -- tracking ------------------------------------------------------------------------
    @property
    def tracked(self) -> frozenset[str]:
        return frozenset(self._tracked)

    def track(self, job_id: str) -> None:
        """Follow job_id from the next poll on (its first poll reports it); polls soon again."""
        job_id = str(job_id)
        if job_id not in self._tracked:
            self._tracked.add(job_id)
            self._last.pop(job_id, None)
            self._heyhi.pop(job_id, None)
        self._interval = self.min_interval

    def track_many(self, job_ids: Iterable[str]) -> None:
        for j in job_ids:
            self.track(j)

    def untrack(self, job_id: str) -> None:
        job_id = str(job_id)
        self._tracked.discard(job_id)
        self._last.pop(job_id, None)
        self._heyhi.pop(job_id, None)
        self.missing.pop(job_id, None)
        self._sacct_waits.pop(job_id, None)
        self._raw.pop(job_id, None)

    def next_interval(self) -> float:
        """Seconds to wait before the next poll."""
        return self._interval

    # -- one poll ----------------------------------------------------------------------------
    def poll(self) -> list[JobChange]:
        """One squeue (+ one sacct when tracked jobs finished or vanished) -> changes."""
        with sp.gc_paused():  # builds ~2 small objects per tracked job: see gc_paused
            changes = self._poll()
        if self.efficiency.due():
            self.check_efficiency()
        return changes

    def check_efficiency(self) -> list[EFF.IdleWarning]:
        """One sstat for all tracked jobs squeue last showed RUNNING (none when there is none):
        feeds ``efficiency``; returns its new warnings (also kept in ``efficiency_warnings``).
        sstat takes an array task (``5_2``) for its whole array and names every step by the task's own
        job id (squeue's ``%A``): it is asked for, and answers by, those ids, mapped back here."""
        running = [j for j, obs in self._last.items() if obs[0] == "RUNNING" and sp.is_job_id(j)]
        if not running:
            return []
        own = {self._raw.get(j, j): j for j in running}
        self.calls += 1
        self.rate.record("sstat")
        try:
            got = EFF.parse_sstat(self._run(EFF.sstat_argv(list(own))))
        except SlurmError:
            got = EFF.Sample({}, {})  # no step running yet, or sstat unavailable: try again next interval
        sample = EFF.Sample({own[k]: v for k, v in got.cpu.items() if k in own},
                            {own[k]: v for k, v in got.gpu.items() if k in own})
        warnings = self.efficiency.observe(sample)
        self.efficiency_warnings.extend(warnings)
        return warnings

    def _poll(self) -> list[JobChange]:
        if not self._tracked:
            self._grow()
            return []
        self.polls += 1
        self.calls += 1
        self.rate.record("squeue")
        try:
            rows = sp.parse_squeue(self._run(self._squeue_argv))
        except Exception:
            self._grow()
            raise
        final_states = sp.FINAL_STATES
        last = self._last
        missing = self.missing
        ranges = None
        # job id -> (slurm_state, reason, node), only for not-yet-finished jobs whose view changed
        # since the last report (a job finished per sacct is reported directly, with exit code)
        changed: dict[str, tuple] = {}
        final_sq: dict[str, tuple] = {}  # final in squeue: sacct has the exit code
        need_sacct: list[str] = []
        get_row = rows.get
        get_last = last.get
        for job_id in tuple(self._tracked):  # a snapshot: track() may run in another thread
            row = get_row(job_id)
            if row is None and "_" in job_id:  # an array task still folded into a pending range?
                if ranges is None:
                    ranges = sp.pending_ranges(rows)
                row = sp.find_row(rows, job_id, ranges)
                if row is not None and missing:
                    missing.pop(job_id, None)
            if row is None:
                if sp.is_job_id(job_id):
                    need_sacct.append(job_id)
                else:
                    missing[job_id] = missing.get(job_id, 0) + 1
                continue
            obs = row[1:4]  # (state, reason, node)
            if obs[0] in final_states:
                need_sacct.append(job_id)  # squeue has no exit code
                final_sq[job_id] = obs
            elif get_last(job_id) != obs:
                changed[job_id] = obs
                if "_" in job_id:  # an array task: sstat knows it by its own id only (see check_efficiency)
                    self._raw[job_id] = row[6]
        if missing:
            for job_id in rows.keys() & missing.keys():
                del missing[job_id]

        finished: list[str] = []
        changes: list[JobChange] = []
        new = tuple.__new__
        cache = self._map_cache
        if need_sacct:
            acct: dict[str, sp.SacctRow] = {}
            sacct_failed = False
            try:
                for chunk in _chunks(need_sacct, self.sacct_max_chars):
                    self.calls += 1
                    self.rate.record("sacct")
                    acct.update(sp.parse_sacct(self._run(sp.sacct_argv(chunk))))
            except SlurmError:
                sacct_failed = True  # no accounting, or slurmdbd down: squeue's view is all
            get_acct = acct.get
            get_sq = final_sq.get
            waits = self._sacct_waits
            for job_id in need_sacct:
                a = get_acct(job_id)
                if a is not None and a[2] in final_states:
                    # final with exit code: reported once (it is untracked right after)
                    key = (a[2], a.reason)
                    mapped = cache.get(key)
                    if mapped is None:
                        mapped = cache[key] = sp.map_state_reason(*key)
                    node = a.node or get_sq(job_id, _NO_OBS)[2]
                    changes.append(
                        new(JobChange, (job_id, a[2], mapped[0], mapped[1], -a[5] if a[5] else a[4], node, a))
                    )
                    finished.append(job_id)
                    continue
                sq = get_sq(job_id)
                if sq is not None:  # final in squeue; sacct has no final record (yet)
                    obs = sq
                    n = waits[job_id] = waits.get(job_id, 0) + 1
                    if sacct_failed or n >= self.sacct_retries:
                        finished.append(job_id)  # the exit code stays unknown
                elif a is not None:  # gone from squeue, sacct says not final (lag)
                    obs = (a[2], a.reason, a.node)  # (state, reason, node) like squeue's
                else:
                    missing[job_id] = missing.get(job_id, 0) + 1
                    continue
                if missing:
                    missing.pop(job_id, None)
                if get_last(job_id) != obs:
                    changed[job_id] = obs

        if changed:
            heyhi_of = self._heyhi
            append = changes.append
            for job_id, obs in changed.items():
                state = obs[0]
                key = (state, obs[1])
                mapped = cache.get(key)
                if mapped is None:
                    mapped = cache[key] = sp.map_state_reason(state, obs[1])
                heyhi = mapped[0]
                if state == "PENDING":
                    # Slurm 22.05 moves a requeued job straight back to PENDING (reason BeginTime):
                    # PENDING after a started state, and while it stays pending, is "requeued".
                    prev = last.get(job_id)
                    if prev is not None and (prev[0] in _STARTED or heyhi_of.get(job_id) == "requeued"):
                        heyhi = "requeued"
                last[job_id] = obs
                heyhi_of[job_id] = heyhi
                append(new(JobChange, (job_id, state, heyhi, mapped[1], None, obs[2], None)))
        if len(cache) > 10_000:
            cache.clear()
        if finished:
            self._tracked.difference_update(finished)
            heyhi_of = self._heyhi
            waits = self._sacct_waits
            if last:
                for job_id in finished:
                    last.pop(job_id, None)
                    heyhi_of.pop(job_id, None)
            if missing:
                for job_id in finished:
                    missing.pop(job_id, None)
            if waits:
                for job_id in finished:
                    waits.pop(job_id, None)
            if self._raw:
                for job_id in finished:
                    self._raw.pop(job_id, None)

        if changes:
            self._interval = self.min_interval
        else:
            self._grow()
        return changes

    def _grow(self) -> None:
        self._interval = min(self.max_interval, max(self.min_interval, self._interval * self.growth))
