"""One job: what the daemon knows of it (live), its overrides and history, and what its run folder
holds, one tab each (``v`` cycles): the tail of its log, its composed config, its results
(``result.json``) and its metrics (``metrics.jsonl``, live charts). Everything comes through daemon
requests, so the screen is the same over ``--remote``. ``d`` compares the run's config with today's
config file; ``E`` / ``!`` open its folder in ``$EDITOR`` / a shell; ``y`` copies its path."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Static, TabbedContent, TabPane

from heyhi.wire.protocol import DaemonError, JobDetail, ShowJob

from ..format import LIVE, overrides_line, overrides_of, project_label, project_of, runtime, state_text
from ..widgets.banner import LinkBanner
from ..widgets.keybar import KeyBar
from ..widgets.logs import LogPane
from ..widgets.metrics import MetricsView
from ..widgets.results import ResultsView, RunTextView, read_run_file
from ..workers import node_work, watch_app
from .jobactions import JobActionsMixin

TABS = ("tab-log", "tab-config", "tab-results", "tab-metrics")
MAX_OVERRIDES_FILE = 1 << 20  # bytes of heyhi.overrides read when the daemon did not send them


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else ""


class JobScreen(JobActionsMixin, Screen):
    BINDINGS = [
        Binding("l", "logs", "Logs", id="job.logs", tooltip="The log full screen (search, stderr)"),
        Binding("v", "next_tab", "View", id="job.view", tooltip="The next view: log, config, results, metrics"),
        Binding("d", "diff_config", "Diff", id="job.diff", tooltip="The run's config against today's config file"),
        Binding("r", "restart", "Restart", id="job.restart", tooltip="Run the job again in its folder (asks first)"),
        Binding("R", "edit_run", "Relaunch…", id="job.relaunch",
                tooltip="Edit the run's overrides in the launch editor, then launch (a new run in its own folder)"),
        Binding("c", "cancel_job", "Cancel", id="job.cancel", tooltip="Stop the job (asks first)"),
        Binding("w", "wipe", "Wipe", id="job.wipe", tooltip="Delete the job's folder (asks first)"),
        Binding("E", "open_editor", "Editor", id="job.editor",
                tooltip="Open the run's folder in $EDITOR (over --remote: ssh -t)"),
        Binding("exclamation_mark", "open_shell", "Shell", id="job.shell",
                tooltip="A shell in the run's folder (over --remote: ssh -t)"),
        Binding("y", "copy_path", "Copy path", id="job.copy", tooltip="Copy the run folder's path"),
        Binding("escape", "back", "Back", id="job.back", tooltip="Back to the jobs"),
    ]

    jobs_rev: reactive[int] = reactive(0)
    run_dir: reactive[str] = reactive("")
    files_rev: reactive[int] = reactive(0)  # bumped when the run's files may have changed (state changes)

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.history: list[str] = []  # the run's states, oldest first; earlier runs as "previous_run(<state>)"
        self._history_state = ""
        self.file_overrides: list[str] | None = None  # heyhi.overrides, when the daemon did not send them

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield LinkBanner()
        yield Static(id="job-info")
        with TabbedContent(id="job-tabs"):
            with TabPane("Log", id="tab-log"):
                yield LogPane(self.job_id, last_lines=500, id="job-log").data_bind(JobScreen.jobs_rev)
            with TabPane("Config", id="tab-config"):
                yield RunTextView("composed config", id="job-config").data_bind(rev=JobScreen.files_rev)
            with TabPane("Results", id="tab-results"):
                yield ResultsView(id="job-results").data_bind(JobScreen.run_dir, rev=JobScreen.files_rev)
            with TabPane("Metrics", id="tab-metrics"):
                yield MetricsView(self.job_id, id="job-metrics").data_bind(JobScreen.run_dir, JobScreen.jobs_rev)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = f"job {self.job_id}"
        watch_app(self, "jobs_rev", self._jobs_changed, init=True)
        self.set_interval(1.0, self._show)
        self.query_one("#log").focus()

    def current_job(self) -> str | None:
        return self.job_id

    def _jobs_changed(self, rev: int) -> None:
        self.jobs_rev = rev
        job = self.app.jobs.get(self.job_id)
        if job is not None:
            if job.run_dir != self.run_dir:
                self.run_dir = job.run_dir
                self.query_one(RunTextView).paths = (f"{job.run_dir}/config.prototxt",
                                                     f"{job.run_dir}/config_meta.prototxt")
                if overrides_of(job) is None:
                    self.load_overrides()
            if job.state != self._history_state:
                if self._history_state:
                    self.files_rev += 1  # e.g. completed: result.json is there now
                self._history_state = job.state
                self.load_history()
        self._show()

    @node_work(exclusive=True, group="history")
    async def load_history(self) -> None:
        try:
            detail = await self.app.link.request(ShowJob(job=self.job_id))
        except DaemonError:
            return
        assert isinstance(detail, JobDetail)
        self.history = [f"previous_run({p.state})" for p in detail.previous_runs] + [h.state for h in detail.history]
        self._show()

    @node_work(exclusive=True, group="overrides")
    async def load_overrides(self) -> None:
        """The overrides from the folder's heyhi.overrides (an older daemon, or a list too long to send)."""
        try:
            data = await read_run_file(self.app, f"{self.run_dir}/heyhi.overrides", 0, MAX_OVERRIDES_FILE)
        except DaemonError:
            return
        if data is not None:
            self.file_overrides = [line for line in data.data.decode("utf-8", "replace").splitlines() if line]
            self._show()

    def overrides(self) -> list[str] | None:
        """The run's overrides (None: not known yet)."""
        job = self.app.jobs.get(self.job_id)
        known = overrides_of(job) if job is not None else None
        return known if known is not None else self.file_overrides

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
            config = Text(self.app.config_label(job.config))
            project = project_of(job)
            if project and project != self.app.project_root.rstrip("/"):
                config.append(f"  (project {project_label(project)})", style="dim")
            grid.add_row("config", config)
            grid.add_row("overrides", overrides_line(self.overrides(), job.tag))
            grid.add_row("folder", Text(self.app.show_path(job.run_dir)))
            where = job.launcher
            if job.slurm_id:
                where += f" {job.slurm_id}"
            if job.node:
                where += f" on {job.node}"
            if job.pid and job.state in LIVE:  # the pid of a run that ended says nothing
                where += f" pid {job.pid}"
            grid.add_row("runs", Text(f"{where}  attempt {job.attempts}"))
            grid.add_row("time", Text(f"started {_when(job.started)}  ran {runtime(job, time.time())}"
                                      if job.started else f"created {_when(job.created)}"))
            if self.history:
                grid.add_row("history", Text(" → ".join(self.history[-8:])))
        self.query_one("#job-info", Static).update(grid)

    # ---- tabs -----------------------------------------------------------------------------------
    def action_next_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        i = TABS.index(tabs.active) if tabs.active in TABS else -1
        self.show_tab(TABS[(i + 1) % len(TABS)])

    def show_tab(self, tab: str) -> None:
        """Show the tab ``tab`` (one of ``TABS``) and focus what it shows."""
        self.query_one(TabbedContent).active = tab
        self._focus_tab(tab)

    @on(TabbedContent.TabActivated, "#job-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_tab(str(event.pane.id))

    def _focus_tab(self, tab: str) -> None:
        target = {"tab-log": "#log", "tab-config": "#job-config", "tab-results": "#results-table",
                  "tab-metrics": "#job-metrics"}[tab]
        self.query_one(target).focus()

    @property
    def active_tab(self) -> str:
        return str(self.query_one(TabbedContent).active)

    # ---- covered and shown again ---------------------------------------------------------------
    def on_screen_suspend(self) -> None:
        self.query_one(LogPane).stop()  # covered (e.g. by the full log): stop streaming twice
        self.query_one(MetricsView).stop()

    def on_screen_resume(self) -> None:
        pane = self.query_one(LogPane)
        if pane.is_mounted and not pane.running:
            pane.restart_tail()
        metrics = self.query_one(MetricsView)
        if metrics.is_mounted and metrics.run_dir:
            metrics.poll()

    def action_edit_run(self) -> None:
        self.app.edit_run(self.job_id)

    def action_back(self) -> None:
        self.dismiss()
