"""A plain script task on the real single-node Slurm test cluster (issue 16): the script's derived
schema carries HeyHi's launcher settings, the daemon submits it with sbatch, the job runs the script
from the code snapshot with the overrides as its argv, and the run ends completed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_cli
from slurm_util import slurm_cluster, slurm_daemon  # noqa: F401  (fixture)

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


def test_a_script_task_runs_on_slurm(daemon, tmp_path):
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "pyproject.toml").write_text('[project]\nname = "lab"\n')
    (lab / "train.py").write_text(TRAIN)
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
