"""The daemon link: the one exclusive async worker that holds the connection to the daemon and turns
its frames into Textual messages.

``Link.run`` is that worker's body (``HeyHiApp`` starts it with ``exclusive=True``). It connects
(starting a daemon with ``heyhi-daemon start`` when none is up and the link is local), reads the jobs
(``ListJobs``), then holds one connection for the ``Subscribe`` stream: job events are gathered into
a pending map (the latest ``JobInfo`` per job wins) and announced by one ``Link.JobsChanged`` that
coalesces, so a burst of events costs the UI one update. A daemon that goes away is announced with
``Link.StatusChanged`` and reconnected with backoff (``wake()`` retries at once); a local link that
may start a daemon starts one again when the daemon went away, and one that may not says in its
state's ``hint`` how to start it (``daemon_gone`` tells such errors from the daemon's own answers).

Requests go on a second connection, one at a time (``request``; the protocol carries one request
or stream per connection), shielded from cancellation so that a cancelled caller never leaves an
answer unread on the wire. Log streams open their own connection (``open``).

The link speaks only through ``heyhi.wire.aclient.AsyncClient`` (or an object like it from
``heyhi.wire.remote.connect_remote``): this package never imports the daemon.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from textual.message import Message

# The client and the protocol are imported when the link first connects (after the first frame):
# heyhi.wire.protocol alone costs ~20 ms of start-up.
if TYPE_CHECKING:
    from heyhi.wire import AsyncClient
    from heyhi.wire.protocol import JobInfo

Connector = Callable[[], Awaitable["AsyncClient"]]
BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0)  # waits between reconnection attempts, then the last one
REQUEST_TIMEOUT_S = 60.0  # a Launch composes, snapshots the code and writes the folder
START_TIMEOUT_S = 30.0
START_RETRY_S = 30.0  # after a failed start, the next one waits this long (or ctrl+r)
# Errors that mean the connection is gone (the next request reconnects).
_LOST = {"closed", "timeout", "unavailable", "idle_timeout"}


def daemon_gone(e: Exception) -> bool:
    """Is ``e`` the daemon being away (not an answer about the request, e.g. a bad override)?"""
    return getattr(e, "code", None) in _LOST or getattr(e, "code", None) in ("start_failed", "remote", "ssh")


@dataclass(frozen=True)
class LinkState:
    """What the banner shows: ``status`` is connecting, starting, connected, lost or failed."""

    status: str = "connecting"
    detail: str = ""
    retry_at: float | None = None  # monotonic time of the next attempt
    daemon: str = ""  # "heyhi 0.1.0, pid 123"
    hint: str = ""  # how the user gets a daemon back, when the link cannot do it itself

    @property
    def connected(self) -> bool:
        return self.status == "connected"


class Link:
    """Owned by the app; see the module docstring."""

    class StatusChanged(Message):
        """The link's state changed (connected, lost, ...)."""

        def __init__(self, state: LinkState) -> None:
            super().__init__()
            self.state = state

    class JobsChanged(Message):
        """Jobs changed: the receiver takes them with ``Link.take_jobs()``. Coalesces."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Link.JobsChanged)

    def __init__(self, target: Any, connect: Connector, *, where: str, socket_path: str | None = None,
                 autostart: bool = False, prepare: Callable[[], Awaitable[None]] | None = None):
        self.target = target
        self._prepare = prepare  # run once connected, before the jobs are read  # the app: receives the messages
        self.connector = connect
        self.where = where  # the socket path, or ssh://host
        self.socket_path = socket_path
        self.autostart = autostart
        self.state = LinkState()
        self._req: AsyncClient | None = None
        self._req_lock: asyncio.Lock | None = None
        self._wake: asyncio.Event | None = None
        self._reset: list[JobInfo] | None = None
        self._pending: dict[str, JobInfo] = {}
        self._posted = False
        self.started_daemon = False
        self._start_failed_at: float | None = None

    # ---- for the UI -----------------------------------------------------------------------------
    def take_jobs(self) -> tuple[list[JobInfo] | None, dict[str, JobInfo]]:
        """(a full list replacing every job, or None; then the jobs changed since) - and clears."""
        reset, pending = self._reset, self._pending
        self._reset, self._pending, self._posted = None, {}, False
        return reset, pending

    def wake(self) -> None:
        """Retry a lost connection now instead of after the backoff."""
        self._start_failed_at = None
        if self._wake is not None:
            self._wake.set()

    async def request(self, msg: Any) -> Any:
        """Send one request on the request connection and return its answer (``DaemonError`` on an
        ``Error`` answer or a lost daemon). Callers may be cancelled: the exchange itself finishes."""
        if self._req_lock is None:
            self._req_lock = asyncio.Lock()
        task = asyncio.ensure_future(self._request(msg))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    async def _request(self, msg: Any) -> Any:
        from heyhi.wire.protocol import DaemonError  # lean: keeps the start-up of heyhi-tui from loading it

        assert self._req_lock is not None
        async with self._req_lock:
            if self._req is None:
                self._req = await self.connector()
                self._req.timeout = REQUEST_TIMEOUT_S
            try:
                return await self._req.request(msg)
            except DaemonError as e:
                if e.code in _LOST:
                    await self._drop_request_connection()
                raise

    async def open(self) -> AsyncClient:
        """A new connection of its own (for a log stream); the caller closes it."""
        return await self.connector()

    async def close(self) -> None:
        await self._drop_request_connection()
        closer = getattr(self.connector, "close", None)
        if closer is not None:
            await closer()

    async def _drop_request_connection(self) -> None:
        client, self._req = self._req, None
        if client is not None:
            await client.close()

    # ---- the worker -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, subscribe, forward events; on loss, back off and reconnect. Runs until cancelled."""
        from heyhi.wire.protocol import DaemonError, ProtocolMismatch  # lean: keeps the start-up of heyhi-tui from loading it

        self._wake = asyncio.Event()
        attempt = 0
        first = True
        try:
            while True:
                try:
                    stream = await self._connect_stream(first)
                except DaemonError as e:
                    first = False
                    delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                    attempt += 1
                    failed = isinstance(e, ProtocolMismatch) or e.code == "start_failed"
                    self._set_state(LinkState("failed" if failed else "lost", e.message,
                                              time.monotonic() + delay, hint=self._hint(e)))
                    await self._pause(delay)
                    continue
                first = False
                attempt = 0
                try:
                    await self._serve(stream)
                except DaemonError as e:
                    self._set_state(LinkState("lost", e.message, time.monotonic()))
                finally:
                    await stream.close()
                    await self._drop_request_connection()
        finally:
            await self._drop_request_connection()

    async def _connect_stream(self, first: bool) -> AsyncClient:
        from heyhi.wire.protocol import DaemonError, DaemonUnavailable  # lean: keeps the start-up of heyhi-tui from loading it

        try:
            return await self.connector()
        except DaemonUnavailable:
            failed_at = self._start_failed_at
            if not (self.autostart and self.socket_path) or (
                    failed_at is not None and time.monotonic() - failed_at < START_RETRY_S):
                raise
        # At start-up as after the daemon went away (killed, stopped, the machine's reboot).
        again = "" if first else "the daemon went away: "
        self._set_state(LinkState("starting", f"{again}starting a daemon on {self.socket_path}"))
        try:
            await start_daemon(self.socket_path)
        except DaemonError:
            self._start_failed_at = time.monotonic()
            raise
        self._start_failed_at = None
        self.started_daemon = True
        return await self.connector()

    async def _serve(self, stream: AsyncClient) -> None:
        from heyhi.wire.protocol import DaemonError, JobEvent, JobList, ListJobs, Subscribe  # lean: keeps the start-up of heyhi-tui from loading it

        w = stream.welcome
        who = f"heyhi {w.daemon_version}, pid {w.pid}" if w is not None else ""
        if self._prepare is not None:
            await self._prepare()
        jobs = await self.request(ListJobs())
        assert isinstance(jobs, JobList)
        self._reset, self._pending = list(jobs.jobs), {}
        self._announce()
        self._set_state(LinkState("connected", f"connected to {self.where}", daemon=who))
        async for ev in stream.stream(Subscribe()):
            if isinstance(ev, JobEvent):
                self._pending[ev.job.job_id] = ev.job
                self._announce()
            await asyncio.sleep(0)  # a burst of buffered frames must not starve the UI
        raise DaemonError("closed", f"the daemon at {self.where} ended the job stream")

    async def _pause(self, delay: float) -> None:
        assert self._wake is not None
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            pass

    def _announce(self) -> None:
        if not self._posted:
            self._posted = True
            self.target.post_message(Link.JobsChanged())

    def _hint(self, e: Exception) -> str:
        from heyhi.wire.protocol import ProtocolMismatch  # lean: keeps the start-up of heyhi-tui from loading it

        if not self.socket_path:  # remote: the connector's errors say how (daemon_cmd, ssh)
            return ""
        if isinstance(e, ProtocolMismatch):
            return f"stop it (heyhi-daemon stop --socket {self.socket_path}), then ctrl+r"
        if getattr(e, "code", "") == "unavailable" and not self.autostart:
            return f"start one: heyhi-daemon start --socket {self.socket_path}"
        if getattr(e, "code", "") in ("unavailable", "start_failed") and self._start_failed_at is not None:
            return "starting a daemon failed: ctrl+r tries again"
        return ""

    def _set_state(self, state: LinkState) -> None:
        self.state = state
        self.target.post_message(Link.StatusChanged(state))


# ---------------------------------------------------------------------------------------------
# Connectors


def local_connector(socket_path: str) -> Connector:
    async def connect() -> AsyncClient:
        from heyhi.wire import AsyncClient  # lean: keeps the start-up of heyhi-tui from loading it

        return await AsyncClient.connect(socket_path, name="heyhi-tui")

    return connect


class RemoteConnector:
    """Connections to the daemon on ``host`` through ``heyhi.wire.remote.connect_remote``: one SSH
    session (the first ``connect_remote``, kept for the app's life and never handed out, since
    closing it ends the session) and a channel of it per connection (``open_client``). A session
    that died is replaced on the next call. ``connect_remote`` may be sync or async; an object
    without ``open_client`` gets one ``connect_remote`` per connection."""

    def __init__(self, host: str, connect_remote: Callable[..., Any]):
        self.host = host
        self._connect_remote = connect_remote
        self._session: Any = None
        self._lock: asyncio.Lock | None = None

    async def _new(self) -> Any:
        try:
            client = self._connect_remote(self.host, name="heyhi-tui")
        except TypeError:
            client = self._connect_remote(self.host)
        if inspect.isawaitable(client):
            client = await client
        return client

    async def __call__(self) -> AsyncClient:
        from heyhi.wire.protocol import DaemonError, DaemonUnavailable  # lean: keeps the start-up of heyhi-tui from loading it

        if self._lock is None:
            self._lock = asyncio.Lock()
        try:
            async with self._lock:
                for attempt in (0, 1):
                    if self._session is None:
                        self._session = await self._new()
                    if not hasattr(self._session, "open_client"):
                        client, self._session = self._session, None
                        return client
                    try:
                        return await self._session.open_client("heyhi-tui")
                    except DaemonError:
                        stale, self._session = self._session, None
                        await stale.close()
                        if attempt:
                            raise
        except DaemonError:
            raise
        except Exception as e:  # noqa: BLE001 - whatever the transport raised, shown as one line
            raise DaemonUnavailable("unavailable", f"cannot reach the daemon on {self.host}: {e}") from None
        raise AssertionError("unreachable")

    async def resolve(self, path: str) -> str:
        """A path as the remote sees it (``~`` and relative paths resolved there), when the
        client can tell; else ``path``."""
        if self._session is not None and hasattr(self._session, "remote_path"):
            return await self._session.remote_path(path)
        return path

    def default_project(self) -> str | None:
        settings = getattr(self._session, "settings", None)
        return getattr(settings, "project", None) or None

    def settings(self) -> Any:
        """The session's SSH settings (keys, known_hosts, ssh_config), once connected; else None."""
        return getattr(self._session, "settings", None)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


async def start_daemon(socket_path: str) -> None:
    """``heyhi-daemon start --socket SOCK`` as a subprocess (it returns once the daemon answers)."""
    from heyhi.wire.protocol import DaemonError  # lean: keeps the start-up of heyhi-tui from loading it

    argv = [sys.executable, "-m", "heyhi_daemon.main", "start", "--socket", socket_path]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
        )
        _, err = await asyncio.wait_for(proc.communicate(), START_TIMEOUT_S)
    except (OSError, asyncio.TimeoutError) as e:
        raise DaemonError("start_failed", f"could not start heyhi-daemon: {e}") from None
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise DaemonError("start_failed", f"heyhi-daemon start failed ({proc.returncode}): "
                                          f"{lines[-1] if lines else 'no message'}")
