"""Every script style of issue 16 through the CLI, on the scripts of ``tests/scripts/`` (the model
each follows is named in its file): ``--help-fields`` from the script's own help, a typo answered
with "did you mean", a 2x3 sweep planned, run and planned again as all completed, with the folder
names the same on every plan and run (and named ``p/py_<folder>/<stem>/...``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_cli

SCRIPTS = REPO / "tests" / "scripts"

# script -> (a doc its --help-fields shows, a typo and the key it suggests, the sweep's overrides)
CASES = {
    "hypers_dict.py": ("num_actors", ("num_actor=3", "num_actors"), ["num_actors=[1,2]", "seed=[1,2,3]"]),
    "globals_style.py": ("num_actors", ("rollout_lenght=3", "rollout_length"), ["discount=[0.9,0.99]", "seed=[1,2,3]"]),
    "argparse20.py": ("learning rate", ("lrr=0.1", "lr"), ["lr=[0.1,0.2]", "seed=[1,2,3]"]),
    "subcommands.py": ("passes over the data", ("seeed=2", "seed"), ["fit.data=d.txt", "seed=[1,2]", "fit.epochs=[1,2,3]"]),
    "mnist_main.py": ("random seed", ("gama=0.5", "gamma"), ["gamma=[0.5,0.7]", "epochs=[1,2,3]"]),
    "rl_hypers.py": ("learning_rate", ("discunt=0.5", "discount"), ["discount=[0.9,0.99]", "batch_size=[1,2,3]"]),
}


@pytest.fixture
def lab(tmp_path) -> Path:
    root = tmp_path / "lab"
    (root / "scripts").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "lab"\n')
    for name in CASES:
        shutil.copy(SCRIPTS / name, root / "scripts" / name)
    shutil.copy(SCRIPTS / "args.py", root / "scripts" / "args.py")  # what some scripts import
    return root


def plan_rows(r) -> tuple[list[str], str]:
    lines = r.stdout.strip().splitlines()
    return lines[:-1], lines[-1]


@pytest.mark.parametrize("name", list(CASES))
def test_a_script_style_through_the_cli(lab, name):
    doc, (typo, suggested), sweep = CASES[name]
    script = f"scripts/{name}"
    help_fields = run_cli(["run", script, "--help-fields"], cwd=lab)
    assert help_fields.returncode == 0 and doc in help_fields.stdout, help_fields.stdout + help_fields.stderr

    bad = run_cli(["run", script, typo, "--print"], cwd=lab)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr, bad.stderr
    assert "did you mean" in bad.stderr and suggested in bad.stderr.split("did you mean", 1)[1], bad.stderr

    cmd = ["run", script, *sweep, "--no-daemon"]
    rows, summary = plan_rows(run_cli([*cmd, "--plan"], cwd=lab))
    assert summary.startswith("6 points: 6 new"), summary
    ran = run_cli(cmd, cwd=lab)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    rows2, summary2 = plan_rows(run_cli([*cmd, "--plan"], cwd=lab))
    assert summary2.startswith("6 points: 0 new, 0 running, 6 completed"), summary2
    assert [r.split(None, 1)[1] for r in rows2] == [r.split(None, 1)[1] for r in rows]  # the same points

    stem = name[:-3]
    folder = Path(os.environ["HH_EXP_DIR"]) / "p" / "py_scripts" / stem
    runs = sorted(folder.iterdir())
    assert len(runs) == 6 and all((d / "COMPLETED").exists() for d in runs), runs
    first = run_cli(["run", script, *[s.replace("[", "").split(",")[0] for s in sweep], "--print-out-dir"], cwd=lab)
    assert first.returncode == 0 and Path(first.stdout.strip()) in runs, first.stdout + first.stderr
