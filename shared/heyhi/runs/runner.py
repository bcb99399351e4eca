"""``python -m heyhi.job RUN_DIR``: the one way every launcher runs a job.

Imports the task functions from the run's code snapshot, runs the task with the run folder as
working folder, and itself records the outcome (``heyhi.status.json``, ``COMPLETED`` or
``CRASH.txt``, the exit code), so a job's final state is written even when nobody is its parent.

It records its host and touches ``heyhi.heartbeat`` every 30 s (``heyhi.runs.liveness``) from a
daemon thread that ends with it, so a host sharing the results folder can tell it is alive. A full
disk (ENOSPC, EDQUOT) anywhere ends the job as crashed with the reason "disk full": a small reserve
file, written at the start and freed first, leaves room for that last record.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import traceback
from pathlib import Path

from heyhi import launchers, perms
from heyhi.runs import records as R, liveness as L
from heyhi.errors import HeyHiError
from heyhi.runs.formats import NewerFormat
import subprocess


ALREADY_CLAIMED = 75  # the run was claimed by another job process: this one did nothing
RESERVE = ".heyhi.reserve"  # freed on a full disk so the final record still fits
RESERVE_BYTES = 64 << 10
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class _Cancelled(BaseException):
    pass


def _redirect(run_dir: Path) -> None:
    for fd, name in ((1, R.STDOUT), (2, R.STDERR)):
        f = perms.open_file(run_dir / name, os.O_WRONLY | os.O_APPEND)  # 0600 (0660 shared), any umask
        os.dup2(f, fd)
        os.close(f)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)


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
    prev = rd.read_status() or {}
    # The launcher whose job this process is: a scheduler's (Slurm) by the environment, else the
    # recorded one; ``slurm_id`` is the scheduler's job id (None for a process launcher).
    launcher, slurm_id = launchers.this_job(prev.get("launcher"))
    pid = os.getpid()
    jobid = slurm_id or f"local:{pid}"
    if prev.get("state") in (R.QUEUED, R.SUBMITTED, None):
        attempt = int(prev.get("attempt") or 1)
    else:  # requeued by Slurm: the next attempt
        attempt = int(prev.get("attempt") or 1) + 1

    heartbeat = L.Heartbeat(run_dir)
    heartbeat.beat()  # before the claim: a "running" record of this host never lacks a fresh beat

    def claimable(cur: dict) -> bool:
        # Exactly once: a job runs only from a waiting state (or as the same Slurm job, requeued).
        st = cur.get("state")
        if st in (R.QUEUED, R.SUBMITTED, R.REQUEUED, None):
            return True
        return bool(slurm_id) and st == R.RUNNING and cur.get("slurm_id") == slurm_id

    def claim():
        return rd.set_state(
            R.RUNNING, only_if=claimable, pid=pid, pid_start=R.proc_start_time(pid), host=L.this_host(), jobid=jobid,
            slurm_id=slurm_id, attempt=attempt, launcher=launcher,
        )

    reserve = _reserve(run_dir)
    _RESERVED[:] = [reserve]
    try:
        try:
            claimed = claim()
        except OSError as e:
            if e.errno not in DISK_FULL:
                raise
            _free(reserve)  # room for the claim; the job then runs without a reserve
            reserve = None
            claimed = claim()
    except OSError as e:
        _free(reserve)
        if e.errno not in DISK_FULL:
            raise
        print(f"heyhi.job: {run_dir}: disk full: could not record the start ({os.strerror(e.errno)})", file=sys.stderr)
        return 1
    if claimed is None:
        _free(reserve)
        print(f"heyhi.job: {run_dir} is already {(rd.read_status() or {}).get('state')}: not running it twice",
              file=sys.stderr)
        return ALREADY_CLAIMED
    heartbeat.start()
    try:
        if not slurm_id:
            rd.write_jobid(jobid)
        return _run_claimed(rd, run_dir, info, slurm_id, attempt)
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        return _disk_full(rd, reserve, e)
    finally:
        heartbeat.stop()
        _free(reserve)


def _reserve(run_dir: Path) -> Path | None:
    """Write the reserve file; None when even that does not fit."""
    path = run_dir / f"{RESERVE}.{os.getpid()}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(RESERVE_BYTES))
        finally:
            os.close(fd)
    except OSError:
        _free(path)
        return None
    return path


def _free(path: Path | None) -> None:
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass


def _disk_full(rd: R.RunDir, reserve: Path | None, e: OSError) -> int:
    """The disk filled up: free the reserve and record the end as crashed, "disk full"."""
    _free(reserve)
    where = f" writing {e.filename}" if e.filename else ""
    reason = f"disk full{where} ({os.strerror(e.errno)})"
    try:
        rd.set_state(R.CRASHED, exit_code=1, reason=reason)
    except OSError:
        pass  # nothing fits: whoever watches the job records its end
    try:
        perms.write_file(rd / R.CRASH, reason + "\n")
        print(f"heyhi.job: {reason}", file=sys.stderr, flush=True)
    except OSError:
        pass
    return 1


_RESERVED: list[Path | None] = [None]  # this job's reserve file, freed just before its final record


def _final(rd: R.RunDir, state: str, **fields) -> None:
    """Record how the job ended, freeing the reserve first: room for the record on a full disk, and no
    reserve file left in a folder that already says it ended (a copy taken then sees every file)."""
    _free(_RESERVED[0])
    rd.set_state(state, **fields)


def _run_claimed(rd: R.RunDir, run_dir: Path, info: dict, slurm_id: str | None, attempt: int) -> int:
    """Run the claimed job to its end and record it."""

    def on_term(signum, frame):
        raise _Cancelled()

    def on_usr2(signum, frame):
        from heyhi.runs import task_api as jobapi  # lean: keeps the start-up of python -m heyhi.job from loading it

        if slurm_id:
            # Slurm's requeue ends this process with SIGTERM: that is not a cancel.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)

        print("heyhi.job: preemption warning received: checkpointing and requeueing", file=sys.stderr, flush=True)
        try:
            jobapi._fire_preemption()
        except Exception:
            traceback.print_exc()
        if slurm_id:
            rd.set_state(R.REQUEUED, attempt=attempt, reason="time limit or preemption: requeued")
            subprocess.run(["scontrol", "requeue", slurm_id.split("_")[0] if "_" not in slurm_id else slurm_id], check=False)
            os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR2, on_usr2)
    try:
        cfg, task, script = _load(info, run_dir)
        code_dir = Path(info.get("code_dir") or info["project_root"])
        if script is not None:  # a script task: the script (from the snapshot) runs as __main__
            from heyhi.config.schema.scripts import run_script  # lean: only a script task needs it

            run_script(script, code_dir / info["script"], cfg)
            result = None
        else:
            from heyhi.runs.tasks import find_task, load_tasks_module  # lean: keeps the start-up of python -m heyhi.job from loading it

            mod = load_tasks_module(code_dir, info.get("tasks_module", "run.py"))
            fn = find_task(mod, task, info.get("known_tasks", [task]))
            result = fn(cfg)
    except _Cancelled:
        from heyhi.runs import locks  # lean: keeps the start-up of python -m heyhi.job from loading it

        locks.DEFAULT_DEADLINE_S = CANCEL_STATUS_WAIT_S  # being stopped: record it briefly or not at all
        try:
            _final(rd, R.CANCELLED, exit_code=143, reason="SIGTERM")
        except HeyHiError:
            pass  # the status lock is held: whoever stops us records the end

        print("heyhi.job: cancelled (SIGTERM)", file=sys.stderr, flush=True)
        return 143
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if code == 0:
            return _completed(rd, None)
        perms.write_file(run_dir / R.CRASH, f"SystemExit: exit code {code}\n")
        _final(rd, R.CRASHED, exit_code=code, reason=f"exit code {code}")
        return code
    except BaseException as e:
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        sys.stderr.flush()
        perms.write_file(run_dir / R.CRASH, tb)
        reason = f"{type(e).__name__}: {e}".splitlines()[0][:300] if str(e) else type(e).__name__
        _final(rd, R.CRASHED, exit_code=1, reason=reason)
        return 1
    return _completed(rd, result)


def _completed(rd: R.RunDir, result) -> int:
    if result is not None:
        try:
            R.write_atomic(rd / R.RESULT_JSON, json.dumps(result, indent=1, default=_no_json))
        except (TypeError, ValueError):
            import pickle  # lean: keeps the start-up of python -m heyhi.job from loading it

            R.write_atomic(rd / R.RESULT_PKL, pickle.dumps(result))
    perms.write_file(rd / R.COMPLETED_MARKER, "")
    _final(rd, R.COMPLETED, exit_code=0)
    sys.stdout.flush()
    return 0


def _no_json(x):
    raise TypeError


def _load(info: dict, run_dir: Path):
    """(the frozen task config, composed from the run's config_meta.prototxt, the task's name, the
    ``ScriptTask`` of a script task or None: its schema is the one recorded in the run folder)."""
    from heyhi.config.compose import Composer, ScriptComposer  # lean: keeps the start-up of python -m heyhi.job from loading it
    from heyhi.config.project import Project  # lean: keeps the start-up of python -m heyhi.job from loading it
    from heyhi.config.frozen import freeze  # lean: keeps the start-up of python -m heyhi.job from loading it

    code_dir = Path(info.get("code_dir") or info["project_root"])
    script = None
    if info.get("script"):
        from heyhi.config.schema.scripts import ScriptTask  # lean: only a script task needs it
        from heyhi.config.source import read_text  # lean: only a script task needs it

        script = ScriptTask.from_json(read_text(run_dir / R.SCRIPT))
        comp = ScriptComposer(Project(info["project_root"]), script)
    else:
        comp = Composer(Project(code_dir if (code_dir / "conf").is_dir() else info["project_root"]))
    root = comp.schema.root
    meta = comp.load_message(run_dir / R.CONFIG_META, root)
    task = meta._which("task") or info.get("task")
    return freeze(meta._v[task]), task, script


JOB_STATUS_WAIT_S = 600.0  # a job's own state changes wait out a busy status lock this long
CANCEL_STATUS_WAIT_S = 2.0  # ...but not once it is being stopped (its stopper waits for it to exit)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m heyhi.job RUN_DIR", file=sys.stderr)
        return 2
    from heyhi.runs import locks  # lean: keeps the start-up of python -m heyhi.job from loading it

    locks.DEFAULT_DEADLINE_S = JOB_STATUS_WAIT_S  # a result is never lost to a moment of contention

    try:
        code = run(Path(argv[0]))
    except NewerFormat as e:  # a newer HeyHi's record: neither run nor written over
        print(f"heyhi.job: {e}", file=sys.stderr)
        code = 2
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    return code


if __name__ == "__main__":
    sys.exit(main())
