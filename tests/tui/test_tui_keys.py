"""Keys people already know, and every key the key bar shows, walked on every screen.

``q`` quits outside text fields (asking first when overrides would be lost), ``j``/``k``/``g``/``G``
move in the tree, the tables and the log, Enter opens (and is in the key bar and in help), ``1``/``2``
show the configs tree / the jobs table from every screen, ctrl+p / ctrl+n pick completions in the
launch editor (the palette elsewhere). One daemon serves the module: three finished probe runs and a
finished sweep of two points.

The walk discovers the screens from the app itself: from the first screen it presses every key the
key bar shows, and every screen a key opens is walked the same way (modal screens: their own keys).
Each key must have an effect (the screen, the focus or what is shown changes, with no error toast);
a key that changes nothing at first is tried again after each other key of its screen (``p Print``
shows something new only after ``f Flat``). Every screen class of ``heyhi_tui/screens`` and
``heyhi_tui/dialogs`` must be reached (by the walk, or by an entry in ``ENTRY`` for screens that need
a setup first), so a new screen is walked as soon as a key opens it, and one that no key opens fails
here by name. Then each screen reached is shown at 80x24 and nothing of its header, key bar or tables
may be cut without an ellipsis or a scroll bar.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import pkgutil
import shutil
import tempfile
import time

from waiting import wait_for
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from rich.text import Text
from textual.command import CommandPalette
from textual.content import Content
from textual.notifications import Notify
from textual.screen import Screen, SystemModalScreen
from textual.widgets import DataTable, Input, Static, TextArea

import heyhi_tui.dialogs
import heyhi_tui.screens
from conftest import REPO
from daemon_util import DaemonProcess
from tui_util import PROBE_CONFIG, TuiEnv, screen_text, send_key, until

from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi_tui.dialogs.confirm import ConfirmDialog
from heyhi_tui.screens.configs import PREVIEW_DEBOUNCE_S, ConfigsScreen
from heyhi_tui.screens.help import HelpScreen
from heyhi_tui.screens.job import JobScreen
from heyhi_tui.screens.jobs import JobsScreen
from heyhi_tui.screens.launch import VALIDATE_DEBOUNCE_S, LaunchScreen
from heyhi_tui.screens.logs import LogsScreen
from heyhi_tui.widgets.keybar import KeyBar
from heyhi_tui.widgets.overrides import CompletionList

pytestmark = pytest.mark.timeout(180)

WIDE = (120, 24)  # the walk's terminal (keys the bar leaves out for room are walked too)
# Screens that no key of the walk opens by itself: the keys that reach them (from the first screen).
ENTRY: dict[str, list[str]] = {}
# Known effects, checked on top of "something changed": the action -> what must hold after it.
EFFECT = {
    "show_jobs": lambda app: isinstance(app.screen, JobsScreen),
    "show_configs": lambda app: isinstance(app.screen, ConfigsScreen),
    "show_sweeps": lambda app: app.current_mode == app.SWEEPS and len(app.screen_stack) == 1,
    "help": lambda app: isinstance(app.screen, HelpScreen),
    "command_palette": lambda app: isinstance(app.screen, CommandPalette),
}


def on(app, cls):
    return lambda: isinstance(app.screen, cls) and app.screen


def app_screens() -> set[str]:
    """Every screen class the app defines (heyhi_tui/screens/*.py, heyhi_tui/dialogs/*.py)."""
    names = set()
    for pkg in (heyhi_tui.screens, heyhi_tui.dialogs):
        for info in pkgutil.iter_modules(pkg.__path__):
            mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
            for obj in vars(mod).values():
                if inspect.isclass(obj) and issubclass(obj, Screen) and obj.__module__ == mod.__name__:
                    names.add(obj.__name__)
    return names


def launch(sock, proj, overrides: list[str]) -> P.Launched:
    with Client(str(sock)) as c:
        return c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                  config=str(proj / PROBE_CONFIG), overrides=overrides))


def finished_jobs(sock, proj) -> list[str]:
    """Three finished runs of the probe (two completed, one with lines to read; one crashed) and a
    finished sweep of two points (its runs are jobs too)."""
    jobs = [launch(sock, proj, o) for o in (["lines=40"], ["tag=second"], ["crash=true"])]
    with Client(str(sock)) as c:
        plan = c.request(P.PlanSweep(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                     config=str(proj / PROBE_CONFIG), overrides=["tag=swept", "lines=[1,2]"],
                                     record=True))
        assert plan.ok and plan.total == 2, plan
        c.request(P.LaunchSweep(sweep_dir=plan.sweep_dir))
        def finished() -> bool:
            listed = c.request(P.ListJobs()).jobs
            return len(listed) >= 5 and not any(j.state in ("queued", "running") for j in listed)

        wait_for(finished, 60, "the probe jobs to finish", interval=0.05)
    return [j.job_id for j in jobs]


# ---------------------------------------------------------------------------------------------
# The walk


_DIGITS = re.compile(r"\d")


def look(app) -> tuple:
    """What the screen shows, styles included (a moved cursor counts), digits masked (an age that
    ticks does not): the segments of a full frame, as the terminal would get them."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return tuple((_DIGITS.sub("#", seg.text), seg.style) for line in update.strips for strip in line for seg in strip)


class Walker:
    """Drives the app: where it is (``fingerprint``), back to the start (``reset``: the configs
    tree shown, nothing over it; ``fresh``: a new app), following keys from there (``goto``), back to
    a screen after a key (``back_to``)."""

    def __init__(self, make_app, size: tuple[int, int], ready):
        self.make_app, self.size, self.ready = make_app, size, ready
        self.notes: list = []
        self.app = self.pilot = None
        self._stack: AsyncExitStack | None = None
        self.home: dict[int, object] = {}  # id(screen) -> the widget focused when first shown
        self.settled: tuple | None = None  # the fingerprint when things last stood still

    async def fresh(self) -> None:
        if self.app is not None:
            await self.settle()  # what is under way ends first (a validation of a closed editor)
        await self.close()
        self._stack = AsyncExitStack()
        self.app = self.make_app()
        self.pilot = await self._stack.enter_async_context(
            self.app.run_test(size=self.size, message_hook=self._hook))
        self.home = {}
        self.settled = None
        await until(self.pilot, lambda: self.ready(self.app), 30, "the app ready")

    def _hook(self, message) -> None:
        if isinstance(message, Notify):  # what the app told the user (run_test shows no toasts)
            self.notes.append(message)

    async def close(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    def fingerprint(self) -> tuple:
        """The screen, its focus, what it shows, and how many notifications the app gave (run_test
        shows no toasts: they are counted instead)."""
        app = self.app
        focused = app.screen.focused
        return (id(app.screen), app.current_mode, len(app.screen_stack),
                id(focused) if focused is not None else None, len(self.notes), look(app))

    async def settle(self, timeout: float = 5.0, still: float = 0.03) -> None:
        """Until what is shown stops changing (the same for ``still`` seconds)."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            await self.pilot.pause(0)  # the screen's pending messages handled (not a wait for CPU idle)
            now = self.fingerprint()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= still:
                break
            await self.pilot.pause(0.03)  # poll interval of a bounded wait
        self.settled = last
        self.home.setdefault(id(self.app.screen), self.app.screen.focused)

    async def pop(self) -> None:
        """Close the top screen once its short work is done (a screen closed mid-validation is a
        race of the app's own: reported, not what this walk looks at)."""
        app, screen = self.app, self.app.screen
        deadline = time.monotonic() + 2.0
        # A user's key reaches a screen after it is mounted; a pop from here must wait for that too.
        while time.monotonic() < deadline and not screen.is_mounted:
            await self.pilot.pause(0.01)  # poll interval of a bounded wait
        while time.monotonic() < deadline and any(
                wk.node is screen and wk.is_running and "follow" not in (wk.group or "") for wk in app.workers):
            await self.pilot.pause(0.01)  # poll interval of a bounded wait
        await app.pop_screen()

    def _refocus(self) -> None:
        first = self.home.get(id(self.app.screen))
        if first is not None and first.is_attached and self.app.screen.focused is not first:
            first.focus()

    async def reset(self) -> None:
        """The configs tree shown, nothing over it, its first focus back."""
        app = self.app
        while len(app.screen_stack) > 1:
            await self.pop()
        if app.current_mode != app.CONFIGS:
            await app.switch_to(app.CONFIGS)
            while len(app.screen_stack) > 1:
                await self.pop()
        self._refocus()
        await self.settle()

    async def back_to(self, screen, mode: str) -> bool:
        """``screen`` shown again (what was opened over it closed, its first focus back), if it
        is still there."""
        app = self.app
        first = self.home.get(id(screen))
        if app.current_mode == mode and app.screen is screen and (first is None or screen.focused is first):
            return True  # there already (press settled it)
        if app.current_mode != mode:
            await app.switch_mode(mode)
        if screen not in app.screen_stack:
            return False
        while app.screen is not screen:
            await self.pop()
        self._refocus()
        await self.settle()
        return True

    async def press(self, key: str, timeout: float = 3.0) -> bool:
        """Press ``key``; did anything change (the screen, the focus, what is shown)?"""
        before = self.settled or self.fingerprint()
        await send_key(self.pilot, key)  # what it changes is waited on below
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.pilot.pause(0)  # the screen's pending messages handled (not a wait for CPU idle)
            now = self.fingerprint()
            if now != before:
                if now[0] == before[0]:  # the same screen: wait for it to stand still (the next key)
                    await self.settle()
                else:  # another screen: back_to or goto settles when back
                    self.settled = None
                return True
            await self.pilot.pause(0.01)  # poll interval of a bounded wait
        return False

    async def goto(self, path: list[str], fresh: bool = False) -> None:
        """From the start, press ``path``; in a new app if a key of it does nothing (what an earlier
        key left, e.g. a filter, may be in the way)."""
        for attempt in ("as is", "fresh"):
            if fresh or attempt == "fresh" or self.app is None:
                await self.fresh()
            await self.reset()
            for key in path:
                # A key that does nothing "as is" is tried again in a new app: no long wait here.
                if not await self.press(key, timeout=1.0 if attempt == "as is" else 3.0):
                    break
            else:
                # A screen just shown may start work after a short wait (a debounced validation of
                # the launch editor, a debounced preview of the configs tree): still for longer.
                wait = VALIDATE_DEBOUNCE_S if isinstance(self.app.screen, LaunchScreen) else PREVIEW_DEBOUNCE_S
                await self.settle(still=wait + 0.05)
                return
            assert attempt == "as is", f"{path}: {key!r} changed nothing\n{screen_text(self.app)}"

    async def reach(self, path: list[str], name: str, fresh: bool = False) -> bool:
        """``goto(path)``: is the screen shown then a ``name``?"""
        await self.goto(path, fresh=fresh)
        return type(self.app.screen).__name__ == name

    def keys(self) -> list[tuple[str, str, bool]]:
        """(key, action, enabled) of what the screen's key bar shows (with the keys it leaves out
        for room: a wider terminal shows them); a screen without a key bar (a modal one): its own
        bindings (those with an id: HeyHi's, not Textual's tab and shift+tab)."""
        screen = self.app.screen
        bars = list(screen.query(KeyBar))
        if bars:
            bar = bars[0]
            bar.rebuild()
            return [(k.key, k.action, k.enabled) for k in bar.shown + bar.hidden]
        return [(key, a.binding.action, a.enabled) for key, a in screen.active_bindings.items()
                if a.node is screen and a.binding.id]

    def errors(self) -> list[str]:
        return [m.notification.message for m in self.notes if m.notification.severity == "error"]


async def walk(w: Walker) -> tuple[dict[str, list[list[str]]], list[str]]:
    """Every screen reached from the first one by the key bars' keys (name -> the paths of keys that
    reached it, the one that reached it when walked first), and what was checked (one line per key)."""
    paths: dict[str, list[str]] = {}  # screen -> the path that reached it when walked
    await w.goto([])
    first = type(w.app.screen).__name__
    # Screens to walk, in the order found, and every path that reached each (a path may not reach it
    # twice: a launch the daemon skips the second time; the next path is tried then).
    todo: list[str] = [first] + [n for n in ENTRY if n != first]
    found: dict[str, list[list[str]]] = {first: [[]], **{n: [p] for n, p in ENTRY.items()}}
    log: list[str] = []
    trace = os.environ.get("HH_WALK_TRACE")
    while todo:
        name = todo.pop(0)
        for path in found[name]:
            # As is, then in a new app: what an earlier key left (a state filter that empties the
            # jobs table) may lead a path elsewhere.
            if await w.reach(path, name) or await w.reach(path, name, fresh=True):
                break
        else:
            raise AssertionError(f"no path reaches {name} again: {found[name]}\n{screen_text(w.app)}")
        screen, mode = w.app.screen, w.app.current_mode
        paths[name] = path
        if isinstance(screen, SystemModalScreen):  # Textual's own (the palette): reached, not walked
            continue
        keys = w.keys()
        assert keys, f"{name} shows no key"
        # This screen's keys first; the app's (to other screens) last: the last key needs no way back.
        keys.sort(key=lambda k: k[1] in EFFECT)
        changed_here: list[str] = []  # keys that changed something and left this screen shown
        later: list[tuple[str, str, bool]] = []  # keys that changed nothing at first
        for attempt, batch in (("first", keys), ("again", later)):
            for i, (key, action, enabled) in enumerate(batch):
                where = f"{name} {'/'.join(path) or '(start)'} + {key} ({action})"
                if not enabled:  # shown dim: "you are here" (1 Configs on the configs tree)
                    await send_key(w.pilot, key)
                    await w.settle()
                    assert w.app.screen is screen and w.app.current_mode == mode, f"{where}: a dim key did something"
                    log.append(f"{where}: dim, does nothing")
                    continue
                errors_before = len(w.errors())
                if attempt == "first":
                    ok = await w.press(key, timeout=1.0)  # tried again below with the full wait
                    if not ok:  # it may show what is shown already (p Print): after the other keys
                        later.append((key, action, enabled))
                        continue
                else:
                    # Again after each key that changed this screen, then in a new app (what an
                    # earlier key left, e.g. a filter, may have been in the way).
                    ok = False
                    for other in changed_here + [None]:
                        if trace:
                            print(f"{time.monotonic():.2f} {where}: again, "
                                  f"{'after ' + other if other else 'in a new app'}")
                        await w.goto(path, fresh=other is None)
                        screen = w.app.screen
                        if other is not None:
                            await w.press(other)
                            if w.app.screen is not screen:
                                continue
                            if isinstance(screen.focused, (Input, TextArea)):  # not typing in a field
                                w._refocus()
                                await w.settle()
                        if ok := await w.press(key):
                            break
                app = w.app
                assert ok, f"{where}: pressing it changed nothing\n{screen_text(app)}"
                assert len(w.errors()) == errors_before, f"{where}: an error: {w.errors()[errors_before:]}"
                if action in EFFECT:
                    assert EFFECT[action](app), f"{where}: not the expected effect\n{screen_text(app)}"
                reached = type(app.screen).__name__
                log.append(f"{where}: ok -> {reached}")
                if trace:
                    print(f"{time.monotonic():.2f} {log[-1]}", flush=True)
                if app.screen is screen:
                    changed_here.append(key)
                else:
                    found.setdefault(reached, []).append(path + [key])
                    if reached not in paths and reached not in todo:
                        todo.append(reached)
                # The next key from the same place (a retried key starts from a new start anyway).
                if attempt == "first" and i < len(batch) - 1 and not await w.back_to(screen, mode):
                    await w.goto(path)
                    screen = w.app.screen
    return {n: [p] + [q for q in found[n] if q != p] for n, p in paths.items()}, log


PATHS: dict[str, list[list[str]]] = {}  # the walk's result, for the 80x24 test when both run


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One daemon for the module (its own socket, state and results), the probe project, three
    finished jobs and a finished sweep (the walk may add runs: tests count at least these)."""
    base = Path(tempfile.mkdtemp(prefix="hhk", dir="/tmp"))  # short: AF_UNIX paths
    env = TuiEnv(base=base, sock=base / "s" / "d.sock", results=base / "results", state=base / "state")
    proj = tmp_path_factory.mktemp("keys") / "probeproj"
    shutil.copytree(REPO / "tests" / "project", proj, ignore=shutil.ignore_patterns("__pycache__"))
    run = proj / "run.py"  # the first config of the tree (probe/other) launches too
    run.write_text(run.read_text().replace('if __name__ == "__main__":',
                                           'def other(cfg):\n    print("other", cfg.x)\n\n\nif __name__ == "__main__":'))
    # Profiles: the launch editor's ctrl+f opens its picker (no default: the CLI's folders stay as they are).
    (proj / "pyproject.toml").write_text('[tool.heyhi.profiles.quick]\ndescription = "three lines"\n'
                                         'overrides = ["lines=3"]\n[tool.heyhi.profiles.tagged]\noverrides = ["tag=p"]\n')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEYHI_SOCKET", str(env.sock))
        mp.setenv("HEYHI_STATE_DIR", str(env.state))
        mp.setenv("HH_EXP_DIR", str(env.results))
        # What E (editor) and ! (shell) run on a run's folder: a command that says it ran.
        mp.setenv("VISUAL", "sh -c 'exit 3'")
        mp.setenv("SHELL", "/bin/false")
        d = DaemonProcess.start(env.sock, hello_timeout=5, stderr_dir=base)
        try:
            yield env, proj, finished_jobs(env.sock, proj)
        finally:
            d.stop()
            shutil.rmtree(base, ignore_errors=True)


def walker(world, size) -> Walker:
    env, proj, jobs = world

    def ready(app) -> bool:
        screen = app.screen
        return (app.link_state.connected and all(j in app.jobs for j in jobs) and isinstance(screen, ConfigsScreen)
                and screen.files and screen.preview.result is not None and not screen.preview.loading
                and screen.tree is not None and screen.tree.has_focus)

    return Walker(lambda: env.app(proj), size, ready)


async def test_walk_every_screen_pressing_every_key_its_key_bar_shows(world):
    w = walker(world, WIDE)
    try:
        paths, log = await walk(w)
    finally:
        await w.close()
    PATHS.update(paths)
    print("\n".join(log))
    print("screens walked:", ", ".join(f"{k} <- {'/'.join(v[0]) or 'start'}" for k, v in paths.items()))
    missing = app_screens() - set(paths)
    assert not missing, (f"screens no key of the walk reached: {sorted(missing)}; give the keys that reach "
                         f"them in ENTRY\nwalked: {paths}")


# ---------------------------------------------------------------------------------------------
# Nothing cut at 80x24


def _plain(x) -> str:
    return x.plain if hasattr(x, "plain") else str(x)


def _scrolls(widget) -> bool:
    """Is ``widget`` inside something that scrolls (and shows its scroll bar)?"""
    for node in widget.ancestors_with_self:
        if isinstance(node, Screen):
            return False
        if (getattr(node, "show_vertical_scrollbar", False) and node.max_scroll_y > 0) or (
                getattr(node, "show_horizontal_scrollbar", False) and node.max_scroll_x > 0):
            return True
    return False


def _seen(lines: list[str], region) -> list[str]:
    return [line[region.x:region.right] for line in lines[region.y:region.bottom]]


def _whole(text: str, shown: list[str]) -> bool:
    """Is every word of ``text`` in what is ``shown`` (folded or wrapped lines count), or does
    it end in a mark (… or a scroll bar's)?"""
    flat, joined = " ".join(x.strip() for x in shown), "".join(x.strip() for x in shown)
    if "…" in flat:
        return True
    return all(word in flat or word in joined for word in text.split())


def cuts(app) -> list[str]:
    """What the screen cuts with no mark: the header's title, the key bar's keys, a text (a title,
    a status line) or a table cell or header shown in part with no ellipsis and no scroll bar, a
    table wider than its view with no scroll bar."""
    found = []
    screen = app.screen
    lines = screen_text(app).splitlines()
    if screen.query("Header"):
        sub = screen.sub_title or app.sub_title
        want = f"{screen.title or app.title} — {sub}" if sub else (screen.title or app.title)
        if want not in lines[0] and not lines[0].rstrip().endswith("…"):
            found.append(f"header cut: {want!r} shown as {lines[0].strip()!r}")
    for bar in screen.query(KeyBar):
        bar.rebuild()
        line = lines[bar.region.y]
        for k in bar.shown:
            if f"{k.display} {k.description}" not in line and f"{k.display} palette" not in line:
                found.append(f"key bar: {k.display} {k.description} not whole in {line!r}")
        if bar.hidden and "…" not in line:
            found.append(f"key bar: {len(bar.hidden)} keys left out with no mark: {line!r}")
    for widget in screen.query(Static):
        if isinstance(widget, KeyBar) or not widget.display or not widget.region.area or _scrolls(widget):
            continue
        visual = widget.render()
        if not isinstance(visual, (str, Text, Content)):
            continue  # a table or a chart: not text to compare
        text = _plain(visual)
        if text.strip() and not _whole(text, _seen(lines, widget.region)):
            found.append(f"{widget!r} cut with no mark: {text!r} shown as {_seen(lines, widget.region)!r}")
    for table in screen.query(DataTable):
        if not table.display or not table.region.width:
            continue
        if table.virtual_size.width > table.scrollable_content_region.width and not table.show_horizontal_scrollbar:
            found.append(f"{table.id}: {table.virtual_size.width} columns wide in {table.region.width}, no scroll bar")
        if table.max_scroll_x > 0:
            continue  # columns cut at the right edge are behind the scroll bar
        x = table.content_region.x
        header = table.header_height if table.show_header else 0
        for col in table.ordered_columns:
            width = col.get_render_width(table)
            cells = [(_plain(col.label), table.content_region.y, header)] if header else []
            y = table.content_region.y + header - int(table.scroll_y)
            for row in table.ordered_rows:
                if y >= table.content_region.bottom:
                    break
                if y >= table.content_region.y + header:
                    cells.append((_plain(table.get_cell(row.key, col.key)), y, row.height))
                y += row.height
            for text, top, height in cells:
                shown = [line[x:x + width] for line in lines[top:top + height]]
                if text.strip() and not _whole(text, shown):
                    found.append(f"{table.id}: {text!r} shown as {shown!r} (column {col.key.value!r})")
            x += width
    return found


async def test_nothing_cut_at_80x24_on_any_screen(world):
    w = walker(world, (80, 24))
    try:
        paths = dict(PATHS)
        if not paths:  # run alone: find the screens first
            wide = walker(world, WIDE)
            try:
                paths = (await walk(wide))[0]
            finally:
                await wide.close()
        problems = {}
        for name, tries in paths.items():
            for path in tries:  # the first that still reaches it (a launch may be skipped now)
                await w.goto(path)
                if type(w.app.screen).__name__ == name:
                    break
            app = w.app
            if isinstance(app.screen, SystemModalScreen):
                continue
            assert type(app.screen).__name__ == name
            found = cuts(app)
            if found:
                problems[name] = found + [screen_text(app)]
    finally:
        await w.close()
    assert not problems, "\n".join(f"{k}: " + "\n".join(v) for k, v in problems.items())


# ---------------------------------------------------------------------------------------------
# The keys one by one


async def test_q_quits_outside_text_fields_and_asks_when_overrides_would_be_lost(world):
    env, proj, jobs = world
    app = env.app(proj)
    async with app.run_test(size=(100, 30)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen))
        await until(pilot, lambda: app.link_state.connected and configs.files and configs.tree)
        await pilot.press("slash", "q")  # in the filter: a letter
        await until(pilot, lambda: configs.filter_text == "q", what="q typed in the filter")
        assert app.is_running
        await pilot.press("escape", "tab")
        app.open_launch(str(proj / PROBE_CONFIG))
        editor = await until(pilot, on(app, LaunchScreen), what="the launch editor")
        await pilot.press(*"tag=q")  # q in an override is a letter too
        await until(pilot, lambda: editor.sent == ["tag=q"], what="tag=q typed")
        editor.query_one("#launch-flat").focus()
        await pilot.press("q")
        dialog = await until(pilot, on(app, ConfirmDialog), what="asked before losing the overrides")
        assert dialog.title_text == "Quit HeyHi?" and "overrides typed for probe/probe" in str(dialog.body)
        await pilot.press("n")
        await until(pilot, lambda: app.screen is editor, what="back in the editor, nothing lost")
        assert editor.sent == ["tag=q"] and app.is_running
        await pilot.press("q")
        await until(pilot, on(app, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, what="quit after the yes")
    app = env.app(proj)
    async with app.run_test(size=(100, 30)) as pilot:  # nothing to lose: q quits at once
        await until(pilot, lambda: isinstance(app.screen, ConfigsScreen) and app.screen.tree)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, what="quit")


async def test_jkgG_move_in_the_tree_the_tables_and_the_log(world):
    env, proj, jobs = world
    app = env.app(proj)
    async with app.run_test(size=(100, 30)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen))
        tree = await until(pilot, lambda: configs.files and configs.tree and configs.tree.has_focus and configs.tree)
        await until(pilot, lambda: tree.cursor_node is not None and tree.cursor_node.data is not None)
        start = tree.cursor_line
        await pilot.press("j")
        await until(pilot, lambda: tree.cursor_line == start + 1, what="j: down")
        await pilot.press("k")
        await until(pilot, lambda: tree.cursor_line == start, what="k: up")
        await pilot.press("G")
        await until(pilot, lambda: tree.cursor_line == tree.last_line, what="G: the last line")
        await pilot.press("g")
        await until(pilot, lambda: tree.cursor_line == 0, what="g: the first line")

        await pilot.press("2")
        jobs_screen = await until(pilot, on(app, JobsScreen))
        table = jobs_screen.table
        await until(pilot, lambda: table.row_count >= 5 and table.has_focus)
        await pilot.press("g")
        await until(pilot, lambda: table.cursor_row == 0)
        await pilot.press("j", "j")
        await until(pilot, lambda: table.cursor_row == 2, what="j j: the third row")
        await pilot.press("k")
        await until(pilot, lambda: table.cursor_row == 1, what="k: the second row")
        await pilot.press("G")
        await until(pilot, lambda: table.cursor_row == table.row_count - 1, what="G: the last row")
        await pilot.press("g")
        await until(pilot, lambda: table.cursor_row == 0, what="g: the first row")

        # The log of the job with lines: j/k scroll it (g/G are the log's own: top / end).
        await until(pilot, lambda: table.select_job(jobs[0]) and jobs_screen.current_job() == jobs[0])
        await pilot.press("l")
        logs = await until(pilot, on(app, LogsScreen))
        log = logs.pane.log_widget
        await until(pilot, lambda: log.lines and log.lines[-1] == "probe done" and log.max_scroll_y > 0)
        await pilot.press("g")
        await until(pilot, lambda: log.scroll_offset.y == 0, what="g: the top")
        await pilot.press("j")
        await until(pilot, lambda: log.scroll_offset.y == 1, what="j: one line down")
        await pilot.press("k")
        await until(pilot, lambda: log.scroll_offset.y == 0, what="k: one line up")


async def test_enter_opens_and_is_in_the_key_bar_and_in_help(world):
    env, proj, jobs = world
    app = env.app(proj)
    async with app.run_test(size=(120, 30)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen))
        await until(pilot, lambda: configs.tree and configs.tree.has_focus and configs.selected)
        bar = configs.query_one(KeyBar)
        await until(pilot, lambda: any(k.key == "enter" and k.description == "Open" for k in bar.shown)
                    and "⏎ Open" in screen_text(app).splitlines()[-1], what="Enter in the key bar")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen) and "configs.open" in screen_text(app))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is configs)
        chosen = configs.selected
        await pilot.press("enter")
        editor = await until(pilot, on(app, LaunchScreen), what="Enter opens the launch editor")
        assert editor.config == chosen.path
        editor.query_one("#launch-flat").focus()  # out of the override's text field
        await pilot.press("2")
        jobs_screen = await until(pilot, on(app, JobsScreen))
        await until(pilot, lambda: jobs_screen.table.row_count >= 5 and "⏎ Open" in screen_text(app))
        jid = jobs_screen.current_job()
        await pilot.press("enter")
        job = await until(pilot, on(app, JobScreen), what="Enter opens the job")
        assert job.job_id == jid


async def test_1_and_2_show_the_configs_tree_and_the_jobs_table_from_every_screen(world):
    env, proj, jobs = world
    app = env.app(proj)
    async with app.run_test(size=(120, 30)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen))
        await until(pilot, lambda: configs.files and configs.tree and configs.tree.has_focus)
        bar = configs.query_one(KeyBar)
        one = next(k for k in bar.shown if k.action == "show_configs")
        assert not one.enabled  # shown dim on its own screen
        await pilot.press("enter")
        editor = await until(pilot, on(app, LaunchScreen))
        editor.query_one("#launch-flat").focus()
        await pilot.press("1")
        await until(pilot, lambda: app.screen is configs, what="1 from the editor: the configs tree")
        await pilot.press("2")
        jobs_screen = await until(pilot, on(app, JobsScreen))
        await until(pilot, lambda: jobs_screen.table.row_count >= 5)
        await pilot.press("enter")
        await until(pilot, on(app, JobScreen))
        await pilot.press("2")
        await until(pilot, lambda: app.screen is jobs_screen, what="2 from the job screen: the jobs table")
        await pilot.press("l")
        await until(pilot, on(app, LogsScreen))
        await pilot.press("2")
        await until(pilot, lambda: app.screen is jobs_screen, what="2 from the log: the jobs table")
        await pilot.press("enter")
        await until(pilot, on(app, JobScreen))
        await pilot.press("1")
        await until(pilot, lambda: app.screen is configs, what="1 from the job screen: the configs tree")


async def test_ctrl_p_and_ctrl_n_pick_completions_in_the_editor_and_the_palette_elsewhere(world):
    env, proj, jobs = world
    app = env.app(proj)
    async with app.run_test(size=(120, 30)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen))
        await until(pilot, lambda: configs.files and configs.tree and configs.tree.has_focus)
        app.open_launch(str(proj / PROBE_CONFIG))
        editor = await until(pilot, on(app, LaunchScreen))
        await until(pilot, lambda: editor.schema is not None)
        options = editor.query_one(CompletionList)
        await pilot.press("l")  # lines, lines_per_s, launcher...
        await until(pilot, lambda: options.option_count >= 2 and options.highlighted == 0, what="candidates")
        assert "palette" not in screen_text(app).splitlines()[-1]  # ctrl+p is not the palette here
        await pilot.press("ctrl+n")
        await until(pilot, lambda: options.highlighted == 1, what="ctrl+n: the next candidate")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: options.highlighted == 0, what="ctrl+p: the previous candidate")
        assert not isinstance(app.screen, CommandPalette)
        editor.query_one("#launch-flat").focus()
        await pilot.press("ctrl+p")
        await until(pilot, on(app, CommandPalette), what="the palette, outside the editor")


# ---------------------------------------------------------------------------------------------
# Snapshots of help (its two sections: this screen's keys, the keys that work everywhere)


@pytest.mark.parametrize("size", [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")])
def test_help_snapshot(snap_compare, world, size):
    env, proj, jobs = world
    app = env.app(proj)

    async def ready(pilot):
        await until(pilot, lambda: isinstance(app.screen, ConfigsScreen) and app.screen.tree is not None
                    and app.screen.tree.has_focus and app.screen.preview.result is not None
                    and not app.screen.preview.loading, 30, "the configs screen")
        # Behind help: a chunk (no run folder whose state other tests' launches would change).
        await pilot.press("G")
        await until(pilot, lambda: app.screen.preview.conf and app.screen.preview.conf.is_chunk
                    and not app.screen.preview.loading, what="a chunk previewed")
        await pilot.press("question_mark")
        await until(pilot, on(app, HelpScreen), what="help")
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(app, terminal_size=size, run_before=ready)
