"""The diff of two runs' composed configs, or of a run against today's config file (composed with
the run's overrides): the keys whose value differs (a table, ``/`` filters it) over the unified
diff of the two configs as printed. The daemon computes it (``DiffRuns``: the core's one
implementation, ``heyhi.config.diff``), so it is the same over ``--remote`` and in ``heyhi diff``."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from heyhi.wire.protocol import ConfigDiff, DaemonError, DiffRuns

from ..format import fit_path
from ..widgets.banner import LinkBanner
from ..widgets.filterbox import FilterBox
from ..widgets.keybar import KeyBar
from ..workers import node_work

NONE = Text("(unset)", style="dim italic")


def diff_text(text: str, a: str = "", b: str = "") -> Text:
    """A unified diff with its lines coloured (removed red, added green, hunks cyan); its two
    header lines name the sides ``a`` and ``b`` when given (the title shows their paths)."""
    out = Text()
    lines = text.splitlines()
    if a and b and len(lines) >= 2 and lines[0].startswith("--- ") and lines[1].startswith("+++ "):
        lines[:2] = [f"--- a: {a}", f"+++ b: {b}"]
    for line in lines:
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        out.append(line + "\n", style=style)
    return out


class DiffScreen(FilterBox, Screen):
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="diff.filter", tooltip="Filter the changed keys"),
        Binding("t", "focus_text", "Text diff", id="diff.text", tooltip="Scroll the text diff (tab: back to the keys)"),
        Binding("escape", "back", "Back", id="diff.back", tooltip="Back"),
    ]

    FILTER_ID, FILTER_TARGET = "diff-filter", "diff-changes"

    def __init__(self, a: str, b: str = "", against_config: bool = False) -> None:
        super().__init__()
        self.a, self.b, self.against_config = a, b, against_config
        self.result: ConfigDiff | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield LinkBanner()
        yield Static(Text("comparing…", style="dim"), id="diff-title")
        yield Input(placeholder="/ filter keys", id="diff-filter", compact=True)
        yield DataTable(cursor_type="row", id="diff-changes")
        with VerticalScroll(id="diff-text"):
            yield Static(id="diff-text-body")
        yield KeyBar()

    def _side(self, which: str) -> str:
        if which == "a":
            return f"run {self.a}"
        return "today's config" if self.against_config else f"run {self.b}"

    def on_mount(self) -> None:
        self.sub_title = (f"{self.a} against today's config" if self.against_config else f"{self.a} ↔ {self.b}")
        self.query_one("#diff-filter").display = False
        self.query_one("#diff-changes").focus()
        self.load()

    @node_work(exclusive=True, group="diff")
    async def load(self) -> None:
        try:
            reply = await self.app.link.request(DiffRuns(a=self.a, b=self.b, against_config=self.against_config))
        except DaemonError as e:
            self.error = e.message
            if "unknown request kind" in e.message:  # a daemon from before DiffRuns
                self.error = "the daemon is older than this TUI and cannot compare runs: restart it " \
                             "(heyhi-daemon stop, then heyhi-daemon start)"
            self.query_one("#diff-title", Static).update(Text(f"cannot compare: {self.error}", style="red"))
            return
        assert isinstance(reply, ConfigDiff)
        self.result = reply
        self._show()

    def _show(self) -> None:
        d = self.result
        if d is None:
            return
        app: Any = self.app
        title = Text(no_wrap=True, overflow="ellipsis")
        width = max(20, (self.size.width or 80) - 2)
        for side, label in (("a", d.a_label), ("b", d.b_label)):
            head = f"{side}  {self._side(side)}  "
            shown = app.show_path(label.removesuffix("/config_meta.prototxt"))
            title.append(head, style="bold")
            title.append(fit_path(shown, width - len(head)) + "\n")
        if not d.total and not d.text:
            title.append("the same: no key differs", style="green")
        else:
            title.append(f"{d.total} key{'s' if d.total != 1 else ''} differ", style="yellow")
            if d.total > len(d.changes):
                title.append(f" (the first {len(d.changes)} listed)", style="dim")
        self.query_one("#diff-title", Static).update(title)
        self._columns(width)
        self._fill()
        self.query_one("#diff-text-body", Static).update(
            diff_text(d.text, self._side("a"), self._side("b")) if d.text else Text(""))

    def _columns(self, width: int) -> None:
        """The columns at widths that fit every change (so filtering never moves them), each at most
        a share of the screen (longer values end in an ellipsis)."""
        d = self.result
        assert d is not None
        table = self.query_one("#diff-changes", DataTable)
        table.clear(columns=True)
        room = max(30, width - 2 * 3 * table.cell_padding - 2)  # less the cells' padding and the scrollbar

        def need(title: str, texts: list[str]) -> int:
            return max([len(title), *(len(t) for t in texts)])

        key_w = min(need("key", [c.key for c in d.changes]), int(room * 0.4))
        a_need, b_need = (need(self._side(side), [getattr(c, side) or NONE.plain for c in d.changes])
                          for side in ("a", "b"))
        left = room - key_w
        if a_need + b_need > left:  # the narrower side keeps its width if it fits in half, the other the rest
            half = left // 2
            a_need, b_need = ((a_need, left - a_need) if a_need <= half else
                              (left - b_need, b_need) if b_need <= half else (half, left - half))
        table.add_column("key", key="key", width=key_w)
        table.add_column(self._side("a"), key="a", width=max(len(self._side("a")), a_need))
        table.add_column(self._side("b"), key="b", width=max(len(self._side("b")), b_need))

    def _fill(self) -> None:
        d = self.result
        if d is None:
            return
        table = self.query_one("#diff-changes", DataTable)
        table.clear()
        words = self.text_filter.lower().split()
        for c in d.changes:
            if words and not all(w in f"{c.key} {c.a or ''} {c.b or ''}".lower() for w in words):
                continue
            table.add_row(Text(c.key, style="bold", overflow="ellipsis"),
                          Text(c.a, style="red", overflow="ellipsis") if c.a is not None else NONE,
                          Text(c.b, style="green", overflow="ellipsis") if c.b is not None else NONE, key=c.key)

    @property
    def shown_keys(self) -> list[str]:
        table = self.query_one("#diff-changes", DataTable)
        return [str(table.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(table.row_count)]

    def action_focus_text(self) -> None:
        self.query_one("#diff-text").focus()

    def action_back(self) -> None:
        box = self.query_one("#diff-filter", Input)
        if box.has_focus:
            box.value = ""
            box.display = False
            self.query_one("#diff-changes").focus()
            return
        self.dismiss()
