"""Waiting on an event with a bound (never a fixed sleep)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
_tick = threading.Event()


def wait_for(cond: Callable[[], T], timeout: float = 30.0, what: str = "condition", interval: float = 0.02) -> T:
    """Poll ``cond`` until it returns a truthy value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        _tick.wait(interval)


def lines(path: Path) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def status(run_dir: Path) -> dict:
    try:
        return json.loads((Path(run_dir) / "heyhi.status.json").read_text())
    except (OSError, ValueError):
        return {}


def live_group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            rest = stat[stat.rfind(")") + 2:].split()
            if rest[0] != "Z" and int(rest[2]) == pgid:
                out.append(int(d.name))
    return out
