"""Daemon round-trip speed: a real daemon on a temporary socket, the real blocking client.

1. 10,000 sequential pings on one connection: p50 / p99 round trip (target: p99 < 1 ms).
2. 50 concurrent clients pinging: requests per second (target: >= 20,000 req/s).
3. What ``heyhi ctl status`` costs as a whole process: ``python -c "import heyhi.wire.client; one ping"``
   against ``python -c pass``, interleaved, medians (target: < 2.5x).

    .venv/bin/python bench/daemon.py [--pings N] [--clients N] [--seconds S] [--runs N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from heyhi.wire.client import Client
from heyhi.wire.protocol import Ping, Pong, Validate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_daemon(sock: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "heyhi_daemon.main", "start", "--foreground", "--socket", sock],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    if not select.select([proc.stdout], [], [], 30)[0] or b"listening" not in proc.stdout.readline():
        proc.kill()
        raise SystemExit("bench: the daemon did not start")
    return proc


def sequential(sock: str, n: int) -> list[float]:
    times = []
    with Client(sock) as c:
        for _ in range(200):  # warm up
            c.request(Ping())
        for _ in range(n):
            t = time.perf_counter()
            c.request(Ping())
            times.append(time.perf_counter() - t)
    return times


def _client_worker(sock: str, threads: int, start_at: float, stop_at: float, out) -> None:
    """One process running ``threads`` blocking clients, each pinging in a loop."""
    counts = [0] * threads

    def loop(i: int) -> None:
        with Client(sock) as c:
            while time.time() < start_at:
                c.request(Ping())
            n = 0
            while time.time() < stop_at:
                c.request(Ping())
                n += 1
            counts[i] = n

    ts = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put(sum(counts))


def concurrent(sock: str, clients: int, seconds: float) -> float:
    """Requests per second with ``clients`` connections, spread over a few client processes."""
    procs_n = min(clients, max(2, os.cpu_count() or 2))
    per = [clients // procs_n + (i < clients % procs_n) for i in range(procs_n)]
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 1.0  # everyone connected and warm by then
    stop_at = start_at + seconds
    procs = [ctx.Process(target=_client_worker, args=(sock, k, start_at, stop_at, out)) for k in per]
    for p in procs:
        p.start()
    total = sum(out.get(timeout=seconds + 60) for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def validate_times(sock: str, n: int) -> list[float]:
    """Validate round trips on the demo config, the override value new each time (the TUI's
    live validation)."""
    times = []
    cfg = os.path.join(REPO, "conf", "c02_sup_train", "sl.prototxt")
    with Client(sock) as c:
        for i in range(n + 20):
            t = time.perf_counter()
            r = c.request(Validate(project_root=REPO, results_root=None, config=cfg,
                                   overrides=[f"lr=0.{i + 1}", "seed=3", "Ilauncher=slurm_cpu"]))
            if i >= 20:
                times.append(time.perf_counter() - t)
            assert r.ok, r.errors
    return times


def ctl_status_cost(sock: str, runs: int, pycache: str) -> tuple[list[float], list[float]]:
    """Whole-process ``heyhi ctl status`` (output piped) against ``python -c pass``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    env["HEYHI_SOCKET"] = sock
    heyhi = os.path.join(os.path.dirname(sys.executable), "heyhi")

    def once(argv) -> float:
        t = time.perf_counter()
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t

    once([sys.executable, "-c", "pass"]), once([heyhi, "ctl", "status"])
    bare, ctl = [], []
    for _ in range(runs):
        bare.append(once([sys.executable, "-c", "pass"]))
        ctl.append(once([heyhi, "ctl", "status"]))
    return bare, ctl


def process_cost(sock: str, runs: int, pycache: str) -> tuple[list[float], list[float]]:
    """Times of ``python -c pass`` and of a one-ping client process, with byte-code caching on
    (as an installed heyhi has it), the .pyc files kept in ``pycache``, out of the source tree."""
    ping = (f"import heyhi.wire.client as c, heyhi.wire.protocol as p; "
            f"x = c.Client({sock!r}); assert isinstance(x.request(p.Ping()), p.Pong)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache

    def once(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        return time.perf_counter() - t

    once("pass"), once(ping)  # warm the page cache and the .pyc files
    bare, client = [], []
    for _ in range(runs):
        bare.append(once("pass"))
        client.append(once(ping))
    return bare, client


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pings", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="heyhi-bench-")
    sock = os.path.join(tmp, "run", "daemon.sock")
    daemon = start_daemon(sock)
    try:
        with Client(sock) as c:
            assert isinstance(c.request(Ping()), Pong)
        times = sorted(sequential(sock, args.pings))
        p50 = times[len(times) // 2] * 1e3
        p99 = times[int(len(times) * 0.99)] * 1e3
        p999 = times[int(len(times) * 0.999)] * 1e3
        rps = concurrent(sock, args.clients, args.seconds)
        bare, client = process_cost(sock, args.runs, os.path.join(tmp, "pycache"))
        vtimes = sorted(validate_times(sock, 200))
        sbare, sctl = ctl_status_cost(sock, args.runs, os.path.join(tmp, "pycache"))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)

    ratio = statistics.median(client) / statistics.median(bare)
    best_ratio = min(client) / min(bare)
    print(f"daemon round trip ({args.pings} sequential pings, one connection, blocking client)")
    print(f"  p50 {p50:.3f} ms   p99 {p99:.3f} ms   p99.9 {p999:.3f} ms   "
          f"target p99 < 1 ms: {'ok' if p99 < 1 else 'MISSED'}")
    print(f"throughput ({args.clients} concurrent clients, {args.seconds:g} s)")
    print(f"  {rps:,.0f} req/s   target >= 20,000 req/s: {'ok' if rps >= 20_000 else 'MISSED'}")
    print(f"whole process, {args.runs} runs each, interleaved (median; best)")
    print(f"  python -c pass {statistics.median(bare) * 1e3:.1f} ms; {min(bare) * 1e3:.1f} ms   "
          f"import heyhi.wire.client + one ping {statistics.median(client) * 1e3:.1f} ms; "
          f"{min(client) * 1e3:.1f} ms")
    print(f"  ratio {ratio:.2f}x; {best_ratio:.2f}x   target < 2.5x: "
          f"{'ok' if ratio < 2.5 else 'MISSED'}")
    print(f"validate round trip on the demo config (200 calls, new override value each)")
    print(f"  p50 {vtimes[len(vtimes) // 2] * 1e3:.2f} ms   p99 {vtimes[int(len(vtimes) * 0.99)] * 1e3:.2f} ms")
    sratio = statistics.median(sctl) / statistics.median(sbare)
    print(f"whole process `heyhi ctl status` (piped) vs `python -c pass`, {args.runs} runs each, interleaved")
    print(f"  heyhi ctl status {statistics.median(sctl) * 1e3:.1f} ms   python -c pass "
          f"{statistics.median(sbare) * 1e3:.1f} ms   ratio {sratio:.2f}x   target <= 2.5x: "
          f"{'ok' if sratio <= 2.5 else 'MISSED'}")
    print(f"  (machine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
