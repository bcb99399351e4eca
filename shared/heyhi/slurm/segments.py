"""A run planned as N segments (``launcher.slurm.segments``): N Slurm jobs one after another in one
run folder, each continuing the last through the task's checkpoint.

The record of the chain is ``heyhi.segments.json`` in the run folder (written atomically by the
daemon, read bounded by the job and the daemon): ``{"segments": N, "jobs": {slurm id: k}, "next":
{"segment": k + 1, "slurm_id": id, "after": id of k} | null}``. ``jobs`` names the segment each
submitted job runs; ``next`` is the job already queued for the following segment, held by Slurm with
``--dependency=afterok:<after>`` until segment k's job ends well.

How a segment ends (``heyhi.runs.runner``): the task calls ``heyhi.segment_done()`` (its work for this
segment is done, its checkpoint saved): the job records the run as submitted again, "segment k of N
done", and exits 0, which releases the next job. A task that returns normally has finished its work:
the run is completed and the daemon cancels the queued next segment. ``segment_done()`` in the last
segment completes the run ("segment N of N done"): the plan is used up.

Stdlib only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from heyhi import perms

__all__ = ["SEGMENTS", "planned", "read", "write", "segment_of", "reason"]

SEGMENTS = "heyhi.segments.json"
MAX_BYTES = 256 * 1024
MAX_SEGMENTS = 10_000


def planned(info: Mapping) -> int:
    """The number of segments a run (its ``heyhi.run.json``) is planned as: 1 unless ``slurm.segments`` > 1."""
    s = (info.get("slurm") or {}) if isinstance(info, Mapping) else {}
    try:
        n = int(s.get("segments") or 1) if isinstance(s, Mapping) else 1
    except (TypeError, ValueError):
        return 1
    return max(1, min(n, MAX_SEGMENTS))


def read(run_dir: Path) -> dict:
    """The folder's chain record (empty when there is none or it is not one; read up to 256 KiB)."""
    try:
        with open(Path(run_dir) / SEGMENTS, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
        data = json.loads(raw) if len(raw) <= MAX_BYTES else None
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
        return {}
    if not isinstance(data.get("next"), dict):
        data["next"] = None
    return data


def write(run_dir: Path, data: dict) -> None:
    """Write the chain record atomically (HeyHi's file mode, ``heyhi.perms``)."""
    perms.write_atomic(Path(run_dir) / SEGMENTS, json.dumps(data, indent=1, sort_keys=True))


def segment_of(data: Mapping, slurm_id: str | None) -> int | None:
    """The segment the Slurm job ``slurm_id`` runs, by the chain record (None when it names none)."""
    k = (data.get("jobs") or {}).get(str(slurm_id)) if slurm_id else None
    return k if isinstance(k, int) else None


def reason(k: int, n: int, what: str = "") -> str:
    """``segment k of N`` (+ `` what``): how the state names a segment."""
    return f"segment {k} of {n}" + (f" {what}" if what else "")
