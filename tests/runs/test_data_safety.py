"""Writes and wipes, one guarded path (issue 11, item 2): nothing that should survive is deleted.

Files are planted around and inside run folders (sibling runs, a parent's own files, files in the
results root, ``.heyhi/code`` snapshots, a user's file inside a run folder) and every path that writes
or wipes is tried against them: ``heyhi run --no-daemon``, ``heyhi run`` through the daemon, ``heyhi ctl
restart|wipe|clean|trash|restore``, raw protocol ``Launch``/``Restart``/``Wipe``, sweeps (embedded and in the
daemon). The TUI is in ``test_data_safety_tui.py``. Each check compares whole trees, byte for byte,
before and after, and asserts HeyHi's own one-line wording.

Run folders are planted with HeyHi's own writer (``prepare_run`` and ``RunDir.set_state``, in this
process) where a real job would only cost time; the attempts themselves always go through the real
CLI or a real daemon process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import heyhi_cmd, run_cli
from daemon_util import DaemonProcess, raw_connect
from waiting import lines, status, wait_for

from heyhi.wire import protocol as P
from heyhi.runs import records as R
from heyhi.wire.client import Client
from heyhi.errors import HeyHiError
from heyhi.runs.locks import lock_path

PROBE = "conf/probe/probe.prototxt"
STEPS = ("checked", "locked", "decided", "stopped", "wiped", "indexed", "written", "started")

pytestmark = pytest.mark.timeout(120)


# ---- helpers ------------------------------------------------------------------------------------

def results() -> Path:
    return Path(os.environ["HH_EXP_DIR"])


def tree(base: Path, skip: tuple[str, ...] = (".heyhi/locks",)) -> dict[str, object]:
    """Everything under ``base`` (symlinks not followed): relative path -> bytes, "<dir>" or "-> target".
    ``skip``: folders whose content is HeyHi's transient bookkeeping (lock files)."""
    out: dict[str, object] = {}

    def walk(d: Path, rel: str) -> None:
        for e in sorted(os.scandir(d), key=lambda e: e.name):
            r = f"{rel}{e.name}"
            if e.is_symlink():
                out[r] = "-> " + os.readlink(e.path)
            elif e.is_dir():
                if r not in skip:
                    out[r] = "<dir>"
                    walk(Path(e.path), r + "/")
            else:
                out[r] = Path(e.path).read_bytes()

    if base.exists():
        walk(base, "")
    return out


def diff(before: dict, after: dict) -> str:
    gone = sorted(set(before) - set(after))
    new = sorted(set(after) - set(before))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return f"gone: {gone}\nnew: {new}\nchanged: {changed}"


def assert_same(before: dict, after: dict) -> None:
    assert before == after, diff(before, after)


def make_run(proj: Path, overrides: list[str], *, state: str = R.COMPLETED, root: Path | None = None,
             out: str | None = None) -> Path:
    """A run folder written by HeyHi's own writer (code snapshot included), left in ``state``."""
    from heyhi.config.compose import Composer
    from heyhi.runs.outdir import run_folder
    from heyhi.config.project import Project
    from heyhi.runs.prepare import prepare_run

    project = Project(proj)
    root = root or results()
    composed = Composer(project).compose(proj / PROBE, overrides)
    rd = run_folder(root, composed.config, project.conf_dir, composed.raw_overrides, False, out)
    prepare_run(project, composed, rd, results_root=root)
    rd_ = R.RunDir(rd)
    if state != R.QUEUED:
        rd_.write_jobid(f"local:{os.getpid()}")
    if state == R.COMPLETED:
        rd_.set_state(R.RUNNING, pid=os.getpid())
        rd_.set_state(R.COMPLETED, exit_code=0)
        (rd / R.STDOUT).write_text("probe done\n")
        (rd / R.COMPLETED_MARKER).touch()
    elif state == R.CRASHED:
        rd_.set_state(R.CRASHED, exit_code=1, reason="probe crashed on purpose")
    return rd


def one_line(r: subprocess.CompletedProcess) -> str:
    """The CLI's stderr, which must be exactly one line (no traceback, no second line)."""
    got = r.stderr.strip().splitlines()
    assert len(got) == 1, r.stderr
    return got[0]


def heyhi(proj: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli(list(args), cwd=proj, env=env)


def trash_entries(root: Path) -> list[Path]:
    t = root / ".heyhi" / "trash"
    return sorted(p for p in t.iterdir() if p.is_dir()) if t.is_dir() else []


# ---- embedded: writes into folders that are not run folders, wipes of parents and of state ------

def test_embedded_never_writes_over_parents_state_or_foreign_folders(proj, tmp_path, monkeypatch):
    """``heyhi run --no-daemon --out X``: X a parent of other runs, HeyHi's ``.heyhi`` (code snapshots),
    the results root, a non-empty non-run folder reached by ``../../etc``: one line, exit 2, nothing
    written or deleted; a parent that holds a run record AND other runs is never wiped; the run
    folder itself is wiped only with a yes, to the trash, with the user's file in it."""
    base = tmp_path / "sys"
    root = base / "home" / "results"
    monkeypatch.setenv("HH_EXP_DIR", str(root))
    one, two = make_run(proj, ["tag=one"]), make_run(proj, ["tag=two"])
    (one / "my_notes.txt").write_text("a user's file inside a run folder")
    parent = one.parent
    assert two.parent == parent
    (parent / "README.md").write_text("the parent's own file")
    (root / "notes.txt").write_text("a file in the results root")
    snapshots = root / ".heyhi" / "code"
    assert any(snapshots.iterdir())
    etc = base / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n")
    before, before_etc = tree(root), tree(etc)

    def refused(out: str, folder: Path, why: str, *flags: str) -> None:
        r = heyhi(proj, "run", "-c", PROBE, "--no-daemon", "tag=one", "--out", out, *flags)
        line = one_line(r)
        assert r.returncode == 2, r.stderr
        assert line.startswith(f"heyhi: refusing to write a run into {folder}: {why}"), line
        assert_same(before, tree(root))
        assert_same(before_etc, tree(etc))

    force = ("--mode", "restart", "--force")
    not_a_run = "it holds files that are not a HeyHi run (e.g. "
    refused(str(parent), parent, not_a_run, *force)
    refused(str(parent.parent), parent.parent, not_a_run, *force)
    refused(str(root / ".heyhi"), root / ".heyhi", "it is inside HeyHi's own state (.heyhi)", *force)
    refused(".heyhi/code", snapshots, "it is inside HeyHi's own state (.heyhi)", *force)
    refused(str(root), root, "it is a results root", *force)
    refused("../../etc", etc, not_a_run)
    refused("../../etc", etc, not_a_run, *force)
    refused(str(base / "home" / "results" / ".." / ".." / "etc"), etc, not_a_run, *force)

    # A parent that holds a run record of its own and other runs below it: never wiped.
    for f in (R.RUN, R.STATUS):
        shutil.copy(one / f, parent / f)
    before = tree(root)
    r = heyhi(proj, "run", "-c", PROBE, "--no-daemon", "--out", str(parent), *force)
    assert r.returncode == 2, r.stderr
    assert one_line(r) in (f"heyhi: refusing to wipe {parent}: it holds another run folder: {one}",
                           f"heyhi: refusing to wipe {parent}: it holds another run folder: {two}")
    assert_same(before, tree(root))

    # The run folder itself: no terminal and no --force -> refused; --force -> to the trash, and
    # only it: the parent's files, its sibling, the root's files and the snapshots stay.
    r = heyhi(proj, "run", "-c", PROBE, "--no-daemon", "--mode", "restart", "tag=one")
    assert r.returncode == 2
    assert one_line(r) == f"heyhi: refusing to wipe {one} (completed) without a yes: pass --force"
    assert_same(before, tree(root))
    r = heyhi(proj, "run", "-c", PROBE, "--no-daemon", "--mode", "restart", "--force", "tag=one")
    assert r.returncode == 0, r.stderr
    [entry] = trash_entries(root)
    assert f"heyhi: the old run is in the trash: {entry}" in r.stderr
    assert (entry / "run" / "my_notes.txt").read_text() == "a user's file inside a run folder"
    assert json.loads((entry / "origin.json").read_text())["path"] == str(one)
    rel = str(one.relative_to(root))
    inside = {k[len(rel) + 1:]: v for k, v in before.items() if k.startswith(rel + "/")}
    assert tree(entry / "run") == inside  # the old run, byte for byte, in the trash
    after = tree(root)
    for k, v in before.items():  # everything else stays as it was
        if k != rel and not k.startswith(rel + "/"):
            assert after.get(k) == v, k
    assert status(one)["state"] == "completed" and not (one / "my_notes.txt").exists()
    assert tree(etc) == before_etc


# ---- through the daemon -------------------------------------------------------------------------

@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """The results root, two levels down (so ``--out ../../etc`` lands in ``tmp_path/sys/etc``)."""
    r = tmp_path / "sys" / "home" / "results"
    monkeypatch.setenv("HH_EXP_DIR", str(r))
    return r


@pytest.fixture
def sock(monkeypatch, tmp_path):
    d = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
    s = d / "sock" / "d.sock"
    monkeypatch.setenv("HEYHI_SOCKET", str(s))
    # The CLI and the daemon share the user's state (roots, --out folders, launches), as in real use.
    monkeypatch.setenv("HEYHI_STATE_DIR", str(tmp_path / "daemon-state"))
    yield s
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemon(root, sock, tmp_path):
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    yield d
    d.stop()


def launch_req(proj: Path, overrides: list[str], **kw) -> P.Launch:
    kw.setdefault("results_root", os.environ["HH_EXP_DIR"])
    return P.Launch(project_root=str(proj), config=str(proj / PROBE), overrides=overrides, **kw)


def wait_state(c: Client, job: str, state: str, timeout: float = 60) -> P.JobInfo:
    return wait_for(lambda: (j := c.request(P.ShowJob(job=job)).job).state == state and j, timeout,
                    f"job {job} {state}")


def test_daemon_launches_never_write_over_foreign_folders_nor_wipe_without_a_yes(daemon, root, proj, tmp_path):
    """Through the daemon (``heyhi run`` and raw ``Launch`` requests): the same refusals as embedded;
    no terminal and no --force never wipes (the daemon answers "confirm"); a request's results root
    (even "/") never makes a folder wipeable; a confirmation of a state the folder is no longer in
    never wipes."""
    one = make_run(proj, ["tag=one"])
    make_run(proj, ["tag=two"])  # a sibling run
    (one / "my_notes.txt").write_text("a user's file inside a run folder")
    parent = one.parent
    (parent / "README.md").write_text("the parent's own file")
    (root / "notes.txt").write_text("a file in the results root")
    etc = root.parent.parent / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    x = tmp_path / "x"  # a completed run copied by hand outside every configured root
    shutil.copytree(one, x / "run")
    before, before_etc, before_x = tree(root), tree(etc), tree(x)

    def unchanged() -> None:
        assert_same(before, tree(root))
        assert_same(before_etc, tree(etc))
        assert_same(before_x, tree(x))

    force = ("--mode", "restart", "--force")
    for out, folder, why in [
        (str(parent), parent, "it holds files that are not a HeyHi run (e.g. "),
        (".heyhi", root / ".heyhi", "it is inside HeyHi's own state (.heyhi)"),
        (str(root / ".heyhi" / "code"), root / ".heyhi" / "code", "it is inside HeyHi's own state (.heyhi)"),
        ("../../etc", etc, "it holds files that are not a HeyHi run (e.g. passwd)"),
    ]:
        r = heyhi(proj, "run", "-c", PROBE, "tag=one", "--out", out, *force)
        assert r.returncode == 2, r.stderr
        assert one_line(r).startswith(f"heyhi: refusing to write a run into {folder}: {why}"), r.stderr
        unchanged()

    # No terminal and no --force: the daemon asks (answers "confirm"), the CLI refuses; nothing moves.
    r = heyhi(proj, "run", "-c", PROBE, "tag=one", "--out", str(one), "--mode", "restart")
    assert r.returncode == 2
    assert one_line(r) == (f"heyhi: refusing to wipe {one} (its run is completed) without a terminal to "
                           "confirm: pass --force")
    unchanged()

    with Client(str(daemon.socket)) as c:
        # A request naming "/" (or the folder's own parent) as its results root, no force: "confirm".
        for rr in ("/", str(x)):
            res = c.request(launch_req(proj, ["tag=one"], results_root=rr, out=str(x / "run"), mode="restart"))
            assert (res.decision, res.state, res.run_dir, res.job_id) == ("confirm", "completed", str(x / "run"), "")
            unchanged()
            assert not lock_path(rr, x / "run").exists()  # no HeyHi state written in a root a request named
            # force=True: refused, the root is not one the user configured.
            with pytest.raises(HeyHiError) as e:
                c.request(launch_req(proj, ["tag=one"], results_root=rr, out=str(x / "run"), mode="restart",
                                     force=True))
            assert e.value.code == P.REFUSED
            assert str(e.value).startswith(f"refusing to wipe {x / 'run'}: it is not under a results root you "
                                           f"configured ({root}")
            assert str(e.value).endswith("nor a folder HeyHi created at --out"), str(e.value)
            unchanged()
        # A stale confirmation: the user saw "crashed", the folder is "completed" now: asked again.
        for expect in ("crashed", "running", "lost"):
            res = c.request(launch_req(proj, ["tag=one"], mode="restart", expect_state=expect))
            assert (res.decision, res.state, res.run_dir) == ("confirm", "completed", str(one))
            res = c.request(P.Restart(job=str(one), expect_state=expect))
            assert (res.decision, res.state, res.run_dir) == ("confirm", "completed", str(one))
        res = c.request(P.Restart(job=str(one)))  # no yes at all
        assert (res.decision, res.state) == ("confirm", "completed")
        unchanged()
        # The confirmation of the state the folder is in: wiped to the trash (whole), run again.
        res = c.request(launch_req(proj, ["tag=one"], mode="restart", expect_state="completed"))
        assert res.decision == "wipe and run", res
        wait_state(c, res.job_id, "completed")
    [entry] = trash_entries(root)
    rel = str(one.relative_to(root))
    assert tree(entry / "run") == {k[len(rel) + 1:]: v for k, v in before.items() if k.startswith(rel + "/")}
    after = tree(root)
    for k, v in before.items():
        if k != rel and not k.startswith(rel + "/"):
            assert after.get(k) == v, k
    assert_same(before_etc, tree(etc))
    assert_same(before_x, tree(x))


def test_ctl_restart_wipe_trash_restore_purge(daemon, root, proj, tmp_path):
    """``heyhi ctl``: restart of a finished run asks (no terminal, no --yes: refused, nothing changed;
    --yes: the old run goes to the trash whole); a folder outside the configured roots whose own
    record names its parent as "results_root" is refused by wipe and restart; wipe -> trash ->
    restore brings the folder back byte for byte; --purge deletes only it."""
    one, two = make_run(proj, ["tag=one"]), make_run(proj, ["tag=two"])
    (one / "my_notes.txt").write_text("mine")
    (two / "ckpt.bin").write_bytes(os.urandom(4096))
    (one.parent / "README.md").write_text("the parent's own file")
    (root / "notes.txt").write_text("a file in the results root")
    x = tmp_path / "x"
    shutil.copytree(two, x / "run")
    rec = json.loads((x / "run" / R.RUN).read_text())
    rec["results_root"] = str(x)  # read from the folder: must never count
    (x / "run" / R.RUN).write_text(json.dumps(rec))
    before, before_x = tree(root), tree(x)

    # A planted folder outside the roots: refused by wipe and restart, even with --yes; untouched.
    for cmd in (["wipe", str(x / "run"), "--yes"], ["wipe", str(x / "run"), "--yes", "--purge"],
                ["restart", str(x / "run"), "--yes"]):
        r = heyhi(proj, "ctl", *cmd)
        assert r.returncode == 2, r.stderr
        assert one_line(r) == (f"heyhi: refusing to wipe {x / 'run'}: it is not under a results root you configured "
                               f"({root}) nor a folder HeyHi created at --out"), r.stderr
        assert_same(before_x, tree(x))
    r = heyhi(proj, "ctl", "restart", str(x / "run"))  # and without a yes it only asks
    assert r.returncode == 2 and "without a terminal to confirm: pass --yes" in one_line(r)
    assert_same(before_x, tree(x))
    assert_same(before, tree(root))

    # Raw Wipe requests: the job named once, or a confirmation of a state it is not in: nothing moves.
    from heyhi.wire.framing import recv_frame, send_frame

    s = raw_connect(daemon.socket)  # a frame the client library would not build: the job named once
    send_frame(s, {**P.to_wire(P.Wipe(job=str(one), confirm_job=str(one))), "confirm_job": ""})
    answer = P.from_wire(recv_frame(s))
    s.close()
    assert isinstance(answer, P.Error) and answer.code == P.BAD_REQUEST and "must repeat job" in answer.message, answer
    with Client(str(daemon.socket)) as c:
        with pytest.raises(HeyHiError) as e:
            c.request(P.Wipe(job=str(one), confirm_job=str(one), expect_state="lost"))
        assert str(e.value) == f"not wiped: {one} is completed now, not lost"
        with pytest.raises(HeyHiError) as e:
            c.request(P.Wipe(job=str(x / "run"), confirm_job=str(x / "run"), purge=True))
        assert e.value.code == P.REFUSED and "not under a results root you configured" in str(e.value)
    assert_same(before, tree(root))
    assert_same(before_x, tree(x))

    # ctl restart of a completed run: no terminal and no --yes -> refused, nothing changed.
    r = heyhi(proj, "ctl", "restart", str(one))
    assert r.returncode == 2
    assert one_line(r) == (f"heyhi: refusing to restart {one} (its run is completed) without a terminal to "
                           "confirm: pass --yes")
    assert_same(before, tree(root))
    r = heyhi(proj, "ctl", "wipe", str(one))
    assert r.returncode == 2
    assert one_line(r) == f"heyhi: refusing to wipe {one} without a terminal to confirm: pass --yes"
    assert_same(before, tree(root))
    # --yes: restarted; the old run is in the trash, whole.
    r = heyhi(proj, "ctl", "restart", str(one), "--yes")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"heyhi: restarted: {one} [job ")
    with Client(str(daemon.socket)) as c:
        wait_state(c, str(one), "completed")
    [entry] = trash_entries(root)
    rel1 = str(one.relative_to(root))
    assert tree(entry / "run") == {k[len(rel1) + 1:]: v for k, v in before.items() if k.startswith(rel1 + "/")}
    assert not (one / "my_notes.txt").exists()

    # wipe -> trash -> restore: byte for byte.
    rel2 = str(two.relative_to(root))
    two_before = tree(two)
    r = heyhi(proj, "ctl", "wipe", str(two), "--yes")
    assert r.returncode == 0, r.stderr
    entry2 = next(e for e in trash_entries(root) if e != entry)
    assert r.stdout.strip() == f"heyhi: wiped {two}: in the trash at {entry2} (heyhi ctl restore {entry2})"
    assert not two.exists() and tree(entry2 / "run") == two_before
    listed = json.loads(heyhi(proj, "ctl", "--json", "trash").stdout)["trash"]
    assert {(t["entry"], t["origin"]) for t in listed} == {(str(entry), str(one)), (str(entry2), str(two))}
    text = heyhi(proj, "ctl", "trash").stdout
    assert str(two) in text and str(entry2) in text
    r = heyhi(proj, "ctl", "restore", str(two))  # by the folder it came from
    assert r.returncode == 0 and r.stdout.strip() == f"heyhi: restored {two}", r.stderr
    assert tree(two) == two_before and not entry2.exists()
    r = heyhi(proj, "ctl", "restore", str(entry))  # by entry: the place is taken by the new run
    assert r.returncode == 2
    assert one_line(r) == (f"heyhi: cannot restore to {one}: the folder exists (a new run?); wipe or move it first")
    assert entry.is_dir() and status(one)["state"] == "completed"

    # --purge: deleted at once, only it.
    survivors = {k: v for k, v in tree(root).items() if k != rel2 and not k.startswith(rel2 + "/")}
    r = heyhi(proj, "ctl", "wipe", str(two), "--yes", "--purge")
    assert r.returncode == 0 and r.stdout.strip() == f"heyhi: deleted {two}", r.stderr
    assert not two.exists()
    assert_same(survivors, tree(root))
    assert_same(before_x, tree(x))


# ---- one folder is one folder --------------------------------------------------------------------

def test_one_folder_spelled_four_ways_runs_once(root, sock, proj, tmp_path):
    """20 concurrent ``heyhi run --no-daemon`` of one folder, spelled four ways (``$HH_EXP_DIR`` real
    or a symlink to it; ``--out`` with ``..`` or through the symlink): exactly one run, the others
    "taken"; the running folder is never reset. Then 20 concurrent ``Launch`` requests to the daemon
    with two spellings of an ``--out`` folder: exactly one run."""
    root.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(root)
    marker, release = tmp_path / "marker", tmp_path / "release"
    ovs = [f"marker={marker}", f"release={release}"]
    folder = Path(run_cli(["run", "-c", PROBE, "--print-out-dir", *ovs], cwd=proj).stdout.strip())
    rel = folder.relative_to(root)
    dotted = root / rel.parts[0] / rel.parts[1] / ".." / Path(*rel.parts[1:])
    spellings = [({"HH_EXP_DIR": str(root)}, []), ({"HH_EXP_DIR": str(link)}, []),
                 ({"HH_EXP_DIR": str(root)}, ["--out", str(dotted)]),
                 ({"HH_EXP_DIR": str(root)}, ["--out", str(link / rel)])]
    procs = []
    for i in range(20):
        env_over, extra = spellings[i % 4]
        env = {**os.environ, **env_over}
        procs.append(subprocess.Popen(heyhi_cmd() + ["run", "-c", PROBE, "--no-daemon", *ovs, *extra], cwd=proj,
                                      env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    try:
        wait_for(lambda: sum(p.poll() is not None for p in procs) == 19 and lines(marker), 60,
                 "19 launches to give up and one to run")
        assert len(lines(marker)) == 1
        release.touch()
        codes = sorted(p.wait(60) for p in procs)
    finally:
        release.touch()
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert codes == [0] + [3] * 19, codes
    for p in procs:
        if p.returncode == 3:
            assert "taken by another launch" in p.stderr.read()
    assert len(lines(marker)) == 1
    assert [h["state"] for h in status(folder)["history"]] == ["queued", "running", "completed"]
    assert sorted(os.listdir(folder.parent)) == [folder.name]  # no second folder, nothing aside

    marker2, release2 = tmp_path / "marker2", tmp_path / "release2"
    out = tmp_path / "outs" / "run"
    out.parent.mkdir()
    (tmp_path / "outlink").symlink_to(out.parent)
    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        answers: list = []

        def one(i: int) -> None:
            spelled = str(tmp_path / "outs" / ".." / "outs" / "run") if i % 2 else str(tmp_path / "outlink" / "run")
            try:
                with Client(str(sock)) as c:
                    answers.append(c.request(launch_req(proj, [f"marker={marker2}", f"release={release2}"],
                                                        out=spelled)).decision)
            except HeyHiError as e:
                answers.append(e.code)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        wait_for(lambda: lines(marker2), 30, "the one run")
        release2.touch()
        with Client(str(sock)) as c:
            wait_state(c, str(out), "completed")
    finally:
        release2.touch()
        d.stop()
    assert answers.count("run") == 1 and len(answers) == 20, answers
    assert set(answers) <= {"run", "skip", P.TAKEN}, answers
    assert len(lines(marker2)) == 1
    assert sorted(os.listdir(out.parent)) == ["run"]


# ---- kill -9 at each step of a launch -----------------------------------------------------------

def test_kill_at_each_step_leaves_no_folder_or_a_listed_one(root, sock, proj, tmp_path, monkeypatch):
    """``$HEYHI_TEST_KILL_AT=<step>`` kills the launching process (the embedded CLI, then the daemon)
    at each step of a ``--mode restart --force`` over an earlier run (a running one for "stopped");
    afterwards each folder is gone (to the trash) or ``heyhi ctl list`` of a daemon started later
    shows it, and nothing half-written is left beside it."""
    from heyhi.launchers.local import start_local
    from heyhi.runs.ownership import record_launch

    release = tmp_path / "release"

    def earlier_run(tag: str, running: bool) -> Path:
        ovs = [f"tag={tag}", f"release={release}"]
        rd = make_run(proj, ovs, state=R.QUEUED if running else R.COMPLETED)
        record_launch(rd)  # launched by HeyHi without a daemon, as `heyhi run --no-daemon` records it
        if running:
            start_local(rd)
        return rd

    cases = {}  # (who, step) -> folder
    for step in STEPS:
        cases["cli", step] = earlier_run(f"cli-{step}", step == "stopped")
        cases["daemon", step] = earlier_run(f"daemon-{step}", step == "stopped")
    for key in (("cli", "stopped"), ("daemon", "stopped")):
        wait_for(lambda: status(cases[key]).get("state") == "running", 30, "the earlier run to run")

    for step in STEPS:
        rd = cases["cli", step]
        r = heyhi(proj, "run", "-c", PROBE, "--no-daemon", "--mode", "restart", "--force", f"tag=cli-{step}",
                  f"release={release}", env={"HEYHI_TEST_KILL_AT": step})
        assert r.returncode == -9, (step, r.stderr)
    for step in STEPS:
        monkeypatch.setenv("HEYHI_TEST_KILL_AT", step)
        d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
        monkeypatch.delenv("HEYHI_TEST_KILL_AT")
        try:
            with Client(str(sock), timeout=30) as c, pytest.raises((HeyHiError, OSError)):
                c.request(launch_req(proj, [f"tag=daemon-{step}", f"release={release}"], mode="restart", force=True))
            assert d.wait() == -9, step
        finally:
            d.stop()

    d = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        r = heyhi(proj, "ctl", "--json", "list")
        assert r.returncode == 0, r.stderr
        listed = {j["run_dir"] for j in json.loads(r.stdout)["jobs"]}
        for (who, step), rd in cases.items():
            assert not rd.exists() or str(rd) in listed, (who, step, rd, sorted(listed))
            assert sorted(n for n in os.listdir(rd.parent) if ".heyhi-new-" in n) == [], (who, step)
        gone = sorted(k for k, rd in cases.items() if not rd.exists())
        # Killed after the wipe and before the rename into place: the old run is in the trash.
        assert {k[1] for k in gone} <= {"wiped", "indexed"}, gone
        origins = {json.loads((e / "origin.json").read_text())["path"] for e in trash_entries(root)}
        assert {str(cases[k]) for k in gone} <= origins
    finally:
        release.touch()
        d.stop()
    for rd in cases.values():  # the jobs the kills left running end (no process outlives the test)
        wait_for(lambda: R.RunDir(rd).state()[0] != R.RUNNING, 30, f"{rd} to end")


# ---- sweeps, ctl clean, trash expiry ------------------------------------------------------------

def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def plant_lost(proj: Path, root: Path) -> tuple[Path, Path, Path, Path]:
    """Three folders ``heyhi ctl clean`` finds lost, and one run it must not touch:
    ``lost`` a HeyHi run whose process died (a user's file inside): wiped to the trash;
    ``group`` a folder with a planted "running" record of a dead pid that holds a real run ``inner``;
    ``old`` an original-HeyHi folder (``heyhi.jobid`` only, no HeyHi record) with a user's file."""
    lost = make_run(proj, ["tag=lost"])
    st = json.loads((lost / R.STATUS).read_text())
    for k in ("exit_code", "ended"):
        st.pop(k, None)
    st.update(state=R.RUNNING, pid=dead_pid(), pid_start=1)
    R.write_atomic(lost / R.STATUS, json.dumps(st))
    (lost / R.COMPLETED_MARKER).unlink()
    (lost / "mine.txt").write_text("mine")
    inner = make_run(proj, ["tag=inner"], out="group/inner")
    group = inner.parent
    R.write_atomic(group / R.STATUS, json.dumps(st))
    (group / "plan.md").write_text("the group's own file")
    old = root / "old" / "exp"
    old.mkdir(parents=True)
    (old / R.JOBID).write_text("12345\n")
    (old / "model.ckpt").write_bytes(b"weights")
    return lost, group, inner, old


def test_embedded_sweep_clean_and_trash_expiry(root, proj, tmp_path, monkeypatch):
    """No daemon: a sweep's --retry-failed wipes only its crashed points (to the trash, whole) and
    refuses a point whose folder holds someone else's files; ``heyhi ctl clean`` asks, then wipes
    only provable lost runs; with ``HEYHI_TRASH_DAYS=0`` a wipe purges older trash entries but never
    a folder in the trash that HeyHi did not make."""
    crash = tmp_path / "crash"
    crash.touch()
    sweep = ["run", "-c", PROBE, "tag=[a,b,c]", f"crash_file={crash}", "--no-daemon"]
    a, b, c = [Path(p) for p in run_cli(sweep + ["--print-out-dir"], cwd=proj).stdout.split()]
    sibling = make_run(proj, ["tag=sibling"])
    (sibling.parent / "README.md").write_text("the parent's own file")
    (root / "notes.txt").write_text("a file in the results root")
    r = heyhi(proj, "run", "-c", PROBE, "tag=[a,b]", f"crash_file={crash}", "--no-daemon")
    assert r.returncode == 1 and status(a)["state"] == status(b)["state"] == "crashed", r.stderr
    (a / "mine.txt").write_text("a user's file in a crashed point")
    c.mkdir()
    (c / "mine.txt").write_text("not a run: someone's folder at a point's place")
    crash.unlink()
    before = tree(root)
    old_a, old_b = tree(a), tree(b)

    r = heyhi(proj, *sweep, "--retry-failed")
    assert r.returncode == 1, r.stderr  # the refused point failed; the others ran
    assert (f"heyhi: [3/3] not run: refusing to write a run into {c}: it holds files that are "
            "not a HeyHi run (e.g. mine.txt)") in r.stderr.splitlines()
    assert "Traceback" not in r.stderr
    assert status(a)["state"] == status(b)["state"] == "completed"
    trashed = {json.loads((e / "origin.json").read_text())["path"]: e for e in trash_entries(root)}
    assert set(trashed) == {str(a), str(b)}
    assert tree(trashed[str(a)] / "run") == old_a and tree(trashed[str(b)] / "run") == old_b
    after = tree(root)
    for k, v in before.items():
        if not any(k == str(p.relative_to(root)) or k.startswith(str(p.relative_to(root)) + "/") for p in (a, b)):
            assert after.get(k) == v, k

    # ctl clean (no daemon): asks; with --yes wipes only the provable lost run.
    lost, group, inner, old = plant_lost(proj, root)
    foreign = root / ".heyhi" / "trash" / "not-ours"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not a HeyHi trash entry")
    before = tree(root)
    r = heyhi(proj, "ctl", "clean")
    assert r.returncode == 2, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted(f"lost  {p}" for p in (lost, group, old))
    assert one_line(r) == f"heyhi: 3 lost runs in {root}: pass --yes to wipe them"
    assert_same(before, tree(root))
    lost_before = tree(lost)
    r = heyhi(proj, "ctl", "clean", "--yes", env={"HEYHI_TRASH_DAYS": "0"})
    assert r.returncode == 1, r.stderr
    err = r.stderr.strip().splitlines()
    assert f"heyhi: not wiped: refusing to wipe {group}: it holds another run folder: {inner}" in err, err
    assert f"heyhi: not wiped: refusing to wipe {old}: it holds no HeyHi run record" in err, err
    assert err[-1] == "heyhi: wiped 1 lost runs to the trash: the next launch runs them again (heyhi ctl trash)"
    entries = trash_entries(root)
    assert [json.loads((e / "origin.json").read_text())["path"] for e in entries if e != foreign] == [str(lost)]
    assert tree([e for e in entries if e != foreign][0] / "run") == lost_before
    assert (foreign / "keep.txt").read_text() == "not a HeyHi trash entry"  # expiry purged a and b only
    after = tree(root)
    rel = str(lost.relative_to(root))
    for k, v in before.items():
        if k != rel and not k.startswith(rel + "/") and not k.startswith(".heyhi/trash/2"):
            assert after.get(k) == v, k


def test_daemon_sweep_and_clean(daemon, root, proj, tmp_path):
    """Through the daemon: a sweep's --retry-failed wipes only its crashed points and reports the
    point whose folder holds someone else's files; ``heyhi ctl clean --yes`` (the daemon's ``Wipe``
    with ``expect_state="lost"``) wipes only the provable lost run."""
    crash = tmp_path / "crash"
    crash.touch()
    sweep = ["run", "-c", PROBE, "tag=[a,b,c]", f"crash_file={crash}", "--wait"]
    a, b, c = [Path(p) for p in run_cli(sweep + ["--print-out-dir"], cwd=proj).stdout.split()]
    sibling = make_run(proj, ["tag=sibling"])
    (sibling.parent / "README.md").write_text("the parent's own file")
    (root / "notes.txt").write_text("a file in the results root")
    r = heyhi(proj, "run", "-c", PROBE, "tag=[a,b]", f"crash_file={crash}", "--wait")
    assert r.returncode == 1 and status(a)["state"] == status(b)["state"] == "crashed", r.stderr
    (a / "mine.txt").write_text("a user's file in a crashed point")
    c.mkdir()
    (c / "mine.txt").write_text("not a run: someone's folder at a point's place")
    crash.unlink()
    before, old_a, old_b = tree(root), tree(a), tree(b)
    r = heyhi(proj, *sweep, "--retry-failed")
    assert r.returncode == 1, r.stderr
    assert (f"refusing to write a run into {c}: it holds files that are not a HeyHi run (e.g. mine.txt)"
            in r.stderr), r.stderr
    assert status(a)["state"] == status(b)["state"] == "completed"
    trashed = {json.loads((e / "origin.json").read_text())["path"]: e for e in trash_entries(root)}
    assert set(trashed) == {str(a), str(b)}
    assert tree(trashed[str(a)] / "run") == old_a and tree(trashed[str(b)] / "run") == old_b
    after = tree(root)
    for k, v in before.items():
        if not any(k == str(p.relative_to(root)) or k.startswith(str(p.relative_to(root)) + "/") for p in (a, b)):
            assert after.get(k) == v, k

    lost, group, inner, old = plant_lost(proj, root)
    before, lost_before = tree(root), tree(lost)
    r = heyhi(proj, "ctl", "clean", "--yes")
    assert r.returncode == 1, r.stderr
    err = r.stderr.strip().splitlines()
    assert f"heyhi: not wiped: refusing to wipe {group}: it holds another run folder: {inner}" in err, err
    # (the daemon does not take a folder without a HeyHi record for a job at all)
    assert f"heyhi: not wiped: no job '{old}' (an id, a unique id prefix or a run folder)" in err, err
    assert err[-1] == "heyhi: wiped 1 lost runs to the trash: the next launch runs them again (heyhi ctl trash)"
    [entry] = [e for e in trash_entries(root) if json.loads((e / "origin.json").read_text())["path"] == str(lost)]
    assert tree(entry / "run") == lost_before
    after = tree(root)
    rel = str(lost.relative_to(root))
    for k, v in before.items():
        if k != rel and not k.startswith(rel + "/"):
            assert after.get(k) == v, k
