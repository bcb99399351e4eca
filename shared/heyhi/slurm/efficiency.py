"""Live efficiency of running Slurm jobs: one batched ``sstat`` for all of them, and a warning when a
job's GPU utilisation (where the node reports it) or else its CPU utilisation stays near zero (a stuck
or idle job holding its allocation).

* :func:`sstat_argv` builds ONE sstat call for a batch of running job ids (all their steps, ``-a``);
  :func:`parse_sstat` turns its answer into a :class:`Sample`: per job, the CPU seconds used so far
  (``TRESUsageInTot``'s ``cpu=``, summed over the job's steps) and, where the node gathers GPU figures
  (Slurm's NVML GPU plugin: ``gres/gpuutil=N`` in ``TRESUsageInAve``, N in % of one GPU), its GPU
  utilisation. The answer is bounded (:data:`MAX_SSTAT_CHARS`).
* A job counts as using GPUs when one of its steps reports GPU memory or utilisation above zero (a CPU
  job on a GPU node reports zeros: it is judged by its CPU). Its utilisation is the sum over steps of
  ``gpuutil`` x tasks, per GPU of the job (taken as 1 GPU when unknown), as a fraction; no separate
  ``nvidia-smi`` poll.
* :class:`EfficiencyWatch` decides when the next sstat is due (at most one per ``interval_s``, default
  5 min) and, from successive samples, which jobs have stayed below ``threshold`` utilisation for
  ``warn_after_s`` (default 30 min): one :class:`IdleWarning` per such stretch (the job id, one line).
  CPU utilisation = CPU seconds used between two samples / (wall seconds x CPUs); GPU utilisation is
  the reading of the later sample (Slurm's figure is a current one, not a total). When the job's CPU
  or GPU count is unknown it is taken as 1, which overstates the utilisation: a warning is then never
  a false alarm.

The daemon's defaults come from the environment (:meth:`EfficiencyWatch.from_env`):
``HEYHI_SLURM_EFFICIENCY_INTERVAL_S`` (300), ``HEYHI_SLURM_IDLE_WARN_S`` (1800),
``HEYHI_SLURM_IDLE_THRESHOLD`` (0.05); a bad value is a one-line ConfigError naming the variable.

Pure functions and a small state machine with an injectable clock; stdlib only.
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

from heyhi.errors import ConfigError
from heyhi.slurm.cost import parse_duration, parse_tres
from heyhi.slurm.query import is_job_id, mem_bytes

__all__ = [
    "MAX_SSTAT_CHARS",
    "SSTAT_FIELDS",
    "sstat_argv",
    "parse_sstat",
    "Sample",
    "IdleWarning",
    "EfficiencyWatch",
]

SSTAT_FIELDS = "JobID,NTasks,TRESUsageInTot,TRESUsageInAve"
MAX_SSTAT_CHARS = 4_000_000  # of an sstat answer read at most (~20,000 steps)


def sstat_argv(job_ids) -> list[str]:
    """One sstat for a batch of running jobs, every step (``-a``), ``|``-separated, no header.
    ValueError (naming it) for an id sstat would reject: sstat aborts the whole call on one."""
    ids = list(job_ids)
    if not ids:
        raise ValueError("sstat_argv needs at least one job id")
    bad = [j for j in ids if not is_job_id(j)]
    if bad:
        raise ValueError(f"not a Slurm job id for sstat: {bad[0][:40]!r}")
    return ["sstat", "--parsable2", "-n", "-a", "-j", ",".join(ids), "-o", SSTAT_FIELDS]


class Sample(NamedTuple):
    """One sstat answer: {job id: CPU seconds used so far}, and {job id: GPU utilisation (fraction of
    one GPU, summed over the job's tasks)} for the jobs whose node reports GPU use."""

    cpu: dict[str, float]
    gpu: dict[str, float]


class IdleWarning(NamedTuple):
    """A job idle too long: its Slurm id and the one line that says so."""

    job: str
    text: str


def _number(text: str | None) -> float | None:
    try:
        v = float(text) if text else None
    except ValueError:
        return None
    return v if v is not None and v >= 0 else None  # also drops nan


def parse_sstat(text: str) -> Sample:
    """sstat answer (fields SSTAT_FIELDS) -> :class:`Sample`. Step ``123.batch`` counts for job ``123``
    (sstat names an array task's steps by the task's own job id); a step listed twice counts once;
    lines of another shape are skipped."""
    cpu: dict[str, float] = {}
    gpu: dict[str, float] = {}
    gpu_used: set[str] = set()
    steps: set[str] = set()
    for line in text[:MAX_SSTAT_CHARS].split("\n"):
        p = line.split("|")
        if len(p) not in (3, 4) or not p[0] or p[0] in steps:
            continue
        steps.add(p[0])  # a step listed twice (asked for by its array's id and its own) counts once
        job = p[0].split(".", 1)[0]
        secs = parse_duration(parse_tres(p[2]).get("cpu", ""))
        if secs is None or not is_job_id(job):
            continue
        cpu[job] = cpu.get(job, 0.0) + secs
        ave = parse_tres(p[3]) if len(p) == 4 else {}
        util = _number(ave.get("gres/gpuutil", "").rstrip("%"))
        if util is None:
            continue
        tasks = _number(p[1]) or 1.0
        gpu[job] = gpu.get(job, 0.0) + util / 100 * tasks
        if util > 0 or (mem_bytes(ave.get("gres/gpumem", "")) or 0) > 0:
            gpu_used.add(job)
    return Sample(cpu, {j: u for j, u in gpu.items() if j in gpu_used})


class EfficiencyWatch:
    """When to sample, and which running jobs have idled too long (see the module docstring)."""

    def __init__(self, *, interval_s: float = 300.0, warn_after_s: float = 1800.0, threshold: float = 0.05,
                 clock=time.monotonic):
        self.interval_s, self.warn_after_s, self.threshold = interval_s, warn_after_s, threshold
        self._clock = clock
        self._last_sample = clock()  # the first sample comes interval_s after the start
        # job id -> [cpu seconds at the last sample, its time, low since (or None), warned]
        self._jobs: dict[str, list] = {}

    @classmethod
    def from_env(cls, environ=None, clock=time.monotonic) -> "EfficiencyWatch":
        """A watch configured by HEYHI_SLURM_EFFICIENCY_INTERVAL_S / _IDLE_WARN_S / _IDLE_THRESHOLD."""
        env = os.environ if environ is None else environ
        vals = {}
        for key, name, default in (("interval_s", "HEYHI_SLURM_EFFICIENCY_INTERVAL_S", 300.0),
                                   ("warn_after_s", "HEYHI_SLURM_IDLE_WARN_S", 1800.0),
                                   ("threshold", "HEYHI_SLURM_IDLE_THRESHOLD", 0.05)):
            text = env.get(name, "")
            try:
                vals[key] = float(text) if text.strip() else default
            except ValueError:
                vals[key] = -1.0
            if not vals[key] >= 0 or (key == "interval_s" and vals[key] < 1):  # also rejects nan
                raise ConfigError(f"expected a number of seconds (interval at least 1) or a fraction, got {text[:40]!r}",
                                  name)
        return cls(clock=clock, **vals)

    def due(self) -> bool:
        """True when the next sstat may run (never more than one per ``interval_s``)."""
        return self._clock() - self._last_sample >= self.interval_s

    def observe(self, sample: Sample, cpus: dict[str, int] | None = None,
                gpus: dict[str, int] | None = None) -> list[IdleWarning]:
        """Record one sstat sample (jobs absent from it are forgotten); return the new warnings.
        ``cpus`` / ``gpus``: what each job holds, where known (else 1: see the module docstring)."""
        now = self._clock()
        self._last_sample = now
        warnings = []
        for job in [j for j in self._jobs if j not in sample.cpu]:
            del self._jobs[job]
        for job, used in sample.cpu.items():
            st = self._jobs.get(job)
            if st is None:
                self._jobs[job] = [used, now, None, False]
                continue
            dt = now - st[1]
            if dt <= 0:
                continue
            if job in sample.gpu:
                what, util = "GPU", sample.gpu[job] / max(1, (gpus or {}).get(job) or 1)
            else:
                what, util = "CPU", max(0.0, used - st[0]) / (dt * max(1, (cpus or {}).get(job) or 1))
            if util < self.threshold:
                if st[2] is None:
                    st[2] = st[1]
                idle = now - st[2]
                if idle >= self.warn_after_s and not st[3]:
                    st[3] = True
                    warnings.append(IdleWarning(job, (
                        f"Slurm job {job}: {what} utilisation {100 * util:.1f}% for {idle / 60:.0f} min"
                        f" (below {100 * self.threshold:g}%): stuck or idle while holding its allocation?")))
            else:
                st[2], st[3] = None, False
            st[0], st[1] = used, now
        return warnings
