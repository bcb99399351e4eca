"""The first screen: the project's conf/ tree, a filter, and the selected config composed."""

from __future__ import annotations

import asyncio
import posixpath

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from ..widgets.banner import LinkBanner
from ..widgets.configs import CONFIG_EXTS, ConfFile, ConfigPreview, ConfTree, Preview
from ..widgets.deferred import Deferred
from ..widgets.keybar import KeyBar

MAX_DIRS = 500
PREVIEW_DEBOUNCE_S = 0.08
SOURCE_BYTES = 256 * 1024


class ConfigsScreen(Screen):
    """Owns the listing and the preview (reactives bound into the tree and the preview); all
    daemon traffic runs in its workers."""

    BINDINGS = [
        Binding("slash", "filter", "Filter", id="configs.filter", tooltip="Filter the configs by path"),
        Binding("o", "launch", "Launch…", id="configs.launch",
                tooltip="Open the launch editor (overrides, mode) for the highlighted config"),
        Binding("p", "view('print')", "Print", id="configs.print", tooltip="The composed config (--print)"),
        Binding("f", "view('flat')", "Flat", id="configs.flat",
                tooltip="Every set value and where it came from (--print-flat)"),
        Binding("s", "view('source')", "Source", id="configs.source", show=False,
                tooltip="The file as written"),
    ]

    AUTO_FOCUS = "#conf-tree"  # mounted after the first frame: it takes the focus when ready

    files: reactive[tuple[ConfFile, ...]] = reactive((), always_update=True)
    filter_text: reactive[str] = reactive("")
    listing_error: reactive[str] = reactive("")
    preview: reactive[Preview] = reactive(Preview, always_update=True)
    selected: reactive[ConfFile | None] = reactive(None)
    conf_rev: reactive[int] = reactive(0)

    class Listed(Message):
        """The configs found under conf/ (for the command palette)."""

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
                    ConfigsScreen.files, ConfigsScreen.filter_text, error=ConfigsScreen.listing_error))
            yield ConfigPreview(id="preview").data_bind(ConfigsScreen.preview)
        yield KeyBar()

    def on_mount(self) -> None:
        self.watch(self.app, "conf_rev", self._conf_changed, init=False)
        self.watch(self.app, "link_state", self._link_changed, init=True)

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

    @work(exclusive=True, group="listing")
    async def load_files(self) -> None:
        from heyhi.wire.protocol import DaemonError, DirListing, ListDir  # lean: keeps the start-up of heyhi-tui from loading it

        conf = posixpath.join(self.app.project_root, "conf")
        found: list[ConfFile] = []
        todo = [""]
        seen = 0
        try:
            while todo and seen < MAX_DIRS:
                rel = todo.pop(0)
                seen += 1
                listing = await self.app.link.request(ListDir(path=posixpath.join(conf, rel) if rel else conf))
                assert isinstance(listing, DirListing)
                for e in listing.entries:
                    if e.name.startswith((".", "__")):
                        continue
                    sub = f"{rel}/{e.name}" if rel else e.name
                    if e.is_dir:
                        todo.append(sub)
                    elif e.name.endswith(CONFIG_EXTS):
                        found.append(ConfFile(path=posixpath.join(conf, sub), rel=sub))
        except DaemonError as e:
            self.listing_error = f"cannot list {conf}: {e.message}"
            return
        self.listing_error = ""
        self.files = tuple(found)
        self.post_message(self.Listed(self.files))

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

    @work(exclusive=True, group="preview")
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
            if conf.is_config:  # chunks and sweep files: their source only
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

    def action_launch(self) -> None:
        conf = self.selected
        if conf is None:
            return
        if conf.is_chunk:
            self.notify(f"{conf.rel} is a chunk (it sets no task): launch a config that includes it",
                        severity="warning")
            return
        if conf.is_sweep:
            self.notify(f"{conf.rel} is a sweep file: run it with `heyhi sweep {conf.rel}`", severity="warning")
            return
        self.app.open_launch(conf.path)

    def on_screen_resume(self) -> None:
        if self.app.remote:  # no file watching over SSH: re-validate when coming back
            self._load_preview(self.selected)
