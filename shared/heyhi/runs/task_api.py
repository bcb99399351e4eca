"""What a running task can call: ``heyhi.run_dir()``, ``heyhi.log_metrics(step, **values)``,
``heyhi.on_preemption(callback)`` and ``heyhi.preemption_requested()``."""

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


def _fire_preemption() -> None:
    global _preempted
    _preempted = True
    for cb in list(_callbacks):
        cb()
