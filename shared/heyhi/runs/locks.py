"""Locks on run folders, never awaited: a held lock is a one-line ``Busy`` (exit 3), never a hang.

- ``folder_lock(results_root, run_dir)``: one launch at a time into a run folder. Keyed on the resolved
  folder (``os.path.realpath``), so one folder spelled two ways is one lock. Not waited for: a folder
  another launch holds answers "busy: the run folder is taken by another launch" at once.
- ``status_lock(run_dir)``: serialises writes of ``heyhi.status.json``. Held only for a read and a
  write, so it is waited for, briefly: up to ``deadline`` seconds (default 5) off the event loop and at
  most ``ON_LOOP_MAX_S`` on a running asyncio loop's thread, then ``Busy``.
- A lock held by another uid (a colleague in a group-shared results root) answers at once
  "busy: held by uid N" and is never waited for.

Lock files are created with HeyHi's file mode (``heyhi.perms``: 0600, or 0660 in a shared group),
so in the default private mode no other user can even open them. Stdlib only (plus ``heyhi.errors``
and ``heyhi.perms``); never imports ``heyhi.runs.records``, which imports this module.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from heyhi.errors import Busy, HeyHiError
from heyhi import perms
import fcntl

STATUS_LOCK = ".heyhi.status.lock"
LOCKS_DIR = (".heyhi", "locks")
DEFAULT_DEADLINE_S = 5.0  # off an event loop; a job process raises it (its own records wait longer)
ON_LOOP_MAX_S = 0.1  # the most a lock may be waited for on an event loop's thread


def on_event_loop() -> bool:
    """Is this thread running an asyncio event loop (where nothing may block)?"""
    aio = sys.modules.get("asyncio")
    if aio is None:
        return False
    try:
        aio.get_running_loop()
    except RuntimeError:
        return False
    return True


def holder_uid(fd: int) -> int | None:
    """The uid of a process holding a flock on ``fd``'s file (from /proc/locks), or None if unknown."""
    st = os.fstat(fd)
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks") as fh:
            rows = fh.read().splitlines()
    except OSError:
        return None
    for row in rows:
        parts = row.split()
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK" or parts[5] != dev:
            continue
        try:
            return os.stat(f"/proc/{int(parts[4])}").st_uid
        except (OSError, ValueError):
            return None
    return None


def _open(path: Path) -> int:
    try:
        return perms.open_file(path, os.O_RDWR)
    except OSError as e:
        raise HeyHiError(f"cannot open the lock file {path}: {e.strerror or e}") from None


def acquire(fd: int, what: str, deadline: float, held: str = "is locked by another process") -> None:
    """Take an exclusive flock on ``fd`` within ``deadline`` seconds, else raise ``Busy``
    ("busy: WHAT HELD"). A holder of another uid raises at once: "busy: held by uid N: WHAT"."""
    if on_event_loop():
        deadline = min(deadline, ON_LOOP_MAX_S)
    end = time.monotonic() + deadline
    pause = 0.002
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise HeyHiError(f"cannot lock {what}: {e.strerror or e}") from None
        uid = holder_uid(fd)
        if uid is not None and uid != os.geteuid():
            raise Busy(f"busy: held by uid {uid}: {what}")
        left = end - time.monotonic()
        if left <= 0:
            raise Busy(f"busy: {what} {held}")
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)


def lock_path(results_root: str | os.PathLike, run_dir: str | os.PathLike) -> Path:
    """The lock file of ``run_dir``: under ``<results_root>/.heyhi/locks``, named by its resolved path."""
    name = hashlib.md5(os.path.realpath(run_dir).encode("utf-8", "surrogateescape")).hexdigest()
    return Path(results_root).joinpath(*LOCKS_DIR) / f"{name}.lock"


@contextmanager
def folder_lock(results_root: Path, run_dir: Path, *, deadline: float = 0.0) -> Iterator[None]:
    """Exclusive lock on launching into ``run_dir`` (``Busy``, exit 3, when taken; not waited for).

    Creates ``<results_root>/.heyhi/locks`` (and the results root) with HeyHi's folder mode."""
    path = lock_path(results_root, run_dir)
    perms.make_dir(path.parent)
    fd = _open(path)
    try:
        acquire(fd, f"the run folder {run_dir}", deadline, "is taken by another launch")
        yield
    finally:
        os.close(fd)


@contextmanager
def status_lock(run_dir: str | os.PathLike, *, deadline: float | None = None) -> Iterator[None]:
    """Exclusive lock on ``run_dir``'s status record, waited for at most ``deadline`` seconds
    (default ``DEFAULT_DEADLINE_S``, read at call time)."""
    if deadline is None:
        deadline = DEFAULT_DEADLINE_S
    fd = _open(Path(run_dir) / STATUS_LOCK)
    try:
        acquire(fd, f"the status record of {run_dir}", deadline)
        yield
    finally:
        os.close(fd)
