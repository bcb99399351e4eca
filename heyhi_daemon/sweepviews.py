"""What the daemon tells a client of sweeps beyond their status: a sweep planned from an editor's
overrides (``PlanSweep``) and a sweep's points and report (``SweepReport``).

Promises:
- one implementation: a plan is the core's (``heyhi.sweep.Sweep``: parse, resolve with the schema,
  validate, expand; each point's state from the daemon's jobs, else its folder), the same points and
  states ``heyhi run ... --plan`` prints; a report is ``heyhi.sweep.report`` (the table of
  ``heyhi sweep report``; its charts as data, no PNG written) and ``sweep best``'s overrides;
- it works over ``--remote``: every file is read here, in a worker thread, never by the client;
- bounded: a sweep of more than ``MAX_EXPAND`` points is refused before it is expanded; an answer
  carries at most ``MAX_PLAN_POINTS`` points, ``MAX_ROWS`` report rows, ``MAX_CURVES`` curves of
  ``MAX_CURVE_STEPS`` steps and ``MAX_KEY_VALUES`` values per swept key;
- a plan writes nothing unless asked (``record``), and then only the sweep record, as a launch does;
- a bad sweep is one line, tied to the override it comes from when it names one.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from pathlib import Path
from typing import Any

from heyhi.config import Project
from heyhi.errors import ConfigError, HeyHiError
from heyhi.sweep import (
    Record, Sweep, SweepError, SweepSpec, count_states, parse_metric, report, series, summary_line, sweep_id,
)
from heyhi.wire import protocol as P
from heyhi.wire.protocol import Error, OverrideError, PlanSweep, SweepDetail, SweepPlan, SweepReport, replace

MAX_EXPAND = 100_000  # points a plan expands at most (the CLI's bench: 100,000 in ~1.4 s)
MAX_PLAN_POINTS = 2_000  # points a SweepPlan or SweepDetail lists
MAX_ROWS = 500  # report rows sent
MAX_CURVES = 10  # learning curves sent (the best groups, as the report's plot)
MAX_CURVE_STEPS = 200  # steps per curve (thinned evenly, the last one kept)
MAX_KEY_VALUES = 100  # values per swept key in ``by_key``


class _Project(Project):
    """A project whose results root is the one the client named (as ``Launch`` honours it)."""

    def __init__(self, root: str, results_root: str | None):
        super().__init__(root)
        self._results_root = Path(results_root) if results_root else None

    @property
    def results_root(self) -> Path:
        return self._results_root or super().results_root


# ---- PlanSweep ---------------------------------------------------------------------------------------


async def plan_sweep(core: Any, req: PlanSweep) -> SweepPlan | Error:
    """The ``PlanSweep`` answer (``core``: the daemon's core, for its composer and its jobs)."""
    if getattr(core, "sweeps", None) is None or not hasattr(core, "composer"):
        return Error(P.NOT_IMPLEMENTED, "PlanSweep: this daemon's core runs no sweeps")
    try:
        return await asyncio.to_thread(_plan, core, req)
    except HeyHiError as e:  # the config itself (not one override): one line
        return SweepPlan(ok=False, errors=[OverrideError(-1, "", str(e))])


def _plan(core: Any, req: PlanSweep) -> SweepPlan:
    tokens = [t.strip() for t in req.overrides if t.strip()]
    for t in tokens:
        if t.startswith("@"):
            return _failed(req, SweepError(f"{t}: flag files are read by the command line (heyhi run); "
                                           f"list their overrides here instead", token=t))
    try:
        name, mode, direction = parse_metric(req.metric or None)
        spec = SweepSpec(config=Path(req.config).absolute(), tokens=[t.lstrip("-") for t in tokens],
                         metric=name, metric_mode=mode, direction=direction)
        sw = Sweep(spec, _Project(req.project_root, req.results_root), core.composer(req.project_root))
        sw.parse()
        sw.resolve()
        if not sw.layout.axes:
            return SweepPlan(ok=True, sweep=False)
        n = sw.layout.count(None)
        if n > MAX_EXPAND:
            return _failed(req, SweepError(f"the sweep has {n:,} points; at most {MAX_EXPAND:,} are planned here "
                                           f"(heyhi run ... --plan plans any number)"))
        sw.validate()
        sw.expand()
    except (SweepError, ConfigError) as e:
        return _failed(req, e)
    points = sw.points
    states = core.sweeps.states([p.dir for p in points])
    counts = count_states(states)
    sdir = sw.write_record() if req.record else sw.sweep_dir
    return SweepPlan(ok=True, points=[(s, p.dir, p.describe()) for p, s in zip(points[:MAX_PLAN_POINTS], states)],
                     total=len(points), counts=counts, summary=summary_line(counts), sweep_dir=str(sdir),
                     sweep_id=sweep_id(sdir), search=spec.kind)


def _failed(req: PlanSweep, e: HeyHiError) -> SweepPlan:
    """A bad sweep as ``SweepPlan.errors``: on the override it names (its token), else on the whole."""
    token = getattr(e, "token", None)
    message = str(e)
    index = -1
    for i, t in enumerate(req.overrides):
        t = t.strip()
        if token is not None and t.lstrip("-") == str(token).lstrip("-") or f"override {t!r}" in message:
            index = i
            break
    key = req.overrides[index].strip().lstrip("-").split("=", 1)[0] if index >= 0 else ""
    if index >= 0:  # said under its line: the line itself need not be repeated
        message = message.replace(f"override {req.overrides[index].strip()!r}: ", "")
    return SweepPlan(ok=False, errors=[OverrideError(index, key, message, len(key) + 1 if key else None)])


# ---- SweepReport --------------------------------------------------------------------------------------


async def sweep_report(core: Any, req: SweepReport) -> SweepDetail | Error:
    """The ``SweepReport`` answer."""
    mgr = getattr(core, "sweeps", None)
    if mgr is None:
        return Error(P.NOT_IMPLEMENTED, "SweepReport: this daemon's core runs no sweeps")
    sw = mgr.lookup(req.sweep)
    if isinstance(sw, Error):
        return sw
    try:
        return await asyncio.to_thread(_detail, mgr, sw, req.metric)
    except HeyHiError as e:
        return Error(P.NOT_FOUND, str(e))


def _detail(mgr: Any, sw: Any, metric: str) -> SweepDetail:
    rec = Record(sw.dir)
    rep = report(sw.dir, metric or None, plots=False)  # states from the run folders, as the CLI's
    info = mgr.info(sw, rows=False)  # what the daemon knows: active, errors, trials
    b = rep.best
    best = None if b is None else {"run_dir": b.dir, "value": b.value, "params": b.params, "overrides": b.overrides}
    info = replace(info, metric=rep.metric, direction=rep.direction, counts=rep.counts, total=len(rep.results),
                   best=best, rows=[r.to_json() for r in rep.rows[:MAX_ROWS]])
    done = [r for r in rep.rows if r.n]
    repeat = rec.spec.group_over[0] if rec.spec.group_over else "seed"
    retrain = [o for o in done[0].overrides if o.split("=", 1)[0].lstrip("-") != repeat] if done else []
    return SweepDetail(
        info=info, mode=rep.mode, keys=list(rep.keys),
        points=[(r.state, r.dir, " ".join(f"{k}={v}" for k, v in r.params.items()), r.value)
                for r in rep.results[:MAX_PLAN_POINTS]],
        curves=[c for c in (_curve(row, rep.metric) for row in done[:MAX_CURVES]) if c is not None],
        by_key={k: _by_value(rep.results, k) for k in rep.keys}, retrain=retrain, repeat_key=repeat,
        max_parallel=rec.spec.max_parallel)


def _label(params: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "all points"


def _curve(row: Any, metric: str) -> dict[str, Any] | None:
    """A group's learning curve: the mean over its runs at each step (the report's plot), thinned."""
    runs = [s for s in (series(d, metric) for d in row.dirs) if s]
    if not runs:
        return None
    steps = sorted(set().union(*runs))
    if len(steps) > MAX_CURVE_STEPS:
        every = len(steps) / MAX_CURVE_STEPS
        steps = [steps[int(i * every)] for i in range(MAX_CURVE_STEPS - 1)] + [steps[-1]]
    mean = [statistics.fmean([s[st] for s in runs if st in s]) for st in steps]
    return {"label": _label(row.params), "steps": steps, "mean": mean, "n": len(runs)}


def _by_value(results: list, key: str) -> list[list[Any]]:
    """[value, mean, n] of the metric for each value of ``key`` (numbers in order, else as first seen)."""
    vals: dict[str, list[float]] = {}
    for r in results:
        if key in r.params:
            got = vals.setdefault(r.params[key], [])
            if r.value is not None:
                got.append(r.value)
    order = list(vals)
    try:
        order.sort(key=float)
    except ValueError:
        pass
    out = []
    for v in order[:MAX_KEY_VALUES]:
        m = statistics.fmean(vals[v]) if vals[v] else None
        out.append([v, m if m is None or math.isfinite(m) else None, len(vals[v])])
    return out
