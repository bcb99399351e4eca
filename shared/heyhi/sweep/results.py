"""Sweep results: metrics from each point's ``metrics.jsonl``, groups over seeds, tables, plots.

A point's metric is the last value it logged for the name, or its best (``max``/``min`` mode).
Points are grouped by their swept values minus the repeat axes (``seed``): each group has the
mean, the sample standard deviation (n - 1; 0 for one value) and the count of its completed
points' metrics, best first. ``report`` writes PNG plots into the sweep folder: the learning
curves of each group (mean, and a 95% confidence band over its seeds: mean +- 1.96 s.e.m.) and
the metric against each swept hyperparameter.
"""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from heyhi.runs import records as R
from heyhi.sweep import Record, parse_metric, plan_states, count_states

MAX_CURVES = 10


# ---- metrics -------------------------------------------------------------------------------------


MAX_METRIC_LINE = 64 << 10  # bytes: a longer line of metrics.jsonl is skipped unread
MAX_METRIC_RECORDS = 200_000  # records kept: a longer file is thinned evenly, its last record kept


def read_metrics(run_dir: Path | str) -> list[dict]:
    """The records of ``metrics.jsonl`` (lines that do not parse are skipped: a torn last line).

    Bounded whatever the file: a line over ``MAX_METRIC_LINE`` bytes is skipped without being held
    whole, and past ``2 * MAX_METRIC_RECORDS`` records every other one kept is dropped (and only
    every 2nd, 4th... record after that is kept), so a week of logging reads as an evenly thinned
    curve; the file's last record is always kept (a metric's "last" value stays exact)."""
    out: list[dict] = []
    last: dict | None = None
    step, seen = 1, 0
    try:
        with open(Path(run_dir) / R.METRICS, "rb") as fh:
            while True:
                line = fh.readline(MAX_METRIC_LINE + 1)
                if not line:
                    break
                if len(line) > MAX_METRIC_LINE and not line.endswith(b"\n"):
                    while line and not line.endswith(b"\n"):  # the rest of an over-long line
                        line = fh.readline(MAX_METRIC_LINE + 1)
                    continue
                rec = R.metric_record(line)
                if rec is None:
                    continue
                last = rec
                seen += 1
                if (seen - 1) % step:
                    continue
                out.append(rec)
                if len(out) >= 2 * MAX_METRIC_RECORDS:
                    out, step = out[::2], step * 2
    except OSError:
        pass
    if last is not None and (not out or out[-1] is not last):
        out.append(last)
    return out


def _num(x) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def metric_value(run_dir: Path | str, name: str, mode: str = "last", recs: list[dict] | None = None) -> float | None:
    """The run's value of ``name``: its last logged value, or its max / min; None if never logged."""
    vals = [v for v in (_num(r.get(name)) for r in (read_metrics(run_dir) if recs is None else recs)) if v is not None]
    if not vals:
        return None
    if mode == "max":
        return max(vals)
    if mode == "min":
        return min(vals)
    return vals[-1]


def series(run_dir: Path | str, name: str, recs: list[dict] | None = None) -> dict[float, float]:
    """step -> value of ``name`` (a step logged twice: the last value)."""
    out: dict[float, float] = {}
    for r in read_metrics(run_dir) if recs is None else recs:
        v = _num(r.get(name))
        s = _num(r.get("step"))
        if v is not None and s is not None:
            out[s] = v
    return out


def metric_names(run_dirs: Sequence[str]) -> list[str]:
    names: list[str] = []
    for d in run_dirs:
        for r in read_metrics(d)[:3]:
            for k, v in r.items():
                if k not in ("step", "time") and _num(v) is not None and k not in names:
                    names.append(k)
        if names:
            break
    return names


def unlogged_metric(run_dirs: Sequence[str], name: str) -> str | None:
    """The one line saying that no run of ``run_dirs`` (runs that ended) logged the metric ``name``,
    naming the metrics they do log; None when one of them logged it (or there is none)."""
    logged: set[str] = set()
    for d in run_dirs:
        for r in read_metrics(d):
            if _num(r.get(name)) is not None:
                return None
            logged.update(k for k, v in r.items() if k not in ("step", "time") and _num(v) is not None)
    if not run_dirs:
        return None
    from heyhi.config.suggest import closest  # lean: only this line needs it

    near = closest(name, sorted(logged), 1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return (f"metric {name!r}: no run logs it (runs log: {', '.join(sorted(logged)) or 'no metrics'}){hint}; "
            f"the search stopped")


# ---- grouping ------------------------------------------------------------------------------------


@dataclass
class PointResult:
    dir: str
    state: str  # plan state: new, running, completed, crashed, lost
    params: dict[str, str]
    overrides: list[str]
    value: float | None = None


@dataclass
class Row:
    params: dict[str, str]  # the swept values that define the group (repeat axes left out)
    overrides: list[str]  # a point's overrides without the repeat axes (to run the config again)
    dirs: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        if not self.values:
            return None
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def to_json(self) -> dict:
        return {"params": self.params, "mean": self.mean, "std": self.std, "n": self.n, "values": self.values,
                "points": len(self.dirs), "states": self.states, "run_dirs": self.dirs, "overrides": self.overrides}


def collect(points, states: Sequence[str], metric: str, mode: str) -> list[PointResult]:
    out = []
    for p, st in zip(points, states):
        v = metric_value(p.dir, metric, mode) if st == "completed" and metric else None
        out.append(PointResult(p.dir, st, p.params, p.overrides, v))
    return out


def param_keys(results: Sequence[PointResult], group_over: Sequence[str]) -> list[str]:
    keys: list[str] = []
    for r in results:
        for k in r.params:
            if k not in keys and k not in group_over:
                keys.append(k)
    return keys


def group(results: Sequence[PointResult], group_over: Sequence[str], direction: str) -> list[Row]:
    """Rows of points that differ only in the repeat axes, best mean first (no value: last)."""
    keys = param_keys(results, group_over)
    rows: dict[tuple, Row] = {}
    for r in results:
        gk = tuple(r.params.get(k) for k in keys)
        row = rows.get(gk)
        if row is None:
            ovs = [o for o in r.overrides if o.split("=", 1)[0].lstrip("-") not in group_over]
            row = rows[gk] = Row({k: v for k, v in zip(keys, gk) if v is not None}, ovs)
        row.dirs.append(r.dir)
        row.states[r.state] = row.states.get(r.state, 0) + 1
        if r.value is not None:
            row.values.append(r.value)
    sign = -1.0 if direction == "max" else 1.0
    return sorted(rows.values(), key=lambda w: (w.mean is None, sign * w.mean if w.mean is not None else 0.0))


def best_point(results: Sequence[PointResult], direction: str) -> PointResult | None:
    done = [r for r in results if r.value is not None]
    if not done:
        return None
    return (max if direction == "max" else min)(done, key=lambda r: r.value)


# ---- tables ----------------------------------------------------------------------------------------


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    a = abs(x)
    return f"{x:.4g}" if 1e-3 <= a < 1e5 else f"{x:.3e}"


def table_text(rows: Sequence[Row], metric: str, keys: Sequence[str]) -> str:
    head = ["#", *keys, f"{metric} mean", "std", "n", "points"]
    body = []
    for i, r in enumerate(rows, 1):
        st = ", ".join(f"{n} {s}" for s, n in sorted(r.states.items()) if s != "completed")
        body.append([str(i), *(r.params.get(k, "") for k in keys), _fmt(r.mean), _fmt(r.std), str(r.n),
                     f"{len(r.dirs)}" + (f" ({st})" if st else "")])
    widths = [max(len(h), *(len(b[j]) for b in body)) if body else len(h) for j, h in enumerate(head)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)).rstrip() for b in body]
    return "\n".join(lines)


def table_csv(rows: Sequence[Row], metric: str, keys: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*keys, f"{metric}_mean", f"{metric}_std", "n", "points", "run_dirs"])
    for r in rows:
        w.writerow([*(r.params.get(k, "") for k in keys), "" if r.mean is None else repr(r.mean),
                    "" if r.std is None else repr(r.std), r.n, len(r.dirs), ";".join(r.dirs)])
    return buf.getvalue()


# ---- plots -------------------------------------------------------------------------------------------


def _plt():
    import matplotlib  # lean: matplotlib loads only when this runs

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # lean: matplotlib loads only when this runs

    return plt


def _label(params: dict[str, str], limit: int = 60) -> str:
    s = " ".join(f"{k}={v}" for k, v in params.items()) or "all points"
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "x"


def plot_curves(out: Path, rows: Sequence[Row], metric: str, top: int = MAX_CURVES) -> Path | None:
    """Learning curves: per group, the mean over its runs at each step, with a 95% band."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=100)
    drawn = 0
    for row in [r for r in rows if r.n][:top]:
        per_run = [series(d, metric) for d in row.dirs]
        per_run = [s for s in per_run if s]
        if not per_run:
            continue
        steps = sorted(set().union(*per_run))
        mean, lo, hi = [], [], []
        for st in steps:
            vals = [s[st] for s in per_run if st in s]
            m = statistics.fmean(vals)
            half = 1.96 * statistics.stdev(vals) / math.sqrt(len(vals)) if len(vals) > 1 else 0.0
            mean.append(m)
            lo.append(m - half)
            hi.append(m + half)
        (line,) = ax.plot(steps, mean, label=f"{_label(row.params)} (n={len(per_run)})")
        ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}: mean per group, 95% band over seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    path = Path(out) / f"curves_{_safe(metric)}.png"
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_params(out: Path, results: Sequence[PointResult], metric: str, keys: Sequence[str],
                log_keys: Sequence[str] = ()) -> list[Path]:
    """The final metric of every point against each swept hyperparameter (one PNG per key)."""
    plt = _plt()
    done = [r for r in results if r.value is not None]
    paths = []
    for key in keys:
        pts = [(r.params[key], r.value) for r in done if key in r.params]
        if not pts:
            continue
        try:
            xs = [float(x) for x, _ in pts]
            numeric = True
        except ValueError:
            numeric = False
        fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
        if numeric:
            ys = [y for _, y in pts]
            ax.scatter(xs, ys, alpha=0.6, s=24, label="points")
            means: dict[float, list[float]] = {}
            for x, y in zip(xs, ys):
                means.setdefault(x, []).append(y)
            mx = sorted(means)
            ax.plot(mx, [statistics.fmean(means[x]) for x in mx], color="black", linewidth=1, label="mean")
            pos = [x for x in xs if x > 0]
            if key in log_keys or (len(pos) == len(xs) and min(pos) > 0 and max(pos) / min(pos) >= 100):
                ax.set_xscale("log")
        else:
            cats: list[str] = []
            for x, _ in pts:
                if x not in cats:
                    cats.append(x)
            idx = {c: i for i, c in enumerate(cats)}
            ax.scatter([idx[x] for x, _ in pts], [y for _, y in pts], alpha=0.6, s=24, label="points")
            ax.plot(range(len(cats)), [statistics.fmean([y for x, y in pts if x == c]) for c in cats],
                    color="black", linewidth=1, marker="_", label="mean")
            ax.set_xticks(range(len(cats)))
            ax.set_xticklabels([c if len(c) <= 20 else c[:17] + "..." for c in cats], rotation=30, ha="right")
        ax.set_xlabel(key)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} against {key} ({len(pts)} points)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        path = Path(out) / f"{_safe(metric)}_vs_{_safe(key)}.png"
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


# ---- a sweep's report -------------------------------------------------------------------------------


@dataclass
class Report:
    sweep_dir: Path
    metric: str
    mode: str
    direction: str
    keys: list[str]
    results: list[PointResult]
    rows: list[Row]
    counts: dict[str, int]
    plots: list[Path] = field(default_factory=list)
    #: what the points' Slurm jobs cost, summed (``heyhi.slurm.cost.total``: runs, cpu_hours, gpu_hours)
    cost: dict = field(default_factory=dict)

    @property
    def best(self) -> PointResult | None:
        return best_point(self.results, self.direction)

    def to_json(self) -> dict:
        b = self.best
        return {"sweep_dir": str(self.sweep_dir), "metric": self.metric, "mode": self.mode,
                "direction": self.direction, "counts": self.counts, "keys": self.keys,
                "rows": [r.to_json() for r in self.rows],
                "best": None if b is None else {"run_dir": b.dir, "value": b.value, "params": b.params,
                                                "overrides": b.overrides},
                "plots": [str(p) for p in self.plots], "cost": self.cost}


def report(sweep_dir: Path | str, metric: str | None = None, *, plots: bool = True, states=None) -> Report:
    """Read a sweep's points and metrics; group, rank; write the plots into the sweep folder."""
    rec = Record(sweep_dir)
    spec = rec.spec
    if metric:
        name, mode, direction = parse_metric(metric)
    else:
        name, mode, direction = spec.metric, spec.metric_mode, spec.direction
    points = rec.points()
    if states is None:
        states = plan_states([p.dir for p in points])
    if not name:
        names = metric_names([p.dir for p, s in zip(points, states) if s == "completed"])
        name = "loss" if "loss" in names else (names[0] if names else "loss")
        name, mode, direction = parse_metric(name)

    results = collect(points, states, name, mode)
    rows = group(results, spec.group_over, direction)
    keys = param_keys(results, spec.group_over)
    rep = Report(Path(sweep_dir), name, mode, direction, keys, results, rows, count_states(states))
    from heyhi.slurm.cost import read_cost, total  # lean: only the report reads the points' costs

    rep.cost = total(c for c in (read_cost(p.dir) for p in points) if c is not None)
    if plots:
        log_keys = [a.key for a in rec.layout.axes if a.kind == "loguniform"]
        p = plot_curves(Path(sweep_dir), rows, name)
        if p:
            rep.plots.append(p)
        rep.plots.extend(plot_params(Path(sweep_dir), results, name, keys, log_keys))
    return rep


def summary(rep: Report) -> dict[str, Any]:
    """What SweepStatus carries: counts, the best point, the rows (plain data)."""
    return rep.to_json()
