"""``python -m heyhi.job RUN_DIR``: the one way every launcher runs a job.

Imports the task functions from the run's code snapshot, runs the task with the run folder as
working folder, and itself records the outcome (``heyhi.status.json``, ``COMPLETED`` or
``CRASH.txt``, the exit code), so a job's final state is written even when nobody is its parent.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path

from . import records as R


ALREADY_CLAIMED = 75  # the run was claimed by another job process: this one did nothing


class _Cancelled(BaseException):
    pass


def _redirect(run_dir: Path) -> None:
    for fd, name in ((1, R.STDOUT), (2, R.STDERR)):
        f = os.open(run_dir / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(f, fd)
        os.close(f)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)


def _slurm_id() -> str | None:
    if "SLURM_ARRAY_JOB_ID" in os.environ and "SLURM_ARRAY_TASK_ID" in os.environ:
        return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


def run(run_dir: Path) -> int:
    """Run the job in ``run_dir``; returns its exit code."""
    run_dir = Path(run_dir).absolute()
    rd = R.RunDir(run_dir)
    info = rd.read_run()
    if not info:
        print(f"heyhi.job: {run_dir} holds no heyhi.run.json", file=sys.stderr)
        return 2
    os.chdir(run_dir)
    os.environ["HEYHI_RUN_DIR"] = str(run_dir)
    if os.environ.get("HEYHI_JOB_NO_REDIRECT") != "1":
        _redirect(run_dir)
    slurm_id = _slurm_id()
    pid = os.getpid()
    jobid = slurm_id or f"local:{pid}"
    prev = rd.read_status() or {}
    if prev.get("state") in (R.QUEUED, R.SUBMITTED, None):
        attempt = int(prev.get("attempt") or 1)
    else:  # requeued by Slurm: the next attempt
        attempt = int(prev.get("attempt") or 1) + 1

    def claimable(cur: dict) -> bool:
        # Exactly once: a job runs only from a waiting state (or as the same Slurm job, requeued).
        st = cur.get("state")
        if st in (R.QUEUED, R.SUBMITTED, R.REQUEUED, None):
            return True
        return bool(slurm_id) and st == R.RUNNING and cur.get("slurm_id") == slurm_id

    claimed = rd.set_state(
        R.RUNNING, only_if=claimable, pid=pid, pid_start=R.proc_start_time(pid), host=R.host(), jobid=jobid,
        slurm_id=slurm_id, attempt=attempt, launcher="slurm" if slurm_id else "local",
    )
    if claimed is None:
        print(f"heyhi.job: {run_dir} is already {(rd.read_status() or {}).get('state')}: not running it twice",
              file=sys.stderr)
        return ALREADY_CLAIMED
    if not slurm_id:
        rd.write_jobid(jobid)

    def on_term(signum, frame):
        raise _Cancelled()

    def on_usr2(signum, frame):
        from . import jobapi

        if slurm_id:
            # Slurm's requeue ends this process with SIGTERM: that is not a cancel.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)

        print("heyhi.job: preemption warning received: checkpointing and requeueing", file=sys.stderr, flush=True)
        try:
            jobapi._fire_preemption()
        except Exception:
            traceback.print_exc()
        if slurm_id:
            import subprocess

            rd.set_state(R.REQUEUED, attempt=attempt, reason="time limit or preemption: requeued")
            subprocess.run(["scontrol", "requeue", slurm_id.split("_")[0] if "_" not in slurm_id else slurm_id], check=False)
            os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR2, on_usr2)
    try:
        cfg, task = _load(info, run_dir)
        code_dir = Path(info.get("code_dir") or info["project_root"])
        from .tasks import find_task, load_tasks_module

        mod = load_tasks_module(code_dir, info.get("tasks_module", "run.py"))
        fn = find_task(mod, task, info.get("known_tasks", [task]))
        result = fn(cfg)
    except _Cancelled:
        rd.set_state(R.CANCELLED, exit_code=143, reason="SIGTERM")
        print("heyhi.job: cancelled (SIGTERM)", file=sys.stderr, flush=True)
        return 143
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if code == 0:
            return _completed(rd, None)
        (run_dir / R.CRASH).write_text(f"SystemExit: exit code {code}\n")
        rd.set_state(R.CRASHED, exit_code=code, reason=f"exit code {code}")
        return code
    except BaseException as e:
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        sys.stderr.flush()
        (run_dir / R.CRASH).write_text(tb)
        reason = f"{type(e).__name__}: {e}".splitlines()[0][:300] if str(e) else type(e).__name__
        rd.set_state(R.CRASHED, exit_code=1, reason=reason)
        return 1
    return _completed(rd, result)


def _completed(rd: R.RunDir, result) -> int:
    if result is not None:
        try:
            R.write_atomic(rd / R.RESULT_JSON, json.dumps(result, indent=1, default=_no_json))
        except (TypeError, ValueError):
            import pickle

            R.write_atomic(rd / R.RESULT_PKL, pickle.dumps(result))
    (rd / R.COMPLETED).write_text("")
    rd.set_state(R.COMPLETED_S, exit_code=0)
    sys.stdout.flush()
    return 0


def _no_json(x):
    raise TypeError


def _load(info: dict, run_dir: Path):
    """The frozen task config, composed from the run's config_meta.prototxt."""
    from .compose import Composer
    from .project import Project

    code_dir = Path(info.get("code_dir") or info["project_root"])
    project = Project(code_dir if (code_dir / "conf").is_dir() else info["project_root"])
    comp = Composer(project)
    root = comp.schema.root
    meta = comp.load_message(run_dir / R.CONFIG_META, root)
    task = meta.which("task") or info.get("task")
    return meta.v[task].to_frozen(), task


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m heyhi.job RUN_DIR", file=sys.stderr)
        return 2
    code = run(Path(argv[0]))
    sys.stdout.flush()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
