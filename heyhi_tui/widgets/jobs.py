"""The jobs table (fed from the app's job store, updated in place) and the per-state counts.

The table shows what tells runs apart: the overrides in full (wrapped in their column, at most
``MAX_ROW_LINES`` lines a row, an ellipsis past that), the project (wide screens; on narrow ones
when the rows span several), the age; on wide screens also what a Slurm run cost (GPU-hours for a
job that held GPUs, else CPU-hours: ``cost_text``, as the daemon's ``JobInfo`` carries it; the column
shows only when some job has a cost, blank for the others). Rows are sorted by any column
(``sort_key``, ``sort_reverse``, given by the screen; newest first by default) and filtered by state,
text and project. Rows are
added, updated cell by cell and removed in place, and the cursor stays on its job while events
stream in and rows move. ``space`` marks rows (``marked``) for the actions on several jobs.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey

from heyhi.wire.protocol import JobInfo

from ..format import (
    LIVE, STATE_STYLE, STATES, age, job_time, overrides_text, project_label, project_of, runtime, same_project,
    state_text,
)

# (key, title, wide screens only)
COLUMNS = (
    ("id", "id", False), ("project", "project", False), ("config", "config", False),
    ("overrides", "overrides", False), ("state", "state", False), ("age", "age", False),
    ("runtime", "runtime", True), ("slurm_id", "slurm", True), ("node", "node", True), ("attempts", "att", True),
    ("cost", "cost", True),
)
TITLES = {k: t for k, t, _ in COLUMNS}
SORT_ORDER = ("age", "state", "config", "overrides", "project", "id", "runtime", "slurm_id", "node", "attempts",
              "cost")
MIN_OVERRIDES = 16  # the overrides column never gets narrower (the table scrolls sideways instead)
MAX_ROW_LINES = 4  # lines of overrides a row shows at most (then an ellipsis; the job screen has all)
MAX_LABEL = 24  # cells of a config or project label (longer ones are cut with an ellipsis)
MARK = "●"


def _ellipsize(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def _has_cost(j: JobInfo) -> bool:
    return j.cpu_hours is not None or j.gpu_hours is not None


def cost_text(j: JobInfo) -> str:
    """``2.5 GPU-h`` for a job that held GPUs, else ``0.0017 CPU-h``; "" when the daemon knows no cost
    (a local run, a Slurm run not ended or without accounting)."""
    gpu, cpu = j.gpu_hours, j.cpu_hours
    unit, h = ("GPU", gpu) if gpu else ("CPU", cpu)
    if not isinstance(h, (int, float)):
        return ""
    return f"{h:.3g} {unit}-h" if h >= 0.001 or not h else f"{h:.2g} {unit}-h"


def job_matches(job: JobInfo, state: str, text: str, project: str = "") -> bool:
    """Whether ``job`` passes the filters: a state, words of text (all must appear in its id,
    config, overrides, tag, state, Slurm id, node or project), the project root ("": any)."""
    if state and job.state != state:
        return False
    if project and not same_project(job, project):
        return False
    if text:
        ovs = " ".join(job.overrides) if getattr(job, "overrides", None) else ""
        hay = (f"{job.job_id} {job.config} {ovs} {job.tag} {job.state} {job.slurm_id or ''} {job.node or ''} "
               f"{project_of(job)}").lower()
        return all(word in hay for word in text.lower().split())
    return True


def _runtime_s(j: JobInfo, now: float) -> float:
    if j.started is None:
        return -1.0
    end = j.ended if j.ended is not None else (now if j.state in LIVE else j.started)
    return end - j.started


def sort_value(j: JobInfo, key: str, label: Callable[[str], str], now: float) -> Any:
    """What rows are ordered by in column ``key`` (ascending; ``age``: newest first)."""
    if key == "age":
        return -(job_time(j) or 0.0)
    if key == "state":
        return STATES.index(j.state) if j.state in STATES else len(STATES)
    if key == "config":
        return label(j.config).lower()
    if key == "overrides":
        return overrides_text(j).plain.lower()
    if key == "project":
        return project_label(project_of(j)).lower()
    if key == "runtime":
        return _runtime_s(j, now)
    if key == "attempts":
        return j.attempts
    if key == "slurm_id":
        return j.slurm_id or ""
    if key == "node":
        return j.node or ""
    if key == "cost":
        return (j.gpu_hours or 0.0, j.cpu_hours if j.cpu_hours is not None else -1.0)
    return j.job_id


class JobsView:
    """Mixin: what a jobs view shows, bound from the jobs screen into its table (``data_bind``)."""

    jobs_rev: reactive[int] = reactive(0)
    state_filter: reactive[str] = reactive("")
    text_filter: reactive[str] = reactive("")
    project_filter: reactive[str] = reactive("")  # a project root: only its jobs ("": every project)
    sort_key: reactive[str] = reactive("age")
    sort_reverse: reactive[bool] = reactive(False)
    wide: reactive[bool] = reactive(False)


class JobsTable(JobsView, DataTable):
    """``jobs_rev`` / ``state_filter`` / ``text_filter`` / ``project_filter`` / ``sort_key`` /
    ``sort_reverse`` / ``wide`` in (the jobs themselves are read from ``source``, the app's store);
    ``JobsTable.Chosen`` and ``JobsTable.MarksChanged`` out."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", id="jobs.open", tooltip="The job's screen: details, history, log"),
        Binding("space", "toggle_mark", "Mark", id="jobs.mark",
                tooltip="Mark the job (several marked: restart, cancel, wipe act on all; two: diff them)"),
    ]

    class Chosen(Message):
        def __init__(self, job_id: str) -> None:
            super().__init__()
            self.job_id = job_id

    class MarksChanged(Message):
        """The marked jobs changed (read ``JobsTable.marked``)."""

    def __init__(self, source: Callable[[], Mapping[str, JobInfo]], label: Callable[[str], str],
                 clock: Callable[[], float] = time.time, **kw: Any) -> None:
        super().__init__(cursor_type="row", **kw)
        self._source = source
        self._label = label
        self._clock = clock
        self._shown: dict[str, JobInfo] = {}
        self._want_cursor: str | None = None
        self._ovr_width = MIN_OVERRIDES
        self._keys: tuple[str, ...] = ()
        self._building = False
        self.marked: set[str] = set()

    def on_mount(self) -> None:
        self._set_columns()
        self.set_interval(1.0, self._tick)

    # ---- columns ----------------------------------------------------------------------------------
    def _wanted_columns(self, jobs: list[JobInfo]) -> tuple[str, ...]:
        several = len({project_of(j) for j in jobs}) > 1
        costs = self.wide and any(_has_cost(j) for j in jobs)
        return tuple(k for k, _, wide_only in COLUMNS
                     if (self.wide or not wide_only) and (k != "project" or self.wide or several)
                     and (k != "cost" or costs))

    def _set_columns(self, keys: tuple[str, ...] | None = None) -> None:
        """(Re)make the columns (``keys``: which; default: for the jobs shown), then every row."""
        want = self._filtered()
        keys = keys if keys is not None else self._wanted_columns(list(want.values()))
        cursor = self.selected_job
        self._building = True  # reading a reactive the first time runs its watcher: no resort now
        try:
            self.clear(columns=True)
            self._shown = {}
            self._keys = keys
            for key in keys:
                title = self._title(key)
                if key == "overrides":
                    self.add_column(title, key=key, width=self._ovr_width)
                else:
                    self.add_column(title, key=key)
        finally:
            self._building = False
        if cursor is not None and self._want_cursor is None:
            self._want_cursor = cursor
        self.sync()

    def _title(self, key: str) -> Text:
        title = Text(TITLES[key])
        if key == self.sort_key:
            title.append(" ▼" if self.sort_reverse else " ▲", style="bold")
        return title

    def watch_wide(self) -> None:
        if self.is_mounted:
            self._set_columns()

    def watch_sort_key(self) -> None:
        self._resort(titles=True)

    def watch_sort_reverse(self) -> None:
        self._resort(titles=True)

    # ---- rows ---------------------------------------------------------------------------------------
    def watch_jobs_rev(self) -> None:
        self.sync()

    def watch_state_filter(self) -> None:
        self.sync()

    def watch_text_filter(self) -> None:
        self.sync()

    def watch_project_filter(self) -> None:
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

    @property
    def column_keys(self) -> tuple[str, ...]:
        """The columns shown, left to right."""
        return self._keys

    @property
    def shown_jobs(self) -> list[str]:
        """The job ids of the rows, top to bottom."""
        return [str(k.value) for k in self._row_order()]

    def _row_order(self) -> list[Any]:
        return [self._row_locations.get_key(i) for i in range(self.row_count)]

    def _filtered(self) -> dict[str, JobInfo]:
        return {jid: j for jid, j in self._source().items()
                if job_matches(j, self.state_filter, self.text_filter, self.project_filter)}

    def _overrides_cell(self, j: JobInfo) -> tuple[Text, int]:
        """The overrides wrapped to the column (at most MAX_ROW_LINES lines), and its line count."""
        text = overrides_text(j)
        if not self.is_mounted:
            return text, 1
        lines = list(text.wrap(self.app.console, self._ovr_width, overflow="fold"))
        if len(lines) > MAX_ROW_LINES:
            last = lines[MAX_ROW_LINES - 1]
            last.truncate(max(1, self._ovr_width - 1))
            last.append("…", style="bold")
            lines = lines[:MAX_ROW_LINES]
        out = Text("\n").join(lines) if lines else Text("")
        return out, max(1, len(lines))

    def _cells(self, j: JobInfo, now: float) -> dict[str, Any]:
        mark = MARK if j.job_id in self.marked else " "
        return {
            "id": Text.assemble((mark, "bold yellow"), (j.job_id, "bold")),
            "project": Text(_ellipsize(project_label(project_of(j)), MAX_LABEL)),
            "config": Text(_ellipsize(self._label(j.config), MAX_LABEL)),
            "state": state_text(j.state),
            "age": Text(age(j, now)),
            "runtime": Text(runtime(j, now)),
            "slurm_id": Text(j.slurm_id or ""),
            "node": Text(j.node or ""),
            "attempts": Text(str(j.attempts) if j.attempts else ""),
            "cost": Text(cost_text(j)),
        }

    def sync(self) -> None:
        """Bring the rows in line with the store (identity diff: the store replaces a changed job)."""
        if not self.columns:
            return
        want = self._filtered()
        if self._wanted_columns(list(want.values())) != self._keys:
            self._set_columns()
            return
        now = self._clock()
        moved = False
        first_fill = not self._shown and self._want_cursor is None  # the cursor then starts on the top row
        for jid in [jid for jid in self._shown if jid not in want]:
            self.remove_row(jid)
            del self._shown[jid]
            moved = True
        for jid, j in want.items():
            old = self._shown.get(jid)
            if old is j:
                continue
            if old is None or overrides_text(old).plain != overrides_text(j).plain:  # (re)added at the end
                if old is not None:
                    self.remove_row(jid)
                self._add(j, now)
                moved = True
            else:
                before, cells = self._cells(old, now), self._cells(j, now)
                for k in self._keys:
                    if k in cells and (str(before[k]) != str(cells[k]) or k == "state"):
                        self.update_cell(jid, k, cells[k], update_width=True)
                moved = moved or sort_value(old, self.sort_key, self._label, now) != \
                    sort_value(j, self.sort_key, self._label, now)
            self._shown[jid] = j
        if self.marked - set(self._source()):
            self.marked &= set(self._source())
            self.post_message(self.MarksChanged())
        if moved:
            self._resort(top=first_fill)
        elif self._want_cursor is not None and self._want_cursor in self._shown:
            self.select_job(self._want_cursor)
        self.call_after_refresh(self._fit_overrides)

    def _add(self, j: JobInfo, now: float) -> None:
        cells = self._cells(j, now)
        ovr, height = self._overrides_cell(j)
        cells["overrides"] = ovr
        self.add_row(*(cells[k] for k in self._keys), key=j.job_id, height=height)

    def _resort(self, titles: bool = False, top: bool = False) -> None:
        """Order the rows by the sort column, the cursor staying on its job (``top``: on the first row)."""
        if not self.columns or self._building:
            return
        if titles:
            for key in self._keys:
                column = self.columns.get(ColumnKey(key))
                if column is not None:
                    column.label = self._title(key)
            self._require_update_dimensions = True
        keep = self._want_cursor or self.selected_job
        now = self._clock()
        shown, label, key, rev = self._shown, self._label, self.sort_key, self.sort_reverse

        def order(cell: Text) -> Any:
            jid = cell.plain[len(MARK):]
            j = shown.get(jid)
            if j is None:
                return (0, "", 0.0, jid)
            # Ties: newest first whatever the direction.
            tie = (job_time(j) or 0.0) if rev else -(job_time(j) or 0.0)
            return (1, sort_value(j, key, label, now), tie, jid)

        self.sort("id", key=order, reverse=rev)
        if top and self.row_count:
            self.move_cursor(row=0, animate=False)
        elif keep is not None:
            self.select_job(keep)
        self.refresh()

    def on_resize(self) -> None:
        self._fit_overrides()

    def _fit_overrides(self) -> None:
        """The overrides take the width the other columns leave (at least MIN_OVERRIDES); a new
        width re-wraps every row."""
        if not self.size.width or not self.columns or "overrides" not in self._keys:
            return
        others = sum(c.get_render_width(self) for k, c in self.columns.items() if k.value != "overrides")
        room = self.size.width - self.styles.scrollbar_size_vertical - others - 2 * self.cell_padding
        width = max(MIN_OVERRIDES, room)
        if width == self._ovr_width:
            return
        self._ovr_width = width
        column = self.columns.get(ColumnKey("overrides"))
        if column is None:
            return
        column.width = width
        now = self._clock()
        keep = self._want_cursor or self.selected_job
        for jid in list(self._shown):
            self.remove_row(jid)
            self._add(self._shown[jid], now)
        self._want_cursor = keep
        self._resort()

    def _tick(self) -> None:
        """Ages and run times move with the clock."""
        now = self._clock()
        changed = False
        for jid, j in self._shown.items():
            if "age" in self._keys:
                text = age(j, now)
                if self.get_cell(jid, "age").plain != text:
                    self.update_cell(jid, "age", Text(text), update_width=True)
                    changed = True
            if "runtime" in self._keys and j.state in LIVE and j.started is not None:
                self.update_cell(jid, "runtime", Text(runtime(j, now)), update_width=True)
                changed = True
        if changed:  # a wider age or run time leaves less room for the overrides
            self.call_after_refresh(self._fit_overrides)

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

    # ---- marks ----------------------------------------------------------------------------------
    def action_toggle_mark(self) -> None:
        jid = self.selected_job
        if jid is None:
            return
        self.set_marked(self.marked ^ {jid})
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1, animate=False)

    def set_marked(self, marked: set[str]) -> None:
        """Mark exactly ``marked`` (job ids) and show it."""
        changed = marked ^ self.marked
        self.marked = set(marked)
        now = self._clock()
        for jid in changed:
            if jid in self._shown:
                self.update_cell(jid, "id", self._cells(self._shown[jid], now)["id"])
        self.post_message(self.MarksChanged())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Chosen(str(event.row_key.value)))


class JobCounts(Static):
    """How many jobs are in each state (all jobs, not only the filtered ones), what is marked,
    and the order of the rows."""

    jobs_rev: reactive[int] = reactive(0)
    marks: reactive[int] = reactive(0)
    sort_key: reactive[str] = reactive("age")
    sort_reverse: reactive[bool] = reactive(False)

    def __init__(self, source: Callable[[], Mapping[str, JobInfo]], **kw: Any) -> None:
        super().__init__(**kw)
        self._source = source

    def watch_jobs_rev(self) -> None:
        self._show()

    def watch_marks(self) -> None:
        self._show()

    def watch_sort_key(self) -> None:
        self._show()

    def watch_sort_reverse(self) -> None:
        self._show()

    def _show(self) -> None:
        counts: dict[str, int] = {}
        for j in self._source().values():
            counts[j.state] = counts.get(j.state, 0) + 1
        text = Text(no_wrap=True, overflow="ellipsis")
        total = sum(counts.values())
        text.append(f"{total} job{'s' if total != 1 else ''}", style="bold")
        if self.marks:
            text.append(f"  {MARK} {self.marks} marked", style="bold yellow")
        for s in list(STATES) + sorted(set(counts) - set(STATES)):
            if counts.get(s):
                text.append("  ")
                text.append(f"● {s} {counts[s]}", style=STATE_STYLE.get(s, ""))
        order = "newest first" if self.sort_key == "age" and not self.sort_reverse else \
            "oldest first" if self.sort_key == "age" else f"by {TITLES.get(self.sort_key, self.sort_key)}" + \
            (" ▼" if self.sort_reverse else " ▲")
        text.append(f"  · {order}", style="dim")
        self.update(text)
