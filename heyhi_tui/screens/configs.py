"""The first screen: the project's conf/ tree and its script tasks, a filter, and the selected
config composed.

The tree marks the configs that do not compose (the daemon checks them all in the background, on a
connection of its own); its pane widens and narrows with ``>`` / ``<`` (kept while the app runs).

Script tasks are the ``*.py`` files of the project root and of the folders named in
``[tool.heyhi] scripts-dirs`` (pyproject.toml), less the tasks module (``run.py`` or
``[tool.heyhi] tasks``), ``setup.py``, ``conftest.py`` and files starting with ``_`` or ``test_``.
Everything is listed and read through the daemon (``ListDir`` / ``ReadFile``: the TUI may be remote),
bounded (``MAX_DIRS`` folders, ``MAX_SCRIPTS`` scripts, ``MAX_SCRIPT_DIRS`` scripts-dirs, the first
``PYPROJECT_BYTES`` of pyproject.toml). A project with no conf/ lists its scripts only. Browsing a
script shows its source and never derives its flags (no ``Validate`` / ``Fields``: deriving runs the
script up to ``parse_args``); Enter opens the launch editor on it, which does.
"""

from __future__ import annotations

import asyncio
import posixpath

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from ..link import daemon_gone
from ..widgets.banner import LinkBanner
from ..widgets.configs import CONFIG_EXTS, ConfFile, ConfigPreview, ConfTree, Preview
from ..widgets.deferred import Deferred
from ..widgets.keybar import KeyBar
from ..workers import node_work, watch_app

MAX_DIRS = 500
MAX_SCRIPTS = 1000  # script tasks listed, at most
MAX_SCRIPT_DIRS = 50  # folders of [tool.heyhi] scripts-dirs read, at most
PYPROJECT_BYTES = 256 * 1024  # of pyproject.toml read for [tool.heyhi] (a longer one: its settings ignored)
NOT_SCRIPTS = ("setup.py", "conftest.py")
PREVIEW_DEBOUNCE_S = 0.08
SOURCE_BYTES = 256 * 1024
CHECK_TIMEOUT_S = 300.0  # the daemon composes every config once (then answers from its cache)
TREE_STEP = 4  # columns the tree pane widens or narrows by
TREE_MIN = 12  # the narrowest tree pane
PREVIEW_MIN = 30  # the preview keeps at least this many columns


class ConfigsScreen(Screen):
    """Owns the listing and the preview (reactives bound into the tree and the preview); all
    daemon traffic runs in its workers."""

    BINDINGS = [
        Binding("slash", "filter", "Filter", id="configs.filter", tooltip="Filter the configs by path"),
        Binding("o", "launch", "Launch…", id="configs.launch", show=False,
                tooltip="The launch editor for this config"),
        # p, f, s: shown by the preview's own view bar ("print p  flat f  source s"), not the footer.
        Binding("p", "view('print')", "Print", id="configs.print", show=False, tooltip="The composed config"),
        Binding("f", "view('flat')", "Flat", id="configs.flat", show=False,
                tooltip="Each value and its file:line"),
        Binding("s", "view('source')", "Source", id="configs.source", show=False,
                tooltip="The file as written"),
        # The tree pane's width (kept while the app runs): one footer entry for both keys.
        Binding("less_than_sign", "tree_width(-1)", "Tree width", id="configs.narrow", key_display="< >",
                tooltip="Narrow the tree pane"),
        Binding("greater_than_sign", "tree_width(1)", "Wider tree", id="configs.widen", show=False,
                tooltip="Widen the tree pane"),
    ]

    AUTO_FOCUS = "#conf-tree"  # mounted after the first frame: it takes the focus when ready

    files: reactive[tuple[ConfFile, ...]] = reactive((), always_update=True)
    filter_text: reactive[str] = reactive("")
    listing_error: reactive[str] = reactive("")
    preview: reactive[Preview] = reactive(Preview, always_update=True)
    selected: reactive[ConfFile | None] = reactive(None)
    conf_rev: reactive[int] = reactive(0)
    checks: reactive[dict] = reactive(dict, always_update=True)  # path -> ConfigCheck: which configs compose
    selected_check: reactive[object] = reactive(None)
    tree_width: reactive[int] = reactive(0)  # the tree pane's columns (0: the stylesheet's); kept for the session

    class Listed(Message):
        """The configs found under conf/ and the script tasks (for the command palette)."""

        def __init__(self, files: tuple[ConfFile, ...]) -> None:
            super().__init__()
            self.files = files

    def __init__(self) -> None:
        super().__init__(id="configs")
        self._serial = 0
        self._fields: dict[str, object] = {}  # config -> FieldList

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield LinkBanner()
        with Horizontal(id="configs-body"):
            with Vertical(id="configs-side"):
                yield Input(placeholder="/ filter configs", id="conf-filter", compact=True)
                yield Static("reading conf/ …", id="tree-loading")
                # Mounted after the first frame (Deferred) (a Tree is the dearest widget here, and it has
                # nothing to show before the daemon has listed conf/).
                yield Deferred(ConfTree(id="conf-tree").data_bind(
                    ConfigsScreen.files, ConfigsScreen.filter_text, ConfigsScreen.checks,
                    error=ConfigsScreen.listing_error))
            yield ConfigPreview(id="preview").data_bind(ConfigsScreen.preview, check=ConfigsScreen.selected_check)
        yield KeyBar()

    def on_mount(self) -> None:
        watch_app(self, "conf_rev", self._conf_changed, init=False)
        watch_app(self, "link_state", self._link_changed, init=True)

    @on(ConfTree.Ready)
    def _tree_ready(self, event: ConfTree.Ready) -> None:
        if self.focused is None:
            event.tree.focus()

    def watch_files(self, files: tuple[ConfFile, ...]) -> None:
        self.query_one("#tree-loading").display = not files and not self.listing_error

    def watch_listing_error(self) -> None:
        self.watch_files(self.files)

    # ---- loading --------------------------------------------------------------------------------
    def _link_changed(self, state) -> None:
        if state.connected and not self.files:
            self.load_files()

    def _conf_changed(self, rev: int) -> None:
        self._fields.clear()
        self.load_files()
        self._load_preview(self.selected)

    @node_work(exclusive=True, group="listing")
    async def load_files(self) -> None:
        from heyhi.wire.protocol import DaemonError  # lean: keeps the start-up of heyhi-tui from loading it

        root = self.app.project_root
        conf = posixpath.join(root, "conf")
        where = conf
        try:
            found, has_conf = await self._list_conf(conf)
            where = root
            scripts = await self._list_scripts(root)
        except DaemonError as e:
            if daemon_gone(e) and self.files:  # keep the tree: read again when the daemon is back
                return
            self.listing_error = f"cannot list {where}: {e.message}"
            return
        if not has_conf and not scripts:
            self.listing_error = f"no conf/ folder and no script task (*.py) in {root}"
            return
        self.listing_error = ""
        self.files = tuple(found + scripts)
        self.post_message(self.Listed(self.files))
        if has_conf:
            self.check_configs()

    async def _list_conf(self, conf: str) -> tuple[list[ConfFile], bool]:
        """The config files under ``conf`` (at most ``MAX_DIRS`` folders), and whether it exists."""
        from heyhi.wire.protocol import NOT_FOUND, DaemonError, DirListing, ListDir  # lean: keeps the start-up of heyhi-tui from loading it

        found: list[ConfFile] = []
        todo = [""]
        seen = 0
        while todo and seen < MAX_DIRS:
            rel = todo.pop(0)
            seen += 1
            try:
                listing = await self.app.link.request(ListDir(path=posixpath.join(conf, rel) if rel else conf))
            except DaemonError as e:
                if not rel and e.code == NOT_FOUND:  # no conf/: a project of script tasks only
                    return [], False
                raise
            assert isinstance(listing, DirListing)
            for e in listing.entries:
                if e.name.startswith((".", "__")):
                    continue
                sub = f"{rel}/{e.name}" if rel else e.name
                if e.is_dir:
                    todo.append(sub)
                elif e.name.endswith(CONFIG_EXTS):
                    found.append(ConfFile(path=posixpath.join(conf, sub), rel=sub))
        return found, True

    async def _list_scripts(self, root: str) -> list[ConfFile]:
        """The script tasks of the project (see the module docstring), through the daemon."""
        from heyhi.wire.protocol import NOT_FOUND, DaemonError, DirListing, ListDir  # lean: keeps the start-up of heyhi-tui from loading it

        tasks, dirs = await self._script_settings(root)
        found: list[ConfFile] = []
        for rel_dir in ["", *dirs]:
            try:
                listing = await self.app.link.request(ListDir(path=posixpath.join(root, rel_dir) if rel_dir else root))
            except DaemonError as e:
                if e.code == NOT_FOUND and rel_dir:  # a scripts-dir that is not there: nothing to list
                    continue
                raise
            assert isinstance(listing, DirListing)
            for e in listing.entries:
                rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
                if e.is_dir or not is_script_task(e.name) or rel == tasks:
                    continue
                found.append(ConfFile(path=posixpath.join(root, rel), rel=rel, script=True))
                if len(found) >= MAX_SCRIPTS:
                    return found
        return found

    async def _script_settings(self, root: str) -> tuple[str, list[str]]:
        """(the tasks module, the scripts-dirs) from ``[tool.heyhi]`` of pyproject.toml, read through
        the daemon; a missing, oversize or unreadable file gives the defaults (``run.py``, none): the
        daemon names what is wrong with it when a config is composed."""
        import tomllib  # lean: keeps the start-up of heyhi-tui from loading it

        from heyhi.wire.protocol import DaemonError, FileData, ReadFile  # lean: keeps the start-up of heyhi-tui from loading it

        try:
            data = await self.app.link.request(ReadFile(path=posixpath.join(root, "pyproject.toml"),
                                                        length=PYPROJECT_BYTES))
        except DaemonError as e:
            if daemon_gone(e):
                raise
            return "run.py", []
        assert isinstance(data, FileData)
        if data.size > PYPROJECT_BYTES:
            return "run.py", []
        try:
            settings = tomllib.loads(data.data.decode("utf-8")).get("tool", {}).get("heyhi", {})
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            return "run.py", []
        if not isinstance(settings, dict):
            return "run.py", []
        tasks = settings.get("tasks", "run.py")
        tasks = posixpath.normpath(tasks) if isinstance(tasks, str) else "run.py"
        dirs = settings.get("scripts-dirs", [])
        if isinstance(dirs, str):
            dirs = [dirs]
        if not isinstance(dirs, list):
            return tasks, []
        clean: list[str] = []
        for d in dirs[:MAX_SCRIPT_DIRS]:
            d = posixpath.normpath(d) if isinstance(d, str) and d.strip() else ""
            if d and d != "." and not d.startswith(("/", "../")) and d != ".." and d not in clean:
                clean.append(d)  # inside the project only
        return tasks, clean

    @node_work(exclusive=True, group="checks")
    async def check_configs(self) -> None:
        """Which configs compose, asked of the daemon on a connection of its own (so previews never
        wait behind it; it composes them in the background and caches the answers by the files'
        stamps); the tree marks the ones that do not. A daemon that cannot tell (an older one, or
        none) leaves the tree unmarked."""
        from heyhi.wire.protocol import CheckConfigs, ConfigChecks, DaemonError  # lean: keeps the start-up of heyhi-tui from loading it

        try:
            client = await self.app.link.open()
        except DaemonError:
            return
        try:
            client.timeout = CHECK_TIMEOUT_S
            answer = await client.request(CheckConfigs(project_root=self.app.project_root))
        except DaemonError:
            return
        finally:
            await client.close()
        if isinstance(answer, ConfigChecks):
            self.checks = {c.config: c for c in answer.checks}

    def watch_checks(self) -> None:
        self.watch_selected(self.selected)

    def watch_selected(self, conf: ConfFile | None) -> None:
        self.selected_check = self.checks.get(conf.path) if conf is not None else None

    # ---- selection and preview ------------------------------------------------------------------
    @on(ConfTree.Highlighted)
    def _highlighted(self, event: ConfTree.Highlighted) -> None:
        if event.conf != self.selected:
            self.selected = event.conf
            self._load_preview(event.conf)

    @on(ConfTree.Chosen)
    def _chosen(self, event: ConfTree.Chosen) -> None:
        self.selected = event.conf
        self.action_launch()

    def _load_preview(self, conf: ConfFile | None) -> None:
        self._serial += 1
        if conf is None:
            self.preview = Preview()
            return
        old = self.preview
        same = old.conf == conf
        self.preview = Preview(conf=conf, loading=True, serial=self._serial,
                               source=old.source if same else "", result=old.result if same else None,
                               fields=old.fields if same else None, out_dir_label=old.out_dir_label if same else "")
        self.compose_preview(conf, self._serial, debounce=old.conf is not None)

    @node_work(exclusive=True, group="preview")
    async def compose_preview(self, conf: ConfFile, serial: int, debounce: bool = True) -> None:
        from heyhi.wire.protocol import DaemonError, Fields, FileData, ReadFile, Validate  # lean: keeps the start-up of heyhi-tui from loading it

        if debounce:  # moving through the tree stays fast; the first selection shows at once
            await asyncio.sleep(PREVIEW_DEBOUNCE_S)
        link = self.app.link
        p = Preview(conf=conf, serial=serial)
        try:
            data = await link.request(ReadFile(path=conf.path, length=SOURCE_BYTES))
            assert isinstance(data, FileData)
            p.source = data.data.decode("utf-8", "replace")
            # Chunks and sweep files: their source only. Scripts too: deriving their flags runs them
            # up to parse_args, which only the launch editor (Enter) does.
            if conf.is_config and not conf.script:
                fields = self._fields.get(conf.path)
                if fields is None:
                    try:
                        fields = self._fields[conf.path] = await link.request(
                            Fields(project_root=self.app.project_root, config=conf.path))
                    except DaemonError:
                        fields = None
                p.fields = fields
                p.result = await link.request(Validate(
                    project_root=self.app.project_root, results_root=self.app.results_root,
                    config=conf.path, overrides=[], mode="gentle_start"))
                if p.result.out_dir:
                    p.out_dir_label = self.app.show_path(p.result.out_dir)
        except DaemonError as e:
            p.error = e.message
        if serial == self._serial:
            self.preview = p

    # ---- actions --------------------------------------------------------------------------------
    @on(Input.Changed, "#conf-filter")
    def _filter(self, event: Input.Changed) -> None:
        self.filter_text = event.value

    @on(Input.Submitted, "#conf-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        tree = self.tree
        if tree is not None:
            tree.focus()
            tree.select_first()

    def action_filter(self) -> None:
        self.query_one("#conf-filter", Input).focus()

    @property
    def tree(self) -> ConfTree | None:
        found = self.query(ConfTree)
        return found.first() if found else None

    def action_view(self, view: str) -> None:
        self.query_one(ConfigPreview).show_view(view)

    def action_tree_width(self, step: int) -> None:
        """Widen (``step`` 1) or narrow (-1) the tree pane by ``TREE_STEP`` columns."""
        side = self.query_one("#configs-side")
        now = self.tree_width or side.outer_size.width
        self.tree_width = self._clamp_tree(now + step * TREE_STEP)

    def _clamp_tree(self, width: int) -> int:
        return max(TREE_MIN, min(width, max(TREE_MIN, self.size.width - PREVIEW_MIN)))

    def watch_tree_width(self, width: int) -> None:
        if width:
            self.query_one("#configs-side").styles.width = self._clamp_tree(width)

    def on_resize(self) -> None:
        self.watch_tree_width(self.tree_width)  # a narrower terminal still leaves the preview room

    def action_launch(self) -> None:
        conf = self.selected
        if conf is None:
            return
        if conf.is_chunk:
            self.notify(f"{conf.rel} is a chunk (it sets no task): launch a config that includes it",
                        severity="warning")
            return
        if conf.is_sweep:
            self.notify(f"{conf.rel} is a sweep file: run it from the project root with "
                        f"`heyhi sweep conf/{conf.rel}`", severity="warning")
            return
        check = self.checks.get(conf.path)
        if getattr(check, "state", "") == "chunk":
            self.notify(f"{conf.rel} is not a top-level config (it reads as {check.detail}): launch a config "
                        f"that includes it", severity="warning")
            return
        self.app.open_launch(conf.path)

    def on_screen_resume(self) -> None:
        if self.app.remote:  # no file watching over SSH: re-validate when coming back
            self._load_preview(self.selected)


def is_script_task(name: str) -> bool:
    """Is the file ``name`` (a file of the project root or of a scripts-dir) listed as a script task?"""
    return (name.endswith(".py") and name not in NOT_SCRIPTS
            and not name.startswith(("_", "test_", ".")))
