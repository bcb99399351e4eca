"""torchrun with Slurm's time-limit warning passed on to its workers: ``python -m heyhi.runs.torchrun
ARGS`` is ``python -m torch.distributed.run ARGS``, except that a ``SIGUSR2`` reaching this process
(srun forwards the batch shell's ``--signal=B:USR2`` warning to each task, and under torchrun the task
is the agent, not the job) is sent on to the agent's own child processes, the node's
``heyhi.job`` workers, so rank 0 requeues the run as it does without torchrun. The agent itself never
dies of the signal (Python's default for SIGUSR2 is to exit, and torch sets no handler for it).
"""

from __future__ import annotations

import os
import signal
import sys


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux ``/proc/<pid>/task/*/children``)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks[:4096]:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                out += [int(x) for x in fh.read(1 << 16).split()]
        except (OSError, ValueError):
            continue
    return out


def _pass_on(signum, _frame) -> None:
    for child in children(os.getpid()):
        try:
            os.kill(child, signum)
        except OSError:
            pass  # it ended meanwhile


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGUSR2, _pass_on)
    from torch.distributed.run import main as torchrun  # lean: only the agent imports torch (the job's environment provides it)

    torchrun(sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
