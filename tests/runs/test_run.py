"""`heyhi run` end to end, embedded (no daemon): modes, records, crashes, locks, wipes,
snapshots and resuming. Every test drives the real CLI in subprocesses on real folders."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, heyhi_cmd, run_cli
from waiting import lines, live_group_members, status, wait_for

PROBE = "conf/probe/probe.prototxt"


@pytest.fixture
def results(tmp_path) -> Path:
    return Path(os.environ["HH_EXP_DIR"])


def out_dir(proj: Path, overrides: list[str]) -> Path:
    r = run_cli(["run", "-c", PROBE, "--print-out-dir", *overrides], cwd=proj)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


def popen(proj: Path, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(heyhi_cmd() + args, cwd=proj, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL, start_new_session=True)


def start_detached(proj: Path, overrides: list[str]) -> Path:
    """A running job nobody waits on (as the daemon starts them): prepare the folder, start the job."""
    from heyhi.config.compose import Composer
    from heyhi.launchers.local import start_local
    from heyhi.runs.prepare import prepare_run
    from heyhi.runs.outdir import run_folder
    from heyhi.config.project import Project

    project = Project(proj)
    composed = Composer(project).compose(proj / PROBE, overrides)
    rd = run_folder(project.results_root, composed.config, project.conf_dir, composed.raw_overrides)
    prepare_run(project, composed, rd)
    start_local(rd)
    wait_for(lambda: status(rd).get("state") == "running", what="the job to run")
    return rd


# ---- modes x folder states ----------------------------------------------------------------------

EXPECT = {
    # mode: {state: (runs, wipes)}
    "gentle_start": {"fresh": (True, False), "completed": (False, False), "crashed": (False, False), "running": (False, False)},
    "start_restart": {"fresh": (True, False), "completed": (False, False), "crashed": (True, True), "running": (False, False)},
    "start_continue": {"fresh": (True, False), "completed": (False, False), "crashed": (True, False), "running": (False, False)},
    "restart": {"fresh": (True, False), "completed": (True, True), "crashed": (True, True), "running": (True, True)},
    "dryrun": {"fresh": (False, False), "completed": (False, False), "crashed": (False, False), "running": (False, False)},
}


@pytest.mark.parametrize("state", ["fresh", "completed", "crashed", "running"])
@pytest.mark.parametrize("mode", list(EXPECT))
def test_mode_decisions(mode, state, proj, tmp_path):
    marker, release, crash = tmp_path / "marker", tmp_path / "release", tmp_path / "crash"
    ovs = [f"marker={marker}", f"release={release}", f"crash_file={crash}"]
    rd = out_dir(proj, ovs)
    if state in ("completed", "crashed"):
        release.touch()
        if state == "crashed":
            crash.touch()
        r = run_cli(["run", "-c", PROBE, "--no-daemon", *ovs], cwd=proj)
        assert r.returncode == (1 if state == "crashed" else 0), r.stderr
        assert status(rd)["state"] == state
        crash.unlink(missing_ok=True)
        release.unlink()
    elif state == "running":
        start_detached(proj, ovs)
        wait_for(lambda: lines(marker), what="the running job's marker")
    if state != "fresh":
        (rd / "sentinel.txt").write_text("from before")
    before = len(lines(marker))
    p = popen(proj, ["run", "-c", PROBE, "--no-daemon", "--mode", mode, "--force", *ovs])
    runs, wipes = EXPECT[mode][state]
    if runs:
        wait_for(lambda: len(lines(marker)) > before, what="the new run to start")
    release.touch()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert f"heyhi: {mode}: " in err and str(rd) in err  # one line saying what it decided and why
    assert len(lines(marker)) == before + (1 if runs else 0)
    assert (rd / "sentinel.txt").exists() == (state != "fresh" and not wipes)
    if runs:
        assert status(rd)["state"] == "completed"
    if state == "running" and mode == "restart":
        hist = [h["state"] for h in status(rd)["history"]]
        assert hist[-1] == "completed" and "cancelled" not in hist  # the folder holds only the new run


def test_restart_stops_the_running_job(proj, tmp_path):
    marker, release = tmp_path / "m", tmp_path / "r"
    ovs = [f"marker={marker}", f"release={release}"]
    rd = start_detached(proj, ovs)
    wait_for(lambda: lines(marker), what="the first job's marker")
    old_pid = status(rd)["pid"]
    p = popen(proj, ["run", "-c", PROBE, "--no-daemon", "--mode", "restart", "--force", *ovs])
    wait_for(lambda: len(lines(marker)) == 2 or p.poll() is not None, what="the new run")
    assert p.poll() is None, p.stderr.read()
    assert not live_group_members(old_pid)  # the old process group is gone
    release.touch()
    p.communicate(timeout=60)
    assert p.returncode == 0


def test_restart_kills_a_job_that_ignores_sigterm(proj, tmp_path):
    marker, release = tmp_path / "m", tmp_path / "r"
    ovs = [f"marker={marker}", f"release={release}", "ignore_term=true"]
    rd = start_detached(proj, ovs)
    wait_for(lambda: lines(marker), what="the first job's marker")
    old_pid = status(rd)["pid"]
    release_later = [f"marker={marker}", f"release={release}", "ignore_term=true"]
    p = popen(proj, ["run", "-c", PROBE, "--no-daemon", "--mode", "restart", "--force", *release_later])
    wait_for(lambda: len(lines(marker)) == 2, timeout=60, what="the new run after SIGKILL")
    assert not live_group_members(old_pid)
    release.touch()
    p.communicate(timeout=60)


# ---- records ------------------------------------------------------------------------------------

def test_records_of_a_completed_run(proj):
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "lines=3", "tag=hello"], cwd=proj)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:3] == ["1", "2", "3"]  # echoed to the terminal
    rd = out_dir(proj, ["lines=3", "tag=hello"])
    for f in ("config.prototxt", "config_meta.prototxt", "heyhi.overrides", "heyhi.version.json",
              "heyhi.status.json", "heyhi.jobid", "stdout.log", "stderr.log", "COMPLETED", "result.json"):
        assert (rd / f).exists(), f
    assert (rd / "heyhi.overrides").read_text() == "lines=3\ntag=hello\n"
    assert 'tag: "hello"' in (rd / "config.prototxt").read_text()
    assert "probe {" in (rd / "config_meta.prototxt").read_text()
    assert json.loads((rd / "result.json").read_text()) == {"tag": "hello"}
    st = status(rd)
    assert st["state"] == "completed" and st["exit_code"] == 0
    assert [h["state"] for h in st["history"]] == ["queued", "running", "completed"]
    assert (rd / "heyhi.jobid").read_text().startswith("local:")
    v = json.loads((rd / "heyhi.version.json").read_text())
    assert v["heyhi_version"] and v["snapshot"]
    assert (rd / "stdout.log").read_text().splitlines()[:3] == ["1", "2", "3"]


def test_a_crash_leaves_crash_txt_and_fails(proj):
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "crash=true"], cwd=proj)
    assert r.returncode == 1
    rd = out_dir(proj, ["crash=true"])
    crash = (rd / "CRASH.txt").read_text()
    assert "Traceback" in crash and "RuntimeError: probe crashed on purpose" in crash
    st = status(rd)
    assert st["state"] == "crashed" and st["exit_code"] == 1 and "probe crashed" in st["reason"]
    assert not (rd / "COMPLETED").exists()


def test_exit_code_is_recorded_and_returned(proj):
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "exit_code=3"], cwd=proj)
    assert r.returncode == 3
    st = status(out_dir(proj, ["exit_code=3"]))
    assert st["state"] == "crashed" and st["exit_code"] == 3


def test_run_py_behaves_like_heyhi_run(proj):
    a = run_cli(["run", "-c", PROBE, "--print-out-dir", "tag=x"], cwd=proj).stdout
    b = subprocess.run([sys.executable, "run.py", "-c", PROBE, "--print-out-dir", "tag=x"], cwd=proj,
                       capture_output=True, text=True, env=os.environ).stdout
    assert a == b and a.strip()
    r = subprocess.run([sys.executable, "run.py", "-c", PROBE, "--no-daemon", "tag=y"], cwd=proj,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert status(out_dir(proj, ["tag=y"]))["state"] == "completed"


def test_unknown_task_lists_known_tasks(proj):
    r = run_cli(["run", "-c", "conf/probe/other.prototxt", "--no-daemon"], cwd=proj)
    assert r.returncode == 2
    assert "unknown task 'other'" in r.stderr and "known tasks: probe" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not any(Path(os.environ["HH_EXP_DIR"]).glob("p/probe/other/*"))  # no half-written folder


def test_bad_mode_is_a_usage_error(proj):
    r = run_cli(["run", "-c", PROBE, "--mode", "sometimes"], cwd=proj)
    assert r.returncode == 2 and "--mode 'sometimes'" in r.stderr and "Traceback" not in r.stderr


# ---- concurrency and locks -------------------------------------------------------------------

def test_two_launches_at_once_one_runs(proj, tmp_path):
    marker, release = tmp_path / "m", tmp_path / "r"
    ovs = [f"marker={marker}", f"release={release}"]
    a = popen(proj, ["run", "-c", PROBE, "--no-daemon", *ovs])
    b = popen(proj, ["run", "-c", PROBE, "--no-daemon", *ovs])
    wait_for(lambda: len(lines(marker)) >= 1 and (a.poll() is not None or b.poll() is not None),
             what="one launch to run and the other to give up")
    release.touch()
    codes = sorted([a.wait(60), b.wait(60)])
    assert codes == [0, 3]
    assert len(lines(marker)) == 1
    loser = a if a.returncode == 3 else b
    assert "taken by another launch" in loser.stderr.read()


# ---- wiping safely ---------------------------------------------------------------------------

def _crashed_folder(proj, results, ovs, crash) -> Path:
    crash.touch()
    r = run_cli(["run", "-c", PROBE, "--no-daemon", *ovs], cwd=proj)
    assert r.returncode == 1
    return out_dir(proj, ovs)


def test_wipe_refuses_a_folder_outside_the_results_root(proj, tmp_path):
    """A run folder outside every configured results root that HeyHi did not create at --out (here:
    moved there by hand, so the user's state does not record it) is never wiped."""
    made = tmp_path / "made" / "run"
    outside = tmp_path / "outside" / "run"
    crash = tmp_path / "c"
    crash.touch()
    assert run_cli(["run", "-c", PROBE, "--no-daemon", f"crash_file={crash}", "--out", str(made)], cwd=proj).returncode == 1
    outside.parent.mkdir()
    shutil.copytree(made, outside)
    assert status(outside)["state"] == "crashed"
    ovs = [f"crash_file={crash}", "--out", str(outside)]
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "--mode", "restart", "--force", *ovs], cwd=proj)
    assert r.returncode == 2
    assert "refusing to wipe" in r.stderr and "not under a results root you configured" in r.stderr
    assert (outside / "heyhi.status.json").exists()


def test_a_folder_heyhi_made_at_out_is_wiped_to_the_trash_beside_it(proj, tmp_path):
    outside = tmp_path / "outside" / "run"
    crash = tmp_path / "c"
    ovs = [f"crash_file={crash}", "--out", str(outside)]
    crash.touch()
    assert run_cli(["run", "-c", PROBE, "--no-daemon", *ovs], cwd=proj).returncode == 1
    (outside / "my_notes.txt").write_text("keep me")
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "--mode", "restart", "--force", *ovs], cwd=proj)
    assert r.returncode == 1, r.stderr  # ran again (and crashed again)
    assert "the old run is in the trash" in r.stderr
    trashed = list((tmp_path / "outside" / ".heyhi-trash").glob("*/run/my_notes.txt"))
    assert [t.read_text() for t in trashed] == ["keep me"]


def test_wipe_refuses_a_symlinked_run_folder(proj, tmp_path, results):
    crash = tmp_path / "c"
    ovs = [f"crash_file={crash}"]
    rd = _crashed_folder(proj, results, ovs, crash)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(rd), str(elsewhere))
    rd.symlink_to(elsewhere)
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "--mode", "restart", "--force", *ovs], cwd=proj)
    assert r.returncode == 2 and "symlink" in r.stderr
    assert (elsewhere / "heyhi.status.json").exists()


def test_wipe_does_not_follow_symlinks_inside(proj, tmp_path, results):
    crash = tmp_path / "c"
    ovs = [f"crash_file={crash}"]
    rd = _crashed_folder(proj, results, ovs, crash)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep me")
    (rd / "link").symlink_to(precious)
    crash.unlink()
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "--mode", "restart", "--force", *ovs], cwd=proj)
    assert r.returncode == 0, r.stderr
    assert (precious / "data.txt").read_text() == "keep me"
    assert not (rd / "link").exists()


def test_wipe_without_a_terminal_needs_force(proj, tmp_path, results):
    crash = tmp_path / "c"
    ovs = [f"crash_file={crash}"]
    rd = _crashed_folder(proj, results, ovs, crash)
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "--mode", "restart", *ovs], cwd=proj)
    assert r.returncode == 2 and "--force" in r.stderr
    assert status(rd)["state"] == "crashed"


# ---- code snapshots --------------------------------------------------------------------------

def test_job_runs_the_code_as_it_was_at_launch(proj, tmp_path):
    marker, release = tmp_path / "m", tmp_path / "r"
    ovs = [f"marker={marker}", f"release={release}", "import_module=helper_mod"]
    p = popen(proj, ["run", "-c", PROBE, "--no-daemon", *ovs])
    wait_for(lambda: lines(marker), what="the job to start")
    (proj / "helper_mod.py").write_text('VERSION = "new"\n')  # edited before the job imports it
    release.touch()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "helper_mod.VERSION=old" in out


def test_checkpoint_empty_disables_the_snapshot(proj, tmp_path):
    marker, release = tmp_path / "m", tmp_path / "r"
    ovs = [f"marker={marker}", f"release={release}", "import_module=helper_mod", "--checkpoint="]
    p = popen(proj, ["run", "-c", PROBE, "--no-daemon", *ovs])
    wait_for(lambda: lines(marker), what="the job to start")
    (proj / "helper_mod.py").write_text('VERSION = "new"\n')
    release.touch()
    out, _ = p.communicate(timeout=60)
    assert "helper_mod.VERSION=new" in out


# ---- resuming --------------------------------------------------------------------------------

def test_interrupted_training_resumes_with_start_continue(demo_project):
    ovs = ["step_sleep_s=0.01", "num_steps=300", "checkpoint_every=10"]
    cfg = "conf/c02_sup_train/sl.prototxt"
    rd = Path(run_cli(["run", "-c", cfg, "--print-out-dir", *ovs], cwd=demo_project).stdout.strip())
    p = popen(demo_project, ["run", "-c", cfg, "--no-daemon", *ovs])
    metrics = rd / "metrics.jsonl"
    wait_for(lambda: len(lines(metrics)) >= 10, timeout=60, what="100 training steps")
    job_pid = status(rd)["pid"]
    os.killpg(p.pid, signal.SIGKILL)  # the launcher dies...
    os.killpg(job_pid, signal.SIGKILL)  # ...and so does the job: no final record
    p.wait()
    stopped_at = [json.loads(x)["step"] for x in lines(metrics)][-1]
    assert stopped_at < 300
    r = run_cli(["run", "-c", cfg, "--print-out-dir", *ovs], cwd=demo_project)
    r = run_cli(["run", "-c", cfg, "--no-daemon", "--mode", "start_continue", *ovs], cwd=demo_project, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "continuing in the same folder" in r.stderr and "lost" in r.stderr
    assert "resuming from step" in (rd / "stdout.log").read_text()
    steps = [json.loads(x)["step"] for x in lines(metrics)]
    assert steps == list(range(10, 301, 10))
    st = status(rd)
    assert st["state"] == "completed" and st["attempt"] == 2


def test_the_demo_command_trains_then_skips(demo_project):
    """The README's first command, twice: it trains (no daemon needed), then says the run exists."""
    first = run_cli(["run", "-c", "conf/c02_sup_train/sl.prototxt", "--wait"], cwd=demo_project, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "done: loss" in first.stdout and "heyhi: completed:" in first.stderr
    second = run_cli(["run", "-c", "conf/c02_sup_train/sl.prototxt", "--wait"], cwd=demo_project)
    assert second.returncode == 0
    assert "gentle_start: skip: the folder holds a started run (completed)" in second.stderr
    assert "done: loss" not in second.stdout
