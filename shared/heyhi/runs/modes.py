"""Modes: what to do with a run folder, given what it holds (wiping is ``heyhi.runs.sequence``'s).

| mode | not started | running | completed | crashed / cancelled / lost |
|---|---|---|---|---|
| gentle_start | run | skip | skip | skip |
| start_restart | run | skip | skip | wipe, run |
| start_continue | run | skip | skip | run (no wipe) |
| restart | run | stop, wipe, run | wipe, run | wipe, run |
| dryrun | never runs: says what the default would do |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from heyhi.errors import HeyHiError
from heyhi.runs.records import COMPLETED, LIVE_STATES, NOT_STARTED

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
        if live or state == COMPLETED:
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
