"""Run and job states, as ``str`` enums: each member *is* its string, so heyhi.status.json, the
daemon's index and the protocol hold the same bytes as when these were plain strings, and a state
read back from any of them compares equal to its member.

``RunState``: what a run folder's heyhi.status.json says. ``JobState``: the daemon's view of a job,
which is a run state or ``wiped`` (its folder went to the trash; never written in a run folder).

Imports only ``enum``: the run records, the protocol and the CLI's lean ``ctl`` path all use it.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """A run's state, as recorded in its folder's heyhi.status.json."""

    NOT_STARTED = "not_started"
    QUEUED = "queued"
    SUBMITTED = "submitted"
    RUNNING = "running"
    REQUEUED = "requeued"
    COMPLETED = "completed"
    CRASHED = "crashed"
    CANCELLED = "cancelled"
    LOST = "lost"


class JobState(StrEnum):
    """A job's state in the daemon's view (``JobInfo.state``): every ``RunState``, and ``WIPED``."""

    NOT_STARTED = "not_started"
    QUEUED = "queued"
    SUBMITTED = "submitted"
    RUNNING = "running"
    REQUEUED = "requeued"
    COMPLETED = "completed"
    CRASHED = "crashed"
    CANCELLED = "cancelled"
    LOST = "lost"
    WIPED = "wiped"  # the run folder was wiped (to the trash) and the job forgotten by the index


LIVE_STATES = frozenset({RunState.QUEUED, RunState.SUBMITTED, RunState.RUNNING, RunState.REQUEUED})
FINAL_STATES = frozenset({RunState.COMPLETED, RunState.CRASHED, RunState.CANCELLED, RunState.LOST})
