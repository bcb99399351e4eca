"""What a run left in its folder, read through the daemon (``ReadFile``, bounded; so the same over
``--remote``): its result (``result.json``, as a key/value table filtered with ``/``) and a text
file shown whole (the composed config). ``read_run_file`` is the one bounded read they share.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static

from heyhi.wire.protocol import DaemonError, FileData, ReadFile

from ..workers import node_work
from .filterbox import FilterBox

MAX_RESULT = 1 << 20  # bytes of result.json read (a bigger one is shown as its first MiB of text)
MAX_TEXT = 256 << 10  # bytes of a text file shown
MAX_ROWS = 5000  # rows of the result table


async def read_run_file(app: Any, path: str, offset: int = 0, length: int = MAX_RESULT) -> FileData | None:
    """At most ``length`` bytes of ``path`` from ``offset`` through the daemon; None when there is no
    such file. Other failures raise ``DaemonError`` (one line)."""
    try:
        reply = await app.link.request(ReadFile(path=path, offset=offset, length=length))
    except DaemonError as e:
        if e.code == "not_found":
            return None
        raise
    return reply if isinstance(reply, FileData) else None


def flat_result(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A JSON value as sorted-as-written (dotted key, value text) rows; a scalar is one row "result"."""
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for k, v in value.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict) and v:
                rows.extend(flat_result(v, key + "."))
            else:
                rows.append((key, _value_text(v)))
            if len(rows) >= MAX_ROWS:
                break
        return rows[:MAX_ROWS]
    return [(prefix.rstrip(".") or "result", _value_text(value))]


def _value_text(v: Any) -> str:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, str):
        return v
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 2000 else text[:1999] + "…"


class ResultsView(FilterBox, Vertical):
    """The run's ``result.json`` (``run_dir`` and ``rev`` in: ``rev`` changes when it may have
    changed): a key/value table, ``/`` filters it."""

    BINDINGS = [Binding("slash", "filter", "Filter", id="results.filter", tooltip="Filter the results by key or value")]

    run_dir: reactive[str] = reactive("")
    rev: reactive[int] = reactive(0)
    FILTER_ID, FILTER_TARGET = "results-filter", "results-table"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.rows: list[tuple[str, str]] = []
        self.status = "reading result.json…"
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(self.status, id="results-status")
        yield Input(placeholder="/ filter results", id="results-filter", compact=True)
        yield DataTable(cursor_type="row", id="results-table")

    def on_mount(self) -> None:
        self.query_one("#results-filter").display = False
        if self.run_dir:
            self.load()

    def watch_rev(self) -> None:
        if self.run_dir and self.is_mounted:
            self.load()

    def watch_run_dir(self) -> None:
        if self.run_dir and self.is_mounted:
            self.load()

    @node_work(exclusive=True, group="results")
    async def load(self) -> None:
        path = f"{self.run_dir}/result.json"
        try:
            data = await read_run_file(self.app, path, 0, MAX_RESULT)
        except DaemonError as e:
            self._set([], f"result.json: {e.message}")
            return
        if data is None:
            self._set([], "no result.json yet (a task writes it when it returns a value that JSON can hold)")
            return
        if data.size > len(data.data):
            rows = [("(text)", data.data.decode("utf-8", "replace"))]
            self._set(rows, f"result.json is {data.size:,} bytes: its first {len(data.data):,} shown as text")
            return
        try:
            value = json.loads(data.data.decode("utf-8", "replace"))
        except ValueError as e:
            self._set([("(text)", data.data.decode("utf-8", "replace")[:2000])], f"result.json does not parse: {e}")
            return
        rows = flat_result(value)
        self._set(rows, f"result.json: {len(rows)} value{'s' if len(rows) != 1 else ''}")

    def _set(self, rows: list[tuple[str, str]], status: str) -> None:
        self.rows, self.status, self.loaded = rows, status, True
        self.query_one("#results-status", Static).update(Text(status, style="dim"))
        # The key column as wide as the longest key (at most 40% of the view): filtering never moves it.
        table = self.query_one("#results-table", DataTable)
        table.clear(columns=True)
        longest = max((len(k) for k, _ in rows), default=3)
        table.add_column("key", key="key", width=max(3, min(longest, int((self.size.width or 80) * 0.4))))
        table.add_column("value", key="value")
        self._fill()

    def _fill(self) -> None:
        table = self.query_one("#results-table", DataTable)
        if not table.columns:
            return
        table.clear()
        words = self.text_filter.lower().split()
        for key, value in self.rows:
            if all(w in f"{key} {value}".lower() for w in words):
                table.add_row(Text(key, style="bold", overflow="ellipsis"), Text(value), key=key)



class RunTextView(VerticalScroll):
    """A text file of the run folder, shown whole (``paths`` in: the first that exists is shown)."""

    paths: reactive[tuple[str, ...]] = reactive(())
    rev: reactive[int] = reactive(0)

    def __init__(self, what: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.what = what
        self.shown_path = ""
        self.file_text = ""

    def compose(self) -> ComposeResult:
        yield Static(Text(f"reading the {self.what}…", style="dim"), classes="run-text")

    def on_mount(self) -> None:
        if self.paths:
            self.load()

    def watch_paths(self) -> None:
        if self.paths and self.is_mounted:
            self.load()

    def watch_rev(self) -> None:
        if self.paths and self.is_mounted:
            self.load()

    @node_work(exclusive=True, group="run-text")
    async def load(self) -> None:
        body = self.query_one(".run-text", Static)
        for path in self.paths:
            try:
                data = await read_run_file(self.app, path, 0, MAX_TEXT)
            except DaemonError as e:
                body.update(Text(f"{path}: {e.message}", style="red"))
                return
            if data is None:
                continue
            self.shown_path, self.file_text = path, data.data.decode("utf-8", "replace")
            head = Text(path.rsplit("/", 1)[-1], style="bold")
            if data.size > len(data.data):
                head.append(f"  (the first {len(data.data):,} of {data.size:,} bytes)", style="yellow")
            body.update(Text.assemble(head, "\n", Text(self.file_text)))
            return
        names = ", ".join(p.rsplit("/", 1)[-1] for p in self.paths)
        body.update(Text(f"no {names} in the run folder", style="yellow"))
