"""The trash: a wipe moves a run folder aside instead of deleting it, so it can be brought back.

A wiped folder is renamed (same filesystem, so it is instant and atomic) into
``<results root>/.heyhi/trash/<entry>/run`` beside ``<entry>/origin.json`` (where it came from, when).
A folder outside every results root (made at ``--out``), or on another filesystem than its root's
trash, goes to ``.heyhi-trash/`` beside it. Entries older than the retention (7 days by default;
``$HEYHI_TRASH_DAYS`` or ``[tool.heyhi] trash_days``) are purged whenever something is wiped.
``restore`` moves an entry back to where it was, if that place is free. ``purge`` deletes at once.

Only entries HeyHi made (a folder holding ``origin.json`` and ``run``) are ever deleted from a trash.
Stdlib only.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from heyhi.errors import Refused
from heyhi.runs import formats as F
from heyhi.runs.ownership import canonical
from heyhi.perms import make_dir

TRASH = Path(".heyhi") / "trash"
BESIDE = ".heyhi-trash"
ORIGIN = "origin.json"
RUN = "run"
DEFAULT_DAYS = 7.0
MAX_ENTRIES = 100_000  # entries looked at in one trash folder


@dataclass(frozen=True)
class Entry:
    """One wiped folder in a trash."""

    path: Path  # the entry folder
    origin: Path  # where the run folder was
    at: float  # when it was wiped

    @property
    def run(self) -> Path:
        return self.path / RUN


def retention_days(settings: dict | None = None) -> float:
    """Days a wiped folder is kept: ``$HEYHI_TRASH_DAYS``, else ``[tool.heyhi] trash_days``, else 7."""
    for v in (os.environ.get("HEYHI_TRASH_DAYS"), (settings or {}).get("trash_days")):
        if v not in (None, ""):
            try:
                return max(0.0, float(v))
            except (TypeError, ValueError):
                raise Refused(f"trash_days: expected a number of days, got {v!r}") from None
    return DEFAULT_DAYS


def trash_dir_for(folder: Path, roots: list[Path]) -> Path:
    """The trash a folder goes to: its results root's, else one beside it (same filesystem)."""
    folder = canonical(folder)
    owners = [r for r in roots if r in folder.parents]
    if owners:
        root = max(owners, key=lambda r: len(r.parts))
        t = root / TRASH
        try:
            if os.stat(root).st_dev == os.stat(folder).st_dev:
                return t
        except OSError:
            pass
    return folder.parent / BESIDE


def move_to_trash(folder: Path | str, roots: list[Path], *, days: float = DEFAULT_DAYS) -> Entry:
    """Rename ``folder`` into its trash (already checked by ``guard.check_wipe``); returns the entry."""
    folder = canonical(folder)
    trash = trash_dir_for(folder, roots)
    make_dir(trash)
    purge_expired(trash, days)
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    entry = trash / f"{stamp}-{folder.name[:80]}-{secrets.token_hex(3)}"
    entry.mkdir(mode=0o700)
    try:
        fd = os.open(entry / ORIGIN, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(F.stamp({"path": str(folder), "at": now}, F.ORIGIN), fh)
        os.rename(folder, entry / RUN)
    except OSError as e:
        shutil.rmtree(entry, ignore_errors=True)
        raise Refused(f"cannot move {folder} to the trash {trash}: {e.strerror}") from None
    return Entry(entry, folder, now)


def read_entry(path: Path | str) -> Entry | None:
    """The trash entry at ``path`` (None when it is not one HeyHi made; ``NewerFormat`` when a newer
    HeyHi made it)."""
    path = Path(path)
    if os.path.islink(path) or not (path / RUN).is_dir():
        return None
    try:
        with open(path / ORIGIN, "rb") as fh:
            data = json.loads(fh.read(64 << 10))
        F.check(path / ORIGIN, data, F.ORIGIN)  # NewerFormat propagates: a newer HeyHi's entry
        return Entry(path, Path(data["path"]), float(data["at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def entries(trash: Path) -> list[Entry]:
    """The entries of one trash folder, newest first."""
    out = []
    try:
        with os.scandir(trash) as it:
            for i, e in enumerate(it):
                if i >= MAX_ENTRIES:
                    break
                try:
                    ent = read_entry(e.path) if e.is_dir(follow_symlinks=False) else None
                except F.NewerFormat:  # a newer HeyHi's entry: left alone (never purged from here)
                    ent = None
                if ent is not None:
                    out.append(ent)
    except OSError:
        return []
    return sorted(out, key=lambda e: -e.at)


def trashes(roots: list[Path], outs: set[Path] = frozenset()) -> list[Path]:
    """Every trash folder HeyHi may have made for these roots and ``--out`` folders."""
    found = [r / TRASH for r in roots] + sorted({o.parent / BESIDE for o in outs})
    return [t for t in dict.fromkeys(found) if t.is_dir()]


def purge_expired(trash: Path, days: float) -> int:
    """Delete entries older than ``days``; returns how many."""
    cutoff = time.time() - days * 86400
    n = 0
    for e in entries(trash):
        if e.at < cutoff:
            shutil.rmtree(e.path, ignore_errors=True)
            n += 1
    return n


def restore(entry: Entry) -> Path:
    """Move a wiped folder back where it was; refused if that place is taken."""
    target = entry.origin
    if os.path.lexists(target):
        try:
            empty = target.is_dir() and not os.path.islink(target) and not any(os.scandir(target))
        except OSError:
            empty = False
        if not empty:
            raise Refused(f"cannot restore to {target}: the folder exists (a new run?); wipe or move it first")
        os.rmdir(target)
    make_dir(target.parent)
    try:
        os.rename(entry.run, target)
    except OSError as e:
        raise Refused(f"cannot restore {entry.path} to {target}: {e.strerror}") from None
    shutil.rmtree(entry.path, ignore_errors=True)
    return target


def purge(folder: Path | str) -> None:
    """Delete a (checked) run folder at once, never following symlinks."""
    shutil.rmtree(canonical(folder))
