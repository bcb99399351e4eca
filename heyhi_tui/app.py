"""The Textual app: a thin shell holding the daemon link, the job store and the modes.

Screens own their data and workers (``screens/``); the app keeps what every screen shares: the
link (``link.py``), the jobs as the daemon streams them (``jobs``, announced by ``jobs_rev``), the
link's state (``link_state``, shown by each screen's banner) and ``conf_rev`` (the project's conf/
changed on disk: local links watch it; remote ones refresh on ``ctrl+r``). ``conf_rev`` also moves
when the link connects again after a loss: every view that reads through the daemon (the configs tree
and preview, the launch editor, ...) watches it and re-reads by itself, with no key pressed.

Keys everywhere (outside text inputs, which keep their keys): ``q`` quits (asking first when a screen
says something would be lost: ``unsaved_work()``), ``j``/``k``/``g``/``G`` move in the focused tree,
table or list, ``1``/``2``/``3`` show the configs tree / the jobs table / the sweeps from any
screen, and ``ctrl+p`` opens the palette unless the focused widget binds it itself (the launch
editor: previous candidate).
"""

from __future__ import annotations


import gc
import inspect
import os
import posixpath
from typing import TYPE_CHECKING, Mapping

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView

from heyhi.wire import paths
from heyhi.states import JobState

from .format import MAX_END_TOASTS, config_label, end_toasts, short_path
from .link import Connector, Link, LinkState, local_connector
from .screens.configs import ConfigsScreen
from .widgets.configs import ConfFile
import asyncio
import importlib

if TYPE_CHECKING:
    from heyhi.wire.protocol import JobInfo


# Only the first screen is imported up front; the others (and the palette's provider) when first
# used, so that the first frame comes sooner.
def _commands():
    from .commands import HeyHiCommands  # lean: keeps the start-up of heyhi-tui from loading it

    return HeyHiCommands


def _jobs_screen():
    from .screens.jobs import JobsScreen  # lean: keeps the start-up of heyhi-tui from loading it

    return JobsScreen()


def idle_toasts(before: Mapping[str, "JobInfo"], after: list["JobInfo"]) -> list[str]:
    """The toasts for the daemon's new efficiency warnings (``JobInfo.efficiency_warning``) of jobs
    already shown: one each, or one counting them past ``MAX_END_TOASTS``."""
    latest = {j.job_id: j for j in after}.values()
    notes = [j.efficiency_warning for j in latest if j.efficiency_warning and j.job_id in before
             and before[j.job_id].efficiency_warning != j.efficiency_warning]
    return notes if len(notes) <= MAX_END_TOASTS else [f"{len(notes)} Slurm jobs idle while holding their allocation"]


def _sweeps_screen():
    from .screens.sweeps import SweepsScreen  # lean: keeps the start-up of heyhi-tui from loading it

    return SweepsScreen()


class HeyHiApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "HeyHi"
    # Two modes, each with its own stack: configs (the default mode: its screen comes from
    # get_default_screen, which spares the start-up a full CSS re-parse that MODES costs) and
    # jobs (added when first shown).
    CONFIGS, JOBS = "_default", "jobs"
    SWEEPS = "sweeps"  # the sweeps view, a mode of its own (added when first shown)
    COMMANDS = App.COMMANDS | {_commands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("1", "show_configs", "Configs", id="app.configs", tooltip="Browse the project's configs"),
        Binding("2", "show_jobs", "Jobs", id="app.jobs", tooltip="The jobs the daemon tracks (live)"),
        Binding("3", "show_sweeps", "Sweeps", id="app.sweeps", tooltip="Sweeps: progress, report, best"),
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Keys of this screen, how to remap them"),
        Binding("ctrl+r", "refresh", "Refresh", id="app.refresh", show=False,
                tooltip="Re-read the configs and retry the daemon now"),
        Binding("q,ctrl+q", "quit", "Quit", id="app.quit", show=False,
                tooltip="Quit (jobs keep running in the daemon; asks first if unsaved overrides would be lost)"),
        Binding("j", "nav('down')", "Down", id="app.down", show=False, tooltip="Down in the tree, table or list"),
        Binding("k", "nav('up')", "Up", id="app.up", show=False, tooltip="Up in the tree, table or list"),
        Binding("g", "nav('top')", "Top", id="app.top", show=False, tooltip="To the first row"),
        Binding("G", "nav('bottom')", "Bottom", id="app.bottom", show=False, tooltip="To the last row"),
    ]
    # What j/k/g/G run on the focused widget: the first of these actions it has.
    NAV = {"down": ("cursor_down", "scroll_down"), "up": ("cursor_up", "scroll_up"),
           "top": ("scroll_top", "first", "scroll_home"), "bottom": ("scroll_bottom", "last", "scroll_end")}
    NAV_KEYS = {"down": "j", "up": "k", "top": "g", "bottom": "G"}

    link_state: reactive[LinkState] = reactive(LinkState, always_update=True)
    jobs_rev: reactive[int] = reactive(0)
    conf_rev: reactive[int] = reactive(0)

    def __init__(
        self,
        project_root: str,
        *,
        connect: Connector | None = None,
        socket_path: str | None = None,
        remote: str | None = None,
        results_root: str | None = None,
        autostart: bool = True,
        watch_files: bool | None = None,
        keymap: Mapping[str, str] | None = None,
        keymap_path: str = "",
    ) -> None:
        super().__init__()
        self.project_root = project_root.rstrip("/") or ("/" if project_root else "")
        self.remote = remote
        if connect is None:
            socket_path = socket_path or paths.socket_path()
            connect = local_connector(socket_path)
        self.socket_path = socket_path
        self.link = Link(self, connect, where=f"ssh://{remote}" if remote else str(socket_path),
                         socket_path=None if remote else socket_path, autostart=autostart and not remote,
                         prepare=self._resolve_project if remote else None)
        self.results_root = results_root
        self.jobs: dict[str, JobInfo] = {}
        self.configs: tuple[ConfFile, ...] = ()
        self._jobs_mode = False
        self.launch_history = None  # heyhi_tui.history.History: read when the launch editor first needs it
        self.watch_files = (not remote) if watch_files is None else watch_files
        self.keymap = dict(keymap or {})
        self.keymap_path = keymap_path
        # Keys the keymap gives to other bindings are not j/k/g/G any more (the keymap wins).
        self._claimed_keys = {k.strip() for ident, keys in self.keymap.items()
                              if ident not in {f"app.{w}" for w in ("down", "up", "top", "bottom")}
                              for k in keys.split(",")}
        self._was_connected = False
        name = posixpath.basename(self.project_root) or self.project_root
        self.sub_title = f"{name} @ {remote}" if remote else name

    async def _resolve_project(self) -> None:
        """Remote: the project path as the remote sees it (``~``, relative, or the host's default)."""
        connector = self.link.connector
        path = self.project_root or getattr(connector, "default_project", lambda: None)() or "."
        resolve = getattr(connector, "resolve", None)
        if resolve is not None:
            path = await resolve(path)
        self.project_root = path.rstrip("/") or "/"
        self.sub_title = f"{posixpath.basename(self.project_root)} @ {self.remote}"

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        # The link starts after the first frame: its imports (client, protocol) then cost nothing
        # the user waits for.
        self.call_after_refresh(self._start_link)
        if self.watch_files:
            self.call_after_refresh(self.watch_conf)

    def _start_link(self) -> None:
        # What exists now (modules, classes, stylesheets, the first screen) lives as long as the
        # app: keep it out of the garbage collector's full passes, which otherwise stall the UI
        # for tens of milliseconds while a fast log streams in.
        gc.freeze()
        self.run_worker(self.link.run(), name="daemon-link", group="link", exclusive=True)

    async def on_unmount(self) -> None:
        await self.link.close()

    # ---- what the link reports ------------------------------------------------------------------
    def on_link_status_changed(self, event: Link.StatusChanged) -> None:
        back = event.state.connected and not self.link_state.connected and self._was_connected
        self._was_connected = self._was_connected or event.state.connected
        self.link_state = event.state
        if back:  # the daemon is back: every view re-reads what it shows (no key needed)
            self.conf_rev += 1
        self.refresh_bindings()  # ctrl+r shows in the key bar while the link is down

    def footer_extra(self) -> set[str]:
        """Ids of hidden bindings the key bar shows now: ctrl+r when it is needed (remote: no file
        watching; or the daemon is away)."""
        return {"app.refresh"} if self.remote or not self.link_state.connected else set()

    def on_link_jobs_changed(self, event: Link.JobsChanged) -> None:
        reset, changes = self.link.take_jobs()
        before = dict(self.jobs)  # for the toast of a job that ended
        if reset is not None:
            self.jobs = {j.job_id: j for j in reset}
        for jid, job in changes.items():
            if job.state == JobState.WIPED:
                self.jobs.pop(jid, None)
            else:
                self.jobs[jid] = job
        self.jobs_rev += 1
        after = [*(reset or ()), *changes.values()]
        for text, severity in end_toasts(before, after, self.config_label):
            self.notify(text, title="job ended", severity=severity, timeout=8)
        for text in idle_toasts(before, after):  # the daemon's live efficiency check
            self.notify(text, title="job idle?", severity="warning", timeout=15)

    def on_app_focus(self) -> None:
        if self.remote:  # no file watching over SSH: coming back to the terminal re-reads
            self.conf_rev += 1

    def on_configs_screen_listed(self, event: ConfigsScreen.Listed) -> None:
        self.configs = event.files

    @work(exclusive=True, group="conf-watch")
    async def watch_conf(self) -> None:
        watchfiles = await asyncio.to_thread(importlib.import_module, "watchfiles")  # ~50 ms of imports
        awatch = watchfiles.awatch
        conf = os.path.join(self.project_root, "conf")
        if not os.path.isdir(conf):
            return
        async for _ in awatch(conf, debounce=80, step=20):
            self.conf_rev += 1

    # ---- shown paths ----------------------------------------------------------------------------
    def show_path(self, path: str) -> str:
        roots = {}
        if self.results_root:
            roots[self.results_root] = "$HH_EXP_DIR"
        roots[self.project_root] = posixpath.basename(self.project_root) or self.project_root
        return short_path(path, roots)

    def config_label(self, config: str) -> str:
        return config_label(config, self.project_root)

    # ---- navigation -----------------------------------------------------------------------------
    def get_default_screen(self) -> ConfigsScreen:
        return ConfigsScreen()

    def switch_to(self, mode: str):
        """Show the configs or the jobs mode (``CONFIGS`` / ``JOBS``); awaitable until mounted."""
        if mode == self.JOBS and not self._jobs_mode:
            self.add_mode(self.JOBS, _jobs_screen)
            # switch_mode only goes to modes it knows, and add_mode refuses "_default": let it
            # know the default mode (its stack exists already, so this factory is never called).
            self._modes.setdefault(self.CONFIGS, ConfigsScreen)
            self._jobs_mode = True
        if mode == self.SWEEPS and self.SWEEPS not in self._modes:
            self.add_mode(self.SWEEPS, _sweeps_screen)
            self._modes.setdefault(self.CONFIGS, ConfigsScreen)
        return self.switch_mode(mode)

    def action_show_configs(self) -> None:
        self.run_worker(self._show_mode(self.CONFIGS), group="navigate")

    def action_show_jobs(self) -> None:
        self.run_worker(self._show_mode(self.JOBS), group="navigate")

    def action_show_sweeps(self) -> None:
        self.run_worker(self._show_mode(self.SWEEPS), group="navigate")

    async def _show_mode(self, mode: str) -> None:
        """The mode's first screen (the configs tree, the jobs table, the sweeps), whatever is over
        it: each screen over it leaves as its Esc does (the launch editor keeps its lines as a draft)."""
        await self.switch_to(mode)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, ModalScreen):
            screen = self.screen
            back = getattr(screen, "action_back", None)
            if back is not None and inspect.isawaitable(done := back()):
                await done
            if self.screen is screen:
                await self.pop_screen()

    def _on_mode_base(self, mode: str) -> bool:
        return self.current_mode == mode and len(self.screen_stack) == 1

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_configs":  # dim (not hidden) on its own screen: "you are here"
            return None if self._on_mode_base(self.CONFIGS) else True
        if action == "show_jobs":
            return None if self._jobs_mode and self._on_mode_base(self.JOBS) else True
        if action == "show_sweeps":
            return None if self.SWEEPS in self._modes and self._on_mode_base(self.SWEEPS) else True
        if action == "nav":
            where = str(parameters[0]) if parameters else ""
            if self.NAV_KEYS.get(where) in self._claimed_keys:
                return False
            return self._nav_target(where) is not None
        if action == "command_palette":
            # The focused widget's own ctrl+p (the launch editor: previous candidate) wins.
            return not self._focus_binds(self.COMMAND_PALETTE_BINDING)
        return True

    def _focus_binds(self, key: str) -> bool:
        focused = self.focused
        if focused is None:
            return False
        for node in focused.ancestors_with_self:
            if node is self:
                break
            if node._bindings.key_to_bindings.get(key):  # the node's own bindings, keymap applied
                return True
        return False

    def _nav_target(self, where: str):
        """The focused widget's action for j/k/g/G (a tree, table, list or scrolling view), or None."""
        focused = self.focused
        if focused is None or not isinstance(focused, (ScrollView, ScrollableContainer)):
            return None
        for name in self.NAV.get(where, ()):
            method = getattr(focused, f"action_{name}", None)
            if method is not None:
                return method
        return None

    def action_nav(self, where: str) -> None:
        method = self._nav_target(where)
        if method is not None:
            method()

    async def action_quit(self) -> None:
        lost = self.unsaved_work()
        if not lost:
            self.exit()
            return
        from rich.text import Text  # lean: rich loads only when this runs

        from .dialogs.confirm import ConfirmDialog  # lean: loads when asked, not with heyhi-tui

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        body = Text.assemble("Quitting now loses:\n", *((f"  {what}\n", "bold") for what in lost),
                             ("Jobs keep running in the daemon.", "dim"))
        if not isinstance(self.screen, ConfirmDialog):
            self.push_screen(ConfirmDialog("Quit HeyHi?", body, yes="Quit"), answered)

    def unsaved_work(self) -> list[str]:
        """What quitting would lose: each screen of every mode may say (``unsaved_work()``)."""
        stacks = getattr(self, "_screen_stacks", None) or {"": self.screen_stack}
        lost = []
        for stack in stacks.values():
            for screen in stack:
                what = getattr(screen, "unsaved_work", None)
                if callable(what) and (said := what()):
                    lost.append(str(said))
        return lost

    def action_help(self) -> None:
        from .screens.help import HelpScreen  # lean: keeps the start-up of heyhi-tui from loading it

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen, self.keymap_path))

    def action_refresh(self) -> None:
        self.conf_rev += 1
        self.link.wake()

    def open_launch(self, config: str, overrides: list[str] | None = None, **options) -> None:
        """The launch editor on ``config``: with ``overrides``, else the config's draft if it has one
        (``options``: ``LaunchScreen``'s, e.g. a sweep's metric)."""
        from .screens.launch import LaunchScreen  # lean: keeps the start-up of heyhi-tui from loading it

        self.switch_to(self.CONFIGS)
        self.push_screen(LaunchScreen(config, overrides, **options))

    def edit_run(self, job_id: str) -> None:
        """Edit and relaunch: the launch editor on the run's config and overrides."""
        from .screens.launch import edit_run  # lean: keeps the start-up of heyhi-tui from loading it

        self.run_worker(edit_run(self, job_id), group="navigate")

    def show_sweep(self, sweep_id: str | None = None) -> None:
        """The sweeps view, and with ``sweep_id`` that sweep's own screen over it."""
        self.run_worker(self._show_sweep(sweep_id), group="navigate")

    async def _show_sweep(self, sweep_id: str | None) -> None:
        from .screens.sweep import SweepScreen  # lean: keeps the start-up of heyhi-tui from loading it

        await self._show_mode(self.SWEEPS)
        if sweep_id:
            await self.push_screen(SweepScreen(sweep_id))

    def show_job(self, job_id: str) -> None:
        """The jobs table with ``job_id`` highlighted, and the job's own screen over it."""
        self.run_worker(self._show_job(job_id), group="navigate")

    async def _show_job(self, job_id: str) -> None:
        from .screens.job import JobScreen  # lean: keeps the start-up of heyhi-tui from loading it
        from .screens.jobs import JobsScreen  # lean: keeps the start-up of heyhi-tui from loading it
        from .screens.logs import LogsScreen  # lean: keeps the start-up of heyhi-tui from loading it

        await self.switch_to(self.JOBS)
        while isinstance(self.screen, (JobScreen, LogsScreen)):
            self.pop_screen()
        if isinstance(self.screen, JobsScreen):
            self.screen.select_job(job_id)
        await self.push_screen(JobScreen(job_id))

    def show_logs(self, job_id: str, stream: str = "stdout") -> None:
        from .screens.logs import LogsScreen  # lean: keeps the start-up of heyhi-tui from loading it

        self.push_screen(LogsScreen(job_id, stream))
