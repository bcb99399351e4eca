"""Live efficiency of running Slurm jobs: one batched ``sstat`` for all of them, and a warning when a
job's CPU utilisation stays near zero (a stuck or idle job holding its allocation).

* :func:`sstat_argv` builds ONE sstat call for a batch of running job ids (all their steps, ``-a``);
  :func:`parse_sstat` turns its answer into {job id: CPU seconds used so far}, summed over the job's
  steps (``TRESUsageInTot``'s ``cpu=``). The answer is bounded (:data:`MAX_SSTAT_CHARS`).
* GPU: :func:`gpu_argv` / :func:`parse_gpu_util` are the ``nvidia-smi`` query and its parser, for nodes
  that have it (the caller decides where to run it; the test cluster has no GPU).
* :class:`EfficiencyWatch` decides when the next sstat is due (at most one per ``interval_s``, default
  5 min) and, from successive samples, which jobs have stayed below ``threshold`` utilisation for
  ``warn_after_s`` (default 30 min): one warning per such stretch, as one line of text.
  Utilisation = CPU seconds used between two samples / (wall seconds x CPUs); when the job's CPU count
  is unknown it is taken as 1, which overstates the utilisation: a warning is then never a false alarm.

The daemon's defaults come from the environment (:meth:`EfficiencyWatch.from_env`):
``HEYHI_SLURM_EFFICIENCY_INTERVAL_S`` (300), ``HEYHI_SLURM_IDLE_WARN_S`` (1800),
``HEYHI_SLURM_IDLE_THRESHOLD`` (0.05); a bad value is a one-line ConfigError naming the variable.

Pure functions and a small state machine with an injectable clock; stdlib only.
"""

from __future__ import annotations

import os
import time

from heyhi.errors import ConfigError
from heyhi.slurm.cost import parse_duration, parse_tres
from heyhi.slurm.query import is_job_id

__all__ = [
    "MAX_SSTAT_CHARS",
    "SSTAT_FIELDS",
    "sstat_argv",
    "parse_sstat",
    "gpu_argv",
    "parse_gpu_util",
    "EfficiencyWatch",
]

SSTAT_FIELDS = "JobID,NTasks,TRESUsageInTot"
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


def parse_sstat(text: str) -> dict[str, float]:
    """sstat answer (fields SSTAT_FIELDS) -> {job id: CPU seconds used by its steps so far}.
    Step ``123.batch`` counts for job ``123``; lines of another shape are skipped."""
    out: dict[str, float] = {}
    for line in text[:MAX_SSTAT_CHARS].split("\n"):
        p = line.split("|")
        if len(p) != 3 or not p[0]:
            continue
        job = p[0].split(".", 1)[0]
        secs = parse_duration(parse_tres(p[2]).get("cpu", ""))
        if secs is None or not is_job_id(job):
            continue
        out[job] = out.get(job, 0.0) + secs
    return out


def gpu_argv(job_id: str) -> list[str]:
    """nvidia-smi on the job's first node, inside its allocation (``srun --overlap``): GPU utilisation in %."""
    if not is_job_id(job_id):
        raise ValueError(f"not a Slurm job id: {job_id[:40]!r}")
    return ["srun", "--overlap", f"--jobid={job_id}", "-N1", "-n1", "nvidia-smi",
            "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]


def parse_gpu_util(text: str) -> float | None:
    """nvidia-smi ``utilization.gpu`` lines (one per GPU, ``87``) -> mean utilisation 0..1; None if none."""
    vals = []
    for line in text[:65536].splitlines():
        t = line.strip().rstrip("%").strip()
        try:
            v = float(t)
        except ValueError:
            continue
        if 0 <= v <= 100:
            vals.append(v / 100)
    return sum(vals) / len(vals) if vals else None


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

    def observe(self, cpu_seconds: dict[str, float], cpus: dict[str, int] | None = None) -> list[str]:
        """Record one sstat sample (jobs absent from it are forgotten); return the new warnings."""
        now = self._clock()
        self._last_sample = now
        warnings = []
        for job in [j for j in self._jobs if j not in cpu_seconds]:
            del self._jobs[job]
        for job, used in cpu_seconds.items():
            st = self._jobs.get(job)
            if st is None:
                self._jobs[job] = [used, now, None, False]
                continue
            dt = now - st[1]
            if dt <= 0:
                continue
            n = max(1, (cpus or {}).get(job) or 1)
            util = max(0.0, used - st[0]) / (dt * n)
            if util < self.threshold:
                if st[2] is None:
                    st[2] = st[1]
                idle = now - st[2]
                if idle >= self.warn_after_s and not st[3]:
                    st[3] = True
                    warnings.append(
                        f"Slurm job {job}: CPU utilisation {100 * util:.1f}% for {idle / 60:.0f} min"
                        f" (below {100 * self.threshold:g}%): stuck or idle while holding its allocation?")
            else:
                st[2], st[3] = None, False
            st[0], st[1] = used, now
        return warnings
