"""``heyhi ctl --remote`` and ``heyhi run --remote`` against a daemon reached ONLY through a real sshd
on 127.0.0.1 (``ssh_util``): the daemon is started over SSH by the client itself, host keys are
checked, and a follow survives a killed connection without losing or repeating a byte."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import threading
import time
from contextlib import aclosing
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from daemon_util import alive
from ssh_util import free_port, keygen
from remote_util import DEMO, Remote, job_of, sshd  # noqa: F401  (sshd: a fixture)
from waiting import wait_for

from heyhi.wire import protocol as P
from heyhi.cli.remote_run import _launched_since
from heyhi.runs.records import STDOUT
from heyhi.wire.remote import HostSpec, RemoteError, connect_remote, load_settings

PROBE = "conf/probe/probe.prototxt"


@pytest.fixture
def remote(sshd, tmp_path):
    r = Remote(sshd, tmp_path)
    yield r
    r.stop()


@pytest.fixture
def probe_project(tmp_path) -> Path:
    dst = tmp_path / "probe_proj"
    shutil.copytree(REPO / "tests" / "project", dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst



def one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode != 0, r
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------
# Without SSH


def test_host_spec_and_settings(tmp_path, monkeypatch):
    assert HostSpec.parse("login1") == HostSpec("login1")
    assert HostSpec.parse("me@login1:2222") == HostSpec("login1", "me", 2222)
    assert HostSpec.parse("[::1]:22") == HostSpec("::1", None, 22) and str(HostSpec.parse("[::1]:22")) == "[::1]:22"
    for bad in ("", "me@", "host:0", "host:x", "a b"):
        with pytest.raises(RemoteError):
            HostSpec.parse(bad)
    toml = tmp_path / "remote.toml"
    toml.write_text('daemon_cmd = "d0"\nproject = "~/p"\n[hosts."login*"]\ndaemon_cmd = "d1"\n'
                    '[hosts."me@login1"]\nsocket = "~/s.sock"\n')
    monkeypatch.setenv("HEYHI_REMOTE_CONFIG", str(toml))
    monkeypatch.delenv("HEYHI_REMOTE_DAEMON_CMD", raising=False)
    monkeypatch.delenv("HEYHI_REMOTE_SOCKET", raising=False)
    s = load_settings(HostSpec.parse("me@login1:22"))
    assert (s.daemon_cmd, s.socket, s.project) == ("d1", "~/s.sock", "~/p")
    assert load_settings(HostSpec.parse("other")).daemon_cmd == "d0"
    monkeypatch.setenv("HEYHI_REMOTE_DAEMON_CMD", "d2")
    assert load_settings(HostSpec.parse("login1")).daemon_cmd == "d2"
    assert load_settings(HostSpec.parse("login1"), daemon_cmd="d3").daemon_cmd == "d3"
    toml.write_text('deamon_cmd = "typo"\n')
    with pytest.raises(RemoteError, match="unknown setting 'deamon_cmd'"):
        load_settings(HostSpec.parse("login1"))


def test_plain_ctl_never_imports_asyncssh():
    code = ("import sys, heyhi.cli.main as m\n"
            "try:\n    m.main(['ctl', 'status'])\nexcept SystemExit:\n    pass\n"
            "import heyhi.wire.remote\nprint('asyncssh' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False", out


def test_unreachable_host_is_one_line(tmp_path):
    r = run_cli(["ctl", "--remote", f"root@127.0.0.1:{free_port()}", "status"],
                env={"HEYHI_REMOTE_CONFIG": str(tmp_path / "none.toml")})
    assert "cannot connect to root@127.0.0.1:" in one_line_error(r)


# ---------------------------------------------------------------------------------------------
# Through a real sshd


def test_ctl_and_run_through_ssh(remote, demo_project):
    assert not remote.sock.exists()
    first = remote.ctl("--json", "status")
    assert first.returncode == 0, first.stderr
    assert "started the heyhi daemon on root@127.0.0.1" in first.stderr
    status = json.loads(first.stdout)
    pid = status["daemon"]["pid"]
    assert status["jobs"] == [] and alive(pid)
    # The daemon outlived the SSH session that started it; the next client finds it.
    again = remote.ctl("status")
    assert again.returncode == 0 and "started" not in again.stderr and f"pid {pid}" in again.stdout

    # A bad override: one line per error, from the remote daemon's validation.
    bad = remote.run("-c", DEMO, "--project", str(demo_project), "num_stepz=40")
    assert bad.returncode == 2 and "override 'num_stepz=40'" in bad.stderr and "Traceback" not in bad.stderr

    # A relative CFG is under --project on the remote; --wait streams the log and the exit code.
    r = remote.run("-c", DEMO, "--project", str(demo_project), "num_steps=40", "--wait")
    assert r.returncode == 0, r.stderr
    assert "step 40/40" in r.stdout and "heyhi: completed: root@127.0.0.1" in r.stderr
    job = job_of(r.stderr)
    show = json.loads(remote.ctl("--json", "show", job).stdout)
    run_dir = Path(show["job"]["run_dir"])
    assert show["job"]["state"] == "completed" and run_dir.is_relative_to(remote.base / "results")
    assert r.stdout == (run_dir / STDOUT).read_text()
    logs = remote.ctl("logs", job)
    assert logs.returncode == 0 and logs.stdout == (run_dir / STDOUT).read_text()

    # An absolute CFG without --project: the project root is found on the remote (gentle_start skips).
    skip = remote.run("-c", str(demo_project / DEMO), "num_steps=40")
    assert skip.returncode == 0 and ": skip:" in skip.stderr and job_of(skip.stderr) == job

    # Restart, follow it to its end, see it completed again with the first run in its history.
    rs = remote.ctl("restart", job, "--yes")  # it is completed: restarting wipes it, so a yes
    assert rs.returncode == 0 and f"restarted: {run_dir}" in rs.stdout, rs.stderr
    follow = remote.ctl("logs", job, "-f")
    assert follow.returncode == 0 and "step 40/40" in follow.stdout, follow.stderr
    detail = json.loads(remote.ctl("--json", "show", job).stdout)
    assert detail["job"]["state"] == "completed"
    assert [p["state"] for p in detail["previous_runs"]] == ["completed"]
    listed = json.loads(remote.ctl("--json", "list").stdout)
    assert [j["job_id"] for j in listed["jobs"]] == [job] and listed.get("daemon") is None


def test_socket_found_from_the_remote_environment(remote, sshd, demo_project):
    """No socket configured: the client reads the remote's environment ($XDG_RUNTIME_DIR, $HOME),
    starts the daemon there, and the next client finds it; a relative CFG is under the remote home."""
    xdg = remote.base / "xdg"
    xdg.mkdir(mode=0o700)
    sock = xdg / "heyhi" / "daemon.sock"
    remote.socks.append(sock)
    remote.write_toml(socket=None, daemon_cmd=remote.daemon_cmd_without("HEYHI_SOCKET"))
    sshd.authorize(environment={"XDG_RUNTIME_DIR": str(xdg)})
    try:
        rel = os.path.relpath(demo_project / DEMO, pwd.getpwnam("root").pw_dir)
        r = remote.run("-c", rel, "num_steps=5", "--wait")
        assert r.returncode == 0, r.stderr
        assert f"started the heyhi daemon on root@127.0.0.1:{sshd.port} (pid" in r.stderr
        assert f"socket {sock}" in r.stderr and "step 5/5" in r.stdout
        st = remote.ctl("list")
        assert st.returncode == 0 and "started" not in st.stderr and job_of(r.stderr) in st.stdout
    finally:
        sshd.authorize()
    assert not remote.sock.exists()


def test_wrong_host_key_is_refused(remote, sshd, tmp_path):
    impostor = tmp_path / "impostor_ed25519"
    keygen(impostor, "impostor")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(impostor.with_suffix('.pub').read_text().split()[:2])}\n")
    remote.write_toml(known_hosts=str(known))
    line = one_line_error(remote.ctl("status"))
    assert line.startswith("heyhi: root@127.0.0.1") and "host key verification failed" in line
    run = one_line_error(remote.run("-c", DEMO, "--wait"))
    assert "host key verification failed" in run
    known.write_text("")  # an unknown host is refused too, never accepted silently
    assert "host key verification failed" in one_line_error(remote.ctl("status"))
    assert not remote.sock.exists()  # nothing was started on the remote


class Lines(threading.Thread):
    """Collects a pipe's lines as they come."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe = pipe
        self.lines: list[str] = []

    def run(self) -> None:
        for raw in self.pipe:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)


def test_follow_survives_a_killed_connection(remote, sshd, probe_project):
    n = 300
    run = remote.popen("run", "--remote", remote.spec, "-c", PROBE, "--project", str(probe_project),
                       f"lines={n}", "lines_per_s=50", "exit_code=3", "--wait")
    run_out, run_err = Lines(run.stdout), Lines(run.stderr)
    run_out.start()
    run_err.start()
    try:
        job = wait_for(lambda: re.search(r"\[job (\w+)\]", run_err.text()), 30, "the launch").group(1)
        ctl = remote.popen("ctl", "--remote", remote.spec, "logs", job, "-f")
        ctl_out, ctl_err = Lines(ctl.stdout), Lines(ctl.stderr)
        ctl_out.start()
        ctl_err.start()
        try:
            wait_for(lambda: len(run_out.lines) >= 30 and len(ctl_out.lines) >= 30, 30, "both followers")
            killed = sshd.kill_connections_of(run.pid) + sshd.kill_connections_of(ctl.pid)
            seen = max(int(run_out.lines[-1]), int(ctl_out.lines[-1]))
            assert killed and seen < n - 50, (killed, seen)
            assert ctl.wait(60) == 0, ctl_err.text()
            assert run.wait(60) == 3, run_err.text()
        finally:
            if ctl.poll() is None:
                ctl.kill()
                ctl.wait()
        for t in (run_out, run_err, ctl_out, ctl_err):
            t.join(10)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    expected = [str(i) for i in range(1, n + 1)]
    assert run_out.lines == expected
    assert ctl_out.lines == expected
    for err in (run_err.text(), ctl_err.text()):
        assert "reconnecting" in err and "resuming" in err and "Traceback" not in err, err


async def test_async_client_second_channel_drop_and_launch_check(remote, sshd, probe_project, monkeypatch):
    monkeypatch.setenv("HEYHI_REMOTE_CONFIG", str(remote.toml))
    events: list[str] = []
    c = await connect_remote(remote.spec, on_event=lambda kind, msg: events.append(kind))
    async with c:
        assert events == ["started"] and c.welcome.protocol == P.PROTOCOL_VERSION
        other = await c.open_client()  # a second channel of the same SSH connection
        t0 = (await c.request(P.Ping())).time
        cfg = str(probe_project / PROBE)
        res = await c.request(P.Launch(project_root=str(probe_project), results_root=None, config=cfg,
                                       overrides=["lines=3"]))
        assert res.decision == "run" and Path(res.run_dir).is_relative_to(remote.base / "results")
        # What `run --remote` does after a drop during Launch: it finds the launch made since t0, or none.
        assert (await _launched_since(c, cfg, t0)).job_id == res.job_id
        assert await _launched_since(c, cfg, time.time() + 60) is None
        # Leaving a followed log early leaves the channel usable.
        async with aclosing(other.stream(P.Logs(job=res.job_id, follow=True))) as chunks:
            async for chunk in chunks:
                assert chunk.offset == 0
                break
        assert isinstance(await other.request(P.Ping()), P.Pong)
        # A dropped connection: a request fails with one line; reconnect() brings the client back.
        assert sshd.kill_connections_of(os.getpid())
        with pytest.raises(P.DaemonError) as e:
            await c.request(P.Ping())
        assert e.value.code == "closed" and "lost the connection" in e.value.message
        assert "root@127.0.0.1" in e.value.message and "\n" not in e.value.message
        await c.reconnect()
        assert isinstance(await c.request(P.Ping()), P.Pong)
        assert (await c.request(P.ShowJob(job=res.job_id))).job.job_id == res.job_id
        await other.close()
