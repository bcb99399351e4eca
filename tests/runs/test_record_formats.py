"""Versioned records (heyhi.runs.formats): today's records (format 0, no ``format`` field: the files under
tests/fixtures/records_v0, written by HeyHi before records were versioned) load as before; records written
now carry their format; a record of a newer format is refused in one line on every path that reads it,
and nothing (no mode, no ``ctl clean``, no daemon) judges it lost, wipes it or writes over it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from daemon_util import DaemonProcess
from waiting import wait_for

from heyhi.wire import protocol as P
from heyhi.runs import records as R
from heyhi.wire.client import Client
from heyhi.wire.protocol import DaemonError
from heyhi.runs import formats as F
from heyhi.runs import trash
from heyhi.sweep import Record, plan_states
from heyhi_daemon.job_store import INDEX, JobStore

FIXTURES = REPO / "tests" / "fixtures" / "records_v0"
GENERATED_AT = "/tmp/hh_fixture"  # where the fixtures were written (paths inside them are rewritten)
PROBE = "conf/probe/probe.prototxt"
DONE, CRASHED, DONE_1 = "lines@2_03a42c71", "crash@true_815992aa", "lines@1_afac2009"
SWEEP = "sweeps/probe/probe/lines@1,2_d629c533"


def newer_line(path: Path, found: int = 7) -> str:
    return f"heyhi: {path}: record format {found} is newer than this HeyHi reads (1): upgrade HeyHi"


def v0_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".json", ".jsonl"))


def install_v0(proj: Path, state: Path | None = None) -> Path:
    """Today's records under $HH_EXP_DIR (and the daemon index in ``state``); returns the runs' folder."""
    results = Path(os.environ["HH_EXP_DIR"])
    for src in v0_files():
        rel = src.relative_to(FIXTURES)
        if rel.parts[0] == "state":
            if state is None:
                continue
            dst = state / Path(*rel.parts[1:])
        else:
            dst = results / Path(*rel.parts[1:])
        dst.parent.mkdir(parents=True, exist_ok=True)
        text = src.read_text().replace(f"{GENERATED_AT}/results", str(results))
        dst.write_text(text.replace(f"{GENERATED_AT}/proj", str(proj)))
    return results / "p" / "probe" / "probe"


def bump(path: Path, found: int = 7, **fields) -> bytes:
    """Make ``path`` a record of format ``found`` (as a newer HeyHi would write it); returns its bytes."""
    data = {**json.loads(path.read_text()), **fields, "format": found}
    path.write_text(json.dumps(data, indent=1))
    return path.read_bytes()


# ---- today's records load as before -----------------------------------------------------------------


def test_v0_fixtures_have_no_format():
    files = v0_files()
    assert len(files) == 13  # 12 written by HeyHi at 59f42c6, and the daemon's sweeps.json
    for p in files:
        assert '"format"' not in p.read_text(), p


def test_v0_run_folders_read_as_before(proj):
    runs = install_v0(proj)
    state, st = R.RunDir(runs / DONE).state()
    assert state == R.COMPLETED and st["exit_code"] == 0 and [h["state"] for h in st["history"]] == [
        "queued", "running", "completed"]
    state, st = R.RunDir(runs / CRASHED).state()
    assert state == R.CRASHED and st["exit_code"] == 1 and st["reason"] == "RuntimeError: probe crashed on purpose"
    run = R.RunDir(runs / DONE).read_run()
    assert run["task"] == "probe" and run["overrides"] == ["lines=2"] and run["project_root"] == str(proj)
    assert R.RunDir(runs / DONE).read_version()["heyhi_version"] == "0.1.0"


def test_v0_run_folder_is_skipped_by_a_launch(proj):
    runs = install_v0(proj)
    before = (runs / DONE / R.STATUS).read_bytes()
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "lines=2"], cwd=proj)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f"heyhi: gentle_start: skip: the folder holds a started run (completed) ({runs / DONE})"]
    assert (runs / DONE / R.STATUS).read_bytes() == before


def test_v0_index_reads_as_before_and_is_saved_with_its_format(proj, tmp_path):
    install_v0(proj, tmp_path / "state")
    store = JobStore(tmp_path / "state")
    assert store.load()
    by_tag = {j.tag: j for j in store.jobs.values()}
    assert sorted(by_tag) == sorted([DONE, CRASHED, DONE_1])
    assert by_tag[DONE].state == "completed" and by_tag[CRASHED].state == "crashed"
    assert by_tag[CRASHED].exit_code == 1 and by_tag[DONE].history_ids[0].startswith("local:")
    assert store.save()
    saved = json.loads((tmp_path / "state" / INDEX).read_text())
    assert saved["format"] == F.INDEX and len(saved["jobs"]) == 3


def test_v0_daemon_sweeps_file_reads_as_before_and_is_saved_with_its_format(proj, tmp_path):
    """The daemon's sweeps.json (its sweeps across restarts), read by its real SweepManager over a
    real JobStore (the rest of the daemon's core is not needed to load it)."""
    import asyncio
    from types import SimpleNamespace

    from heyhi_daemon.sweep_manager import STATE_FILE, SweepManager

    install_v0(proj, tmp_path / "state")
    manager = SweepManager(SimpleNamespace(store=JobStore(tmp_path / "state")))
    asyncio.run(manager.start())
    results = Path(os.environ["HH_EXP_DIR"])
    assert [(sw.dir, sw.active) for sw in manager.sweeps.values()] == [(str(results / SWEEP), False)]
    assert manager.newer is None
    manager._save()
    saved = json.loads((tmp_path / "state" / STATE_FILE).read_text())
    assert saved["format"] == F.DAEMON_SWEEPS and list(saved["sweeps"]) == list(manager.sweeps)


def test_v0_sweep_record_reads_as_before(proj):
    install_v0(proj)
    rec = Record(Path(os.environ["HH_EXP_DIR"]) / SWEEP)
    assert rec.spec.kind == "grid" and rec.data["n_points"] == 2
    points = rec.points()
    assert [p.params for p in points] == [{"lines": "1"}, {"lines": "2"}]
    assert plan_states([p.dir for p in points]) == ["completed", "completed"]


# ---- records written now carry their format ------------------------------------------------------


def test_records_written_now_carry_their_format(proj):
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "lines=1"], cwd=proj)
    assert r.returncode == 0, r.stderr
    d = Path(os.environ["HH_EXP_DIR"]) / "p" / "probe" / "probe" / DONE_1
    for name, fmt in ((R.STATUS, F.STATUS), (R.RUN, F.RUN), (R.VERSION, F.VERSION)):
        assert json.loads((d / name).read_text())["format"] == fmt, name
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "lines=1", "--mode", "restart", "--force"], cwd=proj)
    assert r.returncode == 0, r.stderr
    (entry,) = trash.entries(Path(os.environ["HH_EXP_DIR"]) / trash.TRASH)
    assert json.loads((entry.path / trash.ORIGIN).read_text())["format"] == F.ORIGIN
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "lines=[1,3]"], cwd=proj)
    assert r.returncode == 0, r.stderr
    (sweep,) = (Path(os.environ["HH_EXP_DIR"]) / "sweeps" / "probe" / "probe").iterdir()
    assert json.loads((sweep / "sweep.json").read_text())["format"] == F.SWEEP
    lines = (sweep / "points.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(x)["format"] == F.POINTS for x in lines)


# ---- a newer format: one line, and left alone ------------------------------------------------------


@pytest.mark.parametrize("mode", ["gentle_start", "start_restart", "start_continue", "restart"])
def test_a_launch_refuses_a_newer_status_and_leaves_the_run_alone(proj, mode):
    runs = install_v0(proj)
    status = runs / CRASHED / R.STATUS
    before = bump(status)
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "crash=true", "--mode", mode, "--force"], cwd=proj)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [newer_line(status)]
    assert status.read_bytes() == before and sorted(os.listdir(runs / CRASHED)) == [R.RUN, R.STATUS, R.VERSION]
    assert not (Path(os.environ["HH_EXP_DIR"]) / trash.TRASH).exists()


def test_clean_never_takes_a_newer_run_for_lost(proj):
    runs = install_v0(proj)
    dead = {"state": "running", "pid": 2 ** 22 + 11, "pid_start": 1, "jobid": "local:1"}  # no such process
    bump(runs / DONE_1 / R.STATUS, found=0, **dead)  # today's format: lost, so clean has work to do
    newer = bump(runs / DONE / R.STATUS, **dead)
    r = run_cli(["ctl", "clean", "--yes"], cwd=proj)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"lost  {runs / DONE_1}"]
    assert not (runs / DONE_1).exists() and (runs / DONE / R.STATUS).read_bytes() == newer


def test_the_job_refuses_a_newer_run_record(proj):
    runs = install_v0(proj)
    run = runs / DONE / R.RUN
    bump(run, found=3)
    status = (runs / DONE / R.STATUS).read_bytes()
    r = subprocess.run([sys.executable, "-m", "heyhi.job", str(runs / DONE)], capture_output=True, text=True,
                       env={**os.environ, "HEYHI_JOB_NO_REDIRECT": "1"}, timeout=60)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [newer_line(run, 3).replace("heyhi:", "heyhi.job:", 1)]
    assert (runs / DONE / R.STATUS).read_bytes() == status


@pytest.mark.parametrize("which", ["sweep.json", "points.jsonl"])
def test_a_newer_sweep_record_is_one_line(proj, which):
    runs = install_v0(proj)
    d = Path(os.environ["HH_EXP_DIR"]) / SWEEP
    if which == "sweep.json":
        before = bump(d / which)
    else:
        lines = (d / which).read_text().splitlines()
        (d / which).write_text(lines[0] + "\n" + json.dumps({**json.loads(lines[1]), "format": 7}) + "\n")
        before = (d / which).read_bytes()
    r = run_cli(["sweep", "report", str(d), "--no-plots"], cwd=proj)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [newer_line(d / which)]
    shutil.rmtree(runs / DONE_1)  # a point to run: the same sweep again would rewrite its record
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "lines=[1,2]"], cwd=proj)
    assert r.returncode == 2 and r.stderr.splitlines() == [newer_line(d / which)]
    assert (d / which).read_bytes() == before and not (runs / DONE_1).exists()


def test_a_newer_trash_entry_is_never_purged(tmp_path):
    entry = tmp_path / "trash" / "20200101T000000-x-abcdef"
    (entry / trash.RUN).mkdir(parents=True)
    (entry / trash.ORIGIN).write_text(json.dumps({"format": 2, "path": str(tmp_path / "x"), "at": 0.0}))
    with pytest.raises(F.NewerFormat) as e:
        trash.read_entry(entry)
    assert f"heyhi: {e.value}" == newer_line(entry / trash.ORIGIN, 2)
    assert trash.entries(tmp_path / "trash") == []
    trash.purge_expired(tmp_path / "trash", 0.0)
    assert (entry / trash.RUN).is_dir()


@pytest.mark.parametrize("found", [pytest.param(2, id="newer"), pytest.param("2", id="a-string"),
                                   pytest.param(-1, id="negative"), pytest.param(True, id="a-bool")])
def test_check_refuses_what_it_cannot_read(found):
    with pytest.raises(F.NewerFormat):
        F.check("x.json", {"format": found}, 1)
    assert F.check("x.json", {}, 1) == {} and F.check("x.json", {"format": 1}, 1) == {"format": 1}


# ---- the daemon --------------------------------------------------------------------------------------


def test_the_daemon_keeps_a_newer_index_and_starts_with_an_empty_view(sock, tmp_path, proj):
    state = tmp_path / "daemon-state"
    install_v0(proj, state)
    index = state / INDEX
    before = bump(index)
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        said = [x for x in d.stderr().splitlines() if "record format" in x]
        assert len(said) == 1 and said[0].endswith(
            newer_line(index)[len("heyhi: "):] + "; the daemon runs with an empty view and leaves that file as it is")
        with Client(str(d.socket)) as c:
            assert c.request(P.ListJobs()).jobs == []
            r = c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                   config=str(proj / PROBE), overrides=["lines=3"]))
            assert r.decision == "run"
            wait_for(lambda: c.request(P.ShowJob(job=r.job_id)).job.state == "completed", 60, "the job completes")
    finally:
        d.stop()
    assert index.read_bytes() == before


def test_the_daemon_keeps_a_newer_sweeps_file_and_launches_no_sweep(sock, tmp_path, proj):
    from heyhi_daemon.sweep_manager import STATE_FILE

    state = tmp_path / "daemon-state"
    install_v0(proj, state)
    sweeps = state / STATE_FILE
    before = bump(sweeps)
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        said = [x for x in d.stderr().splitlines() if "record format" in x]
        assert len(said) == 1 and said[0].endswith(
            newer_line(sweeps)[len("heyhi: "):] + "; the daemon resumes no sweep and leaves that file as it is")
        with Client(str(d.socket)) as c:
            with pytest.raises(DaemonError) as e:
                c.request(P.LaunchSweep(sweep_dir=str(Path(os.environ["HH_EXP_DIR"]) / SWEEP)))
            assert e.value.code == P.REFUSED and "this daemon launches no sweep" in e.value.message
            assert c.request(P.ListJobs()).jobs != []  # the rest of the daemon works
    finally:
        d.stop()
    assert sweeps.read_bytes() == before


def test_the_daemon_leaves_a_newer_run_alone(sock, tmp_path, proj):
    state = tmp_path / "daemon-state"
    runs = install_v0(proj, state)
    dead = {"state": "running", "pid": 2 ** 22 + 11, "pid_start": 1, "jobid": "local:1"}  # no such process
    status = runs / DONE / R.STATUS
    before = bump(status, **dead)
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        with Client(str(d.socket)) as c:
            jobs = {Path(j.run_dir).name: j for j in c.request(P.ListJobs()).jobs}
            assert jobs[CRASHED].state == "crashed" and jobs[DONE_1].state == "completed"
            assert jobs[DONE].state != "lost" and jobs[DONE].reason == newer_line(status)[len("heyhi: "):]
            with pytest.raises(DaemonError) as e:
                c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                   config=str(proj / PROBE), overrides=["lines=2"], mode="restart", force=True))
            assert f"heyhi: {e.value.message}" == newer_line(status)
    finally:
        d.stop()
    assert status.read_bytes() == before
    assert json.loads((state / INDEX).read_text())["format"] == F.INDEX
