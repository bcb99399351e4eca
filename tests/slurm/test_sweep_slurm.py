"""Sweeps on the real single-node Slurm test cluster: a sweep goes out as job arrays (split at the
array size limit, throttled with %N), each task runs its point's folder, squeue's folded pending
ranges are followed without a point ever looking lost; ``--plan`` on a half-done sweep counts
right, and launching it launches only its new points."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from slurm_util import slurm_cluster, slurm_daemon  # noqa: F401  (fixture)
from waiting import wait_for

from heyhi.wire import protocol as P
from heyhi.wire.client import Client

PROBE = "conf/probe/probe.prototxt"
pytestmark = pytest.mark.usefixtures("slurm_cluster")
# The test cluster is shared: other tests' jobs may hold its 2 CPUs for a while.
SLURM_WAIT_S = 600


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    # HEYHI_MAX_ARRAY_SIZE: below the cluster's MaxArraySize: shows the split
    yield from slurm_daemon(tmp_path, monkeypatch, HEYHI_MAX_ARRAY_SIZE="4")


def status(sock, sid) -> P.SweepInfo:
    with Client(str(sock)) as c:
        return c.request(P.SweepStatus(sweep=sid)).sweeps[0]


def history_states(run_dir: Path) -> list[str]:
    import json

    return [h["state"] for h in json.loads((run_dir / "heyhi.status.json").read_text())["history"]]


def test_sweep_as_throttled_job_arrays_and_plan_of_a_half_done_sweep(daemon, proj):
    base = ["run", "-c", PROBE, "Ilauncher=slurm_cpu", "exit_code=[0,3]"]
    r = run_cli(base + ["tag=range(0,3)", "--max-parallel", "2"], cwd=proj)
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()
    info = wait_for(lambda: not (i := status(daemon.socket, sid)).active and i, SLURM_WAIT_S, "the sweep to end")
    assert (info.counts["completed"], info.counts["crashed"], info.counts["lost"]) == (3, 3, 0), info
    sdir = Path(info.sweep_dir)
    scripts = sorted((sdir / "arrays").glob("*.sbatch"))
    arrays = [line for s in scripts for line in s.read_text().splitlines() if line.startswith("#SBATCH --array")]
    assert arrays == ["#SBATCH --array=0-3%2", "#SBATCH --array=0-1%2"]  # 6 points, 4 per array, one %2 throttle
    jobids = [(sdir / "arrays" / f"{s.stem}.jobid").read_text().strip() for s in scripts]
    assert f"#SBATCH --dependency=afterany:{jobids[0]}" in scripts[1].read_text()  # the second after the first
    folders = [line for f in sorted((sdir / "arrays").glob("*.folders")) for line in f.read_text().splitlines()]
    jobids = [(sdir / "arrays" / f"{s.stem}.jobid").read_text().strip() for s in scripts]
    for n, d in enumerate(folders):
        task = n if n < 4 else n - 4
        run_dir = Path(d)
        assert (run_dir / "heyhi.jobid").read_text().strip() == f"{jobids[n // 4]}_{task}"
        states = history_states(run_dir)
        assert "lost" not in states and states[-1] in ("completed", "crashed"), states
        ok = "exi@0" in run_dir.name
        assert states[-1] == ("completed" if ok else "crashed") and ("probe done" in (run_dir / "stdout.log").read_text()) == ok

    half = base + ["tag=range(0,4)"]
    plan = run_cli(half + ["--plan"], cwd=proj)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.strip().splitlines()[-1] == "8 points: 2 new, 0 running, 3 completed, 3 crashed, 0 lost"
    new = [line for line in plan.stdout.splitlines()[:-1] if line.startswith("new")]
    assert len(new) == 2 and all(line.endswith(" tag=3") for line in new), new
    r2 = run_cli(half + ["--max-parallel", "2"], cwd=proj)
    assert r2.returncode == 0 and "the daemon launches 2" in r2.stderr, r2.stderr
    sid2 = r2.stdout.strip()
    info2 = wait_for(lambda: not (i := status(daemon.socket, sid2)).active and i, SLURM_WAIT_S, "the second sweep")
    assert (info2.counts["completed"], info2.counts["crashed"]) == (4, 4)
    new_scripts = sorted((Path(info2.sweep_dir) / "arrays").glob("*.sbatch"))
    assert len(new_scripts) == 1 and "#SBATCH --array=0-1%2" in new_scripts[0].read_text()
    again = run_cli(half + ["--plan"], cwd=proj)
    assert again.stdout.strip().splitlines()[-1] == "8 points: 0 new, 0 running, 4 completed, 4 crashed, 0 lost"
