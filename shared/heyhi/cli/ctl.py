"""``heyhi ctl status|list|show|restart|cancel|wipe|logs|stop``: a thin client of the daemon.

Lean on purpose: a plain blocking socket, no asyncio, no pydantic, no Textual; rich only when
printing tables to a terminal.
"""

from __future__ import annotations

import sys
import time

from heyhi.states import FINAL_STATES, LIVE_STATES

def _json(value, **kw) -> str:
    import json  # lean: only --json needs it (json and re cost heyhi ctl status ~10 ms)

    return json.dumps(value, **kw)


USAGE = """usage: heyhi ctl [--remote HOST] [--json] COMMAND
  status                      the daemon and a table of jobs
  list [--state S] [--config C] [TEXT]
  show JOB                    state, Slurm id, node, attempts, times and history
  restart JOB [--yes]         rerun its recorded config in its folder (asks first when that wipes a run)
  cancel JOB
  wipe JOB [--yes] [--purge]  move the job's run folder to the trash (asks first); --purge deletes it
  trash                       list wiped run folders (kept 7 days: HEYHI_TRASH_DAYS)
  restore ENTRY|FOLDER        bring a wiped run folder back where it was
  logs JOB [-f] [--stderr] [-n N]
  clean [--sweep SWEEP] [--yes]  list lost runs; wipe them (asks first) so they run again
  stop                        stop the daemon
JOB is a job id, a unique id prefix, or a run folder."""

COLUMNS = ("job_id", "state", "config", "tag", "slurm_id", "node", "runtime", "attempts")
STATE_STYLE = {"completed": "green", "running": "cyan", "queued": "yellow", "submitted": "yellow",
               "requeued": "magenta", "crashed": "red", "lost": "red", "cancelled": "dim"}


def _fail(msg: str, code: int = 1) -> int:
    print(f"heyhi: {msg}", file=sys.stderr)
    return code


def main(argv: list[str]) -> int:
    from heyhi.errors import HeyHiError  # lean: keeps the start-up of heyhi ctl from loading it

    opts = {"json": False, "remote": None}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--json":
            opts["json"] = True
        elif a == "--remote":
            if i + 1 >= len(argv):
                return _fail("--remote needs a host", 2)
            opts["remote"] = argv[i + 1]
            i += 1
        elif a.startswith("--remote="):
            opts["remote"] = a.split("=", 1)[1]
        elif a in ("-h", "--help"):
            print(USAGE)
            return 0
        else:
            rest.append(a)
        i += 1
    if not rest:
        print(USAGE, file=sys.stderr)
        return 2
    cmd, args = rest[0], rest[1:]
    if cmd in ("trash", "restore") and not opts["remote"]:  # the trash is files: no daemon needed
        try:
            return _trash_main(cmd, args, opts["json"])
        except HeyHiError as e:
            return _fail(str(e), e.exit_code)
    if cmd == "clean" and not opts["remote"]:  # works without a daemon: lost runs are found in the folders
        try:
            from heyhi.wire.client import connect_or_none  # lean: keeps the start-up of heyhi ctl from loading it
            from heyhi.cli.sweep import clean_main  # lean: keeps the start-up of heyhi ctl from loading it

            client = connect_or_none()
            try:
                return clean_main(args, client=client, as_json=opts["json"])
            finally:
                if client is not None:
                    client.close()
        except HeyHiError as e:
            return _fail(str(e), e.exit_code)
    try:
        client = _connect(opts["remote"])
        if client is None:
            return _fail("no heyhi daemon is running (start one: heyhi-daemon start)")
        with client:
            return _dispatch(client, cmd, args, opts["json"])
    except HeyHiError as e:
        from heyhi.wire.protocol import TAKEN, DaemonError  # lean: keeps the start-up of heyhi ctl from loading it

        if isinstance(e, DaemonError) and e.code == TAKEN:
            return _fail(str(e), 3)  # busy / taken is exit 3 on every path
        return _fail(str(e), e.exit_code if e.exit_code != 2 or cmd else 1)
    except KeyboardInterrupt:
        return 130


def _trash_main(cmd: str, args: list[str], as_json: bool) -> int:
    """``heyhi ctl trash`` lists wiped folders; ``heyhi ctl restore ENTRY|FOLDER`` brings one back."""

    from heyhi.errors import Refused, UsageError  # lean: keeps the start-up of heyhi ctl from loading it
    from heyhi.runs import ownership, trash  # lean: keeps the start-up of heyhi ctl from loading it

    roots = ownership.known_roots(_project_root_or_none())
    found = [e for t in trash.trashes(roots, ownership.created_outs()) for e in trash.entries(t)]
    if cmd == "trash":
        if as_json:
            print(_json({"trash": [{"entry": str(e.path), "origin": str(e.origin), "at": e.at} for e in found]}))
            return 0
        if not found:
            print("heyhi: the trash is empty")
        for e in found:
            print(f"{_ts(e.at)}  {e.origin}\n    {e.path}")
        return 0
    if len(args) != 1:
        raise UsageError("usage: heyhi ctl restore ENTRY|FOLDER (heyhi ctl trash lists them)")
    ref = ownership.canonical(args[0])
    entry = trash.read_entry(ref) if any(ref == e.path for e in found) else None
    if entry is None:
        entry = next((e for e in found if e.origin == ref), None)  # newest first
    if entry is None:
        raise Refused(f"nothing in the trash for {args[0]} (heyhi ctl trash lists what is there)")
    target = trash.restore(entry)
    print(f"heyhi: restored {target}")
    return 0


def _project_root_or_none():
    """The results root of the project around the working folder, if any (configured by the user)."""
    from heyhi.errors import HeyHiError  # lean: keeps the start-up of heyhi ctl from loading it
    from heyhi.config.project import Project  # lean: keeps the start-up of heyhi ctl from loading it

    try:
        return Project.find(None).results_root
    except HeyHiError:
        return None


def _connect(remote: str | None):
    if remote:
        from heyhi.wire.remote import connect_remote_blocking  # lean: keeps the start-up of heyhi ctl from loading it

        return connect_remote_blocking(remote)
    from heyhi.wire.client import connect_or_none  # lean: keeps the start-up of heyhi ctl from loading it

    return connect_or_none()


def _dispatch(client, cmd: str, args: list[str], as_json: bool) -> int:
    from heyhi.wire import protocol as P  # lean: keeps the start-up of heyhi ctl from loading it

    def one_job() -> str | None:
        return args[0] if args else None

    if cmd in ("status", "list"):
        state = config = text = None
        j = 0
        while j < len(args):
            if args[j] == "--state" and j + 1 < len(args):
                state = args[j + 1]
                j += 2
                continue
            if args[j] == "--config" and j + 1 < len(args):
                config = args[j + 1]
                j += 2
                continue
            text = args[j]
            j += 1
        states = sorted(LIVE_STATES | FINAL_STATES)
        if state is not None and state not in states:
            return _fail(f"--state {state}: expected one of {', '.join(states)}", 2)
        if "--state" in args[-1:] or "--config" in args[-1:]:
            return _fail(f"{args[-1]} needs a value", 2)
        jobs = client.request(P.ListJobs(state=state, config=config, text=text)).jobs
        if as_json:
            out = {"jobs": [P.to_wire(x) for x in jobs]}
            if cmd == "status":
                w = client.welcome
                out["daemon"] = {"version": w.daemon_version, "pid": w.pid, "started": w.started}
            print(_json(out, default=str))
            return 0
        if cmd == "status":
            w = client.welcome
            counts: dict[str, int] = {}
            for x in jobs:
                counts[x.state] = counts.get(x.state, 0) + 1
            summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no jobs"
            print(f"heyhi daemon {w.daemon_version} (pid {w.pid}, up {_dur(time.time() - w.started)}): {summary}")
        _table(jobs)
        return 0
    if cmd == "show":
        if not one_job():
            return _fail("usage: heyhi ctl show JOB", 2)
        d = client.request(P.ShowJob(job=one_job()))
        if as_json:
            print(_json(P.to_wire(d), default=str))
            return 0
        j = d.job
        fields = [("job", j.job_id), ("state", j.state + (f" ({j.reason})" if j.reason else "")),
                  ("exit code", j.exit_code), ("run folder", j.run_dir), ("config", j.config), ("launcher", j.launcher),
                  ("slurm id", j.slurm_id), ("slurm ids", ", ".join(d.slurm_ids) or None),
                  ("slurm state", d.slurm_state), ("node", j.node), ("attempts", j.attempts),
                  ("created", _ts(j.created)), ("started", _ts(j.started)), ("ended", _ts(j.ended)),
                  ("runtime", _runtime(j))]
        for k, v in fields:
            if v not in (None, ""):
                print(f"{k:>11}: {v}")
        print("    history:")
        for i, p in enumerate(d.previous_runs):  # earlier runs of the folder, wiped by restarts
            print(f"      {_ts(p.ended)}  previous run {i + 1}: {p.state}  {_extra(p, ('state', 'ended'))}")
        for h in d.history:
            print(f"      {_ts(h.at)}  {h.state}  {_extra(h, ('state', 'at'))}")
        return 0
    if cmd == "restart":
        job = next((a for a in args if not a.startswith("-")), None)
        if not job:
            return _fail("usage: heyhi ctl restart JOB [--yes]", 2)
        yes = "--yes" in args or "--force" in args
        r = client.request(P.Restart(job=job, force=yes))
        if r.decision == "confirm":
            from heyhi.cli.ask import ask_yes  # lean: keeps the start-up of heyhi ctl from loading it

            if not sys.stdin.isatty():
                return _fail(f"refusing to restart {r.run_dir} (its run is {r.state}) without a terminal to "
                             "confirm: pass --yes", 2)
            if not ask_yes(f"Restart {r.run_dir}? Its {r.state} run goes to the trash."):
                return _fail("not restarted", 1)
            r = client.request(P.Restart(job=job, expect_state=r.state))
            if r.decision == "confirm":
                return _fail(f"not restarted: {r.run_dir} is now {r.state}; run the command again to decide", 1)
        print(f"heyhi: restarted: {r.run_dir} [job {r.job_id}] ({r.reason})")  # the reason says it reran the record
        return 0
    if cmd == "cancel":
        if not one_job():
            return _fail(f"usage: heyhi ctl {cmd} JOB", 2)
        r = client.request(P.Cancel(job=one_job()))
        print(f"heyhi: {r.detail}")
        return 0
    if cmd == "wipe":
        job = next((a for a in args if not a.startswith("-")), None)
        if not job:
            return _fail("usage: heyhi ctl wipe JOB [--yes] [--purge]", 2)
        purge = "--purge" in args
        if "--yes" not in args and "--force" not in args:
            d = client.request(P.ShowJob(job=job))
            if not sys.stdin.isatty():
                return _fail(f"refusing to wipe {d.job.run_dir} without a terminal to confirm: pass --yes", 2)
            from heyhi.cli.ask import ask_yes  # lean: keeps the start-up of heyhi ctl from loading it

            what = "Delete" if purge else "Wipe"
            if not ask_yes(f"{what} {d.job.run_dir} (its run is {d.job.state})?"
                           + ("" if purge else " It goes to the trash.")):
                return _fail("not wiped", 1)
        r = client.request(P.Wipe(job=job, confirm_job=job, purge=purge))
        print(f"heyhi: {r.detail}")
        return 0
    if cmd == "logs":
        job = None
        follow = False
        stream = "stdout"
        last = None
        j = 0
        while j < len(args):
            a = args[j]
            if a in ("-f", "--follow"):
                follow = True
            elif a == "--stderr":
                stream = "stderr"
            elif a == "-n" and j + 1 < len(args):
                if not args[j + 1].isdigit() or len(args[j + 1]) > 9:
                    return _fail(f"-n {args[j + 1]}: expected a number of lines (at most 999999999)", 2)
                last = int(args[j + 1])
                j += 1
            else:
                job = a
            j += 1
        if job is None:
            return _fail("usage: heyhi ctl logs JOB [-f] [--stderr] [-n N]", 2)
        out = sys.stdout.buffer
        req = P.Logs(job=job, stream=stream, offset=None if last is not None else 0, last_lines=last, follow=follow)
        try:
            for chunk in client.stream(req):
                if chunk.data:
                    out.write(chunk.data)
                    out.flush()
        except KeyboardInterrupt:
            return 0
        return 0
    if cmd == "clean":  # lost runs (heyhi.cli.sweep.clean_main): list, and with --yes wipe them
        from heyhi.cli.sweep import clean_main  # lean: keeps the start-up of heyhi ctl from loading it

        return clean_main(args, client=client, as_json=as_json)
    if cmd == "stop":
        client.request(P.Shutdown())
        print("heyhi: daemon stopping")
        return 0
    return _fail(f"unknown ctl command {cmd!r}\n{USAGE}", 2)


def _ts(t) -> str | None:
    if not t:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _extra(entry, skip: tuple[str, ...]) -> str:
    """``key=value`` for each field of a history entry that was recorded, by name (as in the record)."""
    names = sorted(n for n in type(entry)._fields if n not in skip and n != "kind")
    return " ".join(f"{n}={getattr(entry, n)}" for n in names if getattr(entry, n) not in (None, ""))


def _dur(s: float) -> str:
    s = int(s)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _runtime(j) -> str:
    if not j.started:
        return ""
    return _dur((j.ended or time.time()) - j.started)


def _row(j) -> list[str]:
    return [j.job_id, j.state + (f" ({j.exit_code})" if j.exit_code not in (None, 0) else ""),
            j.config.rsplit("/conf/", 1)[-1], j.tag, j.slurm_id or "", j.node or "", _runtime(j), str(j.attempts)]


def _table(jobs) -> None:
    rows = [_row(j) for j in jobs]
    if sys.stdout.isatty():
        from rich.console import Console  # lean: keeps the start-up of heyhi ctl from loading it
        from rich.table import Table  # lean: keeps the start-up of heyhi ctl from loading it

        t = Table(*COLUMNS, box=None, header_style="bold")
        for j, r in zip(jobs, rows):
            style = STATE_STYLE.get(j.state, "")
            t.add_row(*r[:1], f"[{style}]{r[1]}[/]" if style else r[1], *r[2:])
        Console().print(t)
        return
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
