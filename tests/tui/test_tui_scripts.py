"""Script tasks in the TUI, against a real daemon: a project of plain ``*.py`` scripts (no conf/) opens,
its scripts are listed under a "scripts" group of the tree, browsing one never derives its flags (the
script writes a marker file when it is imported: the file stays absent), Enter opens the launch
editor on it, which validates overrides live (a typed error, "did you mean", field docs from the help
strings), and ctrl+l launches it: the job completes and its stdout holds the value typed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon_util import DaemonProcess
from remote_util import sshd  # noqa: F401  (a fixture)
from tui_util import probe_project, tui_env, until  # noqa: F401

from heyhi_tui.screens.configs import ConfigsScreen, is_script_task
from heyhi_tui.screens.job import JobScreen
from heyhi_tui.screens.jobs import JobsScreen
from heyhi_tui.screens.launch import LaunchScreen
from heyhi_tui.widgets.configs import SCRIPT_PREVIEW, ConfFile, ConfTree, sort_files

pytestmark = pytest.mark.timeout(60)

TRAIN = """\
import argparse
import sys

with open({marker!r}, "a") as fh:  # at import: derivation runs up to here (and parse_args)
    fh.write("imported\\n")

parser = argparse.ArgumentParser(description="train a tiny model")
parser.add_argument("--lr", type=float, default=0.1, help="the learning rate")
parser.add_argument("--optim", choices=["sgd", "adam"], default="sgd", help="the optimizer")
parser.add_argument("--epochs", type=int, default=2, help="passes over the data")
args = parser.parse_args()
print(f"trained lr={{args.lr}} optim={{args.optim}} epochs={{args.epochs}}")
"""

NOT_LISTED = ("run.py", "setup.py", "conftest.py", "_util.py", "test_train.py", "tools/_helpers.py", "notes.txt")


def on(app, cls):
    return lambda: isinstance(app.screen, cls) and app.screen


@pytest.fixture
def script_project(tmp_path) -> tuple[Path, Path]:
    """(a project of script tasks only: pyproject.toml, train.py, tools/evaluate.py and files that are
    not script tasks; the marker file train.py appends to when imported)."""
    proj = tmp_path / "sproj"
    (proj / "tools").mkdir(parents=True)
    marker = tmp_path / "imported.txt"
    (proj / "pyproject.toml").write_text('[project]\nname = "sproj"\n\n[tool.heyhi]\nscripts-dirs = ["tools"]\n')
    (proj / "train.py").write_text(TRAIN.format(marker=str(marker)))
    (proj / "tools" / "evaluate.py").write_text(TRAIN.format(marker=str(marker)))
    for rel in NOT_LISTED:
        (proj / rel).write_text("raise SystemExit('never run')\n")
    return proj, marker


@pytest.fixture
def script_daemon(tui_env, tmp_path, monkeypatch):
    """A real daemon whose derived-schema cache is this test's own (nothing derived before)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    d = DaemonProcess.start(tui_env.sock, hello_timeout=5, stderr_dir=tmp_path)
    yield d
    d.stop()


async def _browsed(pilot, configs: ConfigsScreen, rel: str) -> None:
    """Wait until the preview of the script ``rel`` is shown whole (its source read, nothing pending)."""
    await until(pilot, lambda: configs.selected is not None and configs.selected.rel == rel, what=f"{rel} selected")
    await until(pilot, lambda: configs.preview.conf == configs.selected and not configs.preview.loading
                and configs.preview.source, what=f"the preview of {rel}")


async def test_browse_validate_and_launch_a_script(script_daemon, script_project, tui_env):
    proj, marker = script_project
    app = tui_env.app(proj)
    async with app.run_test(size=(110, 32)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen), what="the configs screen")
        await until(pilot, lambda: configs.files, what="the listing")
        assert configs.listing_error == ""  # no conf/: not an error when there are scripts
        tree = configs.query_one(ConfTree)
        assert [(f.rel, f.script) for f in sort_files(tree.matching())] == [("train.py", True),
                                                                            ("tools/evaluate.py", True)]
        group = tree.root.children[0]
        assert group.data is None and str(group.label).startswith("scripts")
        assert [n.data.rel for n in group.children] == ["train.py", "tools/evaluate.py"]

        # Browsing: the source and a line saying what Enter does; the script is never derived.
        await _browsed(pilot, configs, "train.py")
        assert configs.preview.result is None and configs.preview.fields is None
        assert "parser.parse_args()" in configs.preview.source
        assert str(configs.query_one("#preview-print").render()) == SCRIPT_PREVIEW
        await pilot.press("down")
        await _browsed(pilot, configs, "tools/evaluate.py")
        await pilot.press("up")
        await _browsed(pilot, configs, "train.py")
        assert not marker.exists(), "browsing a script ran it"

        # Enter: the launch editor on the script; it derives the flags and validates live.
        await pilot.press("enter")
        launch = await until(pilot, on(app, LaunchScreen), what="the launch editor")
        await until(pilot, lambda: launch.schema is not None and launch.result is not None and not launch.validating,
                    what="the first validation")
        assert launch.config == str(proj / "train.py") and launch.result.ok
        assert marker.exists()  # derived now, in the daemon's subprocess
        lr, _ = launch.schema.lookup("lr")
        optim, _ = launch.schema.lookup("optim")
        assert lr.doc == "the learning rate" and optim.doc == "the optimizer"  # the help strings
        assert list(optim.enum_values) == ["sgd", "adam"]

        await pilot.press(*"lr=abc")
        await until(pilot, lambda: launch.errors.get(0), what="the error of lr=abc")
        assert "'lr' expects double" in launch.errors[0], launch.errors
        assert launch.query_one("#launch-button").disabled

        await pilot.press("ctrl+u", *"optm=adam")
        await until(pilot, lambda: launch.sent == ["optm=adam"] and launch.errors.get(0), what="the error of optm")
        assert "unknown key 'optm'" in launch.errors[0] and "did you mean: optim" in launch.errors[0]

        await pilot.press("ctrl+u", *"lr=0.5")
        await until(pilot, lambda: launch.sent == ["lr=0.5"] and launch.result.ok and not launch.validating,
                    what="lr=0.5, valid")
        out_dir = Path(launch.result.out_dir)
        assert out_dir.parent.name == "train" and out_dir.parent.parent.name.startswith("py_")

        await pilot.press("ctrl+l")
        job = await until(pilot, on(app, JobScreen), what="the job's screen")
        jid = job.job_id
        await until(pilot, lambda: app.jobs.get(jid) and app.jobs[jid].state == "completed", 20, "the job, completed")
        run_dir = Path(app.jobs[jid].run_dir)
        assert run_dir == out_dir
        assert "trained lr=0.5 optim=sgd epochs=2" in (run_dir / "stdout.log").read_text()
        await pilot.press("2")
        jobs = await until(pilot, on(app, JobsScreen), what="the jobs table")
        await until(pilot, lambda: jobs.select_job(jid), what="the script's job in the jobs table")


async def test_scripts_beside_conf(script_daemon, probe_project, tui_env):  # noqa: F811
    """With conf/: the configs first, then the scripts group (the probe project's helper_mod.py;
    its run.py is the tasks module), never composed by the background checks."""
    app = tui_env.app(probe_project)
    async with app.run_test(size=(100, 30)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen), what="the configs screen")
        await until(pilot, lambda: configs.files and configs.checks, what="the listing and the checks")
        tree = configs.query_one(ConfTree)
        shown = sort_files(tree.matching())
        scripts = [f.rel for f in shown if f.script]
        assert scripts == ["helper_mod.py"]
        first = next(i for i, f in enumerate(shown) if f.script)
        assert first > 0 and all(f.is_config and not f.script for f in shown[:first])
        assert not any(path.endswith(".py") for path in configs.checks)
        labels = [str(n.label) for n in tree.root.children]
        assert sum(label.startswith("scripts") for label in labels) == 1


@pytest.mark.parametrize("name, listed", [
    pytest.param("train.py", True, id="a-script"),
    pytest.param("setup.py", False, id="setup"),
    pytest.param("conftest.py", False, id="conftest"),
    pytest.param("_private.py", False, id="underscore"),
    pytest.param("test_train.py", False, id="a-test"),
    pytest.param(".hidden.py", False, id="hidden"),
    pytest.param("train.pyc", False, id="not-py"),
])
def test_which_files_are_script_tasks(name, listed):
    assert is_script_task(name) is listed


def test_scripts_sort_after_configs_before_chunks():
    files = [ConfFile("/p/conf/common/a.prototxt", "common/a.prototxt"), ConfFile("/p/train.py", "train.py", True),
             ConfFile("/p/conf/x/b.prototxt", "x/b.prototxt"), ConfFile("/p/conf/sweeps/s.yaml", "sweeps/s.yaml"),
             ConfFile("/p/common/c.py", "common/c.py", True)]
    assert [f.rel for f in sort_files(files)] == ["x/b.prototxt", "train.py", "common/c.py", "sweeps/s.yaml",
                                                  "common/a.prototxt"]
    assert not files[4].is_chunk and files[4].name == "common/c.py"


# ---- the same through SSH (a real sshd on 127.0.0.1): listed and read by the remote daemon --------


@pytest.fixture
def remote(sshd, tmp_path, monkeypatch):  # noqa: F811
    from remote_util import Remote

    r = Remote(sshd, tmp_path)
    for k, v in r.env.items():
        monkeypatch.setenv(k, v)
    yield r
    r.stop()


async def test_a_script_through_ssh(remote, script_project):
    from heyhi.wire.remote import connect_remote
    from heyhi_tui.app import HeyHiApp
    from heyhi_tui.link import RemoteConnector

    proj, marker = script_project
    app = HeyHiApp(str(proj), connect=RemoteConnector(remote.spec, connect_remote), remote=remote.spec,
                   results_root=None, autostart=False, watch_files=False)
    async with app.run_test(size=(110, 32)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen), 30, "the configs screen")
        await until(pilot, lambda: configs.files, 30, "the listing, through SSH")
        assert [f.rel for f in sort_files(configs.files)] == ["train.py", "tools/evaluate.py"]
        await _browsed(pilot, configs, "train.py")
        assert not marker.exists(), "browsing a script ran it"
        await pilot.press("enter")
        launch = await until(pilot, on(app, LaunchScreen), what="the launch editor")
        await pilot.press(*"optm=adam")
        await until(pilot, lambda: launch.sent == ["optm=adam"] and launch.errors.get(0), 30,
                    "the error of optm, from the remote daemon")
        assert "did you mean: optim" in launch.errors[0]
