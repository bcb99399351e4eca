"""A 2-task job on the real single-node test cluster (CPU only): both ranks run ``python -m heyhi.job``
under srun, see their distributed environment, and only rank 0 claims the run and writes its records; a
failing rank 1 fails the job, named in the status. The test project's schema has no rank fields, so
``ntasks`` comes from ``[tool.heyhi.launcher]`` of its pyproject.toml (as for a Cicero schema). One test
runs a real ``python -m heyhi.job`` as rank 1 of a FAKE Slurm job (its environment only) outside Slurm."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON, run_cli
from slurm_util import slurm_cluster, slurm_daemon  # noqa: F401  (fixture)
from waiting import status, wait_for

from heyhi.wire import protocol as P
from heyhi.wire.client import Client

PROBE = "conf/probe/probe.prototxt"
ENDED = ("completed", "crashed", "cancelled", "lost")


@pytest.fixture
def daemon(tmp_path, monkeypatch, slurm_cluster):  # noqa: F811
    yield from slurm_daemon(tmp_path, monkeypatch)


@pytest.fixture
def two_tasks(proj) -> Path:
    (proj / "pyproject.toml").write_text("[tool.heyhi.launcher]\nntasks = 2\n")
    return proj


def launch(c, proj, overrides):
    return c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"], config=str(proj / PROBE),
                              overrides=["Ilauncher=slurm_cpu", *overrides], mode="gentle_start"))


def ended(c, job_id, timeout=300):
    """The job once it ended (the shared 2-CPU cluster may queue it behind other tests' jobs)."""
    try:
        return wait_for(lambda: (j := c.request(P.ShowJob(job=job_id)).job).state in ENDED and j, timeout,
                        f"{job_id} to end")
    finally:
        j = c.request(P.ShowJob(job=job_id)).job
        if j.slurm_id and j.state not in ENDED:
            subprocess.run(["scancel", j.slurm_id], capture_output=True)


def env_line(path: Path) -> dict[str, str]:
    line = next(x for x in path.read_text().splitlines() if x.startswith("env "))
    return dict(kv.split("=", 1) for kv in line.split()[1:])


def test_two_ranks_see_their_environment_and_only_rank_0_records(daemon, two_tasks):
    with Client(str(daemon.socket)) as c:
        r = launch(c, two_tasks, ["print_env=true", "tag=ranks"])
        j = ended(c, r.job_id)
    run = Path(j.run_dir)
    assert (j.state, j.exit_code) == ("completed", 0), (j, (run / "stderr.log").read_text())
    script = (run / "slurm.sbatch").read_text()
    assert "#SBATCH --ntasks-per-node=2" in script and "\nsrun --unbuffered --kill-on-bad-exit=1 " in script
    r0, r1 = env_line(run / "stdout.log"), env_line(run / "stdout.rank1.log")
    assert (r0["RANK"], r0["LOCAL_RANK"], r0["is_master"], r0["job_env_rank"]) == ("0", "0", "True", "0")
    assert (r1["RANK"], r1["LOCAL_RANK"], r1["is_master"], r1["job_env_rank"]) == ("1", "1", "False", "1")
    for r in (r0, r1):
        assert (r["WORLD_SIZE"], r["LOCAL_WORLD_SIZE"]) == ("2", "2")
    assert (r0["MASTER_ADDR"], r0["MASTER_PORT"]) == (r1["MASTER_ADDR"], r1["MASTER_PORT"])
    node = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], capture_output=True, text=True).stdout.split()[0]
    assert r0["MASTER_ADDR"] == node  # the first (here: only) host of the allocation
    assert int(r0["MASTER_PORT"]) == 15000 + int(j.slurm_id) % 15000
    # only rank 0 claimed the run and wrote its records; rank 1 reported its end for rank 0
    status = json.loads((run / "heyhi.status.json").read_text())
    assert [h["state"] for h in status["history"]].count("running") == 1
    assert json.loads((run / "result.json").read_text()) == {"tag": "ranks"}
    assert "probe done" in (run / "stdout.log").read_text() and "probe done" in (run / "stdout.rank1.log").read_text()
    rank1_err = (run / "stderr.rank1.log").read_text()
    assert "not running it twice" not in rank1_err and "did not claim" not in rank1_err
    ex = json.loads((run / "heyhi.rank1.exit").read_text())
    assert (ex["rank"], ex["exit_code"], ex["job"]) == (1, 0, f"{j.slurm_id}:0")
    assert not (run / "CRASH.txt").exists()


def test_failing_rank_1_fails_the_job_naming_it(daemon, two_tasks):
    # rank 0 sleeps (as if stuck in a collective); rank 1 exits 3 at once: the job ends long before rank 0 would
    with Client(str(daemon.socket)) as c:
        r = launch(c, two_tasks, ["exit_code=3", "only_rank=1", "sleep_s=200", "tag=fail1"])
        j = ended(c, r.job_id)
        wait_for(lambda: c.request(P.ShowJob(job=r.job_id)).slurm_state == "FAILED", 90, "sacct's FAILED")
    run = Path(j.run_dir)
    status = json.loads((run / "heyhi.status.json").read_text())
    at = {h["state"]: h["at"] for h in status["history"]}
    assert at["crashed"] - at["running"] < 60  # rank 0's 200 s sleep was cut short
    assert (j.state, j.exit_code) == ("crashed", 3), j
    assert status["reason"] == "rank 1 failed: exit 3" and j.reason == "rank 1 failed: exit 3"
    assert (run / "CRASH.txt").read_text() == "rank 1 failed: exit 3: exit code 3 (see stderr.rank1.log)\n"
    assert "heyhi.job: rank 1 failed: exit 3" in (run / "stderr.log").read_text()
    # rank 0 was still in its task: it never completed, and never wrote a result
    assert "probe done" not in (run / "stdout.log").read_text() and not (run / "result.json").exists()


def test_a_rank_above_0_never_claims_a_run(proj):
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "tag=done"], cwd=proj)
    assert r.returncode == 0, r.stderr
    run = Path(run_cli(["run", "-c", PROBE, "--print-out-dir", "tag=done"], cwd=proj).stdout.strip())
    before = (run / "heyhi.status.json").read_text()
    fake = {"SLURM_JOB_ID": "999999", "SLURM_PROCID": "1", "SLURM_LOCALID": "1", "SLURM_NTASKS": "2",
            "SLURM_JOB_NODELIST": "vm"}  # a FAKE Slurm task: rank 1 of a job whose run is already completed
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    p = subprocess.run([PYTHON, "-m", "heyhi.job", str(run)], env={**env, **fake}, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0  # never ALREADY_CLAIMED (75): rank 1 does not claim at all
    assert (run / "stderr.rank1.log").read_text() == (
        f"heyhi.job: rank 1: rank 0 did not claim {run} as this job (it is completed): not running\n")
    assert (run / "heyhi.status.json").read_text() == before and status(run)["state"] == "completed"
    assert not (run / "heyhi.rank1.exit").exists() and (run / "stdout.rank1.log").read_text() == ""
