"""Reading config-like files (configs, includes, flag files, sweep files, ``.proto`` schemas): the one way in.

Promises, for every file HeyHi reads as input text:

- it never blocks: the file is opened with ``O_NONBLOCK``, so a FIFO named as a config answers at
  once instead of waiting for a writer;
- regular files only: a FIFO, a device (``/dev/zero``), a socket or a folder is a one-line
  ``ConfigError`` naming the path and what it is;
- bounded: at most ``MAX_BYTES`` (4 MiB) are read, checked with ``fstat`` before reading and again
  while reading (a file that grows is still cut off); beyond it, a one-line error. 4 MiB is about
  1,000 times the largest config of the Cicero tree (5 KB) and keeps the worst case (a YAML file
  of tiny keys) to a few seconds and a few hundred MB; 16 MiB of such YAML takes over half a
  minute and over 1 GB, which is why the limit is not higher;
- text is UTF-8: an undecodable byte is a one-line error naming ``file:line:col`` and the byte.

Nothing here imports anything beyond the standard library and ``heyhi.errors``.
"""

from __future__ import annotations

import os
import stat

from heyhi.errors import ConfigError

TYPE_CHECKING = False  # as typing's, without importing it
if TYPE_CHECKING:  # annotations only: a completion reads .proto files without importing pathlib or typing
    from pathlib import Path

__all__ = ["MAX_BYTES", "read_bytes", "read_text", "decode"]

MAX_BYTES = 4 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


def read_bytes(path: str | Path, what: str = "config file", limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``); anything else is a one-line
    ``ConfigError`` whose ``where`` is the path and whose message starts with ``what``."""
    where = str(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise ConfigError(f"cannot read {what}: {e.strerror or e}", where) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
            raise ConfigError(f"cannot read {what}: it is {kind}, not a regular file", where)
        if st.st_size > limit:
            raise ConfigError(f"{what} too large: {st.st_size} bytes, the limit is {_mib(limit)}", where)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise ConfigError(f"{what} too large: more than {_mib(limit)}", where)
        return b"".join(chunks)
    except OSError as e:
        raise ConfigError(f"cannot read {what}: {e.strerror or e}", where) from None
    finally:
        os.close(fd)


def decode(data: bytes, where: str) -> str:
    """``data`` as UTF-8 text; an undecodable byte is a ``ConfigError`` at ``where:line:col``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(
            f"file is not UTF-8 text (byte 0x{data[e.start]:02x})", where=f"{where}:{line}:{col}"
        ) from None


def read_text(path: str | Path, what: str = "config file", limit: int = MAX_BYTES) -> str:
    """``read_bytes`` then ``decode``: the UTF-8 text of a regular file of at most ``limit`` bytes."""
    return decode(read_bytes(path, what, limit), str(path))


def write_cache(path: str, data: bytes) -> None:
    """Write a cache entry of HeyHi's own whole or not at all (a temp file renamed over it), readable by
    the user only, its folder made 0700. Not flushed to disk (``heyhi.perms.write_atomic`` is, for
    records): a lost entry is only rebuilt. Lean (os only): completion writes through it. Raises OSError."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    done = False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        done = True
    finally:
        if not done and os.path.lexists(tmp):  # a full disk: no temp file left behind
            os.unlink(tmp)
