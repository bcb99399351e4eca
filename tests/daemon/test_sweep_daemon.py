"""Sweeps through a real daemon: SIGKILL in the middle of a 12-point sweep and of a 12-trial
adaptive search, then a restart and the same launch again: every point runs exactly once and
the sweep completes; the study ends with exactly its budget of trials."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from daemon_util import DaemonProcess
from waiting import lines, wait_for

from heyhi.wire import protocol as P
from heyhi.wire.client import Client

PROBE = "conf/probe/probe.prototxt"


@pytest.fixture
def proj(tmp_path) -> Path:
    dst = tmp_path / "proj"
    shutil.copytree(REPO / "tests" / "project", dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


@pytest.fixture
def sock(monkeypatch, tmp_path):
    d = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
    s = d / "sock" / "d.sock"
    monkeypatch.setenv("HEYHI_SOCKET", str(s))
    monkeypatch.setenv("HEYHI_MAX_LOCAL_JOBS", "2")
    yield s
    shutil.rmtree(d, ignore_errors=True)


def status(sock: Path, sid: str, rows: bool = False) -> P.SweepInfo:
    with Client(str(sock)) as c:
        return c.request(P.SweepStatus(sweep=sid, rows=rows)).sweeps[0]


def kill9(d: DaemonProcess) -> None:
    os.kill(d.pid, signal.SIGKILL)
    d.proc.wait()


def test_kill9_mid_sweep_every_point_runs_once(proj, sock, tmp_path):
    marker, release = tmp_path / "marker", tmp_path / "release"
    argv = ["run", "-c", PROBE, "tag=range(0,12)", f"marker={marker}", f"release={release}", "--max-parallel", "3"]
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        r = run_cli(argv, cwd=proj)
        assert r.returncode == 0, r.stderr
        sid = r.stdout.strip()
        assert "the daemon launches 12, at most 3 at once" in r.stderr
        wait_for(lambda: len(lines(marker)) == 2, 60, "two points running")  # HEYHI_MAX_LOCAL_JOBS=2
        info = status(sock, sid)
        assert info.active and info.counts["running"] == 3 and info.counts["new"] == 9  # 2 running + 1 queued
        kill9(d)
    finally:
        d.stop()
    d2 = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        again = run_cli(argv, cwd=proj)  # the same sweep: nothing launched twice
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == sid and "9 new" in again.stderr
        release.touch()
        info = wait_for(lambda: (i := status(sock, sid, rows=True)).counts["completed"] == 12 and not i.active and i,
                        120, "the sweep to complete")
        assert info.total == 12 and not info.errors
        assert len(info.rows) == 12 and all(r["n"] == 0 and r["points"] == 1 for r in info.rows)  # probe logs no metric
        ran = [line.split()[1] for line in lines(marker)]
        assert len(ran) == 12 and len(set(ran)) == 12, ran  # every point exactly once
        with Client(str(sock)) as c:
            assert len(c.request(P.SweepStatus()).sweeps) == 1
        clean = run_cli(["ctl", "clean"], cwd=proj)
        assert clean.returncode == 0 and "no lost runs" in clean.stderr, clean.stderr
    finally:
        d2.stop()


SWEEP_FILE = """\
config: c02_sup_train/sl.prototxt
overrides: {num_steps: 20, step_sleep_s: 0.03, checkpoint_every: 1000}
space:
  lr: loguniform(0.01, 2.0)
  optimizer: choice(SGD, MOMENTUM)
search: adaptive
metric: loss:min
budget: 12
parallelism: 2
seed: 7
"""


def test_adaptive_search_survives_kill9(demo_project, sock, tmp_path):
    import optuna

    (demo_project / "conf" / "sweeps").mkdir(exist_ok=True)
    sf = demo_project / "conf" / "sweeps" / "adaptive_test.yaml"
    sf.write_text(SWEEP_FILE)
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        r = run_cli(["sweep", str(sf)], cwd=demo_project)
        assert r.returncode == 0, r.stderr
        sid = r.stdout.strip()
        info = wait_for(lambda: (i := status(sock, sid)).counts["completed"] >= 3 and i, 120, "three trials done")
        assert info.kind == "adaptive" and info.budget == 12 and info.active
        kill9(d)
    finally:
        d.stop()
    d2 = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        again = run_cli(["sweep", str(sf)], cwd=demo_project)
        assert again.returncode == 0 and again.stdout.strip() == sid, again.stderr
        info = wait_for(lambda: not (i := status(sock, sid, rows=True)).active and i, 180, "the search to end")
        assert not info.errors, info.errors
    finally:
        d2.stop()
    sweep_dir = Path(info.sweep_dir)
    study = optuna.load_study(study_name="heyhi", storage=f"sqlite:///{sweep_dir / 'study.db'}")
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 12
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials), [t.state for t in trials]
    assert info.trials == 12 and info.counts["completed"] == info.total
    best = min(t.value for t in trials)
    assert info.best["value"] == pytest.approx(best)
    # the resumed search did not replay its sampler: 12 distinct points
    assert len({(t.params["lr"], t.params["optimizer"]) for t in trials}) == 12
    # each trial's value is its point's best loss, read from its metrics.jsonl
    import json

    pts = [json.loads(x) for x in (sweep_dir / "points.jsonl").read_text().splitlines()]
    assert sorted(p["trial"] for p in pts) == list(range(12))
    for t in trials:
        p = next(p for p in pts if p["trial"] == t.number)
        assert p["params"] == {"lr": repr(t.params["lr"]), "optimizer": t.params["optimizer"]}
        losses = [json.loads(x)["loss"] for x in (Path(p["dir"]) / "metrics.jsonl").read_text().splitlines()]
        assert t.value == pytest.approx(min(losses))


def test_adaptive_trials_whose_points_crash_are_failed(demo_project, sock, tmp_path):
    import optuna

    sf = demo_project / "conf" / "sweeps" / "crashy.yaml"
    sf.parent.mkdir(exist_ok=True)
    # n_samples=0: the demo divides by zero when it evaluates, and the point crashes
    sf.write_text("config: c02_sup_train/sl.prototxt\noverrides: {num_steps: 10}\n"
                  "space:\n  data.n_samples: choice(0, 300)\n  lr: uniform(0.1, 1.0)\n"
                  "search: adaptive\nmetric: accuracy:max\nbudget: 6\nparallelism: 3\nsampler: random\nseed: 1\n")
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        r = run_cli(["sweep", str(sf), "--wait"], cwd=demo_project, timeout=180)
        assert r.returncode == 1, r.stderr  # some points crashed
        sid = r.stdout.strip().splitlines()[0]
        info = status(sock, sid)
    finally:
        d.stop()
    study = optuna.load_study(study_name="heyhi", storage=f"sqlite:///{Path(info.sweep_dir) / 'study.db'}")
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 6
    for t in trials:
        want = optuna.trial.TrialState.FAIL if t.params["data.n_samples"] == "0" else optuna.trial.TrialState.COMPLETE
        assert t.state == want, (t.params, t.state)
    assert {t.state for t in trials} == {optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE}
    assert study.best_trial.params["data.n_samples"] == "300" and info.direction == "max"
