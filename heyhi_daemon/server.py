"""The daemon's socket server: handshake, one request at a time per connection, streams, shutdown.

Every connection: the peer must run as our uid (SO_PEERCRED); its first frame must be a ``Hello``
of our protocol version, within ``hello_timeout``; then each frame is validated once
(``validate.parse_request``) and routed by the one dispatch in ``handlers``. A frame that is not a
frame (oversized, not msgpack) gets ``Error(bad_frame)`` and the connection closes; a frame that is
not a valid request gets ``Error(bad_request)`` and the connection goes on. None of this touches
other connections.

What the server needs from the rest of the daemon is the ``Core`` interface below; ``NotReadyCore``
answers ``not_implemented`` to everything until the real core is plugged in (``main.make_core``).

Shutdown (SIGTERM, SIGINT or a ``Shutdown`` request) sets ``DaemonState.stop``: stop accepting,
close idle connections, give busy ones ``grace`` seconds to finish their reply, end streams with
``Error(shutting_down)``, ``await core.save()``, remove the socket and the pid file.

No request can stall or kill it: request frames are read up to ``limits.MAX_REQUEST_FRAME`` and
checked against the limits before any work (``validate``); the listen backlog is the system's
maximum and the soft open-files limit is raised to the hard one at start; a connection that has
said Hello but has no request in flight and no stream is closed after ``idle_timeout`` with
``Error(idle_timeout)``, unless the same peer process (``SO_PEERCRED`` pid: a TUI, or the sshd of a
remote one) runs a stream on another connection. Log lines never carry message bodies, and each
is bounded (``limits.MAX_LOG_TEXT``).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import resource
import signal
import socket
import stat
import struct
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Protocol

import heyhi
from heyhi.wire import paths, limits
from heyhi.wire.framing import FrameError, read_frame, write_frame
from heyhi.wire.protocol import (
    BAD_FRAME,
    BAD_REQUEST,
    FORBIDDEN,
    HELLO_TIMEOUT,
    IDLE_TIMEOUT,
    INTERNAL,
    NOT_IMPLEMENTED,
    PROTOCOL,
    PROTOCOL_VERSION,
    SHUTTING_DOWN,
    Cancel,
    DirListing,
    Error,
    FileData,
    Hello,
    JobDetail,
    JobEvent,
    JobList,
    Launch,
    Launched,
    ListDir,
    ListJobs,
    LogChunk,
    Logs,
    Ok,
    ReadFile,
    Restart,
    ShowJob,
    Subscribe,
    UNSUBSCRIBED,
    Unsubscribe,
    Validate,
    ValidateResult,
    Welcome,
    Wipe,
    to_wire,
)

from heyhi_daemon import handlers
from heyhi_daemon.validate import BadRequest, parse_request
from heyhi.perms import open_file

log = logging.getLogger("heyhi_daemon")

HELLO_TIMEOUT_S = 5.0  # a connection must say Hello within this
GRACE_S = 5.0  # on shutdown, how long in-flight replies may take
LINGER_S = 5.0  # after a closing Error, how long to wait for the client to close (a busy client reads late)
LINGER_BYTES = limits.MAX_FRAME + (64 << 10)  # ... and how much of what it still sends to discard: a whole frame
IDLE_TIMEOUT_S = limits.IDLE_TIMEOUT_S  # after Hello, how long a connection may sit with nothing to do


class Core(Protocol):
    """What the server asks of the daemon's core. Only the event loop calls these.

    Unary methods return the reply message (or an ``Error``); ``logs`` and ``subscribe`` return
    async iterators of data messages (``LogChunk`` / ``JobEvent``). The server sends a closing
    ``Ok`` when the iterator is exhausted; the iterator may instead yield an ``Error`` (or ``Ok``)
    as its last item. When the client goes away, unsubscribes, or the daemon stops, the server
    cancels the iterator (its ``finally`` blocks run), so it must hold no resources past that.
    An exception from any method becomes ``Error(internal)`` (logged with its traceback).
    """

    async def start(self) -> None:
        """Called once, after the socket listens and before the first request."""

    async def save(self) -> None:
        """Called once on shutdown, after the last reply: persist state."""

    async def validate(self, req: Validate) -> ValidateResult | Error: ...

    async def launch(self, req: Launch) -> Launched | Error: ...

    async def list_jobs(self, req: ListJobs) -> JobList | Error: ...

    async def show_job(self, req: ShowJob) -> JobDetail | Error: ...

    async def restart(self, req: Restart) -> Launched | Error: ...

    async def cancel(self, req: Cancel) -> Ok | Error: ...

    async def wipe(self, req: Wipe) -> Ok | Error: ...

    async def read_file(self, req: ReadFile) -> FileData | Error: ...

    async def list_dir(self, req: ListDir) -> DirListing | Error: ...

    def logs(self, req: Logs) -> AsyncIterator[LogChunk | Error]: ...

    def subscribe(self, req: Subscribe) -> AsyncIterator[JobEvent | Error]: ...


class NotReadyCore:
    """The stand-in core: every job request answers ``Error(not_implemented)``."""

    async def start(self) -> None:
        pass

    async def save(self) -> None:
        pass

    @staticmethod
    def _no(req: Any) -> Error:
        return Error(NOT_IMPLEMENTED, f"this daemon does not serve {req.kind} requests yet")

    async def validate(self, req: Validate) -> Error:
        return self._no(req)

    async def launch(self, req: Launch) -> Error:
        return self._no(req)

    async def list_jobs(self, req: ListJobs) -> Error:
        return self._no(req)

    async def show_job(self, req: ShowJob) -> Error:
        return self._no(req)

    async def restart(self, req: Restart) -> Error:
        return self._no(req)

    async def cancel(self, req: Cancel) -> Error:
        return self._no(req)

    async def wipe(self, req: Wipe) -> Error:
        return self._no(req)

    async def read_file(self, req: ReadFile) -> Error:
        return self._no(req)

    async def list_dir(self, req: ListDir) -> Error:
        return self._no(req)

    async def logs(self, req: Logs) -> AsyncIterator[Error]:
        yield self._no(req)

    async def subscribe(self, req: Subscribe) -> AsyncIterator[Error]:
        yield self._no(req)


@dataclass
class DaemonState:
    """What handlers see. Only the event loop touches it."""

    core: Core
    stop: asyncio.Event
    socket_path: str
    pid: int
    started: float
    version: str = heyhi.__version__


class AlreadyRunning(Exception):
    def __init__(self, pid: int | None, socket_path: str):
        self.pid = pid
        self.socket_path = socket_path
        super().__init__(f"already running (pid {pid}, socket {socket_path})")


class _Conn:
    __slots__ = ("task", "busy", "streaming", "peer_pid", "reading", "idle_since", "idle_cut")

    def __init__(self, task: asyncio.Task | None):
        self.task = task
        self.busy = False  # a request is in flight
        self.streaming = False  # a stream (Logs, Subscribe) runs
        self.peer_pid: int | None = None
        self.reading = False  # waiting for the next request (idle unless a stream runs)
        self.idle_since = 0.0  # loop time when it started waiting
        self.idle_cut = False  # the idle sweeper cancelled the wait


class Server:
    def __init__(
        self, socket_path: str, core: Core, *, hello_timeout: float = HELLO_TIMEOUT_S,
        grace: float = GRACE_S, idle_timeout: float | None = IDLE_TIMEOUT_S,
    ):
        self.socket_path = os.path.abspath(socket_path)
        self.pid_path = paths.pid_path(self.socket_path)
        self.hello_timeout = hello_timeout
        self.grace = grace
        self.idle_timeout = idle_timeout if idle_timeout and idle_timeout > 0 else None  # None: never
        self.state = DaemonState(
            core=core, stop=asyncio.Event(), socket_path=self.socket_path, pid=os.getpid(),
            started=time.time(),
        )
        self._uid = os.getuid()
        self._conns: set[_Conn] = set()
        self._server: asyncio.AbstractServer | None = None
        self._pid_fd: int | None = None
        self._socket_ino: int | None = None
        self._welcome = Welcome(
            daemon_version=self.state.version, protocol=PROTOCOL_VERSION, pid=self.state.pid,
            started=self.state.started,
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        """Serve until ``state.stop`` is set, then shut down. ``AlreadyRunning`` if another
        daemon holds the pid file. ``ready`` is called once the socket accepts connections."""
        paths.private_dir(os.path.dirname(self.socket_path))
        self._lock_pid_file()
        loop = asyncio.get_running_loop()
        try:
            nofile = raise_open_files_limit()
            backlog = listen_backlog()
            # asyncio listens again with its own backlog (default 100), so it must be given ours.
            self._server = await asyncio.start_unix_server(
                self._on_connect, sock=self._bind(backlog), start_serving=False, backlog=backlog,
            )
            log.info("backlog %d, open files %d, idle timeout %s", backlog, nofile,
                     f"{self.idle_timeout:g}s" if self.idle_timeout else "none")
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.state.stop.set)
            await self.state.core.start()  # clients that connect meanwhile wait in the backlog
            await self._server.start_serving()
            sweeper = loop.create_task(self._sweep_idle()) if self.idle_timeout else None
            log.info("listening on %s (pid %d, protocol %d)", self.socket_path, self.state.pid,
                     PROTOCOL_VERSION)
            if ready is not None:
                ready()
            await self.state.stop.wait()
            if sweeper is not None:
                sweeper.cancel()
            log.info("shutting down")
            await self._drain()
            try:
                await self.state.core.save()
            except Exception:
                log.exception("core.save() failed")
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            if self._server is not None:
                self._server.close()
                log.info("stopped")
            self._remove_socket()
            self._release_pid_file()

    def _lock_pid_file(self) -> None:
        fd = open_file(self.pid_path, os.O_RDWR, shared=False)  # 0600 whatever the umask, an old file too
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            text = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunning(int(text) if text.isdigit() else None, self.socket_path) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{self.state.pid}\n".encode())
        self._pid_fd = fd

    def _release_pid_file(self) -> None:
        if self._pid_fd is None:
            return
        try:
            os.unlink(self.pid_path)
        except FileNotFoundError:
            pass
        os.close(self._pid_fd)  # releases the lock, after the file is gone
        self._pid_fd = None

    def _bind(self, backlog: int) -> socket.socket:
        """The listening socket, mode 0600 from birth; a stale socket file is removed first
        (we hold the pid-file lock, so no other daemon owns it)."""
        try:
            st = os.lstat(self.socket_path)
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISSOCK(st.st_mode):
                raise OSError(errno.EEXIST, f"{self.socket_path} exists and is not a socket")
            log.info("removing stale socket %s", self.socket_path)
            os.unlink(self.socket_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(self.socket_path)
        except BaseException:
            sock.close()
            raise
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        self._socket_ino = os.lstat(self.socket_path).st_ino
        sock.listen(backlog)
        return sock

    def _remove_socket(self) -> None:
        try:
            if os.lstat(self.socket_path).st_ino == self._socket_ino:
                os.unlink(self.socket_path)
        except FileNotFoundError:
            pass

    async def _drain(self) -> None:
        """Stop accepting; close idle connections; give busy ones ``grace`` seconds."""
        assert self._server is not None
        self._server.close()
        for conn in list(self._conns):
            if not conn.busy and conn.task is not None:
                conn.task.cancel()
        tasks = [c.task for c in self._conns if c.task is not None and not c.task.done()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.grace)
            for task in late:
                log.warning("a connection still busy after %.1fs is cut", self.grace)
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)

    # -- one connection -------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.state.stop.is_set():
            writer.close()
            return
        conn = _Conn(asyncio.current_task())
        self._conns.add(conn)
        try:
            await self._converse(conn, reader, writer)
        except ConnectionError:
            pass  # the client went away; nothing to tell it
        except Exception:
            log.exception("connection failed")
        finally:
            self._conns.discard(conn)
            writer.close()

    async def _converse(
        self, conn: _Conn, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn.peer_pid, uid = _peer_cred(writer)
        if uid is not None and uid != self._uid:
            log.warning("refused a connection from uid %d", uid)
            await _refuse(reader, writer, Error(
                FORBIDDEN, f"this daemon serves uid {self._uid} only, not uid {uid}"))
            return
        if not await self._handshake(reader, writer):
            return
        pending: asyncio.Future | None = None  # the read of the next frame, if one is started
        loop = asyncio.get_running_loop()
        try:
            while True:
                conn.busy = False
                if self.state.stop.is_set():
                    return
                if pending is None:  # the common case: a plain read, idle connections cut by a sweeper
                    pending = loop.create_future()
                    conn.idle_since, conn.reading = loop.time(), True
                    try:
                        pending.set_result(await read_frame(reader, limits.MAX_REQUEST_FRAME))
                    except FrameError as e:
                        pending.set_exception(e)
                    except asyncio.CancelledError:
                        if not conn.idle_cut:
                            raise
                        task = asyncio.current_task()
                        if hasattr(task, "uncancel"):  # Python 3.11+: this cancel is handled here
                            task.uncancel()
                        await _refuse(reader, writer, Error(IDLE_TIMEOUT, self._idle_message()))
                        return
                    finally:
                        conn.reading = False
                elif not await self._wait_while_idle(conn, pending):
                    pending.cancel()
                    await asyncio.wait((pending,))
                    await _refuse(reader, writer, Error(IDLE_TIMEOUT, self._idle_message()))
                    return
                closed, pending = await self._one_frame(conn, pending, reader, writer)
                if closed:
                    return
        finally:
            if pending is not None and not pending.done():
                pending.cancel()

    def _idle_message(self) -> str:
        return f"no request within {self.idle_timeout:g}s: the connection is closed (reconnect to send more)"

    async def _sweep_idle(self) -> None:
        """Close connections waiting for a request longer than ``idle_timeout`` whose peer process
        runs no stream: one task for all connections, so a request costs no timer of its own."""
        loop = asyncio.get_running_loop()
        step = max(0.05, min(1.0, self.idle_timeout / 4))
        while True:
            await asyncio.sleep(step)
            now = loop.time()
            for c in list(self._conns):
                if c.reading and not c.idle_cut and c.task is not None and now - c.idle_since >= self.idle_timeout \
                        and not self._peer_streams(c):
                    c.idle_cut = True
                    c.task.cancel()

    async def _wait_while_idle(self, conn: _Conn, read: asyncio.Future) -> bool:
        """Wait for ``read`` (the next frame); False if the connection stayed idle past the
        timeout while its peer process ran no stream."""
        if self.idle_timeout is None:
            await asyncio.wait((read,))
            return True
        while True:
            done, _ = await asyncio.wait((read,), timeout=self.idle_timeout)
            if done:
                return True
            if not self._peer_streams(conn):
                return False

    def _peer_streams(self, conn: _Conn) -> bool:
        """Does the process on the other end run a stream, on this connection or another?"""
        return conn.streaming or (conn.peer_pid is not None and any(
            c.streaming and c.peer_pid == conn.peer_pid for c in self._conns))

    async def _one_frame(
        self, conn: _Conn, read: asyncio.Future, reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> tuple[bool, asyncio.Future | None]:
        """Answer the frame ``read`` got: (close the connection?, the read a stream left in flight)."""
        try:
            frame = read.result()
        except FrameError as e:
            await _refuse(reader, writer, Error(BAD_FRAME, str(e)))
            return True, None
        if frame is None:
            return True, None
        conn.busy = True
        try:
            req = parse_request(frame)
        except BadRequest as e:
            await _send(writer, Error(BAD_REQUEST, str(e)))
            return False, None
        try:
            reply = await handlers.dispatch(self.state, req)
        except Exception as e:
            log.exception("%s failed", type(req).__name__)
            reply = Error(INTERNAL, _bounded(f"{type(req).__name__} failed: {type(e).__name__}: {e}"))
        if hasattr(reply, "__anext__"):
            conn.streaming = True
            try:
                closed, pending = await self._stream(reply, reader, writer)
            finally:
                conn.streaming = False
            return closed, pending
        await _send(writer, reply)
        return False, None

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            frame = await asyncio.wait_for(read_frame(reader, limits.MAX_REQUEST_FRAME),
                                           self.hello_timeout)
        except asyncio.TimeoutError:
            await _refuse(reader, writer, Error(HELLO_TIMEOUT,
                                                f"no Hello within {self.hello_timeout:g}s"))
            return False
        except FrameError as e:
            await _refuse(reader, writer, Error(BAD_FRAME, str(e)))
            return False
        if frame is None:
            return False
        # The version is checked before the rest of Hello, whose shape a future protocol may change.
        if isinstance(frame, dict) and frame.get("kind") == "hello":
            theirs = frame.get("protocol")
            if theirs != PROTOCOL_VERSION:
                await _refuse(reader, writer, Error(PROTOCOL, (
                    f"protocol mismatch: the daemon (heyhi {self.state.version}, pid "
                    f"{self.state.pid}) speaks protocol {PROTOCOL_VERSION}, the client speaks "
                    f"{theirs!r}; run one heyhi version on both sides (heyhi-daemon stop; "
                    f"heyhi-daemon start)")))
                return False
        try:
            hello = parse_request(frame)
        except BadRequest as e:
            await _refuse(reader, writer, Error(
                PROTOCOL, f"the first message must be a valid Hello: {e}"))
            return False
        if not isinstance(hello, Hello):
            await _refuse(reader, writer, Error(
                PROTOCOL, f"the first message must be Hello, not {type(hello).__name__}"))
            return False
        await _send(writer, self._welcome)
        return True

    async def _stream(
        self, items: AsyncIterator[Any], reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> tuple[bool, asyncio.Future | None]:
        """Send ``items`` until they end, the client unsubscribes or leaves, or the daemon stops.

        Returns (close the connection?, the client read still in flight, for the main loop).
        """
        nxt: asyncio.Future = asyncio.ensure_future(items.__anext__())
        inbox: asyncio.Future | None = asyncio.ensure_future(
            read_frame(reader, limits.MAX_REQUEST_FRAME))
        stopping = asyncio.ensure_future(self.state.stop.wait())
        closed = False
        try:
            while True:
                done, _ = await asyncio.wait(
                    (nxt, inbox, stopping), return_when=asyncio.FIRST_COMPLETED
                )
                if nxt in done:
                    try:
                        item = nxt.result()
                    except StopAsyncIteration:
                        await _send(writer, Ok("end of stream"))
                        break
                    except Exception as e:
                        log.exception("a stream failed")
                        await _send(writer, Error(INTERNAL, _bounded(
                            f"stream failed: {type(e).__name__}: {e}")))
                        break
                    await _send(writer, item)
                    if isinstance(item, (Ok, Error)):
                        break
                    nxt = asyncio.ensure_future(items.__anext__())
                elif inbox in done:
                    closed, end = _stream_interrupt(inbox)
                    inbox = None
                    if end is not None:
                        await _send(writer, end)
                    break
                else:
                    await _send(writer, Error(SHUTTING_DOWN, "the daemon is shutting down"))
                    closed = True
                    break
        finally:
            stopping.cancel()
            if not nxt.done():
                nxt.cancel()
                await asyncio.wait((nxt,), timeout=self.grace)
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:
                    log.exception("closing a stream failed")
            if closed and inbox is not None and not inbox.done():
                inbox.cancel()
        return closed, inbox


def _stream_interrupt(inbox: asyncio.Future) -> tuple[bool, Any]:
    """What a frame that arrives during a stream means: (close?, the stream's closing message)."""
    try:
        frame = inbox.result()
    except FrameError as e:
        return True, Error(BAD_FRAME, str(e))
    except OSError:  # ConnectionResetError and friends
        return True, None
    if frame is None:
        return True, None  # the client left mid-stream
    try:
        req = parse_request(frame)
    except BadRequest as e:
        return False, Error(BAD_REQUEST, f"{e}; the stream is ended")
    if isinstance(req, Unsubscribe):
        return False, Ok(UNSUBSCRIBED)
    return False, Error(BAD_REQUEST, f"only Unsubscribe may be sent while a stream runs, not "
                                     f"{type(req).__name__}; the stream is ended")


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, error: Error) -> None:
    """Send the ``Error`` that closes this connection, so that the client surely reads it.

    Closing a unix socket with unread bytes in it resets the connection, and the peer may then
    lose our last frame; so half-close, and discard what the client still sends (bounded: ``LINGER_S``,
    ``LINGER_BYTES``) before closing.
    """
    await _send(writer, error)
    if writer.can_write_eof():
        writer.write_eof()
    try:
        await asyncio.wait_for(_discard(reader, LINGER_BYTES), LINGER_S)
    except (asyncio.TimeoutError, OSError):
        pass


async def _discard(reader: asyncio.StreamReader, budget: int) -> None:
    while budget > 0 and (data := await reader.read(min(budget, 65536))):
        budget -= len(data)


async def _send(writer: asyncio.StreamWriter, msg: Any) -> None:
    try:
        await write_frame(writer, to_wire(msg))
    except (FrameError, KeyError) as e:  # a reply that does not encode: a bug in the core
        why = _bounded(str(e))
        log.error("cannot send a %s reply: %s", type(msg).__name__, why)  # never the body itself
        await write_frame(writer, to_wire(Error(
            INTERNAL, f"the daemon could not encode its {type(msg).__name__} reply: {why}")))


def _bounded(text: str, most: int = limits.MAX_LOG_TEXT) -> str:
    """``text`` on one line, cut to ``most`` characters (for log lines and internal errors)."""
    text = text.replace("\n", " ")
    return text if len(text) <= most else f"{text[:most]}... ({len(text) - most} more characters)"


def _peer_cred(writer: asyncio.StreamWriter) -> tuple[int | None, int | None]:
    """The peer's (pid, uid), or (None, None) where ``SO_PEERCRED`` does not exist."""
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None, None  # not Linux: the 0700 socket folder is the only guard
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    return (pid or None), uid


def listen_backlog() -> int:
    """The system's maximum listen backlog (``/proc/sys/net/core/somaxconn``; else ``SOMAXCONN``)."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return max(int(f.read().strip()), socket.SOMAXCONN)
    except (OSError, ValueError):
        return socket.SOMAXCONN


def raise_open_files_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20  # "unlimited" is capped by nr_open
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as e:
        log.warning("cannot raise the open-files limit from %d to %d: %s", soft, target, e)
        return soft
    return target


async def serve(
    socket_path: str, core: Core, *, hello_timeout: float = HELLO_TIMEOUT_S,
    grace: float = GRACE_S, idle_timeout: float | None = IDLE_TIMEOUT_S,
    ready: Callable[[], None] | None = None,
) -> None:
    """Run a daemon on ``socket_path`` until it is told to stop (see ``Server``)."""
    await Server(socket_path, core, hello_timeout=hello_timeout, grace=grace,
                 idle_timeout=idle_timeout).run(ready)
