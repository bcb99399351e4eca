"""``heyhi compare RUN|SWEEP...``: runs side by side, grouped over the repeat axis.

Each argument is a run folder, a job id (or unique prefix), or a sweep (its folder, its file, its
id or part of its name: every point of it). For each run: the overrides that differ between the
runs (and the config, when those differ), its state, its runtime, and the final (last logged) and
best value of the metric. Runs that differ only in the repeat axes (``seed``, or ``--group-over
KEYS``; ``--group-over none`` groups nothing) make one row with the mean, the sample standard
deviation and the count of its completed runs' values, as ``heyhi sweep report`` groups a sweep's
points (``heyhi.sweep.results``: the same grouping, the same plots with ``--plots DIR``).

The metric: ``--metric NAME[:max|:min]`` (as the sweep report's), else the sweeps' own, else
``loss`` when logged, else the first one logged. Rows come best mean first; ``--sort KEY``
(``-KEY``: descending) sorts by a column: a swept key, ``mean``, ``std``, ``n``, ``best``,
``runtime`` or ``state``. ``--csv`` and ``--json`` print the same data for programs.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from heyhi.cli.ctl import option_value
from heyhi.errors import HeyHiError, UsageError

USAGE = """usage: heyhi compare RUN|SWEEP... [--metric NAME[:max|:min]] [--group-over KEYS|none] [--sort [-]KEY]
                     [--csv | --json] [--plots DIR]
RUN is a run folder, a job id or a unique id prefix; SWEEP a sweep folder, file, id or part of its name.
Rows group runs that differ only in --group-over (default: seed) with mean, std and n; --sort KEY
sorts by a column (a swept key, mean, std, n, best, runtime, state; -KEY descending)."""

SORT_COLUMNS = ("mean", "std", "n", "best", "runtime", "state")
MAX_RUNS = 10_000  # runs compared at once


@dataclass
class RunInfo:
    """One run as compared: its folder, config, overrides, state, runtime and metric values."""

    dir: str
    config: str
    overrides: list[str]
    state: str
    runtime: float | None
    final: float | None = None
    best: float | None = None
    origin: str = ""  # the sweep it came from, if any

    def to_json(self, params: dict) -> dict:
        return {"run_dir": self.dir, "config": self.config, "overrides": self.overrides, "params": params,
                "state": self.state, "runtime_s": self.runtime, "final": self.final, "best": self.best,
                "sweep": self.origin or None}


@dataclass
class Options:
    refs: list[str] = field(default_factory=list)
    metric: str | None = None
    group_over: list[str] | None = None
    sort: str | None = None
    fmt: str = "text"
    plots: str | None = None


def main(argv: list[str]) -> int:
    from heyhi.cli.exits import one_line_errors  # lean: keeps the start-up of heyhi from loading it

    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    return one_line_errors(_compare, argv)


def _parse(argv: list[str]) -> Options:
    o = Options()
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, val = a.partition("=")
        if a in ("--csv", "--json"):
            if o.fmt != "text" and o.fmt != a[2:]:
                raise UsageError("--csv and --json: give one")
            o.fmt = a[2:]
        elif name in ("--metric", "--group-over", "--sort", "--plots"):
            val, i = option_value(argv, i, name, eq, val)
            if name == "--metric":
                o.metric = val
            elif name == "--group-over":
                o.group_over = [] if val.strip().lower() in ("", "none") else [k.strip() for k in val.split(",") if k.strip()]
            elif name == "--sort":
                o.sort = val.strip()
            else:
                o.plots = val
        elif a.startswith("-") and len(a) > 1:
            raise UsageError(f"compare: unknown flag {a!r} (heyhi compare --help lists them)")
        else:
            o.refs.append(a)
        i += 1
    if not o.refs:
        raise UsageError("compare: name runs or sweeps to compare (heyhi compare --help)")
    return o


# ---- what to compare -------------------------------------------------------------------------------


def _expand(refs: list[str]) -> tuple[list[tuple[str, str]], list]:
    """(run folder, sweep id or "") for every run the references name, in order, each once; and
    the sweep records among them."""
    import os  # lean: keeps the start-up of heyhi compare from loading it
    from heyhi.cli.ctl import resolve_run  # lean: keeps the start-up of heyhi compare from loading it
    from heyhi.runs import records as R  # lean: keeps the start-up of heyhi compare from loading it
    from heyhi.sweep import Record, find_sweep  # lean: keeps the start-up of heyhi compare from loading it
    from heyhi.sweep.spec import SPEC_FILE  # lean: keeps the start-up of heyhi compare from loading it

    runs: dict[str, str] = {}
    sweeps = []
    for ref in refs:
        p = Path(ref).expanduser()
        sweep_dir = None
        if (p / SPEC_FILE).is_file() or (p.is_file() and p.suffix in (".yaml", ".yml")):
            sweep_dir = find_sweep(ref)
        elif not (p.is_dir() and any((p / f).is_file() for f in (R.STATUS, R.CONFIG_META))):
            try:
                runs.setdefault(resolve_run(ref), "")
                continue
            except HeyHiError as e:
                try:
                    sweep_dir = find_sweep(ref)
                except HeyHiError:
                    raise UsageError(f"{ref}: not a run or a sweep ({e})") from None
        if sweep_dir is None:
            runs.setdefault(os.path.abspath(p), "")
            continue
        rec = Record(sweep_dir)
        sweeps.append(rec)
        for pt in rec.points():
            runs.setdefault(pt.dir, rec.id)
        if len(runs) > MAX_RUNS:
            raise UsageError(f"more than {MAX_RUNS} runs to compare: name fewer")
    return list(runs.items()), sweeps


def _run_info(d: str, origin: str) -> RunInfo:
    from heyhi.runs import records as R  # lean: keeps the start-up of heyhi compare from loading it

    rd = R.RunDir(d)
    state, st = rd.state()
    info = rd.read_run()
    ovs = info.get("overrides")
    if ovs is None:
        try:
            ovs = [x for x in (Path(d) / R.OVERRIDES).read_text().splitlines()[:1000] if x]
        except OSError:
            ovs = []
    started, ended = st.get("started"), st.get("ended") if state in R.FINAL_STATES else None
    runtime = None
    if isinstance(started, (int, float)):
        runtime = max(0.0, (ended if isinstance(ended, (int, float)) else time.time()) - started)
    config = str(info.get("config") or "").rsplit("/conf/", 1)[-1]
    return RunInfo(dir=d, config=config, overrides=list(ovs), state=str(state), runtime=runtime, origin=origin)


def _params(runs: list[RunInfo]) -> tuple[list[dict], list[str]]:
    """Each run's values of the keys that differ between the runs (its overrides, and ``config``
    when the configs differ), and those keys in order of first appearance."""
    per = []
    keys: list[str] = []
    for r in runs:
        d = {}
        for o in r.overrides:
            k, eq, v = o.partition("=")
            if eq:
                d[k.lstrip("-")] = v
        d["config"] = r.config
        per.append(d)
        for k in d:
            if k not in keys:
                keys.append(k)
    differ = [k for k in keys if len({p.get(k) for p in per}) > 1]
    return [{k: p[k] for k in differ if k in p} for p in per], differ


# ---- the comparison -----------------------------------------------------------------------------------


def compare(refs: list[str], metric: str | None = None, group_over: list[str] | None = None,
            sort: str | None = None) -> dict:
    """The comparison as plain data (what ``--json`` prints): runs, groups and the metric."""
    from heyhi.sweep import parse_metric  # lean: keeps the start-up of heyhi compare from loading it
    from heyhi.sweep import results as res  # lean: keeps the start-up of heyhi compare from loading it

    found, sweeps = _expand(refs)
    runs = [_run_info(d, origin) for d, origin in found]
    if metric is None:
        named = {r.spec.metric for r in sweeps if r.spec.metric}
        if len(named) == 1 and len(sweeps) == len({r.origin for r in runs}):
            metric = next(iter(named))
    if group_over is None:
        overs = {tuple(r.spec.group_over) for r in sweeps}
        group_over = list(next(iter(overs))) if len(overs) == 1 else ["seed"]
    if not metric:
        names = res.metric_names([r.dir for r in runs if r.state == "completed"] or [r.dir for r in runs])
        metric = "loss" if "loss" in names or not names else names[0]
    name, mode, direction = parse_metric(metric)
    for r in runs:
        recs = res.read_metrics(r.dir)
        r.final = res.metric_value(r.dir, name, "last", recs)
        r.best = res.metric_value(r.dir, name, direction, recs)
    params, keys = _params(runs)
    points = [res.PointResult(r.dir, r.state, p, r.overrides,
                              (r.final if mode == "last" else r.best) if r.state == "completed" else None)
              for r, p in zip(runs, params)]
    rows = res.group(points, group_over, direction)
    by_dir = {r.dir: r for r in runs}
    groups = []
    for row in rows:
        members = [by_dir[d] for d in row.dirs]
        bests = [m.best for m in members if m.state == "completed" and m.best is not None]
        times = [m.runtime for m in members if m.runtime is not None]
        groups.append({**row.to_json(), "best_mean": sum(bests) / len(bests) if bests else None,
                       "runtime_s": sum(times) / len(times) if times else None})
    shown_keys = res.param_keys(points, group_over)
    if sort:
        groups = _sorted(groups, sort, shown_keys, name)
    return {"metric": name, "mode": mode, "direction": direction, "group_over": group_over, "keys": shown_keys,
            "groups": groups, "runs": [r.to_json(p) for r, p in zip(runs, params)], "_rows": rows, "_points": points}


def _sorted(groups: list[dict], sort: str, keys: list[str], metric: str) -> list[dict]:
    desc = sort.startswith("-")
    key = sort.lstrip("-+")
    col = {"mean": "mean", metric: "mean", "std": "std", "n": "n", "best": "best_mean", "runtime": "runtime_s",
           "state": "states"}.get(key)
    if col is None and key not in keys:
        raise UsageError(f"--sort {sort}: expected one of {', '.join([*keys, *SORT_COLUMNS])} (-KEY: descending)")

    def value(g: dict):
        v = _state_text(g["states"]) if col == "states" else g.get(col) if col else g["params"].get(key)
        if v is None:
            return (1, 0, "")
        try:
            return (0, float(v), "")
        except (TypeError, ValueError):
            return (0, 0, str(v))

    present = [g for g in groups if value(g)[0] == 0]
    missing = [g for g in groups if value(g)[0] == 1]
    return sorted(present, key=value, reverse=desc) + missing  # no value: last either way


# ---- output ---------------------------------------------------------------------------------------------


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return "0" if x == 0 else f"{x:.4g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.3e}"
    return str(x)


def _dur(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(s)
    return f"{s}s" if s < 60 else f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _state_text(states: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(states.items()))


def text_table(data: dict) -> str:
    m = data["metric"]
    head = ["#", *data["keys"], f"{m} mean", "std", "n", f"{m} best", "runtime", "state"]
    body = [[str(i), *(g["params"].get(k, "") for k in data["keys"]), _fmt(g["mean"]), _fmt(g["std"]), str(g["n"]),
             _fmt(g["best_mean"]), _dur(g["runtime_s"]), _state_text(g["states"])]
            for i, g in enumerate(data["groups"], 1)]
    widths = [max([len(h)] + [len(b[j]) for b in body]) for j, h in enumerate(head)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *body])


def csv_table(data: dict) -> str:
    import csv  # lean: only --csv needs it
    import io  # lean: only --csv needs it

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    m = data["metric"]
    w.writerow([*data["keys"], f"{m}_mean", f"{m}_std", "n", f"{m}_best_mean", "runtime_s", "states", "run_dirs"])
    for g in data["groups"]:
        w.writerow([*(g["params"].get(k, "") for k in data["keys"]), "" if g["mean"] is None else repr(g["mean"]),
                    "" if g["std"] is None else repr(g["std"]), g["n"],
                    "" if g["best_mean"] is None else repr(g["best_mean"]),
                    "" if g["runtime_s"] is None else f"{g['runtime_s']:.3f}", _state_text(g["states"]),
                    ";".join(g["run_dirs"])])
    return buf.getvalue()


def _compare(argv: list[str]) -> int:
    o = _parse(argv)
    data = compare(o.refs, o.metric, o.group_over, o.sort)
    rows, points = data.pop("_rows"), data.pop("_points")
    data["plots"] = []
    if o.plots:
        from heyhi.perms import make_dir  # lean: only --plots needs it
        from heyhi.sweep import results as res  # lean: keeps the start-up of heyhi compare from loading it

        out = Path(o.plots).expanduser().absolute()
        make_dir(out)
        p = res.plot_curves(out, rows, data["metric"])
        data["plots"] = ([str(p)] if p else []) + [str(x) for x in res.plot_params(out, points, data["metric"], data["keys"])]
    if o.fmt == "json":
        print(json.dumps(data, indent=1, default=str))
        return 0
    if o.fmt == "csv":
        sys.stdout.write(csv_table(data))
        return 0
    how = {"last": "final value", "max": "best (max)", "min": "best (min)"}[data["mode"]]
    n_runs = len(data["runs"])
    print(f"{n_runs} run{'s' if n_runs != 1 else ''}; metric {data['metric']} ({how}; {data['direction']} is better); "
          f"grouped over {', '.join(data['group_over']) or 'nothing'}")
    print(text_table(data))
    for p in data["plots"]:
        print(f"plot: {p}")
    return 0
