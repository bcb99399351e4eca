"""Sweeps on screen: a plan's points (the launch editor), the progress of a sweep per state, a sweep's
points and report table, and its charts as text (Sparklines of the learning curves, bars of the
metric per value of each swept key). Data in (attributes set by the screen), nothing out but the
``DataTable`` messages; what is shown comes from ``SweepPlan`` / ``SweepList`` / ``SweepDetail``.
"""

from __future__ import annotations

import math
import posixpath
from typing import Any

from rich.text import Text
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Label, Sparkline, Static

PLAN_STATES = ("new", "running", "completed", "crashed", "lost")  # heyhi.sweep's plan states, in order
PLAN_STYLE = {"new": "bright_black", "running": "bold dodger_blue1", "completed": "bold green",
              "crashed": "bold red", "lost": "red"}
BAR = "█"


def num(x: float | None) -> str:
    """A metric as ``heyhi sweep report`` prints it (``-`` for none)."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    return f"{x:.4g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.3e}"


def progress(counts: dict[str, int], width: int = 20) -> Text:
    """A bar of ``width`` cells coloured by state (completed first), then the counts that are not 0."""
    total = sum(counts.values()) or 1
    text = Text()
    order = ("completed", "crashed", "lost", "running", "new")
    cells = {s: int(round(width * counts.get(s, 0) / total)) for s in order}
    over = sum(cells.values()) - width
    if over > 0:
        cells["new"] = max(0, cells["new"] - over)
    for s in order:
        text.append(BAR * cells[s], style=PLAN_STYLE[s] if s != "new" else "grey30")
    text.append(" " * max(0, width - text.cell_len))
    shown = [(s, counts.get(s, 0)) for s in PLAN_STATES if counts.get(s, 0)]
    for s, n in shown:
        text.append(f" {n} {s}", style=PLAN_STYLE[s])
    if not shown:
        text.append(" no points", style="dim")
    return text


def counts_text(counts: dict[str, int]) -> Text:
    """``6 points: 4 new · 2 completed`` (the states that are not 0, each in its colour)."""
    text = Text(f"{sum(counts.values())} points:")
    for s in PLAN_STATES:
        if counts.get(s, 0):
            text.append(f" {counts[s]} {s}", style=PLAN_STYLE[s])
    return text


def folder_name(run_dir: str) -> str:
    """A point's folder as a table shows it: its name (the points of a sweep share one parent)."""
    return posixpath.basename(run_dir.rstrip("/")) or run_dir


class PlanTable(DataTable):
    """The points of a plan: state, swept values, run folder (its name: they share a parent)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)

    def on_mount(self) -> None:
        self.add_column("state", key="state")
        self.add_column("swept values", key="values")
        self.add_column("run folder", key="folder")

    def show(self, points: list[tuple[str, str, str]], total: int) -> None:
        self.clear()
        for i, (state, run_dir, values) in enumerate(points):
            self.add_row(Text(state, style=PLAN_STYLE.get(state, "")), values, folder_name(run_dir), key=str(i))
        if total > len(points):
            self.add_row(Text("…", style="dim"), Text(f"{total - len(points)} more points", style="dim"), "",
                         key="more")


class PointsTable(DataTable):
    """A sweep's points: state, swept values, metric, run folder (its name); ``run_dirs`` by row key."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.run_dirs: dict[str, str] = {}

    def show(self, points: list, metric: str) -> None:
        cursor = self.cursor_row
        self.clear(columns=True)
        self.add_column("state", key="state")
        self.add_column("swept values", key="values")
        self.add_column(metric or "metric", key="metric")
        self.add_column("run folder", key="folder")
        self.run_dirs = {}
        for i, (state, run_dir, values, value) in enumerate(points):
            self.run_dirs[str(i)] = run_dir
            self.add_row(Text(state, style=PLAN_STYLE.get(state, "")), values, Text(num(value), justify="right"),
                         folder_name(run_dir), key=str(i))
        if points:
            self.move_cursor(row=min(cursor, len(points) - 1))

    @property
    def selected_run_dir(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        return self.run_dirs.get(str(key))


class ReportTable(DataTable):
    """``heyhi sweep report``'s table: rank, the swept values of the group, metric mean, std, n, points."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)

    def show(self, rows: list[dict[str, Any]], keys: list[str], metric: str) -> None:
        cursor = self.cursor_row
        self.clear(columns=True)
        self.add_column("#", key="rank")
        for k in keys:
            self.add_column(k, key=f"k:{k}")
        self.add_column(f"{metric} mean", key="mean")
        self.add_column("std", key="std")
        self.add_column("n", key="n")
        self.add_column("points", key="points")
        for i, r in enumerate(rows, 1):
            params = r.get("params") or {}
            states = r.get("states") or {}
            other = ", ".join(f"{n} {s}" for s, n in sorted(states.items()) if s != "completed")
            pts = f"{r.get('points', 0)}" + (f" ({other})" if other else "")
            self.add_row(str(i), *(str(params.get(k, "")) for k in keys),
                         Text(num(r.get("mean")), justify="right", style="bold" if i == 1 and r.get("n") else ""),
                         Text(num(r.get("std")), justify="right"), Text(str(r.get("n", 0)), justify="right"), pts,
                         key=str(i))
        if rows:
            self.move_cursor(row=min(cursor, len(rows) - 1))


class Charts(VerticalScroll):
    """The report's plots as text: a Sparkline per learning curve (mean over seeds at each step) with
    its first, last and best values, then per swept key a bar of the metric's mean per value."""

    def show(self, curves: list[dict[str, Any]], by_key: dict[str, list], metric: str, direction: str) -> None:
        self.remove_children()
        widgets: list = []
        if curves:
            widgets.append(Label(Text.assemble((f"{metric}", "bold"), " per step: mean per group (the best first)"),
                                 classes="chart-title"))
        for c in curves:
            mean = [v for v in c.get("mean") or [] if isinstance(v, (int, float)) and math.isfinite(v)]
            if not mean:
                continue
            best = min(mean) if direction == "min" else max(mean)
            steps = c.get("steps") or []
            label = Text(f"{c.get('label', '')} (n={c.get('n', 0)})", no_wrap=True, overflow="ellipsis")
            widgets.append(Static(label, classes="chart-label"))
            spark = Sparkline(mean, classes="chart-spark")
            spark.styles.width = min(max(len(mean), 8), 60)  # a cell or more per step, as a curve reads
            spark.tooltip = f"{metric} at steps {steps[0] if steps else ''}..{steps[-1] if steps else ''}"
            widgets.append(Horizontal(spark, Static(Text(f" {num(mean[0])} → {num(mean[-1])}  best {num(best)}",
                                                         style="dim"), classes="chart-values"),
                                      classes="chart-row"))
        for key, values in by_key.items():
            means = [m for _, m, _ in values if m is not None]
            if not means:
                continue
            widgets.append(Label(Text.assemble((f"{metric}", "bold"), " against ", (key, "bold")),
                                 classes="chart-title"))
            lo, hi = min(means), max(means)
            width = max((len(str(v)) for v, _, _ in values), default=1)
            text = Text()
            for v, m, n in values:
                cells = 1 + int(round(19 * ((m - lo) / (hi - lo) if hi > lo else 1))) if m is not None else 0
                text.append(f"{str(v):>{width}} ")
                text.append(BAR * cells, style="dodger_blue1")
                text.append(f" {num(m)} (n={n})\n", style="dim")
            text.rstrip()
            widgets.append(Static(text, classes="chart-bars"))
        if not widgets:
            widgets.append(Static(Text(f"no {metric} logged by a completed point yet", style="dim")))
        self.mount_all(widgets)
