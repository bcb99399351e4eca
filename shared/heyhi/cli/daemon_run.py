"""``heyhi run`` through the daemon: the launch returns at once; ``--wait`` follows the logs and
exits with the job's exit code; Ctrl-C detaches without killing the job."""

from __future__ import annotations

import sys
import threading

from heyhi.wire.protocol import DaemonError, Launch, Logs, ShowJob, NOTHING_STARTED, TAKEN, replace
from heyhi.cli.ask import ask_yes
from heyhi.errors import FolderTaken, NothingStarted, Refused
from heyhi.wire.client import Client
from heyhi.cli.progress import progress


def confirm_launch(client, req, res):
    """A launch the daemon answered "confirm" (it would wipe ``res.run_dir``, whose run is
    ``res.state``): ask on the terminal, then send it again as a yes to exactly that state."""
    if not sys.stdin.isatty():
        raise Refused(f"refusing to wipe {res.run_dir} (its run is {res.state}) without a terminal to confirm: "
                      "pass --force")
    if not ask_yes(f"Wipe {res.run_dir} (its run is {res.state})? It goes to the trash."):
        raise Refused(f"not wiping {res.run_dir}: not confirmed")
    again = client.request(replace(req, expect_state=res.state))
    if again.decision == "confirm":
        raise Refused(f"not wiping {again.run_dir}: its run is now {again.state}; run the command again to decide")
    return again


def announce(res, args, where: str) -> bool:
    """Say what the daemon decided (``where``: the run folder as the user knows it); True when the
    command is done here (skipped, or launched without ``--wait``: the job id is printed)."""
    print(f"heyhi: {args.effective_mode}: {res.decision}: {res.reason} ({where}) [job {res.job_id}]", file=sys.stderr)
    if res.decision != "skip" and not args.wait:
        print(res.job_id)
    return res.decision == "skip" or not args.wait


def run_via_daemon(client, project, composed, args) -> int:
    req = Launch(
        project_root=str(project.root), results_root=str(project.results_root), config=str(composed.config.absolute()),
        overrides=[o.source for o in composed.overrides], mode=args.effective_mode, adhoc=args.adhoc,
        force=bool(args.force), out=args.out, checkpoint=args.checkpoint,
    )
    try:
        with progress(launch_label(composed)):  # a Slurm submit can take seconds: shown, not silent
            res = client.request(req)
        if res.decision == "confirm":
            res = confirm_launch(client, req, res)
    except DaemonError as e:
        raise error_of(e) from None
    if announce(res, args, res.run_dir):
        return 0
    try:
        return follow_to_end(client, res.job_id)
    except KeyboardInterrupt:
        print(f"\nheyhi: detached; job {res.job_id} keeps running (heyhi ctl logs -f {res.job_id})", file=sys.stderr)
        return 130


def launch_label(composed) -> str:
    """What the progress display says while the daemon launches: its scheduler's submit, if any."""
    from heyhi.launchers import for_config  # lean: keeps the start-up of heyhi run --print from loading it

    launcher = for_config(composed)
    return f"submitting to {launcher.title}" if launcher.tracked_by_daemon else "launching"


def error_of(e: DaemonError) -> Exception:
    """The daemon's ``Error`` answer as the error ``heyhi run`` exits with: ``nothing_started``
    exits 69 (``NothingStarted``), ``taken`` 3 (``FolderTaken``), anything else as it came."""
    if e.code == NOTHING_STARTED:
        return NothingStarted(e.message)
    if e.code == TAKEN:
        return FolderTaken(e.message)
    return e


def follow_to_end(client, job_id: str) -> int:
    """Echo the job's stdout and stderr until it ends; returns its exit code."""
    waiting = progress(f"job {job_id}: waiting for its first output", plain=False).start()  # a queued job is silent

    def pump(c, stream, out):
        for chunk in c.stream(Logs(job=job_id, stream=stream, offset=0, follow=True)):
            if chunk.data:
                waiting.close()
                out.buffer.write(chunk.data)
                out.flush()

    err_client = Client(client.socket_path, timeout=client.timeout)
    t = threading.Thread(target=pump, args=(err_client, "stderr", sys.stderr), daemon=True)
    t.start()
    pump(client, "stdout", sys.stdout)
    t.join()
    waiting.close()
    err_client.close()
    detail = client.request(ShowJob(job=job_id))
    job = detail.job
    if job.state == "completed":
        print(f"heyhi: completed: {job.run_dir}", file=sys.stderr)
        return 0
    print(f"heyhi: {job.state}: {job.reason} ({job.run_dir})", file=sys.stderr)
    return job.exit_code if job.exit_code else 1
