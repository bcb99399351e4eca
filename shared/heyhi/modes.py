"""Modes: what to do with a run folder, given what it holds, and safe wiping.

| mode | not started | running | completed | crashed / cancelled / lost |
|---|---|---|---|---|
| gentle_start | run | skip | skip | skip |
| start_restart | run | skip | skip | wipe, run |
| start_continue | run | skip | skip | run (no wipe) |
| restart | run | stop, wipe, run | wipe, run | wipe, run |
| dryrun | never runs: says what the default would do |
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import HeyHiError
from .records import COMPLETED_S, LIVE_STATES, NOT_STARTED, RunDir

MODES = ("gentle_start", "start_restart", "start_continue", "restart", "dryrun")


@dataclass(frozen=True)
class Decision:
    run: bool
    wipe: bool = False
    stop: bool = False
    reason: str = ""

    def line(self, mode: str, folder: Path) -> str:
        if self.run:
            what = ("stop, wipe and run" if self.stop else "wipe and run" if self.wipe else "run")
        else:
            what = "skip"
        return f"heyhi: {mode}: {what}: {self.reason} ({folder})"


def decide(mode: str, state: str) -> Decision:
    """The decision of ``mode`` for a folder in ``state`` (see the module table)."""
    live = state in LIVE_STATES
    started = state != NOT_STARTED
    if mode == "gentle_start":
        if started:
            return Decision(False, reason=f"the folder holds a started run ({state})")
        return Decision(True, reason="no run yet")
    if mode in ("start_restart", "start_continue"):
        if live or state == COMPLETED_S:
            return Decision(False, reason=f"the run is {state}")
        if not started:
            return Decision(True, reason="no run yet")
        if mode == "start_restart":
            return Decision(True, wipe=True, reason=f"the run is {state}: starting over")
        return Decision(True, reason=f"the run is {state}: continuing in the same folder")
    if mode == "restart":
        if not started:
            return Decision(True, reason="no run yet")
        return Decision(True, wipe=True, stop=live, reason=f"the run is {state}: restarting")
    if mode == "dryrun":
        d = decide("gentle_start", state)
        return Decision(False, reason=f"dry run; gentle_start would {'run' if d.run else 'skip'}: {d.reason}")
    raise HeyHiError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")


class WipeRefused(HeyHiError):
    exit_code = 2


def check_wipe(folder: Path, results_root: Path) -> Path:
    """Refuse to wipe anything that is not a HeyHi run folder inside the results root."""
    folder = Path(folder)
    if folder.is_symlink():
        raise WipeRefused(f"refusing to wipe {folder}: it is a symlink")
    real = Path(os.path.realpath(folder))
    root = Path(os.path.realpath(results_root))
    if real == root or root not in real.parents:
        raise WipeRefused(f"refusing to wipe {folder}: it is not inside the results root {results_root}")
    if not RunDir(real).has_record():
        raise WipeRefused(f"refusing to wipe {folder}: it holds no HeyHi run record")
    return real


def wipe(folder: Path, results_root: Path, *, force: bool, confirm_stream=None) -> None:
    """Delete a run folder after the safety checks; asks on a terminal unless ``force``.

    Symlinks inside are removed, never followed.
    """
    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    real = check_wipe(folder, results_root)
    if not force:
        stream = confirm_stream or sys.stdin
        if not stream.isatty():
            raise WipeRefused(f"refusing to wipe {folder} without a terminal to confirm: pass --force")
        answer = input(f"Wipe {folder}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise WipeRefused(f"not wiping {folder}: not confirmed")
    shutil.rmtree(real)
