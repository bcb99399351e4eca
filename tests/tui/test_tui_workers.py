"""A worker that comes back after its screen closed is dropped quietly (the app keeps running);
the same missing widget on a screen still shown is an error of the app, as before."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App, ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import WorkerFailed

from heyhi_tui.workers import node_work, watch_app
from tests.tui_util import until


class Info(Static):
    """The widget the worker updates; it lets the worker go on as it is removed (the answer
    arrives while the screen closes: its widgets go first, the screen and its workers last)."""

    def on_unmount(self) -> None:
        self.screen.release.set()


class Waits(Screen):
    """A screen whose worker waits (as for the daemon's answer), then updates a widget."""

    def __init__(self, release: asyncio.Event, missing: bool = False):
        super().__init__()
        self.release, self.missing, self.done = release, missing, False

    def compose(self) -> ComposeResult:
        yield Info("waiting", id="info")

    def on_mount(self) -> None:
        self.load()

    @node_work(exclusive=True, group="load")
    async def load(self) -> None:
        await self.release.wait()
        self.query_one("#nothing" if self.missing else "#info", Static).update("loaded")
        self.done = True


class Host(App):
    def __init__(self, screen: Screen):
        super().__init__()
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)


async def test_a_worker_back_after_its_screen_closed_is_dropped():
    release = asyncio.Event()
    screen = Waits(release)
    app = Host(screen)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.screen is screen and screen.query("#info"), what="the screen")
        await app.pop_screen()
        await until(pilot, lambda: not screen.is_attached, what="the screen closed")
        await until(pilot, lambda: not [w for w in app.workers if w.node is screen and w.is_running],
                    what="the worker ended")
        assert app.is_running and app._exception is None and not screen.done


async def test_a_missing_widget_on_a_screen_still_shown_is_still_an_error():
    release = asyncio.Event()
    screen = Waits(release, missing=True)
    app = Host(screen)
    with pytest.raises(WorkerFailed):
        async with app.run_test() as pilot:
            await until(pilot, lambda: app.screen is screen, what="the screen")
            release.set()
            await until(pilot, lambda: app._exception is not None, what="the app's worker error")



class Counter(App):
    rev: reactive[int] = reactive(0)


class Watches(Screen):
    """A screen that shows the app's ``rev`` in a widget, through ``watch_app`` (first on mount)."""

    def __init__(self):
        super().__init__()
        self.seen: list[int] = []

    def compose(self) -> ComposeResult:
        yield Static("rev", id="info")

    def on_mount(self) -> None:
        watch_app(self, "rev", self._changed, init=True)

    def _changed(self, rev: int) -> None:
        self.query_one("#info", Static).update(f"rev {rev}")
        self.seen.append(rev)


async def test_an_app_watcher_of_a_screen_closed_at_once_is_dropped():
    """A screen opened and closed by two keys in a row: it mounts while being taken down."""
    app = Counter()
    async with app.run_test() as pilot:
        shown = Watches()
        await app.push_screen(shown)
        await until(pilot, lambda: shown.seen == [0], what="the watcher on a screen shown")
        app.rev += 1
        await until(pilot, lambda: shown.seen == [0, 1], what="a change shown")
        await app.pop_screen()
        closed = Watches()
        app.push_screen(closed)
        app.pop_screen()
        await until(pilot, lambda: not closed.is_attached and not shown.is_attached, what="both closed")
        app.rev += 1
        await pilot.pause()
        assert app.is_running and app._exception is None
        assert shown.seen == [0, 1] and closed.seen == []
