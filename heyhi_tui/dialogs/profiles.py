"""The profile picker of the launch editor: the project's profiles (``ListProfiles``, answered by the
daemon, so it works the same over ``--remote``), one option each: its name, a mark on the default,
its description and how many lines it inserts; a profile that cannot go into the editor shows why.

``push_screen(ProfilePicker(profiles, project_root), callback)`` gets the ``ProfileInfo`` chosen
(Enter or a click), or None (Esc). Choosing a profile with a problem says the problem in one
notification and keeps the picker open. Nothing here talks to the daemon or edits the lines: the
launch screen does both.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from heyhi.wire.protocol import ProfileInfo

HINT = "⏎ insert its lines at the top (your lines stay below: they win) · esc close"


def option_text(p: ProfileInfo, project_root: str = "") -> Text:
    """One profile as the picker shows it: name, default mark, description, lines or problem."""
    text = Text(p.name, style="bold")
    if p.is_default:
        text.append("  ★ default", style="yellow")
    if p.description:
        text.append(f"  {p.description}")
    if p.problem:
        text.append(f"\n  ✗ {p.problem}", style="red")
    else:
        n = len(p.lines)
        text.append(f"  · {n} line{'s' if n != 1 else ''}", style="dim")
    if p.where:
        prefix = project_root.rstrip("/") + "/"
        where = p.where[len(prefix):] if project_root and p.where.startswith(prefix) else p.where
        text.append(f"  ({where})", style="dim")
    return text


class ProfilePicker(ModalScreen["ProfileInfo | None"]):
    """Pick one of ``profiles`` (the default one highlighted first)."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="profiles.close", tooltip="Close the picker, inserting nothing"),
    ]
    DEFAULT_CSS = """
    ProfilePicker { align: center middle; }
    ProfilePicker #profiles-dialog {
        width: 90; max-width: 95%; height: auto; max-height: 90%;
        padding: 0 1; border: thick $primary; background: $surface;
    }
    ProfilePicker #profiles-title { text-style: bold; }
    ProfilePicker #profiles-list { height: auto; max-height: 20; margin: 1 0; }
    ProfilePicker #profiles-hint { color: $text-muted; }
    """

    def __init__(self, profiles: list[ProfileInfo], project_root: str = "") -> None:
        super().__init__()
        self.profiles = list(profiles)
        self.project_root = project_root

    def compose(self) -> ComposeResult:
        with Vertical(id="profiles-dialog"):
            yield Label(f"Profiles ({len(self.profiles)})", id="profiles-title")
            yield OptionList(*(Option(option_text(p, self.project_root), id=str(i))
                               for i, p in enumerate(self.profiles)), id="profiles-list")
            yield Static(HINT, id="profiles-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        default = next((i for i, p in enumerate(self.profiles) if p.is_default), 0)
        options.highlighted = default
        options.focus()

    @on(OptionList.OptionSelected, "#profiles-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        p = self.profiles[int(event.option.id or 0)]
        if p.problem:
            self.notify(p.problem, severity="warning", timeout=8)
            return
        self.dismiss(p)

    def action_close(self) -> None:
        self.dismiss(None)
