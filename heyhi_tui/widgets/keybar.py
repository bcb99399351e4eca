"""The key bar at the bottom of every screen: the active bindings (keymap applied) as one line.

It does what Textual's ``Footer`` does for this app, as a single widget that re-renders its text
when the screen's bindings change, instead of recomposing a widget per key (which cost ~80 ms on
the first frame). A click on a key runs its action; the help screen (``?``) lists the same keys
with their ids and tooltips.

What it promises: the screen-switching keys (the app's own shown keys, e.g. ``1 Configs``) come
first and the help key is pinned at the right end, so they never scroll away; the line is never
cut inside a key: keys that do not fit are left out whole and an ellipsis mark (``…``) says so
(help lists them all). ``shown`` and ``hidden`` tell what the line holds (for tests and clicks).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widget import Widget

MORE = " …"  # the mark for keys left out
# Hidden bindings of a focused list or table that only post "selected" for the screen to act on:
# the bar names the screen's own binding of the same key instead (Enter: "Open").
SELECTS = {"select_cursor", "select"}


class ShownKey(NamedTuple):
    """One key of the bar: the key to press, what is shown, and what it runs."""

    key: str
    display: str
    description: str
    action: str
    node: Any
    enabled: bool


class KeyBar(Widget):
    COMPONENT_CLASSES = {"keybar--key", "keybar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
        & > .keybar--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
        & > .keybar--disabled { color: $text-disabled; }
    }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._spans: list[tuple[int, int, Any, str]] = []  # (start, end, node, action)
        self._text = Text()
        self.shown: list[ShownKey] = []
        self.hidden: list[ShownKey] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.rebuild)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Any) -> None:
        if self.is_attached and screen is self.screen:
            self.rebuild()

    def keys(self) -> tuple[list[ShownKey], list[ShownKey], ShownKey | None, ShownKey | None]:
        """(the app's switching keys, this screen's keys, the help key, the palette key), in order."""
        app = self.app
        tabs: list[ShownKey] = []
        local: list[ShownKey] = []
        help_key = palette = None
        seen: set[str] = set()
        extra = getattr(app, "footer_extra", set)()  # hidden keys the app wants shown now (ids)
        for key, active in self.screen.active_bindings.items():
            if not active.binding.show and active.binding.action in SELECTS:
                active = self._shown_below(key, active) or active
            b = active.binding
            item = ShownKey(key, app.get_key_display(b), b.description, b.action, active.node, active.enabled)
            if b.action in ("command_palette", "app.command_palette") and app.ENABLE_COMMAND_PALETTE:
                palette = palette or item
                continue
            if not (b.show or (b.id and b.id in extra)) or b.action in seen:
                continue
            seen.add(b.action)
            if active.node is app and b.action == "help":
                help_key = item
            elif active.node is app:
                tabs.append(item)
            else:
                local.append(item)
        return tabs, local, help_key, palette

    def _shown_below(self, key: str, active: Any) -> Any:
        """A shown binding of ``key`` on an ancestor of the node whose hidden select binding takes
        the key first (a table's own Enter, which posts its "selected" message to the screen, over
        the screen's "Enter: open"), for the bar to name."""
        from textual.binding import ActiveBinding  # lean: only for a key bound twice

        app = self.app
        for node in active.node.ancestors:
            if node is app:
                return None
            for b in node._bindings.key_to_bindings.get(key, ()):  # the node's own, keymap applied
                state = app._check_action_state(b.action, node)
                if b.show and state is not False:
                    return ActiveBinding(node, b, bool(state), b.tooltip)
        return None

    def rebuild(self) -> None:
        """Read the bindings again and lay the line out (on a change of bindings, focus or size)."""
        tabs, local, help_key, palette = self.keys()
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        dim = self.get_component_rich_style("keybar--disabled", partial=True)
        width = self.size.width or 80

        def size(item: ShownKey) -> int:
            return cell_len(item.display) + cell_len(item.description) + 3

        right = [help_key] if help_key is not None else []
        room = width - sum(size(i) for i in right)
        shown: list[ShownKey] = []
        hidden: list[ShownKey] = []
        wanted = tabs + local
        total = sum(size(i) for i in wanted)
        budget = room if total <= room else room - len(MORE) - 1
        used = 0
        for item in wanted:
            if not hidden and used + size(item) <= budget:
                shown.append(item)
                used += size(item)
            else:
                hidden.append(item)
        hint = f" {palette.display} palette " if palette is not None else ""
        with_palette = palette is not None and not hidden and used + cell_len(hint) + 1 <= room

        text = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, Any, str]] = []

        def add(item: ShownKey, label: str) -> None:
            start = text.cell_len
            text.append(f" {item.display} ", style=key_style)
            text.append(f"{label} ", style="" if item.enabled else dim)
            spans.append((start, text.cell_len, item.node, item.action))

        for item in shown:
            add(item, item.description)
        if hidden:
            text.append(MORE + " ", style=dim)
        tail = (cell_len(hint) if with_palette else 0) + sum(size(i) for i in right)
        text.append(" " * max(0, width - text.cell_len - tail))
        if with_palette:
            assert palette is not None
            add(palette, "palette")
            shown.append(palette)
        for item in right:
            add(item, item.description)
            shown.append(item)
        self._text, self._spans = text, spans
        self.shown, self.hidden = shown, hidden
        self.refresh()

    def on_resize(self) -> None:
        self.rebuild()

    def render(self) -> Text:
        return self._text

    async def on_click(self, event: events.Click) -> None:
        for start, end, node, action in self._spans:
            if start <= event.x < end:
                await self.app.run_action(action, node)
                return
