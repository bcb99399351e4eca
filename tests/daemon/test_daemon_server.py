"""The daemon for real: processes on sockets under tmp_path, talked to with the real clients.

The first group shares one daemon and one well-behaved ``Pinger`` client; every misbehaving client
asserts that the pinger kept getting pongs meanwhile. The second group starts a daemon per test to
check its lifecycle: permissions, signals, start/stop/status, peer credentials.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import msgpack
import pytest
from daemon_util import DaemonProcess, Pinger, alive, raw_connect, recv_all, run_cli

import heyhi
from heyhi.wire.aclient import AsyncClient
from heyhi.wire.client import Client, connect_or_none
from heyhi.wire.framing import MAX_FRAME, encode_frame, recv_frame, send_frame
from heyhi.wire.protocol import (
    BAD_FRAME,
    BAD_REQUEST,
    FORBIDDEN,
    HELLO_TIMEOUT,
    NOT_IMPLEMENTED,
    PROTOCOL,
    PROTOCOL_VERSION,
    SHUTTING_DOWN,
    DaemonError,
    Error,
    Hello,
    JobEvent,
    ListJobs,
    LogChunk,
    Logs,
    Ok,
    Ping,
    Pong,
    ProtocolMismatch,
    Shutdown,
    Subscribe,
    Unsubscribe,
    Validate,
    Welcome,
    from_wire,
    to_wire,
)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One daemon (with the test StreamCore) and a pinger that runs through the whole group."""
    sock = tmp_path_factory.mktemp("shared") / "run" / "daemon.sock"
    daemon = DaemonProcess.start(sock, hello_timeout=0.5, test_core=True)
    pinger = Pinger(sock)
    pinger.start()
    assert pinger.wait_for_more(5), pinger.failures
    yield daemon, pinger
    pinger.stop()
    daemon.stop()
    assert not pinger.failures


@pytest.fixture
def sock(shared):
    return shared[0].socket


@pytest.fixture
def pinger(shared):
    p = shared[1]
    yield p
    assert p.wait_for_more(3), f"the well-behaved client stopped getting pongs: {p.failures}"


# ---------------------------------------------------------------------------------------------
# One shared daemon


def test_handshake(shared):
    daemon, _ = shared
    with Client(str(daemon.socket)) as c:
        w = c.welcome
    assert w == Welcome(daemon_version=heyhi.__version__, protocol=PROTOCOL_VERSION,
                        pid=daemon.pid, started=w.started)
    assert 0 < time.time() - w.started < 600


def test_ping(sock, pinger):
    with Client(str(sock)) as c:
        for _ in range(100):
            assert isinstance(c.request(Ping()), Pong)


def test_version_mismatch_gets_a_protocol_error_and_is_closed(sock, pinger):
    with raw_connect(sock, hello=False) as s:
        send_frame(s, to_wire(Hello(protocol=PROTOCOL_VERSION + 1, client="future")))
        [reply] = recv_all(s)
    assert reply.code == PROTOCOL
    assert f"speaks protocol {PROTOCOL_VERSION}, the client speaks {PROTOCOL_VERSION + 1}" in reply.message
    assert "\n" not in reply.message


def test_a_hello_of_another_shape_still_gets_the_version_error(sock, pinger):
    with raw_connect(sock, hello=False) as s:
        send_frame(s, {"kind": "hello", "protocol": PROTOCOL_VERSION + 1, "features": ["x"]})
        [reply] = recv_all(s)
    assert reply.code == PROTOCOL


def test_first_message_must_be_hello(sock, pinger):
    with raw_connect(sock, hello=False) as s:
        send_frame(s, to_wire(Ping()))
        [reply] = recv_all(s)
    assert reply.code == PROTOCOL and "must be Hello" in reply.message


@pytest.mark.parametrize("after_hello", [False, True], ids=["before-hello", "after-hello"])
@pytest.mark.parametrize("data", [
    pytest.param(struct.pack(">I", 3) + b"\xc1\xc1\xc1", id="not-msgpack"),
    pytest.param(struct.pack(">I", 2) + b"\x92\x01", id="truncated-msgpack"),
    pytest.param(struct.pack(">I", MAX_FRAME + 1), id="oversized-header-no-body"),
    pytest.param(b"\xff\xff\xff\xff", id="4GiB-header"),
])
def test_bad_frames_get_an_error_and_are_closed(sock, pinger, data, after_hello):
    with raw_connect(sock, hello=after_hello) as s:
        s.sendall(data)  # and then nothing: an oversized frame is refused on its header alone
        replies = recv_all(s)
    assert [type(r) for r in replies] == [Error]
    assert replies[0].code == BAD_FRAME


def test_a_bad_request_keeps_the_connection(sock, pinger):
    with raw_connect(sock) as s:
        for bad in ({"kind": "nope"}, [1, 2], {"kind": "logs", "job": 3}, {"kind": "hello", "protocol": 1}):
            send_frame(s, bad)
            reply = from_wire(recv_frame(s))
            assert reply.code == BAD_REQUEST, reply
            assert "\n" not in reply.message
        send_frame(s, to_wire(Ping()))
        assert isinstance(from_wire(recv_frame(s)), Pong)


def test_a_silent_client_is_dropped_while_others_are_served(sock, pinger):
    t0 = time.monotonic()
    with raw_connect(sock, hello=False) as s:  # connects, says nothing
        assert pinger.wait_for_more(20)
        replies = recv_all(s)
    assert time.monotonic() - t0 >= 0.4  # the bound is 0.5 s
    assert [r.code for r in replies] == [HELLO_TIMEOUT]


def test_a_client_that_connects_and_closes_at_once(sock, pinger):
    for _ in range(20):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock))
        with raw_connect(sock) as s:
            s.shutdown(socket.SHUT_RDWR)


def test_not_implemented_until_the_core_serves_it(sock, pinger):
    with Client(str(sock)) as c:
        with pytest.raises(DaemonError) as e:
            c.request(ListJobs())
        assert e.value.code == NOT_IMPLEMENTED
        with pytest.raises(DaemonError) as e:
            c.request(Validate("/p", None, "conf/a.prototxt"))
        assert e.value.code == NOT_IMPLEMENTED
        assert isinstance(c.request(Ping()), Pong)


def test_stream_carries_offsets_and_ends_with_ok(sock, pinger):
    with Client(str(sock)) as c:
        chunks = list(c.stream(Logs("j1", "stderr"), timeout=10))
        resumed = list(c.stream(Logs("j1", offset=100), timeout=10))
    assert all(isinstance(ch, LogChunk) for ch in chunks)
    offset = 0
    for ch in chunks:
        assert ch.offset == offset
        offset += len(ch.data)
    assert chunks[-1].eof and not any(ch.eof for ch in chunks[:-1])
    assert resumed[0].offset == 100


def test_unsubscribe_ends_the_stream_and_the_connection_goes_on(sock, pinger):
    with Client(str(sock)) as c:
        events = c.stream(Subscribe(), timeout=10)
        first = next(events)
        assert isinstance(first, JobEvent) and first.job.state == "subscribed"
        events.close()  # sends Unsubscribe, reads up to the closing Ok
        assert isinstance(c.request(Ping()), Pong)


def test_a_request_during_a_stream_ends_it_with_an_error(sock, pinger):
    with raw_connect(sock) as s:
        send_frame(s, to_wire(Subscribe()))
        assert isinstance(from_wire(recv_frame(s)), JobEvent)
        send_frame(s, to_wire(Ping()))
        reply = from_wire(recv_frame(s))
        assert reply.code == BAD_REQUEST and "only Unsubscribe" in reply.message
        send_frame(s, to_wire(Unsubscribe()))  # no stream now: a plain Ok
        assert from_wire(recv_frame(s)) == Ok("no stream is running")


def test_a_client_that_disconnects_mid_stream_is_cleaned_up(sock, pinger):
    with Client(str(sock)) as watcher:
        events = watcher.stream(Subscribe(), timeout=10)
        assert next(events).job.state == "subscribed"
        follower = raw_connect(sock)
        send_frame(follower, to_wire(Logs("gone", follow=True)))
        assert isinstance(from_wire(recv_frame(follower)), LogChunk)
        assert next(events).job.state == "following"
        follower.close()  # mid-stream, without Unsubscribe
        ev = next(events)
        assert (ev.job.job_id, ev.job.state) == ("gone", "closed")  # the core's stream was closed
        assert pinger.wait_for_more(5)
        events.close()


def test_a_client_that_never_reads_its_stream_does_not_block_others(sock, pinger):
    with raw_connect(sock) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for i in range(200):
            send_frame(s, to_wire(Logs(f"j{i}", follow=False)))  # never reads the answers
        assert pinger.wait_for_more(20)


def test_many_clients_at_once(sock, pinger):
    errors: list[str] = []

    def work() -> None:
        try:
            with Client(str(sock)) as c:
                for _ in range(200):
                    assert isinstance(c.request(Ping()), Pong)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=work) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors


async def test_async_client(sock, pinger):
    async with await AsyncClient.connect(str(sock)) as c:
        assert c.welcome.protocol == PROTOCOL_VERSION
        assert isinstance(await c.request(Ping()), Pong)
        chunks = [ch async for ch in c.stream(Logs("a"), timeout=10)]
        assert chunks[-1].eof
        async for ev in c.stream(Subscribe(), timeout=10):
            assert ev.job.state == "subscribed"
            await c.unsubscribe()
        assert isinstance(await c.request(Ping()), Pong)
        with pytest.raises(DaemonError) as e:
            await c.request(ListJobs())
        assert e.value.code == NOT_IMPLEMENTED


def test_connect_or_none_is_quick_when_nobody_listens(tmp_path):
    t0 = time.monotonic()
    assert connect_or_none(str(tmp_path / "none.sock")) is None
    stale = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()  # the file stays, nobody listens
    assert connect_or_none(str(stale)) is None
    assert time.monotonic() - t0 < 0.5


@pytest.mark.parametrize("answer", [
    pytest.param(Welcome(daemon_version="0.0.1", protocol=0, pid=42, started=0.0), id="welcome"),
    pytest.param(Error(PROTOCOL, "the daemon speaks protocol 0"), id="error"),
])
def test_client_reports_an_old_daemon_in_one_line(tmp_path, answer):
    """An old daemon (here a stand-in thread speaking protocol 0) meets this client."""
    path = tmp_path / "old.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()

    def old_daemon() -> None:
        conn, _ = server.accept()
        with conn:
            assert recv_frame(conn)["kind"] == "hello"
            send_frame(conn, to_wire(answer))

    t = threading.Thread(target=old_daemon)
    t.start()
    with pytest.raises(ProtocolMismatch) as e:
        Client(str(path), timeout=10)
    t.join(10)
    server.close()
    message = str(e.value)
    assert "\n" not in message and str(path) in message and "protocol 0" in message


# ---------------------------------------------------------------------------------------------
# A daemon per test: lifecycle


@pytest.fixture
def daemon(tmp_path):
    d = DaemonProcess.start(tmp_path / "run" / "daemon.sock")
    yield d
    d.stop()


def test_socket_and_folder_permissions(daemon):
    assert os.stat(daemon.socket.parent).st_mode & 0o777 == 0o700
    assert os.stat(daemon.socket).st_mode & 0o777 == 0o600
    assert os.stat(daemon.pid_path).st_mode & 0o777 == 0o600
    assert daemon.pid_path.read_text().strip() == str(daemon.pid)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_removes_socket_and_pid_file(daemon, sig):
    daemon.proc.send_signal(sig)
    assert daemon.wait() == 0
    assert not daemon.socket.exists()
    assert not daemon.pid_path.exists()
    assert "stopped" in daemon.stderr()


def test_shutdown_replies_ok_then_stops(daemon):
    with Client(str(daemon.socket)) as c:
        assert isinstance(c.request(Shutdown()), Ok)
    assert daemon.wait() == 0
    assert not daemon.socket.exists() and not daemon.pid_path.exists()


def test_shutdown_ends_running_streams_with_an_error(tmp_path):
    d = DaemonProcess.start(tmp_path / "run" / "daemon.sock", test_core=True)
    try:
        with Client(str(d.socket)) as c:
            chunks = c.stream(Logs("j", follow=True), timeout=20)
            next(chunks)
            d.proc.send_signal(signal.SIGTERM)
            with pytest.raises(DaemonError) as e:
                list(chunks)
            assert e.value.code == SHUTTING_DOWN
        assert d.wait() == 0
        assert not d.socket.exists()
    finally:
        d.stop()


@pytest.mark.parametrize("foreground", [True, False], ids=["foreground", "background"])
def test_second_start_says_already_running(tmp_path, daemon, foreground):
    out = run_cli(tmp_path, "start", "--socket", str(daemon.socket), *(["--foreground"] * foreground))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"heyhi-daemon: already running (pid {daemon.pid}, socket {daemon.socket})"
    assert daemon.proc.poll() is None


def test_start_while_the_pid_file_is_locked_says_already_running(tmp_path):
    """The race: another daemon holds the pid file but does not answer on the socket yet."""
    import fcntl

    sock = tmp_path / "run" / "daemon.sock"
    sock.parent.mkdir(mode=0o700)
    with open(sock.with_suffix(".pid"), "w") as f:
        f.write("4242\n")
        f.flush()
        fcntl.flock(f, fcntl.LOCK_EX)
        out = run_cli(tmp_path, "start", "--foreground", "--socket", str(sock))
    assert out.returncode == 0, out.stderr
    assert f"already running (pid 4242, socket {sock})" in out.stdout


def test_stale_socket_and_pid_file_are_replaced(tmp_path):
    sock = tmp_path / "run" / "daemon.sock"
    sock.parent.mkdir(mode=0o700)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    s.close()  # a socket file nobody listens on, as a killed daemon leaves it
    sock.with_suffix(".pid").write_text("999999\n")
    d = DaemonProcess.start(sock)
    try:
        with Client(str(sock)) as c:
            assert c.welcome.pid == d.pid
        assert sock.with_suffix(".pid").read_text().strip() == str(d.pid)
    finally:
        d.stop()


def test_start_status_stop_in_the_background(tmp_path):
    sock = tmp_path / "run" / "daemon.sock"
    pid = None
    try:
        out = run_cli(tmp_path, "start", "--socket", str(sock))
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("heyhi-daemon: started (pid ")
        pid = int(sock.with_suffix(".pid").read_text())
        assert alive(pid)
        with Client(str(sock)) as c:
            assert c.welcome.pid == pid

        out = run_cli(tmp_path, "status", "--socket", str(sock))
        assert out.returncode == 0
        assert f"pid      {pid}" in out.stdout and f"socket   {sock}" in out.stdout
        assert f"version  {heyhi.__version__} (protocol {PROTOCOL_VERSION})" in out.stdout
        assert "uptime" in out.stdout

        out = run_cli(tmp_path, "stop", "--socket", str(sock))
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"heyhi-daemon: stopped (pid {pid})"
        assert not alive(pid)
        assert not sock.exists() and not sock.with_suffix(".pid").exists()
        assert "listening on" in sock.with_suffix(".log").read_text()

        out = run_cli(tmp_path, "status", "--socket", str(sock))
        assert out.returncode == 1
        assert out.stdout.strip() == f"heyhi-daemon: not running (socket {sock})"
        assert run_cli(tmp_path, "stop", "--socket", str(sock)).returncode == 0
    finally:
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)


def _other_user() -> tuple[int, int]:
    """uid and gid of a second local user (created if missing); skip (fail under CI) if we can't."""
    def unavailable(reason: str):
        if IN_CI:
            pytest.fail(f"CI must run the peer-credential test: {reason}")
        pytest.skip(reason)

    if os.geteuid() != 0:
        unavailable("needs root to create and become a second user")
    try:
        pw = pwd.getpwnam("heyhi_other")
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            unavailable("useradd is not installed")
        subprocess.run([useradd, "-M", "heyhi_other"], check=True, capture_output=True)
        pw = pwd.getpwnam("heyhi_other")
    return pw.pw_uid, pw.pw_gid


def test_another_user_is_refused(tmp_path):
    uid, gid = _other_user()
    # For this test only, a socket folder the other user can reach (pytest's tmp_path sits in a
    # 0700 folder), so that its connect() gets as far as the daemon's SO_PEERCRED check.
    run_dir = tempfile.mkdtemp(prefix="heyhi-peercred-")
    os.chmod(run_dir, 0o755)
    d = DaemonProcess.start(Path(run_dir) / "daemon.sock", stderr_dir=tmp_path)
    try:
        os.chmod(d.socket, 0o666)  # let the other user's connect() through to the SO_PEERCRED check
        hello = encode_frame(to_wire(Hello(protocol=PROTOCOL_VERSION, client="intruder")))
        r, w = os.pipe()
        child = os.fork()
        if child == 0:  # the subprocess, running as the other user
            try:
                os.close(r)
                os.setgid(gid)
                os.setuid(uid)
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(10)
                s.connect(str(d.socket))
                s.sendall(hello)
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                os.write(w, b"OK" + data)
            except BaseException as e:  # noqa: BLE001
                os.write(w, b"EX" + repr(e).encode())
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            got = f.read()
        os.waitpid(child, 0)
        assert got.startswith(b"OK"), got
        data = got[2:]
        length = struct.unpack(">I", data[:4])[0]
        reply = from_wire(msgpack.unpackb(data[4:4 + length], raw=False))
        assert reply.code == FORBIDDEN and f"not uid {uid}" in reply.message
        assert len(data) == 4 + length  # and nothing else: the connection was closed
        with Client(str(d.socket)) as c:  # our own uid is still served
            assert isinstance(c.request(Ping()), Pong)
        assert f"refused a connection from uid {uid}" in d.stderr()
    finally:
        d.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
