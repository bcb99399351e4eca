"""``heyhi run --remote [user@]host[:port] -c CFG [overrides]``: launch through the daemon on HOST.

Everything happens on HOST, over one SSH connection (``heyhi.wire.remote``):

- CFG is a path on HOST: absolute, ``~/...`` (HOST's home), or relative to the remote project folder:
  ``--project DIR`` if given, else the host's ``project`` setting (``~/.heyhi/remote.toml``), else
  HOST's home. ``--project`` (a path on HOST, relative ones under HOST's home) is also the project
  root; without it the root is the nearest folder holding ``conf/`` above CFG, found by listing
  HOST's folders through the daemon.
- The daemon validates (each bad override is one line), decides by ``--mode`` and launches; the
  results root is the daemon's default (its ``$HH_EXP_DIR``, else the project's setting).
- ``--wait`` follows the job's stdout and stderr as the daemon streams them (nothing is read from
  files here), reconnecting after a drop and resuming at the byte it stopped at, and exits with the
  job's exit code. Ctrl-C detaches; the job keeps running.
- A connection lost while the daemon handles the Launch: the daemon finishes or never started it
  (it does not abandon a launch halfway); after reconnecting this looks for a launch of CFG made
  since, and goes on with it if there is one, or says that nothing was launched.
"""

from __future__ import annotations

import asyncio
import posixpath
import sys
import time
from dataclasses import dataclass
from typing import Any

from heyhi.errors import UsageError, ConfigError, Refused

LAUNCH_SETTLE_S = 5.0  # after a drop during Launch: how long to look for the launch it may have made

_UNSUPPORTED = {
    "print": "--print", "print_flat_all": "--print-flat-all", "help_fields": "--help-fields",
    "no_daemon": "--no-daemon", "plan": "--plan", "trials": "--trials", "zip": "--zip",
    "retry_failed": "--retry-failed", "max_parallel": "--max-parallel", "metric": "--metric",
    "sweep_seed": "--sweep-seed",
}


@dataclass
class _State:
    host: str = ""
    job_id: str = ""


def run_remote(args: Any) -> int:
    """The exit code of ``heyhi run --remote ...`` (errors raise ``HeyHiError``: one line)."""
    for dest, flag in _UNSUPPORTED.items():
        if getattr(args, dest, None) not in (None, False):
            raise UsageError(f"{flag} is not available with --remote")
    if args.print_out_dir and args.out:
        raise UsageError("--print-out-dir with --out is not available with --remote")
    state = _State(host=args.remote)
    try:
        return asyncio.run(_run(args, state))
    except KeyboardInterrupt:
        if not state.job_id:
            raise
        print(f"\nheyhi: detached; job {state.job_id} keeps running on {state.host} "
              f"(heyhi ctl --remote {state.host} logs -f {state.job_id})", file=sys.stderr)
        return 130


def _note(kind: str, message: str) -> None:
    print(f"heyhi: {message}", file=sys.stderr, flush=True)


async def _run(args: Any, state: _State) -> int:
    from heyhi.wire.protocol import Launch, Validate, replace  # lean: keeps the start-up of heyhi run --remote from loading it
    from heyhi.wire.remote import connect_remote  # lean: keeps the start-up of heyhi run --remote from loading it

    client = await connect_remote(args.remote, name="heyhi run --remote", on_event=_note)
    async with client:
        cfg = await client.remote_path(args.cfg, args.project or client.settings.project)
        if args.project:
            root = await client.remote_path(args.project)
        else:
            root = await _find_project(client, cfg)
        v = await client.request(Validate(project_root=root, results_root=None, config=cfg,
                                          overrides=list(args.overrides), mode=args.effective_mode,
                                          adhoc=args.adhoc))
        if not v.ok:
            for e in v.errors:
                where = f"override {args.overrides[e.index]!r}: " if 0 <= e.index < len(args.overrides) else ""
                print(f"heyhi: {where}{e.message}", file=sys.stderr)
            return 2
        if args.print_out_dir or args.print_flat:
            if args.print_flat:
                for key, value, _src in v.flat:
                    print(f"{key}={value}")
            if args.print_out_dir:
                print(v.out_dir)
            return 0
        launch = Launch(project_root=root, results_root=None, config=cfg, overrides=list(args.overrides),
                        mode=args.effective_mode, adhoc=args.adhoc, force=bool(args.force),
                        out=args.out, checkpoint=args.checkpoint)
        res = await _launch(client, launch)
        if res.decision == "confirm":  # the daemon decided, under the folder lock, that this wipes
            _confirm_wipe(res, args)
            res = await _launch(client, replace(launch, expect_state=res.state))
            if res.decision == "confirm":
                raise Refused(f"not wiping {args.remote}:{res.run_dir}: its run is now {res.state}; "
                              "run the command again to decide")
        from heyhi.cli.daemon_run import announce  # lean: keeps the start-up of heyhi run --remote from loading it

        if announce(res, args, f"{args.remote}:{res.run_dir}"):
            return 0
        state.job_id = res.job_id
        return await follow_to_end(client, res.job_id)


def _confirm_wipe(res: Any, args: Any) -> None:
    """The daemon answered "confirm" (the launch would wipe ``res.run_dir``): ask on a terminal."""
    from heyhi.cli.ask import ask_yes  # lean: keeps the start-up of heyhi run --remote from loading it

    where = f"{args.remote}:{res.run_dir}"
    if not sys.stdin.isatty():
        raise Refused(f"refusing to wipe {where} (its run is {res.state}) without a terminal to confirm: pass --force")
    if not ask_yes(f"Wipe {where} (its run is {res.state})? It goes to the trash."):
        raise Refused(f"not wiping {where}: not confirmed")


async def _find_project(client: Any, cfg: str) -> str:
    """The nearest folder above ``cfg`` (on the remote) that holds ``conf/``."""
    from heyhi.wire.protocol import DaemonError, ListDir  # lean: keeps the start-up of heyhi run --remote from loading it

    d = posixpath.dirname(cfg)
    while True:
        try:
            listing = await client.request(ListDir(path=d))
        except DaemonError as e:
            if e.code != "not_found":
                raise
        else:
            if any(x.name == "conf" and x.is_dir for x in listing.entries):
                return d
        parent = posixpath.dirname(d)
        if parent == d:
            raise ConfigError(f"no project found on {client.host}: no folder holding conf/ above the config "
                              f"(give --project DIR)", cfg)
        d = parent


async def _launch(client: Any, launch: Any) -> Any:
    """Send ``launch``; after a drop, reconnect and find out whether it happened."""
    from heyhi.wire.protocol import DaemonError, Launched, Ping  # lean: keeps the start-up of heyhi run --remote from loading it
    from heyhi.wire.remote import RemoteError  # lean: keeps the start-up of heyhi run --remote from loading it

    t0 = (await client.request(Ping())).time  # the daemon's clock
    try:
        return await client.request(launch)
    except DaemonError as e:
        if e.code != "closed":
            raise
        _note("lost", f"{e.message}; reconnecting to see whether the launch happened")
    await client.reconnect()
    deadline = time.monotonic() + LAUNCH_SETTLE_S
    while True:
        job = await _launched_since(client, launch.config, t0)
        if job is not None:
            _note("resumed", f"reconnected to {client.host}: the launch happened")
            return Launched(job_id=job.job_id, run_dir=job.run_dir, decision="run",
                            reason="launched (confirmed after reconnecting)")
        if time.monotonic() > deadline:
            raise RemoteError("closed", f"lost the connection to {client.host} before the daemon answered the "
                                        f"launch, and no launch of {launch.config} shows there since: nothing "
                                        f"was launched; run the command again")
        await asyncio.sleep(0.2)


async def _launched_since(client: Any, config: str, t0: float) -> Any:
    from heyhi.wire.protocol import ListJobs, ShowJob  # lean: keeps the start-up of heyhi run --remote from loading it

    for job in reversed((await client.request(ListJobs(config=config), retry=True)).jobs):
        if (job.created or 0) >= t0 or (job.started or 0) >= t0:
            return job
        detail = await client.request(ShowJob(job=job.job_id), retry=True)
        if any(h.at >= t0 for h in detail.history if h.state in ("queued", "submitted", "running")):
            return job
    return None


async def follow_to_end(client: Any, job_id: str) -> int:
    """Echo the job's stdout and stderr (streamed by the daemon, resumed after drops) until it
    ends; returns its exit code."""
    from heyhi.wire.protocol import Logs, ShowJob  # lean: keeps the start-up of heyhi run --remote from loading it

    async def pump(c: Any, stream: str, out: Any) -> None:
        async for chunk in c.stream(Logs(job=job_id, stream=stream, offset=0, follow=True)):
            if chunk.data:
                out.write(chunk.data)
                out.flush()

    err_client = await client.open_client()
    try:
        tasks = [asyncio.ensure_future(pump(client, "stdout", sys.stdout.buffer)),
                 asyncio.ensure_future(pump(err_client, "stderr", sys.stderr.buffer))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.wait(tasks)
    finally:
        await err_client.close()
    job = (await client.request(ShowJob(job=job_id), retry=True)).job
    where = f"{client.host}:{job.run_dir}"
    if job.state == "completed":
        print(f"heyhi: completed: {where}", file=sys.stderr)
        return 0
    print(f"heyhi: {job.state}: {job.reason} ({where})", file=sys.stderr)
    return job.exit_code if job.exit_code else 1
