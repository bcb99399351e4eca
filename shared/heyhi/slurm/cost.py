"""What a finished Slurm job cost, from the sacct row the daemon's poller already fetched (no query
of its own), recorded per run in ``heyhi.cost.json`` (written atomically) and summed over a sweep.

``cost_of(row)`` turns a :class:`heyhi.slurm.query.SacctRow` into a plain dict:

* ``cpus``, ``gpus``, ``mem_bytes``: what the job held (AllocTRES ``cpu``, ``gres/gpu``, ``mem``; memory
  falls back to ReqMem when the cluster does not count memory as a TRES);
* ``elapsed_s``; ``cpu_hours`` = cpus x elapsed, ``gpu_hours`` = gpus x elapsed;
* ``cpu_efficiency`` = TotalCPU / (elapsed x cpus) (at most 1), ``mem_efficiency`` = MaxRSS / requested memory
  (None when Slurm did not measure it: no ``jobacct_gather`` plugin, or a job shorter than its sampling).

``format_cost`` is the one-line text ``heyhi ctl show`` prints; ``total`` sums costs (a sweep's points).
Pure functions but ``read_cost`` (bounded); stdlib only. The daemon's Slurm tracker writes the file
(``heyhi.runs.records.write_atomic``) when it sees the job's final sacct row.
"""

from __future__ import annotations

import json
from pathlib import Path

from heyhi.slurm.query import SacctRow, mem_bytes

__all__ = ["COST_FILE", "parse_tres", "parse_duration", "cost_of", "format_cost", "total", "read_cost"]

COST_FILE = "heyhi.cost.json"
MAX_COST_FILE = 64 * 1024  # bytes read of a heyhi.cost.json at most


def parse_tres(text: str) -> dict[str, str]:
    """AllocTRES ``billing=1,cpu=2,mem=4G,node=1,gres/gpu=8`` -> {name: value}. Bad parts are skipped."""
    out: dict[str, str] = {}
    for part in text[:4096].split(","):
        k, sep, v = part.partition("=")
        if sep and k:
            out[k.strip()] = v.strip()
    return out


def parse_duration(text: str) -> float | None:
    """sacct durations -> seconds: ``00:02.489`` (MM:SS.mmm), ``01:02:03``, ``1-02:03:04``, ``45``;
    None for "" or garbage."""
    t = text.strip()
    if not t or len(t) > 32:
        return None
    days = 0
    if "-" in t:
        d, _, t = t.partition("-")
        if not d.isdigit():
            return None
        days = int(d)
    try:
        parts = [float(x) for x in t.split(":")]
    except ValueError:
        return None
    if not 1 <= len(parts) <= 3 or any(x < 0 for x in parts):
        return None
    secs = 0.0
    for x in parts:
        secs = secs * 60 + x
    return days * 86400 + secs


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def cost_of(row: SacctRow) -> dict | None:
    """The cost dict of a sacct row (see the module docstring); None when sacct gave no cost fields."""
    tres = parse_tres(row.alloc_tres)
    if not tres and not row.elapsed_raw:
        return None
    cpus = _int(tres.get("cpu")) or 0
    gpus = _int(tres.get("gres/gpu")) or 0
    elapsed = _int(row.elapsed_raw)
    if elapsed is None:
        elapsed = parse_duration(row.elapsed)
    elapsed = float(elapsed or 0)
    req = row.req_mem.strip()
    req_bytes = mem_bytes(req)
    if req_bytes is not None and req.endswith("c"):  # per CPU (Slurm before 21.08)
        req_bytes *= max(1, cpus)
    held = mem_bytes(tres.get("mem", "")) or req_bytes
    total_cpu = parse_duration(row.total_cpu)
    rss = mem_bytes(row.max_rss)
    # capped at 1: Elapsed has a resolution of one second, so a 2.6 s busy job "elapsed" 2 s
    cpu_eff = min(1.0, total_cpu / (elapsed * cpus)) if total_cpu is not None and elapsed > 0 and cpus else None
    mem_eff = rss / req_bytes if rss is not None and req_bytes else None
    return {
        "slurm_id": row.job_id, "cpus": cpus, "gpus": gpus, "mem_bytes": held, "elapsed_s": elapsed,
        "cpu_hours": cpus * elapsed / 3600, "gpu_hours": gpus * elapsed / 3600,
        "total_cpu_s": total_cpu, "max_rss_bytes": rss, "req_mem_bytes": req_bytes,
        "cpu_efficiency": cpu_eff, "mem_efficiency": mem_eff,
    }


def _mem_text(b) -> str:
    if not isinstance(b, (int, float)):
        return "?"
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{int(b)} B"


def _hours(h) -> str:
    return f"{h:.3g}" if isinstance(h, (int, float)) and h >= 0.001 else ("0" if not h else f"{h:.2g}")


def _pct(x) -> str:
    return f"{100 * x:.0f}%" if isinstance(x, (int, float)) else "unknown"


def format_cost(c: dict) -> str:
    """One line: ``2 CPUs, 8 GPUs, 4 GiB held for 3 s: 0.00167 CPU-h, 0.00667 GPU-h; CPU efficiency 83%,
    memory 61% of 100 MiB``."""
    cpus, gpus = c.get("cpus") or 0, c.get("gpus") or 0
    held = f"{cpus} CPU{'s' * (cpus != 1)}, {gpus} GPU{'s' * (gpus != 1)}"
    if c.get("mem_bytes"):
        held += f", {_mem_text(c['mem_bytes'])}"
    el = c.get("elapsed_s") or 0
    text = f"{held} held for {el:g} s: {_hours(c.get('cpu_hours'))} CPU-h, {_hours(c.get('gpu_hours'))} GPU-h"
    text += f"; CPU efficiency {_pct(c.get('cpu_efficiency'))}, memory {_pct(c.get('mem_efficiency'))}"
    if c.get("req_mem_bytes"):
        text += f" of {_mem_text(c['req_mem_bytes'])}"
    return text


def total(costs) -> dict:
    """Sum of cost dicts (a sweep's points): ``runs``, ``cpu_hours``, ``gpu_hours``, ``elapsed_s``."""
    out = {"runs": 0, "cpu_hours": 0.0, "gpu_hours": 0.0, "elapsed_s": 0.0}
    for c in costs:
        if not isinstance(c, dict):
            continue
        out["runs"] += 1
        for k in ("cpu_hours", "gpu_hours", "elapsed_s"):
            v = c.get(k)
            if isinstance(v, (int, float)):
                out[k] += v
    return out


def read_cost(run_dir) -> dict | None:
    """The run's ``heyhi.cost.json`` (at most MAX_COST_FILE bytes read), or None when absent or unreadable."""
    try:
        with open(Path(run_dir) / COST_FILE, "rb") as f:
            data = f.read(MAX_COST_FILE + 1)
    except OSError:
        return None
    if len(data) > MAX_COST_FILE:
        return None
    try:
        d = json.loads(data)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None

