"""The jobs table (fed from the app's job store, updated in place) and the per-state counts."""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey

from heyhi.wire.protocol import JobInfo

from ..format import LIVE, STATE_STYLE, STATES, runtime, state_text

COLUMNS = (("id", "id"), ("config", "config"), ("overrides", "tag"), ("state", "state"),
           ("slurm", "slurm"), ("node", "node"), ("runtime", "runtime"), ("att", "attempts"))


def _ellipsize(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def job_matches(job: JobInfo, state: str, text: str) -> bool:
    if state and job.state != state:
        return False
    if text:
        hay = f"{job.job_id} {job.config} {job.tag} {job.state} {job.slurm_id or ''} {job.node or ''}".lower()
        return all(word in hay for word in text.lower().split())
    return True


class JobsTable(DataTable):
    """``jobs_rev`` / ``state_filter`` / ``text_filter`` in (the jobs themselves are read from
    ``source``, the app's store); ``JobsTable.Chosen`` out. Rows are added, updated cell by cell
    and removed in place, so the cursor stays put while events stream in."""

    jobs_rev: reactive[int] = reactive(0)
    state_filter: reactive[str] = reactive("")
    text_filter: reactive[str] = reactive("")

    class Chosen(Message):
        def __init__(self, job_id: str) -> None:
            super().__init__()
            self.job_id = job_id

    def __init__(self, source: Callable[[], Mapping[str, JobInfo]], label: Callable[[str], str],
                 clock: Callable[[], float] = time.time, **kw: Any) -> None:
        super().__init__(cursor_type="row", **kw)
        self._source = source
        self._label = label
        self._clock = clock
        self._shown: dict[str, JobInfo] = {}
        self._want_cursor: str | None = None
        self._tag_width = 16

    def on_mount(self) -> None:
        for title, key in COLUMNS:
            if key == "tag":
                self.add_column(title, key=key, width=self._tag_width)
            else:
                self.add_column(title, key=key)
        self.sync()
        self.set_interval(1.0, self._tick_runtimes)

    def watch_jobs_rev(self) -> None:
        self.sync()

    def watch_state_filter(self) -> None:
        self.sync()

    def watch_text_filter(self) -> None:
        self.sync()

    @property
    def selected_job(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - no rows / stale cursor
            return None
        return None if key.value is None else str(key.value)

    def _cells(self, j: JobInfo, now: float) -> list[Any]:
        return [
            Text(j.job_id, style="bold"),
            self._label(j.config),
            _ellipsize(j.tag, self._tag_width),
            state_text(j.state),
            j.slurm_id or "",
            j.node or "",
            runtime(j, now),
            str(j.attempts) if j.attempts else "",
        ]

    def sync(self) -> None:
        """Bring the rows in line with the store (identity diff: the store replaces a changed job)."""
        if not self.columns:
            return
        jobs = self._source()
        want = {jid: j for jid, j in jobs.items() if job_matches(j, self.state_filter, self.text_filter)}
        now = self._clock()
        for jid in [jid for jid in self._shown if jid not in want]:
            self.remove_row(jid)
            del self._shown[jid]
        keys = [k for k, _ in COLUMNS]
        for jid, j in sorted(want.items(), key=lambda kv: (kv[1].created or 0, kv[0])):
            old = self._shown.get(jid)
            if old is j:
                continue
            cells = self._cells(j, now)
            if old is None:
                self.add_row(*cells, key=jid)
            else:
                before = self._cells(old, now)
                for k, a, b in zip(keys, before, cells):
                    if str(a) != str(b) or k == "state":
                        self.update_cell(jid, k, b, update_width=True)
            self._shown[jid] = j
        if self._want_cursor is not None and self._want_cursor in self._shown:
            self.select_job(self._want_cursor)
        self.call_after_refresh(self._fit_tag)

    def on_resize(self) -> None:
        self._fit_tag()

    def _fit_tag(self) -> None:
        """The overrides tag takes what the other columns leave (all of them fit in 80 columns)."""
        if not self.size.width:
            return
        others = sum(c.get_render_width(self) for k, c in self.columns.items() if k.value != "tag")
        width = max(10, self.size.width - others - 2 * self.cell_padding - 2)
        if width == self._tag_width:
            return
        self._tag_width = width
        column = self.columns.get(ColumnKey("tag"))
        if column is None:
            return
        column.width = width
        for jid, j in self._shown.items():
            self.update_cell(jid, "tag", _ellipsize(j.tag, width))
        self._require_update_dimensions = True
        self.refresh()

    def _tick_runtimes(self) -> None:
        now = self._clock()
        for jid, j in self._shown.items():
            if j.state in LIVE and j.started is not None:
                self.update_cell(jid, "runtime", runtime(j, now), update_width=True)

    def select_job(self, job_id: str) -> bool:
        """Put the cursor on ``job_id`` (now, or as soon as its row arrives)."""
        try:
            row = self.get_row_index(job_id)
        except Exception:  # noqa: BLE001 - not shown (yet, or filtered out)
            self._want_cursor = job_id
            return False
        self._want_cursor = None
        self.move_cursor(row=row, animate=False)
        return True

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Chosen(str(event.row_key.value)))


class JobCounts(Static):
    """How many jobs are in each state (all jobs, not only the filtered ones)."""

    jobs_rev: reactive[int] = reactive(0)

    def __init__(self, source: Callable[[], Mapping[str, JobInfo]], **kw: Any) -> None:
        super().__init__(**kw)
        self._source = source

    def watch_jobs_rev(self) -> None:
        counts: dict[str, int] = {}
        for j in self._source().values():
            counts[j.state] = counts.get(j.state, 0) + 1
        text = Text()
        total = sum(counts.values())
        text.append(f"{total} job{'s' if total != 1 else ''}", style="bold")
        for s in list(STATES) + sorted(set(counts) - set(STATES)):
            if counts.get(s):
                text.append("  ")
                text.append(f"● {s} {counts[s]}", style=STATE_STYLE.get(s, ""))
        self.update(text)
