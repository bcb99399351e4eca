"""Slurm launcher: batch script rendering, sbatch/scancel/scontrol, and batched polling.

The parts here do not need the daemon: ``SlurmSpec`` (the config's ``launcher.slurm`` fields),
``render_sbatch`` (the batch script), ``submit``/``cancel``/``requeue`` (one subprocess each) and
``SlurmPoller`` (one squeue per poll for all of the user's jobs, one sacct for the tracked jobs
that finished, and the interval to wait before the next poll).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Mapping, NamedTuple

from heyhi.slurm import query as sp

__all__ = [
    "SlurmError",
    "SlurmSpec",
    "render_sbatch",
    "run_slurm",
    "submit",
    "check_controller",
    "cancel",
    "requeue",
    "JobChange",
    "SlurmPoller",
]

DEFAULT_TIMEOUT_S = 30.0
PING_TIMEOUT_S = 5.0  # `scontrol ping` answers in ~20 ms, or at once "DOWN" when no controller listens


def submit_timeout() -> float:
    """The bound on one sbatch (``HEYHI_SBATCH_TIMEOUT_S``, default 30 s): sbatch itself retries
    an unreachable controller for ~9 s and a missing slurm.conf for 60 s."""
    import os

    try:
        v = float(os.environ.get("HEYHI_SBATCH_TIMEOUT_S", ""))
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return v if v > 0 else DEFAULT_TIMEOUT_S


class SlurmError(RuntimeError):
    """A Slurm command failed; the message is one line (the command's stderr, condensed)."""


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def run_slurm(
    argv: list[str], *, timeout: float = DEFAULT_TIMEOUT_S, env: Mapping[str, str] | None = None
) -> str:
    """Run a Slurm command, return its stdout; a failure raises SlurmError (one line)."""
    try:
        p = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise SlurmError(f"{argv[0]}: command not found (is Slurm installed and on PATH?)") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{argv[0]} did not answer within {timeout:g} s") from None
    if p.returncode != 0:
        msg = _one_line(p.stderr or p.stdout) or f"exit status {p.returncode}"
        raise SlurmError(f"{argv[0]} failed: {msg}")
    return p.stdout


# --------------------------------------------------------------------------------------------
# spec and batch script


@dataclass
class SlurmSpec:
    """The config's ``launcher.slurm`` fields. Unset = None (cluster default / not requested)."""

    partition: str | None = None
    num_gpus: int = 0
    hours: float = 0
    minutes: int = 0
    mem_per_gpu: float | None = None  # GB
    mem_gb: float | None = None  # GB per node; overrides mem_per_gpu arithmetic when set
    cpus_per_gpu: int | None = None
    constraint: str | None = None
    single_task_per_node: bool = False
    qos: str | None = None
    account: str | None = None
    comment: str | None = None
    signal_delay_s: int = 90
    extra_sbatch_flags: list[str] = field(default_factory=list)
    job_name: str | None = None
    # old configs: GPU type booleans -> constraint
    volta32: bool = False
    volta: bool = False
    pascal: bool = False

    @classmethod
    def from_mapping(cls, d: Mapping | None) -> "SlurmSpec":
        """Build from a plain dict of launcher.slurm fields; absent or None fields keep defaults.
        Unknown keys raise ValueError (a typo should not silently request nothing)."""
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown launcher.slurm field(s): {', '.join(unknown)}")
        kw = {k: v for k, v in d.items() if v is not None}
        if "extra_sbatch_flags" in kw:
            flags = kw["extra_sbatch_flags"]
            kw["extra_sbatch_flags"] = [flags] if isinstance(flags, str) else list(flags)
        return cls(**kw)

    def constraint_expr(self) -> str | None:
        """The --constraint value: explicit constraint, the legacy GPU booleans, or both ANDed."""
        if self.pascal and (self.volta or self.volta32):
            raise ValueError("launcher.slurm: cannot use volta AND pascal")
        legacy = "volta32gb" if self.volta32 else "volta" if self.volta else "pascal" if self.pascal else None
        parts = [c for c in (self.constraint, legacy) if c]
        return "&".join(parts) or None

    def time_minutes(self) -> int:
        return int(round((self.hours or 0) * 60)) + int(self.minutes or 0)


class _Resources(NamedTuple):
    nodes: int
    gpus_per_node: int
    ntasks_per_node: int
    cpus_per_task: int | None
    mem_gb: float | None


def _resources(spec: SlurmSpec) -> _Resources:
    n = int(spec.num_gpus or 0)
    if n < 0:
        raise ValueError(f"launcher.slurm.num_gpus must be >= 0, got {n}")
    if n == 0:  # CPU-only job: one task
        return _Resources(1, 0, 1, max(1, int(spec.cpus_per_gpu or 0)), spec.mem_gb)
    if not (n < 8 or n % 8 == 0):
        raise ValueError(
            f"launcher.slurm.num_gpus must be below 8 or a multiple of 8 (8 GPUs per node), got {n}"
        )
    gpus = min(n, 8)
    nodes = max(1, n // 8)
    if spec.single_task_per_node:
        ntasks = 1
        mem = gpus * spec.mem_per_gpu if spec.mem_per_gpu else None
    else:
        ntasks = gpus
        mem = spec.mem_per_gpu or None
    if spec.mem_gb:
        mem = spec.mem_gb
    cpus = spec.cpus_per_gpu * gpus // ntasks if spec.cpus_per_gpu else None
    return _Resources(nodes, gpus, ntasks, cpus, mem)


def _fmt_gb(x: float) -> str:
    return f"{int(x)}G" if float(x).is_integer() else f"{int(x * 1024)}M"


def _directive_value(value: str, what: str) -> str:
    """A value for an ``#SBATCH --opt=VALUE`` line. sbatch's directive parser understands double
    quotes (not single ones), so values with whitespace are double-quoted; a value that contains a
    double quote or a newline cannot be written there and is refused."""
    value = str(value)
    if '"' in value or "\n" in value or "\r" in value:
        raise ValueError(f"{what} cannot contain a double quote or a newline: {value!r}")
    return f'"{value}"' if any(c.isspace() for c in value) or "#" in value else value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def common_directives(spec: "SlurmSpec", r: "_Resources" = None) -> list[str]:
    """The ``#SBATCH`` lines every HeyHi job shares (single jobs and sweep arrays): requeue,
    the USR2 warning, partition, time, resources, constraint, qos/account/comment, extra flags."""
    r = r or _resources(spec)
    lines: list[str] = []

    def sb(opt: str, value=None) -> None:
        lines.append(f"#SBATCH --{opt}" if value is None else f"#SBATCH --{opt}={_directive_value(value, opt)}")

    sb("open-mode", "append")
    sb("requeue")
    sb("signal", f"B:USR2@{int(spec.signal_delay_s)}")
    if spec.partition:
        sb("partition", spec.partition)
    t = spec.time_minutes()
    if t > 0:
        sb("time", str(t))
    sb("nodes", str(r.nodes))
    if r.gpus_per_node:
        sb("gpus-per-node", str(r.gpus_per_node))
        sb("ntasks-per-node", str(r.ntasks_per_node))
    else:
        sb("ntasks", "1")
    if r.cpus_per_task:
        sb("cpus-per-task", str(r.cpus_per_task))
    if r.mem_gb:
        sb("mem", _fmt_gb(r.mem_gb))
    constraint = spec.constraint_expr()
    if constraint:
        sb("constraint", constraint)
    for opt in ("qos", "account", "comment"):
        if getattr(spec, opt):
            sb(opt, getattr(spec, opt))
    for flag in spec.extra_sbatch_flags:
        flag = str(flag)
        if "\n" in flag:
            raise ValueError(f"extra_sbatch_flags entry contains a newline: {flag!r}")
        lines.append(f"#SBATCH {flag}")
    return lines


def render_sbatch(
    spec: SlurmSpec, run_dir: Path, python: str, env: Mapping[str, str] | None = None
) -> str:
    """The batch script that runs ``<python> -m heyhi.job <run_dir>`` under Slurm.

    Resource arithmetic is the original HeyHi's (see _resources). The job writes
    run_dir/stdout.log and stderr.log itself; what the batch shell and Slurm print goes to
    run_dir/slurm.out (appended across requeues). ``--signal=B:USR2@delay`` signals the batch
    shell only, so the script runs the job in the background and forwards USR2 to it, waits
    again after each forwarded signal, and exits with the job's own exit status. A job of more
    than one task is started through ``srun`` (one process per task, SLURM_PROCID = rank).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_absolute():
        raise ValueError(f"run_dir must be absolute (the job runs elsewhere): {run_dir}")
    r = _resources(spec)
    name = (spec.job_name or "")[:80] or "heyhi"
    name = re.sub(r"[\s\"]", "_", name)
    d = str(run_dir)
    lines = ["#!/bin/bash", "# HeyHi batch script (generated by heyhi_daemon.launchers.slurm)"]

    def sb(opt: str, value=None, what: str | None = None) -> None:
        if value is None:
            lines.append(f"#SBATCH --{opt}")
        else:
            lines.append(f"#SBATCH --{opt}={_directive_value(value, what or opt)}")

    sb("job-name", name)
    sb("chdir", d, "run_dir")
    # '%' starts a filename pattern (%j, %x...) in --output: '%%' is a literal '%'
    sb("output", d.replace("%", "%%") + "/slurm.out", "run_dir")
    lines.extend(common_directives(spec, r))

    q = shlex.quote
    # One task: the batch shell runs the job itself. Several tasks (ntasks_per_node = GPUs, or
    # several nodes): only srun starts one process per task; srun forwards USR2 to all of them.
    launcher = "srun --unbuffered --kill-on-bad-exit=1 " if r.nodes * r.ntasks_per_node > 1 else ""
    body = ["", "set -u"]
    for k, v in (env or {}).items():
        if not _ENV_NAME.match(k):
            raise ValueError(f"not an environment variable name: {k!r}")
        body.append(f"export {k}={q(str(v))}")
    body += [
        f"export HEYHI_RUN_DIR={q(d)}",
        f"cd {q(d)} || exit 1",
        "",
        "# --signal=B:USR2 reaches this shell only: forward it to the job, keep waiting for it.",
        "child=",
        "forwarded=0",
        "trap 'forwarded=1; [ -n \"$child\" ] && kill -USR2 \"$child\" 2>/dev/null' USR2",
        f"{launcher}{q(python)} -m heyhi.job {q(d)} &",
        "child=$!",
        "while :; do",
        "  forwarded=0",
        '  wait "$child"; status=$?',
        "  # a trapped signal interrupts wait (status 128+n); bash remembers the child's status,",
        "  # so waiting again returns it once the job has ended",
        '  [ "$forwarded" = 1 ] || break',
        "done",
        'exit "$status"',
        "",
    ]
    return "\n".join(lines + body)


# --------------------------------------------------------------------------------------------
# commands


def check_controller(*, timeout: float = PING_TIMEOUT_S, env: Mapping[str, str] | None = None) -> None:
    """Raise SlurmError (one line) unless ``scontrol ping`` says a controller is UP: a submit to a
    cluster without one would only fail after sbatch's own retries."""
    try:
        out = run_slurm(["scontrol", "ping"], timeout=timeout, env=env)
    except SlurmError as e:
        raise SlurmError(f"no Slurm controller answers ({e})") from None
    if " UP" not in out:
        raise SlurmError(f"no Slurm controller answers (scontrol ping: {_one_line(out.splitlines()[0] if out.strip() else 'no answer')})")


def submit(script_path: Path, *, timeout: float = DEFAULT_TIMEOUT_S, env: Mapping[str, str] | None = None) -> str:
    """``sbatch --parsable script`` -> job id (``123``; a federation suffix ``;cluster`` is
    dropped). A rejected submission raises SlurmError with sbatch's stderr on one line."""
    out = run_slurm(["sbatch", "--parsable", str(script_path)], timeout=timeout, env=env)
    job_id = out.strip().splitlines()[-1].split(";", 1)[0].strip() if out.strip() else ""
    if not job_id or not job_id.replace("_", "").isdigit():
        raise SlurmError(f"sbatch printed no job id: {_one_line(out)!r}")
    return job_id


def cancel(job_id: str, *, signal: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """``scancel JOB`` (or ``scancel --batch -s SIGNAL JOB`` to signal the batch shell only)."""
    argv = ["scancel"] + (["--batch", "-s", signal] if signal else []) + [str(job_id)]
    run_slurm(argv, timeout=timeout)


def requeue(job_id: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """``scontrol requeue JOB``: the job goes back to PENDING (reason BeginTime) and runs again."""
    run_slurm(["scontrol", "requeue", str(job_id)], timeout=timeout)


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
    ):
        self._run = run or run_slurm
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
        self.calls = 0  # Slurm commands run so far (squeue + sacct)
        self.polls = 0

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

    def next_interval(self) -> float:
        """Seconds to wait before the next poll."""
        return self._interval

    # -- one poll ----------------------------------------------------------------------------
    def poll(self) -> list[JobChange]:
        """One squeue (+ one sacct when tracked jobs finished or vanished) -> changes."""
        with sp.gc_paused():  # builds ~2 small objects per tracked job: see gc_paused
            return self._poll()

    def _poll(self) -> list[JobChange]:
        if not self._tracked:
            self._grow()
            return []
        self.polls += 1
        self.calls += 1
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
                    key = (a[2], a[10])
                    mapped = cache.get(key)
                    if mapped is None:
                        mapped = cache[key] = sp.map_state_reason(*key)
                    node = a[9] or get_sq(job_id, _NO_OBS)[2]
                    changes.append(
                        new(JobChange, (job_id, a[2], mapped[0], mapped[1], -a[5] if a[5] else a[4], node))
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
                    obs = (a[2], a[10], a[9])  # (state, reason, node) like squeue's
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
                append(new(JobChange, (job_id, state, heyhi, mapped[1], None, obs[2])))
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

        if changes:
            self._interval = self.min_interval
        else:
            self._grow()
        return changes

    def _grow(self) -> None:
        self._interval = min(self.max_interval, max(self.min_interval, self._interval * self.growth))
