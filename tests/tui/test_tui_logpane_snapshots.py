"""Snapshots of the log screen at 80x24 and 160x48: a finished job's log with ANSI colours, a tqdm
bar collapsed to its last state, and a search match highlighted (the status paused on it).

Deterministic: the project, results and socket live at one fixed path (job ids hash the run
folder's path), the log's bytes are written by the test once the job has ended, and no clock is
shown. A lock keeps two sessions from sharing the path. Update with ``--snapshot-update`` after
checking the report.
"""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest

from conftest import REPO
from daemon_util import DaemonProcess
from tui_util import PROBE_CONFIG
from waiting import wait_for

from heyhi.wire import protocol as P
from heyhi.wire.client import Client

pytestmark = pytest.mark.timeout(120)

WORLD = Path("/tmp/hh-tui-logsnap")
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


def the_log() -> bytes:
    out = [b"\x1b[1mprobe\x1b[0m: a deterministic log"]
    for i in range(1, 61):
        out.append(b"step %4d  loss %.4f  \x1b[32macc %.2f\x1b[0m" % (i, 1 / i, min(0.99, i / 60)))
        if i == 30:
            out.append(b"".join(b"\rvalidate: %3d%%|%-10s| %d/10" % (k * 10, b"#" * k, k) for k in range(11)))
            out.append(b"\x1b[33mwarning:\x1b[0m the learning rate is high")
    out.append(b"y" * 100_000)
    out.append(b"done")
    return b"\n".join(out) + b"\n"


@pytest.fixture(scope="module")
def world():
    WORLD.parent.mkdir(exist_ok=True)
    with open(f"{WORLD}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(WORLD, ignore_errors=True)
        proj = WORLD / "proj"
        shutil.copytree(REPO / "tests" / "project", proj, ignore=shutil.ignore_patterns("__pycache__"))
        sock = WORLD / "s" / "d.sock"
        daemon = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=WORLD)
        try:
            with Client(str(sock)) as c:
                job = c.request(P.Launch(project_root=str(proj), results_root=str(WORLD / "results"),
                                         config=str(proj / PROBE_CONFIG), overrides=["tag=snap"]))
                wait_for(lambda: c.request(P.ShowJob(job=job.job_id)).job.state == "completed", 60)
            (Path(job.run_dir) / "stdout.log").write_bytes(the_log())
            yield proj, sock, job
        finally:
            daemon.stop()
            shutil.rmtree(WORLD, ignore_errors=True)


@pytest.mark.parametrize("size", SIZES)
def test_log_screen_with_a_search(snap_compare, world, size):
    from heyhi_tui.app import HeyHiApp
    from tui_util import until

    proj, sock, job = world
    app = HeyHiApp(str(proj), socket_path=str(sock), results_root=str(WORLD / "results"), autostart=False,
                   watch_files=False)

    async def ready(pilot):
        await until(pilot, lambda: job.job_id in app.jobs, 30, "the jobs")
        app.show_logs(job.job_id)
        await until(pilot, lambda: getattr(app.screen, "job_id", "") == job.job_id and app.screen.pane.eof
                    and not app.screen.pane.running, 30, "the whole log")
        pane = app.screen.pane
        # The search starts from the view: wait until the view shows the whole window, at its end
        # (on a loaded machine the view follows the window on a timer, SYNC_S).
        log = pane.log_widget
        await until(pilot, lambda: not pane._sync_later and not pane._posted and log.virtual_size.height
                    == pane.window.count and log.max_scroll_y > 0 and pane.at_bottom(), 30, "the view at the end")
        await pilot.press("slash", *"loss 0.05", "enter")
        await until(pilot, lambda: pane._match is not None and not pane._searching, 30, "the match")
        await pilot.press("escape")
        # a loaded machine: the view follows the window on a timer (SYNC_S); wait until it has
        await until(pilot, lambda: not pane._sync_later and not pane._posted, 30, "the view in sync")
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(app, terminal_size=size, run_before=ready)
