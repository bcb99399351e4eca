"""``heyhi run`` through the daemon: the launch returns at once; ``--wait`` follows the logs and
exits with the job's exit code; Ctrl-C detaches without killing the job."""

from __future__ import annotations

import sys
import threading

from ..protocol import Launch, Logs, ShowJob, Validate


def ask_wipe(client, project, composed, args) -> bool:
    """Decide like the daemon will; where that wipes a folder, confirm on a terminal (or need --force)."""
    from ..errors import HeyHiError
    from ..modes import decide

    v = client.request(Validate(project_root=str(project.root), results_root=str(project.results_root),
                                config=str(composed.config.absolute()), overrides=[o.source for o in composed.overrides],
                                mode=args.effective_mode, adhoc=args.adhoc))
    if args.out:
        return args.force
    d = decide(args.effective_mode, v.out_dir_state or "not_started")
    if not d.wipe or args.force:
        return True
    if not sys.stdin.isatty():
        raise HeyHiError(f"refusing to wipe {v.out_dir} without a terminal to confirm: pass --force")
    answer = input(f"Wipe {v.out_dir}? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise HeyHiError(f"not wiping {v.out_dir}: not confirmed")
    return True


def run_via_daemon(client, project, composed, args) -> int:
    force = ask_wipe(client, project, composed, args)
    res = client.request(Launch(
        project_root=str(project.root), results_root=str(project.results_root), config=str(composed.config.absolute()),
        overrides=[o.source for o in composed.overrides], mode=args.effective_mode, adhoc=args.adhoc, force=force,
        out=args.out, checkpoint=args.checkpoint,
    ))
    print(f"heyhi: {args.effective_mode}: {res.decision}: {res.reason} ({res.run_dir}) [job {res.job_id}]", file=sys.stderr)
    if res.decision == "skip":
        return 0
    if not args.wait:
        print(res.job_id)
        return 0
    try:
        return follow_to_end(client, res.job_id)
    except KeyboardInterrupt:
        print(f"\nheyhi: detached; job {res.job_id} keeps running (heyhi ctl logs -f {res.job_id})", file=sys.stderr)
        return 130


def follow_to_end(client, job_id: str) -> int:
    """Echo the job's stdout and stderr until it ends; returns its exit code."""
    from ..client import Client

    def pump(c, stream, out):
        for chunk in c.stream(Logs(job=job_id, stream=stream, offset=0, follow=True)):
            if chunk.data:
                out.buffer.write(chunk.data)
                out.flush()

    err_client = Client(client.socket_path, timeout=client.timeout)
    t = threading.Thread(target=pump, args=(err_client, "stderr", sys.stderr), daemon=True)
    t.start()
    pump(client, "stdout", sys.stdout)
    t.join()
    err_client.close()
    detail = client.request(ShowJob(job=job_id))
    job = detail.job
    if job.state == "completed":
        print(f"heyhi: completed: {job.run_dir}", file=sys.stderr)
        return 0
    print(f"heyhi: {job.state}: {job.reason} ({job.run_dir})", file=sys.stderr)
    return job.exit_code if job.exit_code else 1
