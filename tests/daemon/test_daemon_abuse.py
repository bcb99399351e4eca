"""The daemon under abuse: no request can stall it, grow it without bound, or kill it.

One real daemon (the real core) runs for the whole module under ``prlimit --as=4G``, so that a
regression fails a test instead of exhausting the machine. A well-behaved ``Pinger`` pings it
throughout and a sampler watches its RSS; after every test the daemon is alive, every ping was
answered within 1 s, and its RSS stayed under 300 MB. The daemon's idle timeout is short here
(``IDLE_S``) so that cutting idle clients takes a second, not 30.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgpack
import pytest
from daemon_util import Pinger, alive, daemon_env, raw_connect, read_line, recv_all
from waiting import wait_for

from heyhi.wire.client import Client
from heyhi.wire.framing import MAX_FRAME, encode_frame, recv_frame, send_frame
from heyhi.wire.protocol import (
    BAD_FRAME,
    BAD_REQUEST,
    IDLE_TIMEOUT,
    REQUESTS,
    DaemonError,
    Error,
    FileData,
    Logs,
    Ok,
    Ping,
    Pong,
    ReadFile,
    ListDir,
    Subscribe,
    Unsubscribe,
    Validate,
    ValidateResult,
    from_wire,
    to_wire,
)
from heyhi.wire import limits

REPO = Path(__file__).resolve().parents[2]
PROBE = "conf/probe/probe.prototxt"
IDLE_S = 1.5  # the daemon's idle timeout in this module
MAX_RSS = 300 << 20
MAX_LATENCY_S = 1.0
AS_LIMIT = 4 << 30


class RssSampler(threading.Thread):
    """The peak RSS of process ``pid``, sampled every 10 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True, name="rss")
        self.pid = pid
        self.peak = 0
        self._halt = threading.Event()

    def rss(self) -> int:
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while not self._halt.wait(0.01):
            self.peak = max(self.peak, self.rss())

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


class Daemon:
    def __init__(self, tmp: Path):
        self.dir = tmp
        self.socket = tmp / "s" / "d.sock"
        self.stderr_path = tmp / "daemon.stderr"
        env = daemon_env(tmp)
        env["HH_EXP_DIR"] = str(tmp / "results")
        argv = ["prlimit", f"--as={AS_LIMIT}", sys.executable, "-m", "heyhi_daemon.main", "start",
                "--foreground", "--socket", str(self.socket), "--hello-timeout", "2",
                "--idle-timeout", str(IDLE_S)]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env, cwd=REPO)
        line = read_line(self.proc, 30)
        assert "listening on" in line, f"daemon did not come up: {line!r}\n{self.stderr()}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:  # e.g. a worker thread stuck in a FIFO's open()
                self.proc.kill()
                self.proc.wait(15)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = Daemon(Path(tmp_path_factory.mktemp("abuse")))
    d.pinger = Pinger(d.socket)
    d.rss = RssSampler(d.proc.pid)
    d.pinger.start()
    d.rss.start()
    assert d.pinger.wait_for_more(5), d.pinger.failures
    d.figures = []
    yield d
    d.pinger.stop()
    d.rss.stop()
    d.stop()
    print("\n" + "\n".join(d.figures))


@pytest.fixture(autouse=True)
def healthy(daemon, request):
    """After each test: alive, every ping answered within 1 s, RSS under 300 MB (the figures are
    printed at the end of the module: ``pytest -s``)."""
    with daemon.pinger._cond:
        daemon.pinger.max_latency = 0.0
    daemon.rss.peak = daemon.rss.rss()
    yield
    daemon.figures.append(f"{request.node.name}: slowest ping {daemon.pinger.max_latency * 1000:.0f} ms, "
                          f"peak RSS {daemon.rss.peak / (1 << 20):.0f} MB")
    assert daemon.proc.poll() is None and alive(daemon.proc.pid), daemon.stderr()[-2000:]
    assert daemon.pinger.wait_for_more(5), daemon.pinger.failures
    assert daemon.pinger.max_latency < MAX_LATENCY_S, f"a ping took {daemon.pinger.max_latency:.2f}s"
    assert daemon.rss.peak < MAX_RSS, f"the daemon's RSS reached {daemon.rss.peak >> 20} MB"


@pytest.fixture
def proj(tmp_path):
    import shutil

    dst = tmp_path / "proj"
    shutil.copytree(REPO / "tests" / "project", dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def validate(proj: Path, config: str | Path, overrides=(), *, results_root: str = "/tmp/hh-abuse") -> Validate:
    return Validate(project_root=str(proj), results_root=results_root, config=str(config), overrides=list(overrides))


def bad_request(c: Client, req) -> str:
    with pytest.raises(DaemonError) as e:
        c.request(req) if not isinstance(req, (Logs, Subscribe)) else list(c.stream(req, timeout=10))
    assert e.value.code == BAD_REQUEST, e.value
    assert "\n" not in e.value.message
    return e.value.message


# ---------------------------------------------------------------------------------------------
# Configs that are not files


def _config_error(reply, path: Path | str) -> str:
    assert isinstance(reply, ValidateResult) and not reply.ok, reply
    [err] = reply.errors
    assert err.index == -1 and str(path) in err.message and "\n" not in err.message, err
    return err.message


def test_dev_zero_as_config_is_refused_in_one_line(daemon, proj):
    with Client(str(daemon.socket), timeout=10) as c:
        _config_error(c.request(validate(proj, "/dev/zero")), "/dev/zero")


def test_fifos_as_configs_never_block_the_daemon(daemon, proj, tmp_path):
    """More FIFO configs at once than the daemon has worker threads: each is refused, and a good
    config is still validated."""
    fifos = [tmp_path / f"cfg{i}.prototxt" for i in range(8)]
    for f in fifos:
        os.mkfifo(f)
    replies: dict[int, object] = {}

    def ask(i: int) -> None:
        try:
            with Client(str(daemon.socket), timeout=10) as c:
                replies[i] = c.request(validate(proj, fifos[i]))
        except Exception as e:  # noqa: BLE001 - asserted below
            replies[i] = e

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(fifos))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        for i, f in enumerate(fifos):
            _config_error(replies.get(i), f)
        with Client(str(daemon.socket), timeout=10) as c:
            assert c.request(validate(proj, proj / PROBE)).ok
    finally:
        for f in fifos:  # release a reader stuck in open() (the bug), so the daemon can stop
            try:
                os.close(os.open(f, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Lengths, offsets and counts


def test_read_file_lengths_and_offsets_are_checked(daemon, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(limits.MAX_READ_LENGTH + (1 << 20))
    with Client(str(daemon.socket), timeout=10) as c:
        for field, value in [("length", -1), ("length", limits.MAX_READ_LENGTH + 1), ("length", 1 << 62),
                             ("offset", -1), ("offset", 1 << 63), ("offset", (1 << 64) - 1)]:
            msg = bad_request(c, ReadFile(path=str(big), **{field: value}))
            assert f"{field}: {value} is out of range" in msg
        whole = c.request(ReadFile(path=str(big), length=limits.MAX_READ_LENGTH))
        assert isinstance(whole, FileData) and len(whole.data) == limits.MAX_READ_LENGTH
        assert whole.size == limits.MAX_READ_LENGTH + (1 << 20)
        assert "offset: -5 is out of range" in bad_request(c, Logs(job="x", offset=-5))
        assert "last_lines: -1 is out of range" in bad_request(c, Logs(job="x", last_lines=-1))


def test_read_file_refuses_devices_and_fifos_without_reading(daemon, tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    try:
        with Client(str(daemon.socket), timeout=10) as c:
            for _ in range(8):  # more than the daemon's worker threads
                assert "not a regular file (a FIFO)" in bad_request(c, ReadFile(path=str(fifo)))
            assert "not a regular file (a character device)" in bad_request(c, ReadFile(path="/dev/zero"))
            assert isinstance(c.request(ReadFile(path=str(REPO / "README.md"), length=10)), FileData)
    finally:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


@pytest.fixture
def fast_dir(tmp_path):
    """A fresh folder on tmpfs (/dev/shm) when there is one: creating 60,000 files there is quick."""
    import shutil
    import tempfile

    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else str(tmp_path)
    d = Path(tempfile.mkdtemp(prefix="hh-abuse-", dir=base))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_a_huge_folder_lists_a_bounded_number_of_entries(daemon, fast_dir):
    """60,000 names of 255 characters would make a reply over the 16 MiB frame limit (an
    ``internal`` error, and a log line of the whole reply); the listing is bounded instead."""
    stem = "x" * 249
    for i in range(60_000):
        os.close(os.open(fast_dir / f"{stem}{i:06d}", os.O_CREAT | os.O_WRONLY, 0o600))
    with Client(str(daemon.socket), timeout=30) as c:
        listing = c.request(ListDir(path=str(fast_dir)))
    assert len(listing.entries) == limits.MAX_DIR_ENTRIES
    names = [e.name for e in listing.entries]
    assert names == sorted(names)


def _junk_frame(fields: dict, size: int) -> bytes:
    """A frame of ``size`` body bytes: ``fields`` plus ``overrides``, a list of 1s (built by hand:
    packing millions of items would stall this process, pinger included)."""
    fields = {k: v for k, v in fields.items() if k != "overrides"}
    head = msgpack.packb({**fields, "overrides": []})  # a map ending with the empty list 0x90
    assert head.endswith(b"\x90") and head[0] & 0xF0 == 0x80
    n = size - (len(head) - 1) - 5
    body = head[:-1] + b"\xdd" + struct.pack(">I", n) + b"\x01" * n
    assert len(body) == size
    return struct.pack(">I", size) + body


def test_a_1mib_frame_of_junk_overrides_is_refused_at_once(daemon, proj):
    fields = to_wire(validate(proj, proj / PROBE))
    frame = _junk_frame(fields, limits.MAX_REQUEST_FRAME)
    assert len(frame) - 4 <= limits.MAX_REQUEST_FRAME
    with raw_connect(daemon.socket) as s:
        t = time.monotonic()
        s.sendall(frame)
        reply = from_wire(recv_frame(s))
        took = time.monotonic() - t
        assert isinstance(reply, Error) and reply.code == BAD_REQUEST, reply
        assert reply.message.startswith("bad validate request: overrides: ")
        assert f"items, at most {limits.MAX_OVERRIDES}" in reply.message
        assert took < MAX_LATENCY_S
        send_frame(s, to_wire(Ping()))  # the connection goes on
        assert isinstance(from_wire(recv_frame(s)), Pong)
        # one junk item among few: named, without a pydantic error per item
        send_frame(s, {**fields, "overrides": ["a=1", 2, "b=3"]})
        reply = from_wire(recv_frame(s))
        assert reply.code == BAD_REQUEST and "overrides[1]: a int, expected a string" in reply.message


def test_a_16mib_frame_is_refused_on_its_header(daemon, proj):
    frame = _junk_frame(to_wire(validate(proj, proj / PROBE)), MAX_FRAME)
    with raw_connect(daemon.socket) as s:
        sender = threading.Thread(target=_send_ignoring_close, args=(s, frame), daemon=True)
        sender.start()
        replies = recv_all(s)
        sender.join(10)
    assert [r.code for r in replies] == [BAD_FRAME]
    assert f"exceeds the maximum of {limits.MAX_REQUEST_FRAME}" in replies[0].message


def _send_ignoring_close(s: socket.socket, data: bytes) -> None:
    try:
        s.sendall(data)
    except OSError:
        pass  # the daemon refused the frame and closed


def test_strings_beyond_the_limit_are_refused(daemon, proj):
    with Client(str(daemon.socket), timeout=10) as c:
        msg = bad_request(c, validate(proj, "x" * (limits.MAX_STRING + 1)))
        assert f"config: {limits.MAX_STRING + 1} characters, at most {limits.MAX_STRING}" in msg
        msg = bad_request(c, validate(proj, proj / PROBE, ["a=" + "x" * limits.MAX_STRING]))
        assert "overrides[0]" in msg and f"at most {limits.MAX_STRING}" in msg
        msg = bad_request(c, Subscribe(filters={f"k{i}": "v" for i in range(limits.MAX_ITEMS + 1)}))
        assert f"filters: {limits.MAX_ITEMS + 1} items, at most {limits.MAX_ITEMS}" in msg


def test_validating_many_bad_overrides_is_linear(daemon, proj):
    """3,000 bad overrides: each checked once and the config composed once (recomposing once per
    bad override took about 50 s)."""
    n = 3000
    overrides = [f"marker.sub{i}=1" for i in range(n)] + ["lines=3"]
    with Client(str(daemon.socket), timeout=30) as c:
        t = time.monotonic()
        v = c.request(validate(proj, proj / PROBE, overrides))
        took = time.monotonic() - t
    assert not v.ok and [e.index for e in v.errors] == list(range(n))
    assert v.errors[7].key == "marker.sub7" and "no field 'sub7'" in v.errors[7].message
    assert took < 5.0, f"validating {n} bad overrides took {took:.1f}s"


def test_request_lists_and_maps_hold_strings_only():
    """The size check refuses any non-string item of a request's list or map field: true of every
    request today; a new request with another item type must extend ``validate._check_sizes``."""
    import typing

    from heyhi.wire.protocol import field_types

    for cls in REQUESTS:
        for name, hint in field_types(cls).items():
            origin = typing.get_origin(hint)
            if origin in (list, dict, tuple):
                assert all(a is str for a in typing.get_args(hint)), (cls.__name__, name, hint)
                assert name in ("overrides", "filters"), (cls.__name__, name)


# ---------------------------------------------------------------------------------------------
# Connections


_CLIENTS = r"""
import json, socket, sys, threading, time
from heyhi.wire.client import Client
from heyhi.wire.framing import recv_frame, send_frame
from heyhi.wire.protocol import PROTOCOL_VERSION, Hello, Ping, Pong, Welcome, from_wire, to_wire
sock, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
threading.stack_size(256 * 1024)
barrier = threading.Barrier(n)
failures, latencies, held = [], [], []
lock = threading.Lock()
def work():
    barrier.wait()
    t = time.monotonic()
    try:
        if mode == "ping":  # the real client, as the CLI uses it
            with Client(sock, timeout=30) as c:
                assert isinstance(c.request(Ping()), Pong)
        else:  # said Hello, then nothing
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(30)
            s.connect(sock)
            send_frame(s, to_wire(Hello(protocol=PROTOCOL_VERSION, client="idle")))
            assert isinstance(from_wire(recv_frame(s)), Welcome)
            with lock:
                held.append(s)
    except Exception as e:
        with lock:
            failures.append(f"{type(e).__name__}: {e}")
    with lock:
        latencies.append(time.monotonic() - t)
threads = [threading.Thread(target=work) for _ in range(n)]
for t in threads: t.start()
for t in threads: t.join(120)
print(json.dumps({"failures": failures, "done": len(latencies), "max": max(latencies)}), flush=True)
if mode == "idle":  # what the daemon says to each, unprompted, and then the end of the connection
    said = []
    deadline = time.monotonic() + 20  # the idle timeout is far shorter
    for s in held:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            said.append([from_wire(recv_frame(s)).message, recv_frame(s)])
        except Exception as e:
            said.append([f"{type(e).__name__}: {e}", None])
    print(json.dumps({"said": said}), flush=True)
"""


def _clients(daemon, n: int, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _CLIENTS, str(daemon.socket), str(n), mode],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)


def test_1000_concurrent_clients_all_succeed(daemon):
    """1,000 clients connect at once (more than asyncio's default backlog of 100): none fails."""
    proc = _clients(daemon, 1000, "ping")
    out, _ = proc.communicate(timeout=120)
    result = json.loads(out)
    assert result["done"] == 1000 and result["failures"] == [], result["failures"][:5]


def test_idle_clients_after_hello_are_closed(daemon):
    """100 clients (another process) that said Hello and then nothing are closed after the idle
    timeout, told why; a connection of a process that runs a stream is kept until the stream ends."""
    proc = _clients(daemon, 100, "idle")
    try:
        first = json.loads(proc.stdout.readline())
        assert first["failures"] == [] and first["done"] == 100
        with raw_connect(daemon.socket) as watcher, raw_connect(daemon.socket) as idle_here:
            send_frame(watcher, to_wire(Subscribe()))  # a stream in this process, as a TUI runs
            said = json.loads(proc.stdout.readline())["said"]  # bounded: the subprocess's 30 s timeout
            assert len(said) == 100
            for message, end in said:
                assert message.startswith(f"no request within {IDLE_S:g}s: the connection is closed"), message
                assert end is None  # and then the connection ended
            idle_here.settimeout(1.5 * IDLE_S)
            with pytest.raises(socket.timeout):  # nothing arrives: kept while the stream runs
                recv_frame(idle_here)
            watcher.settimeout(10)
            send_frame(watcher, to_wire(Unsubscribe()))
            while not isinstance(reply := from_wire(recv_frame(watcher)), (Ok, Error)):
                pass
            assert reply == Ok("unsubscribed")
            idle_here.settimeout(10 + 2 * IDLE_S)
            [cut] = recv_all(idle_here)  # the stream ended: now idle_here is cut too
            assert cut.code == IDLE_TIMEOUT
    finally:
        proc.kill()
        proc.wait(10)


def test_a_client_cut_while_idle_connects_again_for_its_next_request(daemon):
    """A y/N question that takes longer than the idle timeout must not lose the request after it:
    the blocking client sees the daemon's closing and connects again before sending."""
    from heyhi.wire.client import Client

    with Client(str(daemon.socket)) as c:
        assert isinstance(c.request(Ping()), Pong)
        first = c._sock
        wait_for(lambda: c._cut_while_idle(), timeout=10 + 2 * IDLE_S, what="the daemon to cut the idle client")
        assert isinstance(c.request(Ping()), Pong)
        assert c._sock is not first


def test_log_lines_are_bounded(daemon):
    """After everything above, no log line carries a message body."""
    text = daemon.stderr()
    for line in text.splitlines():
        assert len(line) <= limits.MAX_LOG_RECORD + 100, line[:200]
    assert len(text) < 256 * 1024
