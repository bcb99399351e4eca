"""Planning: each point's state from its run folder (Slurm asked once), what to launch, lost runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from heyhi.runs import formats as F, records as R
from heyhi.sweep.record import Record
from heyhi.sweep.spec import PLAN_STATES, SWEEPS_DIR
from heyhi.launchers.slurm import live_jobs
from heyhi.runs.records import RunDir


# ---- planning --------------------------------------------------------------------------------


class LazySlurm:
    """``in`` asks squeue once, on first use (a set of live ids; no squeue: trust the records)."""

    def __init__(self):
        self._live: set | None = None
        self._none = False

    def __contains__(self, jobid) -> bool:
        if self._live is None and not self._none:
            live = live_jobs()
            if live is None:
                self._none = True
            else:
                self._live = live
        return True if self._none else jobid in self._live


def plan_state(state: str) -> str:
    """A run folder's state as the plan names it: new, running, completed, crashed or lost."""
    if state == R.NOT_STARTED:
        return "new"
    if state in R.LIVE_STATES:
        return "running"
    if state == R.COMPLETED:
        return "completed"
    if state == R.LOST:
        return "lost"
    return "crashed"  # crashed, cancelled


def plan_states(dirs: Sequence[str], slurm_live=None) -> list[str]:
    """The plan state of each folder: one listing per parent folder, records read only for
    folders that exist, squeue asked at most once."""
    listing: dict[str, set] = {}
    live = slurm_live if slurm_live is not None else LazySlurm()
    out = []
    for d in dirs:
        parent, _, name = d.rpartition("/")
        names = listing.get(parent)
        if names is None:
            try:
                names = listing[parent] = set(os.listdir(parent))
            except OSError:
                names = listing[parent] = set()
        if name not in names:
            out.append("new")
            continue
        out.append(plan_state(RunDir(d).state(slurm_live=live)[0]))
    return out


def count_states(states: Iterable[str]) -> dict[str, int]:
    c = {s: 0 for s in PLAN_STATES}
    for s in states:
        c[s] = c.get(s, 0) + 1
    return c


def summary_line(counts: dict[str, int]) -> str:
    n = sum(counts.values())
    return f"{n} points: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in PLAN_STATES)


RETRY = "retry"  # the plan's label of a crashed or lost point that --retry-failed relaunches


def plan_label(state: str, retry_failed: bool) -> str:
    """A point's state as ``--plan`` shows it: ``retry`` for what ``--retry-failed`` relaunches."""
    return RETRY if retry_failed and state in ("crashed", "lost") else state


def plan_line(counts: dict[str, int], retry_failed: bool) -> str:
    """``summary_line``, and with ``--retry-failed`` what a launch would do."""
    line = summary_line(counts)
    if retry_failed:
        again = counts.get("crashed", 0) + counts.get("lost", 0)
        line += f"; a launch runs {counts.get('new', 0)} new and retries {again} (crashed or lost: wiped and run again)"
    return line


def sweep_state(active: bool, counts: dict[str, int], kind: str = "grid", trials: int = 0,
                budget: int | None = None) -> str:
    """What ``heyhi sweep list`` says of a sweep: ``active`` (the daemon launches or follows it),
    ``running`` (not followed, but points still run), ``done`` (every point ended and nothing is
    left to launch: for an adaptive search, its budget asked), else ``stopped`` (points left)."""
    if active:
        return "active"
    if counts.get("running", 0):
        return "running"
    left = (trials < (budget or 0)) if kind == "adaptive" else counts.get("new", 0) > 0
    return "stopped" if left else "done"


def to_launch(states: Sequence[str], retry_failed: bool) -> list[int]:
    want = {"new", "crashed", "lost"} if retry_failed else {"new"}
    return [i for i, s in enumerate(states) if s in want]


# ---- interrupted runs -----------------------------------------------------------------------------


def lost_runs(results_root: Path, sweep_dir: Path | None = None) -> list[Path]:
    """Runs that stopped without a final record (the process or Slurm job is gone): under the
    results root, or among a sweep's points."""
    live = LazySlurm()
    if sweep_dir is not None:
        dirs = [Path(p.dir) for p in Record(sweep_dir).points()]
    else:
        dirs = []
        root = Path(results_root)
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and not (rel == "." and d == SWEEPS_DIR)]
            if R.STATUS in filenames or R.JOBID in filenames:
                dirnames[:] = []
                dirs.append(Path(dirpath))
    out = []
    for d in dirs:
        try:
            if d.is_dir() and R.RunDir(d).state(slurm_live=live)[0] == R.LOST:
                out.append(d)
        except F.NewerFormat:
            continue  # a newer HeyHi's run is never lost to this one: left alone
    return out
