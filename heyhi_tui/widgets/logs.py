"""A job's stdout/stderr, read by byte offset through the daemon: follows any flood to the true end.

The pane holds a window of the file (``LineWindow``): at most ``MAX_LINES`` lines and ``MAX_BYTES``
bytes, each line with the byte offset where it starts, whatever the file's size. Following, a
``Logs(offset, follow)`` stream appends to the window and the oldest lines are dropped, so the view
keeps up with a job printing millions of lines and always ends on the file's last line (a stream
``LAG_BYTES`` behind the file, e.g. over a slow SSH link, starts again from its last lines). The
stream's chunks are cut into lines with C-level splits only (no per-line Python work), the view
follows the window at most 20 times a second (``SYNC_S``) and draws only the lines in view, so keys
are answered during a flood.

Scrolling up pauses following (the view stays put; the stream keeps filling the window until it is
full, then stops); ``G``/End resumes it at the true end of the file. Scrolling past the window's top
or bottom reads more of the file (``ReadFile`` backwards, the stream forwards). ``/`` searches the
whole file on the daemon (``SearchLog``, in bounded steps), and a match outside the window re-reads
the file around it. ``e`` switches stdout/stderr; a crashed job opens on stderr.

What is shown of a line: a ``\\r`` progress bar (tqdm) as its last state, ANSI colours rendered, a
line longer than ``MAX_LINE_BYTES`` cut with a mark (its bytes beyond are never kept).
"""

from __future__ import annotations

import asyncio
import re
import time
from bisect import bisect_right
from itertools import accumulate, islice, repeat
from operator import add
from pathlib import PurePosixPath
from typing import Any, Iterator, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from heyhi.runs import records as R
from heyhi.wire.protocol import DaemonError, FileData, LogChunk, LogMatches, Logs, ReadFile, SearchLog

from ..format import LIVE
from ..workers import node_work

MAX_LINES = 200_000  # lines the window keeps
MAX_BYTES = 32 * 1024 * 1024  # bytes of line text the window keeps
MAX_LINE_BYTES = 16 * 1024  # a longer line is cut (with a mark); the rest of it is never kept
READ_BACK = 512 * 1024  # bytes read before the window when scrolling up or jumping to a match
# A followed stream this far behind the file starts again from its last lines: what lies between
# would take long to go through, and scrolling up reads it back by offset if wanted.
LAG_BYTES = 8 * 1024 * 1024
RECONNECT_S = (0.2, 0.5, 1.0, 2.0)
SYNC_S = 0.05  # the view follows the window at most this often (a flood costs ~20 frames a second)
SEARCH_HITS = 1  # matches asked per SearchLog
_CONTROL = re.compile("[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]").sub  # shown as "?" (ESC is kept for colours)


def collapse_cr(raw: bytes) -> bytes:
    """A line as a terminal leaves it after its ``\\r``s: the text after the last one (a progress
    bar's last state). A trailing ``\\r`` (``\\r\\n`` line ends) is ignored."""
    raw = raw.rstrip(b"\r")
    i = raw.rfind(b"\r")
    return raw if i < 0 else raw[i + 1:]


def line_str(raw: bytes) -> str:
    """A stored line as text: ``\\r`` collapsed, UTF-8 (bad bytes replaced), tabs expanded,
    control characters but ESC as ``?``."""
    if b"\r" in raw:
        raw = collapse_cr(raw)
    s = raw.decode("utf-8", "replace")
    if "\t" in s:
        s = s.expandtabs()
    return _CONTROL("?", s)


def line_text(raw: bytes) -> Text:
    """How a stored line is shown: ``line_str`` with its ANSI colours rendered."""
    s = line_str(raw)
    if "\x1b" in s:
        return Text.from_ansi(s, no_wrap=True, end="")
    return Text(s, no_wrap=True, end="")


class LineWindow:
    """Part of a log file as lines, each with the byte offset where it starts (no Textual).

    ``hi`` is the offset of the next byte to read (the stream's offset); the bytes of an unfinished
    last line are kept apart (``partial``, from ``partial_start``). ``feed`` appends what was read
    at ``hi``; ``prepend`` adds lines read before ``lo``; ``drop_front``/``drop_back`` keep it
    within ``MAX_LINES`` and ``MAX_BYTES``.
    """

    def __init__(self) -> None:
        self.reset(None)

    def reset(self, offset: int | None) -> None:
        """Empty, reading next at ``offset`` (None: not placed yet; the first chunk places it)."""
        self.lines: list[bytes] = []
        self.starts: list[int] = []
        self.cut: dict[int, int] = {}  # line start -> the line's whole length, for lines cut
        self.stored = 0  # bytes in ``lines``
        self.widest = 0  # bytes of the longest line seen (the view's width)
        self.placed = offset is not None
        self.hi = offset or 0
        self.partial = b""
        self.partial_start = self.hi
        self.partial_cut = 0  # bytes of the unfinished line not kept
        self.complete = False  # the unfinished line was finished by the end of the log

    # ---- reading ---------------------------------------------------------------------------------
    @property
    def lo(self) -> int:
        """The offset of the first line (or of the unfinished one)."""
        return self.starts[0] if self.starts else self.partial_start

    @property
    def count(self) -> int:
        """Lines shown: the complete ones and the unfinished one, if any."""
        return len(self.lines) + (1 if self.partial or self.partial_cut else 0)

    def start_of(self, i: int) -> int:
        return self.starts[i] if i < len(self.lines) else self.partial_start

    def raw(self, i: int) -> bytes:
        return self.lines[i] if i < len(self.lines) else self.partial

    def cut_length(self, i: int) -> int:
        """The whole length of line ``i`` if it was cut, else 0."""
        if i < len(self.lines):
            return self.cut.get(self.starts[i], 0) if self.cut else 0
        return self.partial_cut + len(self.partial) if self.partial_cut else 0

    def index_of(self, offset: int) -> int:
        """The line holding byte ``offset`` (0 if before the window, the last if after)."""
        if offset >= self.partial_start and (self.partial or self.partial_cut):
            return len(self.lines)
        return max(0, bisect_right(self.starts, offset) - 1)

    def over(self) -> bool:
        return len(self.lines) > MAX_LINES or self.stored > MAX_BYTES

    # ---- writing ---------------------------------------------------------------------------------
    def feed(self, data: bytes) -> int:
        """Append ``data``, the file's bytes at ``hi``. Returns the number of lines completed."""
        if not data:
            return 0
        if not self.placed:
            self.placed = True
        has_cr = b"\r" in data
        parts = data.split(b"\n")
        tail = parts.pop()
        n = len(parts)
        if n:
            starts = list(accumulate(map(add, map(len, parts), repeat(1)), initial=self.hi))
            starts[0] = self.partial_start
            next_start = starts.pop()
            if self.partial_cut:
                first_end = (starts[1] if n > 1 else next_start) - 1
                self.cut[self.partial_start] = first_end - self.partial_start
                parts[0] = self.partial
            elif self.partial:
                has_cr = has_cr or b"\r" in self.partial
                parts[0] = self.partial + parts[0]
            self._add(parts, starts, next_start, has_cr)
            self.partial, self.partial_cut, self.partial_start = b"", 0, next_start
        if self.partial_cut:
            self.partial_cut += len(tail)
        elif tail:
            self.partial = self.partial + tail if self.partial else tail
            if len(self.partial) > MAX_LINE_BYTES:
                self._bound_partial()
        self.hi += len(data)
        return n

    def _bound_partial(self) -> None:
        """An unfinished line kept short: a progress bar only from its last ``\\r`` (what is
        shown); else cut, counting the bytes not kept in ``partial_cut``."""
        p = self.partial
        i = p.rfind(b"\r", 0, len(p) - 1)
        if i > 0:
            p = p[i:]
        if len(p) > MAX_LINE_BYTES:
            self.partial_cut = len(p) - MAX_LINE_BYTES
            p = p[:MAX_LINE_BYTES]
        self.partial = p

    def _add(self, parts: list[bytes], starts: list[int], end: int, has_cr: bool) -> None:
        """Append complete lines (``parts`` starting at ``starts``; the last ends before ``end``)."""
        parts, longest, shaped = self._shape(parts, starts, end, has_cr)
        self.lines.extend(parts)
        self.starts.extend(starts)
        # The bytes kept: the file's bytes less the line ends, unless lines were collapsed or cut.
        self.stored += sum(map(len, parts)) if shaped or self.partial else end - starts[0] - len(parts)
        self.widest = max(self.widest, min(longest, MAX_LINE_BYTES + 32))

    def _shape(self, parts: list[bytes], starts: Sequence[int], end: int,
               has_cr: bool) -> tuple[list[bytes], int, bool]:
        """(lines as stored, the longest's length, changed?): ``\\r`` collapsed (``has_cr``: some
        line holds one), cut at ``MAX_LINE_BYTES`` (noted in ``cut``). Only the lines that need it
        are touched; the common case costs C-level checks only."""
        if not parts:
            return parts, 0, False
        if has_cr:
            parts = [collapse_cr(p) if b"\r" in p else p for p in parts]
        longest = max(map(len, parts))
        if longest > MAX_LINE_BYTES:
            for i, p in enumerate(parts):
                if len(p) > MAX_LINE_BYTES:
                    stop = starts[i + 1] - 1 if i + 1 < len(starts) else end - 1
                    self.cut[starts[i]] = max(len(p), stop - starts[i])
                    parts[i] = p[:MAX_LINE_BYTES]
            longest = MAX_LINE_BYTES
        return parts, longest, has_cr or longest >= MAX_LINE_BYTES

    def finish(self) -> None:
        """The log ended: its unfinished last line is a line."""
        if self.partial or self.partial_cut:
            if self.partial_cut:
                self.cut[self.partial_start] = self.hi - self.partial_start
            self._add([self.partial], [self.partial_start], self.hi + 1, b"\r" in self.partial)
            self.partial, self.partial_cut, self.partial_start = b"", 0, self.hi
            self.complete = True

    def prepend(self, data: bytes, start: int) -> int:
        """Add the lines of ``data`` (the file's bytes from ``start`` up to ``lo``) before the
        window. A first line that began before ``start`` is left out, unless ``start`` is 0 or the
        block holds no other line. Returns the number of lines added."""
        end = start + len(data)
        if end != self.lo or not data:
            return 0
        cut = 0
        if start > 0:
            cut = data.find(b"\n") + 1
            if cut <= 0 or cut >= len(data):
                cut = 0  # one long line: shown from where it was read
        body = data[cut:]
        if body.endswith(b"\n"):
            body = body[:-1]
        parts = body.split(b"\n")
        starts = list(accumulate(map(add, map(len, parts), repeat(1)), initial=start + cut))
        starts.pop()
        parts, longest, _ = self._shape(parts, starts, end, b"\r" in body)
        self.lines[:0] = parts
        self.starts[:0] = starts
        self.stored += sum(map(len, parts))
        self.widest = max(self.widest, min(longest, MAX_LINE_BYTES + 32))
        return len(parts)

    def load(self, data: bytes, start: int) -> None:
        """Replace the window by the lines of ``data`` (the file's bytes from ``start``): the first
        line only if it starts there, the last, unfinished one as the partial line."""
        self.reset(start)
        cut = 0
        if start > 0:
            cut = data.find(b"\n") + 1
            if cut <= 0:
                cut = 0
        self.hi = self.partial_start = start + cut
        self.feed(data[cut:])

    def drop_front(self, n: int | None = None) -> int:
        """Drop the first ``n`` lines (None: enough to be within the limits, and 10% more, so that
        this is rare). Returns the number dropped."""
        if n is None:
            if not self.over():
                return 0
            n = max(len(self.lines) - MAX_LINES * 9 // 10, 0)
            if self.stored > MAX_BYTES:
                need = self.stored - MAX_BYTES * 9 // 10
                total = 0
                for k, size in enumerate(map(len, self.lines)):
                    total += size
                    if total >= need:
                        n = max(n, k + 1)
                        break
        n = min(n, len(self.lines))
        if n <= 0:
            return 0
        self.stored -= sum(map(len, islice(self.lines, n)))
        del self.lines[:n]
        del self.starts[:n]
        if self.cut:
            lo = self.lo
            self.cut = {k: v for k, v in self.cut.items() if k >= lo}
        return n

    def drop_back(self) -> int:
        """Drop lines from the end until within the limits (and 10% less); the unfinished line
        goes too, and ``hi`` moves back to the first line dropped. Returns the number dropped."""
        if not self.over():
            return 0
        keep = min(len(self.lines), MAX_LINES * 9 // 10)
        total = 0
        for k, size in enumerate(map(len, islice(self.lines, keep))):
            total += size
            if total > MAX_BYTES * 9 // 10:
                keep = max(1, k)
                break
        dropped = len(self.lines) - keep
        if dropped <= 0:
            return 0
        self.hi = self.partial_start = self.starts[keep]
        self.stored -= sum(map(len, islice(self.lines, keep, None)))
        del self.lines[keep:]
        del self.starts[keep:]
        self.partial, self.partial_cut, self.complete = b"", 0, False
        return dropped


class _Lines(Sequence[str]):
    """The window's lines as shown (plain text), for readers and tests."""

    def __init__(self, window: LineWindow):
        self._w = window

    def __len__(self) -> int:
        return self._w.count

    def __getitem__(self, i):  # type: ignore[override]
        n = len(self)
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        return line_text(self._w.raw(i)).plain

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


class LogView(ScrollView, can_focus=True):
    """Draws a ``LineWindow``: only the lines in view are decoded and styled (cached by offset).
    Scrolling by the user is posted (``UserScrolled``) so the pane can pause and read more."""

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $text;
        overflow-y: scroll;
        overflow-x: auto;
        &:focus { background-tint: $foreground 5%; }
    }
    """
    BINDINGS = [
        Binding("k", "scroll_up", "Up", show=False, id="logs.up", tooltip="Scroll up (following pauses)"),
        Binding("j", "scroll_down", "Down", show=False, id="logs.down", tooltip="Scroll down"),
    ]
    MATCH_STYLE = Style(bgcolor="yellow", color="black", bold=True)
    CURRENT_STYLE = Style(bgcolor="grey30")
    CUT_STYLE = Style(color="magenta", italic=True)

    class UserScrolled(Message):
        """The user scrolled (``up``: towards the start)."""

        def __init__(self, up: bool) -> None:
            super().__init__()
            self.up = up

    class Jump(Message):
        """Home or End pressed in the view: ``where`` is "top" or "end"."""

        def __init__(self, where: str) -> None:
            super().__init__()
            self.where = where

    def __init__(self, window: LineWindow, **kw: Any) -> None:
        super().__init__(**kw)
        self.window = window
        self.search_rx: re.Pattern[str] | None = None
        self.current: int | None = None  # the offset of the line of the current match
        self._cache: LRUCache[int, Strip] = LRUCache(1024)
        self._style: Style | None = None  # the widget's style, looked up once per frame
        # The user scrolled up: stay put even if told to follow, until the pane clears it (its
        # ``following`` changes after the scroll's message, and lines may arrive before).
        self.hold = False
        self._end_y: float | None = None  # where following last put the view: its end then

    # ---- what readers see ------------------------------------------------------------------------
    @property
    def lines(self) -> Sequence[str]:
        return _Lines(self.window)

    @property
    def line_count(self) -> int:
        return self.window.count

    @property
    def first_visible(self) -> int:
        return int(self.scroll_offset.y)

    # ---- updates from the pane -------------------------------------------------------------------
    def sync(self, follow: bool, shift: int = 0) -> None:
        """The window changed: size the view; at the end when following, else where it was
        (``shift``: lines added (+) or dropped (-) above the view)."""
        w = self.window
        self.virtual_size = Size(max(w.widest + 2, self.size.width), w.count)
        if follow and not self.hold:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
            self._end_y = self.scroll_offset.y
        else:
            self._end_y = None
            if shift:
                self.scroll_to(y=max(0, self.scroll_offset.y + shift), animate=False, immediate=True)
        self.refresh()

    def _keep_end(self) -> None:
        """Following, the end stays in view when the view's height changes (the terminal resized, a
        status of more rows, a horizontal scroll bar shown): a job that ended adds no line to bring
        it back, and "end of log" would be shown above a hidden last line."""
        if self._end_y is not None and not self.hold and self.scroll_offset.y == self._end_y \
                and self.max_scroll_y != self._end_y:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
            self._end_y = self.scroll_offset.y

    def on_resize(self) -> None:
        self.call_after_refresh(self._keep_end)

    def watch_show_horizontal_scrollbar(self) -> None:
        self.call_after_refresh(self._keep_end)

    def clear_cache(self) -> None:
        self._cache.clear()
        self.refresh()

    def set_search(self, rx: re.Pattern[str] | None, current: int | None) -> None:
        self.search_rx = rx
        self.current = current
        self.clear_cache()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def center_on(self, index: int) -> None:
        self._end_y = None
        height = self.scrollable_content_region.height
        self.scroll_to(y=max(0, index - height // 2), animate=False, immediate=True)

    # ---- drawing ---------------------------------------------------------------------------------
    def render_lines(self, crop):
        self._style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._style = None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        i = scroll_y + y
        width = self.size.width
        style = self._style or self.rich_style
        w = self.window
        if i >= w.count:
            return Strip.blank(width, style)
        partial = i >= len(w.lines)
        key = w.start_of(i)
        strip = None if partial else self._cache.get(key)
        if strip is None:
            strip = self._strip(i, style)
            if not partial:
                self._cache[key] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    def _strip(self, i: int, style: Style) -> Strip:
        w = self.window
        s = line_str(w.raw(i))
        whole = w.cut_length(i)
        current = self.current is not None and w.start_of(i) == self.current
        rx = self.search_rx
        if not whole and "\x1b" not in s and (rx is None or not rx.search(s)):  # the common case, fast
            if current:
                style = style + self.CURRENT_STYLE
            return Strip([Segment(s, style)], cell_len(s))
        text = Text.from_ansi(s, no_wrap=True, end="") if "\x1b" in s else Text(s, no_wrap=True, end="")
        if whole:
            text.append(f" … [line cut: {whole:,} bytes]", style=self.CUT_STYLE)
        text.stylize_before(style)
        if rx is not None:
            text.highlight_regex(rx, style=self.MATCH_STYLE)
        if current:
            text.stylize(self.CURRENT_STYLE)
        return Strip(text.render(self.app.console), cell_len(text.plain))

    # ---- the user's scrolling --------------------------------------------------------------------
    def _scrolled(self, up: bool) -> None:
        self._end_y = None
        if up:
            self.hold = True
        self.post_message(self.UserScrolled(up))

    def action_scroll_up(self) -> None:
        self.scroll_to(y=self.scroll_offset.y - 1, animate=False, immediate=True)
        self._scrolled(True)

    def action_scroll_down(self) -> None:
        self.scroll_to(y=self.scroll_offset.y + 1, animate=False, immediate=True)
        self._scrolled(False)

    def action_page_up(self) -> None:
        self.scroll_to(y=self.scroll_offset.y - self.scrollable_content_region.height, animate=False, immediate=True)
        self._scrolled(True)

    def action_page_down(self) -> None:
        self.scroll_to(y=self.scroll_offset.y + self.scrollable_content_region.height, animate=False, immediate=True)
        self._scrolled(False)

    def action_scroll_home(self) -> None:
        self.post_message(self.Jump("top"))

    def action_scroll_end(self) -> None:
        self.post_message(self.Jump("end"))

    # Textual calls these event handlers of every class of the MRO: the base class still scrolls;
    # these only say that the user did (the message is handled after the scroll).
    def _on_mouse_scroll_up(self, event) -> None:
        self._scrolled(not (event.ctrl or event.shift))

    def _on_mouse_scroll_down(self, event) -> None:
        self._scrolled(False)

    def _on_scroll_up(self, event) -> None:  # the scrollbar
        self._scrolled(True)

    def _on_scroll_down(self, event) -> None:
        self._scrolled(False)

    def _on_scroll_to(self, message) -> None:
        self._scrolled(message.y is not None and message.y < self.scroll_offset.y)


def parse_query(query: str) -> tuple[str, bool, bool]:
    """(pattern, regex?, ignore case?): ``re:`` starts a regex; the case is ignored unless the
    query has a capital letter (smartcase)."""
    regex = query.startswith("re:")
    pattern = query[3:] if regex else query
    return pattern, regex, pattern == pattern.lower()


class LogPane(Vertical):
    """Follows ``job_id``'s ``stream`` (a crashed job's stderr, whatever ``stream`` says); ``/``
    searches, ``f`` toggles follow, ``G`` jumps to the end."""

    BINDINGS = [
        Binding("slash", "search", "Search", id="logs.search", tooltip="Search the whole log (enter: next match)"),
        Binding("n", "next_match(1)", "Next", id="logs.next", tooltip="Next match of the search"),
        Binding("N", "next_match(-1)", "Prev", id="logs.previous", show=False, tooltip="Previous match"),
        Binding("f", "toggle_follow", "Follow", id="logs.follow", tooltip="Follow the end of the log, or stay put"),
        Binding("G,end", "jump_end", "End", id="logs.end", key_display="G",
                tooltip="Jump to the end of the file and follow"),
        Binding("g,home", "jump_start", "Top", id="logs.top", show=False, key_display="g",
                tooltip="Jump to the start of the file"),
        Binding("e", "switch_stream", "stdout/err", id="logs.stream", tooltip="Switch between stdout and stderr"),
    ]

    jobs_rev: reactive[int] = reactive(0)
    following: reactive[bool] = reactive(True)

    class Appended(Message):
        """The window changed (lines arrived or were dropped). Coalesces."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogPane.Appended)

    class Status(Message):
        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogPane.Status)

    def __init__(self, job_id: str, stream: str = "stdout", last_lines: int = 2000, **kw: Any) -> None:
        super().__init__(**kw)
        self.job_id = job_id
        self.stream = stream
        self.last_lines = last_lines
        self.window = LineWindow()
        self.running = False  # a stream feeds the window at ``window.hi``
        self.eof = False  # that stream said the log is complete (the job ended, all was sent)
        self.file_size: int | None = None  # the file's size, as last heard
        self.link_error = ""
        self.note = ""  # one line: what the search found, why the stream switched...
        self.lines_received = 0  # lines completed by the stream since the pane opened
        self.restarts = 0  # times the log started over under the pane
        self._sid = 0  # the current stream; chunks of an older one are ignored
        self._behind0: int | None = None  # bytes between the stream's first chunk and the file's end
        self._gen = 0  # the current window; reads for an older one are ignored
        self._shift = 0  # lines dropped above the view, not yet applied to its scroll position
        self._posted = False
        self._synced_at = 0.0
        self._sync_later = False
        self._status_shown: tuple[str, int] = ("", 0)
        self._status_rows = 0
        self._reading = False  # a read before the window is in flight
        self._query = ""
        self._match: int | None = None  # the offset of the line of the current match
        self._searching = False

    def compose(self) -> ComposeResult:
        yield Static(id="log-status")
        yield LogView(self.window, id="log")
        yield Input(placeholder="search the log (re: for a regex; enter: next, N: previous, escape: close)",
                    id="log-search", compact=True)

    def on_mount(self) -> None:
        self.query_one("#log-search").display = False
        job = self.app.jobs.get(self.job_id)
        if job is not None and job.state == "crashed" and self.stream != "stderr":
            self.stream = "stderr"  # where the traceback is
            self.start(note="the job crashed: its stderr (e: stdout)")
        else:
            self.start()

    @property
    def status_text(self) -> str:
        """The status line as shown (plain text)."""
        return self._status_shown[0]

    @property
    def log_widget(self) -> LogView:
        return self.query_one(LogView)

    @property
    def first_offset(self) -> int:
        """The offset of the first line the pane holds."""
        return self.window.lo

    @property
    def path(self) -> str | None:
        """The log file as the daemon sees it (for ``ReadFile``), if the job is known."""
        job = self.app.jobs.get(self.job_id)
        if job is None:
            return None
        return str(PurePosixPath(job.run_dir) / (R.STDOUT if self.stream == "stdout" else R.STDERR))

    # ---- the stream -----------------------------------------------------------------------------
    def start(self, note: str = "") -> None:
        """Follow from the last lines (a fresh window); ``note``: why, in the status."""
        self._gen += 1
        self.window.reset(None)
        self.eof = False
        self._match = None
        self.note = note
        self.following = True
        self._open_stream()
        self._sync(0)

    def stop(self) -> None:
        """Stop the stream (a screen that is covered); ``restart_tail`` starts again."""
        self._sid += 1
        self.workers.cancel_group(self, "log-follow")
        self.running = False
        self._post_status()

    def restart_tail(self) -> None:
        """Follow again from the last lines (whatever was appended meanwhile is skipped)."""
        self.start()

    def _open_stream(self) -> None:
        """Start a stream at the window's end (or, not placed yet, at the file's last lines)."""
        self._sid += 1
        self.running = True
        self.eof = False
        self._behind0 = None
        self._follow(self._sid, self.stream)

    @node_work(exclusive=True, group="log-follow")
    async def _follow(self, sid: int, stream: str) -> None:
        attempt = 0
        try:
            while True:
                client = None
                try:
                    client = await self.app.link.open()
                    w = self.window
                    if not w.placed:
                        req = Logs(job=self.job_id, stream=stream, last_lines=self.last_lines, follow=True)
                    else:
                        req = Logs(job=self.job_id, stream=stream, offset=w.hi, follow=True)
                    self.link_error = ""
                    self._post_status()
                    async for chunk in client.stream(req):
                        if sid != self._sid:
                            return
                        attempt = 0
                        if not self._take(chunk):
                            return
                        await asyncio.sleep(0)  # buffered frames must not starve the UI
                    return  # the stream ended by itself: the job ended and all was sent
                except DaemonError as e:
                    if sid != self._sid:
                        return
                    if e.code == "not_found":
                        self.link_error = e.message
                        return
                    self.link_error = f"{e.message} - reconnecting"
                    self._post_status()
                    await asyncio.sleep(RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)])
                    attempt += 1
                finally:
                    if client is not None:
                        await client.close()
        finally:
            if sid == self._sid:
                self.running = False
                self._post_status()

    def _take(self, chunk: LogChunk) -> bool:
        """Add a chunk to the window; False: stop the stream (paused and the window is full, or
        so far behind that following starts again from the end)."""
        w = self.window
        if chunk.size is not None:
            self.file_size = chunk.size
        if not w.placed or chunk.offset != w.hi:
            if w.placed and chunk.offset < w.hi:  # the file is shorter than what we read: it started over
                self.restarts += 1
                self.note = f"the log started over ({self.stream})"
                self._match = None
            self._shift -= w.count
            w.reset(chunk.offset)
        behind = None if chunk.size is None else chunk.size - chunk.offset
        if self._behind0 is None:
            self._behind0 = behind  # how far behind the stream started (a tail of long lines may be far)
        if self.following and behind is not None and behind - self._behind0 > LAG_BYTES:
            # Falling behind the file: start again from its last lines (see LAG_BYTES).
            self.call_later(self.start, f"skipped {behind:,} bytes to keep up with the end")
            return False
        self.lines_received += w.feed(chunk.data)
        if chunk.eof:
            w.finish()
            self.eof = True
        if self.following:
            # The view drops the old lines when it next follows (lines keep their index till
            # then); a window twice over its limits drops them now.
            if len(w.lines) > 2 * MAX_LINES or w.stored > 2 * MAX_BYTES:
                self._shift -= w.drop_front()
        elif w.over():
            self._announce()
            return False  # paused and full: stop reading; scrolling down reads on
        self._announce()
        return True

    def _announce(self) -> None:
        if not self._posted:
            self._posted = True
            self.post_message(self.Appended())

    def _post_status(self) -> None:
        self.post_message(self.Status())

    @on(Appended)
    def _appended(self, event: Appended) -> None:
        event.stop()
        self._posted = False
        wait = self._synced_at + SYNC_S - time.monotonic()
        if wait <= 0:
            self._sync(self._shift)
        elif not self._sync_later:
            self._sync_later = True
            self.set_timer(wait, self._sync_due)

    def _sync_due(self) -> None:
        self._sync_later = False
        self._sync(self._shift)

    def _sync(self, shift: int) -> None:
        """Show the window as it is now (following: drop the old lines first)."""
        if self.following:
            shift -= self.window.drop_front()
        self._shift = 0
        self._synced_at = time.monotonic()
        if self.is_mounted:
            self.log_widget.sync(self.following, shift)
            self._show_status()

    @on(Status)
    def _status(self, event: Status) -> None:
        event.stop()
        self._show_status()

    def at_bottom(self) -> bool:
        log = self.log_widget
        return log.scroll_offset.y >= log.max_scroll_y

    def _show_status(self) -> None:
        w = self.window
        text = Text()
        text.append(f"{self.job_id} ", style="bold")
        text.append(self.stream, style="cyan")
        text.append(f"  {w.count:,} lines")
        if w.lo:
            text.append(f" (from byte {w.lo:,})", style="dim")
        if self.file_size is not None:
            text.append(f" · {_size(self.file_size)}", style="dim")
        at_end = self.eof and w.hi >= (self.file_size or 0)
        if self.following:
            if at_end:
                text.append("  end of log", style="dim")
            elif self.running:
                text.append("  following", style="green")
            else:
                text.append("  stopped", style="yellow")
        else:
            text.append("  paused", style="yellow")
            if at_end and self.at_bottom():
                text.append(" · end of log", style="dim")
        if self._query:
            text.append(f"  /{self._query}", style="yellow")
            if self._searching:
                text.append(" searching…", style="yellow")
        if self.note:
            text.append(f"  {self.note}", style="italic")
        if self.link_error:
            text.append(f"\n{self.link_error}", style="red")
        shown = (text.plain, hash(tuple(text.spans)))
        if shown != self._status_shown:  # a new layout only when the status takes more or fewer rows
            status = self.query_one("#log-status", Static)
            width = max(1, status.content_region.width or self.size.width)
            rows = sum(max(1, -(-cell_len(part) // width)) for part in text.plain.split("\n"))
            layout = rows != self._status_rows
            self._status_shown, self._status_rows = shown, rows
            status.update(text, layout=layout)

    def watch_jobs_rev(self) -> None:
        """A job that runs again (restart) is followed again, from where the log was."""
        job = self.app.jobs.get(self.job_id)
        if job is not None and job.state in LIVE and not self.running and self.is_mounted and self.following:
            self._open_stream()

    # ---- reading around the window ---------------------------------------------------------------
    @on(LogView.UserScrolled)
    def _user_scrolled(self, event: LogView.UserScrolled) -> None:
        event.stop()
        if event.up and self.following:
            self.following = False
        self._edges()

    @on(LogView.Jump)
    def _view_jump(self, event: LogView.Jump) -> None:
        event.stop()
        if event.where == "top":
            self.action_jump_start()
        else:
            self.action_jump_end()

    def _edges(self) -> None:
        """Near the window's top, read what lies before it; near its bottom (paused, the stream
        stopped), read on."""
        log = self.log_widget
        page = log.scrollable_content_region.height
        w = self.window
        if log.scroll_offset.y < page and w.lo > 0 and not self._reading:
            self._read_before(self._gen)
        if not self.following and not self.running and not self.eof and w.placed \
                and log.scroll_offset.y + 2 * page >= w.count:
            if w.over():  # room to read on: the lines far above the view go
                self._shift -= w.drop_front(len(w.lines) // 2)
                self._sync(self._shift)
            self._open_stream()

    @node_work(exclusive=True, group="log-read")
    async def _read_before(self, gen: int) -> None:
        path = self.path
        w = self.window
        if path is None or w.lo <= 0:
            return
        self._reading = True
        try:
            start = max(0, w.lo - READ_BACK)
            try:
                data = await self.app.link.request(ReadFile(path=path, offset=start, length=w.lo - start))
            except DaemonError as e:
                self.note = f"cannot read before byte {w.lo:,}: {e.message}"
                self._show_status()
                return
            if gen != self._gen or not isinstance(data, FileData):
                return
            added = w.prepend(data.data, start)
            dropped = w.drop_back()
            if dropped and self.running:
                self.stop()
            self.log_widget.sync(False, added)
            self._show_status()
        finally:
            self._reading = False

    @node_work(exclusive=True, group="log-read")
    async def _jump_to(self, offset: int) -> None:
        """Show the line starting at ``offset``, reading the file around it into a new window."""
        path = self.path
        if path is None:
            self.note = "cannot read the file: the job is not known"
            self._show_status()
            return
        self.stop()
        self.following = False
        self._gen += 1
        gen = self._gen
        start = max(0, offset - READ_BACK // 4)
        try:
            data = await self.app.link.request(ReadFile(path=path, offset=start, length=READ_BACK))
        except DaemonError as e:
            self.note = f"cannot read at byte {offset:,}: {e.message}"
            self._show_status()
            return
        if gen != self._gen or not isinstance(data, FileData):
            return
        self.file_size = data.size
        self.eof = False
        self.window.load(data.data, start)
        self._show_at(offset)

    def _show_at(self, offset: int) -> None:
        log = self.log_widget
        log.sync(False)
        i = self.window.index_of(offset)
        log.current = offset if self._match == offset else log.current
        log.clear_cache()
        log.center_on(i)
        self._show_status()
        self.call_after_refresh(self._edges)

    # ---- keys -----------------------------------------------------------------------------------
    def watch_following(self, following: bool) -> None:
        if not self.is_mounted:
            return
        if following:
            self.log_widget.hold = False
            self.log_widget.sync(True)
        self._show_status()

    def action_toggle_follow(self) -> None:
        if self.following:
            self.following = False
        else:
            self.action_jump_end()

    def action_jump_end(self) -> None:
        """Follow again, from the true end of the file: in place when the stream runs and is not
        behind; else from the file's last lines."""
        w = self.window
        behind = self.file_size is not None and self.file_size - w.hi > LAG_BYTES
        if (self.running or self.eof) and not behind:
            self.following = True
            self._sync(self._shift)
        else:
            self.start()

    def action_jump_start(self) -> None:
        self.following = False
        if self.window.lo <= 0:
            self.log_widget.scroll_to(y=0, animate=False, immediate=True)
            self._show_status()
        else:
            self._jump_to(0)

    def action_switch_stream(self) -> None:
        self.stream = "stderr" if self.stream == "stdout" else "stdout"
        self.file_size = None
        self.start()

    def action_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._query = event.value
        self._match = None
        self.log_widget.set_search(self._highlight(), None)
        self._show_status()

    def _highlight(self) -> re.Pattern[str] | None:
        pattern, regex, ignore_case = parse_query(self._query)
        if not pattern:
            return None
        try:
            return re.compile(pattern if regex else re.escape(pattern), re.IGNORECASE if ignore_case else 0)
        except re.error:
            return None

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_next_match(1)

    def on_key(self, event) -> None:
        if event.key == "escape" and self.query_one("#log-search", Input).has_focus:
            event.stop()
            self.query_one("#log-search", Input).display = False
            self.log_widget.focus()

    def action_next_match(self, step: int) -> None:
        if not parse_query(self._query)[0]:
            self.action_search()
            return
        log = self.log_widget
        w = self.window
        if self._match is not None:
            origin = self._match + 1 if step > 0 else self._match
        elif w.count:
            top = min(log.first_visible, w.count - 1)
            bottom = min(w.count - 1, top + log.scrollable_content_region.height - 1)
            origin = w.start_of(top) if step > 0 else w.start_of(bottom) + 1
        else:
            origin = 0
        self._search(step, origin)

    @node_work(exclusive=True, group="log-search")
    async def _search(self, step: int, origin: int) -> None:
        pattern, regex, ignore_case = parse_query(self._query)
        backwards = step < 0
        pos, wrapped = origin, False
        self._searching = True
        self.note = ""
        self._show_status()
        try:
            while True:
                req = SearchLog(job=self.job_id, stream=self.stream, pattern=pattern, regex=regex,
                                ignore_case=ignore_case, offset=pos, backwards=backwards, max_hits=SEARCH_HITS)
                try:
                    found = await self.app.link.request(req)
                except DaemonError as e:
                    if e.code == "bad_request" and "unknown request kind" in e.message:  # an older daemon
                        self._search_window(step, origin)
                    else:
                        self.note = e.message
                    return
                assert isinstance(found, LogMatches)
                self.file_size = found.size
                if found.offsets:
                    hit = found.offsets[0]
                    if not wrapped or (hit >= origin if backwards else hit < origin):
                        self._match = hit
                        if wrapped:
                            self.note = "search wrapped " + ("to the end" if backwards else "to the top")
                        self._goto(hit)
                        return
                    found = None  # wrapped round past where the search began: no other match
                passed = found is None or (wrapped and (found.next <= origin if backwards else found.next >= origin))
                if found is None or found.done or passed:
                    if wrapped or passed or (origin == 0 and not backwards):
                        self.note = "no match"
                        self._match = None
                        self.log_widget.set_search(self._highlight(), None)
                        return
                    wrapped = True
                    pos = found.size if backwards else 0
                    continue
                pos = found.next
                if found.size:
                    self.note = f"searching… {100 * pos // max(1, found.size)}%"
                    self._show_status()
        finally:
            self._searching = False
            self._show_status()

    def _search_window(self, step: int, origin: int) -> None:
        """The search without the daemon's help (an older daemon): the lines the pane holds only."""
        rx = self._highlight()
        w = self.window
        if rx is None or not w.count:
            self.note = "no match"
            return
        i = w.index_of(origin)
        if step > 0 and w.start_of(i) < origin:
            i += 1
        elif step < 0 and w.start_of(i) >= origin:
            i -= 1
        order = range(i, w.count) if step > 0 else range(i, -1, -1)
        hit = next((k for k in order if rx.search(line_str(w.raw(k)))), None)
        if hit is None:
            self.note = "no match in the lines held (this daemon cannot search the whole log)"
            return
        self._match = w.start_of(hit)
        self.note = "searched the lines held only (this daemon cannot search the whole log)"
        self._goto(self._match)

    def _goto(self, offset: int) -> None:
        """Show the line at ``offset``: in the window if there, else read around it."""
        w = self.window
        log = self.log_widget
        i = w.index_of(offset)
        self.following = False
        if w.count and w.start_of(i) == offset:
            log.set_search(self._highlight(), offset)
            log.center_on(i)
            self._show_status()
            self.call_after_refresh(self._edges)
        else:
            log.set_search(self._highlight(), offset)
            self._jump_to(offset)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"
