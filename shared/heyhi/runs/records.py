"""A run folder's records: the truth about what ran and how it ended.

| file | holds |
|---|---|
| config.prototxt, config_meta.prototxt | the composed task; the composed top-level config |
| heyhi.overrides | the overrides as given, one per line |
| heyhi.version.json | HeyHi's version, the code's git commit and dirty flag, the snapshot's hash |
| heyhi.run.json | how to run it: project root, code folder, config, task, launcher (``heyhi.launchers``) |
| heyhi.status.json | state and its history, written atomically |
| heyhi.jobid | ``local:<pid>`` or the Slurm job id |
| stdout.log, stderr.log | the task's output |
| COMPLETED, CRASH.txt | alfred's markers (the traceback in CRASH.txt) |
| result.json / result.pkl | the task's return value |
| metrics.jsonl | one line per ``heyhi.log_metrics`` |

The three ``heyhi.*.json`` records carry ``format`` (``heyhi.runs.formats``); one written by a newer
HeyHi makes its reader raise ``NewerFormat`` (one line), so no mode and no clean judges it lost.

Stdlib only: the CLI's ``ctl`` path and the daemon read these. How a live run is judged depends on its
launcher (``heyhi.launchers.for_status``): a process of a host (pid and heartbeat), or a scheduler's job.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from heyhi import launchers, perms
from heyhi.launchers.local import pid_alive, proc_start_time  # noqa: F401 - a local job's process, for readers
from heyhi.runs import formats as F, liveness as L
from heyhi.runs.formats import NewerFormat  # noqa: F401 - raised by the readers below
from heyhi.states import FINAL_STATES, LIVE_STATES, RunState  # noqa: F401 - LIVE_STATES: for readers

CONFIG = "config.prototxt"
CONFIG_META = "config_meta.prototxt"
OVERRIDES = "heyhi.overrides"
VERSION = "heyhi.version.json"
RUN = "heyhi.run.json"
SCRIPT = "heyhi.script.json"  # a script task: the schema derived from its script (the job reads it)
STATUS = "heyhi.status.json"
STATUS_LOCK = ".heyhi.status.lock"
JOBID = "heyhi.jobid"
STDOUT = "stdout.log"
STDERR = "stderr.log"
COMPLETED_MARKER = "COMPLETED"  # the file (alfred's marker); the state is COMPLETED
CRASH = "CRASH.txt"
RESULT_JSON = "result.json"
RESULT_PKL = "result.pkl"
METRICS = "metrics.jsonl"

RECORD_FILES = (STATUS, JOBID, RUN, CONFIG_META)

# A run folder of the original HeyHi (heyhi.jobid, no heyhi.status.json), judged as its ExperimentDir did:
# running if Slurm lists its job, done if its task wrote result.torch, else dead. Its local runs ("local")
# left no pid: files changed in the last ORIGINAL_FRESH_S seconds count as running.
ORIGINAL_RESULT = "result.torch"
ORIGINAL_LOCAL_ID = "local"
ORIGINAL_FRESH_S = 600
_ORIGINAL_SCAN = 2000  # the most entries looked at for the newest change (a bounded walk)

# States, as in heyhi.status.json (``heyhi.states.RunState``; each member is its string).
QUEUED, SUBMITTED, RUNNING, REQUEUED = RunState.QUEUED, RunState.SUBMITTED, RunState.RUNNING, RunState.REQUEUED
COMPLETED, CRASHED, CANCELLED, LOST = RunState.COMPLETED, RunState.CRASHED, RunState.CANCELLED, RunState.LOST
NOT_STARTED = RunState.NOT_STARTED


def write_atomic(path: Path, data: str | bytes, *, shared: bool | None = None) -> None:
    """Write via a temp file and ``os.replace`` so readers never see half a file.

    The file gets HeyHi's file mode (0600, or 0660 in a shared group: ``heyhi.perms``; ``shared=False``
    keeps it private), and a folder of the user's that grants more than HeyHi's folder mode (a run folder
    made under a loose umask) is tightened to it."""
    path = Path(path)
    perms.secure_dir(path.parent, shared=shared)
    perms.write_atomic(path, data, shared=shared)


def metric_record(line: bytes) -> dict | None:
    """One line of ``metrics.jsonl`` as its record (a JSON object), or None (blank, torn, not an object)."""
    if not line.strip():
        return None
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


class RunDir:
    """Access to one run folder's records."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # ---- status ------------------------------------------------------------------------------
    def read_status(self) -> dict | None:
        """The status record; None when there is none; ``NewerFormat`` when a newer HeyHi wrote it."""
        try:
            with open(self.path / STATUS) as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"state": LOST, "reason": "unreadable heyhi.status.json", "history": []}
        return F.check(self.path / STATUS, data, F.STATUS)

    @contextmanager
    def status_lock(self) -> Iterator[None]:
        """The status record's lock (``heyhi.runs.locks.status_lock``): waited for a few seconds at
        most, never on an event loop, and never when another uid holds it (``Busy``)."""
        from heyhi.runs.locks import status_lock  # lean: keeps the start-up of python -m heyhi.job, the daemon from loading it

        with status_lock(self.path):
            yield

    def set_state(self, state: str, *, only_if: Any = None, **data: Any) -> dict | None:
        """Record a state change (atomically, with history). With ``only_if`` (a set of states,
        or a predicate on the current record), change only when it holds; returns None when
        the state was not changed."""
        with self.status_lock():
            cur = self.read_status() or {"history": []}
            if only_if is not None:
                ok = only_if(cur) if callable(only_if) else cur.get("state") in only_if
                if not ok:
                    return None
            now = time.time()
            entry = {"state": state, "at": now, **{k: v for k, v in data.items() if v is not None}}
            new = {k: v for k, v in cur.items() if k != "history"}
            if state in (QUEUED, SUBMITTED) or (state == RUNNING and cur.get("state") in FINAL_STATES):
                for k in ("exit_code", "reason", "ended"):
                    new.pop(k, None)
            new.update(entry)
            new["updated"] = now
            if state == RUNNING:
                new["started"] = now
            if state in FINAL_STATES:
                new["ended"] = now
            new["history"] = list(cur.get("history", [])) + [entry]
            new[F.KEY] = F.STATUS  # a newer record never gets here: read_status refused it
            write_atomic(self.path / STATUS, json.dumps(new, indent=1, sort_keys=True))
            return new

    def read_jobid(self) -> str | None:
        try:
            return (self.path / JOBID).read_text().strip() or None
        except OSError:
            return None

    def write_jobid(self, jobid: str) -> None:
        write_atomic(self.path / JOBID, jobid + "\n")

    def read_run(self) -> dict:
        """How to run it ({} when missing or unreadable); ``NewerFormat`` when a newer HeyHi wrote it."""
        try:
            data = json.loads((self.path / RUN).read_text())
        except (OSError, ValueError):
            return {}
        return F.check(self.path / RUN, data, F.RUN)

    def read_version(self) -> dict:
        """HeyHi's and the code's version ({} when missing or unreadable); ``NewerFormat`` as above."""
        try:
            data = json.loads((self.path / VERSION).read_text())
        except (OSError, ValueError):
            return {}
        return F.check(self.path / VERSION, data, F.VERSION)

    def has_record(self) -> bool:
        """Does the folder hold HeyHi's run record (so it may be wiped)?"""
        return any((self.path / f).exists() for f in RECORD_FILES)

    def is_started(self) -> bool:
        return (self.path / STATUS).exists() or (self.path / JOBID).exists()

    # ---- the state, judged now ---------------------------------------------------------------
    def state(self, slurm_live: "set[str] | None" = None) -> tuple[str, dict]:
        """(state, status record) with liveness checked by the host the run recorded
        (``heyhi.runs.liveness``): a job of this host whose process is gone, a job of another host
        whose heartbeat is stale, or a Slurm job Slurm no longer runs (and, on another host, with a
        stale heartbeat), without a final record, is ``lost``.

        ``slurm_live`` is the set of the user's live Slurm job ids (one squeue call for many
        folders); None means ask squeue now if needed.
        """
        st = self.read_status()
        if st is None:
            if (self.path / COMPLETED_MARKER).exists():
                return COMPLETED, {}
            if (self.path / JOBID).exists():
                return self._original_state(slurm_live)
            return NOT_STARTED, {}
        state = st.get("state", LOST)
        if state not in LIVE_STATES:
            return state, st

        jobid = st.get("jobid") or self.read_jobid() or ""
        other_host = state == RUNNING and L.is_other_host(st)
        launcher = launchers.for_status(st, jobid)
        if launcher.by_process:
            if other_host:  # its pid means nothing here: the heartbeat tells
                alive, why = L.other_host_alive(self.path, st)
                return self._judged(state, st, alive, why)
            if state == QUEUED and not st.get("pid"):
                owner = st.get("owner_pid")
                if st.get("owner_host") not in (None, L.this_host()):
                    return state, st  # queued by a launcher of another host: not ours to judge
                if owner and not pid_alive(owner, st.get("owner_start")):
                    return LOST, {**st, "reason": "queued by a launcher that is gone"}
                return state, st
            if pid_alive(st.get("pid"), st.get("pid_start")):
                return state, st
            # Re-read: the job may have written its final state in between.
            st2 = self.read_status() or st
            if st2.get("state") not in LIVE_STATES:
                return st2["state"], st2
            if (self.path / COMPLETED_MARKER).exists():  # it finished; only its last status write failed
                return COMPLETED, {**st2, "state": COMPLETED, "reason": "COMPLETED written; status not updated"}
            return LOST, {**st2, "reason": "process gone without a final record"}
        if slurm_live is None:
            slurm_live = launcher.live_jobs()
        if slurm_live is None:  # no squeue here: trust the record
            return state, st
        if jobid.split("_")[0] in slurm_live or jobid in slurm_live:
            return state, st
        if other_host:  # Slurm does not list it; a fresh heartbeat still proves it runs
            alive, why = L.other_host_alive(self.path, st)
            if alive:
                return state, st
        st2 = self.read_status() or st
        if st2.get("state") not in LIVE_STATES:
            return st2["state"], st2
        if (self.path / COMPLETED_MARKER).exists():
            return COMPLETED, {**st2, "state": COMPLETED, "reason": "COMPLETED written; status not updated"}
        return LOST, {**st2, "reason": "Slurm no longer knows the job and it left no final record"}

    def _original_state(self, slurm_live: set | None) -> tuple[str, dict]:
        """The state of a run the original HeyHi wrote (its ``heyhi.jobid``, no status record)."""
        jobid = self.read_jobid() or ""
        if jobid == ORIGINAL_LOCAL_ID:
            age = self._newest_change_age()
            if age is not None and age < ORIGINAL_FRESH_S:
                return RUNNING, {"state": RUNNING, "jobid": jobid, "launcher": launchers.LOCAL.name,
                                 "reason": f"a local run of the original HeyHi: its files changed {int(age)} s ago"}
        elif jobid:
            slurm = launchers.for_status({}, jobid, stopping=True)  # the scheduler that owns the id
            live = slurm_live if slurm_live is not None else slurm.live_jobs()
            if live is not None and (jobid in live or jobid.split("_")[0] in live):
                return RUNNING, {"state": RUNNING, "jobid": jobid, "slurm_id": jobid, "launcher": slurm.name,
                                 "reason": f"a run of the original HeyHi: Slurm runs its job {jobid}"}
        if (self.path / ORIGINAL_RESULT).exists():
            return COMPLETED, {"state": COMPLETED, "jobid": jobid,
                               "reason": f"a finished run of the original HeyHi ({ORIGINAL_RESULT})"}
        return LOST, {"state": LOST, "jobid": jobid,
                      "reason": f"a run of the original HeyHi that left no {ORIGINAL_RESULT}"}

    def _newest_change_age(self) -> float | None:
        """Seconds since the newest change of a file in the folder (at most ``_ORIGINAL_SCAN`` entries)."""
        newest, seen = None, 0
        for dirpath, dirnames, filenames in os.walk(self.path):
            for name in filenames + dirnames:
                seen += 1
                if seen > _ORIGINAL_SCAN:
                    break
                try:
                    m = os.lstat(os.path.join(dirpath, name)).st_mtime
                except OSError:
                    continue
                newest = m if newest is None else max(newest, m)
            if seen > _ORIGINAL_SCAN:
                break
        return None if newest is None else max(0.0, time.time() - newest)

    def _judged(self, state: str, st: dict, alive: bool, why: str) -> tuple[str, dict]:
        if alive:
            return state, st
        st2 = self.read_status() or st  # it may have written its final state in between
        if st2.get("state") not in LIVE_STATES:
            return st2["state"], st2
        return LOST, {**st2, "reason": f"lost: {why}"}


def host() -> str:
    return socket.gethostname()
