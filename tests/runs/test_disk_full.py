"""A full disk (ENOSPC) on a real, small tmpfs, with a real daemon and real jobs: a job ends as
crashed with the reason, ``--wait`` returns, and the daemon's index stays intact (the last good
one on disk; saved again once there is room). The tests mount tmpfs, so they need root (CI runs
them as root: there they fail rather than skip)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import heyhi_cmd, run_cli
from daemon_util import DaemonProcess
from waiting import status, wait_for

from heyhi.wire import protocol as P
from heyhi.runs import records as R
from heyhi.wire.client import Client

PROBE = "conf/probe/probe.prototxt"


@contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        why = " ".join(r.stderr.split())[:200]
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs: {why}")
        pytest.skip(f"cannot mount a tmpfs (needs root): {why}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path) -> Path:
    """Fill the filesystem of ``folder`` to the last page; returns the filler file."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (1 << 20, 1 << 16, 4096):
            try:
                while True:
                    fh.write(bytes(chunk))
            except OSError:
                pass
    return filler


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    procs = []

    def start() -> Path:
        d = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
        sock = d / "s" / "d.sock"
        monkeypatch.setenv("HEYHI_SOCKET", str(sock))
        procs.append((DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path), d))
        return sock

    yield start
    for proc, d in procs:
        proc.stop()
        shutil.rmtree(d, ignore_errors=True)


def job_of(sock: Path, run_dir: Path):
    with Client(str(sock)) as c:
        return next(j for j in c.request(P.ListJobs()).jobs if j.run_dir == str(run_dir))


def out_dir(proj: Path, overrides: list[str]) -> Path:
    r = run_cli(["run", "-c", PROBE, "--print-out-dir", *overrides], cwd=proj)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


def test_a_job_on_a_disk_that_fills_up_ends_crashed_with_the_reason(daemon, proj, tmp_path, monkeypatch):
    with tmpfs(tmp_path / "results", "6m") as results:
        monkeypatch.setenv("HH_EXP_DIR", str(results))
        sock = daemon()
        release = tmp_path / "release"  # the job waits for it, then prints "probe done" on a full disk
        ovs = [f"release={release}"]
        run_dir = out_dir(proj, ovs)
        waiter = subprocess.Popen([*heyhi_cmd(), "run", "-c", PROBE, "--wait", *ovs], cwd=proj,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: status(run_dir).get("state") == R.RUNNING, 30, "the job to run")
            fill(results)
            release.touch()
            _, err = waiter.communicate(timeout=30)
        finally:
            if waiter.poll() is None:
                waiter.kill()
                waiter.wait()
        assert waiter.returncode == 1, err[-2000:]
        assert err.rstrip().splitlines()[-1].startswith("heyhi: crashed: disk full"), err[-2000:]
        st = status(run_dir)
        assert st["state"] == R.CRASHED and st["reason"].startswith("disk full")
        job = job_of(sock, run_dir)
        assert job.state == R.CRASHED and job.reason.startswith("disk full")


def test_a_job_killed_on_a_full_disk_does_not_stay_running(daemon, proj, tmp_path, monkeypatch):
    with tmpfs(tmp_path / "results", "6m") as results:
        monkeypatch.setenv("HH_EXP_DIR", str(results))
        sock = daemon()
        release = tmp_path / "release"  # never created: the job waits until killed
        ovs = [f"release={release}"]
        run_dir = out_dir(proj, ovs)
        waiter = subprocess.Popen([*heyhi_cmd(), "run", "-c", PROBE, "--wait", *ovs], cwd=proj,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: status(run_dir).get("state") == R.RUNNING, 30, "the job to run")
            fill(results)
            os.kill(status(run_dir)["pid"], signal.SIGKILL)
            _, err = waiter.communicate(timeout=30)  # --wait returns: the job is not "running" forever
        finally:
            if waiter.poll() is None:
                waiter.kill()
                waiter.wait()
        assert waiter.returncode == 137, err[-2000:]
        job = job_of(sock, run_dir)
        assert job.state == R.CRASHED and "killed by signal 9" in job.reason
        assert "could not record it in the folder" in job.reason  # the disk was full: the index says so


def test_the_daemon_keeps_its_index_intact_on_a_full_disk(daemon, proj, tmp_path, monkeypatch):
    with tmpfs(tmp_path / "daemon-state", "1m") as state:  # the daemon's HEYHI_STATE_DIR (daemon_util)
        sock = daemon()
        first = run_cli(["run", "-c", PROBE, "--wait", "tag=one"], cwd=proj, timeout=60)
        assert first.returncode == 0, first.stderr
        index = state / "index.json"
        one = str(out_dir(proj, ["tag=one"]))
        wait_for(lambda: one in index.read_text(), 10, "the first job in the index")
        before = json.loads(index.read_text())
        filler = fill(state)

        second = run_cli(["run", "-c", PROBE, "--wait", "tag=two"], cwd=proj, timeout=60)
        assert second.returncode == 0, second.stderr  # the job runs and ends; only the index waits
        two = out_dir(proj, ["tag=two"])
        assert status(two)["state"] == R.COMPLETED and job_of(sock, two).state == R.COMPLETED
        assert json.loads(index.read_text()) == before  # the last good index, whole
        assert not list(state.glob(".index.json*")), "a partial index was left behind"
        assert "index not saved (kept the last one)" in (tmp_path / f"{sock.parent.name}-{sock.stem}.stderr").read_text()

        filler.unlink()
        third = run_cli(["run", "-c", PROBE, "--wait", "tag=three"], cwd=proj, timeout=60)
        assert third.returncode == 0, third.stderr
        three = str(out_dir(proj, ["tag=three"]))
        saved = lambda: {j["run_dir"]: j["state"] for j in json.loads(index.read_text())["jobs"]}  # noqa: E731
        wait_for(lambda: saved().get(str(two)) == R.COMPLETED and saved().get(three) == R.COMPLETED,
                 10, "the index saved again with every job")
