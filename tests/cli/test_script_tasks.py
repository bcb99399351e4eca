"""A plain script is a task (issue 16): ``heyhi run train.py [overrides]`` end to end, through the
same paths as a config: composition against the derived schema, typed errors with "did you mean",
``--help-fields``, the run folder ``p/py_<folder>/<stem>/<tag>_<hash>`` (independent of where the
project is cloned), the records, the job running the script from the code snapshot, a 2x3 sweep
planned, run and planned again as completed, a rerun from the recorded schema."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli

ARGPARSE = textwrap.dedent('''\
    """Trains nothing: prints the flags it got (an argparse script)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description="a tiny trainer")
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--optim", choices=["sgd", "adam"], default="sgd", help="optimizer")
    parser.add_argument("--cuda", action="store_true", help="use the GPU")
    parser.add_argument("--layers", type=int, nargs="+", default=[2, 2], help="layer sizes")
    args = parser.parse_args()
    print("GOT", json.dumps(vars(args), sort_keys=True))
    ''')

GLOBALS = textwrap.dedent('''\
    """Module globals are the flags."""
    import json

    num_actors = 16
    rollout_length = 8
    gamma = 0.99
    name = "ppo"
    print("GOT", json.dumps({"num_actors": num_actors, "rollout_length": rollout_length, "gamma": gamma,
                             "name": name}, sort_keys=True))
    ''')


@pytest.fixture
def script_proj(tmp_path) -> Path:
    root = tmp_path / "lab"
    (root / "scripts").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "lab"\n')
    (root / "train.py").write_text(ARGPARSE)
    (root / "scripts" / "actors.py").write_text(GLOBALS)
    return root


def got(run_dir: Path) -> dict:
    lines = [x for x in (run_dir / "stdout.log").read_text().splitlines() if x.startswith("GOT ")]
    assert len(lines) == 1, (run_dir / "stdout.log").read_text() + (run_dir / "stderr.log").read_text()
    return json.loads(lines[0][4:])


def test_an_argparse_script_runs_as_a_task(script_proj, tmp_path):
    r = run_cli(["run", "train.py", "lr=0.5", "optim=adam", "--print-out-dir"], cwd=script_proj)
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.strip())
    import os
    results = Path(os.environ["HH_EXP_DIR"])
    rel = folder.relative_to(results)
    assert rel.parts[:3] == ("p", "py_", "train") and rel.parts[3].startswith("lr@0.5@optim@adam_"), rel

    help_fields = run_cli(["run", "train.py", "--help-fields"], cwd=script_proj)
    assert help_fields.returncode == 0, help_fields.stderr
    assert "learning rate" in help_fields.stdout and "random seed" in help_fields.stdout

    typo = run_cli(["run", "train.py", "lrr=0.1", "--print"], cwd=script_proj)
    assert typo.returncode != 0 and "Traceback" not in typo.stderr
    assert "lrr" in typo.stderr and "did you mean" in typo.stderr and "lr" in typo.stderr, typo.stderr
    bad = run_cli(["run", "train.py", "seed=many", "--print"], cwd=script_proj)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr, bad.stderr
    assert "'seed' expects int64" in bad.stderr and "the flag seed is defined at train.py:7" in bad.stderr, bad.stderr

    ran = run_cli(["run", "train.py", "lr=0.5", "optim=adam", "cuda=true", "layers=[4,8,16]", "--no-daemon"],
                  cwd=script_proj)
    assert ran.returncode == 0, ran.stderr
    folder = results / "p" / "py_" / "train"
    (run_dir,) = [d for d in folder.iterdir() if d.name.startswith("cuda@")]
    assert got(run_dir) == {"cuda": True, "layers": [4, 8, 16], "lr": 0.5, "optim": "adam", "seed": 0}
    assert (run_dir / "COMPLETED").exists() and (run_dir / "heyhi.script.json").is_file()
    info = json.loads((run_dir / "heyhi.run.json").read_text())
    assert info["script"] == "train.py" and info["code_dir"] != str(script_proj)  # ran from the snapshot

    # The same project cloned elsewhere names the same folder.
    clone = tmp_path / "elsewhere" / "lab-clone"
    shutil.copytree(script_proj, clone)
    again = run_cli(["run", "train.py", "cuda=true", "layers=[4,8,16]", "lr=0.5", "optim=adam", "--print-out-dir"],
                    cwd=clone)
    assert Path(again.stdout.strip()) == run_dir


def test_a_globals_script_gets_its_values_and_a_sweep_runs_and_plans_as_completed(script_proj):
    import os
    results = Path(os.environ["HH_EXP_DIR"])
    script = "scripts/actors.py"
    one = run_cli(["run", script, "num_actors=5", "name=impala", "--no-daemon"], cwd=script_proj)
    assert one.returncode == 0, one.stderr
    (run_dir,) = (results / "p" / "py_scripts" / "actors").iterdir()
    assert got(run_dir) == {"gamma": 0.99, "name": "impala", "num_actors": 5, "rollout_length": 8}

    sweep = ["run", script, "gamma=[0.9,0.99]", "rollout_length=[1,2,3]", "--no-daemon"]
    plan = run_cli([*sweep, "--plan"], cwd=script_proj)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines()[-1].startswith("6 points: 6 new"), plan.stdout
    ran = run_cli(sweep, cwd=script_proj)
    assert ran.returncode == 0, ran.stderr
    again = run_cli([*sweep, "--plan"], cwd=script_proj)
    assert again.stdout.splitlines()[-1].startswith("6 points: 0 new, 0 running, 6 completed"), again.stdout
    folders = sorted(d.name for d in (results / "p" / "py_scripts" / "actors").iterdir())
    assert len(folders) == 7  # the single run and the six points
    gammas = {got(results / "p" / "py_scripts" / "actors" / f)["gamma"] for f in folders}
    assert gammas == {0.9, 0.99}


def test_completion_of_a_script_task(script_proj):
    def tab(line: str) -> list[str]:
        r = run_cli(["__complete", "bash", str(len(line.encode())), line], cwd=script_proj)
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()[1:]

    assert tab("heyhi run tr") == ["train.py"]
    assert tab("heyhi run train.py optim") == ["optim="]
    assert tab("heyhi run train.py optim=a") == ["adam"]
    assert "launcher.slurm.partition=" in tab("heyhi run train.py launcher.slurm.par")


def test_a_sweep_file_on_a_script_in_a_project_without_conf(script_proj):
    (script_proj / "lr.yaml").write_text("config: train.py\nspace:\n  lr: [0.1, 0.2]\n  seed: [1, 2]\n")
    plan = run_cli(["sweep", "lr.yaml", "--plan"], cwd=script_proj)
    assert plan.returncode == 0, plan.stderr
    rows = plan.stdout.splitlines()
    assert rows[-1] == "4 points: 4 new, 0 running, 0 completed, 0 crashed, 0 lost"
    assert all("/p/py_/train/lr@" in r for r in rows[:-1]), rows
