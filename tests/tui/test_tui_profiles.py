"""Profiles in the launch editor, against a real daemon: ctrl+f lists the project's profiles
(``ListProfiles``), picking one puts its lines (flag files' entries, then its overrides) at the top,
the editor validates them and names the run folder ``heyhi run ... --profile NAME`` names; a line
typed below wins; a project with no profiles says so once; the same through SSH (``--remote``).
And ``ListProfiles`` itself: a profile that cannot go into the editor (a missing flag file, a
one-run-per-row file) is listed with a one-line problem naming the file, a bad declaration is one
``invalid`` line naming pyproject.toml:line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_cli
from remote_util import Remote, sshd  # noqa: F401  (fixture)
from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi_tui.dialogs.profiles import ProfilePicker
from heyhi_tui.screens.launch import LaunchScreen
from heyhi_tui.widgets.overrides import OverrideEditor
from tui_util import DEMO_CONFIG, daemon, screen_text, tui_env, until  # noqa: F401

pytestmark = pytest.mark.timeout(120)

PYPROJECT = """[project]
name = "demo"

[tool.heyhi]
default-profile = "wide"

[tool.heyhi.profiles.fast]
description = "a quick smoke run"
flags = ["conf/flags/fast.yaml"]
overrides = ["lr=0.25"]

[tool.heyhi.profiles.wide]
description = "a wider batch"
overrides = ["batch_size=32", "seed=3"]
"""
FAST_LINES = ("num_steps=5", "lr=0.25")
NO_PROFILES = "no profiles in this project: declare them in pyproject.toml ([tool.heyhi.profiles.NAME]) or conf/profiles.yaml"


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch) -> Path:
    """The editor's drafts and history in tmp, not the user's."""
    home = tmp_path / "xdg-state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


@pytest.fixture
def project(demo_project) -> Path:
    (demo_project / "conf" / "flags").mkdir()
    (demo_project / "conf" / "flags" / "fast.yaml").write_text("num_steps: 5\n")
    (demo_project / "pyproject.toml").write_text(PYPROJECT)
    return demo_project


def cli_out_dir(cwd: Path, *argv: str, env: dict | None = None) -> str:
    r = run_cli(["run", "-c", DEMO_CONFIG, "--print-out-dir", *argv], cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def on(app, cls):
    return lambda: isinstance(app.screen, cls) and app.screen


def lines_of(app) -> tuple[str, ...]:
    return app.screen.query_one(OverrideEditor).lines


def flat(launch: LaunchScreen) -> dict[str, str]:
    return {k: str(v) for k, v, _ in launch.result.flat}


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def editor_ready(pilot, app) -> LaunchScreen:
    launch = await until(pilot, on(app, LaunchScreen), what="the launch editor")
    await until(pilot, lambda: launch.schema is not None and launch.result is not None and not launch.validating,
                30, "the first validation")
    return launch


async def valid(pilot, launch: LaunchScreen, sent: list[str], what: str) -> None:
    await until(pilot, lambda: launch.sent == sent and launch.result.ok and not launch.validating, 30, what)


async def pick_fast(pilot, app, launch: LaunchScreen) -> None:
    """ctrl+f, the picker with the default highlighted, up to "fast", Enter."""
    await pilot.press("ctrl+f")
    picker = await until(pilot, on(app, ProfilePicker), what="the profile picker")
    options = picker.query_one("#profiles-list")
    assert [p.name for p in picker.profiles] == ["fast", "wide"]
    assert options.highlighted == 1  # the default, "wide"
    shown = screen_text(app)
    assert "★ default" in shown and "a quick smoke run" in shown and "2 lines" in shown, shown
    await pilot.press("up", "enter")
    await until(pilot, lambda: app.screen is launch, what="back in the editor")


async def test_pick_a_profile_its_lines_go_on_top_and_name_the_cli_folder(daemon, project, tui_env):
    app = tui_env.app(project)
    async with app.run_test(size=(140, 32)) as pilot:
        await until(pilot, lambda: app.link_state.connected, what="the daemon")
        app.open_launch(str(project / DEMO_CONFIG))
        launch = await editor_ready(pilot, app)

        # Esc closes the picker and changes nothing.
        await pilot.press("ctrl+f")
        await until(pilot, on(app, ProfilePicker), what="the profile picker")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is launch, what="the picker closed")
        assert lines_of(app) == ("",)

        await pick_fast(pilot, app, launch)
        await until(pilot, lambda: lines_of(app) == FAST_LINES, what="fast's lines")
        await valid(pilot, launch, list(FAST_LINES), "fast's lines, valid")
        assert flat(launch)["num_steps"] == "5" and flat(launch)["lr"] == "0.25"
        expected = cli_out_dir(project, "--profile", "fast")
        assert launch.result.out_dir == expected
        assert Path(expected).name in str(launch.query_one("#out-dir").render())  # shown under the lines

        # A line typed below wins, as the command line wins over --profile.
        await pilot.press("enter", *"num_steps=7")
        await valid(pilot, launch, [*FAST_LINES, "num_steps=7"], "the typed line, valid")
        assert flat(launch)["num_steps"] == "7"
        assert launch.result.out_dir == cli_out_dir(project, "--profile", "fast", "num_steps=7")

        # Picked again: on top of what is there, which stays below (and still wins).
        await pick_fast(pilot, app, launch)
        await until(pilot, lambda: lines_of(app) == (*FAST_LINES, *FAST_LINES, "num_steps=7"), what="lines kept below")
        await valid(pilot, launch, [*FAST_LINES, *FAST_LINES, "num_steps=7"], "valid again")
        assert flat(launch)["num_steps"] == "7"


async def test_a_project_with_no_profiles_says_so_once(daemon, demo_project, tui_env):
    app = tui_env.app(demo_project)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.link_state.connected, what="the daemon")
        app.open_launch(str(demo_project / DEMO_CONFIG))
        launch = await editor_ready(pilot, app)
        before = len(notes(app))
        await pilot.press("ctrl+f")
        await until(pilot, lambda: len(notes(app)) > before, what="the notification")
        assert notes(app)[before:] == [NO_PROFILES]
        assert app.screen is launch and lines_of(app) == ("",)


# ---- the request itself ----------------------------------------------------------------------


def test_list_profiles_problems_and_errors_are_one_line(daemon, project):
    flags = project / "conf" / "flags"
    (flags / "rows.csv").write_text("lr,seed\n0.1,1\n0.2,2\n")
    (flags / "bad.yaml").write_text("num_steps: 5\nnum_steps: 6\n")
    (project / "pyproject.toml").write_text(PYPROJECT + """
[tool.heyhi.profiles.gone]
flags = ["conf/flags/missing.yaml"]

[tool.heyhi.profiles.rows]
flags = ["conf/flags/rows.csv"]

[tool.heyhi.profiles.twice]
flags = ["conf/flags/bad.yaml"]
""")
    with Client(str(daemon.socket)) as c:
        got = c.request(P.ListProfiles(project_root=str(project)))
        by = {p.name: p for p in got.profiles}
        assert list(by) == ["fast", "gone", "rows", "twice", "wide"]
        assert by["fast"].lines == list(FAST_LINES) and by["fast"].problem == "" and not by["fast"].is_default
        assert by["fast"].description == "a quick smoke run"
        assert by["fast"].where == f"{project}/pyproject.toml:7"
        assert by["wide"].is_default and by["wide"].lines == ["batch_size=32", "seed=3"]
        for name in ("gone", "rows", "twice"):
            assert by[name].lines == [] and "\n" not in by[name].problem, by[name]
        assert by["gone"].problem.endswith(f"profile 'gone': flag file {flags / 'missing.yaml'} not found")
        assert f"{flags / 'rows.csv'}: a profile with a one-run-per-row file cannot be put in the editor" \
            in by["rows"].problem
        assert f"{flags / 'bad.yaml'}:2" in by["twice"].problem and "duplicate key 'num_steps'" in by["twice"].problem

        # A declaration that does not load: the daemon's one-line error, naming file:line.
        (project / "pyproject.toml").write_text(PYPROJECT.replace('description = "a wider batch"',
                                                                  'descrption = "a wider batch"'))
        with pytest.raises(P.DaemonError) as e:
            c.request(P.ListProfiles(project_root=str(project)))
        assert e.value.code == P.INVALID and "\n" not in e.value.message
        assert e.value.message.startswith(f"{project}/pyproject.toml:12: profile 'wide': unknown key 'descrption'")

        with pytest.raises(P.DaemonError) as e:
            c.request(P.ListProfiles(project_root=str(project / "nowhere")))
        assert (e.value.code, e.value.message) == (P.NOT_FOUND, f"{project / 'nowhere'}: no such project folder")

        (project / "pyproject.toml").unlink()  # no profiles: an empty list, no error
        assert c.request(P.ListProfiles(project_root=str(project))).profiles == []

        os.mkfifo(project / "pyproject.toml")  # never read (it would block): one line
        with pytest.raises(P.DaemonError) as e:
            c.request(P.ListProfiles(project_root=str(project)))
        assert (e.value.code, e.value.message) == (P.INVALID, f"{project}/pyproject.toml: not a regular file")


# ---- over SSH ----------------------------------------------------------------------------------


async def test_pick_a_profile_through_ssh(project, sshd, tmp_path, monkeypatch):  # noqa: F811
    from heyhi.wire.remote import connect_remote
    from heyhi_tui.app import HeyHiApp
    from heyhi_tui.link import RemoteConnector

    remote = Remote(sshd, tmp_path)
    try:
        for k, v in remote.env.items():
            monkeypatch.setenv(k, v)
        app = HeyHiApp(str(project), connect=RemoteConnector(remote.spec, connect_remote), remote=remote.spec,
                       results_root=None, autostart=False, watch_files=False)
        async with app.run_test(size=(140, 32)) as pilot:
            await until(pilot, lambda: app.link_state.connected, 60, "the remote daemon")
            app.open_launch(str(project / DEMO_CONFIG))
            launch = await editor_ready(pilot, app)
            await pick_fast(pilot, app, launch)
            await until(pilot, lambda: lines_of(app) == FAST_LINES, what="fast's lines, through SSH")
            await valid(pilot, launch, list(FAST_LINES), "valid, by the remote daemon")
            results = remote.daemon_env["HH_EXP_DIR"]
            assert launch.result.out_dir == cli_out_dir(project, "--profile", "fast", env={"HH_EXP_DIR": results})
    finally:
        remote.stop()
