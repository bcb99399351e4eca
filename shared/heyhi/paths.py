"""Where the daemon's socket, pid file, log and state live (stdlib only: the CLI imports this).

- socket: ``$HEYHI_SOCKET``, else ``$XDG_RUNTIME_DIR/heyhi/daemon.sock``, else ``~/.heyhi/daemon.sock``;
- pid file and log: beside the socket, same stem (``daemon.pid``, ``daemon.log``);
- state (the daemon's index of runs): ``$HEYHI_STATE_DIR``, else ``~/.heyhi/state``.

Functions return ``str`` paths and never create anything; ``private_dir`` creates a folder 0700.
"""

from __future__ import annotations

import os


def socket_path() -> str:
    """The daemon's socket for this user (see the module docstring for the order)."""
    explicit = os.environ.get("HEYHI_SOCKET")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "heyhi", "daemon.sock")
    return os.path.join(os.path.expanduser("~"), ".heyhi", "daemon.sock")


def _beside(sock: str | None, suffix: str) -> str:
    sock = sock or socket_path()
    stem, ext = os.path.splitext(sock)
    return (stem if ext == ".sock" else sock) + suffix


def pid_path(sock: str | None = None) -> str:
    """The pid file of the daemon listening on ``sock`` (``daemon.sock`` -> ``daemon.pid``)."""
    return _beside(sock, ".pid")


def log_path(sock: str | None = None) -> str:
    """The log of the daemon listening on ``sock`` (``daemon.sock`` -> ``daemon.log``)."""
    return _beside(sock, ".log")


def state_dir() -> str:
    """The daemon's state folder (its index of runs; the run folders stay the truth)."""
    explicit = os.environ.get("HEYHI_STATE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    return os.path.join(os.path.expanduser("~"), ".heyhi", "state")


def private_dir(path: str) -> str:
    """Create ``path`` (and parents) if missing; a folder this call creates is mode 0700.

    An existing folder is left as it is (a test may deliberately use a 0755 one).
    """
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)  # makedirs' mode is filtered by the umask
    return path
