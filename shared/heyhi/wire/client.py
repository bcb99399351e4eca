"""The blocking daemon client, for the CLI: a plain AF_UNIX socket, no asyncio, pydantic or Textual.

    with Client() as c:                      # connects and does the Hello/Welcome handshake
        c.request(Ping())                    # -> Pong; an Error answer raises DaemonError
        for chunk in c.stream(Logs(job)):    # data messages; the closing Ok ends the loop
            ...

``connect_or_none()`` answers ``None`` at once when no daemon listens, so the CLI can run embedded.
A ``Client`` is one connection: use one per thread.
"""

from __future__ import annotations

import os
import socket
import time
TYPE_CHECKING = False  # not typing's: importing typing costs `heyhi ctl` ~5 ms
if TYPE_CHECKING:  # annotations only (strings here)
    from typing import Any, Iterator

from heyhi.wire import paths
from heyhi.wire.framing import recv_frame, send_frame
from heyhi.wire.limits import CONNECT_RETRY_S
from heyhi.wire.protocol import (
    PROTOCOL,
    PROTOCOL_VERSION,
    STREAMS,
    DaemonError,
    checked,
    ends_stream,
    DaemonUnavailable,
    Error,
    Hello,
    Ok,
    ProtocolMismatch,
    UNSUBSCRIBED,
    Unsubscribe,
    Welcome,
    from_wire,
    to_wire,
)
import select

DEFAULT_TIMEOUT = 10.0


class Client:
    """One connection to the daemon on ``socket_path`` (default: ``heyhi.wire.paths.socket_path()``).

    ``timeout`` bounds connecting and each answer (``None``: wait forever). Raises
    ``DaemonUnavailable`` if nothing listens, ``ProtocolMismatch`` if the daemon speaks another
    protocol version, ``DaemonError`` for anything else; each is one line.
    """

    def __init__(
        self, socket_path: str | None = None, *, timeout: float | None = DEFAULT_TIMEOUT,
        name: str = "heyhi",
    ):
        self.socket_path = socket_path or paths.socket_path()
        self.timeout = timeout
        self._name = name
        self._sock: socket.socket | None = None
        problem = paths.socket_problem(self.socket_path)  # before sending anything
        if problem:
            raise DaemonError("unsafe", problem)
        self._sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            connect_retrying(self._sock, self.socket_path, timeout)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            self.close()
            raise DaemonUnavailable(
                "unavailable", f"no heyhi daemon at {self.socket_path} ({e.strerror})"
            ) from None
        except OSError as e:
            self.close()
            raise DaemonError(
                "unavailable", f"cannot connect to {self.socket_path}: {e.strerror or e}"
            ) from None
        self.welcome: Welcome = self._handshake(name)

    def _cut_while_idle(self) -> bool:
        """Did the daemon close this idle connection (its idle timeout) since the last answer?
        Between requests nothing is due from the daemon: anything readable is that closing."""
        if self._sock is None:
            return False
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def _reconnect(self) -> None:
        self.close()
        self.__init__(self.socket_path, timeout=self.timeout, name=self._name)

    def _handshake(self, name: str) -> Welcome:
        self._send(Hello(protocol=PROTOCOL_VERSION, client=f"{name} (pid {os.getpid()})"))
        reply = self._recv()
        if isinstance(reply, Error):
            self.close()
            cls = ProtocolMismatch if reply.code == PROTOCOL else DaemonError
            raise cls(reply.code, f"heyhi daemon at {self.socket_path}: {reply.message}")
        if not isinstance(reply, Welcome):
            self.close()
            raise DaemonError(PROTOCOL, f"heyhi daemon at {self.socket_path} answered Hello with "
                                        f"{type(reply).__name__}")
        if reply.protocol != PROTOCOL_VERSION:
            self.close()
            raise ProtocolMismatch(PROTOCOL, mismatch_message(self.socket_path, reply))
        return reply

    # -- requests -------------------------------------------------------------------------

    def request(self, msg: Any) -> Any:
        """Send one request and return its answer; an ``Error`` answer raises ``DaemonError``."""
        if isinstance(msg, STREAMS):
            raise TypeError(f"{type(msg).__name__} is answered by a stream: use Client.stream()")
        if self._cut_while_idle():  # e.g. after a y/N question that took a while: connect again
            self._reconnect()
        self._send(msg)
        reply = self._recv()
        return checked(reply)

    def stream(self, msg: Any, *, timeout: float | None = None) -> Iterator[Any]:
        """Send a stream request and yield its data messages until the closing ``Ok``.

        A closing ``Error`` raises ``DaemonError``. ``timeout`` bounds the wait for each message
        (``None``: wait forever, as following a log does). Leaving the loop early (``break``,
        ``close()`` on the iterator) sends ``Unsubscribe`` and reads up to the closing message, so
        the connection stays usable.
        """
        self._send(msg)
        sock = self._conn()
        sock.settimeout(timeout)
        done = False
        try:
            while not (done := ends_stream(reply := self._recv())):
                yield reply
            checked(reply)
        finally:
            if self._sock is not None:
                if not done:
                    self._end_stream()
                if self._sock is not None:
                    self._sock.settimeout(self.timeout)

    def _end_stream(self) -> None:
        try:
            self._sock.settimeout(self.timeout)  # type: ignore[union-attr]
            self._send(Unsubscribe())
            while not isinstance(last := self._recv(), (Ok, Error)):
                pass
            if not (isinstance(last, Ok) and last.detail == UNSUBSCRIBED):
                # the stream ended by itself before Unsubscribe arrived: its answer is still to come
                while not isinstance(self._recv(), (Ok, Error)):
                    pass
        except (DaemonError, OSError):
            self.close()

    # -- plumbing -------------------------------------------------------------------------

    def _conn(self) -> socket.socket:
        if self._sock is None:
            raise DaemonError("closed", f"the connection to {self.socket_path} is closed")
        return self._sock

    def _send(self, msg: Any) -> None:
        try:
            send_frame(self._conn(), to_wire(msg))
        except OSError as e:
            self.close()
            raise DaemonError("closed", f"lost the daemon at {self.socket_path} ({e})") from None

    def _recv(self) -> Any:
        try:
            obj = recv_frame(self._conn())
        except socket.timeout:
            waited = self._sock.gettimeout() if self._sock is not None else self.timeout
            self.close()
            raise DaemonError(
                "timeout", f"the daemon at {self.socket_path} did not answer within {waited:g}s"
            ) from None
        except OSError as e:
            self.close()
            raise DaemonError("closed", f"lost the daemon at {self.socket_path} ({e})") from None
        except Exception:  # a FrameError: the byte stream is out of step, so drop it
            self.close()
            raise
        if obj is None:
            self.close()
            raise DaemonError("closed", f"the daemon at {self.socket_path} closed the connection")
        return from_wire(obj)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_retrying(sock: socket.socket, path: str, timeout: float | None) -> None:
    """``sock.connect(path)``, retried while the daemon's listen backlog is full.

    A full backlog answers EAGAIN (``BlockingIOError``) to a socket with a timeout; that is retried
    with a short backoff for at most ``limits.CONNECT_RETRY_S`` (and ``timeout``), then raised.
    ECONNREFUSED (a socket file nobody listens on) and the rest are raised at once.
    """
    bound = CONNECT_RETRY_S if timeout is None else min(timeout, CONNECT_RETRY_S)
    deadline = time.monotonic() + bound
    delay = 0.001
    while True:
        try:
            sock.connect(path)
            return
        except BlockingIOError:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def mismatch_message(socket_path: str, welcome: Welcome) -> str:
    return (
        f"heyhi daemon at {socket_path} (version {welcome.daemon_version}, pid {welcome.pid}) "
        f"speaks protocol {welcome.protocol}, this heyhi speaks {PROTOCOL_VERSION}: "
        f"restart it (heyhi-daemon stop; heyhi-daemon start)"
    )


def connect_or_none(
    socket_path: str | None = None, *, timeout: float | None = DEFAULT_TIMEOUT, name: str = "heyhi"
) -> Client | None:
    """A connected ``Client``, or ``None`` at once when no daemon listens on the socket."""
    try:
        return Client(socket_path, timeout=timeout, name=name)
    except DaemonUnavailable:
        return None
