"""The cluster's limits on submissions, read from Slurm's own answers (pure functions, stdlib only).

* ``scontrol show config``: ``MaxArraySize`` (an array's task ids are 0..MaxArraySize-1, so an array holds
  at most that many tasks) and ``MaxJobCount`` (jobs slurmctld keeps at once, all users);
* ``sacctmgr -nP show assoc user=USER format=MaxSubmit``: ``MaxSubmitJobs`` of the user's associations
  (the smallest one set; empty = no limit); unknown when sacctmgr does not answer (no slurmdbd).

The daemon asks once per start and caches the answer (``heyhi_daemon.launchers.slurm_tracker``);
``$HEYHI_MAX_ARRAY_SIZE`` lowers MaxArraySize (tests, or a cluster whose admins ask for smaller arrays).
Answers are parsed from at most ``MAX_ANSWER`` characters.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from heyhi.slurm.query import _current_user

__all__ = ["Limits", "MAX_ANSWER", "DEFAULT_MAX_ARRAY", "config_argv", "assoc_argv", "parse_config",
           "parse_max_submit", "with_override"]

MAX_ANSWER = 256 * 1024  # characters of an answer parsed at most (scontrol show config: ~10 KB)
DEFAULT_MAX_ARRAY = 1001  # Slurm's default MaxArraySize, used when scontrol does not say


class Limits(NamedTuple):
    """None = unknown (or no limit, for ``max_submit``)."""

    max_array_size: int | None
    max_job_count: int | None
    max_submit: int | None = None

    def array_size(self) -> int:
        """The most tasks one array may have (MaxArraySize, else Slurm's default 1001)."""
        return max(1, self.max_array_size or DEFAULT_MAX_ARRAY)


def config_argv() -> list[str]:
    return ["scontrol", "show", "config"]


def assoc_argv(user: str | None = None) -> list[str]:
    """sacctmgr's MaxSubmit of ``user``'s associations (default: the current user)."""
    return ["sacctmgr", "-nP", "show", "assoc", f"user={user or _current_user()}", "format=MaxSubmit"]


def _key(text: str, name: str) -> int | None:
    m = re.search(rf"^{name}\s*=\s*(\d+)\s*$", text, re.M)
    return int(m.group(1)) if m else None


def parse_config(text: str) -> Limits:
    """``scontrol show config`` text -> Limits(MaxArraySize, MaxJobCount) (None for a key absent or not
    a number)."""
    text = text[:MAX_ANSWER]
    return Limits(_key(text, "MaxArraySize"), _key(text, "MaxJobCount"))


def parse_max_submit(text: str) -> int | None:
    """sacctmgr's MaxSubmit lines (one per association) -> the smallest limit set, None when none is."""
    values = [int(x) for x in (line.strip() for line in text[:MAX_ANSWER].splitlines()) if x.isdigit()]
    return min(values) if values else None


def with_override(limits: Limits, env_value: str | None) -> Limits:
    """``$HEYHI_MAX_ARRAY_SIZE`` (a positive integer) lowers MaxArraySize (a larger array would not submit);
    ValueError (one line) when it is not one."""
    if not env_value:
        return limits
    v = env_value.strip()
    if not v.isdigit() or int(v) < 1:
        raise ValueError(f"HEYHI_MAX_ARRAY_SIZE: expected a positive integer, got {v[:40]!r}")
    cap = int(v)
    return limits._replace(max_array_size=min(cap, limits.max_array_size) if limits.max_array_size else cap)
