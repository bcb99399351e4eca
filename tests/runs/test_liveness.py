"""Liveness by the host a run recorded (``heyhi.runs.liveness`` through ``RunDir.state``).

A second host cannot run here, so it is a fake: a real run folder whose status record says the run
is running on ``FAKE_HOST`` with a pid that is dead on this host. Its heartbeat file is real and its
age is set on the real filesystem. Everything else is real: the CLI in subprocesses, real jobs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli
from waiting import lines, status, wait_for

from heyhi.runs import records as R
from heyhi.runs import liveness as L

PROBE = "conf/probe/probe.prototxt"
FAKE_HOST = "fake-second-host.invalid"  # a fake: the host that shares the results folder


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def pretend_running_on_fake_host(run_dir: Path) -> None:
    """Rewrite a finished run's record as the fake host's running job (as its heyhi.job writes it)."""
    st = json.loads((run_dir / R.STATUS).read_text())
    for k in ("exit_code", "reason", "ended"):
        st.pop(k, None)
    st.update(state=R.RUNNING, host=FAKE_HOST, pid=dead_pid(), pid_start=1, jobid="local:1", launcher="local")
    R.write_atomic(run_dir / R.STATUS, json.dumps(st))
    for marker in (R.COMPLETED_MARKER, R.RESULT_JSON):
        (run_dir / marker).unlink(missing_ok=True)
    beat(run_dir, age=0)


def beat(run_dir: Path, age: float) -> None:
    """Set the heartbeat's mtime ``age`` seconds before now, by the filesystem's clock."""
    hb = run_dir / L.HEARTBEAT
    hb.write_text(f"{FAKE_HOST} 1\n")
    t = L.fs_now(run_dir) - age
    os.utime(hb, (t, t))


def out_dir(proj: Path, overrides: list[str]) -> Path:
    r = run_cli(["run", "-c", PROBE, "--print-out-dir", *overrides], cwd=proj)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


@pytest.fixture
def remote_run(proj, tmp_path):
    """A real completed run, then recorded as running on the fake host; the marker counts task runs."""
    marker = tmp_path / "marker"
    ovs = [f"marker={marker}"]
    r = run_cli(["run", "-c", PROBE, "--no-daemon", *ovs], cwd=proj)
    assert r.returncode == 0, r.stderr
    run_dir = out_dir(proj, ovs)
    assert len(lines(marker)) == 1
    pretend_running_on_fake_host(run_dir)
    return run_dir, ovs, marker


# ---- the judgement ------------------------------------------------------------------------------

def test_fresh_heartbeat_of_another_host_is_alive_stale_is_lost(remote_run, monkeypatch):
    run_dir, _, _ = remote_run
    assert R.RunDir(run_dir).state(slurm_live=set())[0] == R.RUNNING  # its pid is dead here: not the proof
    beat(run_dir, age=L.stale_after() + 60)
    state, st = R.RunDir(run_dir).state(slurm_live=set())
    assert state == R.LOST and "heartbeat" in st["reason"] and FAKE_HOST in st["reason"]


def test_the_local_clock_is_never_the_judge(remote_run, monkeypatch):
    run_dir, _, _ = remote_run
    monkeypatch.setattr(time, "time", lambda: 4e9)  # this host's clock far ahead: no effect
    assert R.RunDir(run_dir).state(slurm_live=set())[0] == R.RUNNING


def test_staleness_follows_the_environment(remote_run, monkeypatch):
    run_dir, _, _ = remote_run
    beat(run_dir, age=30)
    assert R.RunDir(run_dir).state(slurm_live=set())[0] == R.RUNNING  # default: stale after 300 s
    monkeypatch.setenv("HEYHI_HEARTBEAT_STALE_S", "10")
    assert R.RunDir(run_dir).state(slurm_live=set())[0] == R.LOST


def test_slurm_saying_live_keeps_a_silent_run_alive(remote_run):
    run_dir, _, _ = remote_run
    st = json.loads((run_dir / R.STATUS).read_text())
    st.update(launcher="slurm", jobid="4242", slurm_id="4242")
    R.write_atomic(run_dir / R.STATUS, json.dumps(st))
    beat(run_dir, age=L.stale_after() + 60)
    assert R.RunDir(run_dir).state(slurm_live={"4242"})[0] == R.RUNNING
    assert R.RunDir(run_dir).state(slurm_live=set())[0] == R.LOST
    beat(run_dir, age=0)
    assert R.RunDir(run_dir).state(slurm_live=set())[0] == R.RUNNING  # Slurm forgot it; the beat did not


# ---- nothing live is relaunched or cleaned --------------------------------------------------------

@pytest.mark.parametrize("mode", ["start_restart", "start_continue", "gentle_start"])
def test_a_live_run_of_another_host_is_never_relaunched(remote_run, proj, mode):
    run_dir, ovs, marker = remote_run
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "--mode", mode, "--force", *ovs], cwd=proj)
    assert r.returncode == 0, r.stderr
    assert status(run_dir)["state"] == R.RUNNING and status(run_dir)["host"] == FAKE_HOST
    assert len(lines(marker)) == 1  # the task did not run again


def test_ctl_clean_never_wipes_a_live_run_of_another_host(remote_run, proj):
    run_dir, _, _ = remote_run
    r = run_cli(["ctl", "clean", "--yes"], cwd=proj)
    assert r.returncode == 0 and "no lost runs" in r.stderr, r.stderr
    assert (run_dir / R.STATUS).exists() and status(run_dir)["state"] == R.RUNNING


def test_a_stale_run_of_another_host_is_lost_and_start_restart_relaunches_it(remote_run, proj):
    run_dir, ovs, marker = remote_run
    beat(run_dir, age=L.stale_after() + 60)
    listed = run_cli(["ctl", "clean"], cwd=proj)
    assert f"lost  {run_dir}" in listed.stdout, listed.stdout + listed.stderr
    # a wipe needs a yes (--force); the point here is that start_restart decides to relaunch at all
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "--mode", "start_restart", "--force", *ovs], cwd=proj)
    assert r.returncode == 0, r.stderr
    assert len(lines(marker)) == 2
    st = status(run_dir)
    assert st["state"] == R.COMPLETED and st["host"] == L.this_host()


# ---- the job's own heartbeat ----------------------------------------------------------------------

def test_a_job_records_its_host_and_beats_until_it_ends(proj, tmp_path):
    release = tmp_path / "release"
    ovs = [f"release={release}"]
    env = {"HEYHI_HEARTBEAT_S": "0.2"}
    p = subprocess.Popen([*run_cli_argv(), "run", "-c", PROBE, "--no-daemon", *ovs], cwd=proj,
                         env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    try:
        run_dir = out_dir(proj, ovs)
        wait_for(lambda: status(run_dir).get("state") == R.RUNNING, 30, "the job to run")
        assert status(run_dir)["host"] == L.this_host()
        hb = run_dir / L.HEARTBEAT
        first = wait_for(lambda: hb.exists() and hb.stat().st_mtime_ns, 10, "a heartbeat")
        wait_for(lambda: hb.stat().st_mtime_ns > first, 10, "a second heartbeat")
        release.touch()
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert status(run_dir)["state"] == R.COMPLETED
    assert not list(run_dir.glob(".heyhi.reserve*")), "the disk-full reserve is removed at the end"


def run_cli_argv() -> list[str]:
    from conftest import heyhi_cmd

    return heyhi_cmd()
