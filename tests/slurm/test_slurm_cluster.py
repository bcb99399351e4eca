"""The Slurm launcher against the real single-node test cluster (tests/cluster/up.sh).

Each job is a batch script rendered by render_sbatch whose "python" is a wrapper around
tests/cluster/fake_job.py (a FAKE heyhi.job: it prints, exits N, sleeps, or waits for USR2).
States are observed only through SlurmPoller, waiting with a bound, never a bare fixed sleep.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import pytest

try:
    from slurm_util import slurm_cluster  # noqa: F401  (fixture)
except ImportError:  # tests/ imported as a package
    from tests.slurm_util import slurm_cluster  # noqa: F401

from heyhi.launchers.slurm import SlurmError, cancel, requeue, run_slurm, submit
from heyhi.slurm.script import SlurmSpec, render_sbatch
from heyhi_daemon.launchers.slurm_poller import JobChange, SlurmPoller

FAKE_JOB = Path(__file__).resolve().parents[1] / "cluster" / "fake_job.py"
pytestmark = pytest.mark.usefixtures("slurm_cluster")


@pytest.fixture
def fake_python(tmp_path) -> str:
    """An executable standing in for `python`: runs the fake job with this interpreter."""
    p = tmp_path / "bin" / "python"
    p.parent.mkdir()
    p.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE_JOB))} \"$@\"\n")
    p.chmod(0o755)
    return str(p)


@pytest.fixture
def jobs():
    """Job ids submitted by a test; whatever is left is cancelled afterwards."""
    ids: list[str] = []
    yield ids
    for j in ids:
        try:
            cancel(j)
        except SlurmError:
            pass


def launch(tmp_path, fake_python, jobs, name, mode, spec=None, **env) -> tuple[str, Path]:
    run_dir = tmp_path / f"run {name}"  # a space: the paths must be quoted everywhere
    run_dir.mkdir()
    spec = spec or SlurmSpec(job_name=f"heyhi-test-{name}", minutes=10)
    script = run_dir / "job.sbatch"
    script.write_text(render_sbatch(spec, run_dir, fake_python, {"FAKE_JOB_MODE": mode, **env}))
    job_id = submit(script)
    jobs.append(job_id)
    return job_id, run_dir


def wait_for(poller: SlurmPoller, job_id: str, pred, timeout: float = 90.0) -> list[JobChange]:
    """Poll (every 0.2 s, not the poller's own back-off) until a change for job_id satisfies
    pred; return all changes seen for it. Fails after `timeout` seconds."""
    seen: list[JobChange] = []
    deadline = time.monotonic() + timeout
    while True:
        for c in poller.poll():
            if c.job_id == job_id:
                seen.append(c)
                if pred(c):
                    return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id}: no matching change within {timeout:.0f} s; saw {seen}")
        time.sleep(0.2)


def test_job_exiting_3_ends_crashed_with_exit_code_3(tmp_path, fake_python, jobs):
    job_id, run_dir = launch(tmp_path, fake_python, jobs, "exit3", "exit:3")
    p = SlurmPoller()
    p.track(job_id)
    seen = wait_for(p, job_id, lambda c: c.exit_code is not None)
    last = seen[-1]
    assert (last.slurm_state, last.state, last.exit_code) == ("FAILED", "crashed", 3), seen
    assert last.reason.startswith("FAILED") and last.node
    assert job_id not in p.tracked
    assert "mode=exit:3" in (run_dir / "stdout.log").read_text()
    assert (run_dir / "slurm.out").exists()  # sbatch's own output went to the run dir


def test_completed_job(tmp_path, fake_python, jobs):
    job_id, run_dir = launch(tmp_path, fake_python, jobs, "ok", "print")
    p = SlurmPoller()
    p.track(job_id)
    last = wait_for(p, job_id, lambda c: c.exit_code is not None)[-1]
    assert (last.slurm_state, last.state, last.exit_code) == ("COMPLETED", "completed", 0)
    assert f"fake job {job_id} mode=print cwd={run_dir}" in (run_dir / "stdout.log").read_text()


def test_cancelled_job(tmp_path, fake_python, jobs):
    job_id, _ = launch(tmp_path, fake_python, jobs, "cancel", "sleep")
    p = SlurmPoller()
    p.track(job_id)
    wait_for(p, job_id, lambda c: c.slurm_state == "RUNNING")
    cancel(job_id)
    last = wait_for(p, job_id, lambda c: c.exit_code is not None)[-1]
    assert (last.slurm_state, last.state) == ("CANCELLED", "cancelled"), last


def test_usr2_reaches_the_job_through_the_batch_shell(tmp_path, fake_python, jobs):
    """What --signal=B:USR2@90 does before the time limit, sent now with scancel --batch."""
    job_id, run_dir = launch(tmp_path, fake_python, jobs, "usr2", "wait_usr2")
    p = SlurmPoller()
    p.track(job_id)
    wait_for(p, job_id, lambda c: c.slurm_state == "RUNNING")
    # the job may not have installed its handler yet: wait for its first line
    deadline = time.monotonic() + 30
    while "mode=wait_usr2" not in ((run_dir / "stdout.log").read_text() if (run_dir / "stdout.log").exists() else ""):
        assert time.monotonic() < deadline, "fake job did not start"
        time.sleep(0.05)
    cancel(job_id, signal="USR2")
    last = wait_for(p, job_id, lambda c: c.exit_code is not None)[-1]
    assert (run_dir / "got_usr2").exists()
    # the batch shell kept waiting after forwarding and exited with the job's own status
    assert (last.slurm_state, last.state, last.exit_code) == ("FAILED", "crashed", 42), last
    assert "#SBATCH --signal=B:USR2@90" in (run_dir / "job.sbatch").read_text()


def test_requeue_is_reported(tmp_path, fake_python, jobs):
    job_id, _ = launch(tmp_path, fake_python, jobs, "requeue", "sleep")
    p = SlurmPoller()
    p.track(job_id)
    wait_for(p, job_id, lambda c: c.slurm_state == "RUNNING")
    requeue(job_id)
    c = wait_for(p, job_id, lambda c: c.state == "requeued")[-1]
    assert c.slurm_state == "PENDING", c
    cancel(job_id)
    last = wait_for(p, job_id, lambda c: c.exit_code is not None)[-1]
    assert last.state == "cancelled"


def test_rejected_submission_raises_one_line(tmp_path, fake_python, jobs):
    with pytest.raises(SlurmError) as e:
        launch(tmp_path, fake_python, jobs, "bad", "print", SlurmSpec(partition="no_such_partition"))
    msg = str(e.value)
    assert "\n" not in msg and "partition" in msg.lower(), msg


def test_one_squeue_call_per_poll_for_20_jobs(tmp_path, fake_python, jobs):
    """20 tracked jobs: a logging `squeue` first on PATH proves one squeue call per poll, and
    the finished ones cost at most one sacct per poll."""
    real = {name: shutil.which(name) for name in ("squeue", "sacct")}
    assert all(real.values())
    wrap_dir = tmp_path / "wrap"
    wrap_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, path in real.items():
        w = wrap_dir / name
        w.write_text(f'#!/bin/sh\necho {name} >> {shlex.quote(str(log))}\nexec {shlex.quote(path)} "$@"\n')
        w.chmod(0o755)
    env = {**os.environ, "PATH": f"{wrap_dir}{os.pathsep}{os.environ['PATH']}"}
    p = SlurmPoller(lambda argv: run_slurm(argv, env=env))

    held = SlurmSpec(job_name="heyhi-test-held", extra_sbatch_flags=["--hold"])
    ids = [launch(tmp_path, fake_python, jobs, f"held{i}", "print", held)[0] for i in range(20)]
    p.track_many(ids)

    def calls(name):
        return log.read_text().split().count(name) if log.exists() else 0

    first = p.poll()
    assert sorted(c.job_id for c in first) == sorted(ids)
    assert {(c.state, c.reason) for c in first} == {("submitted", "JobHeldUser")}
    for _ in range(4):
        assert p.poll() == []
    assert calls("squeue") == p.polls == 5 and calls("sacct") == 0

    for j in ids:
        cancel(j)
    done: dict[str, JobChange] = {}
    deadline = time.monotonic() + 60
    while len(done) < 20:
        assert time.monotonic() < deadline, f"only {len(done)} of 20 cancellations seen"
        for c in p.poll():
            if c.exit_code is not None:
                done[c.job_id] = c
        time.sleep(0.2)
    assert {c.state for c in done.values()} == {"cancelled"}
    assert calls("squeue") == p.polls
    assert 1 <= calls("sacct") <= p.polls - 5
    assert p.tracked == set()
