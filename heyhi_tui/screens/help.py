"""Help: every key of the screen below and of the app, with its binding id (for remapping) and
what it does; and where the keymap file is read from.

The keys come from the screen's active bindings (its focused widget, the widget's ancestors, the
screen, the app; keymap applied), so what help lists is what the keys do there: this screen's keys
first, then the keys that work everywhere.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


def binding_rows(screen: Screen, *, everywhere: bool | None = None) -> list[tuple[str, str, str, str]]:
    """(keys, description, id, tooltip) of the bindings with an id that are active on ``screen``
    (focused widget, its ancestors, the screen, the app), keymap applied. ``everywhere``: only the
    app's (True) or only the others (False)."""
    app = screen.app
    by_id: dict[str, list] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        if not b.id or b.system:
            continue
        if everywhere is not None and (active.node is app) != everywhere:
            continue
        entry = by_id.setdefault(b.id, [[], b])
        entry[0].append(app.get_key_display(b.__class__(key, b.action)))
    # In the order the bindings are declared (the app's: 1, 2, 3 first), whatever key they got.
    declared = {b.id: i for node in (app, screen) for i, b in enumerate(type(node).BINDINGS)
                if isinstance(b, Binding) and b.id}
    rows = sorted(by_id.items(), key=lambda kv: declared.get(kv[0], -1))  # a widget's own: first
    return [(", ".join(keys), b.description or b.action, ident, b.tooltip) for ident, (keys, b) in rows]


def _table(rows: list[tuple[str, str, str, str]], widths: list[int]) -> Table:
    """The rows in columns of the given widths (shared by both tables, so that they line up)."""
    table = Table(box=None, expand=True, padding=(0, 1), show_edge=False, show_header=False)
    for (name, style), width in zip((("key", "bold yellow"), ("does", ""), ("id", "cyan")), widths):
        table.add_column(name, style=style, no_wrap=True, min_width=width)
    table.add_column("", style="dim", ratio=1, no_wrap=True, overflow="ellipsis")  # one line a key
    for keys, desc, ident, tip in rows:
        table.add_row(keys, desc, ident, tip)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, under: Screen, keymap_path: str = "") -> None:
        super().__init__()
        self.under = under
        self.keymap_path = keymap_path
        # Read now, while ``under`` is the screen shown: some keys depend on its focus (j/k/g/G).
        self.here = binding_rows(under, everywhere=False)
        self.everywhere = binding_rows(under, everywhere=True)

    def compose(self) -> ComposeResult:
        here, everywhere = self.here, self.everywhere
        widths = [max((len(row[i]) for row in here + everywhere), default=1) for i in range(3)]
        with Vertical(id="help"):
            yield Label(Text.assemble(("HeyHi keys", "bold"), ("  escape closes · the id remaps a key", "dim")),
                        id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(Text("On this screen", style="bold underline"), classes="help-section")
                yield Static(_table(here, widths) if here else Text("(no keys of its own)", style="dim"))
                yield Static(Text("\nEverywhere (outside text fields)", style="bold underline"),
                             classes="help-section")
                yield Static(_table(everywhere, widths))
                yield Static(Text.assemble(
                    ("\nRemap keys ", "bold"), "in ", (self.keymap_path or "(no keymap file)", "cyan"),
                    ':\n  "jobs.logs" = "o"\n  "app.jobs" = "ctrl+j"\n',
                    ("ctrl+p", "bold yellow"), " opens the command palette: every action, every job, every config "
                    "(in the launch editor ctrl+p / ctrl+n pick the previous / next completion).", style=""))
