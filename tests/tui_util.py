"""Helpers of the TUI tests: a real daemon on a short socket, the app wired to it, bounded waits.

``tui_env`` gives every test its own socket (under /tmp: AF_UNIX paths are short), daemon state
and results root, exported as ``HEYHI_SOCKET`` / ``HEYHI_STATE_DIR`` / ``HH_EXP_DIR`` like
conftest does; ``daemon`` starts a real ``heyhi-daemon`` on it. ``until`` polls the app's state
with a deadline (never a fixed sleep).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest

from conftest import REPO
from daemon_util import DaemonProcess

T = TypeVar("T")
DEMO_CONFIG = "conf/c02_sup_train/sl.prototxt"
PROBE_CONFIG = "conf/probe/probe.prototxt"


@dataclass
class TuiEnv:
    base: Path
    sock: Path
    results: Path
    state: Path

    def app(self, project: Path, **kw: Any):
        from heyhi_tui.app import HeyHiApp

        kw.setdefault("socket_path", str(self.sock))
        kw.setdefault("results_root", str(self.results))
        kw.setdefault("autostart", False)
        kw.setdefault("watch_files", False)
        return HeyHiApp(str(project), **kw)


@pytest.fixture
def tui_env(monkeypatch) -> TuiEnv:
    base = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
    env = TuiEnv(base=base, sock=base / "s" / "d.sock", results=base / "results", state=base / "state")
    monkeypatch.setenv("HEYHI_SOCKET", str(env.sock))
    monkeypatch.setenv("HEYHI_STATE_DIR", str(env.state))
    monkeypatch.setenv("HH_EXP_DIR", str(env.results))
    yield env
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def daemon(tui_env, tmp_path):
    d = DaemonProcess.start(tui_env.sock, hello_timeout=5, stderr_dir=tmp_path)
    yield d
    d.stop()


@pytest.fixture
def probe_project(tmp_path) -> Path:
    dst = tmp_path / "probeproj"
    shutil.copytree(REPO / "tests" / "project", dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


async def until(pilot, cond: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    """Let the app run until ``cond()`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        try:
            value = cond()
        except Exception:  # noqa: BLE001 - a widget not mounted yet counts as "not yet"
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{screen_text(pilot.app)}")
        await asyncio.sleep(0.01)  # poll interval, not a wait for the event itself


async def send_key(pilot, key: str) -> None:
    """Post one key press as ``pilot.press`` does, without its two waits for the CPU to go idle (each
    at least 40 ms, up to 2 s on a busy app): for callers that then wait on what the key changes."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
    except KeyError:
        char = key if len(key) == 1 else None
    event = events.Key(key, char)
    event.set_sender(pilot.app)
    pilot.app._driver.send_message(event)
    await pilot.pause(0)  # the key handled, with what it posted to the screen


def screen_text(app) -> str:
    """What the screen shows, as plain text (rendered like a screenshot), for checks and messages."""
    import io

    from rich.console import Console

    try:
        width, height = app.size
        console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                          color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
        console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
        return console.export_text()
    except Exception as e:  # noqa: BLE001 - only for messages
        return f"<no screen text: {e}>"
