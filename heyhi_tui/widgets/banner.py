"""The banner under the header: shown while the daemon link is not connected, saying what happens
(starting a daemon, retrying when) and, when the link cannot bring the daemon back itself, how to."""

from __future__ import annotations

import time

from textual.reactive import reactive
from textual.widgets import Static

from ..link import LinkState
from ..workers import watch_app


class LinkBanner(Static):
    """Bound to the app's ``link_state`` (watched, never written here)."""

    state: reactive[LinkState] = reactive(LinkState, always_update=True)

    def on_mount(self) -> None:
        watch_app(self, "link_state", self._set_state, init=True)
        self.set_interval(1.0, self._tick)

    def _set_state(self, state: LinkState) -> None:
        self.state = state

    def _tick(self) -> None:
        if self.state.retry_at is not None and not self.state.connected:
            self.refresh_text()

    def watch_state(self, state: LinkState) -> None:
        self.set_class(state.connected, "-connected")
        self.set_class(state.status in ("lost", "failed"), "-error")
        self.refresh_text()

    def refresh_text(self) -> None:
        s = self.state
        if s.connected:
            self.update("")
            return
        if s.status in ("connecting", "starting"):
            self.update(f"{s.status}… {s.detail}".strip())
            return
        what = "daemon unavailable" if s.status == "lost" else "cannot use the daemon"
        retry = ""
        if s.retry_at is not None:
            left = max(0.0, s.retry_at - time.monotonic())
            retry = f" - retrying in {left:.0f}s (ctrl+r: now)" if left >= 1 else " - retrying"
        hint = f" - {s.hint}" if s.hint else ""
        self.update(f"⚠ {what}: {s.detail}{retry}{hint}")
