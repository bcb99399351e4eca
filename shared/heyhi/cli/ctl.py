"""``heyhi ctl status|list|show|wait|restart|cancel|wipe|logs|stop``: a thin client of the daemon.

Lean on purpose: a plain blocking socket, no asyncio, no pydantic, no Textual; rich only when
printing tables to a terminal.

``list``, ``show``, ``logs`` and ``wait`` also work without a daemon: they read the run folders
under the results roots (``heyhi.runs.view``), with the same job ids, so their output is the same
with a daemon, without one and over ``--remote`` (where the run folder's files come through the
daemon's bounded ``ReadFile``). Times are shown as local ``YYYY-MM-DD HH:MM:SS``, never as epoch
floats; a time not recorded is shown as ``-``.
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
  list [--state S[,S...]] [--config C] [TEXT]
  show JOB                    state, overrides, composed config, result, last metrics, times, history
  wait JOB... [--timeout S]   until every job has ended: exit 0 if all completed, 1 if not, 124 on timeout
  restart JOB [--yes]         rerun its recorded config in its folder (asks first when that wipes a run)
  cancel JOB
  wipe JOB [--yes] [--purge]  move the job's run folder to the trash (asks first); --purge deletes it
  trash                       list wiped run folders (kept 7 days: HEYHI_TRASH_DAYS)
  restore ENTRY|FOLDER        bring a wiped run folder back where it was
  logs JOB [-f] [--stderr] [-n N | --all]  on a terminal the last 50 lines (--all: all); piped: all
  clean [--sweep SWEEP] [--yes]  list lost runs; wipe them (asks first) so they run again
  stop                        stop the daemon
JOB is a job id, a unique id prefix, or a run folder. Without a daemon, list, show, logs and wait
read the run folders under the results roots."""

COLUMNS = ("job_id", "state", "config", "tag", "slurm_id", "node", "runtime", "attempts")
STATE_STYLE = {"completed": "green", "running": "cyan", "queued": "yellow", "submitted": "yellow",
               "requeued": "magenta", "crashed": "red", "lost": "red", "cancelled": "dim"}
STATES = tuple(sorted(LIVE_STATES | FINAL_STATES))
FOLDER_COMMANDS = ("list", "show", "logs", "wait")  # work without a daemon, from the run folders
TERMINAL_LOG_LINES = 50  # ``ctl logs`` on a terminal: the last lines, unless --all or -n
WAIT_TIMEOUT_EXIT = 124  # as timeout(1)
MAX_TIMEOUT_S = 10_000_000.0
MAX_SHOWN_METRICS = 40
MAX_RESULT_CHARS = 400
NO_TIME = "-".ljust(19)


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
        parsed = _parse_inspect(cmd, args) if cmd in FOLDER_COMMANDS or cmd == "status" else None
        client = _connect(opts["remote"])
        if client is None:
            if cmd in FOLDER_COMMANDS:
                return _inspect(_Folders(), cmd, parsed, opts["json"])
            return _fail("no heyhi daemon is running (start one: heyhi-daemon start)")
        with client:
            if parsed is not None:
                return _inspect(_Daemon(client), cmd, parsed, opts["json"])
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


# ---- list, show, logs, wait: the same with a daemon, without one, and over --remote ---------------


def _usage(msg: str):
    from heyhi.errors import UsageError  # lean: keeps the start-up of heyhi ctl from loading it

    return UsageError(msg)


def option_value(argv: list[str], i: int, name: str, eq: str, val: str) -> tuple[str, int]:
    """The value of the flag at ``argv[i]`` (``--name=value`` or ``--name value``) and the index of
    the last token it used; a missing value is a ``UsageError``."""
    if eq:
        return val, i
    if i + 1 >= len(argv):
        raise _usage(f"{name} needs a value")
    return argv[i + 1], i + 1


def _parse_inspect(cmd: str, args: list[str]) -> dict:
    """The arguments of list/status/show/logs/wait, checked before any daemon is reached (a bad
    one is a ``UsageError``: one line, exit 2)."""
    out: dict = {"jobs": []}
    j = 0
    while j < len(args):
        a = args[j]
        name, eq, val = a.partition("=")
        takes_value = {"list": ("--state", "--config"), "status": ("--state", "--config"),
                       "logs": ("-n",), "wait": ("--timeout",)}.get(cmd, ())
        if name in takes_value:
            val, j = option_value(args, j, name, eq, val)
            out[name.lstrip("-")] = val
        elif cmd == "logs" and a in ("-f", "--follow"):
            out["follow"] = True
        elif cmd == "logs" and a == "--stderr":
            out["stream"] = "stderr"
        elif cmd == "logs" and a == "--all":
            out["all"] = True
        elif a.startswith("-") and len(a) > 1:
            raise _usage(f"ctl {cmd}: unknown flag {a!r} (heyhi ctl --help lists them)")
        else:
            out["jobs"].append(a)
        j += 1
    if "state" in out:
        states = [s.strip() for s in out["state"].split(",") if s.strip()]
        bad = [s for s in states if s not in STATES]
        if bad or not states:
            raise _usage(f"--state {out['state']}: expected one of {', '.join(STATES)} (several: a,b)")
        out["states"] = list(dict.fromkeys(states))
    if "n" in out:
        n = out["n"]
        if not n.isdigit() or len(n) > 9:
            raise _usage(f"-n {n}: expected a number of lines (at most 999999999)")
        out["n"] = int(n)
    if "timeout" in out:
        try:
            t = float(out["timeout"])
        except ValueError:
            t = -1.0
        if not (0 < t <= MAX_TIMEOUT_S):
            raise _usage(f"--timeout {out['timeout']}: expected a number of seconds above 0")
        out["timeout"] = t
    if cmd in ("list", "status"):
        if len(out["jobs"]) > 1:
            raise _usage(f"ctl {cmd}: one TEXT at most (got {' '.join(out['jobs'])})")
        out["text"] = out["jobs"][0] if out["jobs"] else None
    elif cmd in ("show", "logs") and len(out["jobs"]) != 1:
        raise _usage({"show": "usage: heyhi ctl show JOB",
                      "logs": "usage: heyhi ctl logs JOB [-f] [--stderr] [-n N | --all]"}[cmd])
    elif cmd == "wait" and not out["jobs"]:
        raise _usage("usage: heyhi ctl wait JOB... [--timeout SECONDS]")
    return out


class _Daemon:
    """Jobs as the daemon (local, or over --remote) knows them; files through its ``ReadFile``."""

    def __init__(self, client):
        from heyhi.wire import protocol  # lean: keeps the start-up of heyhi ctl from loading it

        self.client, self.P = client, protocol

    def jobs(self, states: list[str] | None = None, config: str | None = None, text: str | None = None) -> list[dict]:
        one = states[0] if states and len(states) == 1 else None
        res = self.client.request(self.P.ListJobs(state=one, config=config, text=text))
        self.slurm_queries = res.slurm_queries  # the daemon's Slurm query rate (ctl status)
        return [self.P.to_wire(j) for j in res.jobs if not states or j.state in states]

    def detail(self, ref: str) -> dict:
        return self.P.to_wire(self.client.request(self.P.ShowJob(job=ref)))

    def job_id(self, ref: str) -> str:
        return self.client.request(self.P.ShowJob(job=ref)).job.job_id

    def read(self, path: str, offset: int, length: int):
        try:
            d = self.client.request(self.P.ReadFile(path=path, offset=offset, length=length))
        except self.P.DaemonError as e:
            if e.code == self.P.NOT_FOUND or e.code == self.P.BAD_REQUEST:
                return None
            raise
        return d.data, d.size

    def log_chunks(self, ref: str, stream: str, last: int | None, follow: bool):
        req = self.P.Logs(job=ref, stream=stream, offset=None if last is not None else 0, last_lines=last,
                          follow=follow)
        for chunk in self.client.stream(req):
            yield chunk.offset, chunk.data

    def states(self, ids: list[str]) -> dict[str, dict]:
        """The jobs ``ids`` now (a job the daemon no longer lists was wiped)."""
        known = {j["job_id"]: j for j in self.jobs()}
        return {i: known.get(i) or {"job_id": i, "state": "wiped", "run_dir": "", "exit_code": None} for i in ids}


class _Folders:
    """Jobs read from the run folders under the results roots (no daemon)."""

    def __init__(self):
        import os  # lean: keeps the start-up of heyhi ctl from loading it
        from heyhi.runs import ownership, view  # lean: keeps the start-up of heyhi ctl from loading it
        from heyhi.sweep.plan import LazySlurm  # lean: keeps the start-up of heyhi ctl from loading it

        self._os, self.view = os, view
        self.roots = ownership.known_roots(_project_root_or_none())
        self._launched = None
        self._dirs: dict[str, str] = {}  # job id -> run folder, of the jobs resolved
        self.read = view.local_read
        self.slurm = LazySlurm()  # squeue asked once, when a Slurm run's liveness is first needed

    def _runs(self):
        from heyhi.runs import ownership  # lean: keeps the start-up of heyhi ctl from loading it

        if self._launched is None:
            self._launched = ownership.launches_since(0)[0]
        return self.view.find_runs(self.roots, self._launched)

    def _job(self, run_dir) -> dict | None:
        from heyhi.runs.formats import NewerFormat  # lean: keeps the start-up of heyhi ctl from loading it

        try:
            return self.view.folder_job(run_dir, self.slurm)
        except NewerFormat:  # a newer HeyHi's run: not listed (show names it)
            return None

    def jobs(self, states: list[str] | None = None, config: str | None = None, text: str | None = None) -> list[dict]:
        out = []
        for d in self._runs():
            j = self._job(d)
            if j is None or (states and j["state"] not in states) or (config and config not in j["config"]):
                continue
            if text and text not in f"{j['job_id']} {j['config']} {j['tag']} {j['run_dir']} {j['reason']}":
                continue
            out.append(j)
        return sorted(out, key=lambda j: j["created"] or 0.0)

    def resolve(self, ref: str) -> str:
        """The run folder a job reference names (a folder, a job id, a unique id prefix)."""
        import os  # lean: keeps the start-up of heyhi ctl from loading it
        from heyhi.runs import records as R  # lean: keeps the start-up of heyhi ctl from loading it

        p = os.path.abspath(os.path.expanduser(ref))
        if os.path.isfile(os.path.join(p, R.STATUS)):
            return p
        if ref and all(c in "0123456789abcdef" for c in ref):
            hits = [d for d in self._runs() if self.view.job_id(d).startswith(ref)]
            exact = [d for d in hits if self.view.job_id(d) == ref]
            if len(exact) == 1 or len(hits) == 1:
                return str((exact or hits)[0])
            if hits:
                ids = ", ".join(sorted(self.view.job_id(d) for d in hits)[:5])
                raise _usage(f"job id prefix {ref!r} is ambiguous: {ids}")
        raise _usage(f"no job {ref!r} (an id, a unique id prefix or a run folder)")

    def detail(self, ref: str) -> dict:
        from heyhi.wire.protocol import HistoryEntry, field_names  # lean: keeps the start-up of heyhi ctl from loading it

        d = self.resolve(ref)
        job = self.view.folder_job(d)  # a newer HeyHi's record: its one line
        names = set(field_names(HistoryEntry))
        history = [{k: v for k, v in h.items() if k in names} for h in self.view.folder_history(d)]
        return {"job": job, "history": history, "previous_runs": [], "slurm_ids": [job["slurm_id"]] if job["slurm_id"] else [],
                "slurm_state": None, "kind": "job_detail"}

    def job_id(self, ref: str) -> str:
        d = self.resolve(ref)
        i = self.view.job_id(d)
        self._dirs[i] = d
        return i

    def log_chunks(self, ref: str, stream: str, last: int | None, follow: bool):
        import os  # lean: keeps the start-up of heyhi ctl from loading it
        from heyhi.runs import records as R  # lean: keeps the start-up of heyhi ctl from loading it

        d = self.resolve(ref)
        path = os.path.join(d, R.STDOUT if stream == "stdout" else R.STDERR)
        offset = self.view.last_lines_offset(path, last) if last is not None else 0
        pause = 0.05
        while True:
            got = self.read(path, offset, 1 << 20)
            if got and got[0]:
                yield offset, got[0]
                offset += len(got[0])
                pause = 0.05
                continue
            if got is not None and got[1] < offset:  # truncated: the run started again
                offset = 0
                continue
            if not follow or R.RunDir(d).state()[0] not in LIVE_STATES:
                got = self.read(path, offset, 1 << 20)  # what it wrote before it ended
                if got and got[0]:
                    continue
                return
            time.sleep(pause)
            pause = min(0.5, pause * 1.5)

    def states(self, ids: list[str]) -> dict[str, dict]:
        """The jobs ``ids`` (each resolved by ``job_id`` before) now; a folder gone was wiped."""
        out = {}
        for i in ids:
            d = self._dirs.get(i)
            j = self._job(d) if d and self._os.path.isdir(d) else None
            out[i] = j or {"job_id": i, "state": "wiped", "run_dir": d or "", "exit_code": None}
        return out


def _inspect(src, cmd: str, a: dict, as_json: bool) -> int:
    if cmd in ("list", "status"):
        jobs = src.jobs(a.get("states"), a.get("config"), a.get("text"))
        if as_json:
            out = {"jobs": jobs}
            if cmd == "status":
                w = src.client.welcome
                out["daemon"] = {"version": w.daemon_version, "pid": w.pid, "started": w.started,
                                 "slurm_queries": getattr(src, "slurm_queries", None)}
            print(_json(out, default=str))
            return 0
        if cmd == "status":
            w = src.client.welcome
            counts: dict[str, int] = {}
            for x in jobs:
                counts[x["state"]] = counts.get(x["state"], 0) + 1
            summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no jobs"
            print(f"heyhi daemon {w.daemon_version} (pid {w.pid}, up {_dur(time.time() - w.started)}): {summary}")
            print(_rate_line(getattr(src, "slurm_queries", None)))
        _table(jobs)
        return 0
    if cmd == "show":
        d = src.detail(a["jobs"][0])
        from heyhi.runs.view import read_extras  # lean: keeps the start-up of heyhi ctl from loading it

        d.update(read_extras(src.read, d["job"]["run_dir"]))
        if as_json:
            print(_json(d, default=str))
            return 0
        _print_detail(d)
        return 0
    if cmd == "logs":
        return _logs(src, a)
    if cmd == "wait":
        return _wait(src, a, as_json)
    raise AssertionError(cmd)


def _cost_text(c) -> str | None:
    """The ``cost`` line of ``ctl show`` (``heyhi.slurm.cost``), None when the run recorded none."""
    if not isinstance(c, dict):
        return None
    from heyhi.slurm.cost import format_cost  # lean: only ctl show of a Slurm run needs it

    return format_cost(c)


def _rate_line(q) -> str:
    """``slurm queries: squeue 1.5/min, sacct 0.2/min (last 10 min)``: the daemon's load on slurmctld."""
    if not isinstance(q, dict) or not isinstance(q.get("per_minute"), dict):
        return "slurm queries: none since the daemon started"
    rates = ", ".join(f"{k} {v:.1f}/min" for k, v in q["per_minute"].items() if isinstance(v, (int, float)))
    w = q.get("window_s")
    return f"slurm queries: {rates} (last {_dur(w) if isinstance(w, (int, float)) else '?'})"


def _print_detail(d: dict) -> None:
    import shlex  # lean: keeps the start-up of heyhi ctl from loading it

    j = d["job"]
    ovs = d.get("overrides")
    fields = [("job", j["job_id"]), ("state", j["state"] + (f" ({j['reason']})" if j.get("reason") else "")),
              ("exit code", j.get("exit_code")), ("run folder", j["run_dir"]), ("config", j.get("config")),
              ("overrides", "(none)" if ovs == [] else shlex.join(ovs) if ovs else None),
              ("composed", d.get("composed_config")), ("launcher", j.get("launcher")),
              ("slurm id", j.get("slurm_id")), ("slurm ids", ", ".join(d.get("slurm_ids") or ()) or None),
              ("slurm state", d.get("slurm_state")), ("node", j.get("node")), ("attempts", j.get("attempts")),
              ("created", _ts(j.get("created"))), ("started", _ts(j.get("started"))), ("ended", _ts(j.get("ended"))),
              ("runtime", _runtime(j)), ("cost", _cost_text(d.get("cost"))),
              ("efficiency", j.get("efficiency_warning")), ("result", _result_text(d.get("result")))]
    for k, v in fields:
        if v not in (None, ""):
            print(f"{k:>11}: {v}")
    metrics = d.get("metrics") or {}
    if metrics:
        print("    metrics: (the last value logged of each)")
        shown = list(metrics.items())[:MAX_SHOWN_METRICS]
        w = min(30, max(len(k) for k, _ in shown))
        vw = max(len(_num(m.get("value"))) for _, m in shown)
        for name, m in shown:
            step = f"  step {_num(m.get('step'))}" if m.get("step") is not None else ""
            print(f"      {name:<{w}}  {_num(m.get('value')):<{vw}}{step}".rstrip())
        if len(metrics) > MAX_SHOWN_METRICS:
            print(f"      ... and {len(metrics) - MAX_SHOWN_METRICS} more (--json lists them all)")
    print("    history:")
    for t, text in _history_rows(d):
        print(f"      {_ts(t) or NO_TIME}  {text}")


def _history_rows(d: dict) -> list[tuple[float | None, str]]:
    """The earlier runs of the folder (wiped by restarts) and the current run's state changes, in
    time order (a row without a time keeps its place)."""
    rows: list[tuple[float | None, str]] = []
    for i, p in enumerate(d.get("previous_runs") or ()):
        t = p.get("ended") or p.get("started")
        rows.append((t, f"previous run {i + 1}: {p['state']}  {_extra(p, ('state', 'ended', 'kind'))}".rstrip()))
    for h in d.get("history") or ():
        rows.append((h.get("at"), f"{h['state']}  {_extra(h, ('state', 'at', 'kind'))}".rstrip()))
    last = float("-inf")
    keyed = []
    for t, text in rows:  # a row without a time sorts where the row before it does
        last = t if isinstance(t, (int, float)) else last
        keyed.append((last, len(keyed), t, text))
    return [(t, text) for _, _, t, text in sorted(keyed)]


TIME_KEYS = ("at", "started", "ended", "created", "updated")


def _extra(entry: dict, skip: tuple[str, ...]) -> str:
    """``key=value`` for each field of a history entry that was recorded (times as local times)."""
    out = []
    for n in sorted(entry):
        v = entry[n]
        if n in skip or v in (None, ""):
            continue
        out.append(f"{n}={_ts(v) if n in TIME_KEYS else v}")
    return " ".join(out)


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _result_text(result) -> str | None:
    if result is None:
        return None
    if isinstance(result, dict) and "text" in result and set(result) <= {"text", "truncated", "size"}:
        text = result["text"]
        if result.get("truncated"):
            text += f" ... ({result['size']} bytes: --json or the file has it all)"
    else:
        text = _json(result, default=str)
    return text if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS] + " ... (--json shows it all)"


def _logs(src, a: dict) -> int:
    last = a.get("n")
    cut_note = False
    if last is None and not a.get("all") and sys.stdout.isatty():
        last, cut_note = TERMINAL_LOG_LINES, True
    out = sys.stdout.buffer
    first = True
    try:
        for offset, data in src.log_chunks(a["jobs"][0], a.get("stream", "stdout"), last, bool(a.get("follow"))):
            if first and cut_note and offset > 0:
                print(f"heyhi: the last {last} lines (--all shows the whole log, -n N the last N lines)",
                      file=sys.stderr, flush=True)
            first = False
            if data:
                out.write(data)
                out.flush()
    except KeyboardInterrupt:
        return 0
    return 0


def _wait(src, a: dict, as_json: bool) -> int:
    """``heyhi ctl wait JOB...``: until every job has ended (as pueue's ``wait``)."""
    ids = [src.job_id(r) for r in a["jobs"]]  # an unknown job: one line, before any waiting
    ids = list(dict.fromkeys(ids))
    deadline = time.monotonic() + a["timeout"] if "timeout" in a else None
    ended: dict[str, dict] = {}
    pause = 0.05
    while True:
        now = src.states([i for i in ids if i not in ended])
        for i, j in now.items():
            if j["state"] not in LIVE_STATES:
                ended[i] = j
                if not as_json:
                    code = f" (exit {j['exit_code']})" if j.get("exit_code") not in (None, 0) else ""
                    print(f"{i}  {j['state']}{code}  {j.get('run_dir', '')}".rstrip(), flush=True)
        if len(ended) == len(ids):
            break
        if deadline is not None and time.monotonic() >= deadline:
            left = [i for i in ids if i not in ended]
            if as_json:
                print(_json({"jobs": [ended.get(i) or now[i] for i in ids], "timed_out": left}, default=str))
            return _fail(f"timed out after {a['timeout']:g}s: {len(left)} of {len(ids)} jobs not ended "
                         f"({', '.join(left[:5])})", WAIT_TIMEOUT_EXIT)
        time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(1.0, pause * 1.5)
    if as_json:
        print(_json({"jobs": [ended[i] for i in ids], "timed_out": []}, default=str))
    return 0 if all(ended[i]["state"] == "completed" for i in ids) else 1


def _dispatch(client, cmd: str, args: list[str], as_json: bool) -> int:
    """The commands only a daemon serves: restart, cancel, wipe, clean, stop."""
    from heyhi.wire import protocol as P  # lean: keeps the start-up of heyhi ctl from loading it

    def one_job() -> str | None:
        return args[0] if args else None

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
    if cmd == "clean":  # lost runs (heyhi.cli.sweep.clean_main): list, and with --yes wipe them
        from heyhi.cli.sweep import clean_main  # lean: keeps the start-up of heyhi ctl from loading it

        return clean_main(args, client=client, as_json=as_json)
    if cmd == "stop":
        client.request(P.Shutdown())
        print("heyhi: daemon stopping")
        return 0
    return _fail(f"unknown ctl command {cmd!r}\n{USAGE}", 2)


def _ts(t) -> str | None:
    """A unix time as local ``YYYY-MM-DD HH:MM:SS``; None when not recorded."""
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not t:
        return None
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
    except (OverflowError, OSError, ValueError):
        return None


def _dur(s: float) -> str:
    s = int(s)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _runtime(j: dict) -> str:
    if not j.get("started"):
        return ""
    return _dur(max(0.0, (j.get("ended") or time.time()) - j["started"]))


def _row(j: dict) -> list[str]:
    code = j.get("exit_code")
    return [j["job_id"], j["state"] + (f" ({code})" if code not in (None, 0) else ""),
            (j.get("config") or "").rsplit("/conf/", 1)[-1], j.get("tag") or "", j.get("slurm_id") or "",
            j.get("node") or "", _runtime(j), str(j.get("attempts", ""))]


def _table(jobs: list[dict]) -> None:
    rows = [_row(j) for j in jobs]
    if sys.stdout.isatty():
        from rich.console import Console  # lean: keeps the start-up of heyhi ctl from loading it
        from rich.table import Table  # lean: keeps the start-up of heyhi ctl from loading it

        t = Table(*COLUMNS, box=None, header_style="bold")
        for j, r in zip(jobs, rows):
            style = STATE_STYLE.get(j["state"], "")
            t.add_row(*r[:1], f"[{style}]{r[1]}[/]" if style else r[1], *r[2:])
        Console().print(t)
        return
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def resolve_run(ref: str) -> str:
    """The run folder ``ref`` names (for ``heyhi diff`` and ``heyhi compare``): a folder holding a
    run's records; else a job id or a unique id prefix, asked of the daemon when one is up, else
    found in the run folders under the results roots. Unknown: a one-line ``UsageError``."""
    import os  # lean: keeps the start-up of heyhi ctl from loading it
    from heyhi.runs import records as R  # lean: keeps the start-up of heyhi ctl from loading it

    p = os.path.abspath(os.path.expanduser(ref))
    if os.path.isdir(p) and any(os.path.isfile(os.path.join(p, f)) for f in (R.STATUS, R.CONFIG_META, R.CONFIG)):
        return p
    if "/" in ref or ref.startswith("."):  # a path, not an id
        if os.path.exists(p):
            raise _usage(f"{ref}: not a run folder (no {R.STATUS} or {R.CONFIG_META} in it)")
        raise _usage(f"{ref}: no such run folder")
    client = _connect(None)
    if client is not None:
        from heyhi.wire.protocol import ShowJob  # lean: keeps the start-up of heyhi ctl from loading it

        with client:
            return client.request(ShowJob(job=ref)).job.run_dir
    return _Folders().resolve(ref)
