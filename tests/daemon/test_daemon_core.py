"""The daemon's core with real daemon processes, real jobs and real folders: launches, the queue,
kill -9 recovery, restart/cancel/wipe, live logs and the CLI through the daemon."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from daemon_util import DaemonProcess
from waiting import lines, live_group_members, status, wait_for

from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi.errors import HeyHiError

PROBE = "conf/probe/probe.prototxt"


def launch(c: Client, proj: Path, overrides: list[str], **kw) -> P.Launched:
    return c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                              config=str(proj / PROBE), overrides=overrides, **kw))


def job_state(c: Client, job_id: str) -> P.JobInfo:
    return c.request(P.ShowJob(job=job_id)).job


def wait_state(c: Client, job_id: str, states, timeout=60) -> P.JobInfo:
    states = {states} if isinstance(states, str) else set(states)
    return wait_for(lambda: (j := job_state(c, job_id)).state in states and j, timeout, f"job {job_id} in {states}")


def test_launch_runs_and_completes(daemon, proj):
    with Client(str(daemon.socket)) as c:
        r = launch(c, proj, ["lines=2", "tag=a"])
        assert r.decision == "run"
        j = wait_state(c, r.job_id, "completed")
        assert j.exit_code == 0 and Path(j.run_dir, "COMPLETED").exists()
        again = launch(c, proj, ["lines=2", "tag=a"])
        assert again.decision == "skip" and again.job_id == r.job_id


def test_validate_reports_each_bad_override(daemon, proj):
    with Client(str(daemon.socket)) as c:
        v = c.request(P.Validate(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"], config=str(proj / PROBE),
                                 overrides=["tagg=x", "lines=3", "sleep_s=fast"]))
        assert not v.ok
        assert [(e.index, e.key) for e in v.errors] == [(0, "tagg"), (2, "sleep_s")]
        assert "did you mean: tag" in v.errors[0].message
        ok = c.request(P.Validate(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"], config=str(proj / PROBE),
                                  overrides=["lines=3"]))
        assert ok.ok and ok.task == "probe" and ok.out_dir.endswith("lines@3_" + ok.out_dir.rsplit("_", 1)[1])
        flat = {k: (v, src) for k, v, src in ok.flat}
        assert flat["lines"] == ("3", "override lines=3") and flat["tag"] == ("probe", "file")
        assert ok.out_dir_state == "not_started"


def test_queue_respects_the_limit_fifo(sock, tmp_path, proj, monkeypatch):
    monkeypatch.setenv("HEYHI_MAX_LOCAL_JOBS", "1")
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        marker, release = tmp_path / "m", tmp_path / "r"
        with Client(str(sock)) as c:
            ids = [launch(c, proj, [f"marker={marker}", f"release={release}", f"tag=q{i}"]).job_id for i in range(3)]
            wait_for(lambda: lines(marker), what="the first job")
            states = [job_state(c, i).state for i in ids]
            assert states == ["running", "queued", "queued"]
            release.touch()
            for i in ids:
                wait_state(c, i, "completed")
            order = [line.split()[1].rsplit("@", 1)[-1] for line in lines(marker)]
            assert [o.split("_")[0] for o in order] == ["q0", "q1", "q2"]
    finally:
        d.stop()


def test_kill9_during_50_launches_every_job_runs_exactly_once(sock, tmp_path, proj, monkeypatch):
    monkeypatch.setenv("HEYHI_MAX_LOCAL_JOBS", "4")
    release = tmp_path / "release"
    marks = tmp_path / "marks"
    marks.mkdir()
    ovs = [[f"marker={marks / str(i)}", f"release={release}", f"tag=j{i}", f"exit_code={3 if i % 5 == 0 else 0}"]
           for i in range(50)]
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    launched: list[str] = []

    def launcher():
        try:
            with Client(str(sock)) as c:
                for o in ovs:
                    launched.append(launch(c, proj, o).job_id)
        except HeyHiError:
            pass  # the daemon was killed under us

    t = threading.Thread(target=launcher)
    t.start()
    wait_for(lambda: len(launched) >= 20, what="20 launches")
    os.kill(d.pid, signal.SIGKILL)
    d.proc.wait()
    t.join(30)
    running_at_kill = len(list(marks.iterdir()))
    assert 0 < running_at_kill <= 4  # some running (blocked on the release), the rest queued
    d2 = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        with Client(str(sock)) as c:
            ids = [launch(c, proj, o).job_id for o in ovs]  # gentle_start: launched ones are skipped
            release.touch()
            for i, jid in enumerate(ids):
                j = wait_state(c, jid, ("completed", "crashed", "lost"), timeout=120)
                if i % 5 == 0:
                    assert (j.state, j.exit_code) == ("crashed", 3), (i, j)
                else:
                    assert (j.state, j.exit_code) == ("completed", 0), (i, j)
        for i in range(50):
            assert len(lines(marks / str(i))) == 1, f"job {i} ran {len(lines(marks / str(i)))} times"
    finally:
        d2.stop()


def test_restart_of_a_running_job(daemon, proj, tmp_path):
    marker, release = tmp_path / "m", tmp_path / "r"
    ovs = [f"marker={marker}", f"release={release}"]
    with Client(str(daemon.socket)) as c:
        r = launch(c, proj, ovs)
        wait_for(lambda: lines(marker), what="the job")
        old = job_state(c, r.job_id)
        (Path(old.run_dir) / "old-run.txt").write_text("x")
        asked = c.request(P.Restart(job=r.job_id[:6]))  # no yes: nothing is stopped or wiped
        assert (asked.decision, asked.state, asked.job_id) == ("confirm", "running", "")
        assert job_state(c, r.job_id).state == "running" and (Path(old.run_dir) / "old-run.txt").exists()
        res = c.request(P.Restart(job=r.job_id[:6], expect_state="running"))
        assert res.job_id == r.job_id
        wait_for(lambda: len(lines(marker)) == 2, what="the new run")
        assert not live_group_members(old.pid)
        assert not (Path(old.run_dir) / "old-run.txt").exists()  # the folder holds only the new run
        trashed = list((Path(os.environ["HH_EXP_DIR"]) / ".heyhi" / "trash").glob("*/run/old-run.txt"))
        assert len(trashed) == 1  # the old run is in the trash, not deleted
        release.touch()
        wait_state(c, r.job_id, "completed")
        d = c.request(P.ShowJob(job=r.job_id))
        assert len(d.previous_runs) == 1 and d.previous_runs[0].pid == old.pid, d
        assert [h.state for h in d.history] == ["queued", "running", "completed"]


def test_cancel_a_running_and_a_queued_job(sock, tmp_path, proj, monkeypatch):
    monkeypatch.setenv("HEYHI_MAX_LOCAL_JOBS", "1")
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        marker, release = tmp_path / "m", tmp_path / "r"
        with Client(str(sock)) as c:
            a = launch(c, proj, [f"marker={marker}", f"release={release}", "tag=a"])
            b = launch(c, proj, [f"marker={marker}", f"release={release}", "tag=b"])
            wait_for(lambda: lines(marker), what="job a")
            c.request(P.Cancel(job=b.job_id))
            assert job_state(c, b.job_id).state == "cancelled"
            c.request(P.Cancel(job=a.job_id))
            ja = job_state(c, a.job_id)
            assert ja.state == "cancelled" and ja.exit_code == 143
            with pytest.raises(HeyHiError, match="nothing to cancel"):
                c.request(P.Cancel(job=a.job_id))
    finally:
        d.stop()


def test_wipe_needs_confirmation_and_refuses_outside_root(daemon, proj, tmp_path):
    with Client(str(daemon.socket)) as c:
        made = tmp_path / "made" / "run"
        r = launch(c, proj, ["tag=o"], out=str(made))
        wait_state(c, r.job_id, "completed")
        outside = tmp_path / "outside" / "run"  # a copy HeyHi did not make, outside every results root
        shutil.copytree(made, outside)
        with pytest.raises(HeyHiError, match="not under a results root you configured"):
            c.request(P.Wipe(job=str(outside), confirm_job=str(outside)))
        assert (outside / "heyhi.status.json").exists()
        inside = launch(c, proj, ["tag=i"])
        wait_state(c, inside.job_id, "completed")
        ok = c.request(P.Wipe(job=inside.job_id, confirm_job=inside.job_id))
        assert not Path(inside.run_dir).exists() and "in the trash" in ok.detail
        c.request(P.Wipe(job=r.job_id, confirm_job=r.job_id, purge=True))  # HeyHi made it at --out
        assert not made.exists() and not (made.parent / ".heyhi-trash").exists()


def test_log_follow_delivers_lines_within_200ms(daemon, proj):
    with Client(str(daemon.socket)) as c:
        r = launch(c, proj, ["lines=20", "lines_per_s=10", "stamp=true"])
        buf = b""
        delays = []
        for chunk in c.stream(P.Logs(job=r.job_id, stream="stdout", offset=0, follow=True), timeout=30):
            now = time.time()
            buf += chunk.data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                parts = line.split()
                if len(parts) == 2 and parts[0].isdigit():
                    delays.append(now - float(parts[1]))
        assert len(delays) == 20
        assert max(delays) < 0.2, delays


def test_logs_resume_from_an_offset_without_gaps(daemon, proj):
    with Client(str(daemon.socket)) as c:
        r = launch(c, proj, ["lines=500"])
        wait_state(c, r.job_id, "completed")
        first = list(c.stream(P.Logs(job=r.job_id, stream="stdout", offset=0, follow=False)))[0]
        half = first.offset + len(first.data) // 2
        rest = b"".join(ch.data for ch in c.stream(P.Logs(job=r.job_id, stream="stdout", offset=half)))
        whole = Path(r.run_dir, "stdout.log").read_bytes()
        assert first.data[: half - first.offset] + rest == whole
        tail = b"".join(ch.data for ch in c.stream(P.Logs(job=r.job_id, stream="stdout", last_lines=2)))
        assert tail == b"500\nprobe done\n"


def test_subscribe_streams_state_changes(daemon, proj, tmp_path):
    release = tmp_path / "r"
    with Client(str(daemon.socket)) as c, Client(str(daemon.socket)) as sub:
        seen = []
        first = launch(c, proj, ["tag=first"])
        wait_state(c, first.job_id, "completed")
        stream = sub.stream(P.Subscribe(filters={}), timeout=30)
        assert next(stream).job.job_id == first.job_id  # the snapshot: we are subscribed
        r = launch(c, proj, [f"release={release}"])
        for ev in stream:
            if ev.job.job_id == r.job_id:
                seen.append(ev.job.state)
                if ev.job.state == "running":
                    release.touch()
                if ev.job.state == "completed":
                    break
        assert seen[0] == "queued" and "running" in seen and seen[-1] == "completed"


def test_cli_run_through_the_daemon(daemon, proj):
    r = run_cli(["run", "-c", PROBE, "lines=2", "exit_code=3", "--wait"], cwd=proj)
    assert r.returncode == 3, r.stderr
    assert "[job " in r.stderr and r.stdout.splitlines()[:2] == ["1", "2"]
    r2 = run_cli(["run", "-c", PROBE, "tag=nowait"], cwd=proj)
    assert r2.returncode == 0
    job_id = r2.stdout.strip()
    with Client(str(daemon.socket)) as c:
        wait_state(c, job_id, "completed")
    st = run_cli(["ctl", "status"], cwd=proj)
    assert st.returncode == 0 and "heyhi daemon" in st.stdout and job_id in st.stdout
    assert "\x1b[" not in st.stdout  # plain text when piped
    js = json.loads(run_cli(["ctl", "--json", "list", "--state", "completed"], cwd=proj).stdout)
    assert job_id in [j["job_id"] for j in js["jobs"]]
    show = run_cli(["ctl", "show", job_id[:5]], cwd=proj)
    assert "completed" in show.stdout and "history" in show.stdout
    logs = run_cli(["ctl", "logs", job_id], cwd=proj)
    assert logs.stdout.strip().endswith("probe done")
    bad = run_cli(["ctl", "show", "zzzz"], cwd=proj)
    assert bad.returncode != 0 and "no job 'zzzz'" in bad.stderr and "Traceback" not in bad.stderr


def test_ctl_without_daemon_says_so(proj):
    r = run_cli(["ctl", "status"], cwd=proj)
    assert r.returncode == 1 and "no heyhi daemon is running" in r.stderr


def test_ctl_path_stays_lean():
    import subprocess
    import sys

    code = ("import sys, heyhi.cli.main as m; sys.argv=['heyhi','ctl','status']\n"
            "try:\n    m.main(['ctl','status'])\nexcept SystemExit: pass\n"
            "bad=[x for x in ('textual','pydantic','asyncio','heyhi_daemon','rich') if x in sys.modules]\nprint(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ).stdout
    assert out.strip().splitlines()[-1] == "[]"
