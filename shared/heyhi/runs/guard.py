"""The safety rules for writing and wiping run folders, in one place.

Writing: a run is written only into a folder that does not exist, is empty, or is a HeyHi run folder,
never into a results root or HeyHi's internal state (``<root>/.heyhi``), never through a symlink.

Wiping: only a folder HeyHi can prove is a run folder: one holding HeyHi's run record
(``heyhi.run.json`` / ``heyhi.status.json``), or, at exactly the folder the command computed from a
config and overrides, one the original HeyHi left (``heyhi.jobid``, ``config_meta.prototxt``). It must
lie under a results root the user configured (``heyhi.runs.ownership``), or be a folder HeyHi created
at an explicit ``--out``; it is not a results root nor under ``.heyhi``; it contains no other run
folder; it is not a symlink. Every refusal is one line naming the folder and the rule.

Stdlib only (the CLI's ``ctl`` path uses it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from heyhi.errors import Refused
from heyhi.runs.ownership import canonical

OWN_RECORD = ("heyhi.run.json", "heyhi.status.json")  # written by this HeyHi
ORIGINAL_MARKERS = ("heyhi.jobid", "config_meta.prototxt")  # left by the original HeyHi (and this one)
INTERNAL = ".heyhi"
MAX_SCAN = 200_000  # entries looked at when checking a folder holds no other run folder


def _has_any(folder: Path, names: Iterable[str]) -> bool:
    return any(os.path.lexists(folder / n) for n in names)


def is_run_folder(folder: Path, *, original_ok: bool = False) -> bool:
    """Does ``folder`` hold HeyHi's run record (or, with ``original_ok``, the original's markers)?"""
    return _has_any(folder, OWN_RECORD) or (original_ok and _has_any(folder, ORIGINAL_MARKERS))


def _internal(folder: Path, roots: list[Path]) -> bool:
    if INTERNAL in folder.parts:
        return True
    return any(folder == r / INTERNAL or r / INTERNAL in folder.parents for r in roots)


def check_writable(run_dir: Path | str, roots: list[Path]) -> Path:
    """The folder's one spelling, if a run may be written there; else ``Refused`` (one line)."""
    folder = canonical(run_dir)
    if os.path.islink(folder):
        raise Refused(f"refusing to write a run into {folder}: it is a symlink")
    if folder in roots or folder == Path("/"):
        raise Refused(f"refusing to write a run into {folder}: it is a results root")
    if _internal(folder, roots):
        raise Refused(f"refusing to write a run into {folder}: it is inside HeyHi's own state ({INTERNAL})")
    if not os.path.lexists(folder):
        return folder
    if not folder.is_dir():
        raise Refused(f"refusing to write a run into {folder}: it is not a folder")
    if is_run_folder(folder, original_ok=True):
        return folder
    try:
        with os.scandir(folder) as it:
            first = next(iter(it), None)
    except OSError as e:
        raise Refused(f"refusing to write a run into {folder}: {e.strerror}") from None
    if first is not None:
        raise Refused(f"refusing to write a run into {folder}: it holds files that are not a HeyHi run "
                      f"(e.g. {first.name})")
    return folder


def _holds_run_folder(folder: Path) -> str | None:
    """The first run folder found below ``folder`` (symlinks not followed), bounded by ``MAX_SCAN``."""
    seen = 0
    stack = [folder]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    seen += 1
                    if seen > MAX_SCAN:
                        return f"{folder} (more than {MAX_SCAN} entries to check)"
                    if e.is_dir(follow_symlinks=False):
                        sub = Path(e.path)
                        if is_run_folder(sub, original_ok=True):
                            return str(sub)
                        stack.append(sub)
        except OSError:
            continue
    return None


def check_wipe(run_dir: Path | str, roots: list[Path], outs: set[Path] | None = None, *,
               computed: bool = False) -> Path:
    """The folder's one spelling, if HeyHi may wipe it (see the module docstring); else ``Refused``.

    ``roots`` are the configured results roots (``ownership.known_roots``), ``outs`` the folders
    HeyHi created at an explicit ``--out``; ``computed`` says the command computed this folder from
    a config and overrides (then the original HeyHi's folders count as run folders too)."""
    folder = canonical(run_dir)
    if os.path.islink(folder):
        raise Refused(f"refusing to wipe {folder}: it is a symlink")
    if not folder.is_dir():
        raise Refused(f"refusing to wipe {folder}: it is not a folder")
    if folder in roots or folder == Path("/"):
        raise Refused(f"refusing to wipe {folder}: it is a results root")
    if _internal(folder, roots):
        raise Refused(f"refusing to wipe {folder}: it is HeyHi's own state ({INTERNAL})")
    under = any(r in folder.parents for r in roots)
    if not under and folder not in (outs or set()):
        where = ", ".join(str(r) for r in roots) or "none configured"
        raise Refused(f"refusing to wipe {folder}: it is not under a results root you configured ({where}) "
                      "nor a folder HeyHi created at --out")
    if not is_run_folder(folder, original_ok=computed):
        raise Refused(f"refusing to wipe {folder}: it holds no HeyHi run record")
    inner = _holds_run_folder(folder)
    if inner:
        raise Refused(f"refusing to wipe {folder}: it holds another run folder: {inner}")
    return folder
