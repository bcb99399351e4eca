"""The configs screen's widgets: the tree of conf/ and of the script tasks, the composed preview,
the field docs.

Script tasks (plain ``*.py`` files, ``heyhi run train.py``) sit in the tree under a "scripts" group
of their own, beside conf/'s configs. The preview never composes one: deriving a script's flags runs
the script up to ``parse_args`` in a subprocess, which is done only when the launch editor is opened
on it (Enter), never merely because the cursor passed over it.
"""

from __future__ import annotations


from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import ContentSwitcher, Static, Tree


from ..completion import Schema, field_detail
from ..format import OUT_DIR_STYLE, fit_path
from ..printview import print_text
from .deferred import Deferred
from .flat import FlatTable, origin_text

if TYPE_CHECKING:
    from heyhi.wire.protocol import FieldList, ValidateResult

CONFIG_EXTS = (".prototxt", ".yaml", ".yml", ".json")
CHUNKS = "common"
SWEEPS = "sweeps"  # sweep files (heyhi sweep FILE) live beside the configs
SCRIPTS_GROUP = "scripts"  # the tree's group node of the script tasks
SCRIPT_STYLE = "magenta"
SCRIPT_PREVIEW = ("a script task: Enter reads its flags (runs the script up to parse_args in a subprocess) "
                  "and opens the launch editor on it")


@dataclass(frozen=True)
class ConfFile:
    """A file under conf/: ``rel`` is relative to conf/; chunks live under common/. With
    ``script``: a script task (a ``*.py`` file), ``rel`` relative to the project root; it is
    launched as a config is (``is_config``), but never composed merely because it is shown."""

    path: str
    rel: str
    script: bool = False

    @property
    def is_chunk(self) -> bool:
        return not self.script and self.rel.split("/", 1)[0] == CHUNKS

    @property
    def is_sweep(self) -> bool:
        return not self.script and self.rel.split("/", 1)[0] == SWEEPS

    @property
    def is_config(self) -> bool:
        return not (self.is_chunk or self.is_sweep)

    @property
    def name(self) -> str:
        """The tree's label: the file's name (a script's path from the project root)."""
        return self.rel if self.script else self.rel.rsplit("/", 1)[-1]


def sort_files(files: list[ConfFile]) -> list[ConfFile]:
    """Top-level configs first (by path), then the script tasks, then sweep files, then the chunks
    under common/."""
    return sorted(files, key=lambda f: (f.is_chunk, f.is_sweep, f.script, f.rel.count("/") > 0, f.rel))


class ConfTree(Tree[ConfFile | None]):
    """``files``, ``filter_text`` and ``checks`` (which configs compose) in; ``Highlighted`` /
    ``Chosen`` out (files only). Labels too long for the pane are cut in the middle with "…"; a
    config that does not compose is marked ✗, why on hover (``tip``). Script tasks are listed
    under a "scripts" group node, after the configs."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", id="configs.open",
                tooltip="Open the launch editor for the highlighted config or script (on a folder: fold it)"),
    ]

    files: reactive[tuple[ConfFile, ...]] = reactive((), always_update=True)
    filter_text: reactive[str] = reactive("")
    error: reactive[str] = reactive("")
    checks: reactive[dict] = reactive(dict, always_update=True)  # path -> ConfigCheck (the daemon's)

    class Highlighted(Message):
        def __init__(self, conf: ConfFile) -> None:
            super().__init__()
            self.conf = conf

    class Chosen(Message):
        def __init__(self, conf: ConfFile) -> None:
            super().__init__()
            self.conf = conf

    class Ready(Message):
        """Mounted (it is mounted lazily, after the screen's first frame)."""

        def __init__(self, tree: ConfTree) -> None:
            super().__init__()
            self.tree = tree

    def on_mount(self) -> None:
        self.post_message(self.Ready(self))

    def __init__(self, **kw: Any) -> None:
        super().__init__("conf", data=None, **kw)
        self.show_root = False
        self.guide_depth = 2
        self._leaves: dict[str, Any] = {}  # path -> its node (relabelled when checks come)

    def watch_files(self) -> None:
        self._rebuild()

    def watch_filter_text(self) -> None:
        self._rebuild()

    def watch_error(self) -> None:
        self._rebuild()

    def watch_checks(self) -> None:
        for path, node in self._leaves.items():
            node.set_label(self._label(node.data))

    def _label(self, f: ConfFile) -> Text:
        """A file's name; a config that does not compose marked ✗ (red), a file that is not a
        top-level config (a chunk for includes) dim."""
        if f.script:
            return Text(f.name, style=SCRIPT_STYLE)
        check = self.checks.get(f.path)
        state = getattr(check, "state", "")
        if state == "error":
            return Text.assemble(("✗ ", "bold red"), (f.name, "red"))
        return Text(f.name, style="dim" if state == "chunk" or not f.is_config else "")

    def tip(self, f: ConfFile) -> str:
        """The hover text of a file: its path under conf/, and why it is marked."""
        if f.script:
            return f"{f.rel}\n{SCRIPT_PREVIEW}"
        check = self.checks.get(f.path)
        state = getattr(check, "state", "")
        if state == "error":
            return f"{f.rel}\n✗ does not compose: {check.detail}"
        if state == "chunk":
            return f"{f.rel}\nnot a top-level config: it reads as {check.detail} (a chunk to include)"
        return f.rel

    def render_label(self, node: Any, base_style: Any, style: Any) -> Text:
        """The label, cut in the middle with "…" when the pane is too narrow for it (so a name is
        never cut without a mark; the whole path shows on hover and in the preview's title)."""
        text = super().render_label(node, base_style, style)
        depth, parent = 0, node.parent
        while parent is not None and parent is not self.root:
            depth, parent = depth + 1, parent.parent
        room = self.scrollable_content_region.width - depth * self.guide_depth
        if 0 < room < text.cell_len:
            tail = (room - 1) * 3 // 5
            head = room - 1 - tail
            parts = text.divide([head, len(text) - tail])
            text = Text.assemble(parts[0], ("…", "dim"), parts[2])
        return text

    def watch_hover_line(self, previous: int, line: int) -> None:
        super().watch_hover_line(previous, line)
        node = self.get_node_at_line(line) if line >= 0 else None
        self.tooltip = self.tip(node.data) if node is not None and node.data is not None else None

    def matching(self) -> list[ConfFile]:
        text = self.filter_text.strip().lower()
        return [f for f in self.files if not text or _fuzzy(text, f.rel.lower())]

    def _rebuild(self) -> None:
        current = self.cursor_node.data if self.cursor_node is not None else None
        self.clear()
        self._leaves = {}
        if self.error:
            self.root.add_leaf(Text(self.error, style="red"), data=None)
            return
        shown = sort_files(self.matching())
        folders: dict[str, Any] = {"": self.root}
        cursor_line = None
        scripts = None  # the group node of the script tasks, made with the first one
        for f in shown:
            if f.script:
                if scripts is None:
                    scripts = self.root.add(Text.assemble((SCRIPTS_GROUP, f"bold {SCRIPT_STYLE}"),
                                                          ("  *.py tasks", "dim")), data=None, expand=True)
                node = self._leaves[f.path] = scripts.add_leaf(self._label(f), data=f)
                if current is not None and f == current:
                    cursor_line = node
                continue
            parts = f.rel.split("/")
            parent = self.root
            for i in range(1, len(parts)):
                key = "/".join(parts[:i])
                if key not in folders:
                    label = Text(parts[i - 1] + "/", style="bold" if f.is_config else "dim bold")
                    folders[key] = folders["/".join(parts[: i - 1])].add(label, data=None, expand=True)
                parent = folders[key]
            node = self._leaves[f.path] = parent.add_leaf(self._label(f), data=f)
            if current is not None and f == current:
                cursor_line = node
        if not shown:
            self.root.add_leaf(Text("no config matches" if self.files else "no configs", style="dim"), data=None)
        self.call_after_refresh(self._restore, cursor_line)

    def _restore(self, node: Any) -> None:
        if node is not None:
            self.move_cursor(node, animate=False)
        else:
            self.select_first()

    def show_file(self, path: str) -> bool:
        """Put the cursor on the file at ``path`` if the tree shows it (True), as a click would."""
        node = self._leaves.get(path)
        if node is not None:
            self.move_cursor(node, animate=False)
        return node is not None

    def select_first(self) -> None:
        for line in range(self.last_line + 1):
            node = self.get_node_at_line(line)
            if node is not None and node.data is not None:
                self.move_cursor(node, animate=False)
                return

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.Highlighted(event.node.data))

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.Chosen(event.node.data))


def _fuzzy(needle: str, hay: str) -> bool:
    """A substring, or the letters in order (``c02sl`` finds ``c02_sup_train/sl.prototxt``)."""
    if needle in hay:
        return True
    it = iter(hay)
    return all(ch in it for ch in needle.replace(" ", ""))


@dataclass
class Preview:
    """What the preview shows for one config (filled by the screen's worker)."""

    conf: ConfFile | None = None
    source: str = ""
    result: ValidateResult | None = None
    fields: FieldList | None = None
    error: str = ""
    loading: bool = False
    out_dir_label: str = ""
    serial: int = 0


class FieldDocs(Static):
    """The highlighted value, where it came from, and the schema's doc of its key (``key``,
    ``value``, ``source`` and ``schema`` in)."""

    key: reactive[str] = reactive("")
    value: reactive[str] = reactive("")
    source: reactive[str] = reactive("")
    where: reactive[str] = reactive("")  # the writer's path:line (the configs preview sends it)
    schema: reactive[Schema | None] = reactive(None)

    def watch_where(self) -> None:
        self._show()

    def watch_value(self) -> None:
        self._show()

    def watch_source(self) -> None:
        self._show()

    def watch_key(self) -> None:
        self._show()

    def watch_schema(self) -> None:
        self._show()

    def _show(self) -> None:
        s = self.schema
        if not self.key:
            self.update(Text("field docs: highlight a row of the flat view", style="dim"))
            return
        text = Text()
        text.append(self.key, style="bold")
        if self.source:
            text.append(f" = {self.value}", style="bold yellow" if self.source.startswith("override") else "")
            text.append(f"  ← {origin_text(self.source, self.where)}", style="dim")
        f = s.lookup(self.key)[0] if s is not None else None
        if f is None:
            # No schema (the daemon is away, or still answering) says nothing: only a known schema
            # that lacks the key does.
            text.append("\n(not in the schema)" if s is not None and s.fields else "", style="dim")
            self.update(text)
            return
        text.append(f"\n{f.type}", style="cyan")
        if f.default != "":
            text.append(f"  default {f.default}", style="green")
        if f.oneof:
            text.append(f"  [oneof {f.oneof}]", style="magenta")
        if f.enum_values:
            text.append(f"  values: {', '.join(f.enum_values)}", style="yellow")
        text.append(("  " + f.doc) if f.doc else "  (no doc)", style="" if f.doc else "dim")
        self.update(text)


VIEWS = (("print", "p"), ("flat", "f"), ("source", "s"))


class ViewBar(Static):
    """The preview's views, the current one highlighted; a click picks one (``Picked`` out)."""

    view: reactive[str] = reactive("print")

    class Picked(Message):
        def __init__(self, view: str) -> None:
            super().__init__()
            self.view = view

    def render(self) -> Text:
        text = Text()
        for name, key in VIEWS:
            style = "bold reverse" if name == self.view else "dim"
            text.append(f" {name} ", style=style)
            text.append(f"{key} ", style="dim italic")
        return text

    def on_click(self, event) -> None:
        x = 0
        for name, key in VIEWS:
            width = len(name) + len(key) + 3
            if x <= event.x < x + width:
                self.post_message(self.Picked(name))
                return
            x += width


class ConfigPreview(Vertical):
    """``preview`` and ``check`` in: the composed config of the selected file in three views
    (print, flat: each value with the file and line it came from, source) and the docs of the
    highlighted field; the title says when the daemon found the file does not compose or is a
    chunk. The flat table (a hidden view at first) is mounted after the first frame."""

    preview: reactive[Preview] = reactive(Preview, always_update=True)
    view: reactive[str] = reactive("print")
    flat_rows: reactive[tuple] = reactive(())
    check: reactive[Any] = reactive(None)  # the daemon's ConfigCheck of the selected file, if any

    def compose(self) -> ComposeResult:
        yield Static(id="preview-title")
        yield ViewBar(id="preview-views").data_bind(ConfigPreview.view)
        with ContentSwitcher(initial="view-print", id="preview-switcher"):
            with VerticalScroll(id="view-print"):
                yield Static(id="preview-print")
            with Vertical(id="view-flat"):
                yield Deferred(FlatTable(id="preview-flat", fit=True).data_bind(rows_data=ConfigPreview.flat_rows))
            with VerticalScroll(id="view-source"):
                yield Static(id="preview-source")
        yield FieldDocs(id="field-docs")

    def show_view(self, view: str) -> None:
        self.view = view

    def watch_view(self, view: str) -> None:
        self.query_one(ContentSwitcher).current = f"view-{view}"

    def on_view_bar_picked(self, event: ViewBar.Picked) -> None:
        self.view = event.view

    def watch_check(self) -> None:
        self.watch_preview(self.preview)

    def watch_preview(self, p: Preview) -> None:
        if not self.is_mounted:
            return
        check = self.check
        if check is None or p.conf is None or check.config != p.conf.path:
            check = None
        chunk = check is not None and check.state == "chunk"
        title = Text()
        if p.conf is None:
            title.append("no config selected", style="dim")
        else:
            title.append(p.conf.rel, style="bold")
            if p.conf.script:
                title.append("  script task", style=SCRIPT_STYLE)
            elif p.result is not None and p.result.task:
                title.append(f"  task {p.result.task}", style="cyan")
            elif p.conf.is_chunk:
                title.append("  chunk (included by configs)", style="dim")
            elif p.conf.is_sweep:
                title.append("  sweep file (heyhi sweep FILE)", style="dim")
            elif chunk:
                title.append(f"  chunk: reads as {check.detail}", style="dim")
            elif check is not None and check.state == "error":
                title.append("  ✗ does not compose", style="bold red")
            if p.loading:
                title.append("  …", style="dim")
        if p.out_dir_label:
            state = p.result.out_dir_state if p.result else ""
            room = (self.size.width or 80) - 5 - (len(state) + 3 if state else 0)
            title.append("\n→ " + fit_path(p.out_dir_label, room))
            if state:
                title.append(f" ({state})", style=OUT_DIR_STYLE.get(state, "yellow"))
        self.query_one("#preview-title", Static).update(title)
        printed = self.query_one("#preview-print", Static)
        if p.error:
            printed.update(Text(p.error, style="red"))
        elif p.conf is not None and p.conf.script:
            printed.update(Text(SCRIPT_PREVIEW, style="dim"))
        elif chunk and (p.result is None or not p.result.ok):
            printed.update(Text(f"not a top-level config: it reads as {check.detail}, a chunk to include "
                                f"from a config; see its source", style="dim"))
        elif p.result is not None and not p.result.ok:
            errors = "\n".join(e.message for e in p.result.errors)
            if p.conf is not None:  # paths as the tree shows them (relative to conf/)
                errors = errors.replace(p.conf.path[: len(p.conf.path) - len(p.conf.rel)], "")
            printed.update(Text(errors, style="red"))
        elif p.result is not None:
            printed.update(Text(print_text(p.result.flat, p.fields)))
        elif p.conf is not None and p.conf.is_chunk:
            printed.update(Text("a chunk: it sets no task; see its source", style="dim"))
        elif p.conf is not None and p.conf.is_sweep:
            printed.update(Text("a sweep file: run it with `heyhi sweep`; see its source", style="dim"))
        else:
            printed.update("")
        if p.result is not None:  # with each value's file:line when the daemon sends it
            where = list(getattr(p.result, "flat_where", None) or ())
            where += [""] * (len(p.result.flat) - len(where))
            self.flat_rows = tuple((*row[:3], w) for row, w in zip(p.result.flat, where))
        else:
            self.flat_rows = ()
        if not self.flat_rows:  # nothing to highlight: no docs of another config's row
            self.query_one(FieldDocs).key = ""
        self.query_one("#preview-source", Static).update(Text(p.source))
        self.query_one(FieldDocs).schema = Schema(p.fields) if p.fields else None

    def on_resize(self) -> None:
        self.watch_preview(self.preview)

    def on_flat_table_key_highlighted(self, event: FlatTable.KeyHighlighted) -> None:
        docs = self.query_one(FieldDocs)
        docs.key, docs.value, docs.source, docs.where = event.key, str(event.value), event.source, event.where


__all__ = ["ConfFile", "ConfTree", "ConfigPreview", "FieldDocs", "Preview", "SCRIPT_PREVIEW", "field_detail",
           "sort_files"]
