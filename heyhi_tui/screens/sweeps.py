"""The sweeps view: every sweep the daemon knows (``SweepStatus``), newest first, with its progress
per state (new, running, completed, crashed, lost) and its best point; Enter opens one
(``screens.sweep``). It asks the daemon again when a job changes (a point's job, most likely; at
most once a second) and every few seconds while a sweep is active, so it works the same over
``--remote``.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from heyhi.wire.protocol import DaemonError, SweepInfo, SweepList, SweepStatus

from ..widgets.banner import LinkBanner
from ..widgets.keybar import KeyBar
from ..widgets.sweeps import num, progress
from ..workers import node_work, watch_app

POLL_S = 2.0  # while a sweep is active
MIN_GAP_S = 1.0  # job events ask again at most this often


def best_text(info: SweepInfo) -> Text:
    """``loss=0.25 lr=0.1`` of the best point so far, or a dim dash."""
    b = info.best or {}
    if b.get("value") is None:
        return Text("-", style="dim")
    params = " ".join(f"{k}={v}" for k, v in (b.get("params") or {}).items())
    return Text.assemble((f"{info.metric}={num(b['value'])}", "bold"), f" {params}")


class SweepsScreen(Screen):
    BINDINGS = [
        Binding("enter", "open", "Open", id="sweeps.open", tooltip="The sweep's points, report and charts"),
        Binding("ctrl+r", "reload", "Reload", id="sweeps.reload", show=False, tooltip="Ask the daemon again now"),
    ]

    def __init__(self) -> None:
        super().__init__(id="sweeps")
        self.sweeps: list[SweepInfo] = []
        self.loaded = False  # the daemon answered once
        self.problem = ""
        self._asked = 0.0

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield LinkBanner()
        yield Static(id="sweeps-title")
        yield DataTable(id="sweeps-table", cursor_type="row", zebra_stripes=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "sweeps"
        table = self.query_one("#sweeps-table", DataTable)
        for label, key in (("sweep", "id"), ("kind", "kind"), ("config", "config"), ("", "active"),
                           ("progress", "progress"), ("best", "best")):
            table.add_column(label, key=key)
        table.focus()
        watch_app(self, "jobs_rev", self._jobs_changed, init=False)
        watch_app(self, "link_state", lambda state: state.connected and self.load(), init=False)
        self.set_interval(POLL_S, self._tick)
        self.load()
        self._show()

    def on_screen_resume(self) -> None:
        self.load()

    def _jobs_changed(self, rev: int) -> None:
        if time.monotonic() - self._asked >= MIN_GAP_S:
            self.load()

    def _tick(self) -> None:
        if any(s.active for s in self.sweeps):
            self.load()

    def action_reload(self) -> None:
        self.load()

    @node_work(exclusive=True, group="sweeps")
    async def load(self) -> None:
        self._asked = time.monotonic()
        try:
            reply = await self.app.link.request(SweepStatus())
        except DaemonError as e:
            self.problem = f"cannot list the sweeps: {e.message}"
        else:
            assert isinstance(reply, SweepList)
            self.problem = ""
            self.sweeps = sorted(reply.sweeps, key=lambda s: -(s.created or 0.0))
            self.loaded = True
        self._show()

    def _show(self) -> None:
        title = self.query_one("#sweeps-title", Static)
        table = self.query_one("#sweeps-table", DataTable)
        if self.problem:
            title.update(Text(self.problem, style="red"))
        elif not self.loaded:
            title.update(Text("asking the daemon…", style="dim"))
        elif not self.sweeps:
            title.update(Text.assemble(
                ("no sweeps yet. ", "bold"), "Type a sweep value in the launch editor (", ("lr=[0.1,0.2]", "bold"),
                ", ", ("seed=range(3)", "bold"), ") and launch it, or run ", ("heyhi run -c CONFIG 'lr=[0.1,0.2]'", "bold")))
        else:
            active = sum(s.active for s in self.sweeps)
            n = len(self.sweeps)
            title.update(Text.assemble((f"{n} sweep{'s' if n > 1 else ''}", "bold"), f", {active} active",
                                       ("   enter: points, report, charts", "dim")))
        cursor = table.cursor_row
        table.clear()
        for s in self.sweeps:
            table.add_row(Text(s.sweep_id, style="bold"), s.kind, self.app.config_label(s.config),
                          Text("active", style="bold dodger_blue1") if s.active else Text("idle", style="dim"),
                          progress(s.counts, 16 if self.size.width >= 120 else 8), best_text(s), key=s.sweep_id)
        if self.sweeps:
            table.move_cursor(row=min(cursor, len(self.sweeps) - 1))

    @property
    def selected_sweep(self) -> str | None:
        table = self.query_one("#sweeps-table", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)

    @on(DataTable.RowSelected, "#sweeps-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        sid = self.selected_sweep
        if sid is None:
            self.notify("no sweep to open", severity="warning")
            return
        self.app.show_sweep(sid)
