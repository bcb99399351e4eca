"""The jobs screen: a live table fed by the daemon's Subscribe stream, newest first, sorted by any
column (``o`` cycles, ``O`` reverses, a click on a header sorts by it), filtered by text (``/``),
state (``s``) and project (``p``: only the project the app was opened on; one daemon serves every
project); per-state counts. ``space`` marks jobs: restart / cancel / wipe then act on every marked
one (asked once, naming the count), and ``d`` compares two marked runs' configs (one job: against
today's config file)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Checkbox, DataTable, Header, Input, Select

from ..format import STATES
from ..widgets.banner import LinkBanner
from ..widgets.keybar import KeyBar
from ..widgets.jobs import SORT_ORDER, JobCounts, JobsTable, JobsView
from ..workers import watch_app
from .jobactions import JobActionsMixin

WIDE = 120  # columns from which the table shows every column


class JobsScreen(JobActionsMixin, JobsView, Screen):
    BINDINGS = [
        Binding("enter", "details", "Details", id="jobs.details", tooltip="The job's details, history and log"),
        Binding("l", "logs", "Logs", id="jobs.logs", tooltip="Follow the job's stdout (stderr: e)"),
        Binding("r", "restart", "Restart", id="jobs.restart",
                tooltip="Run the job (or every marked one) again in its folder (asks first)"),
        Binding("R", "edit_run", "Relaunch…", id="jobs.relaunch",
                tooltip="Edit the run's overrides in the launch editor, then launch (a new run in its own folder)"),
        Binding("c", "cancel_job", "Cancel", id="jobs.cancel",
                tooltip="Stop the job (or every marked one; asks first)"),
        Binding("w", "wipe", "Wipe", id="jobs.wipe",
                tooltip="Delete the job's folder (or every marked one's; asks first, naming them)"),
        Binding("d", "diff", "Diff", id="jobs.diff",
                tooltip="The configs of two jobs (the two marked, or the marked one and this one); "
                        "one job: against today's config file"),
        Binding("slash", "filter", "Filter", id="jobs.filter", tooltip="Filter by text (id, config, overrides, node)"),
        Binding("s", "cycle_state", "State", id="jobs.state", tooltip="Show only one state (cycles)"),
        Binding("p", "toggle_project", "Project", id="jobs.project",
                tooltip="Only the jobs of this project, or of every project"),
        Binding("o", "cycle_sort", "Sort", id="jobs.sort", tooltip="Sort by the next column (cycles)"),
        Binding("O", "reverse_sort", "Reverse", id="jobs.reverse", show=False, tooltip="Reverse the order"),
        Binding("E", "open_editor", "Editor", id="jobs.editor", show=False,
                tooltip="Open the run's folder in $EDITOR (over --remote: ssh -t)"),
        Binding("exclamation_mark", "open_shell", "Shell", id="jobs.shell", show=False,
                tooltip="A shell in the run's folder (over --remote: ssh -t)"),
        Binding("y", "copy_path", "Copy path", id="jobs.copy", show=False, tooltip="Copy the run folder's path"),
        Binding("escape", "clear_filters", "Clear", id="jobs.clear", show=False,
                tooltip="Clear the marks, then the filters"),
    ]

    marks: reactive[int] = reactive(0)

    def __init__(self) -> None:
        super().__init__(id="jobs")

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield LinkBanner()
        with Horizontal(id="jobs-filters"):
            yield Input(placeholder="/ filter jobs", id="jobs-filter", compact=True)
            yield Checkbox("this project", id="jobs-project", compact=True)
            yield Select([(s, s) for s in STATES], prompt="any state", id="jobs-state", compact=True)
        yield JobsTable(lambda: self.app.jobs, self.app.config_label, id="jobs-table").data_bind(
            JobsScreen.jobs_rev, JobsScreen.state_filter, JobsScreen.text_filter, JobsScreen.project_filter,
            JobsScreen.sort_key, JobsScreen.sort_reverse, JobsScreen.wide)
        yield JobCounts(lambda: self.app.jobs, id="job-counts").data_bind(
            JobsScreen.jobs_rev, JobsScreen.marks, JobsScreen.sort_key, JobsScreen.sort_reverse)
        yield KeyBar()

    def on_mount(self) -> None:
        watch_app(self, "jobs_rev", self._jobs_changed, init=True)
        self.query_one(JobsTable).focus()

    def on_resize(self) -> None:
        self.wide = self.size.width >= WIDE

    def _jobs_changed(self, rev: int) -> None:
        self.jobs_rev = rev

    @property
    def table(self) -> JobsTable:
        return self.query_one(JobsTable)

    def current_job(self) -> str | None:
        return self.table.selected_job

    def marked_jobs(self) -> list[str]:
        """The marked jobs, as the rows show them (then any a filter hides)."""
        shown = self.table.shown_jobs
        return [j for j in shown if j in self.table.marked] + sorted(self.table.marked - set(shown))

    def acting_on(self) -> list[str]:
        return self.marked_jobs() or super().acting_on()

    def marks_done(self) -> None:
        self.table.set_marked(set())

    def select_job(self, job_id: str) -> bool:
        return self.table.select_job(job_id)

    @on(JobsTable.Chosen)
    def _chosen(self, event: JobsTable.Chosen) -> None:
        self.app.show_job(event.job_id)

    @on(JobsTable.MarksChanged)
    def _marks(self) -> None:
        self.marks = len(self.table.marked)

    @on(DataTable.HeaderSelected, "#jobs-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False

    @on(Input.Changed, "#jobs-filter")
    def _text(self, event: Input.Changed) -> None:
        self.text_filter = event.value

    @on(Input.Submitted, "#jobs-filter")
    def _text_done(self) -> None:
        self.table.focus()

    @on(Select.Changed, "#jobs-state")
    def _state(self, event: Select.Changed) -> None:
        self.state_filter = event.value if isinstance(event.value, str) else ""

    @on(Checkbox.Changed, "#jobs-project")
    def _project(self, event: Checkbox.Changed) -> None:
        self.project_filter = self.app.project_root if event.value else ""

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

    def action_toggle_project(self) -> None:
        box = self.query_one("#jobs-project", Checkbox)
        box.value = not box.value

    def action_cycle_sort(self) -> None:
        order = [k for k in SORT_ORDER if k in self.table.column_keys]
        i = order.index(self.sort_key) if self.sort_key in order else -1
        self.sort_key, self.sort_reverse = order[(i + 1) % len(order)], False

    def action_edit_run(self) -> None:
        if (jid := self._job_or_tell()) is not None:
            self.app.edit_run(jid)

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def action_diff(self) -> None:
        from .diff import DiffScreen  # lean: keeps the start-up of heyhi-tui from loading it

        marked = self.marked_jobs()
        if len(marked) == 2:
            self.app.push_screen(DiffScreen(marked[0], marked[1]))
        elif len(marked) > 2:
            self.app.notify(f"{len(marked)} jobs marked: mark two to compare them", severity="warning")
        elif marked and self.current_job() not in (None, marked[0]):
            self.app.push_screen(DiffScreen(marked[0], self.current_job()))  # the marked one and this one
        elif marked:
            self.app.push_screen(DiffScreen(marked[0], against_config=True))
        else:
            self.action_diff_config()

    def action_clear_filters(self) -> None:
        if self.table.marked:
            self.table.set_marked(set())
            return
        self.query_one("#jobs-filter", Input).value = ""
        self.query_one("#jobs-state", Select).clear()
        self.query_one("#jobs-project", Checkbox).value = False
        self.table.focus()
