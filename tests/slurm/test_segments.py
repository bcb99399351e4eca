"""A run planned as 3 segments on the real single-node test cluster: each segment a Slurm job in the
same run folder, chained in the queue by ``--dependency=afterok``; the probe task counts its segments in
``segments.count`` and ends each through ``heyhi.segment_done()`` (not the clock). The test project's
schema has no ``segments`` field, so it comes from ``[tool.heyhi.launcher]`` of its pyproject.toml."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli
from slurm_util import slurm_cluster, slurm_daemon  # noqa: F401  (fixture)
from waiting import wait_for

from heyhi.wire import protocol as P
from heyhi.wire.client import Client

PROBE = "conf/probe/probe.prototxt"
ENDED = ("completed", "crashed", "cancelled", "lost")


@pytest.fixture
def daemon(tmp_path, monkeypatch, slurm_cluster):  # noqa: F811
    yield from slurm_daemon(tmp_path, monkeypatch)


@pytest.fixture
def three_segments(proj) -> Path:
    (proj / "pyproject.toml").write_text("[tool.heyhi.launcher]\nsegments = 3\n")
    return proj


def launch(c, proj, overrides):
    return c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"], config=str(proj / PROBE),
                              overrides=["Ilauncher=slurm_cpu", *overrides], mode="gentle_start"))


def chain_of(run: Path) -> dict:
    return json.loads((run / "heyhi.segments.json").read_text())


def ended(c, job_id, run_dir=None, timeout=300):
    """The job once it ended (the shared 2-CPU cluster may queue it behind other tests' jobs); every
    job of its chain is cancelled when it did not end."""
    try:
        return wait_for(lambda: (j := c.request(P.ShowJob(job=job_id)).job).state in ENDED and j, timeout,
                        f"{job_id} to end")
    finally:
        j = c.request(P.ShowJob(job=job_id)).job
        if j.state not in ENDED:
            seg = Path(j.run_dir) / "heyhi.segments.json"
            ids = list(chain_of(Path(j.run_dir)).get("jobs", {})) if seg.exists() else []
            subprocess.run(["scancel", *ids, *([j.slurm_id] if j.slurm_id else [])], capture_output=True)


def sacct_states(ids) -> dict[str, str]:
    """Slurm's own final word on each job (sacct; waits, bounded, for slurmdbd to have every row)."""
    def rows():
        out = subprocess.run(["sacct", "-X", "-n", "--parsable2", "-o", "JobIDRaw,State", "-j", ",".join(ids)],
                             capture_output=True, text=True).stdout
        got = {i: st.split()[0] for i, st in (line.split("|")[:2] for line in out.splitlines() if "|" in line)}
        return got if set(got) >= set(ids) and not any(s in ("PENDING", "RUNNING") for s in got.values()) else None
    return wait_for(rows, 120, f"sacct rows of {ids}", interval=0.5)


def test_three_segments_chained_by_dependency_complete_in_one_folder(daemon, three_segments):
    with Client(str(daemon.socket)) as c:
        release = three_segments / "release"
        r = launch(c, three_segments, ["segment_work=3", "tag=seg", f"release={release}"])
        # the queue sees the chain: segment 2 waits on segment 1 (held by `release`) through --dependency=afterok
        def queued_next():
            j = c.request(P.ShowJob(job=r.job_id)).job
            p = Path(j.run_dir) / "heyhi.segments.json"
            nxt = (chain_of(Path(j.run_dir)).get("next") or {}) if p.exists() else {}
            return nxt.get("slurm_id") and (j, nxt)
        j, nxt = wait_for(queued_next, 300, "segment 2 to be queued")
        dep = subprocess.run(["squeue", "-h", "-j", nxt["slurm_id"], "-o", "%E"], capture_output=True, text=True).stdout
        sc = subprocess.run(["scontrol", "show", "job", nxt["slurm_id"]], capture_output=True, text=True).stdout
        assert nxt["segment"] == 2 and f"afterok:{nxt['after']}" in (dep + sc), (nxt, dep, sc)
        assert "(Dependency)" in sc or "Reason=Dependency" in sc, sc
        release.write_text("")
        j = ended(c, r.job_id)
        run = Path(j.run_dir)
        assert (j.state, j.exit_code) == ("completed", 0), (j, (run / "stderr.log").read_text())
        assert j.reason == "segment 3 of 3"  # its work done in the last segment: returned normally
        shown = c.request(P.ShowJob(job=r.job_id)).job
        assert shown.slurm_id == list(chain_of(run)["jobs"])[-1]
    # three Slurm jobs, one per segment, each continuing in the same folder
    counts = [line.split() for line in (run / "segments.count").read_text().splitlines()]
    assert [c[0] for c in counts] == ["1", "2", "3"]
    jobs = [c[1] for c in counts]
    assert len(set(jobs)) == 3
    # the run records its own end; the daemon's next poll brings the chain record up to date
    chain = wait_for(lambda: (ch := chain_of(run))["next"] is None and ch, 60, "the chain record to reach segment 3")
    assert chain["jobs"] == {jobs[0]: 1, jobs[1]: 2, jobs[2]: 3}
    assert [" ".join(c[2:]) for c in counts] == ["(1, 3)", "(2, 3)", "(3, 3)"]  # heyhi.segment() in the task
    assert set(sacct_states(jobs).values()) == {"COMPLETED"}
    # the folder's records show segments 1..3, each run by its own job, then completed
    status = json.loads((run / "heyhi.status.json").read_text())
    starts = [(h["segment"], h["slurm_id"], h["reason"]) for h in status["history"] if h["state"] == "running"]
    assert starts == [(k, jobs[k - 1], f"segment {k} of 3") for k in (1, 2, 3)]
    assert [h["reason"] for h in status["history"] if h["state"] == "submitted" and "done" in h.get("reason", "")] \
        == ["segment 1 of 3 done", "segment 2 of 3 done"]
    assert (status["state"], status["segment"], status["segments"]) == ("completed", 3, 3)
    assert json.loads((run / "result.json").read_text()) == {"tag": "seg"} and (run / "COMPLETED").exists()
    # ctl show tells the segment
    out = run_cli(["ctl", "show", r.job_id], cwd=three_segments)
    assert "completed (segment 3 of 3)" in out.stdout, out


def test_a_task_done_early_ends_the_chain_completed(daemon, three_segments):
    with Client(str(daemon.socket)) as c:
        r = launch(c, three_segments, ["segment_work=1", "tag=early"])
        j = ended(c, r.job_id)
    run = Path(j.run_dir)
    assert (j.state, j.exit_code) == ("completed", 0), (j, (run / "stderr.log").read_text())
    assert len((run / "segments.count").read_text().splitlines()) == 1
    chain = wait_for(lambda: (ch := chain_of(run))["next"] is None and ch, 60, "the queued segment 2 to be cancelled")
    first, second = list(chain["jobs"])
    assert chain["jobs"] == {first: 1, second: 2}
    assert sacct_states([first, second]) == {first: "COMPLETED", second: "CANCELLED"}


def test_segment_2_failing_stops_the_chain(daemon, three_segments):
    with Client(str(daemon.socket)) as c:
        r = launch(c, three_segments, ["segment_work=3", "crash_in_segment=2"])
        j = ended(c, r.job_id)
    run = Path(j.run_dir)
    assert j.state == "crashed", (j, (run / "stderr.log").read_text())
    assert j.reason == "segment 2 of 3 failed: RuntimeError: probe crashed in segment 2"
    assert [line.split()[0] for line in (run / "segments.count").read_text().splitlines()] == ["1", "2"]
    chain = wait_for(lambda: (ch := chain_of(run))["next"] is None and ch, 60, "the queued segment 3 to be cancelled")
    by_segment = {k: sid for sid, k in chain["jobs"].items()}
    states = sacct_states(list(chain["jobs"]))
    assert (states[by_segment[1]], states[by_segment[2]]) == ("COMPLETED", "FAILED")
    # segment 3 was queued (afterok on segment 2) unless segment 2 failed before the daemon saw segment 1
    # end; queued, it was cancelled without running
    assert sorted(by_segment) in ([1, 2], [1, 2, 3]) and states.get(by_segment.get(3), "CANCELLED") == "CANCELLED"
    status = json.loads((run / "heyhi.status.json").read_text())
    assert [h["segment"] for h in status["history"] if h["state"] == "running"] == [1, 2]  # no segment 3 ran
    assert not (run / "COMPLETED").exists()


def test_a_sweeps_array_tasks_continue_as_segment_jobs(daemon, three_segments):
    """A sweep's points start as tasks of a job array (outside any chain); each point's next segments
    then run as single jobs chained in its folder."""
    (three_segments / "pyproject.toml").write_text("[tool.heyhi.launcher]\nsegments = 2\n")
    r = run_cli(["run", "-c", PROBE, "Ilauncher=slurm_cpu", "segment_work=2", "tag=[a,b]"], cwd=three_segments)
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()

    def info():
        with Client(str(daemon.socket)) as c:
            i = c.request(P.SweepStatus(sweep=sid)).sweeps[0]
        return not i.active and i
    done = wait_for(info, 300, "the sweep to end")
    assert (done.counts["completed"], done.counts["crashed"]) == (2, 0), done
    folders = [Path(line) for f in sorted((Path(done.sweep_dir) / "arrays").glob("*.folders"))
               for line in f.read_text().splitlines()]
    assert len(folders) == 2
    for run in folders:
        counts = [line.split() for line in (run / "segments.count").read_text().splitlines()]
        assert [c[0] for c in counts] == ["1", "2"], counts
        first, second = counts[0][1], counts[1][1]
        assert second != first  # segment 2: a job of its own
        assert json.loads((run / "heyhi.status.json").read_text())["state"] == "completed"
        assert chain_of(run)["jobs"] == {second: 2}


def test_chain_record_and_plan_read_bounded_without_a_cluster(tmp_path):
    from heyhi.errors import ConfigError
    from heyhi.launchers.slurm import with_project_launcher
    from heyhi.slurm import segments as SEG

    assert [SEG.planned(i) for i in ({}, {"slurm": {"segments": 0}}, {"slurm": {"segments": "x"}},
                                     {"slurm": {"segments": 4}}, {"slurm": None})] == [1, 1, 1, 4, 1]
    assert SEG.read(tmp_path) == {}
    (tmp_path / SEG.SEGMENTS).write_text("[1, 2]")
    assert SEG.read(tmp_path) == {}
    (tmp_path / SEG.SEGMENTS).write_text('{"jobs": {"7": 1}, "pad": "' + "x" * SEG.MAX_BYTES + '"}')
    assert SEG.read(tmp_path) == {}  # too large: not read
    SEG.write(tmp_path, {"segments": 2, "jobs": {"7": 1}, "next": None})
    assert SEG.segment_of(SEG.read(tmp_path), "7") == 1 and SEG.segment_of(SEG.read(tmp_path), "8") is None
    assert with_project_launcher({}, {"launcher": {"segments": 3}}) == {"segments": 3}
    with pytest.raises(ConfigError, match=r"^pyproject.toml \[tool.heyhi.launcher\]: segments = 'x': expected a whole"):
        with_project_launcher({}, {"launcher": {"segments": "x"}})


@pytest.mark.timeout(360)
def test_time_limit_inside_segment_2_requeues_it_and_the_chain_goes_on(daemon, three_segments):
    """Segment 2's job waits (on its first start only) until Slurm's time-limit warning: HeyHi's job requeues
    that same Slurm job (``scontrol requeue``), which runs segment 2 again, and the chain continues to
    segment 3 in the same folder (a 1-minute limit warned 45 s before: the warning comes 15-45 s in)."""
    with Client(str(daemon.socket)) as c:
        r = launch(c, three_segments, ["segment_work=3", "wait_limit_in_segment=2", "tag=limit",
                                       "launcher.slurm.minutes=1", "launcher.slurm.signal_delay_s=45"])
        j = ended(c, r.job_id, timeout=300)
    run = Path(j.run_dir)
    assert (j.state, j.exit_code, j.reason) == ("completed", 0, "segment 3 of 3"), (j, (run / "stderr.log").read_text())
    counts = [line.split() for line in (run / "segments.count").read_text().splitlines()]
    assert [c[0] for c in counts] == ["1", "2", "3"]  # segment 2 counted once: by its requeued run
    jobs = [c[1] for c in counts]
    assert len(set(jobs)) == 3
    # the run records its own end; the daemon's next poll moves the chain on from segment 2's job
    chain = wait_for(lambda: (ch := chain_of(run))["next"] is None and ch, 60, "the chain record to reach segment 3")
    assert chain["jobs"] == {jobs[0]: 1, jobs[1]: 2, jobs[2]: 3}
    assert "segment 2: waiting for the time-limit warning" in (run / "stdout.log").read_text()
    assert "heyhi.job: preemption warning received" in (run / "stderr.log").read_text()
    status = json.loads((run / "heyhi.status.json").read_text())
    starts = [(h["segment"], h["slurm_id"], h["attempt"]) for h in status["history"] if h["state"] == "running"]
    assert [s[:2] for s in starts] == [(1, jobs[0]), (2, jobs[1]), (2, jobs[1]), (3, jobs[2])], starts
    assert starts[2][2] == starts[1][2] + 1  # the requeued run of segment 2: the next attempt
    requeued = [h for h in status["history"] if h["state"] == "requeued"]
    assert requeued and requeued[0]["reason"] == "time limit or preemption: requeued", requeued
    assert (status["state"], status["segment"], status["segments"]) == ("completed", 3, 3)
    assert set(sacct_states(jobs).values()) == {"COMPLETED"}
