"""Progress where work is long (issue 15, item 7): ``heyhi.cli.progress`` on a terminal (a pty: rich's
display on stderr) and piped (plain lines), for a Slurm submit (real cluster, real daemon), planning a
large sweep, running a sweep's points and ``--wait``; rich is imported only when a display is shown.

``HEYHI_PROGRESS_DELAY=0`` shows a display at once (a fast step shows nothing by default).
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import heyhi_cmd
from daemon_util import DaemonProcess
from slurm_util import slurm_cluster  # noqa: F401  (fixture: the real test cluster)
from waiting import wait_for

PROBE = "conf/probe/probe.prototxt"
NOW = {"HEYHI_PROGRESS_DELAY": "0", "TERM": "xterm-256color", "COLUMNS": "120"}


class PtyRun:
    """A command whose stderr is a terminal (a pty), read as it comes; stdout is a pipe."""

    def __init__(self, argv: list[str], cwd: Path | str, env: dict | None = None):
        self.master, slave = pty.openpty()
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(argv, cwd=str(cwd), env=e, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=slave)
        os.close(slave)
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            r, _, _ = select.select([self.master], [], [], 0.5)
            if not r:
                if self.proc.poll() is not None:
                    return
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the pty closed: the command ended
                return
            if not data:
                return
            with self._lock:
                self._buf += data

    @property
    def screen(self) -> str:
        with self._lock:
            return self._buf.decode(errors="replace")

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        os.close(self.master)
        return code, out.decode(), self.screen


def heyhi_in_pty(args: list[str], cwd, env: dict | None = None, timeout: float = 120) -> tuple[int, str, str]:
    return PtyRun(heyhi_cmd() + args, cwd, {**NOW, **(env or {})}).finish(timeout)


def piped(args: list[str], cwd, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(heyhi_cmd() + args, cwd=str(cwd), env=e, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


# ---- the module --------------------------------------------------------------------------------------

STEP = """
import sys, time
from heyhi.cli.progress import progress
with progress("counting", total=3) as p:
    end = time.monotonic() + {wait}
    while not p.shown and time.monotonic() < end:
        time.sleep(0.01)
    p.note("a note")
    p.advance(3)
print("shown" if p.shown else "not shown", "rich" if "rich" in sys.modules else "no rich")
"""


def test_on_a_terminal_rich_shows_the_step_and_its_notes():
    r = PtyRun([sys.executable, "-c", STEP.format(wait=20)], ".", NOW)
    code, out, screen = r.finish()
    assert code == 0 and out.split() == ["shown", "rich"]
    assert "counting" in screen and "3/3" in screen and "a note" in screen
    assert "heyhi: counting" not in screen  # no plain lines on a terminal


def test_a_fast_step_shows_nothing_and_never_imports_rich():
    r = PtyRun([sys.executable, "-c", STEP.format(wait=0)], ".", {"TERM": "xterm"})  # default delay: 0.3 s
    code, out, screen = r.finish()
    assert code == 0 and out.split() == ["not", "shown", "no", "rich"]
    assert screen.replace("\r", "") == "a note\n"


def test_piped_the_step_is_plain_lines_and_rich_is_never_imported():
    p = subprocess.run([sys.executable, "-c", STEP.format(wait=20)], env={**os.environ, **NOW}, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.split() == ["shown", "no", "rich"]
    lines = p.stderr.splitlines()
    assert lines[0] == "heyhi: counting ..." and lines[1] == "a note"
    assert lines[2].startswith("heyhi: counting: done in ") and lines[2].endswith(" s") and len(lines) == 3


# ---- planning a large sweep, and running its points ----------------------------------------------------

def test_planning_a_large_sweep_shows_progress(proj):
    args = ["run", "-c", PROBE, "tag=range(0,3000)", "lines=[0,1]", "--plan"]
    code, out, screen = heyhi_in_pty(args, proj)
    assert code == 0 and out.splitlines()[-1].startswith("6000 points: 6000 new")
    assert "planning the sweep" in screen
    r = piped(args, proj, NOW)
    assert r.returncode == 0
    assert r.stderr.splitlines()[0] == "heyhi: planning the sweep: checking its points ..."
    assert r.stderr.splitlines()[-1].startswith("heyhi: planning the sweep: reading the folders of 6000 points: done in ")


def test_running_a_sweeps_points_in_parallel_shows_a_bar_with_their_lines_above(proj):
    code, out, screen = heyhi_in_pty(["run", "-c", PROBE, "tag=[a,b,c]", "--no-daemon", "--max-parallel", "2"], proj)
    assert code == 0, screen
    assert "running the sweep's points" in screen
    for n in (1, 2, 3):
        assert f"heyhi: [{n}/3] run tag=" in screen and f"heyhi: [{n}/3] completed in " in screen


# ---- through the daemon: --wait, and a Slurm submit ---------------------------------------------------

@pytest.fixture
def daemon(tmp_path, monkeypatch):
    d = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
    sock = d / "s" / "d.sock"
    monkeypatch.setenv("HEYHI_SOCKET", str(sock))
    monkeypatch.setenv("HEYHI_SLURM_MIN_POLL", "0.5")
    proc = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    yield proc
    proc.stop()
    shutil.rmtree(d, ignore_errors=True)


def test_wait_shows_a_job_waiting_for_its_first_output(daemon, proj, tmp_path):
    release = tmp_path / "release"
    run = PtyRun(heyhi_cmd() + ["run", "-c", PROBE, f"release={release}", "tag=waiting", "--wait"], proj, NOW)
    wait_for(lambda: "waiting for its first output" in run.screen, 60, "the waiting display")
    release.touch()  # the job goes on and prints
    code, out, screen = run.finish()
    assert code == 0, screen
    assert "probe done" in out and "heyhi: completed: " in screen


def test_waiting_for_a_sweep_shows_its_points(daemon, proj):
    code, out, screen = heyhi_in_pty(["run", "-c", PROBE, "tag=[x,y]", "--wait"], proj)
    assert code == 0, screen
    sid = out.split()[0]
    assert f"sweep {sid}: " in screen and "2 points: 0 new, 0 running, 2 completed" in screen


@pytest.mark.usefixtures("slurm_cluster")
def test_a_slurm_submit_shows_progress_on_a_terminal_and_plain_lines_when_piped(daemon, proj):
    ids = []
    try:
        code, out, screen = heyhi_in_pty(["run", "-c", PROBE, "Ilauncher=slurm_cpu", "tag=progress_tty"], proj)
        assert code == 0, screen
        ids.append(out.strip())
        assert "submitting to Slurm" in screen
        r = piped(["run", "-c", PROBE, "Ilauncher=slurm_cpu", "tag=progress_pipe"], proj, NOW)
        assert r.returncode == 0, r.stderr
        ids.append(r.stdout.strip())
        lines = r.stderr.splitlines()
        assert lines[0] == "heyhi: submitting to Slurm ..." and lines[1].startswith("heyhi: submitting to Slurm: done in ")
        quiet = piped(["run", "-c", PROBE, "Ilauncher=slurm_cpu", "tag=progress_quiet"], proj)  # a fast submit: no line
        ids.append(quiet.stdout.strip())
        assert quiet.returncode == 0 and "submitting" not in quiet.stderr, quiet.stderr
    finally:
        from heyhi.wire import protocol as P
        from heyhi.wire.client import Client

        with Client(str(daemon.socket)) as c:
            for job in ids:
                try:  # leave the shared cluster as it was
                    c.request(P.Cancel(job=job))
                except P.DaemonError:
                    pass  # already ended
