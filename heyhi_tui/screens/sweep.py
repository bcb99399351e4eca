"""One sweep: its progress, its points (state, swept values, metric, folder; Enter opens a point's
job), the report table of ``heyhi sweep report`` and its charts as text, all from the daemon's
``SweepReport`` (asked again while the sweep runs). ``b`` is ``heyhi sweep best``: the launch editor
opens on the best group's overrides with the repeat axis as new seeds, planned before it launches.
"""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from heyhi.wire.protocol import DaemonError, SweepDetail, SweepReport

from ..widgets.banner import LinkBanner
from ..widgets.keybar import KeyBar
from ..widgets.sweeps import Charts, PointsTable, ReportTable, num, progress
from ..workers import node_work, watch_app
from .sweeps import MIN_GAP_S, POLL_S

BEST_SEEDS = "[0,1,2,3,4]"  # the seeds ``b`` proposes (edit them in the launch editor)


def metric_spec(detail: SweepDetail) -> str:
    """The sweep's metric as ``--metric`` takes it (NAME:min, NAME:max, NAME:last:min)."""
    info = detail.info
    if detail.mode in ("min", "max"):
        return f"{info.metric}:{detail.mode}"
    return f"{info.metric}:last:{info.direction}"


class SweepScreen(Screen):
    BINDINGS = [
        Binding("p", "tab('points')", "Points", id="sweep.points", tooltip="Every point: state, values, metric"),
        Binding("t", "tab('report')", "Report", id="sweep.report",
                tooltip="The report table: groups over seeds, mean, std, n (heyhi sweep report)"),
        Binding("v", "tab('charts')", "Charts", id="sweep.charts",
                tooltip="Learning curves per group, and the metric against each swept key"),
        Binding("b", "best", "Best…", id="sweep.best",
                tooltip="Run the best group again with new seeds (heyhi sweep best): opens the launch editor"),
        Binding("enter", "open_point", "Job", id="sweep.job", show=False, tooltip="The highlighted point's job"),
        Binding("escape", "back", "Back", id="sweep.back", tooltip="Back to the sweeps"),
    ]

    def __init__(self, sweep_id: str) -> None:
        super().__init__()
        self.sweep_id = sweep_id
        self.detail: SweepDetail | None = None
        self.problem = ""
        self._asked = 0.0

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield LinkBanner()
        yield Static(id="sweep-info")
        with TabbedContent(id="sweep-tabs", initial="points"):
            with TabPane("Points", id="points"):
                yield PointsTable(id="sweep-points")
            with TabPane("Report", id="report"):
                yield ReportTable(id="sweep-report")
            with TabPane("Charts", id="charts"):
                yield Charts(id="sweep-charts")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = f"sweep {self.sweep_id}"
        self.query_one("#sweep-points").focus()
        watch_app(self, "jobs_rev", self._jobs_changed, init=False)
        watch_app(self, "link_state", lambda state: state.connected and self.load(), init=False)
        self.set_interval(POLL_S, self._tick)
        self.load()
        self._show_info()

    def _jobs_changed(self, rev: int) -> None:
        if time.monotonic() - self._asked >= MIN_GAP_S:
            self.load()

    def _tick(self) -> None:
        d = self.detail
        if d is None or d.info.active or d.info.counts.get("running"):
            self.load()

    @node_work(exclusive=True, group="sweep")
    async def load(self) -> None:
        self._asked = time.monotonic()
        try:
            reply = await self.app.link.request(SweepReport(sweep=self.sweep_id))
        except DaemonError as e:
            self.problem = f"sweep {self.sweep_id}: {e.message}"
            self._show_info()
            return
        assert isinstance(reply, SweepDetail)
        self.problem = ""
        self.detail = reply
        self._show_info()
        metric = reply.info.metric
        self.query_one(PointsTable).show(list(reply.points), metric)
        self.query_one(ReportTable).show(list(reply.info.rows), list(reply.keys), metric)
        self.query_one(Charts).show(list(reply.curves), dict(reply.by_key), metric, reply.info.direction)

    def _show_info(self) -> None:
        box = self.query_one("#sweep-info", Static)
        d = self.detail
        if d is None:
            box.update(Text(self.problem or f"sweep {self.sweep_id}: asking the daemon…",
                            style="red" if self.problem else "dim"))
            return
        info = d.info
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        head = Text.assemble((info.sweep_id, "bold"), f"  {info.kind}  ",
                             ("active", "bold dodger_blue1") if info.active else ("idle", "dim"),
                             f"  {self.app.config_label(info.config)}")
        if info.kind == "adaptive":
            head.append(f"  {info.trials}/{info.budget} trials")
        grid.add_row("sweep", head)
        grid.add_row("points", progress(info.counts, 20))
        how = {"last": "last value", "max": "best (max)", "min": "best (min)"}.get(d.mode, d.mode)
        b = info.best or {}
        best = Text(f"{info.metric} ({how}), {info.direction} is better")
        if b.get("value") is not None:
            best.append(f"; best {info.metric}={num(b['value'])} ", style="bold")
            best.append(" ".join(f"{k}={v}" for k, v in (b.get("params") or {}).items()))
        grid.add_row("metric", best)
        grid.add_row("folder", Text(self.app.show_path(info.sweep_dir)))
        for e in info.errors[-2:]:
            grid.add_row("error", Text(e, style="red"))
        if self.problem:
            grid.add_row("", Text(self.problem, style="red"))
        box.update(grid)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        target = {"points": PointsTable, "report": ReportTable}.get(tab)
        if target is not None:
            self.query_one(target).focus()

    @on(DataTable.RowSelected, "#sweep-points")
    def _point_chosen(self, event: DataTable.RowSelected) -> None:
        self.action_open_point()

    def action_open_point(self) -> None:
        run_dir = self.query_one(PointsTable).selected_run_dir
        job = next((j for j in self.app.jobs.values() if j.run_dir == run_dir), None) if run_dir else None
        if job is None:
            self.notify("this point has no job yet (it is new)" if run_dir else "no point selected",
                        severity="warning")
            return
        self.app.show_job(job.job_id)

    def action_best(self) -> None:
        d = self.detail
        if d is None or not d.retrain and not d.info.rows:
            self.notify("the report is not there yet", severity="warning")
            return
        if not any(r.get("n") for r in d.info.rows):
            self.notify(f"sweep {d.info.sweep_id}: no completed point has the metric {d.info.metric!r} yet",
                        severity="warning", timeout=6)
            return
        overrides = list(d.retrain) + [f"{d.repeat_key}={BEST_SEEDS}"]
        self.notify(f"the best group with seeds {BEST_SEEDS}: edit them, check the plan, then launch",
                    title="sweep best", timeout=6)
        self.app.open_launch(d.info.config, overrides, sweep_metric=metric_spec(d), max_parallel=d.max_parallel)

    def action_back(self) -> None:
        self.dismiss()
