"""Exactly-once Slurm submission: an intent recorded before ``sbatch``, the job found by its identity
after a crash.

Before ``sbatch`` the submitter records an intent (``write_intent``, atomically: ``heyhi.submit.json``
in the run folder, or ``NNNN.submit.json`` beside a sweep array's script) holding the identity the
job's comment carries (``heyhi.slurm.identity``), the time, and the Slurm ids already known for that
folder (earlier attempts: never adopted). Once sbatch returned and the job id is recorded, the intent
is marked with it (``mark_submitted``). An intent without a job id (``is_pending``) means the submitter
died somewhere around sbatch: ``find_submitted`` asks one squeue and, when squeue does not list the
job, one sacct for the jobs since the intent; the job found is the submission to adopt, and none found
means sbatch never ran, so submitting now is the only submission. A lookup that cannot ask Slurm
raises ``SlurmError``: the caller must not submit then.

``test_pause`` is a TEST HOOK (``$HEYHI_TEST_PAUSE_AFTER_SBATCH`` / ``$HEYHI_TEST_PAUSE_BEFORE_SBATCH``
name a file): the process creates that file at that point and blocks, so a test can SIGKILL it there.

Stdlib only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Callable

from heyhi import perms
from heyhi.launchers.slurm import SlurmError, run_slurm
from heyhi.slurm import identity as I
from heyhi.slurm.query import _current_user

__all__ = ["INTENT", "write_intent", "read_intent", "is_pending", "mark_submitted", "find_submitted",
           "test_pause", "PAUSE_AFTER_SBATCH", "PAUSE_BEFORE_SBATCH"]

INTENT = "heyhi.submit.json"  # a single job's intent, in its run folder
MAX_INTENT_BYTES = 64 * 1024
PAUSE_AFTER_SBATCH = "HEYHI_TEST_PAUSE_AFTER_SBATCH"  # test hook: see test_pause
PAUSE_BEFORE_SBATCH = "HEYHI_TEST_PAUSE_BEFORE_SBATCH"  # test hook: see test_pause


def _write_json(path: Path, data: dict) -> None:
    perms.write_atomic(path, json.dumps(data))


def write_intent(path: Path, ident: str, known=(), **extra: str) -> dict:
    """Record (atomically) that a job with identity ``ident`` is about to be submitted; ``known``:
    Slurm ids recorded for the same folder before (never taken for this submission); ``extra``: more
    to remember (the launcher's name)."""
    data = {**extra, "identity": ident, "at": time.time(), "known": sorted({str(k) for k in known if k}),
            "jobid": None}
    _write_json(Path(path), data)
    return data


def read_intent(path: Path) -> dict | None:
    """The intent at ``path`` (None when there is none or it is not one: read up to 64 KiB)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_INTENT_BYTES + 1)
    except OSError:
        return None
    if len(raw) > MAX_INTENT_BYTES:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or not str(data.get("identity", "")).startswith(I.PREFIX):
        return None
    return data


def is_pending(intent: dict | None) -> bool:
    """Was a submission intended whose job id nobody recorded?"""
    return bool(intent) and not intent.get("jobid")


def mark_submitted(path: Path, intent: dict, jobid: str) -> None:
    """Record the job id in the intent: that submission is done."""
    _write_json(Path(path), {**intent, "jobid": str(jobid), "recorded": time.time()})


def find_submitted(intent: dict, run: Callable[[list[str]], str] = run_slurm, user: str | None = None) -> str | None:
    """The Slurm id (an array's own id for an array) of the job carrying the intent's identity: one
    squeue, then one sacct for the jobs since the intent when squeue does not list it; None when
    Slurm has no such job. ``SlurmError`` when Slurm cannot be asked (then nothing may be submitted)."""
    ident = str(intent["identity"])
    since = float(intent.get("at") or 0)
    known = {str(k) for k in intent.get("known") or ()}
    user = user or _current_user()
    found = I.find_in_squeue(run(I.squeue_argv(user)), ident, since, known)
    if not found:
        found = I.find_in_sacct(run(I.sacct_argv(user, since)), ident, since, known)
    return found[0] if found else None


def test_pause(env_name: str) -> None:
    """TEST HOOK: when ``$<env_name>`` names a file, create it and block for ever (a test kills the
    process there). Does nothing otherwise."""
    where = os.environ.get(env_name)
    if not where:
        return
    Path(where).write_text(f"{os.getpid()}\n")
    threading.Event().wait()

