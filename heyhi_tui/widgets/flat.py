"""The composed config as a flat table: key, value, where the value came from."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

Row = tuple[str, Any, str]
COMPACT_BELOW = 72  # columns: narrower tables show short sources and cut long values
COMPACT_VALUE = 12


def source_style(source: str) -> str:
    if source.startswith("override"):
        return "bold yellow"
    if source.startswith("include override"):
        return "bold cyan"
    if source == "include":
        return "cyan"
    return "dim"


class FlatTable(DataTable):
    """``rows_data`` in, ``FlatTable.KeyHighlighted`` out (the cursor's row, or the row under
    the mouse). Values set by an override are marked
    ``*``, by an include override ``+``; keys from includes are cyan. Narrow tables (under 72
    columns) leave the source column out (the message carries it, for a docs line)."""

    BINDINGS = [
        Binding("ctrl+y", "copy_value", "Copy value", id="flat.copy", show=False,
                tooltip="Copy the highlighted key=value to the clipboard"),
    ]

    rows_data: reactive[tuple[Row, ...]] = reactive((), always_update=True)
    compact: reactive[bool] = reactive(False)

    class KeyHighlighted(Message):
        def __init__(self, key: str, value: Any, source: str) -> None:
            super().__init__()
            self.key = key
            self.value = value
            self.source = source

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)

    def on_mount(self) -> None:
        self._columns()
        self.watch_rows_data(self.rows_data)

    def _columns(self) -> None:
        self.clear(columns=True)
        self.add_column("key", key="key")
        self.add_column("value", key="value")
        if not self.compact:
            self.add_column("from", key="source")

    def on_resize(self) -> None:
        self.compact = 0 < self.size.width < COMPACT_BELOW

    def watch_compact(self) -> None:
        # Later, not now: adding columns can run idle callbacks (a resize) re-entrantly.
        self.call_later(self._rebuild)

    def _rebuild(self) -> None:
        if self.is_mounted:
            self._columns()
            self.watch_rows_data(self.rows_data)

    def watch_rows_data(self, rows: tuple[Row, ...]) -> None:
        if not self.columns:
            return
        keep = self.cursor_row
        self.clear()
        for key, value, source in rows:
            mark = source.startswith("override") or source.startswith("include override")
            shown = str(value)
            if self.compact and len(shown) > COMPACT_VALUE:
                shown = shown[: COMPACT_VALUE - 1] + "…"
            value_text = Text(shown, style="bold yellow" if source.startswith("override") else "")
            marker = "* " if source.startswith("override") else "+ " if mark else "  "
            key_text = Text(marker + key, style="cyan" if source.startswith("include") else "")
            if self.compact:  # no room for the source: the marker and the colour say it
                self.add_row(key_text, value_text, key=key)
            else:
                self.add_row(key_text, value_text, Text(source, style=source_style(source)), key=key)
        if rows:
            self.move_cursor(row=min(keep, len(rows) - 1), animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        i = event.cursor_row
        if 0 <= i < len(self.rows_data):
            self.post_message(self.KeyHighlighted(*self.rows_data[i]))

    def watch_hover_coordinate(self, old: Any, value: Any) -> None:
        super().watch_hover_coordinate(old, value)
        if self.is_mouse_over and old.row != value.row and 0 <= value.row < len(self.rows_data):
            self.post_message(self.KeyHighlighted(*self.rows_data[value.row]))  # docs on hover

    def action_copy_value(self) -> None:
        if 0 <= self.cursor_row < len(self.rows_data):
            key, value, _ = self.rows_data[self.cursor_row]
            self.app.copy_to_clipboard(f"{key}={value}")
