"""Who may read what HeyHi writes: the user alone by default, or one named group.

Promises:

- private (the default): every folder HeyHi creates for runs, records, logs, code snapshots, lock files
  and the daemon's state is mode 0700 and every file 0600, whatever the process's umask;
- group-shared results roots: with ``$HEYHI_SHARED_GROUP`` set to a group name (or gid), folders HeyHi
  creates under a results root are 2770 (setgid, so what is made inside inherits the group) and owned by
  that group, files 0660; the daemon's own state and socket stay private (``shared=False``);
- a folder or file that belongs to another user is never changed.

Stdlib only (plus ``heyhi.errors``); it never imports ``heyhi.runs.records``, which imports it.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from heyhi.errors import UsageError

SHARED_GROUP_ENV = "HEYHI_SHARED_GROUP"

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
SHARED_DIR, SHARED_FILE = 0o2770, 0o660


def shared_gid() -> int | None:
    """The gid of ``$HEYHI_SHARED_GROUP`` (a name or a number), or None when unset (private)."""
    name = os.environ.get(SHARED_GROUP_ENV, "").strip()
    if not name:
        return None
    if name.isdigit():
        return int(name)
    import grp  # lean: keeps the start-up of python -m heyhi.job, the daemon from loading it

    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise UsageError(f"{SHARED_GROUP_ENV}={name}: no such group") from None


def _gid(shared: bool | None) -> int | None:
    return None if shared is False else shared_gid()


def dir_mode(shared: bool | None = None) -> int:
    """The mode of a folder HeyHi creates (``shared=None``: follow ``$HEYHI_SHARED_GROUP``)."""
    return SHARED_DIR if _gid(shared) is not None else PRIVATE_DIR


def file_mode(shared: bool | None = None) -> int:
    """The mode of a file HeyHi creates (``shared=None``: follow ``$HEYHI_SHARED_GROUP``)."""
    return SHARED_FILE if _gid(shared) is not None else PRIVATE_FILE


def _fix(path: str | int, st: os.stat_result, mode: int, gid: int | None) -> None:
    """Set ``mode`` (and the group) on something the user owns."""
    if st.st_uid != os.geteuid():
        return
    if gid is not None and st.st_gid != gid:
        os.chown(path, -1, gid) if isinstance(path, str) else os.fchown(path, -1, gid)
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode) if isinstance(path, str) else os.fchmod(path, mode)


def make_dir(path: str | os.PathLike, *, shared: bool | None = None) -> Path:
    """Create ``path`` and missing parents; each folder this call creates gets ``dir_mode``.

    Existing folders are left as they are (see ``secure_dir`` to tighten one HeyHi owns)."""
    p = Path(os.path.abspath(path))
    missing = []
    q = p
    while not q.is_dir():
        missing.append(q)
        if q.parent == q:
            break
        q = q.parent
    gid, mode = _gid(shared), dir_mode(shared)
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs to set
        _fix(str(d), os.lstat(d), mode, gid)
    return p


def secure_dir(path: str | os.PathLike, *, shared: bool | None = None) -> None:
    """Reset a folder the user owns to ``dir_mode`` when it grants more than that mode allows
    (a run folder made under a loose umask); a folder already as tight or tighter is kept."""
    try:
        st = os.stat(path)
    except OSError:
        return
    mode = dir_mode(shared)
    if stat.S_IMODE(st.st_mode) & ~mode & 0o7777 & ~stat.S_ISGID:
        _fix(str(path), st, mode, _gid(shared))


def secure_fd(fd: int, *, shared: bool | None = None) -> None:
    """Give an open file the user owns ``file_mode`` (and the shared group), whatever the umask."""
    _fix(fd, os.fstat(fd), file_mode(shared), _gid(shared))


def open_file(path: str | os.PathLike, flags: int, *, shared: bool | None = None) -> int:
    """``os.open(path, flags | O_CREAT)`` with HeyHi's file mode set on the file; returns the fd."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, file_mode(shared))
    try:
        secure_fd(fd, shared=shared)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_file(path: str | os.PathLike, data: str | bytes = b"", *, shared: bool | None = None) -> None:
    """Create or truncate ``path`` with HeyHi's file mode and write ``data`` (small marker files)."""
    fd = open_file(path, os.O_WRONLY | os.O_TRUNC, shared=shared)
    with open(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def write_atomic(path: str | os.PathLike, data: str | bytes, *, shared: bool | None = None) -> None:
    """Write ``path`` through a temp file and ``os.replace`` (readers never see half a file), with
    HeyHi's file mode, flushed to disk; a failed write (a full disk) leaves no temp file behind.
    The one implementation of an atomic write (``heyhi.runs.records.write_atomic`` adds the folder's mode)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = open_file(tmp, os.O_WRONLY | os.O_TRUNC, shared=shared)
    try:
        with open(fd, "wb") as fh:
            fh.write(data if isinstance(data, bytes) else data.encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
