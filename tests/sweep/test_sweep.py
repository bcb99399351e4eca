"""Sweeps without a daemon: the grammar, flag files, validation errors, planning, embedded runs of
the demo (report, plots, a second launch that launches nothing), lost runs and retries. Real CLI
processes on real folders."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_cli

from heyhi.cli.args import parse_run_args
from heyhi.sweep import Sweep, SweepSpec, build, looks_like_sweep, parse_metric, plan_states

SL = "conf/c02_sup_train/sl.prototxt"
PROBE = "conf/probe/probe.prototxt"


@pytest.fixture
def proj(tmp_path) -> Path:
    dst = tmp_path / "proj"
    shutil.copytree(REPO / "tests" / "project", dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


@pytest.fixture
def results() -> Path:
    return Path(os.environ["HH_EXP_DIR"])


def sweep_of(project: Path, cfg: str, *argv: str) -> Sweep:
    from heyhi.config.project import Project

    args = parse_run_args(["-c", str(project / cfg), *argv])
    return build(SweepSpec.from_run_args(args), Project(project))


def describe(sw: Sweep) -> list[str]:
    return [p.describe() for p in sw.points]


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# ---- grammar and expansion ---------------------------------------------------------------------------


def test_grid_order_and_folders_match_plain_runs(demo_project):
    sw = sweep_of(demo_project, SL, "lr=[0.1,0.5]", "seed=range(0,3)", "num_steps=30")
    assert describe(sw) == [f"lr={lr} seed={s}" for lr in ("0.1", "0.5") for s in range(3)]
    assert sw.points[4].overrides == ["lr=0.5", "seed=1", "num_steps=30"]
    r = run_cli(["run", "-c", SL, "--print-out-dir", "lr=0.5", "seed=1", "num_steps=30"], cwd=demo_project)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == sw.points[4].dir
    # the same command names the same sweep record; another command another one
    again = sweep_of(demo_project, SL, "lr=[0.1,0.5]", "seed=range(0,3)", "num_steps=30")
    assert again.sweep_dir == sw.sweep_dir and sw.sweep_dir.parent.parent.parent.name == "sweeps"
    assert sweep_of(demo_project, SL, "lr=[0.1,0.5]", "seed=range(0,3)", "num_steps=31").sweep_dir != sw.sweep_dir


def test_zip_choice_and_seeded_random_search(demo_project):
    z = sweep_of(demo_project, SL, "lr=[0.1,0.2,0.3]", "batch_size=[16,32,64]", "optimizer=choice(SGD,MOMENTUM)",
                 "--zip", "lr,batch_size")
    assert describe(z) == [f"lr={a} batch_size={b} optimizer={o}" for a, b in (("0.1", 16), ("0.2", 32), ("0.3", 64))
                           for o in ("SGD", "MOMENTUM")]
    args = ("lr=loguniform(1e-4,1e-1)", "data.noise=uniform(0,0.5)", "batch_size=randint(1,8)", "seed=[0,1]",
            "--trials", "5", "--sweep-seed", "3")
    a, b = sweep_of(demo_project, SL, *args), sweep_of(demo_project, SL, *args)
    assert describe(a) == describe(b) and len(a.points) == 10
    assert [p.trial for p in a.points] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    for p in a.points:
        v = p.params
        assert 1e-4 <= float(v["lr"]) <= 1e-1 and 0 <= float(v["data.noise"]) <= 0.5
        assert 1 <= int(v["batch_size"]) <= 8 and v["lr"] == repr(float(v["lr"]))  # written with repr
    other = sweep_of(demo_project, SL, *args[:-1], "4")
    assert describe(other) != describe(a) and other.sweep_dir != a.sweep_dir


def test_a_list_on_a_repeated_field_is_its_value(demo_project):
    from heyhi.config.project import Project

    sw = Sweep(SweepSpec.from_run_args(parse_run_args(["-c", str(demo_project / SL), "tags=[a,b]", "lr=[0.1,0.2]"])),
               Project(demo_project))
    sw.parse()
    sw.resolve()
    assert [a.key for a in sw.layout.axes] == ["lr"] and "tags=[a,b]" in sw.layout.template
    sw = Sweep(SweepSpec.from_run_args(parse_run_args(["-c", str(demo_project / SL), "tags=choice([a],[b,c])"])),
               Project(demo_project))
    sw.parse()
    sw.resolve()
    pts, _ = sw.layout.points()
    assert [p.overrides for p in pts] == [["tags=[a]"], ["tags=[b,c]"]]


def test_grammar_detection_and_metric_spec():
    assert looks_like_sweep("lr=[0.1,0.2]") and looks_like_sweep("@p.yaml") and looks_like_sweep("x=range(3)")
    assert not looks_like_sweep("name=foo(bar)") and not looks_like_sweep("lr=0.1")
    assert parse_metric("loss") == ("loss", "last", "min")
    assert parse_metric("accuracy") == ("accuracy", "last", "max")
    assert parse_metric("accuracy:max") == ("accuracy", "max", "max")
    assert parse_metric("loss:last:max") == ("loss", "last", "max")


def test_flag_files(demo_project, tmp_path):
    (tmp_path / "p.yaml").write_text("lr: [0.10, 0.5]\ndata:\n  noise: 0.2\noptimizer: MOMENTUM\n")
    sw = sweep_of(demo_project, SL, f"@{tmp_path / 'p.yaml'}", "seed=[0,1]")
    assert describe(sw)[0] == "lr=0.10 seed=0"  # the text as written: 0.10 stays 0.10
    assert sw.points[0].overrides == ["lr=0.10", "data.noise=0.2", "optimizer=MOMENTUM", "seed=0"]
    (tmp_path / "p.json").write_text('{"lr": 0.25, "batch_size": [8, 16], "tags": ["x", "y"]}')
    from heyhi.config.project import Project

    sw = Sweep(SweepSpec.from_run_args(parse_run_args(["-c", str(demo_project / SL), f"@{tmp_path / 'p.json'}"])),
               Project(demo_project))
    sw.parse()
    sw.resolve()  # (composing tags=[x,y] needs list values in heyhi.overrides: not validated here)
    assert [p.overrides for p in sw.layout.points()[0]] == [["lr=0.25", "batch_size=8", "tags=[x,y]"],
                                                           ["lr=0.25", "batch_size=16", "tags=[x,y]"]]
    (tmp_path / "rows.csv").write_text("lr,batch_size\n0.1,8\n0.2,\n")
    sw = sweep_of(demo_project, SL, f"@{tmp_path / 'rows.csv'}", "seed=[0,1]")
    assert describe(sw) == ["lr=0.1 batch_size=8 seed=0", "lr=0.1 batch_size=8 seed=1", "lr=0.2 seed=0",
                            "lr=0.2 seed=1"]
    (tmp_path / "rows.yaml").write_text("- {lr: 0.1, optimizer: SGD}\n- {lr: 0.3}\n")
    sw = sweep_of(demo_project, SL, f"@{tmp_path / 'rows.yaml'}")
    assert [p.overrides for p in sw.points] == [["lr=0.1", "optimizer=SGD"], ["lr=0.3"]]


@pytest.mark.parametrize("files, argv, message", [
    pytest.param({"p.yaml": "lr: 0.1\nbatch_sise: 3\n"}, ["@p.yaml", "seed=[0,1]"],
                 "p.yaml:2: unknown key 'batch_sise'; did you mean: batch_size", id="flagfile-unknown-key"),
    pytest.param({"p.csv": "lr,nosie\n0.1,2\n"}, ["@p.csv"], "p.csv:2: unknown key 'nosie'", id="csv-unknown-key"),
    pytest.param({"p.yaml": "{lr: choice(0.1, 0.2)}\n"}, ["@p.yaml"], "a comma ends the value; quote it",
                 id="yaml-flow-comma"),
    pytest.param({}, ["lr=[0.1,fast]", "seed=[0,1]"],
                 "sweep point 3 of 4 (lr=fast seed=0): override 'lr=[0.1,fast]': 'lr' expects float", id="list-type"),
    pytest.param({}, ["optimizer=[SGD,ADAM]"], "'optimizer' expects enum Optimizer: 'ADAM' is not one of",
                 id="list-enum"),
    pytest.param({}, ["lr=loguniform(0,1)", "--trials", "3"], "loguniform(low, high) needs 0 < low", id="bad-dist"),
    pytest.param({}, ["lr=uniform(1,0.5)", "--trials", "3"], "uniform(low, high) needs low < high", id="dist-order"),
    pytest.param({}, ["tags=uniform(0,1)", "--trials", "3"], "'tags' is repeated string", id="dist-on-list"),
    pytest.param({}, ["optimizer=uniform(0,1)", "--trials", "3"], "uniform() needs a number field", id="dist-type"),
    pytest.param({}, ["lr=loguniform(1e-3,1)"], "give --trials N", id="dist-without-trials"),
    pytest.param({}, ["x=range(0.5,2)"], "range() takes integers", id="range-floats"),
    pytest.param({}, ["lr=[0.1,0.2]", "seed=[1,2,3]", "--zip", "lr,seed"], "the lists differ in length", id="zip"),
])
def test_bad_sweeps_are_one_line_and_launch_nothing(demo_project, results, files, argv, message):
    for name, text in files.items():
        (demo_project / name).write_text(text)
    r = run_cli(["run", "-c", SL, *argv], cwd=demo_project)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr, r.stderr
    assert r.stderr.startswith("heyhi: ") and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not results.exists() or not any(results.iterdir())  # no run folder, no sweep record


# ---- the demo, embedded --------------------------------------------------------------------------------


def test_demo_grid_embedded_report_plots_relaunch_and_best(demo_project, results):
    import matplotlib.image as mpimg

    argv = ["run", "-c", SL, "lr=[0.1,0.5]", "seed=[0,1,2]", "num_steps=30"]
    plan = run_cli(argv + ["--plan"], cwd=demo_project)
    assert plan.returncode == 0 and last_line(plan.stdout) == "6 points: 6 new, 0 running, 0 completed, 0 crashed, 0 lost"
    assert not results.exists()  # --plan writes nothing
    r = run_cli(argv + ["--max-parallel", "2"], cwd=demo_project, timeout=180)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("completed in") == 6
    plan = run_cli(argv + ["--plan"], cwd=demo_project)
    assert last_line(plan.stdout) == "6 points: 0 new, 0 running, 6 completed, 0 crashed, 0 lost"
    dirs = [line.split()[1] for line in plan.stdout.splitlines()[:-1]]
    stamps = {d: os.stat(Path(d) / "heyhi.status.json").st_mtime_ns for d in dirs}

    rep = run_cli(["sweep", "report", str(sweep_of(demo_project, SL, *argv[3:]).sweep_dir), "--json"],
                  cwd=demo_project, timeout=120)
    assert rep.returncode == 0, rep.stderr
    data = json.loads(rep.stdout)
    assert data["metric"] == "loss" and data["direction"] == "min"
    rows = data["rows"]
    assert [r["params"]["lr"] for r in rows] and len(rows) == 2 and all(r["n"] == 3 for r in rows)
    for row in rows:  # recomputed from the metrics.jsonl files
        finals = []
        for d in row["run_dirs"]:
            recs = [json.loads(line) for line in (Path(d) / "metrics.jsonl").read_text().splitlines()]
            finals.append([x["loss"] for x in recs if "loss" in x][-1])
        assert row["mean"] == pytest.approx(statistics.fmean(finals), rel=1e-12)
        assert row["std"] == pytest.approx(statistics.stdev(finals), rel=1e-9)
    assert rows[0]["mean"] <= rows[1]["mean"]  # best first
    assert {Path(p).name for p in data["plots"]} == {"curves_loss.png", "loss_vs_lr.png"}
    for p in data["plots"]:
        h, w = mpimg.imread(p).shape[:2]
        assert w >= 400 and h >= 300, (p, w, h)
    text = run_cli(["sweep", "report", data["sweep_dir"], "--no-plots", "--metric", "accuracy:max"], cwd=demo_project)
    assert text.returncode == 0 and "accuracy mean" in text.stdout and "best point: accuracy=" in text.stdout
    csv_out = run_cli(["sweep", "report", data["sweep_dir"], "--csv", "--no-plots"], cwd=demo_project).stdout
    assert csv_out.splitlines()[0] == "lr,loss_mean,loss_std,n,points,run_dirs" and len(csv_out.splitlines()) == 3

    again = run_cli(argv, cwd=demo_project)  # a second identical launch launches nothing
    assert again.returncode == 0 and "nothing to launch" in again.stderr
    assert {d: os.stat(Path(d) / "heyhi.status.json").st_mtime_ns for d in dirs} == stamps

    best = rows[0]["params"]["lr"]
    b = run_cli(["sweep", "best", data["sweep_dir"], "--seeds", "0,1,2,3", "--plan"], cwd=demo_project)
    assert b.returncode == 0, b.stderr
    assert last_line(b.stdout) == "4 points: 1 new, 0 running, 3 completed, 0 crashed, 0 lost"
    assert all(f"lr@{best}@" in line for line in b.stdout.splitlines()[:-1])
    run = run_cli(["sweep", "best", data["sweep_dir"], "--seeds", "0,1,2,3", "--no-daemon"], cwd=demo_project,
                  timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("completed in") == 1 and f"lr={best}" in run.stderr


# ---- plan states, lost runs, retries --------------------------------------------------------------------


def make_lost(proj: Path, overrides: list[str]) -> Path:
    """A run queued by a launcher that died before starting it: lost."""
    from heyhi.config.compose import Composer
    from heyhi.runs.prepare import prepare_run
    from heyhi.runs.outdir import run_folder
    from heyhi.config.project import Project

    project = Project(proj)
    composed = Composer(project).compose(proj / PROBE, overrides)
    rd = run_folder(project.results_root, composed.config, project.conf_dir, composed.raw_overrides)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    prepare_run(project, composed, rd, owner_pid=dead.pid, checkpoint="")
    return rd


def test_plan_counts_clean_lost_and_retry_failed(proj, results):
    first = run_cli(["run", "-c", PROBE, "tag=range(0,3)", "exit_code=[0,3]", "--max-parallel", "3"], cwd=proj)
    assert first.returncode == 1, first.stderr  # three points exit 3
    lost = make_lost(proj, ["tag=3", "exit_code=0"])
    argv = ["run", "-c", PROBE, "tag=range(0,4)", "exit_code=[0,3]"]
    plan = run_cli(argv + ["--plan"], cwd=proj)
    assert plan.returncode == 0
    assert last_line(plan.stdout) == "8 points: 1 new, 0 running, 3 completed, 3 crashed, 1 lost"
    states = dict((line.split()[1], line.split()[0]) for line in plan.stdout.splitlines()[:-1])
    assert states[str(lost)] == "lost"

    refused = run_cli(["sweep", "clean"], cwd=proj)
    assert refused.returncode == 2 and f"lost  {lost}" in refused.stdout and "--yes" in refused.stderr
    assert lost.exists()
    cleaned = run_cli(["sweep", "clean", "--yes"], cwd=proj)
    assert cleaned.returncode == 0 and "wiped 1 lost runs" in cleaned.stderr and not lost.exists()
    assert last_line(run_cli(argv + ["--plan"], cwd=proj).stdout) == \
        "8 points: 2 new, 0 running, 3 completed, 3 crashed, 0 lost"

    plain = run_cli(argv + ["--max-parallel", "4"], cwd=proj)
    assert plain.returncode == 1 and plain.stderr.count(" run tag=") == 2  # only the new ones
    retry = run_cli(argv + ["--max-parallel", "4", "--retry-failed"], cwd=proj)
    assert retry.stderr.count(" run tag=") == 4  # the crashed ones, wiped and run again
    assert last_line(run_cli(argv + ["--plan"], cwd=proj).stdout) == \
        "8 points: 0 new, 0 running, 4 completed, 4 crashed, 0 lost"
    from heyhi.sweep import SweepSpec as S

    sw = sweep_of(proj, PROBE, "tag=range(0,4)", "exit_code=[0,3]")
    assert plan_states([p.dir for p in sw.points]).count("completed") == 4 and isinstance(sw.spec, S)


def test_plain_run_detection_is_the_grammar():
    """``heyhi run`` decides "sweep or not" with the grammar's one ``looks_like_sweep`` (no copy)."""
    import heyhi.cli.run as cli_run
    from heyhi.config import grammar

    assert cli_run.looks_like_sweep is grammar.looks_like_sweep is looks_like_sweep
    for tok in ("lr=[0.1,0.2]", "@p.yaml", "x=range(3)", "a=choice(x,y)", "lr=loguniform(1e-4, 1)", "n=randint(1,8)"):
        assert looks_like_sweep(tok), tok
    for tok in ("name=foo(bar)", "lr=0.1", "tags.-1=x", "Ilauncher=slurm_cpu", "s=[x"):
        assert not looks_like_sweep(tok), tok
