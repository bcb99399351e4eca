"""``heyhi sweep ...`` and the sweep branch of ``heyhi run``.

    heyhi run -c CFG lr=[0.1,0.01] seed=[0,1,2] [--plan] [--trials N --sweep-seed S] [--zip a,b]
              [--retry-failed] [--max-parallel N] [--metric NAME[:max|:min]] [--wait] [--no-daemon]
    heyhi sweep conf/sweeps/lr_search.yaml [overrides] [--plan] [--retry-failed] [--max-parallel N] [--wait]
                [--profile PROFILE]
    heyhi sweep report SWEEP [--metric M] [--csv | --json] [--no-plots]
    heyhi sweep best SWEEP --seeds 0,1,2,3,4 [--metric M] [--plan] [--wait] [--no-daemon]
    heyhi sweep status [SWEEP] [--json]        heyhi sweep list
    heyhi sweep cancel SWEEP                   heyhi sweep clean [SWEEP] [--yes]

SWEEP is a sweep folder, a sweep file, or a sweep id / unique part of its folder name.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from heyhi.errors import HeyHiError, UsageError, ConfigError, FolderTaken, NothingStarted, Refused
from heyhi.cli.progress import progress

USAGE = __doc__.split("\n\n", 1)[1].rsplit("\n\nSWEEP", 1)[0].replace("    heyhi", "heyhi").replace("\n              ", "\n    ")


@dataclass
class Options:
    plan: bool = False
    retry_failed: bool = False
    max_parallel: int | None = None
    wait: bool = False
    no_daemon: bool = False
    print_out_dir: bool = False
    checkpoint: str | None = None
    project: str | None = None


def _say(msg: str) -> None:
    print(f"heyhi: {msg}", file=sys.stderr, flush=True)


# ---- heyhi run with sweep tokens ------------------------------------------------------------------


def run_sweep(args, tasks_module: str | None = None) -> int | None:
    """The sweep branch of ``heyhi run``; None when the tokens hold no sweep after all (a flag
    file of plain overrides, a list that is a repeated field's value): ``args.overrides`` then
    holds the plain overrides and ``heyhi run`` goes on as usual."""
    from heyhi.config.project import Project  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.sweep import SweepSpec, Sweep  # lean: keeps the start-up of heyhi sweep from loading it

    if args.print or args.print_flat or args.print_flat_all or args.help_fields is not None:
        if not (args.plan or args.trials or args.zip):
            spec = SweepSpec.from_run_args(args)
            project = Project.find(spec.config, args.project)
            sw = Sweep(spec, project)
            sw.parse()
            sw.resolve()
            if not sw.layout.axes:
                args.overrides = [t for t in sw.layout.template]
                return None
        raise UsageError("--print/--print-flat/--help-fields show one config: with a sweep use --plan or --print-out-dir")
    if args.out or args.adhoc:
        raise UsageError("a sweep names each point's folder from its overrides: --out and --adhoc do not apply")
    if args.mode not in (None, "gentle_start"):
        raise UsageError(f"--mode {args.mode}: a sweep launches its new points (and with --retry-failed its crashed "
                         f"and lost ones); drop --mode")
    spec = SweepSpec.from_run_args(args)
    project = Project.find(spec.config, args.project)
    sw = Sweep(spec, project)
    sw.parse()
    sw.resolve()
    if not sw.layout.axes and not (args.plan or args.trials or args.zip):
        args.overrides = [t for t in sw.layout.template]
        return None
    opts = Options(plan=args.plan, retry_failed=args.retry_failed, max_parallel=spec.max_parallel, wait=args.wait,
                   no_daemon=args.no_daemon, print_out_dir=args.print_out_dir, checkpoint=args.checkpoint)
    return launch(sw, opts, validated=False)


# ---- launching --------------------------------------------------------------------------------------


def launch(sw, opts: Options, validated: bool = True) -> int:
    """Plan or launch a built (or parsed and resolved) sweep: through the daemon when one is up
    (or needed: Slurm, adaptive), else embedded in the foreground."""
    from heyhi.sweep import SweepError, count_states, plan_line, plan_states, summary_line, sweep_id, to_launch, Record  # lean: keeps the start-up of heyhi sweep from loading it

    adaptive = sw.spec.kind == "adaptive"
    with progress("planning the sweep: checking its points") as shown:  # shown only when it takes a while
        if not validated:
            try:
                sw.validate()
                sw.expand()
            except ConfigError as e:
                raise SweepError(str(e)) from None
        points = sw.points
        if adaptive and (sw.sweep_dir / "sweep.json").is_file():
            points = Record(sw.sweep_dir).points()
        if opts.print_out_dir and not opts.plan:
            shown.close()
            for p in points:
                print(p.dir)
            return 0
        shown.update(label=f"planning the sweep: reading the folders of {len(points)} points")
        states = plan_states([p.dir for p in points])
    counts = count_states(states)
    if opts.plan:
        print_plan(sw, points, states, opts.retry_failed)
        if adaptive:
            print(f"adaptive search: {len(points)} points so far, budget {sw.spec.trials} trials")
        print(plan_line(counts, opts.retry_failed))
        return 0
    idx = to_launch(states, opts.retry_failed)
    if sw.duplicates:
        _say(f"{sw.duplicates} sampled points repeat earlier ones: dropped")
    if not idx and not adaptive:
        _say(f"sweep {sweep_id(sw.sweep_dir)}: nothing to launch: {summary_line(counts)}"
             + ("" if opts.retry_failed or not (counts["crashed"] or counts["lost"]) else
                " (--retry-failed relaunches the crashed and lost ones)"))
        return 0 if not (counts["crashed"] or counts["lost"]) else 1
    with progress(f"writing the sweep's record ({len(points)} points)"):
        sdir = sw.write_record()
        sid = sweep_id(sdir)
        tracked = None if adaptive else _tracked_by_daemon(sw)
    needs_daemon = adaptive or tracked is not None
    client = None
    if not opts.no_daemon:
        from heyhi.wire.client import connect_or_none  # lean: keeps the start-up of heyhi sweep from loading it

        client = connect_or_none()
        if client is None and needs_daemon:
            from heyhi.cli.embedded import start_daemon  # lean: keeps the start-up of heyhi sweep from loading it

            client = start_daemon()
    if client is None and needs_daemon:
        why = "an adaptive search" if adaptive else f"{tracked.title} launches"
        raise HeyHiError(f"{why} go through the daemon: drop --no-daemon (it is started when none is up)"
                         if opts.no_daemon else f"{why} need the daemon and none could be started")
    if client is not None:
        from heyhi.wire.protocol import LaunchSweep  # lean: keeps the start-up of heyhi sweep from loading it

        with client:
            with progress(f"handing {len(idx) or 'the'} points to the daemon"
                          + (f" ({tracked.title})" if tracked is not None else "")):
                res = client.request(LaunchSweep(sweep_dir=str(sdir), retry_failed=opts.retry_failed,
                                                 max_parallel=opts.max_parallel))
            _say(f"sweep {res.sweep_id}: {summary_line(res.counts) if res.total else 'adaptive search'}; "
                 f"{res.detail} ({sdir})")
            print(res.sweep_id, flush=True)
            if not opts.wait:
                return 0
            return wait_sweep(client, res.sweep_id)
    _say(f"sweep {sid}: {summary_line(counts)}; running {len(idx)} here, "
         f"{opts.max_parallel or 1} at a time ({sdir})")
    return run_embedded(sw, idx, states, opts)


def _tracked_by_daemon(sw):
    """The first launcher of a point that needs the daemon (``tracked_by_daemon``: Slurm), or None."""
    if not sw.points and sw.spec.kind != "adaptive":
        return None
    from heyhi.launchers import for_config  # lean: keeps the start-up of heyhi sweep from loading it

    lay = sw.layout
    if any(a.key.startswith("Ilauncher") or a.key.startswith("launcher.") for a in lay.axes):
        probes = sw.points[: 50] if sw.points else []
        found = (for_config(sw.composer.compose(sw.spec.config, p.overrides)) for p in probes)
        return next((launcher for launcher in found if launcher.tracked_by_daemon), None)
    fixed = [t for t in lay.template if isinstance(t, str)]
    launcher = for_config(sw.composer.compose(sw.spec.config, sw.points[0].overrides if sw.points else fixed))
    return launcher if launcher.tracked_by_daemon else None


def print_plan(sw, points, states, retry_failed: bool = False) -> None:
    """One line per point: its state (``retry`` for what ``--retry-failed`` relaunches), folder, values."""
    from heyhi.sweep import plan_label  # lean: keeps the start-up of heyhi sweep from loading it

    labels = [plan_label(s, retry_failed) for s in states]
    w = max([len(s) for s in labels] + [5])
    for p, s, was in zip(points, labels, states):
        print(f"{s:<{w}}  {p.dir}  {p.describe()}" + (f"  (was {was})" if s != was else ""))


def wait_sweep(client, sid: str, interval: float = 0.5) -> int:
    """Follow a daemon sweep until it is no longer active; exit 0 when every point completed."""
    from heyhi.wire.protocol import SweepStatus  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.sweep import summary_line  # lean: keeps the start-up of heyhi sweep from loading it

    last = None
    shown = progress(f"sweep {sid}", plain=False)  # on a terminal: a bar of the ended points
    try:
        with shown:
            while True:
                info = client.request(SweepStatus(sweep=sid)).sweeps[0]
                line = summary_line(info.counts) + (f" ({info.trials}/{info.budget} trials)" if info.kind == "adaptive" else "")
                ended = sum(info.counts.get(s, 0) for s in ("completed", "crashed", "lost"))
                shown.update(done=ended, total=info.budget if info.kind == "adaptive" and not info.total else info.total,
                             label=f"sweep {sid}: {info.counts.get('running', 0)} running")
                if line != last:
                    shown.note(f"heyhi: sweep {sid}: {line}")
                    last = line
                if not info.active:
                    shown.close()
                    for e in info.errors[-5:]:
                        _say(f"sweep {sid}: {e}")
                    bad = info.counts.get("crashed", 0) + info.counts.get("lost", 0)
                    return 1 if bad or info.errors else 0
                time.sleep(interval)
    except KeyboardInterrupt:
        _say(f"detached; sweep {sid} goes on in the daemon (heyhi sweep status {sid})")
        return 130


def run_embedded(sw, idx: list[int], states: list[str], opts: Options) -> int:
    """No daemon: run the points here, one after another in the foreground (logs shown), or up
    to --max-parallel at once as subprocesses (one line per point)."""
    from heyhi.runs import records as R  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.launchers import for_config  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.cli.embedded import check_task, follow_until_exit, stop_run  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.runs.sequence import Host, Plan  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.runs.sequence import launch as sequence_launch  # lean: keeps the start-up of heyhi sweep from loading it

    class _SweepHost(Host):  # the run's launcher starts it (``Host.start``)
        def before_write(self, folder, previous):
            from heyhi.runs.ownership import record_launch  # lean: keeps the start-up of heyhi sweep from loading it

            record_launch(folder)  # write-ahead: a daemon lists this run even if we are killed now

    project, comp = sw.project, sw.composer
    root = project.results_root
    par = max(1, opts.max_parallel or 1)
    points = sw.points
    total = len(idx)
    queue = list(idx)
    running: dict[int, tuple] = {}  # pid -> (n, point, proc, lock, t0)
    failed = 0
    done = 0
    checked = False
    # Points in parallel: a bar of the ended ones (their lines above it); one at a time, its logs show.
    shown = progress("running the sweep's points", total=total, plain=False) if par > 1 else None
    say = (lambda msg: shown.note(f"heyhi: {msg}")) if shown is not None else _say

    def start(n: int, i: int) -> None:
        nonlocal checked, failed
        p = points[i]
        composed = comp.compose(sw.spec.config, p.overrides)
        if not checked:
            check_task(project, composed)
            checked = True
        launcher = for_config(composed)
        if launcher.tracked_by_daemon:
            raise HeyHiError(f"{launcher.title} launches go through the daemon: drop --no-daemon")
        d = Path(p.dir)
        mode = "start_restart" if opts.retry_failed else "gentle_start"
        plan = Plan(project, composed, d, root, mode, trusted_roots=[root], yes=bool(opts.retry_failed),
                    checkpoint=opts.checkpoint, owner_pid=os.getpid())
        try:
            out = sequence_launch(plan, _SweepHost(), keep_lock=True)  # held until the point ends
        except FolderTaken:
            say(f"[{n}/{total}] skip: the folder is taken by another launch: {d}")
            return
        except (Refused, NothingStarted) as e:  # this point only: the others go on
            failed += 1
            say(f"[{n}/{total}] not run: {e}")
            return
        if not out.decision.run:
            say(f"[{n}/{total}] skip: {out.state}: {d}")
            return
        proc, lock = out.started, out.lock
        say(f"[{n}/{total}] run {p.describe()} ({d})")
        running[proc.pid] = (n, p, proc, lock, time.monotonic())

    def finished(pid: int, code: int) -> None:
        nonlocal failed, done
        n, p, proc, lock, t0 = running.pop(pid)
        proc.returncode = code
        lock.close()
        if shown is not None:
            shown.advance()
        st = R.RunDir(p.dir).read_status() or {}
        state = st.get("state", "lost")
        done += 1
        if state != R.COMPLETED:
            failed += 1
        extra = "" if state == R.COMPLETED else f": {st.get('reason', '')}"
        say(f"[{n}/{total}] {state} in {time.monotonic() - t0:.1f}s: {p.describe()}{extra}")

    n = 0
    if shown is not None:
        shown.start()
    try:
        while queue or running:
            while queue and len(running) < par:
                n += 1
                start(n, queue.pop(0))
                if par == 1 and running:
                    pid = next(iter(running))
                    code = follow_until_exit(running[pid][2], Path(running[pid][1].dir))
                    finished(pid, code)
            if running:
                pid, status = os.waitpid(-1, 0)
                if pid in running:
                    finished(pid, os.waitstatus_to_exitcode(status))
    except KeyboardInterrupt:
        if shown is not None:
            shown.close("interrupted")
        _say("interrupted: stopping the running points")
        for pid, (_, p, proc, lock, _) in list(running.items()):
            stop_run(Path(p.dir), R.RunDir(p.dir).read_status() or {"pid": pid})
            proc.wait()
            lock.close()
        return 130
    finally:
        if shown is not None:
            shown.close()
    from heyhi.sweep import count_states, plan_states, summary_line  # lean: keeps the start-up of heyhi sweep from loading it

    _say(f"sweep done: {summary_line(count_states(plan_states([p.dir for p in points])))}")
    return 1 if failed else 0


# ---- heyhi sweep ...------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    from heyhi.cli.exits import one_line_errors  # lean: keeps the start-up of heyhi sweep from loading it

    return one_line_errors(_sweep_command, argv)


def _sweep_command(argv: list[str]) -> int:
    cmd, rest = argv[0], argv[1:]
    if cmd == "report":
        return report_cmd(rest)
    if cmd == "best":
        return best_cmd(rest)
    if cmd in ("status", "list"):
        return status_cmd(rest, listing=cmd == "list")
    if cmd == "cancel":
        return cancel_cmd(rest)
    if cmd == "clean":
        return clean_main(rest)
    return file_cmd(argv)


_LAUNCH_FLAGS = {"--plan": "plan", "--retry-failed": "retry_failed", "--wait": "wait", "--no-daemon": "no_daemon",
                 "--print-out-dir": "print_out_dir"}
_VALUE_FLAGS = {"--max-parallel": "max_parallel", "--checkpoint": "checkpoint", "--project": "project",
                "--trials": "trials", "--metric": "metric", "--seeds": "seeds", "--sweep-seed": "sweep_seed",
                "--profile": "profile"}


def _parse(argv: list[str], allowed_values=("max_parallel", "checkpoint", "project")) -> tuple[Options, dict, list[str]]:
    opts = Options()
    vals: dict = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, v = a.partition("=")
        if a in _LAUNCH_FLAGS:
            setattr(opts, _LAUNCH_FLAGS[a], True)
        elif name in _VALUE_FLAGS and _VALUE_FLAGS[name] in allowed_values:
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"{name} needs a value")
                i += 1
                v = argv[i]
            dest = _VALUE_FLAGS[name]
            if dest == "max_parallel":
                from heyhi.sweep import positive_int  # lean: keeps the start-up of heyhi sweep from loading it

                opts.max_parallel = positive_int(v, "--max-parallel")
            elif dest in ("checkpoint", "project"):
                setattr(opts, dest, v)
            else:
                vals[dest] = v
        elif a.startswith("--") and "=" not in a and a not in ("--",):
            raise UsageError(f"unknown flag {a!r}\n{USAGE}")
        else:
            rest.append(a)
        i += 1
    return opts, vals, rest


def file_cmd(argv: list[str]) -> int:
    """``heyhi sweep FILE.yaml [overrides] [flags]``."""
    from heyhi.config.project import Project, script_project_root  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.sweep import Sweep, load_sweep_file, positive_int  # lean: keeps the start-up of heyhi sweep from loading it

    opts, vals, rest = _parse(argv, ("max_parallel", "checkpoint", "project", "trials", "profile"))
    if not rest:
        raise UsageError(USAGE)
    path, extra = Path(rest[0]), rest[1:]
    if not path.is_file():
        raise UsageError(f"no sweep file {rest[0]!r} (heyhi sweep FILE.yaml | report | best | status | list | cancel | clean)")
    try:
        project = Project.find(path, opts.project)
    except ConfigError:  # no conf/ above: a project of script tasks (pyproject.toml, .git)
        project = Project(script_project_root(path, opts.project))
    from heyhi.config.profiles import load_profiles  # lean: keeps the start-up of heyhi sweep from loading it

    extra = load_profiles(project.root, project.settings).expand(vals.get("profile")) + extra  # the command line wins
    spec = load_sweep_file(path, extra, project.root)
    if "trials" in vals:
        spec.trials = positive_int(vals["trials"], "--trials")
        if spec.kind == "grid":
            spec.kind = "random"
    if opts.max_parallel:
        spec.max_parallel = opts.max_parallel
    else:
        opts.max_parallel = spec.max_parallel
    project = Project.find(spec.config, opts.project)
    sw = Sweep(spec, project)
    sw.parse()
    sw.resolve()
    return launch(sw, opts, validated=False)


def _record_and_report(ref: str, metric: str | None, plots: bool):
    from heyhi.sweep.results import report  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.sweep import find_sweep  # lean: keeps the start-up of heyhi sweep from loading it

    d = find_sweep(ref)
    return report(d, metric, plots=plots)


def report_cmd(argv: list[str]) -> int:
    from heyhi.sweep.results import table_csv, table_text  # lean: keeps the start-up of heyhi sweep from loading it

    args = list(argv)
    fmt = "text"
    plots = True
    metric = None
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--csv":
            fmt = "csv"
        elif a == "--json":
            fmt = "json"
        elif a == "--no-plots":
            plots = False
        elif a.startswith("--metric"):
            if "=" in a:
                metric = a.split("=", 1)[1]
            elif i + 1 < len(args):
                metric = args[i + 1]
                i += 1
            else:
                raise UsageError("--metric needs a value")
        elif a.startswith("-"):
            raise UsageError(f"unknown flag {a!r}: heyhi sweep report SWEEP [--metric M] [--csv | --json] [--no-plots]")
        else:
            rest.append(a)
        i += 1
    if len(rest) != 1:
        raise UsageError("usage: heyhi sweep report SWEEP [--metric M] [--csv | --json] [--no-plots]")
    rep = _record_and_report(rest[0], metric, plots)
    if fmt == "json":
        print(json.dumps(rep.to_json(), indent=1))
        return 0
    if fmt == "csv":
        sys.stdout.write(table_csv(rep.rows, rep.metric, rep.keys))
        return 0
    from heyhi.sweep import summary_line  # lean: keeps the start-up of heyhi sweep from loading it

    how = {"last": "last value", "max": "best (max)", "min": "best (min)"}[rep.mode]
    print(f"sweep {rep.sweep_dir}")
    print(f"{summary_line(rep.counts)}; metric {rep.metric} ({how}), {rep.direction} is better; "
          f"grouped over {', '.join(_group_over(rep)) or 'nothing'}")
    print(table_text(rep.rows, rep.metric, rep.keys))
    b = rep.best
    if b is not None:
        print(f"best point: {rep.metric}={b.value:.6g}  {' '.join(f'{k}={v}' for k, v in b.params.items())}  ({b.dir})")
    c = rep.cost
    if c.get("runs"):
        print(f"cost: {c['gpu_hours']:.4g} GPU-hours, {c['cpu_hours']:.4g} CPU-hours "
              f"({c['runs']} point{'s' * (c['runs'] != 1)} with a Slurm cost record)")
    for p in rep.plots:
        print(f"plot: {p}")
    return 0


def _group_over(rep) -> list[str]:
    from heyhi.sweep import Record  # lean: keeps the start-up of heyhi sweep from loading it

    return Record(rep.sweep_dir).spec.group_over


def best_cmd(argv: list[str]) -> int:
    """Run the best group's config again with new seeds (a retrain sweep)."""
    from heyhi.config.project import Project  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.sweep import Record, Sweep, SweepSpec, find_sweep, parse_metric  # lean: keeps the start-up of heyhi sweep from loading it

    opts, vals, rest = _parse(argv, ("max_parallel", "checkpoint", "project", "seeds", "metric"))
    if len(rest) != 1 or "seeds" not in vals:
        raise UsageError("usage: heyhi sweep best SWEEP --seeds 0,1,2,3,4 [--metric M] [--plan] [--wait] [--no-daemon]")
    seeds = [s.strip() for s in vals["seeds"].split(",") if s.strip()]
    if not seeds:
        raise UsageError("--seeds: give seeds, comma-separated (0,1,2)")
    d = find_sweep(rest[0])
    rec = Record(d)
    from heyhi.sweep.results import report  # lean: keeps the start-up of heyhi sweep from loading it

    rep = report(d, vals.get("metric"), plots=False)
    rows = [r for r in rep.rows if r.n]
    if not rows:
        raise HeyHiError(f"sweep {rec.id}: no completed point has the metric {rep.metric!r} yet")
    best = rows[0]
    seed_key = rec.spec.group_over[0] if rec.spec.group_over else "seed"
    tokens = [o for o in best.overrides if o.split("=", 1)[0] != seed_key] + [f"{seed_key}=[{','.join(seeds)}]"]
    name, mode, direction = parse_metric(vals["metric"]) if vals.get("metric") else \
        (rec.spec.metric or rep.metric, rec.spec.metric_mode, rec.spec.direction)
    spec = SweepSpec(config=rec.spec.config, tokens=tokens, metric=name, metric_mode=mode, direction=direction,
                     max_parallel=opts.max_parallel or rec.spec.max_parallel, group_over=rec.spec.group_over)
    _say(f"best of sweep {rec.id}: {rep.metric} mean {best.mean:.6g} over {best.n} "
         f"({' '.join(f'{k}={v}' for k, v in best.params.items()) or 'the base config'}); seeds {', '.join(seeds)}")
    project = Project(rec.project_root)
    sw = Sweep(spec, project)
    sw.parse()
    sw.resolve()
    opts.max_parallel = spec.max_parallel
    return launch(sw, opts, validated=False)


def status_cmd(argv: list[str], listing: bool = False) -> int:
    from heyhi.wire.client import connect_or_none  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.sweep import find_sweep, summary_line  # lean: keeps the start-up of heyhi sweep from loading it

    as_json = "--json" in argv
    refs = [a for a in argv if not a.startswith("--")]
    client = connect_or_none()
    infos = []
    if client is not None:
        from heyhi.wire.protocol import SweepStatus, to_wire  # lean: keeps the start-up of heyhi sweep from loading it

        with client:
            infos = [to_wire(i) for i in client.request(SweepStatus(sweep=refs[0] if refs else None,
                                                                    rows=bool(refs) and not listing)).sweeps]
    if not infos:
        infos = [_local_info(d) for d in ([find_sweep(refs[0])] if refs else _all_local())]
    if as_json:
        print(json.dumps({"sweeps": infos}, indent=1, default=str))
        return 0
    if not infos:
        print("no sweeps")
        return 0
    from heyhi.sweep import sweep_state  # lean: keeps the start-up of heyhi sweep from loading it

    for i in infos:
        act = sweep_state(bool(i.get("active")), i.get("counts") or {}, i.get("kind", "grid"), i.get("trials") or 0,
                          i.get("budget"))
        trials = f", {i['trials']}/{i['budget']} trials" if i.get("kind") == "adaptive" else ""
        print(f"{i['sweep_id']}  {i['kind']:<8} {act:<7} {summary_line(i['counts'])}{trials}  {i['sweep_dir']}")
        b = i.get("best")
        if b and b.get("value") is not None:
            print(f"            best {i.get('metric')}={b['value']:.6g}  {' '.join(f'{k}={v}' for k, v in (b.get('params') or {}).items())}")
        for e in i.get("errors") or []:
            print(f"            error: {e}")
    return 0


def _all_local() -> list[Path]:
    from heyhi.config.project import Project  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.sweep import all_sweeps  # lean: keeps the start-up of heyhi sweep from loading it

    try:
        root = Project.find(None).results_root
    except HeyHiError:
        root = Path(os.environ["HH_EXP_DIR"]) if os.environ.get("HH_EXP_DIR") else None
    return all_sweeps(root) if root else []


def _local_info(d: Path) -> dict:
    """A SweepStatus-like summary read from the folders (no daemon)."""
    from heyhi.sweep.results import report  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.sweep import Record  # lean: keeps the start-up of heyhi sweep from loading it

    rec = Record(d)
    rep = report(d, plots=False)
    b = rep.best
    return {"sweep_id": rec.id, "sweep_dir": str(d), "config": str(rec.spec.config), "kind": rec.spec.kind,
            "metric": rep.metric, "direction": rep.direction, "total": sum(rep.counts.values()), "counts": rep.counts,
            "active": False, "budget": rec.spec.trials, "trials": len({p.trial for p in rec.points() if p.trial is not None}),
            "best": None if b is None else {"run_dir": b.dir, "value": b.value, "params": b.params},
            "rows": [r.to_json() for r in rep.rows], "errors": []}


def cancel_cmd(argv: list[str]) -> int:
    from heyhi.wire.client import connect_or_none  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.wire.protocol import CancelSweep  # lean: keeps the start-up of heyhi sweep from loading it

    if len(argv) != 1:
        raise UsageError("usage: heyhi sweep cancel SWEEP")
    client = connect_or_none()
    if client is None:
        raise HeyHiError("no heyhi daemon is running: nothing launches the sweep")
    ref = argv[0]
    p = Path(ref)
    if (p / "sweep.json").is_file():
        ref = str(p.absolute())
    with client:
        print(f"heyhi: {client.request(CancelSweep(sweep=ref)).detail}")
    return 0


# ---- lost runs ------------------------------------------------------------------------------------


def clean_main(argv: list[str], client=None, as_json: bool = False) -> int:
    """``heyhi ctl clean [--sweep SWEEP] [--yes]`` / ``heyhi sweep clean [SWEEP] [--yes]``: list the
    lost runs (stopped without a final record) and, confirmed, wipe them so they run again."""
    from heyhi.config.project import Project  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.sweep import find_sweep, lost_runs  # lean: keeps the start-up of heyhi sweep from loading it

    yes = "--yes" in argv or "-y" in argv
    refs = [a for a in argv if a not in ("--yes", "-y", "--sweep")]
    unknown = [a for a in refs if a.startswith("-")]
    if unknown or len(refs) > 1:
        raise UsageError("usage: heyhi ctl clean [--sweep SWEEP] [--yes]")
    try:
        root = Project.find(None).results_root
    except HeyHiError:
        if not os.environ.get("HH_EXP_DIR"):
            raise HeyHiError("no project here and no HH_EXP_DIR: run it inside a project") from None
        root = Path(os.environ["HH_EXP_DIR"]).absolute()
    sweep_dir = find_sweep(refs[0], root) if refs else None
    lost = lost_runs(root, sweep_dir)
    if as_json:
        print(json.dumps({"lost": [str(d) for d in lost]}))
    else:
        for d in lost:
            print(f"lost  {d}")
    where = f"sweep {sweep_dir.name}" if sweep_dir else str(root)
    if not lost:
        _say(f"no lost runs in {where}")
        return 0
    if not yes:
        if not sys.stdin.isatty():
            _say(f"{len(lost)} lost runs in {where}: pass --yes to wipe them")
            return 2
        if input(f"Wipe {len(lost)} lost runs? [y/N] ").strip().lower() not in ("y", "yes"):
            _say("not wiped")
            return 1
    from heyhi.runs import records as R  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.runs.sequence import roots_for, run_lock  # lean: keeps the start-up of heyhi sweep from loading it
    from heyhi.runs.sequence import wipe as wipe_run  # lean: keeps the start-up of heyhi sweep from loading it

    wiped = 0
    for d in lost:
        if client is not None:
            from heyhi.wire.protocol import DaemonError, Wipe  # lean: keeps the start-up of heyhi sweep from loading it

            try:
                client.request(Wipe(job=str(d), confirm_job=str(d), expect_state=R.LOST))
                wiped += 1
            except DaemonError as e:
                _say(f"not wiped: {e.message}")
            continue
        try:
            with run_lock(d, root, roots_for([root])):  # re-checked under the lock: only a run still lost is wiped
                state, _ = R.RunDir(d).state()
                if state != R.LOST:
                    _say(f"not wiped: {d} is {state} now")
                    continue
                wipe_run(d, [root])
                wiped += 1
        except HeyHiError as e:
            _say(f"not wiped: {e}")
    _say(f"wiped {wiped} lost runs to the trash: the next launch runs them again (heyhi ctl trash)")
    return 0 if wiped == len(lost) else 1
