"""The key bar at the bottom of every screen: the active bindings (keymap applied) as one line.

It does what Textual's ``Footer`` does for this app, as a single widget that re-renders its text
when the screen's bindings change, instead of recomposing a widget per key (which cost ~80 ms on
the first frame). A click on a key runs its action; the help screen (``?``) lists the same keys
with their ids and tooltips.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.widget import Widget


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

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._rebuild)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Any) -> None:
        if self.is_attached and screen is self.screen:
            self._rebuild()

    def _rebuild(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, Any, str]] = []
        seen: set[str] = set()
        palette = None
        app = self.app
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        dim = self.get_component_rich_style("keybar--disabled", partial=True)
        for key, active in self.screen.active_bindings.items():
            b = active.binding
            if key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = active
                continue
            if not b.show or b.action in seen:
                continue
            seen.add(b.action)
            start = len(text)
            text.append(f" {app.get_key_display(b)} ", style=key_style)
            text.append(f"{b.description} ", style="" if active.enabled else dim)
            spans.append((start, len(text), active.node, b.action))
        if palette is not None:
            hint = f" {app.get_key_display(palette.binding)} palette "
            pad = max(1, self.size.width - len(text) - len(hint)) if self.size.width else 2
            text.append(" " * pad)
            start = len(text)
            text.append(hint, style=key_style)
            spans.append((start, len(text), palette.node, palette.binding.action))
        self._text, self._spans = text, spans
        self.refresh()

    def on_resize(self) -> None:
        self._rebuild()

    def render(self) -> Text:
        return self._text

    async def on_click(self, event: events.Click) -> None:
        for start, end, node, action in self._spans:
            if start <= event.x < end:
                await self.app.run_action(action, node)
                return
