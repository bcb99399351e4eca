"""``heyhi-daemon start [--foreground] [--socket PATH]``, ``heyhi-daemon stop``, ``heyhi-daemon status``.

``start`` daemonizes (double fork, setsid, stdio to the log beside the socket) and returns once the
daemon answers a Ping; ``--foreground`` serves in this process, logging to stderr, and prints one
"listening" line on stdout when the socket accepts connections. The pid file beside the socket is
locked for the daemon's life, so two daemons never share a socket and a stale socket file is safe to
remove. Only ``start`` imports the server (asyncio, pydantic); ``stop`` and ``status`` use the
blocking client. ``start --idle-timeout S`` sets how long a connection may sit with no request and
no stream (default 30 s, ``heyhi.wire.limits.IDLE_TIMEOUT_S``; 0: never). Every log record is cut to
``limits.MAX_LOG_RECORD`` characters.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import sys
import time
from typing import TYPE_CHECKING

from heyhi.wire import paths, Client
from heyhi.errors import HeyHiError, UsageError
from heyhi.wire.protocol import DaemonError, DaemonUnavailable, Ping, ProtocolMismatch, Shutdown
from heyhi.wire.limits import MAX_LOG_RECORD

if TYPE_CHECKING:
    from heyhi_daemon.server import Core

START_TIMEOUT_S = 20.0  # start: how long the daemon may take to answer
STOP_TIMEOUT_S = 30.0  # stop: how long it may take to exit (grace for replies, then core.save)
PROBE_TIMEOUT_S = 3.0  # how long a running daemon may take to answer the handshake

PROG = "heyhi-daemon"
COMMANDS = ("start", "stop", "status")

# In the style of every HeyHi help (heyhi.cli.helptext; tests/cli/test_help.py holds it to it).
HELP = """usage: heyhi-daemon start [--foreground] [--socket PATH] [--hello-timeout S] [--idle-timeout S]
       heyhi-daemon stop|status [--socket PATH]
       heyhi-daemon --version | --help

The per-user HeyHi daemon: it launches and tracks every run, streams logs, and survives terminals
closing. `heyhi run` hands it its launches when it is up; `heyhi ctl` and `heyhi-tui` talk to it.

commands:
  start                     start the daemon (in the background unless --foreground)
  stop                      stop the daemon
  status                    is it running? pid, version, uptime

flags:
  --foreground              start: serve in this process, logging to stderr
  --hello-timeout S         start: seconds a new connection has to say Hello (default 5)
  --idle-timeout S          start: seconds a connection may sit with no request and no stream
                            before it is closed (default 30; 0: never)
  --socket PATH             the socket (default: $HEYHI_SOCKET, $XDG_RUNTIME_DIR/heyhi/daemon.sock
                            or ~/.heyhi/daemon.sock)
  --version                 print the daemon's version
  -h, --help                show this help

Settings: HEYHI_MAX_LOCAL_JOBS (concurrent local jobs), HEYHI_SLURM_MIN_POLL and
HEYHI_SLURM_MAX_POLL (seconds between Slurm polls)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with HeyHi's one-line errors (exit 2) instead of argparse's usage block."""

    def error(self, message: str):
        print(f"{PROG}: {message} ({PROG} --help)", file=sys.stderr)
        raise SystemExit(2)


def make_core() -> Core:
    """The core this daemon serves with (see ``server.Core``).

    ``HEYHI_MAX_LOCAL_JOBS`` caps concurrent local jobs (default: the CPU count);
    ``HEYHI_SLURM_MIN_POLL`` / ``HEYHI_SLURM_MAX_POLL`` set the Slurm poll interval bounds (s).
    """
    from pathlib import Path  # lean: keeps the start-up of heyhi-daemon status from loading it

    from heyhi_daemon.core import DaemonCore  # lean: keeps the start-up of heyhi-daemon status from loading it

    settings = env_settings()
    poll = {k: settings[v] for k, v in (("min_interval", "HEYHI_SLURM_MIN_POLL"),
                                        ("max_interval", "HEYHI_SLURM_MAX_POLL")) if settings.get(v)}
    return DaemonCore(Path(paths.state_dir()), settings.get("HEYHI_MAX_LOCAL_JOBS"), poll)


def env_settings() -> dict[str, float | int | None]:
    """The daemon's environment settings, checked (a bad one is a one-line ``UsageError``)."""
    out: dict[str, float | int | None] = {}
    for name, kind in (("HEYHI_MAX_LOCAL_JOBS", int), ("HEYHI_SLURM_MIN_POLL", float),
                       ("HEYHI_SLURM_MAX_POLL", float)):
        raw = os.environ.get(name)
        if not raw:
            continue
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or value <= 0 or value != value or value == float("inf"):
            what = "a whole number" if kind is int else "a number of seconds"
            raise UsageError(f"{name}={raw!r}: expected {what} above 0")
        out[name] = value
    return out


def main(argv: list[str] | None = None, *, core: Core | None = None) -> int:
    """The console script. ``core`` overrides ``make_core()`` (for embedding and tests)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        try:
            print(HELP, flush=True)
        except BrokenPipeError:  # heyhi-daemon --help | head: end quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if argv[:1] == ["--version"]:
        from heyhi import __version__  # lean: the package is loaded already; only its version is read

        print(f"{PROG} {__version__}")
        return 0
    if not argv or argv[0] not in COMMANDS:
        what = f"unknown command {argv[0]!r}" if argv else "no command"
        print(f"{PROG}: {what}: expected start, stop or status ({PROG} --help)", file=sys.stderr)
        return 2
    parser = _Parser(prog=PROG, add_help=False)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the daemon (in the background unless --foreground)")
    start.add_argument("--foreground", action="store_true", help="serve in this process")
    start.add_argument("--hello-timeout", type=float, default=None, metavar="S",
                       help="seconds a new connection has to say Hello (default 5)")
    start.add_argument("--idle-timeout", type=float, default=None, metavar="S",
                       help="seconds a connection may sit with no request and no stream before it "
                            "is closed (default 30; 0: never)")
    for p in (start, sub.add_parser("stop", help="stop the daemon"),
              sub.add_parser("status", help="is it running? pid, version, uptime")):
        p.add_argument("--socket", default=None, metavar="PATH",
                       help="the socket (default: $HEYHI_SOCKET, $XDG_RUNTIME_DIR/heyhi/daemon.sock "
                            "or ~/.heyhi/daemon.sock)")
    args = parser.parse_args(argv)
    sock = os.path.abspath(args.socket) if args.socket else paths.socket_path()
    try:
        if args.command == "start":
            for flag, v in (("--hello-timeout", args.hello_timeout), ("--idle-timeout", args.idle_timeout)):
                if v is not None and not (0 <= v < float("inf")) or (flag == "--hello-timeout" and v == 0):
                    raise UsageError(f"{flag} {v:g}: expected a number of seconds"
                                     f"{' above 0' if flag == '--hello-timeout' else ' (0: never)'}")
            env_settings()  # a bad setting is refused here, not in the background daemon
            timeouts = {k: v for k, v in (("hello_timeout", args.hello_timeout),
                                          ("idle_timeout", args.idle_timeout)) if v is not None}
            return _start(sock, args.foreground, timeouts, core)
        if args.command == "stop":
            return _stop(sock)
        return _status(sock)
    except HeyHiError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return e.exit_code


# ---------------------------------------------------------------------------------------------
# start


def _start(sock: str, foreground: bool, timeouts: dict[str, float], core: Core | None) -> int:
    try:
        running = _connect(sock)
    except ProtocolMismatch as e:
        print(f"{PROG}: a daemon of another heyhi runs on {sock}: {e.message}", file=sys.stderr)
        return 1
    if running is not None:
        _print_already_running(running.welcome.pid, sock)
        running.close()
        return 0
    paths.private_dir(os.path.dirname(sock))
    if foreground:
        def ready() -> None:
            print(f"{PROG}: listening on {sock} (pid {os.getpid()})", flush=True)

        return _serve(sock, timeouts, core, ready)
    return _daemonize(sock, timeouts, core)


def _serve(sock: str, timeouts: dict[str, float], core: Core | None, ready) -> int:
    import asyncio  # lean: keeps the start-up of heyhi-daemon status from loading it
    import logging  # lean: keeps the start-up of heyhi-daemon status from loading it

    from heyhi_daemon.server import AlreadyRunning, serve  # lean: keeps the start-up of heyhi-daemon status from loading it

    class BoundedFormatter(logging.Formatter):
        """One record, traceback included, cut to ``MAX_LOG_RECORD`` characters."""

        def format(self, record: logging.LogRecord) -> str:
            text = super().format(record)
            if len(text) > MAX_LOG_RECORD:
                text = f"{text[:MAX_LOG_RECORD]} ... ({len(text) - MAX_LOG_RECORD} more characters cut)"
            return text

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(BoundedFormatter("%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        asyncio.run(serve(sock, core if core is not None else make_core(), ready=ready, **timeouts))
    except AlreadyRunning as e:
        _print_already_running(e.pid, sock)
    except OSError as e:  # e.g. cannot bind: path too long, not a socket, no permission
        print(f"{PROG}: {sock}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


def _daemonize(sock: str, timeouts: dict[str, float], core: Core | None) -> int:
    log_file = paths.log_path(sock)
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()  # the daemon writes "ready" here once it listens
    child = os.fork()
    if child == 0:
        os.close(r)
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        code = 1
        try:
            os.chdir("/")
            null = os.open(os.devnull, os.O_RDONLY)
            out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(null)
            os.close(out)

            def ready() -> None:
                os.write(w, b"ready\n")
                os.close(w)

            code = _serve(sock, timeouts, core, ready)
        except BaseException:
            import traceback  # lean: keeps the start-up of heyhi-daemon status, the daemon from loading it

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(w)
    os.waitpid(child, 0)
    said = _read_until_eof_or_newline(r, START_TIMEOUT_S)
    os.close(r)
    try:
        running = _connect(sock)
    except DaemonError:
        running = None
    if running is None:
        print(f"{PROG}: the daemon did not come up within {START_TIMEOUT_S:g}s; see {log_file}"
              + _last_line(log_file), file=sys.stderr)
        return 1
    with running:
        running.request(Ping())
        if said == b"ready\n":
            print(f"{PROG}: started (pid {running.welcome.pid}, socket {sock}, log {log_file})")
        else:  # another start won the race
            _print_already_running(running.welcome.pid, sock)
    return 0


def _read_until_eof_or_newline(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    return data


def _last_line(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 4096))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" (last line: {lines[-1]})" if lines else ""


def _print_already_running(pid: int | None, sock: str) -> None:
    print(f"{PROG}: already running (pid {pid if pid is not None else '?'}, socket {sock})")


# ---------------------------------------------------------------------------------------------
# stop and status


def _stop(sock: str) -> int:
    try:
        client = _connect(sock)
    except DaemonError as e:  # another protocol, or not answering: the pid file still knows
        client = None
        pid = _locked_pid(sock)
        if pid is None:
            print(f"{PROG}: {e.message}", file=sys.stderr)
            return 1
        print(f"{PROG}: {e.message}; sending SIGTERM to pid {pid}", file=sys.stderr)
        os.kill(pid, signal.SIGTERM)
    else:
        if client is None:
            print(f"{PROG}: not running (socket {sock})")
            return 0
        with client:
            pid = client.welcome.pid
            client.request(Shutdown())
    if not _wait_gone(pid, STOP_TIMEOUT_S):
        print(f"{PROG}: pid {pid} is still running after {STOP_TIMEOUT_S:g}s", file=sys.stderr)
        return 1
    print(f"{PROG}: stopped (pid {pid})")
    return 0


def _status(sock: str) -> int:
    try:
        client = _connect(sock)
    except DaemonError as e:
        print(f"{PROG}: {e.message}")
        return 1
    if client is None:
        print(f"{PROG}: not running (socket {sock})")
        return 1
    with client:
        w = client.welcome
        now = client.request(Ping()).time
    print(f"{PROG}: running\n"
          f"  pid      {w.pid}\n"
          f"  version  {w.daemon_version} (protocol {w.protocol})\n"
          f"  socket   {sock}\n"
          f"  uptime   {_duration(now - w.started)}")
    return 0


def _connect(sock: str) -> Client | None:
    """A client of the daemon on ``sock``, or None if nothing listens (a stale file included)."""
    try:
        return Client(sock, timeout=PROBE_TIMEOUT_S, name=PROG)
    except DaemonUnavailable:
        return None


def _locked_pid(sock: str) -> int | None:
    """The pid in the pid file, if a live daemon holds its lock."""
    try:
        fd = os.open(paths.pid_path(sock), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = os.read(fd, 64).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait (bounded) until process ``pid`` has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):  # no pidfd (old kernel, not Linux): poll
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.02)
        return False
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def _duration(seconds: float) -> str:
    s = max(0, int(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d}d{h:02d}h{m:02d}m"
    if h:
        return f"{h}h{m:02d}m{s:02d}s"
    return f"{m}m{s:02d}s" if m else f"{s}s"


if __name__ == "__main__":
    sys.exit(main())
