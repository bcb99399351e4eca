"""The daemon's side of the launchers (``heyhi.launchers``): what follows a job while it lives.

Every daemon launcher answers to the same small interface (``DaemonLauncher``), so the core and the
sweep manager never ask which launcher a job has: ``start`` (queue it, or submit it), ``readopt``
(follow a live job again after a daemon restart), ``stop`` (and wait until it has stopped) and
``watches`` (its state changes reach the index without a look at the folder). ``local`` is the
FIFO queue of local processes; ``slurm_tracker`` submits Slurm jobs and polls them (``slurm``: the
batched poller). A launcher registered in ``heyhi.launchers`` without a daemon side runs in the local
queue (its jobs are processes). The daemon side of a launcher that takes ``arrays`` (Slurm) also has
``max_array_size``, ``submit_array`` and ``array_task_submitted`` (``heyhi_daemon.sweep_manager`` uses them).
The daemon side of a launcher whose jobs are not processes (a scheduler's: Slurm) also has
``ended_unwatched`` (the core hands it the final runs after a restart: their end may have come unwatched).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from heyhi_daemon.job_store import Job


class DaemonLauncher(Protocol):
    #: the name of the ``heyhi.launchers`` launcher whose jobs this follows
    name: str

    async def start(self, job: "Job") -> None:
        """Start (or queue, or submit) the job of a prepared run folder; ``NothingStarted`` if it cannot."""

    def readopt(self, job: "Job", status: dict) -> bool:
        """After a daemon restart: follow the live job again (``status``: its folder's record). True
        when it waits in the local queue (the caller restores the queue's order)."""

    async def stop(self, job: "Job") -> None:
        """Stop the job and return once it has stopped (or its launcher says it is final)."""

    def watches(self, job: "Job") -> bool:
        """Does this launcher follow the job now (so its view needs no judging from the folder)?"""
