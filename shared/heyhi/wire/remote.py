"""Reach the heyhi daemon of another machine (a login node) over SSH: the same protocol, forwarded.

    client = await connect_remote("me@login1")            # an AsyncClient, for the TUI
    with connect_remote_blocking("me@login1:2222") as c:   # a Client, for the CLI
        c.request(ListJobs())

One SSH connection (asyncssh: the user's ``~/.ssh/config``, agent and keys; the host key is always
checked against known_hosts, never accepted blindly) carries every channel. Over it the client finds
the remote daemon's socket, starts the daemon when none answers, and speaks the msgpack protocol
through a forwarded stream to that unix socket (``open_unix_connection``, which needs the sshd's
``AllowStreamLocalForwarding``). Paths in requests are the remote's.

Where the socket is: the configured one (``socket``, below) and only it; else the remote's
``$HEYHI_SOCKET``, then ``$XDG_RUNTIME_DIR/heyhi/daemon.sock``, then ``~/.heyhi/daemon.sock`` (the
remote environment is read once over the connection). When none answers, ``daemon_cmd`` (default
``heyhi-daemon start``) runs on the remote; it daemonizes, so the daemon outlives the SSH session,
and the client connects to the socket it reports.

Settings per host, later ones winning: ``~/.heyhi/remote.toml`` (``$HEYHI_REMOTE_CONFIG``)::

    daemon_cmd = "heyhi-daemon start"              # top-level keys: defaults for every host
    [hosts."login*.cluster.org"]                   # fnmatch on user@host:port, host:port, user@host, host
    daemon_cmd = "~/venvs/hh/bin/heyhi-daemon start"
    socket = "/scratch/me/heyhi/daemon.sock"       # a path on the remote (~ is the remote home)
    project = "~/code/myproject"                   # base of relative configs for heyhi run --remote
    known_hosts = "~/.ssh/known_hosts_cluster"     # default: ssh_config's, else ~/.ssh/known_hosts
    client_keys = ["~/.ssh/id_cluster"]            # default: the agent and ~/.ssh/id_*
    ssh_config = "~/.ssh/config"
    connect_timeout = 15                           # seconds
    reconnect_timeout = 120                        # seconds a follow keeps trying after a drop
    keepalive_interval = 15                        # seconds; a silent peer is dropped after 3

then ``$HEYHI_REMOTE_DAEMON_CMD`` and ``$HEYHI_REMOTE_SOCKET``, then the keyword arguments.

A dropped connection: ``request`` raises ``DaemonError("closed", ...)`` (one line); ``stream`` of a
``Logs`` request reconnects with backoff (a new SSH connection, up to ``reconnect_timeout``) and
resumes at the byte after the last ``LogChunk`` it yielded, so the caller sees no gap and no repeat.

asyncssh is imported when a connection is made, not when this module is imported.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import posixpath
import re
import shlex
import socket
import sys
import threading
import time
from dataclasses import dataclass, fields
from typing import Any, AsyncIterator, Callable, Iterator

from heyhi.wire.aclient import AsyncClient
from heyhi.wire.client import DEFAULT_TIMEOUT
from heyhi.wire.protocol import STREAMS, DaemonError, LogChunk, Logs, ProtocolMismatch, DaemonUnavailable, replace
import tomllib

CONFIG_ENV = "HEYHI_REMOTE_CONFIG"
DAEMON_CMD_ENV = "HEYHI_REMOTE_DAEMON_CMD"
SOCKET_ENV = "HEYHI_REMOTE_SOCKET"
DEFAULT_CONFIG = "~/.heyhi/remote.toml"
DEFAULT_DAEMON_CMD = "heyhi-daemon start"
DAEMON_START_TIMEOUT_S = 60.0
CLOSE_TIMEOUT_S = 3.0
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0

# on_event(kind, message): kind is "started" (the daemon was started on the remote), "lost" (a
# follow lost its connection and reconnects) or "resumed"; message is one line.
OnEvent = Callable[[str, str], None]


class RemoteError(DaemonError):
    """SSH could not reach the host, or the host could not reach or start its daemon."""

    exit_code = 255  # as ssh's own


class BadHost(RemoteError):
    """A host that is not ``[user@]host[:port]`` (a usage error)."""

    exit_code = 2


class _Permanent(RemoteError):
    """A failure reconnecting will not cure (host key, authentication, protocol)."""


# ---------------------------------------------------------------------------------------------
# The host and its settings


@dataclass(frozen=True)
class HostSpec:
    """``[user@]host[:port]`` (an IPv6 address in brackets when it has a port: ``[::1]:22``)."""

    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, spec: str) -> HostSpec:
        s = spec.strip()
        if not s or any(c.isspace() for c in s):
            raise BadHost("usage", f"bad remote host {spec!r}: expected [user@]host[:port]")
        user = None
        if "@" in s:
            user, s = s.rsplit("@", 1)
            if not user:
                raise BadHost("usage", f"bad remote host {spec!r}: empty user before @")
        port_text = None
        if s.startswith("["):
            end = s.find("]")
            if end < 0 or (s[end + 1:] and not s[end + 1:].startswith(":")):
                raise BadHost("usage", f"bad remote host {spec!r}: expected [address]:port")
            host, port_text = s[1:end], s[end + 2:] or None
        elif s.count(":") == 1:
            host, port_text = s.split(":")
        else:
            host = s  # a name, or a bare IPv6 address
        if not host:
            raise BadHost("usage", f"bad remote host {spec!r}: no host name")
        port = None
        if port_text is not None:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise BadHost("usage", f"bad remote host {spec!r}: port {port_text!r} is not 1-65535")
            port = int(port_text)
        return cls(host, user, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and self.port else self.host
        return (f"{self.user}@" if self.user else "") + host + (f":{self.port}" if self.port else "")

    def forms(self) -> list[str]:
        """The names a settings table may use for this host, most specific first."""
        out = [str(self)]
        if self.port:
            out.append(f"{self.host}:{self.port}")
        if self.user:
            out.append(f"{self.user}@{self.host}")
        out.append(self.host)
        return list(dict.fromkeys(out))


@dataclass
class RemoteSettings:
    daemon_cmd: str = DEFAULT_DAEMON_CMD
    socket: str | None = None
    project: str | None = None
    known_hosts: Any = None  # None: ssh_config's UserKnownHostsFile, else ~/.ssh/known_hosts
    client_keys: Any = None  # None: the agent and the default keys
    ssh_config: Any = None  # None: ~/.ssh/config
    connect_timeout: float = 15.0
    reconnect_timeout: float = 120.0
    keepalive_interval: float = 15.0


_SETTING_NAMES = {f.name for f in fields(RemoteSettings)}


def load_settings(spec: HostSpec, **overrides: Any) -> RemoteSettings:
    """The settings for ``spec``: remote.toml (defaults, then matching [hosts] tables in file
    order), then the environment, then ``overrides`` (None values ignored)."""
    s = RemoteSettings()
    path = os.path.expanduser(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    if os.path.isfile(path):
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise RemoteError("config", f"{path}: {e}") from None
        hosts = data.pop("hosts", {})
        _apply(s, data, f"{path}")
        if not isinstance(hosts, dict):
            raise RemoteError("config", f"{path}: [hosts] must be a table of host tables")
        forms = spec.forms()
        for pattern, table in hosts.items():
            if any(fnmatch.fnmatchcase(f, pattern) for f in forms):
                if not isinstance(table, dict):
                    raise RemoteError("config", f"{path}: hosts.{pattern!r} must be a table")
                _apply(s, table, f"{path} [hosts.{pattern!r}]")
    if os.environ.get(DAEMON_CMD_ENV):
        s.daemon_cmd = os.environ[DAEMON_CMD_ENV]
    if os.environ.get(SOCKET_ENV):
        s.socket = os.environ[SOCKET_ENV]
    _apply(s, {k: v for k, v in overrides.items() if v is not None}, "connect_remote")
    return s


def _apply(s: RemoteSettings, table: dict, where: str) -> None:
    for k, v in table.items():
        if k not in _SETTING_NAMES:
            raise RemoteError("config", f"{where}: unknown setting {k!r} (known: {', '.join(sorted(_SETTING_NAMES))})")
        setattr(s, k, v)


def _paths(v: Any) -> Any:
    """A local path or list of paths with ~ expanded (for asyncssh), or () for its default."""
    if v is None:
        return ()
    if isinstance(v, (list, tuple)):
        return [os.path.expanduser(str(x)) for x in v]
    return os.path.expanduser(str(v))


# ---------------------------------------------------------------------------------------------
# The SSH connection, shared by every channel of one client (and replaced on reconnect)


def _asyncssh():
    import asyncssh  # lean: asyncssh loads only when this runs

    return asyncssh


class _Session:
    def __init__(self, spec: HostSpec, settings: RemoteSettings, on_event: OnEvent | None):
        self.spec = spec
        self.label = str(spec)
        self.settings = settings
        self.on_event = on_event
        self.conn: Any = None
        self.generation = 0
        self.env: dict[str, str] | None = None
        self._lock = asyncio.Lock()
        self._lost_noted = -1

    def note(self, kind: str, message: str) -> None:
        if self.on_event is not None:
            self.on_event(kind, message)

    def note_lost(self, message: str) -> None:
        """Say once per SSH connection that it was lost (its channels all notice)."""
        if self._lost_noted != self.generation:
            self._lost_noted = self.generation
            self.note("lost", message)

    async def connect(self) -> None:
        ssh = _asyncssh()
        st = self.settings
        kw: dict[str, Any] = {
            "known_hosts": _paths(st.known_hosts),  # never None: None would turn checking off
            "client_keys": _paths(st.client_keys),
            "config": _paths(st.ssh_config),
            "connect_timeout": st.connect_timeout,
            "keepalive_interval": st.keepalive_interval,
            "keepalive_count_max": 3,
        }
        if self.spec.port:
            kw["port"] = self.spec.port
        if self.spec.user:
            kw["username"] = self.spec.user
        try:
            conn = await ssh.connect(self.spec.host, **kw)
        except ssh.HostKeyNotVerifiable as e:
            where = st.known_hosts or "ssh_config's UserKnownHostsFile or ~/.ssh/known_hosts"
            raise _Permanent("ssh", f"{self.label}: host key verification failed ({_reason(e)}); checked "
                                    f"against {where}; refusing to connect") from None
        except ssh.PermissionDenied as e:
            raise _Permanent("ssh", f"{self.label}: permission denied ({_reason(e)}): no key was accepted "
                                    f"(agent, ~/.ssh/config IdentityFile, client_keys)") from None
        except (asyncio.TimeoutError, TimeoutError):
            raise RemoteError("ssh", f"cannot connect to {self.label}: timed out after "
                                     f"{st.connect_timeout:g}s") from None
        except ssh.DisconnectError as e:
            raise RemoteError("ssh", f"cannot connect to {self.label}: {_reason(e)}") from None
        except ssh.Error as e:
            raise RemoteError("ssh", f"cannot connect to {self.label}: {_reason(e)}") from None
        except (ssh.KeyImportError, ssh.ConfigParseError) as e:
            raise _Permanent("ssh", f"{self.label}: {_reason(e)}") from None
        except OSError as e:
            if isinstance(e, socket.gaierror) or not e.errno or e.errno < 0:
                why = e.strerror or str(e)
            else:
                why = os.strerror(e.errno)
            where = f" ({e.filename})" if e.filename else ""
            raise RemoteError("ssh", f"cannot connect to {self.label}: {why}{where}") from None
        except ValueError as e:  # asyncssh's answer to bad arguments (a key file that is not a key)
            raise _Permanent("ssh", f"{self.label}: {e}") from None
        self.conn = conn
        self.generation += 1

    async def ensure(self, stale_generation: int | None = None) -> None:
        """A live SSH connection: the current one, unless it closed or is ``stale_generation``
        (a channel found it dead); another channel may have replaced it already."""
        async with self._lock:
            alive = self.conn is not None and not _is_closed(self.conn)
            if alive and (stale_generation is None or self.generation != stale_generation):
                return
            old, self.conn = self.conn, None
            if old is not None:
                old.abort()
            await self.connect()

    async def remote_env(self) -> dict[str, str]:
        """The remote login environment (read once): HOME, XDG_RUNTIME_DIR, HEYHI_SOCKET."""
        if self.env is None:
            r = await self._run("env", 30.0)
            if r.exit_status != 0:
                raise RemoteError("remote", f"{self.label}: `env` failed (exit {r.exit_status}): "
                                            f"{_last_line(r.stderr)}")
            env: dict[str, str] = {}
            for line in str(r.stdout).splitlines():
                k, eq, v = line.partition("=")
                if eq and k in ("HOME", "XDG_RUNTIME_DIR", "HEYHI_SOCKET") and k not in env:
                    env[k] = v
            if not env.get("HOME"):
                raise RemoteError("remote", f"{self.label}: the remote environment has no HOME")
            self.env = env
        return self.env

    async def expand(self, path: str) -> str:
        """``path`` on the remote with ~ expanded (the remote's home)."""
        if path == "~" or path.startswith("~/"):
            return (await self.remote_env())["HOME"] + path[1:]
        return path

    async def candidates(self) -> list[str]:
        if self.settings.socket:
            return [await self.expand(self.settings.socket)]
        env = await self.remote_env()
        out = []
        if env.get("HEYHI_SOCKET"):
            out.append(posixpath.join(env["HOME"], await self.expand(env["HEYHI_SOCKET"])))
        if env.get("XDG_RUNTIME_DIR"):
            out.append(posixpath.join(env["XDG_RUNTIME_DIR"], "heyhi", "daemon.sock"))
        out.append(posixpath.join(env["HOME"], ".heyhi", "daemon.sock"))
        return list(dict.fromkeys(out))

    async def open_stream(self, path: str) -> tuple[Any, Any] | None:
        """A forwarded stream to the remote unix socket ``path``; None when nothing listens."""
        ssh = _asyncssh()
        if self.conn is None:
            raise DaemonError("closed", f"the connection to {self.label} is closed")
        try:
            return await self.conn.open_unix_connection(path)
        except ssh.ChannelOpenError as e:
            if e.code == ssh.OPEN_ADMINISTRATIVELY_PROHIBITED:
                raise _Permanent("ssh", f"{self.label}: the sshd refuses to forward to a unix socket "
                                        f"({_reason(e)}): it needs AllowStreamLocalForwarding yes") from None
            return None  # connect failed: no such socket, or nothing listens on it
        except ssh.Error as e:
            raise DaemonError("closed", f"lost the connection to {self.label} ({_reason(e)})") from None
        except OSError as e:
            raise DaemonError("closed", f"lost the connection to {self.label} ({e})") from None

    async def start_daemon(self) -> tuple[str | None, str]:
        """Run ``daemon_cmd`` on the remote; the socket it reports (None if it names none) and the
        last line it printed."""
        cmd = self.settings.daemon_cmd
        if cmd.startswith("~/"):
            cmd = shlex.quote((await self.remote_env())["HOME"]) + cmd[1:]
        r = await self._run(cmd, DAEMON_START_TIMEOUT_S)
        out = f"{r.stdout or ''}\n{r.stderr or ''}"
        if r.exit_status != 0:
            raise RemoteError("unavailable", (
                f"no heyhi daemon answers on {self.label} and `{self.settings.daemon_cmd}` failed there "
                f"(exit {r.exit_status}: {_last_line(out) or 'no output'}); set daemon_cmd for this host "
                f"in {DEFAULT_CONFIG} or ${DAEMON_CMD_ENV}"))
        m = _REPORTED_SOCKET.search(out)
        return (m.group(1) if m else None), _last_line(out)

    async def _run(self, command: str, timeout: float) -> Any:
        ssh = _asyncssh()
        try:
            return await self.conn.run(command, check=False, timeout=timeout, stdin=ssh.DEVNULL)
        except ssh.TimeoutError:
            raise RemoteError("remote", f"{self.label}: `{command}` did not finish within {timeout:g}s") from None
        except ssh.Error as e:
            raise DaemonError("closed", f"lost the connection to {self.label} ({_reason(e)})") from None
        except OSError as e:
            raise DaemonError("closed", f"lost the connection to {self.label} ({e})") from None

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), CLOSE_TIMEOUT_S)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing: nothing to report
                conn.abort()


_REPORTED_SOCKET = re.compile(r"socket (/.+?)(?:, log |\))")


def _reason(e: BaseException) -> str:
    text = str(getattr(e, "reason", "") or e or type(e).__name__)
    return " ".join(text.split())


def _last_line(text: Any) -> str:
    lines = [x.strip() for x in str(text or "").splitlines() if x.strip()]
    return lines[-1] if lines else ""


def _is_closed(conn: Any) -> bool:
    return conn.is_closed() if hasattr(conn, "is_closed") else False


# ---------------------------------------------------------------------------------------------
# The client


class RemoteAsyncClient(AsyncClient):
    """An ``AsyncClient`` whose connection is a channel of an SSH connection to ``host``.

    ``socket_path`` reads ``HOST:PATH`` (for messages); ``remote_socket_path`` is the path on the
    remote. ``close()`` of the client ``connect_remote`` returned also closes the SSH connection;
    ``open_client()`` opens a second channel on it (for requests while a stream runs).
    """

    def __init__(self, reader: Any, writer: Any, session: _Session, remote_socket: str,
                 timeout: float | None, *, owner: bool, name: str):
        super().__init__(reader, writer, f"{session.label}:{remote_socket}", timeout)
        self._session = session
        self._owner = owner
        self._name = name
        self.host = session.spec
        self.remote_socket_path = remote_socket
        self.resume = True  # Logs streams reconnect and resume after a drop

    @property
    def settings(self) -> RemoteSettings:
        return self._session.settings

    async def remote_env(self) -> dict[str, str]:
        """HOME, XDG_RUNTIME_DIR and HEYHI_SOCKET of the remote login environment."""
        return await self._session.remote_env()

    async def remote_path(self, path: str, base: str | None = None) -> str:
        """``path`` on the remote made absolute: ~ is the remote home, relative is under ``base``
        (itself relative to the remote home; default: the remote home)."""
        path = await self._session.expand(path)
        if posixpath.isabs(path):
            return posixpath.normpath(path)
        home = (await self.remote_env())["HOME"]
        root = home if base is None else posixpath.join(home, await self._session.expand(base))
        return posixpath.normpath(posixpath.join(root, path))

    async def open_client(self, name: str | None = None) -> RemoteAsyncClient:
        """Another connection to the same daemon, as a channel of the same SSH connection."""
        pair = await self._session.open_stream(self.remote_socket_path)
        if pair is None:
            raise DaemonError("unavailable", f"no heyhi daemon at {self.socket_path} any more")
        return await _handshake(self._session, pair, self.remote_socket_path, self.timeout,
                                owner=False, name=name or self._name)

    # -- drops ----------------------------------------------------------------------------

    # AsyncClient's _send/_recv close the client when the connection fails; here that must drop only
    # this channel, so that the client can reconnect: the SSH connection is shared. ``_io_task`` tells
    # that close (in the task doing the I/O) from a caller's close (from another task, or after it).

    async def _send(self, msg: Any) -> None:
        self._io_task = asyncio.current_task()
        try:
            await super()._send(msg)
        except _asyncssh().Error as e:  # asyncssh's errors for a lost connection are not OSErrors
            await self._drop()
            raise DaemonError("closed", f"lost the connection to {self._session.label} ({_reason(e)})") from None
        finally:
            self._io_task = None

    async def _recv(self, timeout: float | None) -> Any:
        self._io_task = asyncio.current_task()
        try:
            return await super()._recv(timeout)
        except DaemonError as e:
            if e.code == "closed":
                raise DaemonError("closed", f"lost the connection to the daemon on {self._session.label} "
                                            f"({_dropped_why(self._session, e)})") from None
            raise
        except _asyncssh().Error as e:  # ConnectionLost and friends
            await self._drop()
            raise DaemonError("closed", f"lost the connection to {self._session.label} ({_reason(e)})") from None
        finally:
            self._io_task = None

    async def _drop(self) -> None:
        self._closed = True
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - the channel is gone already
            pass

    async def reconnect(self) -> None:
        """Replace this client's channel (and, if it died, the SSH connection) with a new one, with
        backoff for up to ``reconnect_timeout`` seconds; raises the last failure after that."""
        s = self._session
        deadline = time.monotonic() + s.settings.reconnect_timeout
        delay = BACKOFF_FIRST_S
        stale: int | None = None
        while True:
            try:
                await s.ensure(stale)
                stale = None
                try:
                    pair = await s.open_stream(self.remote_socket_path)
                except DaemonError as e:
                    if e.code == "closed":  # the SSH connection looked alive but is not
                        stale = s.generation
                    raise
                if pair is None:
                    raise DaemonError("unavailable", f"no heyhi daemon answers at {self.socket_path}")
                await self._drop()
                self._reader, self._writer = pair
                self._closed = False
                self.welcome = await self._handshake(self._name)
                return
            except (_Permanent, ProtocolMismatch):
                raise
            except DaemonError as e:
                if time.monotonic() + delay > deadline:
                    raise RemoteError(e.code, f"{e.message} (gave up reconnecting after "
                                              f"{s.settings.reconnect_timeout:g}s)") from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def request(self, msg: Any, *, retry: bool = False) -> Any:
        """As ``AsyncClient.request``; ``retry``: after a drop, reconnect and send ``msg`` again
        (only for requests that change nothing, such as ShowJob or ListJobs)."""
        try:
            return await super().request(msg)
        except DaemonError as e:
            if not (retry and e.code == "closed" and not self._closing):
                raise
            self._session.note_lost(f"{e.message}; reconnecting")
            await self.reconnect()
            self._session.note("resumed", f"reconnected to {self._session.label}")
            return await super().request(msg)

    _closing = False

    async def stream(self, msg: Any, *, timeout: float | None = None) -> AsyncIterator[Any]:
        """As ``AsyncClient.stream``; a ``Logs`` stream survives drops (see the module docstring)."""
        if not isinstance(msg, Logs) or not self.resume:
            async for item in super().stream(msg, timeout=timeout):
                yield item
            return
        req = msg
        while True:
            inner = super().stream(req, timeout=timeout)
            try:
                async for item in inner:
                    if isinstance(item, LogChunk):
                        req = replace(req, offset=item.offset + len(item.data), last_lines=None)
                    yield item
                return
            except DaemonError as e:
                if e.code != "closed" or self._closing:
                    raise
                at = f"byte {req.offset}" if req.offset is not None else "the start"
                self._session.note_lost(f"{e.message}; reconnecting")
                await self.reconnect()
                self._session.note("resumed", f"reconnected to {self._session.label}; resuming "
                                              f"{req.stream} of {req.job} at {at}")
            finally:
                await inner.aclose()

    _io_task: Any = None

    async def close(self) -> None:
        if self._io_task is not None and self._io_task is asyncio.current_task():
            # AsyncClient giving up on this channel after a failed read or write
            await self._drop()
            return
        self._closing = True
        try:
            await asyncio.wait_for(super().close(), CLOSE_TIMEOUT_S)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing: nothing to report
            self._closed = True
        if self._owner:
            await self._session.close()


def _dropped_why(session: _Session, e: DaemonError) -> str:
    if session.conn is None or _is_closed(session.conn):
        return "the SSH connection closed"
    return e.message.rsplit("(", 1)[-1].rstrip(")") if "(" in e.message else "the daemon closed the channel"


async def _handshake(session: _Session, pair: tuple[Any, Any], path: str, timeout: float | None, *,
                     owner: bool, name: str) -> RemoteAsyncClient:
    reader, writer = pair
    client = RemoteAsyncClient(reader, writer, session, path, timeout, owner=owner, name=name)
    try:
        client.welcome = await client._handshake(name)
    except BaseException:
        owner_was, client._owner = client._owner, False
        await client.close()
        client._owner = owner_was
        raise
    return client


async def connect_remote(
    host: str, *, known_hosts: Any = None, client_keys: Any = None, daemon_cmd: str | None = None,
    socket_path: str | None = None, ssh_config: Any = None, start_daemon: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT, connect_timeout: float | None = None,
    reconnect_timeout: float | None = None, name: str = "heyhi-remote", on_event: OnEvent | None = None,
) -> RemoteAsyncClient:
    """Connect to the daemon on ``host`` (``[user@]host[:port]``) over one SSH connection.

    Keyword arguments override the host's settings (see the module docstring); ``known_hosts`` and
    ``client_keys`` take what asyncssh takes (paths, or lists of them). ``start_daemon=False`` raises
    ``DaemonUnavailable`` instead of starting one. Errors are one line: ``RemoteError`` for SSH and
    for starting the daemon, ``DaemonError`` / ``ProtocolMismatch`` as ``AsyncClient.connect``.
    """
    spec = HostSpec.parse(host)
    settings = load_settings(spec, known_hosts=known_hosts, client_keys=client_keys, daemon_cmd=daemon_cmd,
                             socket=socket_path, ssh_config=ssh_config, connect_timeout=connect_timeout,
                             reconnect_timeout=reconnect_timeout)
    session = _Session(spec, settings, on_event)
    await session.connect()
    try:
        tried = await session.candidates()
        for path in tried:
            pair = await session.open_stream(path)
            if pair is not None:
                return await _handshake(session, pair, path, timeout, owner=True, name=name)
        where = ", ".join(tried)
        if not start_daemon:
            raise DaemonUnavailable("unavailable", f"no heyhi daemon on {session.label} (tried {where})")
        reported, said = await session.start_daemon()
        for path in ([reported] if reported else []) + tried:
            pair = await session.open_stream(path)
            if pair is not None:
                client = await _handshake(session, pair, path, timeout, owner=True, name=name)
                said = said.removeprefix("heyhi-daemon: ").removeprefix("started ")
                session.note("started", f"started the heyhi daemon on {session.label}" + (f" {said}" if said else ""))
                return client
        if reported:  # OpenSSH answers "open failed" both for no listener and for a refused forward
            raise RemoteError("unavailable", (
                f"the heyhi daemon on {session.label} listens at {reported}, but SSH cannot open that socket: "
                f"the host's sshd must allow unix-socket forwarding (AllowStreamLocalForwarding yes)"))
        raise RemoteError("unavailable", f"`{settings.daemon_cmd}` ran on {session.label} ({said or 'no output'}), "
                                         f"but no heyhi daemon answers at {where}")
    except BaseException:
        await session.close()
        raise


# ---------------------------------------------------------------------------------------------
# The blocking client: the async one, on an event loop in a background thread


class RemoteClient:
    """A ``heyhi.wire.client.Client`` look-alike over SSH (request, stream, close, welcome,
    socket_path, timeout; a context manager). Use one per thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread, aclient: RemoteAsyncClient):
        self._loop = loop
        self._thread = thread
        self._a = aclient
        self._closed = False

    @property
    def welcome(self):
        return self._a.welcome

    @property
    def socket_path(self) -> str:
        return self._a.socket_path

    @property
    def remote_socket_path(self) -> str:
        return self._a.remote_socket_path

    @property
    def host(self) -> HostSpec:
        return self._a.host

    @property
    def timeout(self) -> float | None:
        return self._a.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self._a.timeout = value

    @property
    def aclient(self) -> RemoteAsyncClient:
        return self._a

    def request(self, msg: Any, *, retry: bool = False) -> Any:
        """Send one request and return its answer; an ``Error`` answer raises ``DaemonError``."""
        if isinstance(msg, STREAMS):
            raise TypeError(f"{type(msg).__name__} is answered by a stream: use RemoteClient.stream()")
        return self._call(self._a.request(msg, retry=retry))

    def stream(self, msg: Any, *, timeout: float | None = None) -> Iterator[Any]:
        """As ``Client.stream``; a ``Logs`` stream reconnects and resumes after a drop."""
        agen = self._a.stream(msg, timeout=timeout)
        try:
            while True:
                try:
                    item = self._call(agen.__anext__())
                except StopAsyncIteration:
                    return
                yield item
        finally:
            if not self._closed:
                try:
                    self._call(agen.aclose())
                except DaemonError:
                    pass  # the stream's own error (if any) is the one to report

    def _call(self, coro: Any) -> Any:
        """Run ``coro`` on the loop and wait for it; Ctrl-C cancels it (bounded) and re-raises."""
        if self._closed:
            coro.close()
            raise DaemonError("closed", f"the connection to {self.socket_path} is closed")
        return _run_on(self._loop, coro)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            _run_on(self._loop, _shutdown(self._a))
        finally:
            _stop_loop(self._loop, self._thread)

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run_on(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    done = threading.Event()
    box: dict[str, Any] = {}

    def start() -> None:
        task = box["task"] = loop.create_task(coro)
        task.add_done_callback(lambda _t: done.set())

    loop.call_soon_threadsafe(start)
    try:
        done.wait()
    except KeyboardInterrupt:
        loop.call_soon_threadsafe(lambda: box["task"].cancel())
        done.wait(CLOSE_TIMEOUT_S)
        raise
    return box["task"].result()


async def _shutdown(aclient: RemoteAsyncClient | None) -> None:
    if aclient is not None:
        await aclient.close()
    me = asyncio.current_task()
    rest = [t for t in asyncio.all_tasks() if t is not me]
    for t in rest:
        t.cancel()
    if rest:
        await asyncio.wait(rest, timeout=CLOSE_TIMEOUT_S)


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(CLOSE_TIMEOUT_S)
    if not thread.is_alive():
        loop.close()


def _print_event(kind: str, message: str) -> None:
    print(f"heyhi: {message}", file=sys.stderr, flush=True)


def connect_remote_blocking(host: str, *, on_event: OnEvent | None = _print_event, **kw: Any) -> RemoteClient:
    """``connect_remote`` for blocking code: the same arguments; notes (daemon started, connection
    lost and resumed) go to stderr unless ``on_event`` says otherwise."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=f"heyhi-remote {host}", daemon=True)
    thread.start()
    try:
        aclient = _run_on(loop, connect_remote(host, on_event=on_event, **kw))
    except BaseException:
        try:
            _run_on(loop, _shutdown(None))
        finally:
            _stop_loop(loop, thread)
        raise
    return RemoteClient(loop, thread, aclient)

