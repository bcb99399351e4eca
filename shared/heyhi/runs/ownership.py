"""What the user has told HeyHi is its own: results roots and folders made at an explicit ``--out``.

A wipe may delete only a run folder under a results root the user configured, or one HeyHi itself
created at an explicit ``--out``. Both facts come from the user's own side, never from a run folder
or a request:

- the roots: ``$HH_EXP_DIR``, a project's ``[tool.heyhi] results_root`` or its default
  (``~/heyhi_experiments/<project>``), as computed by the process that reads them, plus the roots
  that HeyHi's own CLI recorded in the user's state folder (``roots.jsonl``) when it launched with them;
- the ``--out`` folders: recorded in ``outs.jsonl`` in the same state folder when HeyHi created them.

``launches.jsonl`` records each folder a launch without the daemon is about to write (write-ahead),
so the daemon lists it even when that launch was killed half-way.

The state folder is ``heyhi.wire.paths.state_dir()`` (private to the user). Files are append-only JSON
lines, read with a bound. Stdlib only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from heyhi.wire.paths import private_dir, state_dir

ROOTS = "roots.jsonl"
OUTS = "outs.jsonl"
LAUNCHES = "launches.jsonl"  # folders launched without the daemon: it lists them when it next looks
MAX_BYTES = 4 << 20  # a state file larger than this is read only up to here


def canonical(path: Path | str) -> Path:
    """One spelling per folder: absolute, ``..`` and symlinked parents resolved, the last part kept
    as it is (so a symlink at the folder itself is seen, never followed)."""
    p = Path(os.path.abspath(os.path.expanduser(str(path))))
    if p.parent == p:
        return p
    return Path(os.path.realpath(p.parent)) / p.name


def _read(name: str) -> list[str]:
    path = os.path.join(state_dir(), name)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES)
    except OSError:
        return []
    return _paths(data)


def _paths(data: bytes) -> list[str]:
    """The ``path`` of each JSON line (bad lines skipped)."""
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            v = json.loads(line).get("path")
        except (ValueError, AttributeError):
            continue
        if isinstance(v, str):
            out.append(v)
    return out


def _append(name: str, path: Path) -> None:
    """Append one record; best effort (a full disk must not stop a launch: an unrecorded root or
    folder only means HeyHi refuses to wipe it later, the safe side)."""
    line = json.dumps({"path": str(path)}) + "\n"
    try:
        d = private_dir(state_dir())
        fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def acceptable_root(root: Path | str) -> bool:
    """A folder that can be a results root: not ``/`` and not the home folder itself."""
    c = canonical(root)
    return c != Path("/") and c != canonical(Path.home())


def register_root(root: Path | str) -> None:
    """Record a results root the user configured (called by HeyHi's own processes, never for a
    root that arrived in a request)."""
    c = canonical(root)
    if acceptable_root(c) and str(c) not in _read(ROOTS):
        _append(ROOTS, c)


def register_out(folder: Path | str) -> None:
    """Record that HeyHi created ``folder`` at an explicit ``--out``."""
    c = canonical(folder)
    if str(c) not in _read(OUTS):
        _append(OUTS, c)


def known_roots(*configured: Path | str | None) -> list[Path]:
    """The results roots wipes may act under: ``$HH_EXP_DIR``, the ``configured`` ones passed by
    the caller (computed from the user's settings), and the recorded ones."""
    roots = []
    env = os.environ.get("HH_EXP_DIR")
    for r in [env, *configured, *_read(ROOTS)]:
        if r and acceptable_root(r):
            c = canonical(r)
            if c not in roots:
                roots.append(c)
    return roots


def created_outs() -> set[Path]:
    """Folders HeyHi created at an explicit ``--out``."""
    return {canonical(p) for p in _read(OUTS)}


def record_launch(folder: Path | str) -> None:
    """Record (before writing it) a run folder launched without the daemon."""
    _append(LAUNCHES, canonical(folder))


def launches_since(offset: int) -> tuple[list[str], int]:
    """Folders recorded by ``record_launch`` after byte ``offset``, and the new offset (bounded)."""
    path = os.path.join(state_dir(), LAUNCHES)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if offset > size:
                offset = 0  # the file was replaced
            fh.seek(offset)
            data = fh.read(MAX_BYTES)
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return _paths(data[:end]), offset + end
