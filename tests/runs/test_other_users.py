"""Other users kept out: private modes whatever the umask, locks that never freeze anything, a client
that talks only to its own user's socket.

The two-user tests create real unprivileged users (``useradd``, removed after) and need root; they skip
with the reason otherwise. The owner runs a real daemon and the real CLI; the intruder runs the system
``python3`` with only its standard library (it cannot read the checkout).
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, heyhi_cmd, run_cli
from daemon_util import DaemonProcess, read_line
from waiting import status, wait_for

from heyhi.errors import Busy
from heyhi import perms
from heyhi.runs import locks

PROBE = "conf/probe/probe.prototxt"
STATUS_WITHIN_S = 2.0

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("useradd") is None,
                                reason="creating a second unix user needs root and useradd")


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


# ---- modes, whatever the umask ------------------------------------------------------------------

def test_private_modes_whatever_the_umask(tmp_path, monkeypatch):
    from heyhi.runs import records as R
    from heyhi.runs.snapshot import take_snapshot

    monkeypatch.delenv(perms.SHARED_GROUP_ENV, raising=False)
    root, run = tmp_path / "results", tmp_path / "results" / "p" / "run"
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "run.py").write_text("x = 1\n")
    os.chmod(tmp_path / "code" / "run.py", 0o755)
    old = os.umask(0)
    try:
        with locks.folder_lock(root, run):
            run.mkdir(parents=True)  # as a launch makes it: 0777 under this umask
            R.write_atomic(run / R.STATUS, "{}")
            R.RunDir(run).set_state(R.QUEUED)
        code_dir, _ = take_snapshot(tmp_path / "code", root / ".heyhi" / "code", exclude=[root])
    finally:
        os.umask(old)
    assert mode(run) == 0o700
    assert {f.name: mode(f) for f in run.iterdir()} == {R.STATUS: 0o600, locks.STATUS_LOCK: 0o600}
    lock = locks.lock_path(root, run)
    assert (mode(root), mode(root / ".heyhi"), mode(lock.parent), mode(lock)) == (0o700, 0o700, 0o700, 0o600)
    assert (mode(root / ".heyhi" / "code"), mode(code_dir), mode(code_dir / "run.py")) == (0o700, 0o700, 0o700)


def test_one_folder_spelled_two_ways_is_one_lock(tmp_path):
    root = tmp_path / "results"
    (root / "a").mkdir(parents=True)
    (tmp_path / "link").symlink_to(root)
    with locks.folder_lock(root, root / "a" / "run"):
        for other in (root / "a" / ".." / "a" / "run", tmp_path / "link" / "a" / "run"):
            t0 = time.monotonic()
            with pytest.raises(Busy, match="^busy: the run folder .* is taken by another launch$"):
                with locks.folder_lock(root, other):
                    pass
            assert time.monotonic() - t0 < 0.5


# ---- a held status lock never freezes the daemon --------------------------------------------------

def timed_status(env: dict | None = None, **kw) -> float:
    t0 = time.monotonic()
    r = run_cli(["ctl", "status"], env=env, timeout=30, **kw)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    return took


def test_cancel_with_the_status_lock_held_never_freezes_the_daemon(proj, tmp_path):
    """A job that finished its task waits on a held status lock; ``ctl cancel`` kills it; the daemon
    must keep answering (before: its event loop waited on the lock until it was released)."""
    daemon = DaemonProcess.start(Path(os.environ["HEYHI_SOCKET"]), stderr_dir=tmp_path)
    try:
        marker, release = tmp_path / "marker", tmp_path / "release"
        r = run_cli(["run", "-c", PROBE, f"marker={marker}", f"release={release}"], cwd=proj)
        assert r.returncode == 0, r.stderr
        job = r.stdout.strip().splitlines()[-1]
        run_dir = Path(re.search(r"\((/[^)]*)\) \[job", r.stderr).group(1))
        wait_for(marker.exists, what="the job to start")
        fd = os.open(run_dir / locks.STATUS_LOCK, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            release.touch()  # the task ends; its final state waits on the lock
            cancel = subprocess.Popen(heyhi_cmd() + ["ctl", "cancel", job], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
            wait_for(lambda: status(run_dir).get("pid") and not os.path.exists(f"/proc/{status(run_dir)['pid']}"),
                     timeout=20, what="the job to be killed")
            for _ in range(2):
                assert timed_status() < STATUS_WITHIN_S
        finally:
            os.close(fd)
        out, err = cancel.communicate(timeout=30)
        assert len((out + err).strip().splitlines()) == 1, out + err
        assert cancel.returncode == 0 or err.startswith("heyhi: busy:"), err
        assert timed_status() < STATUS_WITHIN_S
    finally:
        daemon.stop()


# ---- real second users ----------------------------------------------------------------------------

class User:
    def __init__(self, name: str):
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid = name, pw.pw_uid, pw.pw_gid


@contextlib.contextmanager
def unix_users(n: int, group: str | None = None):
    """``n`` fresh unprivileged users (each with its own group, plus ``group`` if given), removed after."""
    tag = secrets.token_hex(3)
    names = [f"hh{tag}u{i}" for i in range(n)]
    made_group = False
    try:
        if group:
            subprocess.run(["groupadd", group], check=True, capture_output=True)
            made_group = True
        for name in names:
            extra = ["-G", group] if group else []
            subprocess.run(["useradd", "-M", "-U", "-s", "/usr/sbin/nologin", *extra, name], check=True,
                           capture_output=True)
        yield [User(n) for n in names]
    finally:
        for name in names:
            subprocess.run(["userdel", name], capture_output=True)
        if made_group:
            subprocess.run(["groupdel", group], capture_output=True)


def as_user(user: User, *, groups: list[int] | None = None) -> dict:
    return {"user": user.uid, "group": user.gid, "extra_groups": groups or [], "umask": 0o022}


def owner_python(user: User, env: dict) -> tuple[str, dict]:
    """An interpreter the owner can run that imports HeyHi: the venv's, else a system Python of the same
    version with the venv's packages and the checkout on PYTHONPATH (the venv may live under /root)."""
    site = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(str(REPO)))
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    probe = f"import sys, heyhi.wire.client, heyhi_daemon.main, pydantic, msgpack; assert sys.version_info[:2] == {sys.version_info[:2]}"
    candidates = [(sys.executable, {}),
                  (shutil.which(ver, path="/usr/bin:/usr/local/bin:/bin") or "",
                   {"PYTHONPATH": os.pathsep.join([str(REPO / "shared"), str(REPO), site])})]
    for exe, extra in candidates:
        if not exe:
            continue
        try:
            r = subprocess.run([exe, "-c", probe], env={**env, **extra}, capture_output=True, cwd="/", **as_user(user))
        except PermissionError:  # the venv's interpreter sits in a folder the user cannot reach
            continue
        if r.returncode == 0:
            return exe, extra
    pytest.skip(f"no Python {sys.version_info[:2]} the test user can run with HeyHi installed")


INTRUDER = r"""
import fcntl, json, os, socket, sys
args = json.loads(sys.argv[1])
out = {}
def tried(key, fn):
    try:
        fn()
        out[key] = "ok"
    except PermissionError:
        out[key] = "denied"
    except OSError as e:
        out[key] = "error %s" % e.errno
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(args["socket"])
held = []
def grab(path):
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # and keep it, as an attacker would
    held.append(fd)
tried("connect", connect)
for p in args["read"]:
    tried("read " + p, lambda: open(p, "rb").read(1))
for p in args["list"]:
    tried("list " + p, lambda: os.listdir(p))
for p in args["locks"]:
    tried("lock " + p, lambda: grab(p))
print(json.dumps(out), flush=True)
sys.stdin.read()  # hold whatever was taken until the test is done
"""


def system_python3() -> str:
    exe = shutil.which("python3", path="/usr/bin:/bin:/usr/local/bin")
    if exe is None:
        pytest.skip("no system python3 for the intruder")
    return exe


@needs_root
def test_another_user_is_kept_out_and_cannot_freeze_the_daemon():
    py3 = system_python3()
    base = Path(tempfile.mkdtemp(prefix="hh-users-", dir="/tmp"))
    daemon = intruder = None
    try:
        with unix_users(2) as (owner, other):
            os.chmod(base, 0o755)  # world-traversable: only HeyHi's own modes keep the intruder out
            os.chown(base, owner.uid, owner.gid)
            home = base / "home"
            home.mkdir(mode=0o700)
            shutil.copytree(REPO / "tests" / "project", base / "proj", ignore=shutil.ignore_patterns("__pycache__"))
            for p in [home, *(base / "proj").rglob("*"), base / "proj"]:
                os.lchown(p, owner.uid, owner.gid)
            sock = base / "sock" / "daemon.sock"
            results, state = base / "results", base / "state"
            env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                   "HH_EXP_DIR": str(results), "HEYHI_SOCKET": str(sock), "HEYHI_STATE_DIR": str(state),
                   "XDG_CACHE_HOME": str(home / ".cache")}
            exe, extra = owner_python(owner, env)
            env.update(extra)

            def owner_run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
                return subprocess.run([exe, "-m", "heyhi.cli.main", *args], env=env, cwd=base / "proj",
                                      capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                                      **as_user(owner))

            def owner_status() -> float:
                t0 = time.monotonic()
                r = owner_run("ctl", "--json", "status", timeout=30)
                took = time.monotonic() - t0
                assert r.returncode == 0, r.stderr
                assert took < STATUS_WITHIN_S, f"ctl status took {took:.1f}s"
                return json.loads(r.stdout)["jobs"]

            derr = open(home / "daemon.stderr", "wb")
            daemon = subprocess.Popen([exe, "-m", "heyhi_daemon.main", "start", "--foreground", "--socket", str(sock)],
                                      env=env, cwd="/", stdout=subprocess.PIPE, stderr=derr, stdin=subprocess.DEVNULL,
                                      **as_user(owner))
            assert "listening on" in read_line(daemon, 30), (home / "daemon.stderr").read_text()

            marker, release = home / "marker", base / "release"
            r = owner_run("run", "-c", PROBE, f"marker={marker}", f"release={release}")
            assert r.returncode == 0, r.stderr
            job = r.stdout.strip().splitlines()[-1]
            run_dir = Path(re.search(r"\((/[^)]*)\) \[job", r.stderr).group(1))
            wait_for(marker.exists, what="the owner's job to start")
            owner_status()

            lock = results / ".heyhi" / "locks" / (hashlib.md5(os.path.realpath(run_dir).encode()).hexdigest() + ".lock")
            snapshots = results / ".heyhi" / "code"
            targets = {
                "socket": str(sock),
                "read": [str(run_dir / f) for f in ("heyhi.status.json", "heyhi.run.json", "stdout.log", "stderr.log")],
                "list": [str(p) for p in (run_dir, results, snapshots, lock.parent, state, sock.parent)],
                "locks": [str(lock), str(run_dir / locks.STATUS_LOCK)],
            }
            intruder = subprocess.Popen([py3, "-I", "-S", "-c", INTRUDER, json.dumps(targets)], cwd="/",
                                        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **as_user(other))
            tried = json.loads(intruder.stdout.readline() or "{}")
            assert tried and set(tried.values()) == {"denied"}, tried

            # The owner's daemon answers throughout, and a cancel (which writes the status) goes through.
            owner_status()
            r = owner_run("ctl", "cancel", job, timeout=30)
            assert r.returncode == 0, r.stderr
            jobs = owner_status()
            assert [j["state"] for j in jobs if j["job_id"] == job] == ["cancelled"], jobs

            # What keeps the intruder out is HeyHi's modes, whatever this umask (022) would allow.
            assert (mode(results), mode(run_dir), mode(lock.parent), mode(lock), mode(snapshots)) == \
                (0o700, 0o700, 0o700, 0o600, 0o700)
            for f in run_dir.iterdir():
                assert mode(f) & 0o077 == 0, f
            assert (mode(sock.parent), mode(sock), mode(state)) == (0o700, 0o600, 0o700)
            assert all(mode(f) & 0o077 == 0 for f in state.iterdir())

            # The intruder's own socket in the way: the owner's client refuses it before sending anything.
            intruder.stdin.close()
            intruder.wait(10)
    finally:
        if intruder is not None and intruder.poll() is None:
            intruder.kill()
            intruder.wait(10)
        if daemon is not None:
            daemon.terminate()
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait(10)
        shutil.rmtree(base, ignore_errors=True)


@needs_root
def test_client_refuses_a_socket_of_another_user(tmp_path):
    """The client checks the socket and its folder belong to the user before sending anything."""
    import socket as so

    with unix_users(1) as (other,):
        folder = tmp_path / "theirs"
        folder.mkdir(mode=0o700)
        listener = so.socket(so.AF_UNIX, so.SOCK_STREAM)
        listener.bind(str(folder / "daemon.sock"))
        listener.listen(1)
        listener.setblocking(False)
        try:
            for owner_of in ("folder", "socket"):
                os.chown(folder if owner_of == "folder" else folder / "daemon.sock", other.uid, other.gid)
                r = run_cli(["ctl", "status"], env={"HEYHI_SOCKET": str(folder / "daemon.sock")}, timeout=30)
                assert r.returncode != 0
                assert r.stderr.strip().splitlines() == [r.stderr.strip()], r.stderr
                assert f"belongs to uid {other.uid}, not to you" in r.stderr, r.stderr
                with pytest.raises(BlockingIOError):
                    listener.accept()  # nothing was sent: the client never even connected
                os.chown(folder, 0, 0)
                os.chown(folder / "daemon.sock", 0, 0)
            os.chmod(folder, 0o777)
            r = run_cli(["ctl", "status"], env={"HEYHI_SOCKET": str(folder / "daemon.sock")}, timeout=30)
            assert "is writable by group or others" in r.stderr, r.stderr
        finally:
            listener.close()


@needs_root
def test_shared_group_lock_held_by_another_uid_is_busy_at_once(tmp_path, monkeypatch):
    """In a group-shared results root a colleague can take a run's lock: HeyHi answers
    "busy: held by uid N" at once, never waits."""
    group = f"hh{secrets.token_hex(3)}g"
    with unix_users(1, group=group) as (colleague,):
        gid = grp.getgrnam(group).gr_gid
        monkeypatch.setenv(perms.SHARED_GROUP_ENV, group)
        base = Path(tempfile.mkdtemp(prefix="hh-shared-", dir="/tmp"))
        holder = None
        try:
            os.chmod(base, 0o755)
            root, run = base / "results", base / "results" / "run"
            with locks.folder_lock(root, run):
                run.mkdir()
                from heyhi.runs import records as R

                R.RunDir(run).set_state(R.QUEUED)
            lock = locks.lock_path(root, run)
            for d in (root, root / ".heyhi", lock.parent, run):
                st = os.stat(d)
                assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o2770, gid), d
            for f in (lock, run / locks.STATUS_LOCK, run / R.STATUS):
                st = os.stat(f)
                assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o660, gid), f
            hold = ("import fcntl, os, sys\nfds = [os.open(p, os.O_RDWR) for p in sys.argv[1:]]\n"
                    "[fcntl.flock(fd, fcntl.LOCK_EX) for fd in fds]\nprint('held', flush=True)\nsys.stdin.read()\n")
            holder = subprocess.Popen([system_python3(), "-I", "-S", "-c", hold, str(lock), str(run / locks.STATUS_LOCK)],
                                      cwd="/", env={"PATH": "/usr/bin:/bin"}, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, **as_user(colleague, groups=[gid]))
            assert holder.stdout.readline().strip() == "held"
            for take in (lambda: locks.folder_lock(root, run, deadline=30),
                         lambda: R.RunDir(run).status_lock()):
                t0 = time.monotonic()
                with pytest.raises(Busy, match=f"^busy: held by uid {colleague.uid}: "):
                    with take():
                        pass
                assert time.monotonic() - t0 < 0.5
        finally:
            if holder is not None:
                holder.stdin.close()
                holder.wait(10)
            shutil.rmtree(base, ignore_errors=True)
