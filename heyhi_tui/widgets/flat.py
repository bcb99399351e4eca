"""The composed config as a flat table: key, value, where the value came from.

A row is ``(key, value, source)`` or ``(key, value, source, where)``: ``source`` is the daemon's kind
text (``file``, ``include``, ``include override I…``, ``override …``), ``where`` the writer's
``path:line`` (relative to conf/; "" from a daemon that does not send it). With ``fit=True`` the
three columns always fit the table's width (``fit_widths``): each gets what most of its cells need,
the widest give way first, none below a minimum (below the minima the table scrolls sideways). A
cut text always shows a "…": a key loses its leading parts, a path its leading folders (then its
extension), a value its end. The highlighted row's whole text goes out in ``KeyHighlighted`` (for
the docs line).
"""

from __future__ import annotations

from typing import Any, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

Row = tuple  # (key, value, source) or (key, value, source, where)
COMPACT_BELOW = 72  # columns: narrower tables show short sources and cut long values (fit=False)
COMPACT_VALUE = 12
MIN_WIDTHS = (14, 6, 12)  # key, value, from: what fitting never cuts below
WANTED_SHARE = 0.8  # a column asks for the width this share of its cells fit in (the rest: cut)
CONF_EXTS = (".prototxt", ".yaml", ".yml", ".json")
ELLIPSIS = "…"


def source_style(source: str) -> str:
    if source.startswith("override"):
        return "bold yellow"
    if source.startswith("include override"):
        return "bold cyan"
    if source.startswith("include"):
        return "cyan"
    return "dim"


def origin_text(source: str, where: str = "") -> str:
    """What the "from" column shows: the file and line of a file or an include, the token of an
    override, the token and the file of an include override (the kind alone from an older daemon)."""
    if not where or source.startswith("override"):
        return source
    if source.startswith("include override "):
        return f"{source.removeprefix('include override ')} @ {where}"
    return where


def cut_middle(text: str, width: int, tail_share: float = 0.6) -> str:
    """``text`` in ``width`` cells, the middle replaced by "…" (a path keeps its folder and its name;
    ``tail_share`` of what is kept comes from the end)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    tail = int((width - 1) * tail_share)
    head = width - 1 - tail
    return text[:head] + ELLIPSIS + text[len(text) - tail:]


def cut_where(text: str, width: int) -> str:
    """A "from" text in ``width`` cells, always marked when cut: its leading folders left out
    ("…/searchbot.prototxt:2"), then the files' extensions too, as includes name them
    ("…/searchbot:2"), then cut in the middle."""
    if len(text) <= width:
        return text
    if " " in text:  # an override's token, or an include override's: cut in the middle
        return cut_middle(text, width)
    bare = text
    for ext in CONF_EXTS:
        bare = bare.replace(ext + ":", ":")
    for form in (text, bare):
        parts = form.split("/")
        for i in range(1, len(parts)):
            short = ELLIPSIS + "/" + "/".join(parts[i:])
            if len(short) <= width:
                return short
    if "/" in bare and len(bare.rsplit("/", 1)[-1]) < width:
        return ELLIPSIS + bare.rsplit("/", 1)[-1]
    return cut_middle(bare if "/" in bare else text, width)


def cut_key(key: str, width: int) -> str:
    """A dotted key in ``width`` cells: its leading parts left out ("…searchbot.max_batch_size": rows
    are sorted, so the parts left out are those of the rows around it), else its start."""
    if len(key) <= width:
        return key
    parts = key.split(".")
    for i in range(1, len(parts)):
        short = ELLIPSIS + ".".join(parts[i:])
        if len(short) <= width:
            return short
    return ELLIPSIS + key[len(key) - width + 1:] if width > 1 else ELLIPSIS[:width]


def cut_end(text: str, width: int) -> str:
    """``text`` in ``width`` cells, its end replaced by "…"."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + ELLIPSIS if width > 0 else ""


def fit_widths(natural: Sequence[int], minimum: Sequence[int], room: int,
               wanted: Sequence[int] | None = None) -> list[int]:
    """Column widths within ``room``: the natural (widest) ones when they fit. Else each column
    gets what most of its cells need (``wanted``, e.g. the 80th percentile, so one long cell does
    not take the room of a whole column) and what is left is shared with one cap for all, up to the
    natural widths; when even that does not fit, one cap cuts the widest first, never below a
    column's minimum. Below the minima: the minima (the table scrolls)."""
    natural = list(natural)
    floor = [min(n, m) for n, m in zip(natural, minimum)]
    if sum(natural) <= room:
        return natural
    if sum(floor) >= room:
        return floor
    want = [max(min(w, n), f) for w, n, f in zip(wanted or natural, natural, floor)]
    lows, highs = (want, natural) if sum(want) <= room else (floor, want)

    def widths_at(cap: int) -> list[int]:
        return [max(lo, min(hi, cap)) for lo, hi in zip(lows, highs)]

    lo, hi = 0, max(highs)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(widths_at(mid)) <= room:
            lo = mid
        else:
            hi = mid - 1
    widths = widths_at(lo)
    spare = room - sum(widths)
    for i, top in enumerate(highs):
        add = max(0, min(spare, top - widths[i]))
        widths[i] += add
        spare -= add
    return widths


def percentile(lengths: Sequence[int], share: float = WANTED_SHARE) -> int:
    """The length ``share`` of the cells fit in (0 for none)."""
    if not lengths:
        return 0
    ordered = sorted(lengths)
    return ordered[int(share * (len(ordered) - 1))]


class FlatTable(DataTable):
    """``rows_data`` in, ``FlatTable.KeyHighlighted`` out (the cursor's row, or the row under
    the mouse). Values set by an override are marked
    ``*``, by an include override ``+``; keys from includes are cyan. With ``fit`` the columns fit
    the width (see the module docstring); without it, narrow tables (under 72 columns) leave the
    source column out (the message carries it, for a docs line)."""

    BINDINGS = [
        Binding("ctrl+y", "copy_value", "Copy value", id="flat.copy", show=False,
                tooltip="Copy the highlighted key=value to the clipboard"),
    ]

    rows_data: reactive[tuple[Row, ...]] = reactive((), always_update=True)
    compact: reactive[bool] = reactive(False)

    class KeyHighlighted(Message):
        def __init__(self, key: str, value: Any, source: str, where: str = "") -> None:
            super().__init__()
            self.key = key
            self.value = value
            self.source = source
            self.where = where

    def __init__(self, *, fit: bool = False, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.fit = fit
        self._fitted: tuple | None = None  # (room, widths) the columns were last made for

    def on_mount(self) -> None:
        self._columns()
        self.watch_rows_data(self.rows_data)

    def _columns(self, widths: Sequence[int | None] = (None, None, None)) -> None:
        self.clear(columns=True)
        self.add_column("key", key="key", width=widths[0])
        self.add_column("value", key="value", width=widths[1])
        if self.fit or not self.compact:
            self.add_column("from", key="source", width=widths[2])

    def on_resize(self) -> None:
        if self.fit:
            if self._fitted is not None and self._fitted[0] != self._room(len(self.rows_data)):
                self.call_later(self._rebuild)
            return
        self.compact = 0 < self.size.width < COMPACT_BELOW

    def watch_compact(self) -> None:
        # Later, not now: adding columns can run idle callbacks (a resize) re-entrantly.
        self.call_later(self._rebuild)

    def _rebuild(self) -> None:
        if self.is_mounted:
            self._fitted = None
            self._columns()
            self.watch_rows_data(self.rows_data)

    def _room(self, n_rows: int) -> int:
        """The cells the three columns' text may take: the width less the cells' padding and, when
        the rows will not all show, the vertical scrollbar."""
        width = self.size.width
        if n_rows + 1 > self.size.height:
            width -= self.styles.scrollbar_size_vertical
        return width - 2 * self.cell_padding * 3

    def watch_rows_data(self, rows: tuple[Row, ...]) -> None:
        if not self.columns:
            return
        keep = self.cursor_row
        texts = [self._texts(row) for row in rows]
        if self.fit:
            room = self._room(len(rows))
            heads = ("key", "value", "from")
            natural = [max([len(t[i]) for t in texts] + [len(h)]) for i, h in enumerate(heads)]
            wanted = [max(percentile([len(t[i]) for t in texts]), len(h)) for i, h in enumerate(heads)]
            widths = fit_widths(natural, MIN_WIDTHS, room, wanted) if self.size.width else natural
            if widths[2] < natural[2]:  # the "from" texts shrink when cut: what they leave goes to the keys
                used = max([len(cut_where(t[2], widths[2])) for t in texts] + [len("from")])
                if widths[0] < natural[0]:
                    give = min(widths[2] - used, natural[0] - widths[0])
                    widths = [widths[0] + give, widths[1], widths[2] - give]
            if self._fitted != (room, widths):
                self._fitted = (room, widths)
                self._columns(widths)
        else:
            widths = None
        self.clear()
        for row, (key_shown, value_shown, from_shown) in zip(rows, texts):
            key, source = row[0], row[2]
            if widths is not None:
                key_shown = key_shown[:2] + cut_key(key_shown[2:], widths[0] - 2)
                value_shown = cut_end(value_shown, widths[1])
                from_shown = cut_where(from_shown, widths[2])
            elif self.compact and len(value_shown) > COMPACT_VALUE:
                value_shown = value_shown[: COMPACT_VALUE - 1] + ELLIPSIS
            value_text = Text(value_shown, style="bold yellow" if source.startswith("override") else "")
            key_text = Text(key_shown, style="cyan" if source.startswith("include") else "")
            if self.compact and not self.fit:  # no room for the source: the marker and the colour say it
                self.add_row(key_text, value_text, key=key)
            else:
                self.add_row(key_text, value_text, Text(from_shown, style=source_style(source)), key=key)
        if rows:
            self.move_cursor(row=min(keep, len(rows) - 1), animate=False)

    @staticmethod
    def _texts(row: Row) -> tuple[str, str, str]:
        key, value, source = row[0], row[1], row[2]
        where = row[3] if len(row) > 3 else ""
        marker = "* " if source.startswith("override") else "+ " if source.startswith("include override") else "  "
        return marker + key, str(value), origin_text(source, where)

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
            key, value = self.rows_data[self.cursor_row][:2]
            self.app.copy_to_clipboard(f"{key}={value}")
