"""Record formats: the one place that numbers HeyHi's JSON records and checks them when read.

Every JSON record HeyHi writes carries ``"format": N`` (its first key). A record without one is
format 0: what HeyHi wrote before records were versioned, read exactly as before. A record of a
format newer than this HeyHi knows is refused with one line naming the file (``NewerFormat``,
exit 2): never guessed at, and never taken for a lost or unreadable record, so nothing wipes or
overwrites it.

| record | written by | format |
|---|---|---|
| ``heyhi.status.json`` | ``heyhi.runs.records.RunDir.set_state`` | ``STATUS`` |
| ``heyhi.run.json`` | ``heyhi.runs.prepare`` | ``RUN`` |
| ``heyhi.version.json`` | ``heyhi.runs.prepare`` | ``VERSION`` |
| the daemon's ``index.json`` | ``heyhi_daemon.job_store.JobStore.save`` | ``INDEX`` |
| a sweep's ``sweep.json`` | ``heyhi.sweep.Sweep.write_record`` | ``SWEEP`` |
| a sweep's ``points.jsonl`` | each line (``heyhi.sweep.point_line``) | ``POINTS`` |
| the trash's ``origin.json`` | ``heyhi.runs.trash`` | ``ORIGIN`` |
| the daemon's ``sweeps.json`` | ``heyhi_daemon.sweep_manager`` | ``DAEMON_SWEEPS`` |
| ``heyhi.provenance.json`` | ``heyhi.runs.provenance.write`` | ``PROVENANCE`` |

Bump a number when a change would make an older HeyHi misread the record, and keep reading every
older format (tests/fixtures/records_v0 holds format 0 as written before this module existed).

Stdlib only, and of HeyHi only ``heyhi.errors``: ``heyhi.runs.records`` imports this, never the reverse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heyhi.errors import HeyHiError

STATUS = 1
RUN = 1
VERSION = 1
INDEX = 1
SWEEP = 1
POINTS = 1
ORIGIN = 1
DAEMON_SWEEPS = 1
PROVENANCE = 1

KEY = "format"


class NewerFormat(HeyHiError):
    """A record written by a newer HeyHi (or of no format HeyHi ever wrote): one line naming the file."""

    exit_code = 2

    def __init__(self, path: Path | str, found: Any, known: int):
        self.path, self.found, self.known = Path(path), found, known
        if _valid(found):
            what = f"record format {found} is newer than this HeyHi reads ({known})"
        else:
            what = f"record format {found!r} is not one this HeyHi reads ({known})"
        super().__init__(f"{path}: {what}: upgrade HeyHi")


def _valid(found: Any) -> bool:
    return isinstance(found, int) and not isinstance(found, bool) and found >= 0


def format_of(data: Any) -> Any:
    """The record's format: its ``format`` field, or 0 when it has none."""
    return data.get(KEY, 0) if isinstance(data, dict) else 0


def check(path: Path | str, data: Any, known: int) -> Any:
    """``data`` (a record read from ``path``) if this HeyHi reads its format; else ``NewerFormat``."""
    found = format_of(data)
    if not _valid(found) or found > known:
        raise NewerFormat(path, found, known)
    return data


def stamp(data: dict, known: int) -> dict:
    """``data`` with ``format`` set to ``known`` (first, so ``head`` shows it)."""
    return {KEY: known, **{k: v for k, v in data.items() if k != KEY}}
