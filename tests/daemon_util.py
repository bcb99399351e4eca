"""Test helpers: real daemon processes on sockets under tmp_path, talked to with the real clients.

``DaemonProcess.start(sock)`` runs ``python -m heyhi_daemon.main start --foreground --socket SOCK``
and returns once the daemon printed its "listening" line and answered a Ping (bounded waits, no
sleeps). ``test_core=True`` runs this file as the script instead, which calls the same
``heyhi_daemon.main.main`` with ``StreamCore``: a core whose streams the tests can drive (the real
core lives elsewhere). ``Pinger`` is a well-behaved client pinging in a thread, to show that other
clients' misbehaviour never disturbs it.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator

HERE = Path(__file__).resolve().parent
READY_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 20.0


class DaemonProcess:
    def __init__(self, sock: Path, proc: subprocess.Popen, stderr_path: Path):
        self.socket = sock
        self.proc = proc
        self.stderr_path = stderr_path

    @classmethod
    def start(
        cls, sock: Path, *, hello_timeout: float = 0.5, test_core: bool = False,
        stderr_dir: Path | None = None,
    ) -> DaemonProcess:
        """The daemon's stderr goes to a file in ``stderr_dir`` (default: the socket's grandparent)."""
        assert len(str(sock)) < 100, f"socket path too long for AF_UNIX: {sock}"
        script = [str(HERE / "daemon_util.py")] if test_core else ["-m", "heyhi_daemon.main"]
        argv = [sys.executable, *script, "start", "--foreground", "--socket", str(sock),
                "--hello-timeout", str(hello_timeout)]
        stderr_path = (stderr_dir or sock.parent.parent) / f"{sock.parent.name}-{sock.stem}.stderr"
        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                    env=daemon_env(stderr_path.parent))
        daemon = cls(sock, proc, stderr_path)
        try:
            daemon._wait_ready()
        except BaseException:
            daemon.stop()
            raise
        return daemon

    def _wait_ready(self) -> None:
        line = read_line(self.proc, READY_TIMEOUT_S)
        assert "listening on" in line, f"daemon did not come up: {line!r}\n{self.stderr()}"
        from heyhi.wire.client import Client
        from heyhi.wire.protocol import Ping

        with Client(str(self.socket), timeout=10) as c:
            c.request(Ping())

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def pid_path(self) -> Path:
        return self.socket.with_suffix(".pid")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait(self, timeout: float = EXIT_TIMEOUT_S) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(EXIT_TIMEOUT_S)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """One line of ``proc``'s stdout, waiting at most ``timeout`` seconds ("" if it exits)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return ""
    return proc.stdout.readline().decode(errors="replace")


def daemon_env(tmp: Path) -> dict[str, str]:
    """The environment for a daemon or CLI under test: its state in ``tmp``, never in ~/.heyhi."""
    env = dict(os.environ)
    env["HEYHI_STATE_DIR"] = str(tmp / "daemon-state")
    env.pop("HEYHI_SOCKET", None)
    return env


def run_cli(tmp: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """``heyhi-daemon ARGS`` as a user runs it (with its state in ``tmp``)."""
    return subprocess.run(
        [sys.executable, "-m", "heyhi_daemon.main", *args], capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL, env=daemon_env(tmp),
    )


def alive(pid: int) -> bool:
    """Is ``pid`` running (a zombie is not)?"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def raw_connect(sock: Path, *, hello: bool = True, timeout: float = 10.0) -> socket.socket:
    """A bare socket to the daemon (handshake done if ``hello``), for sending bad bytes."""
    from heyhi.wire.framing import recv_frame, send_frame
    from heyhi.wire.protocol import PROTOCOL_VERSION, Hello, Welcome, from_wire, to_wire

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(sock))
    if hello:
        send_frame(s, to_wire(Hello(protocol=PROTOCOL_VERSION, client="raw test")))
        assert isinstance(from_wire(recv_frame(s)), Welcome)
    return s


def recv_all(s: socket.socket) -> list[Any]:
    """Every message until the daemon closes the connection (bounded by the socket timeout)."""
    from heyhi.wire.framing import recv_frame
    from heyhi.wire.protocol import from_wire

    out = []
    while (frame := recv_frame(s)) is not None:
        out.append(from_wire(frame))
    return out


class Pinger(threading.Thread):
    """A well-behaved client pinging on one connection until stopped; counts pongs and failures."""

    def __init__(self, sock: Path):
        super().__init__(daemon=True, name="pinger")
        self.sock = sock
        self.count = 0
        self.failures: list[str] = []
        self.max_latency = 0.0
        self._cond = threading.Condition()
        self._halt = threading.Event()

    def run(self) -> None:
        from heyhi.wire.client import Client
        from heyhi.wire.protocol import Ping, Pong

        try:
            with Client(str(self.sock), timeout=5) as c:
                while not self._halt.is_set():
                    t = time.perf_counter()
                    reply = c.request(Ping())
                    latency = time.perf_counter() - t
                    assert isinstance(reply, Pong), reply
                    with self._cond:
                        self.count += 1
                        self.max_latency = max(self.max_latency, latency)
                        self._cond.notify_all()
                    self._halt.wait(0.002)  # pace, so the pinger does not hog a core
        except Exception as e:  # noqa: BLE001 - recorded for the tests to assert on
            with self._cond:
                self.failures.append(f"{type(e).__name__}: {e}")
                self._cond.notify_all()

    def wait_for_more(self, n: int, timeout: float = 20.0) -> bool:
        """Wait until ``n`` more pongs arrived (False on a failure or the timeout)."""
        with self._cond:
            target = self.count + n
            self._cond.wait_for(lambda: self.count >= target or self.failures, timeout)
            return self.count >= target and not self.failures

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


# ---------------------------------------------------------------------------------------------
# StreamCore: run as a script, this file is a daemon whose streams the tests can drive.


def _stream_core() -> Any:
    from heyhi.wire.protocol import JobEvent, JobInfo, LogChunk
    from heyhi_daemon.server import NotReadyCore

    class StreamCore(NotReadyCore):
        """``Logs`` yields three chunks (then an eof chunk, or with ``follow`` waits until the server
        cancels it); ``Subscribe`` starts with a "subscribed" event, then reports each follower
        starting ("following") and being cleaned up ("closed")."""

        def __init__(self) -> None:
            self._queues: set[asyncio.Queue] = set()

        def _publish(self, job: str, state: str) -> None:
            for q in self._queues:
                q.put_nowait(JobInfo(job_id=job, run_dir="", config="", state=state))

        async def logs(self, req: Any) -> AsyncIterator[Any]:
            offset = req.offset or 0
            for i in range(3):
                data = f"{req.job} {req.stream} line {i}\n".encode()
                yield LogChunk(job=req.job, stream=req.stream, offset=offset, data=data)
                offset += len(data)
            if not req.follow:
                yield LogChunk(job=req.job, stream=req.stream, offset=offset, data=b"", eof=True)
                return
            self._publish(req.job, "following")
            try:
                await asyncio.Event().wait()  # a job that never writes again
            finally:
                self._publish(req.job, "closed")

        async def subscribe(self, req: Any) -> AsyncIterator[Any]:
            q: asyncio.Queue = asyncio.Queue()
            self._queues.add(q)
            try:
                yield JobEvent(job=JobInfo(job_id="", run_dir="", config="", state="subscribed"))
                while True:
                    yield JobEvent(job=await q.get())
            finally:
                self._queues.discard(q)

    return StreamCore()


if __name__ == "__main__":
    from heyhi_daemon.main import main

    sys.exit(main(sys.argv[1:], core=_stream_core()))
