"""Launching a composed config: decide (mode x folder), prepare the run folder, start the job.

The embedded path (no daemon) runs local jobs in the foreground: it starts
``python -m heyhi.job RUN_DIR`` in its own session, echoes the run's logs to the terminal and
returns the job's exit code. The daemon uses ``prepare_run`` and ``start_local`` too.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from . import records as R
from .errors import FolderTaken, HeyHiError
from .modes import decide, wipe
from .outdir import run_folder


@contextmanager
def folder_lock(results_root: Path, run_dir: Path) -> Iterator[None]:
    """Exclusive, non-blocking lock on launching into ``run_dir`` (exit 3 when taken)."""
    import fcntl

    d = Path(results_root) / ".heyhi" / "locks"
    d.mkdir(parents=True, exist_ok=True)
    name = hashlib.md5(str(Path(run_dir).absolute()).encode()).hexdigest()
    fd = os.open(d / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderTaken(f"the run folder is taken by another launch: {run_dir}") from None
        yield
    finally:
        os.close(fd)


def launcher_of(composed) -> tuple[str, dict | None]:
    """("local", None) or ("slurm", the slurm fields as a dict), from the task's ``launcher``."""
    task = composed.task_msg
    if "launcher" not in task.type.fields:
        return "local", None
    lmsg = task.v.get("launcher")
    if lmsg is None:
        return "local", None
    which = lmsg.which("launcher") if "launcher" in lmsg.type.oneofs else None
    if which == "slurm":
        from .values import to_dict

        return "slurm", to_dict(lmsg.v["slurm"], with_defaults=True)
    return "local", None


def prepare_run(project, composed, run_dir: Path, *, adhoc: bool = False, checkpoint: str | None = None,
                state: str = R.QUEUED, owner_pid: int | None = None, results_root: Path | None = None) -> dict:
    """Write the run folder's records (config, overrides, version, run info, status) and take
    the code snapshot. On failure nothing half-written is left behind."""
    from . import __version__
    from .printing import to_text
    from .snapshot import git_info, take_snapshot

    run_dir = Path(run_dir)
    created = not run_dir.exists()
    results_root = Path(results_root) if results_root else project.results_root
    try:
        snap_hash = None
        code_dir = project.root
        if checkpoint != "" and not (adhoc and checkpoint is None):
            store = Path(checkpoint).expanduser() if checkpoint else results_root / ".heyhi" / "code"
            code_dir, snap_hash = take_snapshot(project.root, store, exclude=[results_root])
        run_dir.mkdir(parents=True, exist_ok=True)
        launcher, slurm = launcher_of(composed)
        R.write_atomic(run_dir / R.CONFIG, to_text(composed.task_msg))
        R.write_atomic(run_dir / R.CONFIG_META, to_text(composed.meta))
        R.write_atomic(run_dir / R.OVERRIDES, "".join(o.source + "\n" for o in composed.overrides))
        version = {"heyhi_version": __version__, **git_info(project.root), "snapshot": snap_hash,
                   "python": sys.version.split()[0]}
        R.write_atomic(run_dir / R.VERSION, json.dumps(version, indent=1))
        info = {
            "project_root": str(project.root),
            "results_root": str(results_root),
            "code_dir": str(code_dir),
            "config": str(Path(composed.config).absolute()),
            "overrides": [o.source for o in composed.overrides],
            "task": composed.task,
            "tasks_module": project.run_module,
            "known_tasks": list(project.schema.root.oneofs.get("task", [])),
            "launcher": launcher,
            "slurm": slurm,
            "python": sys.executable,
            "adhoc": adhoc,
        }
        R.write_atomic(run_dir / R.RUN, json.dumps(info, indent=1))
        prev = R.RunDir(run_dir).read_status()
        attempt = int(prev.get("attempt") or 1) + 1 if prev else 1  # start_continue: a new attempt
        R.RunDir(run_dir).set_state(state, launcher=launcher, attempt=attempt, owner_pid=owner_pid,
                                    owner_start=R.proc_start_time(owner_pid) if owner_pid else None)
        return info
    except BaseException:
        if created and run_dir.exists():
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def job_env(run_dir: Path) -> dict:
    env = dict(os.environ)
    env["HEYHI_RUN_DIR"] = str(run_dir)
    env.pop("HEYHI_JOB_NO_REDIRECT", None)
    return env


def start_local(run_dir: Path, python: str | None = None) -> subprocess.Popen:
    """Start ``python -m heyhi.job RUN_DIR`` in its own session (it outlives its launcher)."""
    return subprocess.Popen(
        [python or sys.executable, "-m", "heyhi.job", str(run_dir)],
        cwd=str(run_dir), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env=job_env(run_dir), close_fds=True,
    )


def stop_run(run_dir: Path, status: dict, grace: float = 10.0) -> None:
    """Stop a live run: SIGTERM to a local job's process group (SIGKILL after ``grace``), or scancel."""
    jobid = status.get("jobid") or R.RunDir(run_dir).read_jobid() or ""
    if status.get("launcher") == "slurm" or (jobid and not jobid.startswith("local:")):
        if jobid:
            subprocess.run(["scancel", jobid], capture_output=True)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                live = R.slurm_live_jobs()
                if live is None or jobid not in live:
                    return
                time.sleep(0.5)
        return
    pid = status.get("pid")
    if not pid or not R.pid_alive(pid, status.get("pid_start")):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not R.pid_alive(pid, status.get("pid_start")):
            return
        time.sleep(0.02)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while R.pid_alive(pid, status.get("pid_start")):
        time.sleep(0.02)


def follow_until_exit(proc: subprocess.Popen, run_dir: Path, interval: float = 0.05) -> int:
    """Echo the run's stdout.log/stderr.log to the terminal until the job exits."""
    offsets = {R.STDOUT: 0, R.STDERR: 0}
    streams = {R.STDOUT: sys.stdout, R.STDERR: sys.stderr}
    while True:
        done = proc.poll() is not None
        for name, off in offsets.items():
            try:
                with open(run_dir / name, "rb") as fh:
                    fh.seek(off)
                    data = fh.read()
            except OSError:
                continue
            if data:
                s = streams[name]
                s.flush()
                s.buffer.write(data) if hasattr(s, "buffer") else s.write(data.decode(errors="replace"))
                s.flush()
                offsets[name] = off + len(data)
        if done:
            return proc.returncode
        try:
            proc.wait(timeout=interval)  # wakes at once when the job exits
        except subprocess.TimeoutExpired:
            pass


def check_task(project, composed) -> None:
    """Fail early (one line) when the project's run.py has no function for the task (read with
    ast: the launcher does not import the project's code)."""
    from .errors import ConfigError
    from .tasks import declared_tasks

    path = project.root / project.run_module
    if not path.is_file():
        raise ConfigError(f"no task module: {path} does not exist")
    declared = declared_tasks(path)
    if composed.task not in declared:
        known = sorted(t for t in project.schema.root.oneofs.get("task", []) if t in declared)
        raise ConfigError(
            f"unknown task {composed.task!r}: no function {composed.task}() or @heyhi.task({composed.task!r}) "
            f"in {path}; known tasks: {', '.join(known) or 'none'}"
        )


def launch_from_cli(project, composed, args, tasks_module: str | None = None) -> int:
    """``heyhi run`` without --print: through the daemon when one is up, else embedded."""
    mode = args.effective_mode
    launcher, _ = launcher_of(composed)
    if not args.no_daemon and mode != "dryrun":
        from .client import connect_or_none

        client = connect_or_none()
        if client is None and launcher == "slurm":
            client = _start_daemon_for_slurm()
        if client is not None:
            from .cli.daemon_run import run_via_daemon

            return run_via_daemon(client, project, composed, args)
    elif launcher == "slurm" and mode != "dryrun":
        raise HeyHiError("Slurm launches go through the daemon: drop --no-daemon (it is started when none is up)")
    check_task(project, composed)
    run_dir = _folder(project, composed, args)
    with folder_lock(project.results_root, run_dir):
        state, st = R.RunDir(run_dir).state()
        d = decide(mode, state)
        print(d.line(mode, run_dir), file=sys.stderr)
        if not d.run:
            return 0
        if d.stop:
            stop_run(run_dir, st)
        if d.wipe:
            wipe(run_dir, project.results_root, force=args.force)
        prepare_run(project, composed, run_dir, adhoc=args.adhoc, checkpoint=args.checkpoint, owner_pid=os.getpid())
        proc = start_local(run_dir)
        try:
            code = follow_until_exit(proc, run_dir)
        except KeyboardInterrupt:
            print("heyhi: interrupted: stopping the job", file=sys.stderr)
            stop_run(run_dir, R.RunDir(run_dir).read_status() or {"pid": proc.pid})
            proc.wait()
            return 130
        final = R.RunDir(run_dir).read_status() or {}
        state = final.get("state")
        if state == R.COMPLETED_S:
            print(f"heyhi: completed: {run_dir}", file=sys.stderr)
        else:
            print(f"heyhi: {state}: {final.get('reason', '')} ({run_dir})", file=sys.stderr)
        return code


def _folder(project, composed, args) -> Path:
    return run_folder(project.results_root, composed.config, project.conf_dir, composed.raw_overrides, args.adhoc, args.out)


def _start_daemon_for_slurm():
    """Slurm jobs are tracked by the daemon: start one when none is up."""
    from .client import connect_or_none

    exe = Path(sys.executable).with_name("heyhi-daemon")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "heyhi_daemon.main"]
    subprocess.run(cmd + ["start"], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return connect_or_none()
