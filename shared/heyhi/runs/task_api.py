"""What a running task can call: ``heyhi.run_dir()``, ``heyhi.log_metrics(step, **values)``,
``heyhi.on_preemption(callback)``, ``heyhi.preemption_requested()``, and for a run planned as
segments (``launcher.slurm.segments``, ``heyhi.slurm.segments``) ``heyhi.segment()`` and
``heyhi.segment_done()``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

_callbacks: list[Callable[[], None]] = []
_preempted = False


def run_dir() -> Path:
    """The running job's folder (also its working folder)."""
    d = os.environ.get("HEYHI_RUN_DIR")
    return Path(d) if d else Path.cwd()


def log_metrics(step: int, **values: float) -> None:
    """Append ``{"step": step, "time": now, **values}`` to the run's metrics.jsonl."""
    rec = {"step": int(step), "time": time.time()}
    for k, v in values.items():
        rec[k] = float(v) if not isinstance(v, (int, bool)) else v
    with open(run_dir() / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps(rec) + "\n")


def on_preemption(callback: Callable[[], None]) -> None:
    """Call ``callback`` (e.g. save a checkpoint) when Slurm warns of the time limit or a
    preemption; the job is then requeued and resumes from its checkpoint."""
    _callbacks.append(callback)


def preemption_requested() -> bool:
    """True once the warning signal has arrived (for tasks that poll instead of a callback)."""
    return _preempted


class SegmentDone(BaseException):
    """Raised by ``segment_done()``: ends this segment's job well (a BaseException, so a task's
    ``except Exception`` does not swallow it)."""


def segment() -> tuple[int, int]:
    """(k, N): this job runs segment k of the N its run is planned as ((1, 1) for a run of one job)."""
    try:
        return int(os.environ.get("HEYHI_SEGMENT") or 1), int(os.environ.get("HEYHI_SEGMENTS") or 1)
    except ValueError:
        return 1, 1


def segment_done() -> None:
    """End this segment now, its work done and its checkpoint saved: the next segment's job continues
    the run in the same folder ("segment k of N done"); in the last segment (or a run of one job) the
    run is completed. Does not return. A task that returns normally has finished all its work: the
    run is completed and no later segment runs."""
    raise SegmentDone()


def _fire_preemption() -> None:
    global _preempted
    _preempted = True
    for cb in list(_callbacks):
        cb()
