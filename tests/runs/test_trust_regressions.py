"""Regressions found by attacking issue 11's change as an adversary would (each failed before its fix).

- a finished run whose last status write failed is completed, never "lost" (and so never wiped);
- two launches of one ``--out`` folder under different results roots: one runs, the other is "taken";
- a launch that wiped a run and then started nothing puts the old run back;
- what a killed launch left half-written (an aside folder, a half-copied snapshot) is removed;
- a run whose embedded launcher was killed is listed by the daemon as lost, not queued forever;
- bad settings and flags are one line and exit 2; "busy" is exit 3 in ``heyhi ctl`` too.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import heyhi_cmd, run_cli
from daemon_util import DaemonProcess
from waiting import lines, status, wait_for

from heyhi.runs import records as R
from heyhi.errors import NothingStarted

PROBE = "conf/probe/probe.prototxt"


def results() -> Path:
    return Path(os.environ["HH_EXP_DIR"])


def one_line(r: subprocess.CompletedProcess) -> str:
    got = r.stderr.strip().splitlines()
    assert len(got) == 1, r.stderr
    return got[0]


def test_a_completed_run_whose_last_status_write_failed_is_completed_not_lost(proj):
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "tag=done"], cwd=proj)
    assert r.returncode == 0, r.stderr
    d = Path(run_cli(["run", "-c", PROBE, "--print-out-dir", "tag=done"], cwd=proj).stdout.strip())
    (d / "result.json").write_text('{"acc": 1}')
    # As if the job's final status write had failed: "running", its process gone, COMPLETED written.
    gone = subprocess.Popen(["true"])
    gone.wait()
    R.RunDir(d).set_state(R.RUNNING, pid=gone.pid, pid_start=None)
    assert R.RunDir(d).state(slurm_live=set())[0] == R.COMPLETED
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "tag=done", "--mode", "start_restart", "--force"], cwd=proj)
    assert r.returncode == 0 and "skip: the run is completed" in r.stderr, r.stderr
    assert (d / "result.json").read_text() == '{"acc": 1}'


def test_one_out_folder_under_two_results_roots_runs_once(proj, tmp_path):
    out = tmp_path / "shared_out"
    marker, release = tmp_path / "m", tmp_path / "r"
    args = ["run", "-c", PROBE, "--no-daemon", "--out", str(out), f"marker={marker}", f"release={release}"]
    procs = [subprocess.Popen(heyhi_cmd() + args, cwd=proj, env={**os.environ, "HH_EXP_DIR": str(tmp_path / root)},
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for root in ("resA", "resB")]
    try:
        wait_for(lambda: lines(marker) and any(p.poll() is not None for p in procs), 60,
                 "one launch to run and the other to give up")
        release.touch()
        codes = sorted(p.wait(60) for p in procs)
    finally:
        release.touch()
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
    assert codes == [0, 3]
    assert len(lines(marker)) == 1


def test_a_launch_that_wiped_a_run_and_started_nothing_puts_it_back(proj):
    from heyhi.config.compose import Composer
    from heyhi.runs.outdir import run_folder
    from heyhi.config.project import Project
    from heyhi.runs.sequence import Host, Plan, launch

    assert run_cli(["run", "-c", PROBE, "--no-daemon", "tag=keep"], cwd=proj).returncode == 0
    project = Project(proj)
    composed = Composer(project).compose(proj / PROBE, ["tag=keep"])
    folder = run_folder(project.results_root, composed.config, project.conf_dir, composed.raw_overrides)
    (folder / "my_results.txt").write_text("precious")
    before = sorted(p.name for p in folder.iterdir())

    class NoCluster(Host):  # the real sequence; only the start fails, as a missing cluster does
        def start(self, folder, info):
            raise NothingStarted("nothing started: Slurm submission failed: no controller")

    plan = Plan(project, composed, folder, project.results_root, "restart", trusted_roots=[project.results_root],
                yes=True)
    with pytest.raises(NothingStarted):
        launch(plan, NoCluster())
    assert sorted(p.name for p in folder.iterdir()) == before
    assert (folder / "my_results.txt").read_text() == "precious"
    assert status(folder)["state"] == "completed"
    trash = results() / ".heyhi" / "trash"
    assert not trash.exists() or not any(trash.iterdir())


def test_leftovers_of_a_killed_launch_are_removed(proj):
    dead = subprocess.Popen(["true"])
    dead.wait()
    d = Path(run_cli(["run", "-c", PROBE, "--print-out-dir", "tag=left"], cwd=proj).stdout.strip())
    d.parent.mkdir(parents=True)
    aside = d.parent / f".{d.name}.heyhi-new-{dead.pid}"
    aside.mkdir()
    (aside / R.CONFIG).write_text("half")
    half_snapshot = results() / ".heyhi" / "code" / f".0123456789abcdef.{dead.pid}.tmp"
    half_snapshot.mkdir(parents=True)
    (half_snapshot / "run.py").write_text("half")
    assert run_cli(["run", "-c", PROBE, "--no-daemon", "tag=left"], cwd=proj).returncode == 0
    assert not aside.exists() and not half_snapshot.exists()
    assert status(d)["state"] == "completed"


def test_the_daemon_lists_a_run_whose_embedded_launcher_was_killed_as_lost(proj, sock, tmp_path):
    r = run_cli(["run", "-c", PROBE, "--no-daemon", "tag=killed"], cwd=proj, env={"HEYHI_TEST_KILL_AT": "written"})
    assert r.returncode == -9
    d = DaemonProcess.start(sock, stderr_dir=tmp_path)
    try:
        out = run_cli(["ctl", "--json", "list", "killed"], cwd=proj)
        jobs = json.loads(out.stdout)["jobs"]
        assert [j["state"] for j in jobs] == ["lost"], out.stdout
    finally:
        d.stop()


def test_ctl_cancel_of_a_busy_folder_exits_3(proj, sock, tmp_path):
    from heyhi.runs.locks import status_lock

    marker, release = tmp_path / "m", tmp_path / "r"
    d = DaemonProcess.start(sock, stderr_dir=tmp_path)
    try:
        r = run_cli(["run", "-c", PROBE, f"marker={marker}", f"release={release}"], cwd=proj)
        job = r.stdout.strip()
        wait_for(lambda: lines(marker), 60, "the job to run")
        run_dir = Path(json.loads(run_cli(["ctl", "--json", "show", job], cwd=proj).stdout)["job"]["run_dir"])
        with status_lock(run_dir):
            c = run_cli(["ctl", "cancel", job], cwd=proj)
        assert c.returncode == 3 and one_line(c).startswith("heyhi: busy:"), c.stderr
    finally:
        release.touch()
        d.stop()


@pytest.mark.parametrize("args, env, says", [
    (["ctl", "logs", "somejob", "-n", "abc"], {}, "heyhi: -n abc: expected a number of lines"),
    (["ctl", "list", "--state", "bogus"], {}, "heyhi: --state bogus: expected one of"),
    (["run", "-c", PROBE, "--no-daemon"], {"HH_EXP_DIR": "/"}, "the results root cannot be / or your home folder"),
    (["run", "-c", PROBE, "--no-daemon"], {"HH_EXP_DIR": "rel/res"}, "HH_EXP_DIR='rel/res': expected an absolute path"),
])
def test_bad_flags_and_settings_are_one_line(proj, sock, tmp_path, args, env, says):
    d = DaemonProcess.start(sock, stderr_dir=tmp_path) if args[0] == "ctl" else None
    try:
        r = run_cli(args, cwd=proj, env=env)
    finally:
        if d is not None:
            d.stop()
    assert r.returncode == 2 and says in one_line(r), r.stderr


@pytest.mark.parametrize("args, env, says", [
    (["--hello-timeout", "-1"], {}, "--hello-timeout -1: expected a number of seconds above 0"),
    ([], {"HEYHI_MAX_LOCAL_JOBS": "abc"}, "HEYHI_MAX_LOCAL_JOBS='abc': expected a whole number above 0"),
])
def test_daemon_start_refuses_bad_settings_at_once(sock, args, env, says):
    r = subprocess.run([str(Path(heyhi_cmd()[0]).with_name("heyhi-daemon")), "start", "--socket", str(sock), *args],
                       env={**os.environ, **env}, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and says in one_line(r), r.stderr
    assert not sock.exists()


def test_the_daemon_composes_against_an_edited_schema_without_a_restart(proj, sock, tmp_path):
    """A researcher adds a field to conf.proto while the daemon runs: the next Validate knows it."""
    from heyhi.wire import protocol as P
    from heyhi.wire.client import Client

    d = DaemonProcess.start(sock, stderr_dir=tmp_path)
    try:
        req = P.Validate(project_root=str(proj), results_root=None, config=str(proj / PROBE),
                         overrides=["brand_new=3"])
        with Client(str(sock)) as c:
            before = c.request(req)
            assert not before.ok and "unknown key 'brand_new'" in before.errors[0].message
            proto = proj / "conf" / "conf.proto"
            text = proto.read_text()
            proto.write_text(text.replace("message ProbeTask {", "message ProbeTask {\n  optional int32 brand_new = 99;", 1))
            after = c.request(req)
            assert after.ok, after.errors
            assert ("brand_new", "3") in {(k, v) for k, v, _ in after.flat}
    finally:
        d.stop()
