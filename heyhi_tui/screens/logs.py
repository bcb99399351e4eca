"""A job's log, full screen: follow, search the whole file, jump to the end, stdout or stderr.

A crashed job opens on its stderr (where the traceback is); ``e`` switches.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header

from ..widgets.banner import LinkBanner
from ..widgets.keybar import KeyBar
from ..widgets.logs import LogPane
from ..workers import watch_app


class LogsScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="logs.back", tooltip="Back"),
    ]

    jobs_rev: reactive[int] = reactive(0)

    def __init__(self, job_id: str, stream: str = "stdout", last_lines: int = 5000) -> None:
        super().__init__()
        self.job_id = job_id
        self.stream = stream
        self.last_lines = last_lines

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield LinkBanner()
        yield LogPane(self.job_id, self.stream, self.last_lines, id="logs-pane").data_bind(LogsScreen.jobs_rev)
        yield KeyBar()

    def on_mount(self) -> None:
        job = self.app.jobs.get(self.job_id)
        self.sub_title = f"log of {self.job_id}" + (f" ({self.app.config_label(job.config)})" if job else "")
        watch_app(self, "jobs_rev", self._jobs_changed, init=True)
        self.query_one("#log").focus()

    def _jobs_changed(self, rev: int) -> None:
        self.jobs_rev = rev

    @property
    def pane(self) -> LogPane:
        return self.query_one(LogPane)

    def action_back(self) -> None:
        self.dismiss()
