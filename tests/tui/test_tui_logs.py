"""The log pane under load: keys are answered within 0.5 s while 50,000 lines a second stream into
the followed log, and every line is shown, with no gap and no repeat. (The 2,000,000-line flood,
search over the whole file and opening a big log on its last lines: test_tui_logpane.py.)"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from tui_util import PROBE_CONFIG, daemon, probe_project, tui_env, until  # noqa: F401

from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi_tui.screens.logs import LogsScreen

pytestmark = pytest.mark.timeout(120)

RATE = 50_000  # lines per second
SECONDS = 3.0
BATCH_S = 0.02
KEY_BOUND_S = 0.5


def line(i: int) -> str:
    return f"line {i:07d} the quick brown fox"


def start_waiting_probe(sock: Path, proj: Path, release: Path, tag: str) -> P.Launched:
    with Client(str(sock)) as c:
        return c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                  config=str(proj / PROBE_CONFIG), overrides=[f"release={release}", f"tag={tag}"]))


class Writer(threading.Thread):
    """Appends ``RATE`` lines a second to ``path`` for ``SECONDS``, paced by the clock."""

    def __init__(self, path: Path, first: int):
        super().__init__(daemon=True)
        self.path = path
        self.first = first
        self.total = int(RATE * SECONDS)
        self.started = self.ended = 0.0

    def run(self) -> None:
        per_batch = int(RATE * BATCH_S)
        with open(self.path, "a") as fh:
            self.started = time.perf_counter()
            written = 0
            while written < self.total:
                n = min(per_batch, self.total - written)
                fh.write("".join(line(self.first + written + k) + "\n" for k in range(n)))
                fh.flush()
                written += n
                due = self.started + written / RATE
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)  # pacing the writer at RATE (not a wait in the test)
            self.ended = time.perf_counter()


async def open_log(pilot, app, jid: str) -> LogsScreen:
    await until(pilot, lambda: app.link_state.connected and app.jobs.get(jid) and app.jobs[jid].state == "running",
                30, "the probe running")
    app.show_logs(jid)
    return await until(pilot, lambda: isinstance(app.screen, LogsScreen) and app.screen, what="the log screen")


async def key_latency(app, key: str, flipped) -> float:
    """Send one key as the terminal would and wait (polling, bounded) until the app acted on it."""
    t = time.perf_counter()
    app.simulate_key(key)
    while not flipped():
        if time.perf_counter() - t > 5:
            raise AssertionError(f"key {key!r} not handled within 5 s")
        await asyncio.sleep(0.002)
    return time.perf_counter() - t


async def test_keys_answered_while_50k_lines_a_second_stream_in(daemon, probe_project, tui_env, tmp_path):
    release = tmp_path / "release"
    job = start_waiting_probe(daemon.socket, probe_project, release, "flood")
    stdout = Path(job.run_dir) / "stdout.log"
    app = tui_env.app(probe_project)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            logs = await open_log(pilot, app, job.job_id)
            pane = logs.pane
            log = pane.log_widget
            with open(stdout, "a") as fh:
                fh.write("ready\n")
            await until(pilot, lambda: log.lines and log.lines[-1] == "ready", what="the stream open")

            writer = Writer(stdout, 0)
            writer.start()
            latencies = []
            while writer.is_alive():
                want = not pane.following
                latencies.append(await key_latency(app, "f", lambda: pane.following == want))
                await asyncio.sleep(0.05)  # a user's pace between key presses
            writer.join()
            rate = writer.total / (writer.ended - writer.started)
            assert rate >= RATE * 0.9, f"the writer managed only {rate:.0f} lines/s"
            await until(pilot, lambda: log.line_count >= writer.total + 1, 20, "every line shown")
            caught_up = time.perf_counter() - writer.ended

            assert len(latencies) >= 10, latencies
            assert max(latencies) < KEY_BOUND_S, f"slowest key {max(latencies):.3f}s: {sorted(latencies)[-5:]}"
            assert log.line_count == writer.total + 1
            assert list(log.lines[1:4]) == [line(0), line(1), line(2)]
            assert log.lines[writer.total] == line(writer.total - 1)  # no gap, no repeat
            assert caught_up < 3.0, f"the log pane fell {caught_up:.1f}s behind"
            print(f"\nwriter {rate:,.0f} lines/s; keys: median {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms, "
                  f"max {max(latencies) * 1000:.0f} ms over {len(latencies)}; caught up {caught_up:.2f}s after")
    finally:
        release.touch()
