"""A plain script task on the real single-node Slurm test cluster (issue 16): the script's derived
schema carries HeyHi's launcher settings, the daemon submits it with sbatch, the job runs the script
from the code snapshot with the overrides as its argv, and the run ends completed. An adaptive
search of such a script on Slurm (issue 17) submits the trials it asks together as one job array."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_cli
from slurm_util import slurm_cluster, slurm_daemon  # noqa: F401  (fixture)

from heyhi.wire import protocol as P
from heyhi.wire.client import Client

pytestmark = pytest.mark.usefixtures("slurm_cluster")
SLURM_WAIT_S = 600  # the test cluster is shared: other tests' jobs may hold its CPUs for a while

TRAIN = '''\
import argparse
import json
import os

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1, help="learning rate")
p.add_argument("--steps", type=int, default=3, help="steps")
args = p.parse_args()
print("GOT", json.dumps({**vars(args), "slurm": os.environ.get("SLURM_JOB_ID")}))
'''


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    yield from slurm_daemon(tmp_path, monkeypatch)


def make_lab(tmp_path: Path, train: str) -> Path:
    """A project of one plain script, ``train.py``."""
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "pyproject.toml").write_text('[project]\nname = "lab"\n')
    (lab / "train.py").write_text(train)
    return lab


def test_a_script_task_runs_on_slurm(daemon, tmp_path):
    lab = make_lab(tmp_path, TRAIN)
    r = run_cli(["run", "train.py", "lr=0.5", "launcher.slurm.minutes=5", "launcher.slurm.signal_delay_s=60",
                 "--wait"], cwd=lab, timeout=SLURM_WAIT_S)
    assert r.returncode == 0, r.stderr
    (run_dir,) = (p for p in Path(os.environ["HH_EXP_DIR"]).rglob("heyhi.script.json"))
    run_dir = run_dir.parent
    assert "/p/py_/train/" in str(run_dir)
    status = json.loads((run_dir / "heyhi.status.json").read_text())
    assert status["state"] == "completed" and status["launcher"] == "slurm", status
    got = [x for x in (run_dir / "stdout.log").read_text().splitlines() if x.startswith("GOT ")]
    values = json.loads(got[0][4:])
    assert values["lr"] == 0.5 and values["steps"] == 3 and values["slurm"] == status["slurm_id"].split("_")[0]


# ---- an adaptive search on Slurm: the trials asked together, up to its parallelism, go out as one job
# array, not as single jobs; the search ends with its budget of trials, each point run once.

SEARCH_TRAIN = '''\
import argparse

import heyhi

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1, help="learning rate")
args = p.parse_args()
heyhi.log_metrics(0, loss=(args.lr - 0.3) ** 2)
'''

SWEEP = """\
config: train.py
overrides: {launcher.slurm.minutes: 5, launcher.slurm.signal_delay_s: 60}
space:
  lr: uniform(0.0, 1.0)
search: adaptive
metric: loss:min
budget: 4
parallelism: 2
sampler: random
seed: 0
"""


def test_an_adaptive_search_on_slurm_submits_its_trials_as_arrays(daemon, tmp_path):
    lab = make_lab(tmp_path, SEARCH_TRAIN)
    (lab / "search.yaml").write_text(SWEEP)
    r = run_cli(["sweep", "search.yaml", "--wait"], cwd=lab, timeout=SLURM_WAIT_S)
    assert r.returncode == 0, r.stderr
    with Client(str(daemon.socket)) as c:
        (info,) = [s for s in c.request(P.SweepStatus(rows=True)).sweeps if s.kind == "adaptive"]
    assert not info.active and info.counts["completed"] == 4 and info.budget == 4, info
    sdir = Path(info.sweep_dir)

    scripts = sorted((sdir / "arrays").glob("*.sbatch"))
    sizes = [int(line.split("=0-")[1].split("%")[0]) + 1 if "=0-" in line else 1
             for s in scripts for line in s.read_text().splitlines() if line.startswith("#SBATCH --array")]
    assert sizes[0] == 2 and sum(sizes) == 4 and len(sizes) < 4, sizes  # the first two trials: one array
    arrays = {(sdir / "arrays" / f"{s.stem}.jobid").read_text().strip() for s in scripts}
    runs = [Path(line) for f in sorted((sdir / "arrays").glob("*.folders")) for line in f.read_text().splitlines()]
    assert len(runs) == len(set(runs)) == 4  # each point run once
    for run_dir in runs:
        status = json.loads((run_dir / "heyhi.status.json").read_text())
        assert status["state"] == "completed" and status["launcher"] == "slurm", status
        array, _, task = (run_dir / "heyhi.jobid").read_text().strip().partition("_")
        assert array in arrays and task.isdigit()  # a task of one of the arrays, never a single job
        assert (run_dir / "metrics.jsonl").exists()
