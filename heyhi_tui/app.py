"""The Textual app: a thin shell holding the daemon link, the job store and the modes.

Screens own their data and workers (``screens/``); the app keeps what every screen shares: the
link (``link.py``), the jobs as the daemon streams them (``jobs``, announced by ``jobs_rev``), the
link's state (``link_state``, shown by each screen's banner) and ``conf_rev`` (the project's conf/
changed on disk: local links watch it; remote ones refresh on ``ctrl+r``).
"""

from __future__ import annotations


import gc
import os
import posixpath
from typing import TYPE_CHECKING, Mapping

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from heyhi.wire import paths
from heyhi.states import JobState

from .format import config_label, short_path
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


class HeyHiApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "HeyHi"
    # Two modes, each with its own stack: configs (the default mode: its screen comes from
    # get_default_screen, which spares the start-up a full CSS re-parse that MODES costs) and
    # jobs (added when first shown).
    CONFIGS, JOBS = "_default", "jobs"
    COMMANDS = App.COMMANDS | {_commands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("1", "show_configs", "Configs", id="app.configs", tooltip="Browse the project's configs"),
        Binding("2", "show_jobs", "Jobs", id="app.jobs", tooltip="The jobs the daemon tracks (live)"),
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Keys of this screen, how to remap them"),
        Binding("ctrl+r", "refresh", "Refresh", id="app.refresh", show=False,
                tooltip="Re-read the configs and retry the daemon now"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", show=False, tooltip="Quit (jobs keep running in the daemon)"),
    ]

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
        self.watch_files = (not remote) if watch_files is None else watch_files
        self.keymap = dict(keymap or {})
        self.keymap_path = keymap_path
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
        self.link_state = event.state

    def on_link_jobs_changed(self, event: Link.JobsChanged) -> None:
        reset, changes = self.link.take_jobs()
        if reset is not None:
            self.jobs = {j.job_id: j for j in reset}
        for jid, job in changes.items():
            if job.state == JobState.WIPED:
                self.jobs.pop(jid, None)
            else:
                self.jobs[jid] = job
        self.jobs_rev += 1

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
        return self.switch_mode(mode)

    def action_show_configs(self) -> None:
        self.switch_to(self.CONFIGS)

    def action_show_jobs(self) -> None:
        self.switch_to(self.JOBS)

    def action_help(self) -> None:
        from .screens.help import HelpScreen  # lean: keeps the start-up of heyhi-tui from loading it

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen, self.keymap_path))

    def action_refresh(self) -> None:
        self.conf_rev += 1
        self.link.wake()

    def open_launch(self, config: str, overrides: list[str] | None = None) -> None:
        from .screens.launch import LaunchScreen  # lean: keeps the start-up of heyhi-tui from loading it

        self.switch_to(self.CONFIGS)
        self.push_screen(LaunchScreen(config, overrides))

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
