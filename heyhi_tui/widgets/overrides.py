"""The override editor: one override per line, each line's error right under it, and completion of
keys and values from the task's schema.

Input it promises to keep: a paste of several lines, or of space-separated overrides, becomes one
override per line (``completion.split_overrides``: quotes and brackets keep a value whole); keys
typed right after Enter, before the new line is there, go to the new line in order, never to the
line Enter left (the line that saw Enter holds them, then hands them on: ``OverrideInput``).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.suggester import Suggester
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ..completion import Candidate, Schema, complete, describe, split_overrides, suggestion


class OverrideSuggester(Suggester):
    """Inline ghost text: the first candidate extending the line (accept with right or tab)."""

    def __init__(self, editor: OverrideEditor) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.editor = editor

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        return suggestion(value, complete(value, self.editor.current_schema or Schema(None)))


class OverrideInput(Input):
    """One override. Backspace on an empty line removes it."""

    BINDINGS = [
        Binding("backspace", "delete_left_or_line", "Delete", show=False),
    ]

    class Emptied(Message):
        """Backspace on an empty line."""

        def __init__(self, line: OverrideInput) -> None:
            super().__init__()
            self.line = line

    def action_delete_left_or_line(self) -> None:
        if not self.value:
            self.post_message(self.Emptied(self))
        else:
            self.action_delete_left()

    class Split(Message):
        """Enter: a new line after this one. Until ``hand_on``, this line holds the keys typed."""

        def __init__(self, line: OverrideInput) -> None:
            super().__init__()
            self.line = line

    class Pasted(Message):
        """A paste of several overrides (``items``), for the editor to spread over lines."""

        def __init__(self, line: OverrideInput, items: list[str]) -> None:
            super().__init__()
            self.line = line
            self.items = items

    class HandedOn(Message, bubble=False):
        """Every key the app gave this line before the focus moved has been handed on."""

    class Replay(Message, bubble=False):
        """A key typed after Enter on the line before, handed on to this one (in order)."""

        def __init__(self, key: str, character: str | None) -> None:
            super().__init__()
            self.key = key
            self.character = character

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._held: list[events.Key] | None = None  # keys typed after Enter (None: not holding)
        self._next: OverrideInput | None = None  # where held keys go once the new line is there

    def _take(self, event: events.Key) -> bool:
        """Enter, and every key after it until the new line takes over: handled here, in this
        line's own order of keys (a binding would run only once the key bubbled up to the app,
        while the keys after it already land here)."""
        if self._held is None and event.key != "enter":
            return False
        if self._held is None:
            self._held = []
            self.post_message(self.Split(self))
        elif self._next is not None:
            self._next.post_message(self.Replay(event.key, event.character))
        else:
            self._held.append(event)
        return True

    async def _on_key(self, event: events.Key) -> None:
        if self._take(event):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    async def on_override_input_replay(self, event: Replay) -> None:
        """A handed-on key does here what it does when typed: text, Enter, this line's own keys
        (backspace, ctrl+u, ...); any other key goes up as typed (the editor's up, down, tab)."""
        key = events.Key(event.key, event.character)
        if self._take(key):
            return
        if key.is_printable and key.character:
            if self.selection.is_empty:
                self.insert_text_at_cursor(key.character)
            else:
                self.replace(key.character, *self.selection)
            return
        own = self._bindings.key_to_bindings.get(key.key)
        if own:
            await self.run_action(own[0].action)
        else:
            self._forward_event(key)

    def hand_on(self, new: OverrideInput) -> None:
        """Send the keys held since Enter to ``new`` (in order), and the ones still coming until
        the focus has moved there."""
        held, self._held = self._held or [], []
        self._next = new
        for key in held:
            new.post_message(self.Replay(key.key, key.character))
        # Posted after the focus moves (both run from the app's queue, in order): every key the app
        # gave this line before is in its queue ahead of the message.
        self.app.call_later(self.post_message, self.HandedOn())

    def on_override_input_handed_on(self, event: HandedOn) -> None:
        self._held, self._next = None, None

    def _on_paste(self, event: events.Paste) -> None:
        items = split_overrides(event.text)
        if len(items) > 1:
            event.stop()
            event.prevent_default()
            self.post_message(self.Pasted(self, items))
        elif items and items[0] != event.text.strip():  # one override, quoted as a shell has it
            event.stop()
            event.prevent_default()
            self.insert_text_at_cursor(items[0])


class OverrideLine(Vertical):
    """A line number, the override, and its error below it."""

    error: reactive[str] = reactive("")

    def __init__(self, value: str, suggester: Suggester, **kw: Any) -> None:
        super().__init__(**kw)
        self._number = 0
        # Made here, so the line has its input (and its value) before it is composed.
        self.input = OverrideInput(value, placeholder="key=value", compact=True, suggester=suggester,
                                   select_on_focus=False)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="override-row"):
            yield Label("", classes="gutter")
            yield self.input
        yield Static(classes="override-error")

    def set_number(self, n: int) -> None:
        self._number = n
        if self.is_mounted:
            self.query_one(".gutter", Label).update(f"{n:>2} ")

    def on_mount(self) -> None:
        self.set_number(self._number)
        self.watch_error(self.error)

    def watch_error(self, error: str) -> None:
        self.set_class(bool(error), "-error")
        if self.is_mounted:
            self.query_one(".override-error", Static).update(Text(f"↳ {error}", style="red") if error else "")


class CompletionList(OptionList):
    """The candidates for the focused line (never takes the focus from it)."""

    can_focus = False


class OverrideEditor(Vertical):
    """``schema`` and ``errors`` (line index -> message) in; ``Changed`` (every line) out."""

    BINDINGS = [
        Binding("tab", "complete", "Complete", id="overrides.complete",
                tooltip="Accept the highlighted completion (or move on)"),
        Binding("ctrl+n", "candidate(1)", "Next candidate", id="overrides.next", show=False,
                tooltip="Highlight the next completion"),
        Binding("ctrl+p", "candidate(-1)", "Previous candidate", id="overrides.previous", show=False,
                tooltip="Highlight the previous completion"),
        Binding("down", "line(1)", "Next line", id="overrides.down", show=False),
        Binding("up", "line(-1)", "Previous line", id="overrides.up", show=False),
        Binding("ctrl+g", "delete_line", "Delete line", id="overrides.delete_line", show=False,
                tooltip="Remove the focused override"),
    ]

    schema: reactive[Schema | None] = reactive(None)
    errors: reactive[dict[int, str]] = reactive(dict, always_update=True)

    class Changed(Message):
        """The lines as typed (empty ones included: the screen maps errors back to lines), and
        the one being edited (-1: none)."""

        def __init__(self, lines: tuple[str, ...], focused: int = -1) -> None:
            super().__init__()
            self.lines = lines
            self.focused = focused

    def __init__(self, lines: list[str] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self._initial = list(lines or []) or [""]
        self._suggester = OverrideSuggester(self)
        self._candidates: list[Candidate] = []
        self.current_schema: Schema | None = None  # the schema, as a plain attribute (for the suggester)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="override-lines"):
            for value in self._initial:
                yield OverrideLine(value, self._suggester)
        yield Static(id="completion-hint")
        yield CompletionList(id="completions")

    def on_mount(self) -> None:
        self._renumber()
        self.focus_line(len(self._initial) - 1)
        self._emit()

    def on_resize(self) -> None:
        self._update_candidates()  # the candidates are cut to the width

    # ---- lines ----------------------------------------------------------------------------------
    @property
    def line_widgets(self) -> list[OverrideLine]:
        return list(self.query(OverrideLine))

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(w.input.value for w in self.line_widgets)

    def focused_index(self) -> int:
        for i, w in enumerate(self.line_widgets):
            if w.input.has_focus:
                return i
        return -1

    def focus_line(self, i: int) -> None:
        widgets = self.line_widgets
        if widgets:
            w = widgets[max(0, min(i, len(widgets) - 1))]
            w.input.focus()
            w.input.cursor_position = len(w.input.value)

    async def insert_lines(self, after: int, values: list[str]) -> list[OverrideLine]:
        """New lines after line ``after`` (-1 or past the end: at the end); the last one focused."""
        widgets = self.line_widgets
        lines = [OverrideLine(v, self._suggester) for v in values or [""]]
        container = self.query_one("#override-lines")
        if 0 <= after < len(widgets):
            await container.mount_all(lines, after=widgets[after])
        else:
            await container.mount_all(lines)
        self._renumber()
        lines[-1].input.focus()
        lines[-1].input.cursor_position = len(lines[-1].input.value)
        self._emit()
        return lines

    async def insert_line(self, after: int, value: str = "") -> OverrideLine:
        return (await self.insert_lines(after, [value]))[0]

    async def set_lines(self, values: list[str]) -> None:
        """Replace every line (one empty line for none); the last one focused."""
        container = self.query_one("#override-lines")
        await container.remove_children()
        await container.mount_all([OverrideLine(v, self._suggester) for v in values or [""]])
        self._renumber()
        self.focus_line(len(values) - 1)
        self._emit()

    def _renumber(self) -> None:
        for i, w in enumerate(self.line_widgets):
            w.set_number(i + 1)
        self.watch_errors(self.errors)

    def _emit(self) -> None:
        self.post_message(self.Changed(self.lines, self.focused_index()))

    def watch_errors(self, errors: dict[int, str]) -> None:
        for i, w in enumerate(self.line_widgets):
            w.error = errors.get(i, "")

    def watch_schema(self, schema: Schema | None) -> None:
        self.current_schema = schema
        self._update_candidates()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self._update_candidates()
        self._emit()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()  # Enter is OverrideInput.Split

    @on(OverrideInput.Split)
    async def _split(self, event: OverrideInput.Split) -> None:
        event.stop()
        old = event.line
        widgets = self.line_widgets
        after = next((i for i, w in enumerate(widgets) if w.input is old), len(widgets) - 1)
        line = await self.insert_line(after)
        old.hand_on(line.input)

    @on(OverrideInput.Pasted)
    async def _pasted(self, event: OverrideInput.Pasted) -> None:
        """Several overrides pasted: the first fills the line if it is empty, the rest (or all)
        go on new lines after it."""
        event.stop()
        items = list(event.items)
        widgets = self.line_widgets
        at = next((i for i, w in enumerate(widgets) if w.input is event.line), len(widgets) - 1)
        if not event.line.value.strip():
            event.line.value = items.pop(0)
        if items:
            await self.insert_lines(at, items)

    @on(OverrideInput.Emptied)
    async def _emptied(self, event: OverrideInput.Emptied) -> None:
        event.stop()
        await self.action_delete_line()

    def on_descendant_focus(self) -> None:
        self._update_candidates()
        self._emit()  # the line left behind is complete now: validate it

    async def action_delete_line(self) -> None:
        widgets = self.line_widgets
        i = self.focused_index()
        if i < 0:
            return
        if len(widgets) == 1:
            widgets[0].input.value = ""
            return
        await widgets[i].remove()
        self._renumber()
        self.focus_line(i - 1 if i > 0 else 0)
        self._emit()

    def action_line(self, step: int) -> None:
        i = self.focused_index()
        if i >= 0:
            self.focus_line(i + step)

    # ---- completion -----------------------------------------------------------------------------
    def _update_candidates(self) -> None:
        if not self.is_mounted:
            return
        i = self.focused_index()
        widgets = self.line_widgets
        value = widgets[i].input.value if 0 <= i < len(widgets) else ""
        schema = self.current_schema or Schema(None)
        self._candidates = complete(value, schema) if i >= 0 else []
        options = self.query_one(CompletionList)
        options.clear_options()
        width = max(10, (self.size.width or 40) - 2)  # the list spans the editor
        for c in self._candidates:
            label = Text(c.label, style="bold", no_wrap=True, overflow="ellipsis")
            if c.detail:
                label.append("  " + c.detail, style="dim")
            label.truncate(width, overflow="ellipsis")
            options.add_option(Option(label))
        if self._candidates:
            options.highlighted = 0
        hint = describe(value, schema) if i >= 0 else ""
        if self.current_schema is None:
            hint = "loading the schema…"
        hint_widget = self.query_one("#completion-hint", Static)
        hint_widget.update(Text(hint, style="italic"))
        hint_widget.display = bool(hint)
        self.set_class(bool(self._candidates), "-has-candidates")

    def action_candidate(self, step: int) -> None:
        options = self.query_one(CompletionList)
        if self._candidates:
            cur = options.highlighted or 0
            options.highlighted = (cur + step) % len(self._candidates)

    def action_complete(self) -> None:
        i = self.focused_index()
        options = self.query_one(CompletionList)
        if i < 0 or not self._candidates:
            self.screen.focus_next()
            return
        self.accept(self._candidates[options.highlighted or 0])

    def accept(self, c: Candidate) -> None:
        i = self.focused_index()
        if i < 0:
            i = len(self.line_widgets) - 1
        inp = self.line_widgets[i].input
        inp.value = c.text
        inp.cursor_position = len(c.text)
        inp.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self._candidates):
            self.accept(self._candidates[event.option_index])
