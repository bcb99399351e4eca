"""Where the daemon's socket, pid file, log and state live (stdlib only: the CLI imports this).

- socket: ``$HEYHI_SOCKET``, else ``$XDG_RUNTIME_DIR/heyhi/daemon.sock``, else ``~/.heyhi/daemon.sock``;
- pid file and log: beside the socket, same stem (``daemon.pid``, ``daemon.log``);
- state (the daemon's index of runs): ``$HEYHI_STATE_DIR``, else ``~/.heyhi/state``.

Functions return ``str`` paths and never create anything; ``private_dir`` creates a folder 0700.
``socket_problem`` says why a socket must not be trusted (not the user's own, or in a folder others can write):
clients check it before sending anything.
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
    """Create ``path`` (and parents) if missing; each folder this call creates is mode 0700,
    whatever the umask (the daemon's socket and state stay private even with a shared group).

    An existing folder is left as it is (a test may deliberately use a 0755 one).
    """
    from heyhi.perms import make_dir  # lean: keeps the start-up of heyhi-tui, heyhi-daemon status from loading it

    make_dir(path, shared=False)
    return path


def socket_problem(sock: str) -> str | None:
    """Why the client must not talk to the daemon at ``sock`` (one line), or None when it may.

    The socket and its folder must belong to this user, and the folder must not be writable by group
    or others, so nobody else can stand in for the daemon; a missing one is no problem here (connecting
    then says no daemon listens)."""
    import stat  # lean: keeps the start-up of heyhi-tui, heyhi-daemon status from loading it

    me = os.geteuid()
    folder = os.path.dirname(os.path.abspath(sock)) or "/"
    for what, path, follow in (("its folder", folder, True), ("the socket", sock, False)):
        try:
            st = os.stat(path) if follow else os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as e:
            return f"refusing to talk to the daemon at {sock}: cannot check {what} ({e.strerror or e})"
        if not follow and not stat.S_ISSOCK(st.st_mode):
            return f"refusing to talk to the daemon at {sock}: it is not a socket"
        if st.st_uid != me:
            return f"refusing to talk to the daemon at {sock}: {what} belongs to uid {st.st_uid}, not to you (uid {me})"
        if follow and st.st_mode & 0o022:  # the socket's own mode only says who may connect (peer-checked)
            return (f"refusing to talk to the daemon at {sock}: {what} is writable by group or others "
                    f"(mode {stat.S_IMODE(st.st_mode):04o})")
    return None
