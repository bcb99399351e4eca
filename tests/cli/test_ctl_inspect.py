"""``heyhi ctl show|list|logs|wait``: runs you can inspect, with a real daemon, without one (reading the
run folders) and over ``--remote`` (a real sshd). Each symptom of issue 15 is a regression test here:
show without overrides or results, ``None`` and epoch-float times, "created" after "started" for an
adopted run, a blank node for a running local job, a whole log on a terminal, ``--state`` unchecked."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import heyhi_cmd, run_cli
from daemon_util import DaemonProcess
from remote_util import DEMO, Remote, job_of, sshd  # noqa: F401  (sshd: a fixture)
from waiting import status, wait_for

PROBE = "conf/probe/probe.prototxt"
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
EPOCH = re.compile(r"\b1\d{9}(\.\d+)?\b")  # a raw unix time (2001..2286)


def heyhi(cwd: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return run_cli(list(args), cwd=cwd, **kw)


def run_here(proj: Path, config: str, *overrides: str) -> Path:
    """Run embedded (no daemon), in the foreground; the run folder."""
    r = heyhi(proj, "run", "-c", config, *overrides, "--no-daemon")
    out = heyhi(proj, "run", "-c", config, *overrides, "--print-out-dir")
    return Path(out.stdout.strip()) if r.returncode in (0, 1) else pytest.fail(r.stderr)


def start_daemon(with_daemon: bool, sock: Path, tmp_path: Path, monkeypatch) -> DaemonProcess | None:
    """A real daemon sharing the CLI's state folder (so it lists the runs launched without it)."""
    if not with_daemon:
        return None
    monkeypatch.setenv("HEYHI_STATE_DIR", str(tmp_path / "daemon-state"))  # the daemon's (daemon_util.daemon_env)
    return DaemonProcess.start(sock, stderr_dir=tmp_path)


def history_lines(show: str) -> list[str]:
    return show.split("    history:\n", 1)[1].splitlines()


def assert_human_history(show: str) -> None:
    rows = history_lines(show)
    assert rows, show
    assert "None" not in show and not EPOCH.search(show), show
    times = [re.match(rf"\s+({TIME}|-)\s", r).group(1) for r in rows]
    stamped = [t for t in times if t != "-"]
    assert stamped == sorted(stamped), show


def on_terminal(cwd: Path, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    """``heyhi ARGS`` with stdout on a pseudo-terminal (stderr piped): exit code, stdout, stderr."""
    master, slave = pty.openpty()
    p = subprocess.Popen(heyhi_cmd() + list(args), cwd=cwd, stdout=slave, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=dict(os.environ, COLUMNS="200"))
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    err = p.stderr.read().decode()
    return p.wait(timeout=timeout), out.decode().replace("\r\n", "\n"), err


# ---- show --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_daemon", [False, True], ids=["embedded", "daemon"])
def test_show_prints_overrides_config_result_metrics_and_human_history(demo_project, sock, tmp_path, monkeypatch, with_daemon):
    d = start_daemon(with_daemon, sock, tmp_path, monkeypatch)
    try:
        run_dir = run_here(demo_project, DEMO, "num_steps=20", "seed=3")  # with a daemon up: an adopted run
        job = json.loads(heyhi(demo_project, "ctl", "--json", "show", str(run_dir)).stdout)["job"]["job_id"]
        r = heyhi(demo_project, "ctl", "show", job[:6])
        assert r.returncode == 0, r.stderr
        assert "  overrides: num_steps=20 seed=3\n" in r.stdout
        assert f"   composed: {run_dir}/config_meta.prototxt\n" in r.stdout
        assert re.search(r"     result: \{\"loss\": [\d.]+, \"accuracy\": [\d.]+, \"steps\": 20\}", r.stdout), r.stdout
        assert re.search(r"\n      loss\s+[\d.]+\s+step 20\n", r.stdout), r.stdout
        assert re.search(rf"    created: {TIME}\n", r.stdout) and re.search(rf"    started: {TIME}\n", r.stdout)
        assert_human_history(r.stdout)
        assert [x.split()[2] for x in history_lines(r.stdout)] == ["queued", "running", "completed"]
        # --json: the same, as data; an adopted run was never created after it started
        js = json.loads(heyhi(demo_project, "ctl", "--json", "show", job).stdout)
        assert js["overrides"] == ["num_steps=20", "seed=3"] and js["result"]["steps"] == 20
        assert js["metrics"]["loss"]["step"] == 20 and js["metrics"]["loss"]["value"] == pytest.approx(
            [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()][-1]["loss"])
        assert js["job"]["created"] <= js["job"]["started"] <= js["job"]["ended"]
        assert js["job"]["node"] == socket.gethostname()
    finally:
        if d is not None:
            d.stop()


def test_restart_history_shows_times_in_order(demo_project, daemon):
    run_dir = run_here(demo_project, DEMO, "num_steps=20")
    first = heyhi(demo_project, "ctl", "restart", str(run_dir), "--yes")
    assert first.returncode == 0, first.stderr
    wait_for(lambda: status(run_dir).get("state") == "completed", 60, "the restarted run to complete")
    r = heyhi(demo_project, "ctl", "show", str(run_dir))
    assert "previous run 1: completed" in r.stdout, r.stdout
    assert re.search(rf"previous run 1: completed .*started={TIME}", r.stdout), r.stdout
    assert_human_history(r.stdout)


def test_show_over_remote_reads_the_run_folder_through_the_daemon(sshd, tmp_path, demo_project):
    remote = Remote(sshd, tmp_path)
    try:
        r = remote.run("-c", DEMO, "--project", str(demo_project), "num_steps=20", "seed=5", "--wait")
        assert r.returncode == 0, r.stderr
        job = job_of(r.stderr)
        show = remote.ctl("show", job)
        assert "  overrides: num_steps=20 seed=5\n" in show.stdout and "\"steps\": 20" in show.stdout, show.stdout
        assert re.search(r"\n      loss\s+[\d.]+\s+step 20\n", show.stdout), show.stdout
        assert_human_history(show.stdout)
        assert remote.ctl("wait", job).returncode == 0
        listed = json.loads(remote.ctl("--json", "list", "--state", "completed,crashed").stdout)
        assert [j["job_id"] for j in listed["jobs"]] == [job]
    finally:
        remote.stop()


# ---- list -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_daemon", [False, True], ids=["embedded", "daemon"])
def test_list_state_is_checked_and_takes_several(proj, sock, tmp_path, monkeypatch, with_daemon):
    d = start_daemon(with_daemon, sock, tmp_path, monkeypatch)
    try:
        ok = run_here(proj, PROBE, "tag=ok")
        bad = run_here(proj, PROBE, "tag=bad", "crash=true")
        cancelled = run_here(proj, PROBE, "tag=gone")
        from heyhi.runs.records import RunDir

        RunDir(cancelled).set_state("cancelled", reason="cancelled by the test")
        for state in ("bogus", "completed,bogus", ","):
            r = heyhi(proj, "ctl", "list", "--state", state)
            assert r.returncode == 2 and r.stdout == "", r
            assert r.stderr.startswith(f"heyhi: --state {state}: expected one of cancelled, completed, crashed, lost, "
                                       "queued, requeued, running, submitted") and r.stderr.count("\n") == 1, r.stderr
        r = heyhi(proj, "ctl", "--json", "list", "--state", "completed,crashed")
        assert r.returncode == 0, r.stderr
        jobs = json.loads(r.stdout)["jobs"]
        assert {j["run_dir"]: j["state"] for j in jobs} == {str(ok): "completed", str(bad): "crashed"}
        assert all(j["created"] <= j["started"] and j["node"] == socket.gethostname() for j in jobs), jobs
        table = heyhi(proj, "ctl", "list", "--state", "cancelled").stdout.splitlines()
        assert len(table) == 2 and "cancelled" in table[1] and cancelled.name in table[1]
    finally:
        if d is not None:
            d.stop()


def test_node_column_is_filled_for_a_running_local_job(proj, daemon, tmp_path):
    release = tmp_path / "release"
    r = heyhi(proj, "run", "-c", PROBE, f"release={release}", "tag=slow")
    job = r.stdout.strip()
    try:
        wait_for(lambda: json.loads(heyhi(proj, "ctl", "--json", "show", job).stdout)["job"]["state"] == "running",
                 60, "the job to run")
        rows = [x for x in heyhi(proj, "ctl", "list").stdout.splitlines() if x.startswith(job)]
        assert len(rows) == 1 and "running" in rows[0] and f" {socket.gethostname()} " in rows[0], rows
        assert json.loads(heyhi(proj, "ctl", "--json", "list", "--state", "running").stdout)["jobs"][0]["node"]
    finally:
        release.touch()


# ---- logs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_daemon", [False, True], ids=["embedded", "daemon"])
def test_logs_on_a_terminal_show_the_last_lines(proj, sock, tmp_path, monkeypatch, with_daemon):
    run_dir = run_here(proj, PROBE, "lines=400", "tag=chatty")
    d = start_daemon(with_daemon, sock, tmp_path, monkeypatch)
    try:
        code, out, err = on_terminal(proj, "ctl", "logs", str(run_dir))
        assert code == 0, err
        assert out.splitlines() == [str(i) for i in range(352, 401)] + ["probe done"]
        assert "heyhi: the last 50 lines (--all shows the whole log" in err
        code, out, err = on_terminal(proj, "ctl", "logs", str(run_dir), "--all")
        assert code == 0 and out.splitlines() == [str(i) for i in range(1, 401)] + ["probe done"] and err == ""
        piped = heyhi(proj, "ctl", "logs", str(run_dir))  # a pipe gets everything
        assert piped.stdout.splitlines() == [str(i) for i in range(1, 401)] + ["probe done"] and piped.stderr == ""
        assert heyhi(proj, "ctl", "logs", str(run_dir), "-n", "3").stdout.splitlines() == ["399", "400", "probe done"]
    finally:
        if d is not None:
            d.stop()


def test_a_short_log_on_a_terminal_is_whole_without_a_note(proj):
    run_dir = run_here(proj, PROBE, "lines=3", "tag=short")
    code, out, err = on_terminal(proj, "ctl", "logs", str(run_dir))
    assert code == 0 and out.splitlines() == ["1", "2", "3", "probe done"] and err == ""


# ---- wait -------------------------------------------------------------------------------------------


def test_wait_with_a_daemon(proj, daemon, tmp_path):
    release = tmp_path / "release"
    slow = heyhi(proj, "run", "-c", PROBE, f"release={release}", "tag=slow").stdout.strip()
    crash = heyhi(proj, "run", "-c", PROBE, "crash=true", "tag=crash").stdout.strip()
    t0 = time.monotonic()
    r = heyhi(proj, "ctl", "wait", slow, "--timeout", "0.5")
    assert r.returncode == 124 and time.monotonic() - t0 < 30, r
    assert r.stderr == f"heyhi: timed out after 0.5s: 1 of 1 jobs not ended ({slow})\n"
    release.touch()
    r = heyhi(proj, "ctl", "wait", slow)
    assert r.returncode == 0 and r.stdout.split()[:2] == [slow, "completed"], r
    r = heyhi(proj, "ctl", "--json", "wait", slow, crash)
    assert r.returncode == 1, r
    assert [(j["job_id"], j["state"]) for j in json.loads(r.stdout)["jobs"]] == [(slow, "completed"), (crash, "crashed")]
    bad = heyhi(proj, "ctl", "wait", slow, "zzzz")
    assert bad.returncode == 2 and bad.stderr.startswith("heyhi: no job 'zzzz'") and bad.stdout == ""
    for args in (["wait"], ["wait", slow, "--timeout", "soon"], ["wait", slow, "--timeout", "-1"]):
        r = heyhi(proj, "ctl", *args)
        assert r.returncode == 2 and r.stderr.count("\n") <= 2 and "Traceback" not in r.stderr, r


def test_wait_without_a_daemon_follows_the_run_folder(proj, tmp_path):
    release = tmp_path / "release"
    p = subprocess.Popen(heyhi_cmd() + ["run", "-c", PROBE, f"release={release}", "tag=fg", "--no-daemon"], cwd=proj,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_dir = Path(heyhi(proj, "run", "-c", PROBE, f"release={release}", "tag=fg", "--print-out-dir").stdout.strip())
        wait_for(lambda: status(run_dir).get("state") == "running", 60, "the embedded run to start")
        r = heyhi(proj, "ctl", "wait", str(run_dir), "--timeout", "0.3")
        assert r.returncode == 124 and "1 of 1 jobs not ended" in r.stderr, r
        release.touch()
        r = heyhi(proj, "ctl", "wait", str(run_dir))
        assert r.returncode == 0 and "completed" in r.stdout, r
    finally:
        release.touch()
        p.wait(timeout=60)
