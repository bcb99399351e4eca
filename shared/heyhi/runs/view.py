"""What a run folder shows to someone inspecting it: its job id, its job view, the runs under the
results roots, its results, its last metrics and the tail of a log.

Promises:
- one rule per fact, used by every path: ``heyhi ctl`` without a daemon (reading the folders),
  through a daemon, and over ``--remote`` (the reads go through a ``Reader``: a local file, or the
  daemon's bounded ``ReadFile``); the daemon names jobs with ``job_id`` and tails logs with
  ``last_lines_offset``;
- every read is bounded: a result is read up to ``MAX_RESULT`` bytes, metrics from the last
  ``METRICS_TAIL`` bytes of ``metrics.jsonl`` (a torn first or last line is skipped), a scan of the
  results roots looks at ``MAX_SCAN`` folders at most; only regular files are opened, never blocking;
- a job's ``created`` is never later than its first recorded state change (an adopted run was
  created when it was first queued, not when someone first looked at it).

Stdlib only (and HeyHi's runs wing): the CLI's lean ``ctl`` path imports it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from pathlib import Path
from typing import Any, Callable

from heyhi import launchers
from heyhi.runs import records as R
from heyhi.runs.ownership import canonical

MAX_RESULT = 64 * 1024  # result.json bytes shown (a larger result is shown as truncated)
METRICS_TAIL = 256 * 1024  # bytes read from the end of metrics.jsonl for the last value of each metric
MAX_OVERRIDES = 64 * 1024  # heyhi.overrides bytes read
MAX_COST = 64 * 1024  # heyhi.cost.json bytes read (a larger one is ignored)
COST_FILE = "heyhi.cost.json"  # what a Slurm job cost (heyhi.slurm.cost.COST_FILE, written by the daemon)
MAX_SCAN = 200_000  # folders a scan of the results roots visits at most
MAX_LINE_SCAN = 64 * 1024 * 1024  # bytes looked at, from the end, to find where the last N lines start

# (path, offset, length) -> (bytes, file size), or None when the file is missing or not a regular file.
Reader = Callable[[str, int, int], "tuple[bytes, int] | None"]


def job_id(run_dir: Path | str) -> str:
    """A job's id: stable for its run folder (so it survives daemon restarts); one folder spelled
    two ways (``..``, a symlinked results root) is one id."""
    return hashlib.md5(str(canonical(run_dir)).encode()).hexdigest()[:10]


def created_of(status: dict, fallback: float | None = None) -> float | None:
    """When the run was first recorded: its earliest state change (``fallback`` when earlier)."""
    times = [h.get("at") for h in status.get("history") or () if isinstance(h, dict)]
    times = [t for t in times if isinstance(t, (int, float)) and not isinstance(t, bool)]
    if fallback is not None:
        times.append(fallback)
    return min(times) if times else None


# ---- reading files, bounded ------------------------------------------------------------------------


def local_read(path: str, offset: int, length: int) -> tuple[bytes, int] | None:
    """``Reader`` of this host's files: at most ``length`` bytes of a regular file from ``offset``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb", buffering=0) as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        fh.seek(offset)
        parts, want = [], length
        while want > 0:
            b = fh.read(want)
            if not b:
                break
            parts.append(b)
            want -= len(b)
        return b"".join(parts), st.st_size


def read_head(read: Reader, path: str, limit: int) -> tuple[bytes, int] | None:
    """The first ``limit`` bytes of a file and its size (None: no such file)."""
    return read(path, 0, limit)


def read_tail(read: Reader, path: str, limit: int) -> tuple[bytes, bool] | None:
    """The last ``limit`` bytes of a file, and whether they start at its beginning (None: no file)."""
    got = read(path, 0, 0)
    if got is None:
        return None
    size = got[1]
    start = max(0, size - limit)
    got = read(path, start, size - start)
    return (got[0], start == 0) if got is not None else None


def last_lines_offset(path: Path | str, n: int) -> int:
    """The byte offset where the last ``n`` lines of ``path`` start (looking at the last
    ``MAX_LINE_SCAN`` bytes at most: lines longer than that start where the look stopped)."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return 0
    if n <= 0:
        return size
    floor = max(0, size - MAX_LINE_SCAN)
    with open(path, "rb") as fh:
        pos, found, block = size, 0, 64 * 1024
        while pos > floor:
            start = max(floor, pos - block)
            fh.seek(start)
            data = fh.read(pos - start)
            i = len(data)
            while (i := data.rfind(b"\n", 0, i)) >= 0:
                if start + i == size - 1:  # the newline that ends the last line starts no line
                    continue
                found += 1
                if found == n:
                    return start + i + 1
            pos = start
    return floor


# ---- what a run recorded ----------------------------------------------------------------------------


def _number(v: Any) -> float | int | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v if math.isfinite(v) else None


def last_metrics(data: bytes, whole: bool = True) -> dict[str, dict]:
    """``name -> {"step", "value"}``: the last line of ``metrics.jsonl`` that logged each metric,
    from ``data`` (the file, or its tail: then ``whole`` is False and the first, torn line is
    skipped). Names in order of first appearance; lines that do not parse are skipped."""
    lines = data.split(b"\n")
    if not whole:
        lines = lines[1:]
    out: dict[str, dict] = {}
    for line in lines:
        rec = R.metric_record(line)
        if rec is None:
            continue
        step = _number(rec.get("step"))
        for k, v in rec.items():
            if k in ("step", "time") or _number(v) is None:
                continue
            out[k] = {"step": step, "value": v}
    return out


def parse_result(data: bytes, size: int) -> Any:
    """``result.json`` as JSON; a file larger than what was read, or not JSON, as its text
    (``{"truncated": True, "text": ...}`` when cut)."""
    if size <= len(data):
        try:
            return json.loads(data)
        except ValueError:
            pass
    text = data.decode("utf-8", "replace")
    return {"truncated": True, "size": size, "text": text} if size > len(data) else {"text": text}


def read_extras(read: Reader, run_dir: str) -> dict:
    """What ``heyhi ctl show`` adds to a job: its overrides (as recorded), the composed config's
    path, its result (``result.json``), its last metrics and what its Slurm job cost
    (``heyhi.cost.json``: ``heyhi.slurm.cost``); each read bounded, through ``read``."""
    d = run_dir.rstrip("/")
    out: dict[str, Any] = {"overrides": None, "composed_config": None, "result": None, "metrics": {}, "cost": None}
    got = read_head(read, f"{d}/{R.OVERRIDES}", MAX_OVERRIDES)
    if got is not None:
        out["overrides"] = [x for x in got[0].decode("utf-8", "replace").splitlines() if x]
    if read(f"{d}/{R.CONFIG_META}", 0, 0) is not None:
        out["composed_config"] = f"{d}/{R.CONFIG_META}"
    elif read(f"{d}/{R.CONFIG}", 0, 0) is not None:
        out["composed_config"] = f"{d}/{R.CONFIG}"
    got = read_head(read, f"{d}/{R.RESULT_JSON}", MAX_RESULT)
    if got is not None:
        out["result"] = parse_result(*got)
    tail = read_tail(read, f"{d}/{R.METRICS}", METRICS_TAIL)
    if tail is not None:
        out["metrics"] = last_metrics(*tail)
    got = read_head(read, f"{d}/{COST_FILE}", MAX_COST)
    if got is not None and got[1] <= MAX_COST:
        try:
            cost = json.loads(got[0])
        except ValueError:
            cost = None
        out["cost"] = cost if isinstance(cost, dict) else None
    return out


# ---- a folder as a job -----------------------------------------------------------------------------


def folder_job(run_dir: Path | str, slurm_live: set | None = None) -> dict:
    """The job a run folder is, as the daemon's ``JobInfo`` shows one (plain data), its state
    judged now (``RunDir.state``: a dead process's run is lost). ``NewerFormat`` as the records."""
    rd = R.RunDir(run_dir)
    state, st = rd.state(slurm_live=slurm_live)
    info = rd.read_run()
    launcher = st.get("launcher") or info.get("launcher") or launchers.LOCAL.name
    jobid = st.get("jobid") or rd.read_jobid()
    slurm_id = st.get("slurm_id") or (jobid if jobid and not launchers.get(launcher).by_process else None)
    return {
        "job_id": job_id(run_dir), "run_dir": str(canonical(run_dir)), "config": info.get("config", ""),
        "state": str(state), "tag": Path(run_dir).name, "reason": st.get("reason") or "",
        "exit_code": st.get("exit_code"), "launcher": launcher, "slurm_id": slurm_id, "pid": st.get("pid"),
        "node": st.get("host") or st.get("node"), "created": created_of(st), "started": st.get("started"),
        "ended": st.get("ended") if state in R.FINAL_STATES else None,
        "attempts": int(st.get("attempt") or 1),
    }


def folder_history(run_dir: Path | str) -> list[dict]:
    """The state changes a run folder's status record holds, oldest first (as recorded)."""
    st = R.RunDir(run_dir).read_status() or {}
    return [h for h in st.get("history") or () if isinstance(h, dict) and h.get("state")]


def find_runs(roots: list[Path], extra: list[str] = ()) -> list[Path]:
    """Run folders (holding ``heyhi.status.json``) under the results roots, plus the ``extra`` ones
    (launches recorded outside them) that still exist; hidden folders skipped; at most
    ``MAX_SCAN`` folders visited."""
    out: list[Path] = []
    seen: set[str] = set()
    visited = 0
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            visited += 1
            if visited > MAX_SCAN:
                break
            if R.STATUS in filenames:
                dirnames[:] = []
                if dirpath not in seen:
                    seen.add(dirpath)
                    out.append(Path(dirpath))
                continue
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    for p in extra:
        c = str(canonical(p))
        if c not in seen and os.path.isfile(os.path.join(c, R.STATUS)):
            seen.add(c)
            out.append(Path(c))
    return out
