"""The asyncio daemon client, for the TUI: the same frames and messages as ``heyhi.wire.client``.

    client = await AsyncClient.connect()
    pong = await client.request(Ping())
    async for event in client.stream(Subscribe()):   # until the closing Ok
        ...
    await client.unsubscribe()                        # from another task: ends that stream

One ``AsyncClient`` is one connection carrying one request (or stream) at a time; open a second one
to send requests while a stream runs.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any, AsyncIterator

from heyhi.wire import paths
from heyhi.wire.client import DEFAULT_TIMEOUT, mismatch_message
from heyhi.wire.framing import FrameError, read_frame, write_frame
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


async def _open_unix_connection(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_unix_connection(path)``, retried while the daemon's listen backlog is full
    (EAGAIN; asyncio's own connect would take it for a connection) for at most ``CONNECT_RETRY_S``."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    deadline = loop.time() + CONNECT_RETRY_S
    delay = 0.001
    try:
        while True:
            try:
                sock.connect(path)  # a unix socket connects at once, or fails
                break
            except BlockingIOError:
                if loop.time() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_unix_connection(sock=sock)


class AsyncClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 socket_path: str, timeout: float | None):
        self._reader = reader
        self._writer = writer
        self.socket_path = socket_path
        self.timeout = timeout
        self.welcome: Welcome | None = None
        self._closed = False

    @classmethod
    async def connect(
        cls, socket_path: str | None = None, *, timeout: float | None = DEFAULT_TIMEOUT,
        name: str = "heyhi-tui",
    ) -> AsyncClient:
        """Connect and do the handshake; raises as ``heyhi.wire.client.Client`` does."""
        path = socket_path or paths.socket_path()
        problem = paths.socket_problem(path)  # before sending anything
        if problem:
            raise DaemonError("unsafe", problem)
        try:
            reader, writer = await asyncio.wait_for(_open_unix_connection(path), timeout)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise DaemonUnavailable(
                "unavailable", f"no heyhi daemon at {path} ({e.strerror})"
            ) from None
        except (OSError, asyncio.TimeoutError) as e:
            raise DaemonError("unavailable", f"cannot connect to {path}: {e}") from None
        client = cls(reader, writer, path, timeout)
        try:
            client.welcome = await client._handshake(name)
        except BaseException:
            await client.close()
            raise
        return client

    async def _handshake(self, name: str) -> Welcome:
        await self._send(Hello(protocol=PROTOCOL_VERSION, client=f"{name} (pid {os.getpid()})"))
        reply = await self._recv(self.timeout)
        if isinstance(reply, Error):
            cls = ProtocolMismatch if reply.code == PROTOCOL else DaemonError
            raise cls(reply.code, f"heyhi daemon at {self.socket_path}: {reply.message}")
        if not isinstance(reply, Welcome):
            raise DaemonError(PROTOCOL, f"heyhi daemon at {self.socket_path} answered Hello with "
                                        f"{type(reply).__name__}")
        if reply.protocol != PROTOCOL_VERSION:
            raise ProtocolMismatch(PROTOCOL, mismatch_message(self.socket_path, reply))
        return reply

    async def request(self, msg: Any) -> Any:
        """Send one request and return its answer; an ``Error`` answer raises ``DaemonError``."""
        if isinstance(msg, STREAMS):
            raise TypeError(f"{type(msg).__name__} is answered by a stream: use stream()")
        await self._send(msg)
        reply = await self._recv(self.timeout)
        return checked(reply)

    async def stream(self, msg: Any, *, timeout: float | None = None) -> AsyncIterator[Any]:
        """Yield the data messages answering ``msg`` until the closing ``Ok`` (``Error`` raises).

        Leaving the loop early sends ``Unsubscribe`` and reads up to the closing message.
        """
        await self._send(msg)
        done = False
        try:
            while not (done := ends_stream(reply := await self._recv(timeout))):
                yield reply
            checked(reply)
        finally:
            if not done and not self._closed:
                try:
                    await self.unsubscribe()
                    while not isinstance(last := await self._recv(self.timeout), (Ok, Error)):
                        pass
                    if not (isinstance(last, Ok) and last.detail == UNSUBSCRIBED):
                        # the stream ended by itself before Unsubscribe arrived: its answer is still to come
                        while not isinstance(await self._recv(self.timeout), (Ok, Error)):
                            pass
                except (DaemonError, OSError):
                    await self.close()

    async def unsubscribe(self) -> None:
        """Ask the daemon to end the stream running on this connection (its Ok ends ``stream``)."""
        await self._send(Unsubscribe())

    async def _send(self, msg: Any) -> None:
        if self._closed:
            raise DaemonError("closed", f"the connection to {self.socket_path} is closed")
        try:
            await write_frame(self._writer, to_wire(msg))
        except OSError as e:
            await self.close()
            raise DaemonError("closed", f"lost the daemon at {self.socket_path} ({e})") from None

    async def _recv(self, timeout: float | None) -> Any:
        try:
            obj = await asyncio.wait_for(read_frame(self._reader), timeout)
        except asyncio.TimeoutError:
            await self.close()
            raise DaemonError(
                "timeout", f"the daemon at {self.socket_path} did not answer within {timeout}s"
            ) from None
        except (OSError, FrameError) as e:
            await self.close()
            raise DaemonError("closed", f"lost the daemon at {self.socket_path} ({e})") from None
        if obj is None:
            await self.close()
            raise DaemonError("closed", f"the daemon at {self.socket_path} closed the connection")
        return from_wire(obj)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def connect_or_none(
    socket_path: str | None = None, *, timeout: float | None = DEFAULT_TIMEOUT,
    name: str = "heyhi-tui",
) -> AsyncClient | None:
    """A connected ``AsyncClient``, or ``None`` at once when no daemon listens on the socket."""
    try:
        return await AsyncClient.connect(socket_path, timeout=timeout, name=name)
    except DaemonUnavailable:
        return None
