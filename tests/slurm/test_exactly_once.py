"""Exactly-once Slurm submission, on the real single-node test cluster: the daemon is SIGKILLed right
after ``sbatch`` returns (or right before it runs), before the job id is recorded, and started again:
exactly one Slurm job (one array for a sweep) carries the run's identity in its comment, the run
completes, and its records name that job.

The daemon is stopped at those moments by its TEST HOOKS ``HEYHI_TEST_PAUSE_AFTER_SBATCH`` and
``HEYHI_TEST_PAUSE_BEFORE_SBATCH`` (``heyhi.launchers.slurm_once.test_pause``). The jobs are submitted
held (``--hold``) where the test needs them to stay in squeue until the daemon is back, and released then.

A job may also END while no daemon is up: one that ran records its end itself (completed, or crashed naming
the error) and the daemon back submits nothing; one that failed before it could record anything (its
folder unreadable to it: here its ``heyhi.run.json`` is moved away while it runs) is known to Slurm alone,
and, once slurmctld has forgotten it (the cluster reconfigured to ``MinJobAge=2`` for that window,
``slurm_util.cluster_conf``), to sacct alone: the daemon back finds it there by its identity, adopts it
and records the failure Slurm gives.

A run that ended while no daemon was up gets, once the daemon is back, the records a watched run gets
(``heyhi_daemon.launchers.slurm_tracker.ended_unwatched``): ``heyhi.jobid``, its intent marked, its
``heyhi.cost.json`` from the job's final sacct row (its CPU-hours, as sacct counts them), shown by
``heyhi ctl show``; and a job that hit its time limit (its SIGTERM taken for a cancel) ends crashed,
named so, not cancelled."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import run_cli
from daemon_util import DaemonProcess
from slurm_util import cluster_conf, slurm_cluster  # noqa: F401  (fixture)
from waiting import status, wait_for

from heyhi.slurm.identity import identity
from heyhi.wire import protocol as P
from heyhi.wire.client import Client

PROBE = "conf/probe/probe.prototxt"
pytestmark = pytest.mark.usefixtures("slurm_cluster")
SLURM_WAIT_S = 300  # the test cluster is shared: other tests' jobs may hold its 2 CPUs for a while
HOLD = "launcher.slurm.extra_sbatch_flags=[--hold]"


class Daemons:
    """Starts the daemon again and again on one socket and one state folder; kills it for real."""

    def __init__(self, tmp_path: Path, monkeypatch):
        self.dir = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
        self.sock = self.dir / "s" / "d.sock"
        self.tmp = tmp_path
        self.mp = monkeypatch
        self.proc: DaemonProcess | None = None
        self.idents: list[str] = []
        monkeypatch.setenv("HEYHI_SOCKET", str(self.sock))
        monkeypatch.setenv("HEYHI_SLURM_MIN_POLL", "0.5")
        monkeypatch.setenv("HEYHI_SLURM_MAX_POLL", "2")

    def start(self, **hooks: str) -> DaemonProcess:
        for name in ("HEYHI_TEST_PAUSE_AFTER_SBATCH", "HEYHI_TEST_PAUSE_BEFORE_SBATCH"):
            self.mp.delenv(name, raising=False)
        for k, v in hooks.items():
            self.mp.setenv(k, v)
        self.proc = DaemonProcess.start(self.sock, hello_timeout=5, stderr_dir=self.tmp)
        return self.proc

    def kill_when_paused(self, paused: Path) -> None:
        wait_for(paused.exists, 120, f"the daemon to pause at its test hook ({paused.name})")
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.proc.wait(20)

    def killed_at(self, hook: str, proj: Path, overrides: list[str]) -> tuple[Path, str]:
        """Launch ``overrides`` through a daemon that pauses at ``hook`` and is killed there:
        (the run folder, its Slurm identity)."""
        run_dir = out_dir(proj, overrides)
        ident = identity(run_dir)
        self.idents.append(ident)
        paused = self.tmp / f"paused-{hook.lower()}-{len(self.idents)}"
        self.start(**{f"HEYHI_TEST_PAUSE_{hook}_SBATCH": str(paused)})
        launch_in_thread(self.sock, proj, overrides)
        self.kill_when_paused(paused)
        return run_dir, ident

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stop()
        ids = set().union(*(jobs_with(i) for i in self.idents)) if self.idents else set()
        if ids:  # leave the shared cluster clean
            subprocess.run(["scancel", *sorted(ids)], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def daemons(tmp_path, monkeypatch):
    d = Daemons(tmp_path, monkeypatch)
    yield d
    d.close()


def jobs_with(ident: str) -> set[str]:
    """The ids of every Slurm job (an array's own id) whose comment carries ``ident``: squeue and sacct."""
    sq = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%F|%k"], capture_output=True, text=True).stdout
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 3600))
    sa = subprocess.run(["sacct", "-X", "-n", "--parsable2", "-S", since, "-o", "JobID,Comment"],
                        capture_output=True, text=True).stdout
    out = set()
    for line in (sq + "\n" + sa).splitlines():
        jid, _, comment = line.partition("|")
        if ident in comment.split():
            out.add(jid.split("_")[0])
    return out


def out_dir(proj: Path, overrides: list[str]) -> Path:
    r = run_cli(["run", "-c", PROBE, *overrides, "--print-out-dir"], cwd=proj)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


def launch_in_thread(sock: Path, proj: Path, overrides: list[str]) -> threading.Thread:
    """A Launch from a client: it never gets its answer (the daemon is killed meanwhile)."""
    def go():
        try:
            with Client(str(sock), timeout=300) as c:
                c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                   config=str(proj / PROBE), overrides=overrides, mode="gentle_start"))
        except Exception:  # noqa: BLE001 - the daemon dies under it
            pass

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def show(sock: Path, ref: str) -> P.JobDetail:
    with Client(str(sock)) as c:
        return c.request(P.ShowJob(job=ref))


def intent(path: Path) -> dict:
    return json.loads(path.read_text())


def test_killed_right_after_sbatch_adopts_the_job_it_submitted(daemons, proj, tmp_path):
    overrides = ["Ilauncher=slurm_cpu", HOLD, "tag=after"]
    run_dir, ident = daemons.killed_at("AFTER", proj, overrides)

    # the crash window: Slurm has the job, the run folder does not know its id
    (sid,) = jobs_with(ident)
    assert not (run_dir / "heyhi.jobid").exists()
    assert json.loads((run_dir / "heyhi.status.json").read_text())["state"] == "queued"
    assert intent(run_dir / "heyhi.submit.json")["identity"] == ident
    assert intent(run_dir / "heyhi.submit.json")["jobid"] is None

    daemons.start()
    j = wait_for(lambda: (d := show(daemons.sock, str(run_dir))).job.slurm_id and d, 60, "the job adopted").job
    assert j.slurm_id == sid
    hist = json.loads((run_dir / "heyhi.status.json").read_text())["history"]
    assert f"adopted Slurm job {sid} after a daemon restart" in [h.get("reason") for h in hist]
    assert (run_dir / "heyhi.jobid").read_text().strip() == sid
    assert intent(run_dir / "heyhi.submit.json")["jobid"] == sid
    subprocess.run(["scontrol", "release", sid], check=True, capture_output=True)
    done = wait_for(lambda: (d := show(daemons.sock, str(run_dir)).job).state in ("completed", "crashed") and d,
                    SLURM_WAIT_S, "the run to end")
    assert (done.state, done.slurm_id) == ("completed", sid)
    assert jobs_with(ident) == {sid}  # exactly one Slurm job for the run, ever
    hist = json.loads((run_dir / "heyhi.status.json").read_text())["history"]
    assert {h.get("slurm_id") for h in hist if h.get("slurm_id")} == {sid}


def test_killed_before_sbatch_submits_once_after_restart(daemons, proj, tmp_path):
    overrides = ["Ilauncher=slurm_cpu", "tag=before"]
    run_dir, ident = daemons.killed_at("BEFORE", proj, overrides)
    assert jobs_with(ident) == set()  # the intent is recorded, sbatch never ran
    assert intent(run_dir / "heyhi.submit.json")["jobid"] is None

    daemons.start()
    done = wait_for(lambda: (d := show(daemons.sock, str(run_dir)).job).state in ("completed", "crashed") and d,
                    SLURM_WAIT_S, "the run to end")
    assert done.state == "completed"
    assert jobs_with(ident) == {done.slurm_id}
    assert (run_dir / "heyhi.jobid").read_text().strip() == done.slurm_id
    assert "probe done" in (run_dir / "stdout.log").read_text()


def test_sweep_array_killed_right_after_sbatch_is_one_array(daemons, proj, tmp_path):
    paused = tmp_path / "paused-array"
    daemons.start(HEYHI_TEST_PAUSE_AFTER_SBATCH=str(paused))
    r = run_cli(["run", "-c", PROBE, "Ilauncher=slurm_cpu", HOLD, "tag=range(0,2)"], cwd=proj)
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()
    daemons.kill_when_paused(paused)
    adir = next(Path(os.environ["HH_EXP_DIR"]).rglob("arrays"))
    ident = identity(adir / "0000")
    daemons.idents.append(ident)
    (array_id,) = jobs_with(ident)
    assert not (adir / "0000.jobid").exists() and intent(adir / "0000.submit.json")["jobid"] is None

    daemons.start()
    wait_for(lambda: (adir / "0000.jobid").exists(), 60, "the array adopted")
    assert (adir / "0000.jobid").read_text().strip() == array_id
    subprocess.run(["scontrol", "release", array_id], check=True, capture_output=True)

    def ended():
        with Client(str(daemons.sock)) as c:
            info = c.request(P.SweepStatus(sweep=sid)).sweeps[0]
        return not info.active and info

    info = wait_for(ended, SLURM_WAIT_S, "the sweep to end")
    assert info.counts["completed"] == 2, info
    assert sorted(p.name for p in adir.glob("*.sbatch")) == ["0000.sbatch"]  # one array, never a second
    assert jobs_with(ident) == {array_id}
    folders = (adir / "0000.folders").read_text().splitlines()
    for i, d in enumerate(folders):
        assert (Path(d) / "heyhi.jobid").read_text().strip() == f"{array_id}_{i}"


def in_squeue(sid: str) -> bool:
    out = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%F"], capture_output=True, text=True).stdout
    return sid in out.split()


def sacct_state(sid: str) -> str:
    out = subprocess.run(["sacct", "-X", "-n", "--parsable2", "-o", "State", "-j", sid], capture_output=True,
                         text=True).stdout.split()
    return out[0] if out else ""


def sacct_cpu_hours(sid: str) -> float:
    """What sacct counts as the job's CPU time (CPUTimeRAW: CPUs x elapsed seconds), in hours."""
    out = subprocess.run(["sacct", "-X", "-n", "--parsable2", "-o", "CPUTimeRAW", "-j", sid], capture_output=True,
                         text=True).stdout.split()
    return int(out[0]) / 3600


def assert_records_of_a_watched_run(daemons, proj, run_dir: Path, sid: str) -> None:
    """After a restart, a run that ended unwatched gets what a watched one gets: its job id recorded (in
    heyhi.jobid and its intent), its cost from the job's final sacct row, shown by ``heyhi ctl show``."""
    cost_file = run_dir / "heyhi.cost.json"
    wait_for(cost_file.exists, 60, "the cost of the job that ended unwatched to be recorded")
    assert (run_dir / "heyhi.jobid").read_text().strip() == sid
    assert intent(run_dir / "heyhi.submit.json")["jobid"] == sid
    cost = json.loads(cost_file.read_text())
    assert cost["slurm_id"] == sid and cost["cpus"] >= 1
    assert cost["cpu_hours"] == pytest.approx(sacct_cpu_hours(sid))
    job = wait_for(lambda: (j := show(daemons.sock, str(run_dir)).job).cpu_hours is not None and j, 30,
                   "the job's CPU-hours in its JobInfo")
    assert job.cpu_hours == pytest.approx(cost["cpu_hours"])
    shown = run_cli(["ctl", "show", str(run_dir)], cwd=proj)
    assert shown.returncode == 0, shown.stderr
    lines = [line.strip() for line in shown.stdout.splitlines() if line.strip().startswith("cost:")]
    assert len(lines) == 1 and " CPU-h, " in lines[0], shown.stdout


@pytest.mark.parametrize("extra, state, reason", [
    pytest.param([], "completed", None, id="completed"),
    pytest.param(["crash=true"], "crashed", "RuntimeError: probe crashed on purpose", id="crashed"),
])
def test_job_that_ran_to_its_end_while_no_daemon_was_up_is_never_submitted_again(daemons, proj, tmp_path,
                                                                                  extra, state, reason):
    overrides = ["Ilauncher=slurm_cpu", f"tag=ended-{state}", *extra]
    run_dir, ident = daemons.killed_at("AFTER", proj, overrides)
    (sid,) = jobs_with(ident)
    assert intent(run_dir / "heyhi.submit.json")["jobid"] is None

    # no daemon is up: the job runs, records its own end, and Slurm's accounting has it final
    wait_for(lambda: status(run_dir).get("state") == state, SLURM_WAIT_S, f"the job to end {state} on its own")
    wait_for(lambda: sacct_state(sid) in ("COMPLETED", "FAILED"), 120, "sacct's final row", interval=0.5)

    daemons.start()
    d = show(daemons.sock, str(run_dir))
    assert (d.job.state, d.job.slurm_id, d.job.reason or None) == (state, sid, reason), d.job
    assert jobs_with(ident) == {sid}  # the one submission, never a second
    hist = status(run_dir)["history"]
    assert {h.get("slurm_id") for h in hist if h.get("slurm_id")} == {sid}
    assert ("probe done" in (run_dir / "stdout.log").read_text()) == (state == "completed")
    assert_records_of_a_watched_run(daemons, proj, run_dir, sid)
    assert (show(daemons.sock, str(run_dir)).job.state, jobs_with(ident)) == (state, {sid})


@pytest.mark.timeout(420)
def test_job_that_hit_its_time_limit_while_no_daemon_was_up_ends_crashed(daemons, proj, tmp_path):
    """A 1-minute limit with no warning before it (``signal_delay_s=0``: so the job does not requeue
    itself): Slurm's SIGTERM at the limit reaches the job, which records "cancelled"; sacct says TIMEOUT."""
    overrides = ["Ilauncher=slurm_cpu", "tag=ended-timeout", "sleep_s=600", "launcher.slurm.minutes=1",
                 "launcher.slurm.signal_delay_s=0"]
    run_dir, ident = daemons.killed_at("AFTER", proj, overrides)
    (sid,) = jobs_with(ident)

    # no daemon is up: the job runs into its time limit and takes Slurm's SIGTERM for a cancel
    wait_for(lambda: status(run_dir).get("state") == "cancelled", SLURM_WAIT_S, "the job to reach its time limit")
    wait_for(lambda: sacct_state(sid) == "TIMEOUT", 120, "sacct's final row", interval=0.5)

    daemons.start()
    done = wait_for(lambda: (j := show(daemons.sock, str(run_dir)).job).state != "cancelled" and j, 60,
                    "the time limit to be recorded as a crash")
    assert (done.state, done.slurm_id, done.reason) == ("crashed", sid, "Slurm: TIMEOUT (time limit reached)"), done
    assert_records_of_a_watched_run(daemons, proj, run_dir, sid)
    assert json.loads((run_dir / "heyhi.cost.json").read_text())["elapsed_s"] >= 60  # it ran to its limit
    assert jobs_with(ident) == {sid}  # recorded, never submitted again


def test_an_unwatched_end_is_filled_in_only_in_heyhis_own_folder_under_its_lock(tmp_path):
    """The first step after a restart (``slurm_tracker._fill_job_id``) on real folders, no Slurm query: the
    job id the job recorded goes to heyhi.jobid and the pending intent, never through a symlink, never
    while a launch holds the folder; a run with its records complete is left alone."""
    from heyhi.launchers import slurm_once as once
    from heyhi.runs import records as R, roots_for, run_lock
    from heyhi_daemon.launchers.slurm_tracker import _fill_job_id

    root = tmp_path / "results"
    run = root / "run"
    run.mkdir(parents=True)
    rd = R.RunDir(run)
    rd.set_state("queued")
    once.write_intent(run / once.INTENT, identity(run), known=["7"])  # 7: an earlier attempt's job
    rd.set_state("completed", slurm_id="42", jobid="42")  # the job ran and ended while no daemon was up
    link = tmp_path / "link"
    link.symlink_to(run)

    assert _fill_job_id(str(link), str(root), True) is None  # not its own folder
    with run_lock(run, root, roots_for([])):  # a launch holds it
        assert _fill_job_id(str(run), str(root), False) is None
    assert rd.read_jobid() is None and intent(run / once.INTENT)["jobid"] is None

    assert _fill_job_id(str(run), str(root), False) == "42"  # filled in; its sacct row still to come
    assert rd.read_jobid() == "42" and intent(run / once.INTENT)["jobid"] == "42"
    assert _fill_job_id(str(run), str(root), False) is None  # complete, and not seen live: not looked at
    assert _fill_job_id(str(run), str(root), True) == "42"  # seen live: its cost is still missing
    (run / "heyhi.cost.json").write_text(json.dumps({"slurm_id": "42", "cpu_hours": 0.5}))
    assert _fill_job_id(str(run), str(root), True) is None


def test_job_that_failed_unrecorded_while_no_daemon_was_up_is_adopted_from_sacct(daemons, proj, tmp_path):
    overrides = ["Ilauncher=slurm_cpu", HOLD, "tag=ended-unrecorded"]
    run_dir, ident = daemons.killed_at("AFTER", proj, overrides)
    (sid,) = jobs_with(ident)
    run_json, away = run_dir / "heyhi.run.json", run_dir / "heyhi.run.json.away"

    with cluster_conf(MinJobAge=2):  # slurmctld forgets an ended job within a purge cycle (~60 s)
        run_json.rename(away)  # the job cannot read its run: it fails before recording anything
        try:
            subprocess.run(["scontrol", "release", sid], check=True, capture_output=True)
            wait_for(lambda: sacct_state(sid) == "FAILED", SLURM_WAIT_S, "the job to fail", interval=0.5)
        finally:
            away.rename(run_json)
        wait_for(lambda: not in_squeue(sid), 150, "slurmctld to forget the ended job", interval=1)
    assert status(run_dir)["state"] == "queued" and not status(run_dir).get("slurm_id")
    assert jobs_with(ident) == {sid}  # sacct alone knows it now

    daemons.start()
    done = wait_for(lambda: (j := show(daemons.sock, str(run_dir)).job).state not in ("queued", "submitted") and j,
                    60, "the ended job adopted and its end recorded")
    assert (done.state, done.slurm_id, done.reason, done.exit_code) == ("crashed", sid, "Slurm: FAILED", 2), done
    hist = status(run_dir)["history"]
    assert f"adopted Slurm job {sid} after a daemon restart" in [h.get("reason") for h in hist]
    assert (run_dir / "heyhi.jobid").read_text().strip() == sid
    assert intent(run_dir / "heyhi.submit.json")["jobid"] == sid
    assert jobs_with(ident) == {sid}  # adopted, never submitted again
    assert not (run_dir / "stdout.log").exists() or "probe done" not in (run_dir / "stdout.log").read_text()


@pytest.mark.parametrize("line, found", [
    pytest.param("71|2030-01-01T00:00:00|heyhi:abc", ["71"], id="plain-job"),
    pytest.param("72|2030-01-01T00:00:00|a|b heyhi:abc", ["72"], id="comment-with-bar-and-user-text"),
    pytest.param("73_1|2030-01-01T00:00:00|heyhi:abc", ["73"], id="array-task-gives-the-array"),
    pytest.param("74_[0-3%1]|2030-01-01T00:00:00|heyhi:abc", ["74"], id="pending-range-gives-the-array"),
    pytest.param("9|2030-01-01T00:00:00|heyhi:abc", [], id="known-earlier-attempt-never-adopted"),
    pytest.param("75|2000-01-01T00:00:00|heyhi:abc", [], id="submitted-long-before-the-intent"),
    pytest.param("76|2030-01-01T00:00:00|heyhi:abcd", [], id="another-identity"),
    pytest.param("garbage", [], id="a-line-that-does-not-fit"),
])
def test_identity_lookup_reads_one_answer(line, found):
    """Pure parsing of squeue's and sacct's answers (the same columns); needs no cluster."""
    from heyhi.slurm.identity import find_in_sacct, find_in_squeue

    since = time.mktime(time.strptime("2029-12-31T23:59:00", "%Y-%m-%dT%H:%M:%S"))
    assert find_in_squeue(line + "\n", "heyhi:abc", since, {"9"}) == found
    assert find_in_sacct(line, "heyhi:abc", since, {"9"}) == found
