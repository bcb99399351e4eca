"""The daemon through SSH beside the daemon on its local socket: one daemon, reached both ways.

1. Ping round trips, p50 / p99 over N sequential pings on one connection: the local blocking client
   (``heyhi.wire.client.Client``), the remote blocking client (``connect_remote_blocking``: an event loop
   in a thread, a channel of one SSH connection forwarded to the daemon's unix socket) and the remote
   async client (``connect_remote``, no thread hop).
2. Connecting: SSH handshake + forwarded channel + Hello, in-process (median of R).
3. Whole process ``heyhi ctl --remote HOST status`` (start to answer, output piped) beside
   ``heyhi ctl status`` on the local socket and ``python -c pass``, interleaved, medians.

Without ``--host`` it starts a throwaway sshd on 127.0.0.1 (``tests/ssh_util.py``; needs root) and a
daemon on a temporary socket; ``--host [user@]host[:port]`` uses yours (its settings: remote.toml,
~/.ssh/config) and the daemon that host's settings find.

    .venv/bin/python bench/remote.py [--pings 1000] [--runs 15] [--host HOST]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from heyhi.wire.client import Client  # noqa: E402
from heyhi.wire.protocol import Ping, Pong  # noqa: E402
from heyhi.wire.remote import connect_remote, connect_remote_blocking  # noqa: E402

BIN = Path(sys.executable).parent


def start_daemon(sock: str, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen([str(BIN / "heyhi-daemon"), "start", "--foreground", "--socket", sock],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    if not select.select([proc.stdout], [], [], 30)[0] or b"listening" not in proc.stdout.readline():
        proc.kill()
        raise SystemExit("bench: the daemon did not start")
    return proc


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * q))] * 1e3


def pings_blocking(client, n: int) -> list[float]:
    for _ in range(100):
        client.request(Ping())
    out = []
    for _ in range(n):
        t = time.perf_counter()
        assert isinstance(client.request(Ping()), Pong)
        out.append(time.perf_counter() - t)
    return out


async def pings_async(host: str, n: int) -> list[float]:
    c = await connect_remote(host)
    async with c:
        for _ in range(100):
            await c.request(Ping())
        out = []
        for _ in range(n):
            t = time.perf_counter()
            assert isinstance(await c.request(Ping()), Pong)
            out.append(time.perf_counter() - t)
    return out


async def connect_times(host: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        c = await connect_remote(host)
        out.append(time.perf_counter() - t)
        await c.close()
    return out


def whole_process(host: str, local_sock: str | None, runs: int, env: dict) -> dict[str, list[float]]:
    heyhi = str(BIN / "heyhi")
    cmds = {"python -c pass": [sys.executable, "-c", "pass"],
            "heyhi ctl --remote HOST status": [heyhi, "ctl", "--remote", host, "status"]}
    if local_sock:
        cmds["heyhi ctl status (local socket)"] = [heyhi, "ctl", "status"]
    penv = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if local_sock:
        penv["HEYHI_SOCKET"] = local_sock

    def once(argv) -> float:
        t = time.perf_counter()
        p = subprocess.run(argv, env=penv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        dt = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv)} failed: {p.stderr.decode(errors='replace').strip()}")
        return dt

    out: dict[str, list[float]] = {k: [] for k in cmds}
    for argv in cmds.values():
        once(argv)  # warm
    names = list(cmds)
    for r in range(runs):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            out[name].append(once(cmds[name]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pings", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--host", default=None, help="[user@]host[:port] (default: a throwaway sshd on 127.0.0.1)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hhb", dir="/tmp"))
    sshd = daemon = None
    env = dict(os.environ)
    local_sock = None
    try:
        if args.host:
            host = args.host
        else:
            import pytest  # ssh_util skips through pytest when no sshd can be had

            from ssh_util import start_sshd

            try:
                sshd = start_sshd(tmp / "ssh")
            except (pytest.skip.Exception, pytest.fail.Exception) as e:
                print(f"bench/remote.py: skipped: {e.msg} (or give --host HOST)")
                return 0
            host = sshd.spec()
            local_sock = str(tmp / "s" / "d.sock")
            denv = dict(env, HEYHI_STATE_DIR=str(tmp / "state"), HH_EXP_DIR=str(tmp / "results"))
            daemon = start_daemon(local_sock, denv)
            toml = tmp / "remote.toml"
            toml.write_text(f'[hosts."127.0.0.1"]\n{_kv("known_hosts", str(sshd.known_hosts))}'
                            f'{_kv("client_keys", [str(sshd.user_key)])}{_kv("socket", local_sock)}'
                            f'{_kv("daemon_cmd", "false")}')
            env["HEYHI_REMOTE_CONFIG"] = os.environ["HEYHI_REMOTE_CONFIG"] = str(toml)

        with connect_remote_blocking(host) as rc:
            remote_sock = rc.remote_socket_path
            remote = pings_blocking(rc, args.pings)
        aremote = asyncio.run(pings_async(host, args.pings))
        local = None
        if local_sock:
            with Client(local_sock) as c:
                local = pings_blocking(c, args.pings)
        conn = asyncio.run(connect_times(host, args.runs))
        procs = whole_process(host, local_sock, args.runs, env)
    finally:
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
        if sshd is not None:
            sshd.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"Ping round trip, {args.pings} sequential pings on one connection (ms)")
    if local is not None:
        print(f"  local socket, blocking Client          p50 {pct(local, .5):.3f}   p99 {pct(local, .99):.3f}")
    print(f"  through SSH, connect_remote_blocking   p50 {pct(remote, .5):.3f}   p99 {pct(remote, .99):.3f}")
    print(f"  through SSH, connect_remote (asyncio)  p50 {pct(aremote, .5):.3f}   p99 {pct(aremote, .99):.3f}")
    print(f"  ({host}, remote socket {remote_sock})")
    print(f"connect (SSH handshake + forwarded channel + Hello), in-process, {args.runs} runs: "
          f"median {statistics.median(conn) * 1e3:.1f} ms, best {min(conn) * 1e3:.1f} ms")
    print(f"whole process, start to answer, {args.runs} runs each, interleaved (median; best; ms)")
    for name, xs in procs.items():
        print(f"  {name:<34} {statistics.median(xs) * 1e3:7.1f}; {min(xs) * 1e3:7.1f}")
    print(f"  (machine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f})")
    return 0


def _kv(key: str, value) -> str:
    return f"{key} = {json.dumps(value)}\n"


if __name__ == "__main__":
    sys.exit(main())
