"""``heyhi run`` launching a composed config: through the daemon when one is up (or when the config's
launcher is ``tracked_by_daemon``), else embedded through the launch sequence (``heyhi.runs.sequence``).

The embedded path runs the job in the foreground: its launcher starts ``python -m heyhi.job RUN_DIR``
in its own session (``heyhi.launchers.local``); this echoes the run's logs to the terminal and
returns the job's exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from heyhi import launchers
from heyhi.runs import records as R
from heyhi.errors import FolderTaken, HeyHiError
from heyhi.runs.runner import ALREADY_CLAIMED
from heyhi.runs.outdir import run_folder
from heyhi.runs.stopping import stop_run
from heyhi.runs.tasks import check_task
from heyhi.cli.ask import ask_yes
from heyhi.runs.ownership import record_launch, register_root
from heyhi.runs.sequence import Host, Plan, launch as sequence_launch
from heyhi.cli.daemon_run import run_via_daemon
from heyhi.wire.client import connect_or_none


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


def launch_from_cli(project, composed, args, tasks_module: str | None = None) -> int:
    """``heyhi run`` without --print: through the daemon when one is up, else embedded."""
    mode = args.effective_mode
    launcher = launchers.for_config(composed)
    register_root(project.results_root)  # the user's configured root: wipes may act under it
    if not args.no_daemon and mode != "dryrun":
        client = connect_or_none()
        if client is None and launcher.tracked_by_daemon:
            client = start_daemon()
        if client is not None:
            return run_via_daemon(client, project, composed, args)
    elif launcher.tracked_by_daemon and mode != "dryrun":
        raise HeyHiError(f"{launcher.title} launches go through the daemon: drop --no-daemon "
                         "(it is started when none is up)")
    check_task(project, composed)
    plan = Plan(project, composed, _folder(project, composed, args), project.results_root, mode,
                trusted_roots=[project.results_root], explicit_out=bool(args.out), yes=bool(args.force),
                adhoc=args.adhoc, checkpoint=args.checkpoint, owner_pid=os.getpid())
    out = sequence_launch(plan, TerminalHost(), keep_lock=True)
    try:
        return _report_and_follow(out, mode)
    finally:
        out.release()


def _report_and_follow(out, mode: str) -> int:
    print(out.decision.line(mode, out.run_dir), file=sys.stderr)
    if out.trashed is not None:
        print(f"heyhi: the old run is in the trash: {out.trashed.path} (heyhi ctl restore {out.trashed.path})",
              file=sys.stderr)
    if not out.decision.run:
        return 0
    proc, run_dir = out.started, out.run_dir
    try:
        code = follow_until_exit(proc, run_dir)
    except KeyboardInterrupt:
        print("heyhi: interrupted: stopping the job", file=sys.stderr)
        stop_run(run_dir, R.RunDir(run_dir).read_status() or {"pid": proc.pid})
        proc.wait()
        return 130
    final = R.RunDir(run_dir).read_status() or {}
    state = final.get("state")
    if state == R.COMPLETED:
        print(f"heyhi: completed: {run_dir}", file=sys.stderr)
    else:
        print(f"heyhi: {state}: {final.get('reason', '')} ({run_dir})", file=sys.stderr)
    if code == ALREADY_CLAIMED:  # another job process holds the run: "taken", never 75
        print(f"heyhi: the run folder is taken by another job process: {run_dir}", file=sys.stderr)
        return FolderTaken.exit_code
    return code


class TerminalHost(Host):
    """The embedded CLI: asks on the terminal; the run's launcher (``Host.start``) starts
    ``python -m heyhi.job`` for the foreground to follow."""

    def confirm(self, folder: Path, state: str, decision) -> bool:
        if not sys.stdin.isatty():
            return False
        return ask_yes(f"Wipe {folder} (its run is {state})? It goes to the trash.")

    def before_write(self, folder: Path, previous: dict) -> None:
        record_launch(folder)  # write-ahead: a daemon lists this run even if we are killed now


def _folder(project, composed, args) -> Path:
    return run_folder(project.results_root, composed.config, project.conf_dir, composed.raw_overrides, args.adhoc, args.out)


def start_daemon():
    """Jobs of a launcher ``tracked_by_daemon`` (Slurm) need a daemon: start one (none is up); a client."""
    exe = Path(sys.executable).with_name("heyhi-daemon")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "heyhi_daemon.main"]
    from heyhi.cli.progress import progress  # lean: keeps the start-up of heyhi run, heyhi run --print from loading it

    with progress("starting the daemon"):
        subprocess.run(cmd + ["start"], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return connect_or_none()
