"""A job's stdout/stderr followed live through the daemon (``Logs`` with ``follow``).

The first request asks only for the last lines (a 100 MB log costs what is shown); every chunk
carries its byte offset, so a reconnection resumes exactly where it stopped. The stream worker
only gathers complete lines and posts one coalescing ``LogPane.Appended``; the handler writes them
with ``Log.write_lines`` in one batch, so a job printing 50,000 lines a second costs the UI one
write per frame, and keys are answered meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import Input, Log, Static

from heyhi.wire.protocol import DaemonError, LogChunk, Logs

from ..format import LIVE

MAX_LINES = 200_000  # lines kept in memory (older ones are dropped from the view)
BATCH = 5_000  # lines written per message at most: a burst never holds the loop for long
RECONNECT_S = (0.2, 0.5, 1.0, 2.0)


class JobLog(Log):
    """A ``Log`` that highlights a search term and the current match."""

    MATCH_STYLE = Style(bgcolor="yellow", color="black", bold=True)
    CURRENT_STYLE = Style(bgcolor="grey30")

    def __init__(self, **kw: Any) -> None:
        super().__init__(max_lines=MAX_LINES, **kw)
        self.query_text = ""
        self.current: int | None = None

    def set_search(self, query: str, current: int | None) -> None:
        self.query_text = query
        self.current = current
        self._render_line_cache.clear()
        self.refresh()

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        if not self.query_text and self.current != y:
            return super()._render_line_strip(y, rich_style)
        line = self._process_line(self._lines[y])
        text = Text(line, no_wrap=True)
        text.stylize(rich_style)
        if y == self.current:
            text.stylize(self.CURRENT_STYLE)
        if self.query_text:
            text.highlight_words([self.query_text], self.MATCH_STYLE, case_sensitive=False)
        return Strip(text.render(self.app.console), cell_len(line))

    def find(self, query: str, start: int, step: int) -> int | None:
        """The next line (from ``start``, going ``step``) holding ``query`` (case-insensitive)."""
        lines = self._lines
        n = len(lines)
        if not query or not n:
            return None
        q = query.lower()
        i = start
        for _ in range(n):
            i %= n
            if q in lines[i].lower():
                return i
            i += step
        return None


class LogPane(Vertical):
    """Follows ``job_id``'s ``stream``; ``/`` searches, ``f`` toggles follow, ``G`` jumps to the end."""

    BINDINGS = [
        Binding("slash", "search", "Search", id="logs.search", tooltip="Search the log (enter: next match)"),
        Binding("n", "next_match(1)", "Next", id="logs.next", tooltip="Next match of the search"),
        Binding("N", "next_match(-1)", "Prev", id="logs.previous", show=False, tooltip="Previous match"),
        Binding("f", "toggle_follow", "Follow", id="logs.follow", tooltip="Follow the end of the log, or stay put"),
        Binding("G,end", "jump_end", "End", id="logs.end", tooltip="Jump to the end and follow"),
        Binding("g,home", "jump_start", "Top", id="logs.top", show=False, tooltip="Jump to the first line shown"),
        Binding("e", "switch_stream", "stdout/err", id="logs.stream", tooltip="Switch between stdout and stderr"),
    ]

    jobs_rev: reactive[int] = reactive(0)
    following: reactive[bool] = reactive(True)

    class Appended(Message):
        """Lines arrived (taken with ``take_lines``). Coalesces."""

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
        self.log_offset: int | None = None  # where the next byte will come from
        self.first_offset: int | None = None
        self.eof = False
        self.link_error = ""
        self.lines_received = 0
        self.lines_shown = 0  # written to the Log (it keeps the last MAX_LINES of them)
        self._partial = b""
        self._pending: list[str] = []
        self._posted = False
        self._match: int | None = None
        self._query = ""
        self.running = False

    def compose(self) -> ComposeResult:
        yield Static(id="log-status")
        yield JobLog(id="log")
        yield Input(placeholder="search (enter: next, escape: close)", id="log-search", compact=True)

    def on_mount(self) -> None:
        self.query_one("#log-search").display = False
        self.start()

    @property
    def log_widget(self) -> JobLog:
        return self.query_one(JobLog)

    # ---- the stream -----------------------------------------------------------------------------
    def start(self) -> None:
        self.running = True
        self.follow_log(self.stream)

    def stop(self) -> None:
        """Stop following (a screen that is covered); ``restart_tail`` starts again."""
        self.workers.cancel_group(self, "log-follow")
        self.running = False

    def restart_tail(self) -> None:
        """Follow again from the last lines (whatever was appended meanwhile is skipped)."""
        self.log_offset = self.first_offset = None
        self.eof = False
        self._partial, self._pending = b"", []
        self.log_widget.clear()
        self.start()

    @work(exclusive=True, group="log-follow")
    async def follow_log(self, stream: str) -> None:
        attempt = 0
        try:
            while True:
                client = None
                try:
                    client = await self.app.link.open()
                    if self.log_offset is None:
                        req = Logs(job=self.job_id, stream=stream, last_lines=self.last_lines, follow=True)
                    else:
                        req = Logs(job=self.job_id, stream=stream, offset=self.log_offset, follow=True)
                    self.link_error = ""
                    self._post_status()
                    async for chunk in client.stream(req):
                        attempt = 0
                        self._take(chunk)
                        await asyncio.sleep(0)  # buffered frames must not starve the UI
                    return  # the stream ended by itself: the job ended and all was sent
                except DaemonError as e:
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
            self.running = False
            self._flush_partial()
            self._post_status()

    def _take(self, chunk: LogChunk) -> None:
        if self.log_offset is not None and chunk.offset < self.log_offset:
            # The file is shorter than what we read: the run started over. Show it afresh.
            self._partial = b""
            self._pending = ["", f"── the log started over ({self.stream}) ──"]
            self.first_offset = chunk.offset
        if self.first_offset is None:
            self.first_offset = chunk.offset
        self.log_offset = chunk.offset + len(chunk.data)
        if chunk.eof:
            self.eof = True
        if chunk.data:
            data = self._partial + chunk.data
            cut = data.rfind(b"\n")
            if cut < 0:
                self._partial = data
            else:
                self._partial = data[cut + 1:]
                lines = data[:cut].decode("utf-8", "replace").split("\n")
                self._pending.extend(lines)
                self.lines_received += len(lines)
        if chunk.eof:
            self._flush_partial()
        self._announce()

    def _flush_partial(self) -> None:
        if self._partial:
            self._pending.append(self._partial.decode("utf-8", "replace"))
            self.lines_received += 1
            self._partial = b""
            self._announce()

    def _announce(self) -> None:
        if not self._posted:
            self._posted = True
            self.post_message(self.Appended())

    def _post_status(self) -> None:
        self.post_message(self.Status())

    def take_lines(self) -> list[str]:
        """Up to ``BATCH`` of the pending lines (when more are pending than the Log keeps, the
        older ones are skipped: they would be dropped at once); posts again while lines remain."""
        pending = self._pending
        if len(pending) > MAX_LINES:
            self.lines_shown += len(pending) - MAX_LINES
            del pending[: len(pending) - MAX_LINES]
        lines, self._pending = pending[:BATCH], pending[BATCH:]
        self._posted = False
        if self._pending:
            self._announce()
        return lines

    @on(Appended)
    def _appended(self, event: Appended) -> None:
        event.stop()
        lines = self.take_lines()
        if lines:
            self.log_widget.write_lines(lines)
            self.lines_shown += len(lines)
        self._show_status()

    @on(Status)
    def _status(self, event: Status) -> None:
        event.stop()
        self._show_status()

    def _show_status(self) -> None:
        text = Text()
        text.append(f"{self.job_id} ", style="bold")
        text.append(self.stream, style="cyan")
        text.append(f"  {self.log_widget.line_count:,} lines")
        if self.first_offset:
            text.append(f" (from byte {self.first_offset:,})", style="dim")
        text.append("  following" if self.following else "  paused", style="green" if self.following else "yellow")
        if self.eof or not self.running:
            text.append("  · end of log" if self.eof else "  · stopped", style="dim")
        if self._query:
            where = f"line {self._match + 1}" if self._match is not None else "no match"
            text.append(f"  /{self._query}: {where}", style="yellow")
        if self.link_error:
            text.append(f"\n{self.link_error}", style="red")
        self.query_one("#log-status", Static).update(text)

    def watch_jobs_rev(self) -> None:
        """A job that runs again (restart) is followed again, from where the log was."""
        job = self.app.jobs.get(self.job_id)
        if job is not None and job.state in LIVE and not self.running and self.is_mounted:
            self.eof = False
            self.start()

    # ---- keys -----------------------------------------------------------------------------------
    def watch_following(self, following: bool) -> None:
        if not self.is_mounted:
            return
        log = self.log_widget
        log.auto_scroll = following
        if following:
            log.scroll_end(animate=False, immediate=True)
        self._show_status()

    def action_toggle_follow(self) -> None:
        self.following = not self.following

    def action_jump_end(self) -> None:
        self.following = True
        self.log_widget.scroll_end(animate=False, immediate=True)

    def action_jump_start(self) -> None:
        self.following = False
        self.log_widget.scroll_home(animate=False, immediate=True)

    def action_switch_stream(self) -> None:
        self.stream = "stderr" if self.stream == "stdout" else "stdout"
        self.restart_tail()

    def action_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._query = event.value
        self._match = None
        self.log_widget.set_search(self._query, None)
        self._show_status()

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_next_match(1)

    def on_key(self, event) -> None:
        if event.key == "escape" and self.query_one("#log-search", Input).has_focus:
            event.stop()
            box = self.query_one("#log-search", Input)
            box.display = False
            self.log_widget.focus()

    def action_next_match(self, step: int) -> None:
        log = self.log_widget
        if not self._query:
            self.action_search()
            return
        if self._match is not None:
            start = self._match + step
        else:
            start = int(log.scroll_offset.y) if step > 0 else int(log.scroll_offset.y + log.size.height - 1)
        found = log.find(self._query, start, step)
        self._match = found
        if found is not None:
            self.following = False
            log.scroll_to(y=max(0, found - log.size.height // 2), animate=False, immediate=True)
        log.set_search(self._query, found)
        self._show_status()
