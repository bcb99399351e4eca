"""A submission's identity in Slurm, so a job is found again after a crash (exactly-once submission).

Every job HeyHi submits carries ``heyhi:<id>`` at the end of its ``--comment`` (``with_identity``):
``<id>`` is a short hash of the run folder's absolute path, or, for a sweep's job array, of the
array's own path in the sweep's ``arrays`` folder (``identity``). Slurm shows the comment in squeue's
``%k`` and, with ``AccountingStoreFlags=job_comment``, in sacct's ``Comment``; ``find_in_squeue`` and
``find_in_sacct`` pick the jobs that carry an identity out of one answer each (``squeue_argv``,
``sacct_argv``), leaving out the ids the caller already knows (earlier attempts of the same run) and
jobs submitted well before the intent was recorded.

Pure functions, stdlib only. Answers are read up to ``MAX_LINES`` lines.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

__all__ = ["PREFIX", "identity", "with_identity", "squeue_argv", "sacct_argv", "find_in_squeue",
           "find_in_sacct", "MAX_LINES", "CLOCK_SKEW_S"]

PREFIX = "heyhi:"
MAX_LINES = 200_000  # the most lines of one squeue/sacct answer looked at
CLOCK_SKEW_S = 60.0  # a job submitted this long before its intent's time may still be its
_SQUEUE_FORMAT = "%F|%V|%k"  # array job id (the job's own id for a plain job), submit time, comment (last: may hold '|')
_SACCT_FIELDS = "JobID,Submit,Comment"


def identity(path: Path | str) -> str:
    """``heyhi:<12 hex digits>``: a hash of ``path`` made absolute (a run folder, or an array's path)."""
    p = os.path.abspath(os.fspath(path))
    return PREFIX + hashlib.sha256(p.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def with_identity(comment: str | None, ident: str) -> str:
    """The job's comment with the identity appended (once)."""
    comment = (comment or "").strip()
    if ident in comment.split():
        return comment
    return f"{comment} {ident}" if comment else ident


def squeue_argv(user: str) -> list[str]:
    """One squeue for all of ``user``'s jobs in every state, with their comments."""
    return ["squeue", "-h", "-t", "all", "-u", user, "-o", _SQUEUE_FORMAT]


def sacct_argv(user: str, since: float) -> list[str]:
    """One sacct for ``user``'s jobs since ``since`` (epoch seconds, less the clock skew), with comments."""
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(max(0.0, since - CLOCK_SKEW_S)))
    return ["sacct", "-X", "--parsable2", "-n", "-u", user, "-S", start, "-E", "now", "-o", _SACCT_FIELDS]


def _submitted(text: str) -> float | None:
    try:
        return time.mktime(time.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S"))
    except (ValueError, OverflowError):
        return None


def _find(text: str, ident: str, since: float, known: frozenset[str] | set[str]) -> list[str]:
    found: list[str] = []
    for n, line in enumerate(text.split("\n")):
        if n >= MAX_LINES:
            break
        if ident not in line:
            continue
        parts = line.split("|", 2)
        if len(parts) != 3 or ident not in parts[2].split():
            continue
        base = parts[0].split("_", 1)[0].strip()
        if not base.isdigit() or base in known or base in found:
            continue
        at = _submitted(parts[1])
        if at is not None and at < since - CLOCK_SKEW_S:
            continue  # an older job of the same folder (a run wiped and launched again)
        found.append(base)
    return sorted(found, key=int)


def find_in_squeue(text: str, ident: str, since: float, known=frozenset()) -> list[str]:
    """The job ids (an array's own id for an array) whose comment carries ``ident`` in an answer of
    ``squeue_argv``, submitted after ``since`` (less the clock skew) and not among ``known``."""
    return _find(text, ident, since, set(known))


def find_in_sacct(text: str, ident: str, since: float, known=frozenset()) -> list[str]:
    """The same for an answer of ``sacct_argv``."""
    return _find(text, ident, since, set(known))
