"""heyhi-tui: time to the first full screen, and how many log lines a second the log pane absorbs.

1. First full screen. Two apps started the same way, each as a whole process on its own pty:
   ``heyhi-tui`` (the configs screen, against a running daemon) and a minimal Textual app (a Header
   and a Static). Each process notes the time when the first frame of its main screen (drawn after
   the screen's ``on_mount``) has been handed to the terminal; the figure is that moment minus the
   moment the parent spawned the process (so it includes Python's start and every import).
   Interleaved runs, medians. Target: heyhi-tui <= 1.5x the minimal app.
   Also shown: when the screen is filled with data (the tree listed and the first config composed
   by the daemon), which is not part of the target.
2. Log absorption. The real app (``run_test``) follows the stdout of a running job while another
   process appends lines to it as fast as it can (1,000,000 lines, ~34 MB); the figure is lines
   written / time from the first byte written to the last line shown, while a key is sent every
   50 ms and the time until the app acted on it is recorded. Target: >= 50,000 lines/s with every
   key answered within 0.5 s.
3. The 2 M-line flood. A job's stdout gets 2,000,000 lines (72 MB) written as fast as the disk takes
   them (made before the clock starts, written in 1 MB writes) while the log pane follows it and the
   user presses k (following pauses) and G (following again, at the true end of the file) every
   ~50 ms until the last line is shown. Figures, each beside its target: the time from the writer
   stopping to the file's last line shown at the bottom of the followed view (target <= 1 s); the
   keys' p95 latency, from the key sent to the app having acted on it (target < 100 ms); lines
   absorbed, i.e. lines written / time from the first byte written to the last line shown (target
   >= 50,000 lines/s). Also printed: the app process's CPU time, how many lines went through the
   pane (a pane far behind the end reads on from the file's last lines: its window keeps 200,000
   lines at most, and scrolling up reads older ones back by offset), the window's size and the
   process's peak RSS (the pane's memory is bounded whatever the file's size).

    .venv/bin/python bench/tui.py [--runs N] [--lines N] [--flood-lines N] [--only first|absorb|flood]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, SITE_PACKAGES, compile_bytecode, machine_note, median, ms, verdict  # noqa: E402

FIRST_SCREEN_RATIO = 1.5
LINES_PER_S = 50_000
KEY_BOUND_S = 0.5

# ---------------------------------------------------------------------------------------------
# The child processes (python bench/tui.py --child KIND --mark FILE)

# Both children note when the first frame of their main screen (after its on_mount) has been handed
# to the terminal: the first App._display of that screen that draws something.
FIRST_FRAME = '''
import time
from textual.app import App

def note_first_frame(is_main, on_frame):
    display = App._display

    def timed(self, screen, renderable):
        display(self, screen, renderable)
        if renderable is not None and not self._batch_count and is_main(screen):
            App._display = display
            on_frame()

    App._display = timed
'''

MINIMAL = FIRST_FRAME + '''
import os
from textual.widgets import Header, Static

mounted = False

class Minimal(App):
    def compose(self):
        yield Header()
        yield Static("hello")

    def on_mount(self):
        global mounted
        mounted = True

def frame():
    with open(os.environ["BENCH_MARK"], "w") as f:
        f.write(repr({"frame": time.time()}))
    app.exit()

note_first_frame(lambda screen: mounted, frame)
app = Minimal()
app.run()
'''

HEYHI = FIRST_FRAME + '''
import os
marks = {}

def mark(name):
    marks.setdefault(name, time.time())
    if "data" in marks and "frame" in marks:
        with open(os.environ["BENCH_MARK"], "w") as f:
            f.write(repr(marks))
        app.exit()

from heyhi_tui.main import build_app
from heyhi_tui.screens.configs import ConfigsScreen

on_mount = ConfigsScreen.on_mount

def timed_mount(self):
    on_mount(self)
    self._bench_mounted = True
    self.watch(self, "preview", lambda p: p.result is not None and self.call_after_refresh(mark, "data"))

ConfigsScreen.on_mount = timed_mount
note_first_frame(lambda screen: getattr(screen, "_bench_mounted", False), lambda: mark("frame"))
app = build_app(["--project", os.environ["BENCH_PROJECT"], "--no-start"])
app.run()
'''


def run_child(kind: str, env: dict[str, str], mark_file: str, timeout: float = 30.0) -> dict[str, float]:
    """Spawn the child on a pty (as a terminal would run it); the marks minus the spawn time."""
    code = MINIMAL if kind == "minimal" else HEYHI
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    e = dict(env, BENCH_MARK=mark_file, TERM="xterm-256color", COLUMNS="80", LINES="24")
    if os.path.exists(mark_file):
        os.unlink(mark_file)
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave, env=e,
                            cwd=REPO, close_fds=True, start_new_session=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    marked_at = None
    try:  # keep reading the terminal, as a terminal would
        while proc.poll() is None and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    out += os.read(master, 1 << 16)
                except BlockingIOError:
                    pass
                except OSError:  # EIO: the child closed the terminal
                    break
            if marked_at is None and os.path.exists(mark_file):
                marked_at = time.monotonic()
            elif marked_at is not None and time.monotonic() - marked_at > 2.0:
                break  # the figure is taken; how the process winds down on a pty is not measured
        if marked_at is None and proc.poll() is None:
            proc.kill()
            raise SystemExit(f"bench: the {kind} app did not finish:\n{out[-2000:].decode(errors='replace')}")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        proc.wait()
    try:
        marks = eval(Path(mark_file).read_text())  # noqa: S307 - our own child's repr
    except (OSError, SyntaxError):
        raise SystemExit(f"bench: the {kind} app left no mark:\n{out[-2000:].decode(errors='replace')}")
    return {k: v - t0 for k, v in marks.items()}


# ---------------------------------------------------------------------------------------------
# The world: a daemon on a temporary socket, a copy of the demo project


def start_daemon(sock: str, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "heyhi_daemon.main", "start", "--foreground", "--socket", sock],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
    )
    assert proc.stdout is not None
    if not select.select([proc.stdout], [], [], 30)[0] or b"listening" not in proc.stdout.readline():
        proc.kill()
        raise SystemExit("bench: the daemon did not start")
    return proc


def first_screen(env: dict[str, str], tmp: Path, runs: int) -> bool:
    mark = str(tmp / "mark")
    times: dict[str, list[float]] = {"minimal": [], "heyhi": [], "heyhi_data": []}
    for kind in ("minimal", "heyhi"):  # warm up (schema cache, page cache)
        run_child(kind, env, mark)
    for r in range(runs):
        for kind in (("minimal", "heyhi") if r % 2 == 0 else ("heyhi", "minimal")):
            m = run_child(kind, env, mark)
            times[kind].append(m["frame"])
            if kind == "heyhi":
                times["heyhi_data"].append(m["data"])
    mini, hh, data = median(times["minimal"]), median(times["heyhi"]), median(times["heyhi_data"])
    ratio = hh / mini
    ok = ratio <= FIRST_SCREEN_RATIO
    print(f"first full screen (spawn -> the main screen's first frame handed to the terminal; {runs} runs, medians)")
    print(f"  minimal Textual app (Header + Static)   {ms(mini):>9}")
    print(f"  heyhi-tui configs screen                {ms(hh):>9}   {ratio:.2f}x   "
          f"target <= {FIRST_SCREEN_RATIO}x  {verdict(ok)}")
    print(f"  heyhi-tui filled (tree + composed preview from the daemon) {ms(data):>9}   "
          f"({data / mini:.2f}x; not a target)")
    return ok


# ---------------------------------------------------------------------------------------------
# Log absorption


WRITER = '''
import sys, time
path, n = sys.argv[1], int(sys.argv[2])
batch = 20000
with open(path, "a") as fh:
    t = time.time()
    for start in range(0, n, batch):
        fh.write("".join(f"line {i:08d} the quick brown fox\\n" for i in range(start, min(n, start + batch))))
        fh.flush()
print(repr((t, time.time())))
'''


async def absorb(env: dict[str, str], tmp: Path, project: Path, lines: int) -> bool:
    from heyhi.wire import protocol as P
    from heyhi.wire.aclient import AsyncClient
    from heyhi_tui.app import HeyHiApp
    from heyhi_tui.screens.logs import LogsScreen

    sock = env["HEYHI_SOCKET"]
    release = tmp / "release"
    client = await AsyncClient.connect(sock)
    job = await client.request(P.Launch(
        project_root=str(project), results_root=env["HH_EXP_DIR"], config=str(project / "conf/probe/probe.prototxt"),
        overrides=[f"release={release}", "tag=bench"]))
    app = HeyHiApp(str(project), socket_path=sock, results_root=env["HH_EXP_DIR"], autostart=False,
                   watch_files=False)
    stdout = Path(job.run_dir) / "stdout.log"
    latencies: list[float] = []
    try:
        async with app.run_test(size=(80, 24)):
            async def until(cond, timeout=30.0):
                deadline = time.monotonic() + timeout
                while not cond():
                    if time.monotonic() > deadline:
                        raise SystemExit("bench: timed out")
                    await asyncio.sleep(0.01)

            await until(lambda: app.jobs.get(job.job_id) and app.jobs[job.job_id].state == "running")
            app.show_logs(job.job_id)
            await until(lambda: isinstance(app.screen, LogsScreen) and app.screen.query("LogPane")
                        and app.screen.pane.is_mounted and app.screen.pane.running)
            pane = app.screen.pane
            with open(stdout, "a") as fh:
                fh.write("ready\n")
            log = pane.log_widget
            await until(lambda: log.line_count >= 1 and log.lines[-1] == "ready")
            writer = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, str(stdout), str(lines),
                                                          stdout=asyncio.subprocess.PIPE)
            done = asyncio.ensure_future(writer.communicate())
            last = f"line {lines - 1:08d} the quick brown fox"
            t_start = time.time()
            while not (done.done() and pane.following and log.lines[-1] == last):
                want = not pane.following
                t = time.perf_counter()
                app.simulate_key("f")
                while pane.following != want:
                    if time.perf_counter() - t > 10:
                        raise SystemExit("bench: a key was not answered within 10 s")
                    await asyncio.sleep(0.002)
                latencies.append(time.perf_counter() - t)
                if time.time() - t_start > 120:
                    raise SystemExit(f"bench: the last of {lines} lines not shown after 120 s")
                await asyncio.sleep(0.05)
            t_end = time.time()
            out, _ = done.result()
            w_start, w_end = eval(out.decode())  # noqa: S307 - our own child's repr
    finally:
        release.touch()
        await client.close()
    wrote = lines / (w_end - w_start)
    rate = lines / (t_end - w_start)
    slowest = max(latencies)
    ok = rate >= LINES_PER_S and slowest < KEY_BOUND_S
    print(f"log absorption ({lines:,} lines appended by another process as fast as it can)")
    print(f"  the writer wrote                        {wrote:>12,.0f} lines/s")
    print(f"  the log pane showed                     {rate:>12,.0f} lines/s   target >= {LINES_PER_S:,}  "
          f"{verdict(rate >= LINES_PER_S)}")
    print(f"  keys meanwhile ({len(latencies)}): median {ms(median(latencies))}, max {ms(slowest)}   "
          f"target < {ms(KEY_BOUND_S)}  {verdict(slowest < KEY_BOUND_S)}")
    return ok


# ---------------------------------------------------------------------------------------------
# The 2 M-line flood


FLOOD_WRITER = '''
import os, sys, time
path, first, n, rate, block = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), 1 << 20
data = (b"line %08d the quick brown fox\\n" * n) % tuple(range(first, first + n))
print("made", flush=True)  # the lines are made before the clock starts
sys.stdin.readline()
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
t = time.time()
for start in range(0, len(data), block):
    os.write(fd, data[start:start + block])
    if rate:  # paced: rate lines a second
        time.sleep(max(0.0, t + (start + block) / 34 / rate - time.time()))
end = time.time()
os.close(fd)
print(repr((t, end)), flush=True)
'''
FLOOD_ROUNDS = 3
SUSTAINED_RATE = 500_000  # lines/s of the last round: a flood that lasts, for the keys' latency
CATCH_UP_S = 1.0
KEY_P95_S = 0.1


def pane_note(lines: int, received: int) -> str:
    if received >= lines:
        return "every line went through the pane"
    return (f"{received:,} of {lines:,} lines went through the pane; it read on from the file's last lines "
            f"when far behind (what it skipped, its window could not have kept; scrolling up reads it back)")


def flood_line(i: int) -> str:
    return f"line {i:08d} the quick brown fox"


async def flood(env: dict[str, str], tmp: Path, project: Path, lines: int) -> bool:
    """``FLOOD_ROUNDS`` times, a job's stdout gets ``lines`` lines as fast as the disk takes them
    (and once more at ``SUSTAINED_RATE``: a flood that lasts seconds) while the log pane follows it
    and k / G are pressed every 20 ms."""
    import resource

    from heyhi.wire import protocol as P
    from heyhi.wire.aclient import AsyncClient
    from heyhi_tui.app import HeyHiApp
    from heyhi_tui.screens.logs import LogsScreen

    sock = env["HEYHI_SOCKET"]
    release = tmp / "release-flood"
    client = await AsyncClient.connect(sock)
    job = await client.request(P.Launch(
        project_root=str(project), results_root=env["HH_EXP_DIR"], config=str(project / "conf/probe/probe.prototxt"),
        overrides=[f"release={release}", "tag=flood"]))
    app = HeyHiApp(str(project), socket_path=sock, results_root=env["HH_EXP_DIR"], autostart=False,
                   watch_files=False)
    stdout = Path(job.run_dir) / "stdout.log"
    latencies: list[float] = []
    catch_ups: list[float] = []
    rates: list[float] = []
    writes: list[float] = []
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        async with app.run_test(size=(120, 40)):
            async def until(cond, timeout=30.0, poll=0.005):
                deadline = time.monotonic() + timeout
                while not cond():
                    if time.monotonic() > deadline:
                        raise SystemExit("bench: timed out")
                    await asyncio.sleep(poll)

            async def press(key: str, done) -> None:
                t = time.perf_counter()
                app.simulate_key(key)
                while not done():
                    if time.perf_counter() - t > 10:
                        raise SystemExit(f"bench: key {key} not answered within 10 s")
                    await asyncio.sleep(0.001)
                latencies.append(time.perf_counter() - t)

            await until(lambda: app.jobs.get(job.job_id) and app.jobs[job.job_id].state == "running")
            app.show_logs(job.job_id)
            await until(lambda: isinstance(app.screen, LogsScreen) and app.screen.query("LogPane")
                        and app.screen.pane.is_mounted and app.screen.pane.running)
            pane = app.screen.pane
            log = pane.log_widget
            with open(stdout, "a") as fh:
                fh.write("ready\n")
            await until(lambda: log.line_count >= 1 and log.lines[-1] == "ready")
            received0 = pane.lines_received
            cpu0 = time.process_time()
            for r in range(FLOOD_ROUNDS + 1):
                last = flood_line((r + 1) * lines - 1)
                rate = SUSTAINED_RATE if r == FLOOD_ROUNDS else 0
                writer = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", FLOOD_WRITER, str(stdout), str(r * lines), str(lines), str(rate),
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
                assert (await writer.stdout.readline()).strip() == b"made"
                keys_before = len(latencies)
                writer.stdin.write(b"go\n")
                await writer.stdin.drain()
                done = asyncio.ensure_future(writer.stdout.readline())
                while not done.done():  # k scrolls up (following pauses), G follows again at the end
                    if pane.following:
                        await press("k", lambda: not pane.following)
                    else:
                        await press("G", lambda: pane.following)
                    await asyncio.sleep(0.02)
                if not pane.following:
                    await press("G", lambda: pane.following)
                await until(lambda: (log.line_count > 0 and log.lines[-1] == last
                                     and log.scroll_offset.y >= log.max_scroll_y), poll=0.002)
                t_shown = time.time()
                w_start, w_end = eval(done.result().decode())  # noqa: S307 - our own child's repr
                await writer.wait()
                if rate:
                    sustained = (lines / max(w_end - w_start, 1e-9), t_shown - w_end, len(latencies) - keys_before)
                else:
                    catch_ups.append(t_shown - w_end)
                    rates.append(lines / (t_shown - w_start))
                    writes.append(lines / max(w_end - w_start, 1e-9))
            cpu = time.process_time() - cpu0
            window_bytes = pane.window.stored
            received = pane.lines_received - received0
    finally:
        release.touch()
        await client.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    catch_up, rate = max(catch_ups + [sustained[1]]), min(rates)
    ok = catch_up <= CATCH_UP_S and p95 < KEY_P95_S and rate >= LINES_PER_S
    print(f"log flood ({lines:,} lines, {lines * 34 / 1e6:.0f} MB: {FLOOD_ROUNDS} times as fast as the disk takes "
          f"them, median {median(writes):,.0f} lines/s; once at {sustained[0]:,.0f} lines/s, "
          f"{lines / sustained[0]:.1f} s, {sustained[2]} keys meanwhile)")
    print(f"  writer stopped -> last line shown       {ms(catch_up):>12} (worst of {FLOOD_ROUNDS + 1}; "
          f"sustained {ms(sustained[1])})   target <= {ms(CATCH_UP_S)}  {verdict(catch_up <= CATCH_UP_S)}")
    print(f"  keys meanwhile ({len(latencies)}): p95 {ms(p95)}, max {ms(latencies[-1])}   "
          f"target p95 < {ms(KEY_P95_S)}  {verdict(p95 < KEY_P95_S)}")
    print(f"  lines absorbed (first byte -> last line shown) {rate:>10,.0f} lines/s (worst)   "
          f"target >= {LINES_PER_S:,}  {verdict(rate >= LINES_PER_S)}")
    print(f"  the app's CPU time meanwhile {cpu:.2f} s; {pane_note((FLOOD_ROUNDS + 1) * lines, received)}")
    print(f"  memory: the pane's window {window_bytes / 1e6:.1f} MB of text; the process's peak RSS "
          f"{rss / 1024:.0f} MB ({(rss - rss0) / 1024:+.0f} MB during the floods)")
    return ok


# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--flood-lines", type=int, default=2_000_000)
    ap.add_argument("--only", choices=("first", "absorb", "flood"), help="run one part only")
    args = ap.parse_args()

    compile_bytecode([REPO / "shared", REPO / "heyhi_daemon", REPO / "heyhi_tui", SITE_PACKAGES])
    tmp = Path(tempfile.mkdtemp(prefix="hhb", dir="/tmp"))
    project = tmp / "proj"
    project.mkdir()
    shutil.copytree(REPO / "conf", project / "conf", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "run.py", project / "run.py")
    # The probe task of the test project, beside the demo's, for the log bench.
    shutil.copytree(REPO / "tests" / "project", tmp / "probe", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ)
    env.update(HEYHI_SOCKET=str(tmp / "s" / "d.sock"), HEYHI_STATE_DIR=str(tmp / "state"),
               HH_EXP_DIR=str(tmp / "results"), XDG_CACHE_HOME=str(tmp / "cache"),
               HEYHI_TUI_KEYMAP=str(tmp / "no-keymap.toml"), BENCH_PROJECT=str(project))
    os.makedirs(tmp / "s", mode=0o700)
    daemon = start_daemon(env["HEYHI_SOCKET"], env)
    os.environ.update({k: env[k] for k in ("HEYHI_SOCKET", "HEYHI_STATE_DIR", "HH_EXP_DIR", "XDG_CACHE_HOME")})
    try:
        print(f"heyhi-tui bench {machine_note()}")
        oks = []
        if args.only in (None, "first"):
            oks.append(first_screen(env, tmp, args.runs))
        if args.only in (None, "absorb"):
            oks.append(asyncio.run(absorb(env, tmp, tmp / "probe", args.lines)))
        if args.only in (None, "flood"):
            oks.append(asyncio.run(flood(env, tmp, tmp / "probe", args.flood_lines)))
    finally:
        daemon.terminate()
        daemon.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(oks) else 1


if __name__ == "__main__":
    sys.exit(main())
