"""Slurm through the daemon, end to end, on the real single-node test cluster: real sbatch, real
jobs running `python -m heyhi.job`, real squeue/sacct polling, cancel, restart, requeue, retries."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from daemon_util import DaemonProcess
from slurm_util import slurm_cluster  # noqa: F401  (fixture)
from waiting import lines, wait_for

from heyhi.wire import protocol as P
from heyhi.wire.client import Client

PROBE = "conf/probe/probe.prototxt"
pytestmark = pytest.mark.usefixtures("slurm_cluster")


@pytest.fixture
def squeue_log(tmp_path, monkeypatch) -> Path:
    """A squeue wrapper first on the daemon's PATH that logs every execution."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "squeue.calls"
    real = shutil.which("squeue")
    (bindir / "squeue").write_text(f'#!/bin/sh\necho "$(date +%s.%N) $*" >> {log}\nexec {real} "$@"\n')
    (bindir / "squeue").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return log


@pytest.fixture
def daemon(tmp_path, monkeypatch, squeue_log):
    d = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
    sock = d / "s" / "d.sock"
    monkeypatch.setenv("HEYHI_SOCKET", str(sock))
    monkeypatch.setenv("HEYHI_SLURM_MIN_POLL", "0.5")
    monkeypatch.setenv("HEYHI_SLURM_MAX_POLL", "2")
    proc = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    yield proc
    # Leave the shared 2-CPU cluster clean: cancel whatever this test's jobs still hold.
    try:
        with Client(str(sock)) as c:
            live = [j.slurm_id for j in c.request(P.ListJobs()).jobs
                    if j.slurm_id and j.state in ("submitted", "running", "requeued", "queued")]
    except Exception:
        live = []
    proc.stop()
    if live:
        subprocess.run(["scancel", *live], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


def launch(c, proj, overrides, mode="gentle_start", cfg=PROBE):
    return c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"], config=str(proj / cfg),
                              overrides=["Ilauncher=slurm_cpu", *overrides], mode=mode))


def show(c, job_id):
    return c.request(P.ShowJob(job=job_id))


def wait_state(c, job_id, states, timeout=120):
    states = {states} if isinstance(states, str) else set(states)
    return wait_for(lambda: (j := show(c, job_id).job).state in states and j, timeout, f"{job_id} in {states}")


def squeue_ids() -> set[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout
    return set(out.split())


def test_demo_training_on_slurm_with_live_log(daemon, tmp_path, demo_project):
    r = run_cli(["run", "-c", "conf/c02_sup_train/sl.prototxt", "Ilauncher=slurm_cpu", "num_steps=60",
                 "step_sleep_s=0.02"], cwd=demo_project)
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.strip()
    follow = run_cli(["ctl", "logs", job_id, "-f"], cwd=demo_project, timeout=180)
    assert follow.returncode == 0
    assert "done: loss" in follow.stdout and "step 60/60" in follow.stdout
    with Client(str(daemon.socket)) as c:
        j = wait_state(c, job_id, "completed")
        assert j.slurm_id and j.launcher == "slurm"
    run_dir = Path(j.run_dir)
    assert (run_dir / "slurm.sbatch").exists() and (run_dir / "COMPLETED").exists()
    assert (run_dir / "heyhi.jobid").read_text().strip() == j.slurm_id
    assert "done: loss" in (run_dir / "stdout.log").read_text()
    shown = run_cli(["ctl", "show", job_id], cwd=demo_project).stdout
    assert j.slurm_id in shown and "slurm state: COMPLETED" in shown


def test_exit_3_is_failed_with_code_3_and_cancel_is_cancelled(daemon, proj, tmp_path):
    release = tmp_path / "never"
    with Client(str(daemon.socket)) as c:
        bad = launch(c, proj, ["exit_code=3"])
        long = launch(c, proj, [f"release={release}", "tag=long"])
        j = wait_state(c, bad.job_id, ("crashed", "completed"))
        assert (j.state, j.exit_code) == ("crashed", 3)
        wait_for(lambda: show(c, bad.job_id).slurm_state == "FAILED", 60, "sacct's FAILED")
        wait_state(c, long.job_id, "running")
        c.request(P.Cancel(job=long.job_id))
        jl = show(c, long.job_id)
        assert jl.job.state == "cancelled"
        assert jl.job.slurm_id not in squeue_ids()
        wait_for(lambda: show(c, long.job_id).slurm_state == "CANCELLED", 60, "CANCELLED")


def test_rejected_submission_is_a_clear_error(daemon, proj):
    with Client(str(daemon.socket)) as c:
        with pytest.raises(P.DaemonError, match="nothing started: Slurm submission failed: sbatch failed: ") as e:
            launch(c, proj, ["launcher.slurm.partition=nope"])
        assert e.value.code == P.NOTHING_STARTED  # heyhi run exits 69
        # nothing ran: no job stays in the index, and the folder is not "crashed" (a gentle launch retries)
        assert not [j for j in c.request(P.ListJobs()).jobs if "nope" in j.run_dir]


def test_twenty_jobs_one_squeue_per_poll(daemon, proj, tmp_path, squeue_log):
    release = tmp_path / "release"
    with Client(str(daemon.socket)) as c:
        ids = [launch(c, proj, [f"release={release}", f"tag=t{i}", "lines=1"]).job_id for i in range(20)]
        wait_for(lambda: sum(show(c, i).job.state in ("running", "submitted") for i in ids) == 20, 60, "20 tracked")
        before = len(lines(squeue_log))
        daemon_polls_before = before
        wait_for(lambda: len(lines(squeue_log)) >= before + 5, 60, "5 more polls")
        release.touch()
        for i in ids:
            wait_state(c, i, "completed", timeout=240)
    calls = [line.split(" ", 1) for line in lines(squeue_log)]
    # every call is one batched query for all of the user's jobs, never one per job
    assert all("-j" not in args.split() and "--jobs" not in args for _, args in calls)
    stamps = sorted(float(t) for t, _ in calls[daemon_polls_before:])
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert min(gaps) > 0.3  # one call per poll interval, not a burst per job


def test_restart_of_a_running_slurm_job(daemon, proj, tmp_path):
    marker, release = tmp_path / "m", tmp_path / "r"
    with Client(str(daemon.socket)) as c:
        r = launch(c, proj, [f"marker={marker}", f"release={release}"])
        j = wait_state(c, r.job_id, "running")
        wait_for(lambda: lines(marker), 60, "the job's marker")
        old = j.slurm_id
        c.request(P.Restart(job=r.job_id, force=True))
        j2 = wait_state(c, r.job_id, "running")
        assert j2.slurm_id != old
        ids = squeue_ids()
        assert old not in ids and j2.slurm_id in ids
        slurm_ids = show(c, r.job_id).slurm_ids
        assert old in slurm_ids and j2.slurm_id in slurm_ids
        release.touch()
        wait_state(c, r.job_id, "completed")


def test_max_attempts_retries_then_stays_failed(daemon, proj):
    with Client(str(daemon.socket)) as c:
        r = launch(c, proj, ["exit_code=2", "launcher.slurm.max_attempts=3"])
        wait_for(lambda: (d := show(c, r.job_id)).job.attempts == 3 and d.job.state == "crashed", 240,
                 "three failed attempts")
        d = show(c, r.job_id)
        assert len(d.slurm_ids) == 3
        states = [h.state for h in d.history]
        assert states.count("crashed") >= 3 and d.job.exit_code == 2


@pytest.mark.timeout(420)
def test_time_limit_requeues_from_checkpoint_and_completes(daemon, demo_project):
    # 2-minute limit, warned 90 s before: each attempt gets at most ~30-90 s; training needs ~100 s.
    ovs = ["Ilauncher=slurm_cpu", "launcher.slurm.minutes=2", "launcher.slurm.signal_delay_s=90",
           "num_steps=500", "step_sleep_s=0.2", "checkpoint_every=10"]
    r = run_cli(["run", "-c", "conf/c02_sup_train/sl.prototxt", *ovs], cwd=demo_project)
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.strip()
    with Client(str(daemon.socket)) as c:
        j = wait_state(c, job_id, ("completed", "crashed", "lost", "cancelled"), timeout=400)
        assert j.state == "completed", j
        assert j.attempts >= 2
    out = (Path(j.run_dir) / "stdout.log").read_text()
    assert "resuming from step" in out and "step 500/500" in out
    hist = [h.state for h in show(Client(str(daemon.socket)), job_id).history]
    assert "requeued" in hist
