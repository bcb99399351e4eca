"""``Deferred(widget)``: like Textual's ``Lazy``, but mounts the widget only after a frame has
really been written to the terminal.

``Lazy`` mounts after the first refresh; at start-up that refresh happens inside the app's start-up
batch, which writes nothing, so the lazily mounted widgets still delay the first frame the user
sees. ``Deferred`` waits for a refresh outside any batch.
"""

from __future__ import annotations

from textual.lazy import Lazy
from textual.widget import Widget


class Deferred(Lazy):
    async def mount_composed_widgets(self, widgets: list[Widget]) -> None:
        parent = self.parent
        if parent is None:
            return

        async def mount() -> None:
            if self.app._batch_count:  # this refresh wrote nothing: wait for the next one
                self.call_after_refresh(mount)
                return
            await parent.mount(self._replace_widget, after=self)
            await self.remove()

        self.call_after_refresh(mount)
