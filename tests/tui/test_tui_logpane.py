"""The log pane against a real daemon: a 2,000,000-line flood followed to its last line with keys
answered throughout, scrolling up pauses and G resumes at the true end, search over the whole file
finds lines outside what the pane holds, a crashed job opens on its stderr, the status says what is
true after a stream switch, and real ML output (tqdm's \\r bars, ANSI colours, a 1 MB line) shows."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from tui_util import PROBE_CONFIG, daemon, probe_project, screen_text, tui_env, until  # noqa: F401

from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi_tui.screens.logs import LogsScreen
from heyhi_tui.widgets import logs as L

pytestmark = pytest.mark.timeout(180)

FLOOD = 2_000_000
KEY_BOUND_S = 1.0  # every key answered within this while the flood streams in (p95 printed)
CATCH_UP_S = 30.0  # the bounded wait for the last line after the writer stops (the bench times it)

# Makes its lines, says so, then on a line on stdin writes them as fast as the disk takes them.
WRITER = r'''
import os, sys, time
path, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = (b"line %08d the quick brown fox\n" * n) % tuple(range(first, first + n))
print("made", flush=True)
sys.stdin.readline()
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
t = time.time()
for start in range(0, len(data), 1 << 20):
    os.write(fd, data[start:start + (1 << 20)])
print(repr((t, time.time())), flush=True)
'''


async def writer(path: Path, first: int, n: int) -> asyncio.subprocess.Process:
    """The writer of lines ``first`` .. ``first + n - 1``, started (making its lines meanwhile)."""
    return await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, str(path), str(first), str(n),
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)


async def write_now(proc: asyncio.subprocess.Process) -> asyncio.Future:
    """Let the writer go once its lines are made; the future gives (its start, its end)."""
    assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"made"
    proc.stdin.write(b"go\n")
    await proc.stdin.drain()

    async def times() -> tuple[float, float]:
        out = await proc.stdout.readline()
        await proc.wait()
        return eval(out.decode())  # noqa: S307 - our writer's repr

    return asyncio.ensure_future(times())


def line(i: int) -> str:
    return f"line {i:08d} the quick brown fox"


def launch(sock: Path, proj: Path, *overrides: str) -> P.Launched:
    with Client(str(sock)) as c:
        return c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                  config=str(proj / PROBE_CONFIG), overrides=list(overrides)))


async def open_log(pilot, app, jid: str, state: str = "running") -> LogsScreen:
    await until(pilot, lambda: app.link_state.connected and app.jobs.get(jid) and app.jobs[jid].state == state,
                30, f"the probe {state}")
    app.show_logs(jid)
    return await until(pilot, lambda: isinstance(app.screen, LogsScreen) and app.screen.pane.is_mounted
                       and app.screen, what="the log screen")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


async def key(pilot, app, name: str, done, bound: float = KEY_BOUND_S) -> float:
    """Press ``name`` as the terminal would; the time until ``done()`` (bounded)."""
    t = time.perf_counter()
    app.simulate_key(name)
    while not done():
        if time.perf_counter() - t > bound:
            raise AssertionError(f"key {name!r} not answered within {bound}s\n{screen_text(app)}")
        await asyncio.sleep(0.002)
    return time.perf_counter() - t


async def test_a_2m_line_flood_is_followed_to_its_last_line(daemon, probe_project, tui_env, tmp_path):
    release = tmp_path / "release"
    job = launch(daemon.socket, probe_project, f"release={release}", "tag=flood")
    stdout = Path(job.run_dir) / "stdout.log"
    flood, more = await writer(stdout, 0, FLOOD), await writer(stdout, FLOOD, 1000)
    app = tui_env.app(probe_project)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            logs = await open_log(pilot, app, job.job_id)
            pane, log = logs.pane, logs.pane.log_widget
            with open(stdout, "a") as fh:
                fh.write("ready\n")
            await until(pilot, lambda: log.line_count and log.lines[-1] == "ready", what="the stream open")
            base_rss = rss_mb()

            written = await write_now(flood)

            def at_the_end() -> bool:
                return (pane.following and log.line_count > 0 and log.lines[-1] == line(FLOOD - 1)
                        and log.scroll_offset.y >= log.max_scroll_y)

            # k pauses, G follows again: each answered at once, while the lines stream in and until
            # the last one is shown (a bounded wait after the writer stops).
            latencies, peak_rss, peak_window = [], 0.0, 0
            while True:
                latencies.append(await key(pilot, app, "k", lambda: not pane.following))
                await asyncio.sleep(0.02)
                latencies.append(await key(pilot, app, "G", lambda: pane.following))
                peak_rss = max(peak_rss, rss_mb())
                peak_window = max(peak_window, pane.window.stored)
                await asyncio.sleep(0.05)
                if written.done():
                    if at_the_end():
                        break
                    assert time.time() - written.result()[1] < CATCH_UP_S, (
                        f"the last line not shown {CATCH_UP_S}s after the writer stopped\n{screen_text(app)}")
            w_start, w_end = written.result()
            caught_up = time.time() - w_end
            latencies.sort()
            print(f"\nflood of {FLOOD:,} lines written in {w_end - w_start:.2f}s; last line shown {caught_up:.2f}s "
                  f"after; keys ({len(latencies)}): p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms, "
                  f"max {latencies[-1] * 1000:.0f} ms; RSS +{peak_rss - base_rss:.0f} MB")
            await until(pilot, lambda: "following" in pane.status_text, what="the status")

            # The window is bounded, and its "(from byte N)" label is where its first line is.
            w = pane.window
            assert w.count <= L.MAX_LINES and w.stored <= L.MAX_BYTES
            assert peak_window <= 2 * L.MAX_BYTES and peak_rss - base_rss < 200
            assert f"(from byte {w.lo:,})" in pane.status_text
            with open(stdout, "rb") as fh:
                fh.seek(w.lo)
                assert fh.readline().decode().rstrip("\n") == log.lines[0]

            # Scrolling up pauses: lines that arrive do not move the view; G goes to the new end.
            await pilot.press("k", "k")
            assert not pane.following
            top, first_shown = log.scroll_offset.y, log.lines[log.scroll_offset.y]
            size = stdout.stat().st_size
            await (await write_now(more))
            await until(pilot, lambda: pane.window.hi >= size + 1000 * 34, what="the new lines read")
            await pilot.pause()
            assert not pane.following and log.scroll_offset.y == top and log.lines[top] == first_shown
            assert "paused" in pane.status_text and "end of log" not in pane.status_text
            await pilot.press("G")
            await until(pilot, lambda: pane.following and log.lines[-1] == line(FLOOD + 999)
                        and log.scroll_offset.y >= log.max_scroll_y, what="the new end, followed")

            # Search the whole file: the match is far before what the pane holds.
            assert pane.window.lo > 1_000_000
            await pilot.press("slash")
            pane.query_one("#log-search").value = "re:line 0000004[23] "  # typing it: the snapshot test
            await pilot.press("enter")
            target = await until(pilot, lambda: pane._match, 30, "a match")
            await until(pilot, lambda: pane.window.lo <= target and line(42) in screen_text(app), 30,
                        "the file read around the match")
            assert not pane.following and "paused" in pane.status_text
            await pilot.press("escape", "n")
            await until(pilot, lambda: pane._match == target + 34 and line(43) in screen_text(app), 30,
                        "the next match")
            await pilot.press("N")
            await until(pilot, lambda: pane._match == target, 30, "the previous match")

            # Scrolled down to the bottom of what it holds, the pane reads on (still paused).
            hi, count = pane.window.hi, log.line_count
            log.scroll_to(y=log.max_scroll_y - 1, animate=False, immediate=True)
            await pilot.press("j")
            await until(pilot, lambda: pane.window.hi > hi + 1_000_000, 30, "more of the file read")
            assert not pane.following and log.lines[count - 1] == line(count - 2)  # "ready" is line 0
            assert log.lines[count] == line(count - 1)
            await pilot.press("G")
            await until(pilot, lambda: pane.following and log.lines[-1] == line(FLOOD + 999), 30, "the end again")

            # Opened again, the 70 MB log costs its last lines only.
            await pilot.press("escape")
            t = time.perf_counter()
            logs = await open_log(pilot, app, job.job_id)
            await until(pilot, lambda: logs.pane.log_widget.line_count == logs.last_lines
                        and logs.pane.log_widget.lines[-1] == line(FLOOD + 999), 10, "the last lines")
            assert logs.pane.first_offset > 60_000_000 and time.perf_counter() - t < 5

            # Scrolled up to the top of what it holds, the pane reads what lies before; the view stays.
            pane, log = logs.pane, logs.pane.log_widget
            lo = pane.first_offset
            log.scroll_to(y=3, animate=False, immediate=True)
            seen = log.lines[2]  # the top line once k has scrolled up one
            await pilot.press("k")
            await until(pilot, lambda: pane.first_offset < lo, 30, "the lines before read")
            await pilot.pause()
            assert log.lines[log.first_visible] == seen and not pane.following
            with open(stdout, "rb") as fh:
                fh.seek(pane.first_offset)
                assert fh.readline().decode().rstrip("\n") == log.lines[0]
    finally:
        release.touch()
        for proc in (flood, more):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_crashed_job_on_stderr_ml_output_and_a_stream_switch(daemon, probe_project, tui_env, tmp_path):
    release = tmp_path / "release"
    crashed = launch(daemon.socket, probe_project, "crash=true", "tag=crash")
    job = launch(daemon.socket, probe_project, f"release={release}", "tag=ml")
    run = Path(job.run_dir)
    app = tui_env.app(probe_project)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            # A crashed job opens on its stderr, where the traceback is; e shows its stdout.
            logs = await open_log(pilot, app, crashed.job_id, "crashed")
            pane = logs.pane
            assert pane.stream == "stderr"
            await until(pilot, lambda: pane.eof and "end of log" in pane.status_text, what="the whole stderr")
            assert "probe crashed on purpose" in screen_text(app)
            assert "the job crashed: its stderr" in pane.status_text
            await pilot.press("e")
            await until(pilot, lambda: pane.stream == "stdout" and pane.eof and "end of log" in pane.status_text,
                        what="stdout, to its end")
            assert "stdout" in pane.status_text and "crashed" not in pane.status_text
            # A bad regex is one line, from the daemon, in the status.
            await pilot.press("slash")
            pane.query_one("#log-search").value = "re:(unclosed"
            await pilot.press("enter")
            await until(pilot, lambda: "bad regex" in pane.status_text, what="the regex refused")
            assert "\n" not in pane.note and len(pane.note) < 200
            with Client(str(daemon.socket)) as c:  # the daemon's bounds, each one line
                for bad, code in ((dict(max_hits=0), "bad_request"), (dict(pattern=""), "bad_request"),
                                  (dict(pattern="x" * 2000), "bad_request"), (dict(job="nope"), "not_found")):
                    with pytest.raises(P.DaemonError) as e:
                        c.request(P.SearchLog(**{"job": crashed.job_id, "pattern": "crashed", **bad}))
                    assert e.value.code == code and "\n" not in e.value.message
                found = c.request(P.SearchLog(job=crashed.job_id, stream="stderr", pattern="probe crashed"))
            err = (Path(crashed.run_dir) / "stderr.log").read_bytes()
            (at,) = found.offsets
            assert found.size == len(err) and (at == 0 or err[at - 1:at] == b"\n")
            assert b"probe crashed" in err[at:].split(b"\n")[0]
            await pilot.press("escape", "escape")

            # Real ML output while the job runs: colours, a 1 MB line, a tqdm bar as one line.
            logs = await open_log(pilot, app, job.job_id)
            pane, log = logs.pane, logs.pane.log_widget
            await until(pilot, lambda: pane.running, what="the stream")
            with open(run / "stdout.log", "ab") as fh:
                fh.write(b"\x1b[31mred alert\x1b[0m plain\n")
                fh.write(b"x" * (1 << 20) + b"\n")
                for k in range(0, 60, 10):
                    fh.write(b"\repoch 1: %3d%%|%-10s|" % (k, b"#" * (k // 10)))
                fh.flush()
                await until(pilot, lambda: log.line_count == 3 and log.lines[-1] == "epoch 1:  50%|#####     |",
                            what="the bar's current state, unfinished")
                fh.write(b"\repoch 1: 100%|##########|\n")
                fh.flush()
            await until(pilot, lambda: log.line_count == 3 and log.lines[-1] == "epoch 1: 100%|##########|",
                        what="the bar, one line")
            assert log.lines[0] == "red alert plain"
            strip = log._strip(0, log.rich_style)
            assert any(seg.text.startswith("red") and seg.style.color.number == 1 for seg in strip)  # ANSI red
            assert pane.window.cut_length(1) == 1 << 20 and len(log.lines[1]) == L.MAX_LINE_BYTES
            assert "[line cut: 1,048,576 bytes]" in "".join(seg.text for seg in log._strip(1, log.rich_style))

            # e while the job runs: stderr is followed, and the status says so; and back.
            await pilot.press("e")
            await until(pilot, lambda: pane.stream == "stderr" and pane.running, what="stderr followed")
            with open(run / "stderr.log", "ab") as fh:
                fh.write(b"warning: something\n")
            await until(pilot, lambda: log.line_count and log.lines[-1] == "warning: something", what="stderr lines")
            await until(pilot, lambda: "following" in pane.status_text, what="the status")
            assert "end of log" not in pane.status_text and "stopped" not in pane.status_text
            with open(run / "stdout.log", "ab") as fh:  # a tail of long lines: 10 MB in its last lines
                fh.write((b"y" * (1 << 20) + b"\n") * 10 + b"the end\n")
            await pilot.press("e")
            await until(pilot, lambda: pane.stream == "stdout" and log.line_count == 14 and log.lines[-1] == "the end"
                        and "following" in pane.status_text, what="stdout again, its last lines")
            await pilot.pause()
            assert pane.running and pane.window.lo == 0 and not pane.note  # read once, not started over
    finally:
        release.touch()
