"""The batch scripts HeyHi submits to Slurm, in one place: a single job's and a sweep's job array.

``SlurmSpec`` is the config's ``launcher.slurm`` fields; its resource arithmetic is the original
HeyHi's (``resources``), extended by ``nodes``, ``ntasks`` (tasks per node) and ``torchrun`` (one task
per node running ``python -m torch.distributed.run``, i.e. torchrun, through ``heyhi.runs.torchrun``
(which passes the USR2 warning on to the workers), with ``--nnodes``,
``--nproc_per_node`` and a c10d rendezvous at ``$MASTER_ADDR:$MASTER_PORT``). Both scripts share every ``#SBATCH`` line but the job's name, output and
array (``common_directives``) and the body that runs the job (``_run_lines``): the batch shell runs
``python -m heyhi.job RUN_DIR`` in the background (through ``srun`` for a job of several tasks),
forwards the ``--signal=B:USR2`` warning to it, and exits with the job's own exit status.

Pure functions, stdlib only.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Mapping, NamedTuple

__all__ = ["SlurmSpec", "SPEC_FIELDS", "resources", "common_directives", "render_sbatch", "render_array",
           "directive_value"]


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
    nodes: int = 0  # 0: from num_gpus (8 per node); else num_gpus is split evenly over these nodes
    ntasks: int = 0  # tasks per node; 0: one per GPU (one with single_task_per_node, or for a CPU job)
    torchrun: bool = False  # one Slurm task per node runs torchrun, which starts `ntasks` workers there
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
    ntasks_per_node: int  # Slurm tasks per node (1 under torchrun)
    cpus_per_task: int | None
    mem_gb: float | None
    workers_per_node: int = 1  # the job's processes per node (torchrun's --nproc_per_node)
    torchrun: bool = False


def resources(spec: SlurmSpec) -> _Resources:
    """Nodes, GPUs and tasks per node, CPUs per task and memory of ``spec`` (ValueError if they
    disagree). ``num_gpus`` is the job's total; ``nodes`` (0: ``num_gpus // 8``, at least 1) splits it
    evenly; ``ntasks`` is tasks per node (0: one per GPU, or one); ``single_task_per_node`` and
    ``torchrun`` make it one Slurm task per node (under torchrun, ``ntasks`` or the node's GPUs are
    torchrun's workers)."""
    n = int(spec.num_gpus or 0)
    if n < 0:
        raise ValueError(f"launcher.slurm.num_gpus must be >= 0, got {n}")
    nodes, ntasks = int(spec.nodes or 0), int(spec.ntasks or 0)
    if nodes < 0 or ntasks < 0:
        raise ValueError(f"launcher.slurm.nodes and ntasks must be >= 0, got nodes={nodes} ntasks={ntasks}")
    if ntasks > 1 and spec.single_task_per_node:
        raise ValueError(f"launcher.slurm: ntasks={ntasks} (tasks per node) contradicts single_task_per_node")
    if nodes or ntasks or spec.torchrun:
        return _ranked_resources(spec, n, nodes, ntasks)
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
    return _Resources(nodes, gpus, ntasks, cpus, mem, ntasks)


def _ranked_resources(spec: SlurmSpec, n: int, nodes: int, ntasks: int) -> _Resources:
    """``resources`` of a spec that sets ``nodes``, ``ntasks`` or ``torchrun``."""
    if nodes:
        if n % nodes:
            raise ValueError(f"launcher.slurm.num_gpus={n} cannot be split evenly over nodes={nodes}")
        gpus = n // nodes
        if gpus > 8:
            raise ValueError(f"launcher.slurm: {gpus} GPUs per node (num_gpus={n}, nodes={nodes}); at most 8")
    else:
        if n and not (n < 8 or n % 8 == 0):
            raise ValueError(
                f"launcher.slurm.num_gpus must be below 8 or a multiple of 8 (8 GPUs per node), got {n}")
        gpus, nodes = min(n, 8), max(1, n // 8)
    workers = ntasks or (1 if spec.single_task_per_node else max(1, gpus))
    tasks = 1 if (spec.torchrun or spec.single_task_per_node) else workers
    per_task = spec.cpus_per_gpu or 0  # per GPU; per worker in a CPU job
    cpus = (per_task * gpus // tasks if gpus else per_task * workers // tasks) or None
    if gpus:
        mem = gpus * spec.mem_per_gpu if spec.mem_per_gpu else None
    else:
        mem = None
    if spec.mem_gb:
        mem = spec.mem_gb
    return _Resources(nodes, gpus, tasks, cpus, mem, workers, bool(spec.torchrun))


def _fmt_gb(x: float) -> str:
    return f"{int(x)}G" if float(x).is_integer() else f"{int(x * 1024)}M"


def directive_value(value: str, what: str) -> str:
    """A value for an ``#SBATCH --opt=VALUE`` line. sbatch's directive parser understands double
    quotes (not single ones), so values with whitespace are double-quoted; a value that contains a
    double quote or a newline cannot be written there and is refused."""
    value = str(value)
    if '"' in value or "\n" in value or "\r" in value:
        raise ValueError(f"{what} cannot contain a double quote or a newline: {value!r}")
    return f'"{value}"' if any(c.isspace() for c in value) or "#" in value else value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def common_directives(spec: SlurmSpec, r: "_Resources | None" = None) -> list[str]:
    """The ``#SBATCH`` lines every HeyHi job shares (single jobs and sweep arrays): requeue,
    the USR2 warning, partition, time, resources, constraint, qos/account/comment, extra flags."""
    r = r or resources(spec)
    lines: list[str] = []

    def sb(opt: str, value=None) -> None:
        _sb(lines, opt, value)

    sb("open-mode", "append")
    sb("requeue")
    sb("signal", f"B:USR2@{int(spec.signal_delay_s)}")
    if spec.partition:
        sb("partition", spec.partition)
    t = spec.time_minutes()
    if t > 0:
        sb("time", str(t))
    sb("nodes", str(r.nodes))
    if r.gpus_per_node or r.nodes > 1 or r.ntasks_per_node > 1:
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


SPEC_FIELDS = frozenset(f.name for f in fields(SlurmSpec))


def _job_name(spec: SlurmSpec, default: str) -> str:
    name = (spec.job_name or "")[:80] or default
    return re.sub(r"[\s\"]", "_", name)


def _run_lines(r: _Resources, python: str, folder: str, prefix: str = "") -> list[str]:
    """The lines that run the job in ``folder`` (a shell word: quoted, or ``"$d"``) and wait for it;
    ``prefix``: shell words the job command runs under (a container, ``heyhi.launchers.containers``)."""
    # One task: the batch shell runs the job itself. Several tasks (ntasks_per_node = GPUs, or
    # several nodes): only srun starts one process per task; srun forwards USR2 to all of them.
    launcher = "srun --unbuffered --kill-on-bad-exit=1 " if r.nodes * r.ntasks_per_node > 1 or r.torchrun else ""
    job = f"{shlex.quote(python)} -m heyhi.job {folder}"
    rdzv: list[str] = []
    if launcher:  # srun of Slurm 22.05+ does not inherit the batch's --cpus-per-task
        launcher += "${SLURM_CPUS_PER_TASK:+--cpus-per-task=$SLURM_CPUS_PER_TASK} "
    if r.torchrun:
        # One task per node runs torchrun (torch.distributed.run of the job's python, through
        # heyhi.runs.torchrun: the USR2 warning goes on to the workers), which starts the node's
        # workers; they meet at a c10d rendezvous on the first host (heyhi.runs.jobenv).
        q = shlex.quote(python)
        rdzv = ["# torchrun's rendezvous: the first host of the allocation, a port derived from the job id",
                f'eval "$({q} -m heyhi.runs.jobenv --exports)" || exit 1']
        job = (f"{q} -m heyhi.runs.torchrun --nnodes={r.nodes} --nproc_per_node={r.workers_per_node}"
               ' --rdzv_id="$SLURM_JOB_ID" --rdzv_backend=c10d --rdzv_endpoint="$MASTER_ADDR:$MASTER_PORT"'
               f" -m heyhi.job {folder}")
    return [
        "",
        *rdzv,
        "# --signal=B:USR2 reaches this shell only: forward it to the job, keep waiting for it.",
        "child=",
        "forwarded=0",
        "trap 'forwarded=1; [ -n \"$child\" ] && kill -USR2 \"$child\" 2>/dev/null' USR2",
        f"{launcher}{prefix}{job} &",
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


def _sb(lines: list[str], opt: str, value=None, what: str | None = None) -> None:
    lines.append(f"#SBATCH --{opt}" if value is None else f"#SBATCH --{opt}={directive_value(value, what or opt)}")


def render_sbatch(
    spec: SlurmSpec, run_dir: Path, python: str, env: Mapping[str, str] | None = None, prefix: str = ""
) -> str:
    """The batch script that runs ``<python> -m heyhi.job <run_dir>`` under Slurm.

    The job writes run_dir/stdout.log and stderr.log itself; what the batch shell and Slurm print
    goes to run_dir/slurm.out (appended across requeues). ``--signal=B:USR2@delay`` signals the batch
    shell only, so the script runs the job in the background and forwards USR2 to it, waits
    again after each forwarded signal, and exits with the job's own exit status. A job of more
    than one task is started through ``srun`` (one process per task, SLURM_PROCID = rank).
    ``prefix``: shell words the job command runs under (its container).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_absolute():
        raise ValueError(f"run_dir must be absolute (the job runs elsewhere): {run_dir}")
    r = resources(spec)
    d = str(run_dir)
    lines = ["#!/bin/bash", "# HeyHi batch script (generated by heyhi.slurm.script)"]
    _sb(lines, "job-name", _job_name(spec, "heyhi"))
    _sb(lines, "chdir", d, "run_dir")
    # '%' starts a filename pattern (%j, %x...) in --output: '%%' is a literal '%'
    _sb(lines, "output", d.replace("%", "%%") + "/slurm.out", "run_dir")
    lines.extend(common_directives(spec, r))

    q = shlex.quote
    body = ["", "set -u"]
    for k, v in (env or {}).items():
        if not _ENV_NAME.match(k):
            raise ValueError(f"not an environment variable name: {k!r}")
        body.append(f"export {k}={q(str(v))}")
    body += [f"export HEYHI_RUN_DIR={q(d)}", f"cd {q(d)} || exit 1"]
    return "\n".join(lines + body + _run_lines(r, python, q(d), prefix))


def render_array(spec: SlurmSpec, list_file: Path, n: int, throttle: int | None, python: str, out_dir: Path,
                 dependency: str | None = None, prefix: str = "") -> str:
    """The batch script of one job array of ``n`` tasks (at most ``throttle`` at once): task i runs
    the run folder on line i+1 of ``list_file``; Slurm's output goes to ``out_dir/<array>_<task>.out``.
    ``dependency`` (``afterany:123``): the array starts only once that job (every task of it) ended.
    ``prefix``: shell words each task's job command runs under (the sweep's container)."""
    r = resources(spec)
    lines = ["#!/bin/bash", "# HeyHi sweep job array (generated by heyhi.slurm.script)"]
    _sb(lines, "job-name", _job_name(spec, "heyhi-sweep"))
    _sb(lines, "output", str(out_dir).replace("%", "%%") + "/%A_%a.out")
    _sb(lines, "array", f"0-{n - 1}" + (f"%{throttle}" if throttle else ""))
    if dependency:
        _sb(lines, "dependency", dependency, "dependency")
    lines.extend(common_directives(spec, r))
    body = [
        "", "set -u",
        f'd=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {shlex.quote(str(list_file))})',
        'if [ -z "$d" ]; then echo "heyhi: no run folder for array task $SLURM_ARRAY_TASK_ID" >&2; exit 1; fi',
        'export HEYHI_RUN_DIR="$d"',
        'cd "$d" || exit 1',
    ]
    return "\n".join(lines + body + _run_lines(r, python, '"$d"', prefix))
