"""Help: every key of the screen below and of the app, with its binding id (for remapping) and
what it does; and where the keymap file is read from."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


def binding_rows(screen: Screen) -> list[tuple[str, str, str, str]]:
    """(keys, description, id, tooltip) of the bindings with an id that are active on ``screen``
    (focused widget, its ancestors, the screen, the app), keymap applied."""
    app = screen.app
    by_id: dict[str, list] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        if not b.id or b.system:
            continue
        entry = by_id.setdefault(b.id, [[], b])
        entry[0].append(app.get_key_display(b.__class__(key, b.action)))
    return [(", ".join(keys), b.description or b.action, ident, b.tooltip) for ident, (keys, b) in by_id.items()]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, under: Screen, keymap_path: str = "") -> None:
        super().__init__()
        self.under = under
        self.keymap_path = keymap_path

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, padding=(0, 1), show_edge=False)
        table.add_column("key", style="bold yellow", no_wrap=True)
        table.add_column("does")
        table.add_column("id (remap)", style="cyan", no_wrap=True)
        table.add_column("", style="dim", ratio=1)
        for keys, desc, ident, tip in binding_rows(self.under):
            table.add_row(keys, desc, ident, tip)
        with Vertical(id="help"):
            yield Label(Text.assemble(("HeyHi keys", "bold"), ("  on this screen", "dim")), id="help-title")
            with VerticalScroll():
                yield Static(table)
                yield Static(Text.assemble(
                    ("\nRemap keys ", "bold"), "in ", (self.keymap_path or "(no keymap file)", "cyan"),
                    ':\n  "jobs.logs" = "o"\n  "app.jobs" = "ctrl+j"\n',
                    ("ctrl+p", "bold yellow"), " opens the command palette: every action, every job, every config.",
                    style=""))
