"""One job: what the daemon knows of it (live), its history, and the tail of its log."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Static

from heyhi.wire.protocol import DaemonError, JobDetail, ShowJob

from ..format import runtime, state_text
from ..widgets.banner import LinkBanner
from ..widgets.keybar import KeyBar
from ..widgets.logs import LogPane
from .jobactions import JobActionsMixin


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else ""


class JobScreen(JobActionsMixin, Screen):
    BINDINGS = [
        Binding("l", "logs", "Logs", id="job.logs", tooltip="The log full screen (search, stderr)"),
        Binding("r", "restart", "Restart", id="job.restart", tooltip="Run the job again in its folder (asks first)"),
        Binding("c", "cancel_job", "Cancel", id="job.cancel", tooltip="Stop the job (asks first)"),
        Binding("w", "wipe", "Wipe", id="job.wipe", tooltip="Delete the job's folder (asks first)"),
        Binding("escape", "back", "Back", id="job.back", tooltip="Back to the jobs"),
    ]

    jobs_rev: reactive[int] = reactive(0)

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.history: list[str] = []  # the run's states, oldest first; earlier runs as "previous_run(<state>)"
        self._history_state = ""

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield LinkBanner()
        yield Static(id="job-info")
        yield LogPane(self.job_id, last_lines=500, id="job-log").data_bind(JobScreen.jobs_rev)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = f"job {self.job_id}"
        self.watch(self.app, "jobs_rev", self._jobs_changed, init=True)
        self.set_interval(1.0, self._show)
        self.query_one("#log").focus()

    def current_job(self) -> str | None:
        return self.job_id

    def _jobs_changed(self, rev: int) -> None:
        self.jobs_rev = rev
        job = self.app.jobs.get(self.job_id)
        if job is not None and job.state != self._history_state:
            self._history_state = job.state
            self.load_history()
        self._show()

    @work(exclusive=True, group="history")
    async def load_history(self) -> None:
        try:
            detail = await self.app.link.request(ShowJob(job=self.job_id))
        except DaemonError:
            return
        assert isinstance(detail, JobDetail)
        self.history = [f"previous_run({p.state})" for p in detail.previous_runs] + [h.state for h in detail.history]
        self._show()

    def _show(self) -> None:
        job = self.app.jobs.get(self.job_id)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        if job is None:
            grid.add_row("job", Text(f"{self.job_id} (not known to the daemon: wiped?)", style="yellow"))
        else:
            head = Text.assemble((job.job_id, "bold"), "  ", state_text(job.state))
            if job.exit_code is not None:
                head.append(f"  exit {job.exit_code}", style="red" if job.exit_code else "green")
            if job.reason:
                head.append(f"  {job.reason}", style="italic")
            grid.add_row("job", head)
            grid.add_row("config", Text(self.app.config_label(job.config)))
            grid.add_row("folder", Text(self.app.show_path(job.run_dir)))
            where = job.launcher
            if job.slurm_id:
                where += f" {job.slurm_id}"
            if job.node:
                where += f" on {job.node}"
            if job.pid:
                where += f" pid {job.pid}"
            grid.add_row("runs", Text(f"{where}  attempt {job.attempts}"))
            grid.add_row("time", Text(f"started {_when(job.started)}  ran {runtime(job, time.time())}"
                                      if job.started else f"created {_when(job.created)}"))
            if self.history:
                grid.add_row("history", Text(" → ".join(self.history[-8:])))
        self.query_one("#job-info", Static).update(grid)

    def on_screen_suspend(self) -> None:
        self.query_one(LogPane).stop()  # covered (e.g. by the full log): stop streaming twice

    def on_screen_resume(self) -> None:
        pane = self.query_one(LogPane)
        if pane.is_mounted and not pane.running:
            pane.restart_tail()

    def action_back(self) -> None:
        self.dismiss()
