"""A table's filter box, one behaviour everywhere: ``/`` shows the hidden ``Input`` whose id is the
class's ``FILTER_ID``; typing sets ``text_filter`` (the host's ``_fill`` redraws); Enter returns the
focus to the widget whose id is ``FILTER_TARGET``. Mixed into a screen or a widget."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Input


class FilterBox:
    """Mixin: the host defines ``FILTER_ID``, ``FILTER_TARGET`` and ``_fill()``."""

    FILTER_ID = ""
    FILTER_TARGET = ""
    text_filter: reactive[str] = reactive("")

    def watch_text_filter(self) -> None:
        if self.is_mounted:
            self._fill()

    def action_filter(self) -> None:
        box = self.query_one(f"#{self.FILTER_ID}", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == self.FILTER_ID:
            event.stop()
            self.text_filter = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == self.FILTER_ID:
            event.stop()
            self.query_one(f"#{self.FILTER_TARGET}").focus()
