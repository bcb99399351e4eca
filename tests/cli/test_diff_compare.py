"""``heyhi diff`` and ``heyhi compare`` on real runs of the demo project (runs of well under a second):
the keys that differ with where each value came from (``heyhi.provenance.json``, recorded at launch),
and runs side by side grouped over the seed with mean, std and n, sorted, as CSV, JSON and plots."""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from pathlib import Path

import pytest

from conftest import run_cli
from waiting import status

DEMO = "conf/c02_sup_train/sl.prototxt"


def heyhi(cwd: Path, *args: str, **kw):
    return run_cli(list(args), cwd=cwd, **kw)


def run_here(proj: Path, *overrides: str) -> Path:
    r = heyhi(proj, "run", "-c", DEMO, *overrides, "--no-daemon")
    assert r.returncode == 0, r.stderr
    m = re.search(r"heyhi: completed: (\S+)\n", r.stderr)
    assert m, r.stderr
    return Path(m.group(1))


def final_loss(run_dir: Path) -> float:
    return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["loss"]


def one_line_error(r, code: int = 2) -> str:
    assert r.returncode == code and r.stderr.count("\n") == 1 and r.stderr.startswith("heyhi: "), r
    assert "Traceback" not in r.stderr
    return r.stderr


# ---- diff ---------------------------------------------------------------------------------------------


def test_diff_two_runs_names_where_each_value_came_from(demo_project):
    a = run_here(demo_project, "lr=0.1", "seed=1", "num_steps=20")
    b = run_here(demo_project, "num_steps=20")
    rec = json.loads((a / "heyhi.provenance.json").read_text())
    assert rec["format"] == 1 and rec["overrides"] == ["lr=0.1", "seed=1", "num_steps=20"]
    r = heyhi(demo_project, "diff", str(a), str(b))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == [f"a: {a}", f"b: {b}", "2 keys differ:"], r.stdout
    assert len(lines) == 7, r.stdout
    assert [x.split() for x in lines[3:]] == [
        ["lr", "a:", "0.1", "override", "lr=0.1"],
        ["b:", "0.5", "c02_sup_train/sl.prototxt:6"],  # set in the file, line 6
        ["seed", "a:", "1", "override", "seed=1"],
        ["b:", "0", "c02_sup_train/sl.prototxt:7"]], r.stdout
    js = json.loads(heyhi(demo_project, "diff", str(a), str(b), "--json").stdout)
    assert [(c["key"], c["a"], c["b"]) for c in js["changes"]] == [("lr", "0.1", "0.5"), ("seed", "1", "0")]
    assert (js["changes"][0]["a_source"], js["changes"][0]["b_source"]) == ("override lr=0.1", "c02_sup_train/sl.prototxt:6")
    assert rec["values"]["data.n_samples"] == "common/data/small.prototxt:1"  # an include's file and line
    assert js["a"]["provenance_recorded"] and js["b"]["provenance_recorded"] and not js["same"]
    # An older run (no record): values only, said once.
    (a / "heyhi.provenance.json").unlink()
    old = heyhi(demo_project, "diff", str(a), str(b))
    assert "a: no provenance record (launched before HeyHi recorded one): values only" in old.stdout
    assert re.search(r"\n  lr\s+a: 0\.1\n", old.stdout), old.stdout
    assert json.loads(heyhi(demo_project, "diff", str(a), str(b), "--json").stdout)["changes"][0]["a_source"] is None
    # A record from a newer HeyHi: one line, never guessed at.
    (a / "heyhi.provenance.json").write_text(json.dumps({"format": 99, "values": {}}))
    assert "record format 99 is newer than this HeyHi reads" in one_line_error(heyhi(demo_project, "diff", str(a), str(b)))


def test_diff_a_run_against_a_config_and_overrides(demo_project):
    a = run_here(demo_project, "lr=0.1", "num_steps=20")
    same = heyhi(demo_project, "diff", str(a), "-c", DEMO, "lr=0.1", "num_steps=20")
    assert same.returncode == 0 and same.stdout.splitlines()[-1] == "no differences", same
    r = heyhi(demo_project, "diff", str(a), "-c", DEMO, "num_steps=20", "batch_size=32", "-u")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == f"b: {DEMO} num_steps=20 batch_size=32"
    assert [x.split() for x in r.stdout.splitlines()[2:7]] == [
        ["2", "keys", "differ:"],
        ["batch_size", "a:", "64", "c02_sup_train/sl.prototxt:8"], ["b:", "32", "override", "batch_size=32"],
        ["lr", "a:", "0.1", "override", "lr=0.1"], ["b:", "0.5", "c02_sup_train/sl.prototxt:6"]], r.stdout
    assert "\n-  batch_size: 64\n+  batch_size: 32\n" in r.stdout  # -u: the line diff of the composed configs
    bad = heyhi(demo_project, "diff", str(a), "-c", DEMO, "batch_sizee=3")
    assert "batch_sizee" in one_line_error(bad)


@pytest.mark.parametrize("args, says", [
    (["diff"], "usage: heyhi diff"),
    (["diff", "RUN"], "diff takes two runs"),
    (["diff", "/no/such/run", "/no/such/other"], "/no/such/run: no such run folder"),
    (["diff", "zzzz", "yyyy"], "no job 'zzzz'"),
    (["diff", "a", "b", "--bogus"], "unknown flag '--bogus'"),
    (["compare"], "usage: heyhi compare"),
    (["compare", "/no/such/run"], "/no/such/run: not a run or a sweep"),
    (["compare", "x", "--sort"], "--sort needs a value"),
])
def test_bad_input_is_one_line(demo_project, args, says):
    r = heyhi(demo_project, *args)
    if args in (["diff"], ["compare"]):  # the command alone: its usage
        assert r.returncode == 2 and r.stdout.startswith(says), r
    else:
        assert says in one_line_error(r), r


def test_diff_by_job_id_through_the_daemon(demo_project, daemon):
    ra = heyhi(demo_project, "run", "-c", DEMO, "num_steps=20", "seed=4", "--wait")
    rb = heyhi(demo_project, "run", "-c", DEMO, "num_steps=20", "seed=5", "--wait")
    assert ra.returncode == 0 and rb.returncode == 0, (ra.stderr, rb.stderr)
    ja, jb = (re.search(r"\[job (\w+)\]", x.stderr).group(1) for x in (ra, rb))
    js = json.loads(heyhi(demo_project, "diff", ja[:6], jb, "--json").stdout)
    assert [(c["key"], c["a"], c["b"]) for c in js["changes"]] == [("seed", "4", "5")]
    assert (js["changes"][0]["a_source"], js["changes"][0]["b_source"]) == ("override seed=4", "override seed=5")


# ---- compare ------------------------------------------------------------------------------------------


def sweep(proj: Path, *tokens: str) -> tuple[str, list[Path]]:
    r = heyhi(proj, "run", "-c", DEMO, *tokens, "--max-parallel", "6")
    assert r.returncode == 0, r.stderr
    sid = re.search(r"heyhi: sweep (\w+):", r.stderr).group(1)
    dirs = heyhi(proj, "run", "-c", DEMO, *tokens, "--print-out-dir").stdout.split()
    assert all(status(Path(d)).get("state") == "completed" for d in dirs)
    return sid, [Path(d) for d in dirs]


def test_compare_groups_over_seed_with_mean_std_n(demo_project, tmp_path):
    sid, dirs = sweep(demo_project, "lr=[0.1,0.5]", "seed=[0,1,2]", "num_steps=20")
    by_lr = {lr: [final_loss(d) for d in dirs if f"lr@{lr}@" in d.name] for lr in ("0.1", "0.5")}
    js = json.loads(heyhi(demo_project, "compare", sid, "--json").stdout)
    assert js["metric"] == "loss" and js["group_over"] == ["seed"] and js["keys"] == ["lr"]
    groups = {g["params"]["lr"]: g for g in js["groups"]}
    for lr, vals in by_lr.items():
        g = groups[lr]
        assert g["n"] == 3 and g["states"] == {"completed": 3}
        assert g["mean"] == pytest.approx(statistics.fmean(vals)) and g["std"] == pytest.approx(statistics.stdev(vals))
        assert g["runtime_s"] is not None and g["best_mean"] <= g["mean"] + 1e-12
    assert [g["params"]["lr"] for g in js["groups"]] == sorted(by_lr, key=lambda k: statistics.fmean(by_lr[k]))
    assert len(js["runs"]) == 6 and {r["params"]["seed"] for r in js["runs"]} == {"0", "1", "2"}
    # The text table: one row per group, the mean, std and n in columns.
    text = heyhi(demo_project, "compare", sid).stdout.splitlines()
    assert text[0] == "6 runs; metric loss (final value; min is better); grouped over seed"
    assert text[1].split() == ["#", "lr", "loss", "mean", "std", "n", "loss", "best", "runtime", "state"]
    assert [x.split()[1] for x in text[2:]] == [g["params"]["lr"] for g in js["groups"]]
    assert all(x.split()[4] == "3" and x.endswith("3 completed") for x in text[2:])
    # Sorted by a column, either way; as CSV; the run folders themselves give the same groups.
    for key, order in (("lr", ["0.1", "0.5"]), ("-lr", ["0.5", "0.1"])):
        rows = list(csv.DictReader(io.StringIO(heyhi(demo_project, "compare", sid, "--sort", key, "--csv").stdout)))
        assert [r["lr"] for r in rows] == order and {r["n"] for r in rows} == {"3"}
        assert float(rows[0]["loss_mean"]) == pytest.approx(statistics.fmean(by_lr[order[0]]))
    folders = json.loads(heyhi(demo_project, "compare", *map(str, dirs), "--json").stdout)
    assert [(g["params"], g["n"], g["mean"]) for g in folders["groups"]] == \
        [(g["params"], g["n"], g["mean"]) for g in js["groups"]]
    # No grouping: one row per run; the sweep report's plots.
    flat = json.loads(heyhi(demo_project, "compare", sid, "--group-over", "none", "--json").stdout)
    assert len(flat["groups"]) == 6 and {g["n"] for g in flat["groups"]} == {1} and flat["keys"] == ["lr", "seed"]
    r = heyhi(demo_project, "compare", sid, "--plots", str(tmp_path / "plots"))
    plots = [Path(x.split("plot: ", 1)[1]) for x in r.stdout.splitlines() if x.startswith("plot: ")]
    assert {p.name for p in plots} == {"curves_loss.png", "loss_vs_lr.png"}
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)
    bad = heyhi(demo_project, "compare", sid, "--sort", "bogus")
    assert "--sort bogus: expected one of lr, mean, std, n, best, runtime, state" in one_line_error(bad)


def test_compare_several_sweeps_side_by_side(demo_project):
    s1, _ = sweep(demo_project, "lr=[0.1,0.5]", "seed=[0,1]", "num_steps=20")
    s2, _ = sweep(demo_project, "lr=[0.1,0.5]", "seed=[0,1]", "num_steps=20", "optimizer=MOMENTUM")
    js = json.loads(heyhi(demo_project, "compare", s1, s2, "--metric", "accuracy:max", "--json").stdout)
    assert js["metric"] == "accuracy" and js["mode"] == "max" and js["direction"] == "max"
    assert js["keys"] == ["lr", "optimizer"] and len(js["groups"]) == 4
    assert {g["n"] for g in js["groups"]} == {2}
    means = [g["mean"] for g in js["groups"]]
    assert means == sorted(means, reverse=True)  # best (max) first
    assert {g["params"].get("optimizer") for g in js["groups"]} == {None, "MOMENTUM"}
