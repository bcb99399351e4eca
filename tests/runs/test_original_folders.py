"""Run folders the original HeyHi wrote (``heyhi.jobid``, its task's ``result.torch``, no heyhi.status.json)
get the original's decision in every mode (its ``ExperimentDir.get_status`` / ``handle_dst``): a finished
run is done and never re-run or wiped except by ``restart``; a dead one is wiped by ``start_restart`` and
continued by ``start_continue``; one Slurm still runs, or a local one whose files changed in the last ten
minutes, is running. Folders are laid out as the original leaves them, at the folder HeyHi computes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import run_cli

from heyhi.runs import records as R

PROBE = "conf/probe/probe.prototxt"
HOUR_AGO = time.time() - 3600


def _folder(proj: Path, *overrides: str) -> Path:
    r = run_cli(["run", "-c", PROBE, "--print-out-dir", *overrides], cwd=proj)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


def _lay_out(folder: Path, jobid: str, *, finished: bool, fresh: bool = False) -> dict[str, bytes]:
    """What the original leaves in a run folder; returns the files and their bytes."""
    folder.mkdir(parents=True)
    files = {R.JOBID: f"{jobid}\n".encode(), "config.prototxt": b"lines: 4\n", "config_meta.prototxt": b"task {}\n",
             "train.log": b"step 1\nstep 2\n", "ckpt.pt": b"\x00weights"}
    if finished:
        files[R.ORIGINAL_RESULT] = b"\x80result"
    for name, data in files.items():
        (folder / name).write_bytes(data)
        if not fresh:
            os.utime(folder / name, (HOUR_AGO, HOUR_AGO))
    return files


def _same(folder: Path, files: dict[str, bytes]) -> bool:
    return sorted(p.name for p in folder.iterdir()) == sorted(files) and all(
        (folder / n).read_bytes() == b for n, b in files.items())


def _run(proj: Path, mode: str, *overrides: str):
    return run_cli(["run", "-c", PROBE, "--no-daemon", "--mode", mode, "--force", *overrides], cwd=proj)


@pytest.mark.parametrize("mode", ["gentle_start", "start_restart", "start_continue", "dryrun"])
def test_a_finished_run_of_the_original_is_done_and_left_alone(proj, mode):
    folder = _folder(proj, "lines=4")
    files = _lay_out(folder, "local", finished=True)
    assert R.RunDir(folder).state()[0] == R.COMPLETED
    r = _run(proj, mode, "lines=4")
    assert r.returncode == 0, r.stderr
    assert ": skip: " in r.stderr and "Traceback" not in r.stderr
    assert _same(folder, files)


def test_restart_wipes_a_finished_run_of_the_original_to_the_trash_as_the_original_would(proj):
    folder = _folder(proj, "lines=4")
    _lay_out(folder, "local", finished=True)
    r = _run(proj, "restart", "lines=4")
    assert r.returncode == 0, r.stderr
    assert ": wipe and run: " in r.stderr and "the old run is in the trash" in r.stderr
    assert R.RunDir(folder).read_status()["state"] == R.COMPLETED  # HeyHi's own run now
    assert not (folder / R.ORIGINAL_RESULT).exists()


@pytest.mark.parametrize("jobid", ["local", "999999"])  # a local run, and a Slurm job that is gone
def test_a_dead_run_of_the_original_is_continued_or_started_over(proj, jobid):
    cont, over = _folder(proj, "lines=5"), _folder(proj, "lines=6")
    _lay_out(cont, jobid, finished=False)
    _lay_out(over, jobid, finished=False)
    assert R.RunDir(cont).state(slurm_live=set())[0] == R.LOST
    r = _run(proj, "gentle_start", "lines=5")
    assert r.returncode == 0 and ": skip: " in r.stderr  # started: the original's gentle_start skips it too
    r = _run(proj, "start_continue", "lines=5")
    assert r.returncode == 0, r.stderr
    assert ": run: " in r.stderr and "continuing in the same folder" in r.stderr
    assert (cont / "ckpt.pt").read_bytes() == b"\x00weights"  # continued where it was: its files kept
    assert R.RunDir(cont).read_status()["state"] == R.COMPLETED
    r = _run(proj, "start_restart", "lines=6")
    assert r.returncode == 0, r.stderr
    assert ": wipe and run: " in r.stderr and not (over / "ckpt.pt").exists()
    assert R.RunDir(over).read_status()["state"] == R.COMPLETED


@pytest.mark.parametrize("mode", ["gentle_start", "start_restart", "start_continue"])
def test_a_local_run_of_the_original_whose_files_just_changed_is_running(proj, mode):
    folder = _folder(proj, "lines=7")
    files = _lay_out(folder, "local", finished=False, fresh=True)
    state, info = R.RunDir(folder).state()
    assert state == R.RUNNING and "original HeyHi" in info["reason"]
    r = _run(proj, mode, "lines=7")
    assert r.returncode == 0, r.stderr
    assert ": skip: " in r.stderr and _same(folder, files)


def test_a_run_of_the_original_that_slurm_still_runs_is_running(proj):
    folder = _folder(proj, "lines=8")
    files = _lay_out(folder, "4242", finished=False)
    state, info = R.RunDir(folder).state(slurm_live={"4242"})
    assert state == R.RUNNING and info["jobid"] == "4242" and info["launcher"] == "slurm"
    assert R.RunDir(folder).state(slurm_live=set())[0] == R.LOST  # Slurm no longer knows it: dead
    assert _same(folder, files)
