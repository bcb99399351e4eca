"""The jobs screen: a live table fed by the daemon's Subscribe stream, filters, per-state counts."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Input, Select

from ..format import STATES
from ..widgets.banner import LinkBanner
from ..widgets.keybar import KeyBar
from ..widgets.jobs import JobCounts, JobsTable
from .jobactions import JobActionsMixin


class JobsScreen(JobActionsMixin, Screen):
    BINDINGS = [
        Binding("enter", "details", "Details", id="jobs.details", tooltip="The job's details, history and log"),
        Binding("l", "logs", "Logs", id="jobs.logs", tooltip="Follow the job's stdout (stderr: e)"),
        Binding("r", "restart", "Restart", id="jobs.restart", tooltip="Run the job again in its folder (asks first)"),
        Binding("c", "cancel_job", "Cancel", id="jobs.cancel", tooltip="Stop the job (asks first)"),
        Binding("w", "wipe", "Wipe", id="jobs.wipe", tooltip="Delete the job's folder (asks first, naming it)"),
        Binding("slash", "filter", "Filter", id="jobs.filter", tooltip="Filter by text (id, config, tag, node)"),
        Binding("s", "cycle_state", "State", id="jobs.state", tooltip="Show only one state (cycles)"),
        Binding("escape", "clear_filters", "Clear", id="jobs.clear", show=False, tooltip="Clear the filters"),
    ]

    jobs_rev: reactive[int] = reactive(0)
    state_filter: reactive[str] = reactive("")
    text_filter: reactive[str] = reactive("")

    def __init__(self) -> None:
        super().__init__(id="jobs")

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield LinkBanner()
        with Horizontal(id="jobs-filters"):
            yield Input(placeholder="/ filter jobs", id="jobs-filter", compact=True)
            yield Select([(s, s) for s in STATES], prompt="any state", id="jobs-state", compact=True)
        yield JobsTable(lambda: self.app.jobs, self.app.config_label, id="jobs-table").data_bind(
            JobsScreen.jobs_rev, JobsScreen.state_filter, JobsScreen.text_filter)
        yield JobCounts(lambda: self.app.jobs, id="job-counts").data_bind(JobsScreen.jobs_rev)
        yield KeyBar()

    def on_mount(self) -> None:
        self.watch(self.app, "jobs_rev", self._jobs_changed, init=True)
        self.query_one(JobsTable).focus()

    def _jobs_changed(self, rev: int) -> None:
        self.jobs_rev = rev

    @property
    def table(self) -> JobsTable:
        return self.query_one(JobsTable)

    def current_job(self) -> str | None:
        return self.table.selected_job

    def select_job(self, job_id: str) -> bool:
        return self.table.select_job(job_id)

    @on(JobsTable.Chosen)
    def _chosen(self, event: JobsTable.Chosen) -> None:
        self.app.show_job(event.job_id)

    @on(Input.Changed, "#jobs-filter")
    def _text(self, event: Input.Changed) -> None:
        self.text_filter = event.value

    @on(Input.Submitted, "#jobs-filter")
    def _text_done(self) -> None:
        self.table.focus()

    @on(Select.Changed, "#jobs-state")
    def _state(self, event: Select.Changed) -> None:
        self.state_filter = event.value if isinstance(event.value, str) else ""

    def action_filter(self) -> None:
        self.query_one("#jobs-filter", Input).focus()

    def action_cycle_state(self) -> None:
        order = [""] + list(STATES)
        nxt = order[(order.index(self.state_filter) + 1) % len(order)] if self.state_filter in order else ""
        select = self.query_one("#jobs-state", Select)
        if nxt:
            select.value = nxt
        else:
            select.clear()

    def action_clear_filters(self) -> None:
        self.query_one("#jobs-filter", Input).value = ""
        self.query_one("#jobs-state", Select).clear()
        self.table.focus()
