"""A run's ``metrics.jsonl`` as live charts: one ``Sparkline`` per metric with its last, min and
max values and the range of steps, refreshed as lines are appended.

The file is read through the daemon (``ReadFile`` from the last byte read: only what was appended
costs anything; so the same over ``--remote``), twice a second while the job runs and every few
seconds after. A file bigger than ``MAX_INITIAL`` is read from its last ``MAX_INITIAL`` bytes; each
metric keeps at most ``MAX_POINTS`` points (past that, every other one is dropped: the chart's
shape stays, memory stays bounded). Lines that do not parse (a line being written, a hand edit) and
values that are not finite numbers are skipped.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Sparkline, Static

from heyhi.wire.protocol import DaemonError

from ..format import LIVE
from ..workers import node_work
from .results import read_run_file

MAX_INITIAL = 8 << 20  # bytes of a big metrics.jsonl read at first (its end)
MAX_READ = 1 << 20  # bytes per request
MAX_POINTS = 10_000  # points kept per metric
MAX_METRICS = 64  # metrics charted (the first ones seen)
MAX_LINE = 1 << 20  # a "line" longer than this is dropped unread
POLL_LIVE_S = 0.5
POLL_IDLE_S = 3.0
SKIP_KEYS = frozenset({"step", "time"})


@dataclass
class Series:
    """One metric: its values and their steps (bounded), and the extremes of all values seen."""

    values: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    last: float = math.nan
    low: float = math.inf
    high: float = -math.inf
    count: int = 0

    def add(self, step: float, value: float) -> None:
        self.values.append(value)
        self.steps.append(step)
        self.last, self.count = value, self.count + 1
        self.low, self.high = min(self.low, value), max(self.high, value)
        if len(self.values) > MAX_POINTS:  # every other point goes; the newest one stays
            start = len(self.values) % 2
            del self.values[start::2], self.steps[start::2]


class MetricsBuffer:
    """Parses ``metrics.jsonl`` as its bytes arrive (``feed``), keeping a ``Series`` per metric."""

    def __init__(self) -> None:
        self.series: dict[str, Series] = {}
        self.partial = b""
        self.lines = 0
        self.skipped = 0
        self.dropped_metrics = 0

    def feed(self, data: bytes) -> bool:
        """Take the next bytes of the file; True when a value was added."""
        data = self.partial + data
        cut = data.rfind(b"\n")
        if cut < 0:
            self.partial = data if len(data) <= MAX_LINE else b""
            return False
        self.partial = data[cut + 1:]
        if len(self.partial) > MAX_LINE:
            self.partial = b""
        added = False
        for raw in data[:cut].split(b"\n"):
            if raw.strip():
                added = self._line(raw) or added
        return added

    def _line(self, raw: bytes) -> bool:
        self.lines += 1
        try:
            rec = json.loads(raw)
        except ValueError:
            self.skipped += 1
            return False
        if not isinstance(rec, dict):
            self.skipped += 1
            return False
        step = rec.get("step")
        step = float(step) if _number(step) else float(self.lines)
        added = False
        for name, value in rec.items():
            if name in SKIP_KEYS or not _number(value) or not math.isfinite(value):
                continue
            s = self.series.get(name)
            if s is None:
                if len(self.series) >= MAX_METRICS:
                    self.dropped_metrics += 1
                    continue
                s = self.series[name] = Series()
            s.add(step, float(value))
            added = True
        return added


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(v: float) -> str:
    if not math.isfinite(v):
        return "-"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def series_summary(name: str, s: Series) -> Text:
    """``loss  last 0.231  min 0.102  max 0.934  steps 0-300 (301)``."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(name, style="bold")
    text.append(f"  last {_num(s.last)}", style="cyan")
    text.append(f"  min {_num(s.low)}  max {_num(s.high)}")
    if s.steps:
        text.append(f"  steps {_num(s.steps[0])}–{_num(s.steps[-1])} ({s.count:,})", style="dim")
    return text


def _mean(xs: Any) -> float:
    return sum(xs) / len(xs)


class MetricChart(Vertical):
    """One metric: its summary line over its sparkline."""

    def __init__(self, name: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.metric = name

    def compose(self) -> ComposeResult:
        yield Static(classes="metric-summary")
        yield Sparkline([], summary_function=_mean, classes="metric-spark")

    def show(self, s: Series) -> None:
        self.query_one(".metric-summary", Static).update(series_summary(self.metric, s))
        self.query_one(Sparkline).data = list(s.values)


class MetricsView(VerticalScroll):
    """``run_dir``, ``job_id`` and ``jobs_rev`` in; reads and charts the run's metrics.jsonl."""

    run_dir: reactive[str] = reactive("")
    jobs_rev: reactive[int] = reactive(0)

    def __init__(self, job_id: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.job_id = job_id
        self.buffer = MetricsBuffer()
        self.read_offset: int | None = None
        self.first_offset = 0
        self.error = ""
        self.polls = 0
        self._skip_partial = False

    def compose(self) -> ComposeResult:
        yield Static(Text("reading metrics.jsonl…", style="dim"), id="metrics-status")

    def watch_run_dir(self) -> None:
        if self.run_dir and self.is_mounted:
            self.poll()

    def on_mount(self) -> None:
        if self.run_dir:
            self.poll()

    def stop(self) -> None:
        """Stop polling (a screen that is covered); ``poll`` starts again."""
        self.workers.cancel_group(self, "metrics-poll")

    def _live(self) -> bool:
        job = self.app.jobs.get(self.job_id)
        return job is not None and job.state in LIVE

    @node_work(exclusive=True, group="metrics-poll")
    async def poll(self) -> None:
        path = f"{self.run_dir}/metrics.jsonl"
        while True:
            try:
                changed = await self._read(path)
                self.error = ""
            except DaemonError as e:
                changed, self.error = True, f"metrics.jsonl: {e.message}"
            self.polls += 1
            if changed or self.polls == 1:
                await self._show()
            await asyncio.sleep(POLL_LIVE_S if self._live() else POLL_IDLE_S)

    async def _read(self, path: str) -> bool:
        """Read what was appended since the last read; True when the charts changed."""
        changed = False
        for _ in range(16):  # at most 16 MiB per poll: the rest on the next one
            first = self.read_offset is None
            data = await read_run_file(self.app, path, self.read_offset or 0, 0 if first else MAX_READ)
            if data is None:
                if self.read_offset:  # the file went away (the run started over)
                    self._start_over(None)
                    return True
                return changed
            if self.read_offset is None:  # first look (its size only): a big file is read from near its end
                self.first_offset = max(0, data.size - MAX_INITIAL)
                self._start_over(self.first_offset)
                continue
            if data.size < self.read_offset:  # shorter than what was read: the run started over
                self._start_over(0)
                changed = True
                continue
            if not data.data:
                return changed
            self.read_offset += len(data.data)
            chunk = data.data
            if self._skip_partial:  # read from the middle of a line: start at the next one
                nl = chunk.find(b"\n")
                if nl < 0:
                    continue
                chunk, self._skip_partial = chunk[nl + 1:], False
            changed = self.buffer.feed(chunk) or changed
            if self.read_offset >= data.size:
                return changed
        return changed

    def _start_over(self, offset: int | None) -> None:
        self.buffer, self.read_offset = MetricsBuffer(), offset
        self._skip_partial = bool(offset)

    async def _show(self) -> None:
        status = self.query_one("#metrics-status", Static)
        b = self.buffer
        if self.error:
            status.update(Text(self.error, style="red"))
        elif not b.series:
            status.update(Text("no metrics yet (heyhi.log_metrics(step, name=value) appends them to metrics.jsonl)"
                               if self.read_offset is None or not b.lines else
                               f"metrics.jsonl: {b.lines:,} lines, no numeric values", style="dim"))
        else:
            note = f"metrics.jsonl: {len(b.series)} metric{'s' if len(b.series) != 1 else ''}, {b.lines:,} lines"
            if self.first_offset:
                note += f" (from byte {self.first_offset:,})"
            if b.skipped:
                note += f", {b.skipped:,} skipped"
            if b.dropped_metrics:
                note += f", metrics past {MAX_METRICS} not charted"
            status.update(Text(note, style="dim"))
        charts = {c.metric: c for c in self.query(MetricChart)}
        for name, s in b.series.items():
            chart = charts.get(name)
            if chart is None:
                chart = MetricChart(name, classes="metric")
                await self.mount(chart)
            chart.show(s)
        for name, chart in charts.items():
            if name not in b.series:
                await chart.remove()

    @property
    def names(self) -> list[str]:
        return list(self.buffer.series)
