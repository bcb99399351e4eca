"""Sweep and help details (issue 15, item 6), each symptom a regression test:

- an adaptive search whose metric no run logs (``metric: los:min``) stops after its first ended trial
  with one line naming the metric and the metrics runs do log, and ``--wait`` exits non-zero;
- ``--help-fields launchr`` suggests ``launcher``; ``--help-fields`` lists a repeated message's element fields;
- ``--retry-failed --plan`` says which points will be retried (not "crashed");
- every sweep-file error names ``file:line`` (``search: adaptve``, a bad ``space:`` key, ...);
- random-search values of new sweeps have 6 significant digits (the record says ``6g``), while a sweep
  recorded before keeps its ``repr`` values, so relaunching it launches nothing new;
- ``heyhi sweep list`` says ``done`` (not "idle") for a finished sweep.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from heyhi.sweep import load_sweep_file
from heyhi.errors import SweepError

from conftest import REPO, run_cli
from daemon_util import DaemonProcess

SL = "conf/c02_sup_train/sl.prototxt"
PROBE = "conf/probe/probe.prototxt"


@pytest.fixture
def sock(monkeypatch):
    d = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
    s = d / "sock" / "d.sock"
    monkeypatch.setenv("HEYHI_SOCKET", str(s))
    yield s
    shutil.rmtree(d, ignore_errors=True)


# ---- adaptive search: a metric no run logs ---------------------------------------------------------

def test_an_adaptive_search_of_a_metric_no_run_logs_stops_at_once(demo_project, sock, tmp_path):
    sf = demo_project / "conf" / "sweeps" / "typo.yaml"
    sf.parent.mkdir(exist_ok=True)
    sf.write_text("config: c02_sup_train/sl.prototxt\noverrides: {num_steps: 3, checkpoint_every: 1000}\n"
                  "space:\n  lr: loguniform(0.01, 2.0)\nsearch: adaptive\nmetric: los:min\nbudget: 8\n"
                  "parallelism: 1\nseed: 0\n")
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        r = run_cli(["sweep", str(sf), "--wait"], cwd=demo_project, timeout=120)
        listed = run_cli(["sweep", "list"], cwd=demo_project)
    finally:
        d.stop()
    assert r.returncode == 1, r.stderr
    line = ("metric 'los': no run logs it (runs log: accuracy, loss, lr); did you mean 'loss'?; "
            "the search stopped")
    errors = [x for x in r.stderr.splitlines() if line in x]
    assert len(errors) == 1, r.stderr
    sid = r.stdout.split()[0]
    row = next(x for x in listed.stdout.splitlines() if x.startswith(sid))
    assert " stopped " in row and re.search(r", 1/8 trials ", row), row  # one trial, not the budget of 8
    assert "error: " + line in listed.stdout


# ---- --help-fields ---------------------------------------------------------------------------------------

def test_help_fields_suggests_the_closest_field_and_lists_element_fields():
    r = run_cli(["run", "-c", SL, "--help-fields", "launchr"])
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("heyhi: --help-fields launchr: no field 'launchr'; did you mean: launcher")
    assert r.stderr.count("\n") == 1
    r = run_cli(["run", "-c", SL, "--help-fields", "lr_schedule"])
    assert r.returncode == 0, r.stderr
    keys = [x.split()[0] for x in r.stdout.splitlines()[1:]]
    assert keys == ["lr_schedule", "lr_schedule.N.step", "lr_schedule.N.factor"]
    assert re.search(r"^lr_schedule\.N\.factor\s+float\s+0\.1\b", r.stdout, re.M)
    r0 = run_cli(["run", "-c", SL, "--help-fields", "lr_schedule.0"])
    assert [x.split()[0] for x in r0.stdout.splitlines()[1:]] == keys[1:]


# ---- --retry-failed --plan, and sweep list -------------------------------------------------------------

def test_retry_failed_plan_says_retry_and_a_finished_sweep_is_done(proj):
    sweep = ["run", "-c", PROBE, "crash=[false,true]", "--no-daemon"]
    r = run_cli(sweep, cwd=proj)
    assert r.returncode == 1, r.stderr  # one point crashed
    plan = run_cli([*sweep, "--plan", "--retry-failed"], cwd=proj)
    assert plan.returncode == 0, plan.stderr
    rows = plan.stdout.splitlines()
    assert rows[0].startswith("completed ") and rows[1].startswith("retry ") and rows[1].endswith("(was crashed)")
    assert not any(x.startswith("crashed ") for x in rows), plan.stdout
    assert rows[-1] == ("2 points: 0 new, 0 running, 1 completed, 1 crashed, 0 lost; a launch runs 0 new and retries 1 "
                        "(crashed or lost: wiped and run again)")
    plain = run_cli([*sweep, "--plan"], cwd=proj).stdout.splitlines()  # without the flag: as it is
    assert plain[1].startswith("crashed ") and plain[-1].endswith("1 crashed, 0 lost")
    listed = run_cli(["sweep", "list"], cwd=proj)
    assert listed.returncode == 0 and " done " in listed.stdout and "idle" not in listed.stdout, listed.stdout


# ---- sweep-file errors name file:line -----------------------------------------------------------------

BASE = "config: c02_sup_train/sl.prototxt\n"


@pytest.mark.parametrize("text, line, words", [
    pytest.param(BASE + "space:\n  lr: uniform(0.1, 1)\nsearch: adaptve\nbudget: 3\n", 4,
                 "search 'adaptve': expected one of grid, random, adaptive; did you mean: adaptive", id="search-typo"),
    pytest.param(BASE + "budget: -1\n", 2, "budget -1: expected a positive integer", id="budget"),
    pytest.param(BASE + "search: random\n", 2, "search random needs a budget", id="random-without-budget"),
    pytest.param(BASE + "metric: ':max'\n", 2, "--metric ':max': expected NAME", id="metric"),
    pytest.param(BASE + "direction: up\n", 2, "direction 'up': expected min or max", id="direction"),
    pytest.param(BASE + "sampler: grid\n", 2, "sampler 'grid': expected tpe, random, cmaes or qmc", id="sampler"),
    pytest.param(BASE + "parallelism: 0\n", 2, "parallelism 0: expected a positive integer", id="parallelism"),
    pytest.param(BASE + "seed: x\n", 2, "seed 'x': expected an integer", id="seed"),
    pytest.param(BASE + "zip: 3\n", 2, "zip is a list of swept keys", id="zip"),
    pytest.param(BASE + "group_over: {a: 1}\n", 2, "group_over is a list of keys", id="group-over"),
    pytest.param(BASE + "search: [grid]\n", 2, "'search' takes one value, not a list", id="list-for-a-value"),
    pytest.param(BASE + "space: 3\n", 2, "'space' is a mapping of key: value", id="space-not-a-mapping"),
    pytest.param(BASE + "serach: grid\n", 2, "unknown key 'serach'; did you mean: search", id="unknown-key"),
    pytest.param(BASE + "search: grid\nsearch: grid\n", 3, "'search' is given twice", id="twice"),
    pytest.param("# no config\nbudget: 3\n", 2, "'config' is required", id="no-config"),
    pytest.param("config: nope.prototxt\n", 1, "config 'nope.prototxt' not found", id="config-not-found"),
    pytest.param("- a\n- b\n", 1, "a sweep file is a mapping", id="not-a-mapping"),
])
def test_sweep_file_errors_name_file_and_line(text, line, words, demo_project):
    sf = demo_project / "conf" / "bad.yaml"
    sf.write_text(text)
    with pytest.raises(SweepError) as e:
        load_sweep_file(sf, project_root=demo_project)
    assert str(e.value).startswith(f"{sf}:{line}: ") and words in str(e.value) and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize("text, line, words", [
    pytest.param(BASE + "space:\n  lr: [0.1, 0.2]\n  lrr: [1, 2]\n", 4, "unknown key 'lrr'", id="space-key"),
    pytest.param(BASE + "overrides:\n  num_step: 3\nspace:\n  lr: [0.1, 0.2]\n", 3, "unknown key 'num_step'",
                 id="overrides-key"),
    pytest.param(BASE + "space:\n  lr: [0.1, fast]\n", 3, "'lr' expects float (a number), got 'fast'", id="space-value"),
    pytest.param(BASE + "space:\n  lr: uniform(1)\n", 3, "uniform(low, high) takes two numbers", id="space-syntax"),
    pytest.param(BASE + "space:\n  lr: [0.1, 0.2]\n  seed: [1]\nzip: [lr, batch_size]\n", 5,
                 "zip lr,batch_size: 'batch_size' is not a swept key", id="zip-key"),
    pytest.param(BASE + "space:\n  lr: [0.1, 0.2]\nsearch: random\nbudget: 3\n", 4,
                 "search random samples distributions", id="random-nothing-sampled"),
])
def test_sweep_file_errors_found_when_checking_points_name_file_and_line(text, line, words, demo_project):
    sf = demo_project / "conf" / "bad.yaml"
    sf.write_text(text)
    r = run_cli(["sweep", str(sf), "--plan"], cwd=demo_project)
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert r.stderr.count("\n") == 1 and f"{sf}:{line}: " in r.stderr and words in r.stderr, r.stderr


# ---- random-search values: 6 significant digits, repr in sweeps recorded before -----------------------

def _sampled(folder: str) -> str:
    return re.search(r"sle@([^@_]+)", Path(folder).name).group(1)


def test_new_random_sweeps_write_6_digits_and_old_records_keep_repr(proj):
    sweep = ["run", "-c", PROBE, "sleep_s=loguniform(0.0001,0.001)", "--trials", "3", "--sweep-seed", "5", "--no-daemon"]
    planned = run_cli([*sweep, "--print-out-dir"], cwd=proj)
    assert planned.returncode == 0, planned.stderr
    values = [_sampled(x) for x in planned.stdout.split()]
    rng = random.Random(5)
    import math

    exact = [math.exp(rng.uniform(math.log(0.0001), math.log(0.001))) for _ in range(3)]
    assert values == [format(x, ".6g") for x in exact]
    assert all(len(v.replace("0.", "").lstrip("0")) <= 6 for v in values)

    r = run_cli(sweep, cwd=proj)  # run the points: the record says 6g
    assert r.returncode == 0, r.stderr
    sdir = Path(re.search(r"\((/[^)]+)\)\n", r.stderr).group(1))
    rec = json.loads((sdir / "sweep.json").read_text())
    assert rec["spec"]["value_format"] == "6g"

    # The same sweep as an older HeyHi recorded it: no value_format, its points named with repr.
    del rec["spec"]["value_format"]
    (sdir / "sweep.json").write_text(json.dumps(rec))
    old = run_cli([*sweep, "--print-out-dir"], cwd=proj)
    assert [_sampled(x) for x in old.stdout.split()] == [repr(x) for x in exact]
    r = run_cli(sweep, cwd=proj)  # the old sweep's points run (as they did under the older HeyHi) ...
    assert r.returncode == 0, r.stderr
    assert json.loads((sdir / "sweep.json").read_text())["spec"]["value_format"] == "repr"  # ... and it stays repr
    again = run_cli(sweep, cwd=proj)  # relaunching launches nothing new
    assert again.returncode == 0 and "nothing to launch: 3 points: 0 new, 0 running, 3 completed" in again.stderr, again.stderr
