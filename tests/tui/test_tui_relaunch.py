"""Edit and relaunch, the launch editor's memory, and its input, against a real daemon.

A finished run opens the launch editor on its config and overrides (from the jobs table and from the
job's screen); the edited launch is a new run in its own folder. Esc keeps the lines as the config's
draft; launched sets are a history that outlives the app (``$XDG_STATE_HOME/heyhi``), stepped
through with ctrl+up / ctrl+down; a corrupt history file is one line, never a crash. A paste of
several lines, or of space-separated overrides, becomes one override per line; keys typed right
after Enter land on the new line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from textual import events

from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi_tui.completion import split_overrides
from heyhi_tui.history import MAX_SETS, History
from heyhi_tui.screens.job import JobScreen
from heyhi_tui.screens.jobs import JobsScreen
from heyhi_tui.screens.launch import LaunchScreen
from heyhi_tui.widgets.overrides import OverrideEditor
from tui_util import PROBE_CONFIG, daemon, probe_project, tui_env, until  # noqa: F401

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def state_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "xdg-state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def on(app, cls):
    return lambda: isinstance(app.screen, cls) and app.screen


def lines_of(app) -> tuple[str, ...]:
    return app.screen.query_one(OverrideEditor).lines


async def editor_ready(pilot, app) -> LaunchScreen:
    launch = await until(pilot, on(app, LaunchScreen), what="the launch editor")
    await until(pilot, lambda: launch.schema is not None and launch.result is not None and not launch.validating,
                what="the first validation")
    return launch


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_edit_and_relaunch_a_finished_run(daemon, probe_project, tui_env, state_home):
    with Client(str(daemon.socket)) as c:
        first = c.request(P.Launch(project_root=str(probe_project), results_root=os.environ["HH_EXP_DIR"],
                                   config=str(probe_project / PROBE_CONFIG), overrides=["tag=first", "lines=2"]))
    app = tui_env.app(probe_project)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.jobs.get(first.job_id) and app.jobs[first.job_id].state == "completed", 30,
                    "the first run, completed")
        await pilot.press("2")
        jobs = await until(pilot, on(app, JobsScreen), what="the jobs table")
        await until(pilot, lambda: jobs.select_job(first.job_id), what="its row")
        await pilot.press("R")  # edit and relaunch, from the jobs table
        launch = await editor_ready(pilot, app)
        assert launch.config == str(probe_project / PROBE_CONFIG)
        assert lines_of(app) == ("tag=first", "lines=2")
        assert launch.result.ok and launch.result.out_dir == first.run_dir  # as it was: its own folder

        await pilot.press("up", "ctrl+u", *"tag=second")  # the edit
        await until(pilot, lambda: launch.sent == ["tag=second", "lines=2"] and launch.result.ok
                    and not launch.validating, what="the edited overrides, valid")
        assert launch.result.out_dir != first.run_dir and launch.result.out_dir_state == "not_started"
        await pilot.press("ctrl+l")
        job = await until(pilot, lambda: on(app, JobScreen)() and app.screen.job_id != first.job_id and app.screen,
                          what="the new run's screen")
        second = job.job_id
        await until(pilot, lambda: app.jobs.get(second) and app.jobs[second].state == "completed", 30,
                    "the relaunched run, completed")
        run_dir = Path(app.jobs[second].run_dir)
        assert run_dir != Path(first.run_dir) and Path(first.run_dir).is_dir()  # the first run is untouched
        assert json.loads((run_dir / "heyhi.run.json").read_text())["overrides"] == ["tag=second", "lines=2"]
        assert "probe done" in (run_dir / "stdout.log").read_text()

        await pilot.press("R")  # from the job's own screen
        await editor_ready(pilot, app)
        await until(pilot, lambda: lines_of(app) == ("tag=second", "lines=2"), what="the second run's overrides")

        # Overrides too long for the job's summary: read from the run's heyhi.run.json, through the daemon.
        long_tag = "tag=" + "x" * 5000
        with Client(str(daemon.socket)) as c:
            third = c.request(P.Launch(project_root=str(probe_project), results_root=os.environ["HH_EXP_DIR"],
                                       config=str(probe_project / PROBE_CONFIG), overrides=[long_tag]))
        await until(pilot, lambda: app.jobs.get(third.job_id) and app.jobs[third.job_id].state == "completed", 30,
                    "the third run, completed")
        assert getattr(app.jobs[third.job_id], "overrides", None) is None  # not in the summary
        app.edit_run(third.job_id)
        await until(pilot, lambda: on(app, LaunchScreen)() and lines_of(app) == (long_tag,), what="the long tag")


async def test_drafts_history_and_a_corrupt_history_file(daemon, probe_project, tui_env, state_home):
    config = str(probe_project / PROBE_CONFIG)
    app = tui_env.app(probe_project)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.link_state.connected, what="the daemon")
        app.open_launch(config, ["tag=x"])  # once crashed: NoMatches for OverrideInput on ctrl+o
        await pilot.press("ctrl+o")
        launch = await editor_ready(pilot, app)
        assert launch.mode == "start_restart" and lines_of(app) == ("tag=x",)
        await pilot.press("escape")

        app.open_launch(config)  # the draft Esc kept
        await editor_ready(pilot, app)
        await until(pilot, lambda: lines_of(app) == ("tag=x",), what="the draft")
        await pilot.press("ctrl+u", *"tag=hist", "enter", *"lines=1")
        await pilot.press("escape")
        app.open_launch(config)
        launch = await editor_ready(pilot, app)
        await until(pilot, lambda: lines_of(app) == ("tag=hist", "lines=1"), what="the edited draft")
        assert launch.unsaved_work() == ""  # kept as a draft: quitting loses nothing
        await until(pilot, lambda: launch.sent == ["tag=hist", "lines=1"] and launch.result.ok, what="valid")
        await pilot.press("ctrl+l")
        await until(pilot, on(app, JobScreen), what="launched")
    path = state_home / "heyhi" / "tui-history.json"
    saved = json.loads(path.read_text())  # written atomically: always whole JSON
    assert saved["configs"][config]["sets"] == [["tag=hist", "lines=1"]]
    assert "draft" not in saved["configs"][config]  # launched: no draft left

    app = tui_env.app(probe_project)  # the app again: the history outlives it
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.link_state.connected, what="the daemon")
        app.open_launch(config)
        await editor_ready(pilot, app)
        assert lines_of(app) == ("",)
        await pilot.press(*"tag=typed")
        assert "Esc keeps them" in app.screen.unsaved_work()  # typed, not kept: the app asks before quitting
        await pilot.press("ctrl+up")
        await until(pilot, lambda: lines_of(app) == ("tag=hist", "lines=1"), what="the launched set")
        await pilot.press("ctrl+down")
        await until(pilot, lambda: lines_of(app) == ("tag=typed",), what="back to the typed line")

    path.write_bytes(b"\x00{not json")
    app = tui_env.app(probe_project)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.link_state.connected, what="the daemon")
        app.open_launch(config)
        await editor_ready(pilot, app)
        await until(pilot, lambda: any("launch history" in n and "ignored" in n for n in notes(app)),
                    what="the one line about the history file")
        assert lines_of(app) == ("",)
        await pilot.press("ctrl+up")  # an empty history: said, no crash
        await until(pilot, lambda: any("no override set was launched" in n for n in notes(app)), what="said")


async def test_pastes_and_keys_typed_right_after_enter(daemon, probe_project, tui_env, state_home):
    app = tui_env.app(probe_project)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.link_state.connected, what="the daemon")
        app.open_launch(str(probe_project / PROBE_CONFIG))
        launch = await editor_ready(pilot, app)

        app.post_message(events.Paste("tag=a\nlines=3\r\nsleep_s=0\n"))  # as a terminal sends a paste
        await until(pilot, lambda: lines_of(app) == ("tag=a", "lines=3", "sleep_s=0"), what="three lines")
        await until(pilot, lambda: launch.sent == ["tag=a", "lines=3", "sleep_s=0"] and launch.result.ok,
                    what="three valid overrides")

        await pilot.press("ctrl+g", "ctrl+g", "ctrl+g", "ctrl+u")
        await until(pilot, lambda: lines_of(app) == ("",), what="an empty editor")
        app.post_message(events.Paste("tag='a b' lines=2   marker=\"/tmp/x y\" 'release=[1, 2]'"))
        await until(pilot, lambda: lines_of(app) == ("tag='a b'", "lines=2", 'marker="/tmp/x y"', "release=[1, 2]"),
                    what="one override per line")

        # Enter, then keys at once (as fast typing delivers them): the new line gets them, in order.
        await pilot.press("ctrl+g", "ctrl+g", "ctrl+g", "ctrl+u", *"tag=k")
        names = {"=": "equals_sign"}
        for key in ["enter", *"lines=4", "backspace", "5", "enter", *"crash=false"]:
            app.post_message(events.Key(names.get(key, key), key if len(key) == 1 else None))
        await until(pilot, lambda: lines_of(app) == ("tag=k", "lines=5", "crash=false"), what="three lines, in order")
        await until(pilot, lambda: launch.sent == ["tag=k", "lines=5", "crash=false"] and launch.result.ok,
                    what="valid")


@pytest.mark.parametrize("text, items", [
    pytest.param("lr=0.1", ["lr=0.1"], id="one"),
    pytest.param("a=1\nb=2\r\n\nc=3\n", ["a=1", "b=2", "c=3"], id="lines"),
    pytest.param("  a=1   b=2\tc=3 ", ["a=1", "b=2", "c=3"], id="spaces"),
    pytest.param('name="a b" x=1', ['name="a b"', "x=1"], id="quoted-value"),
    pytest.param("lr=[0.1, 0.2] seed=range(0, 3)", ["lr=[0.1, 0.2]", "seed=range(0, 3)"], id="brackets"),
    pytest.param("'lr=[0.1, 0.2]' \"n=a b\"", ["lr=[0.1, 0.2]", "n=a b"], id="shell-quoted"),
    pytest.param("x=[a,\"b c]\"] y=2", ['x=[a,"b c]"]', "y=2"], id="bracket-in-quotes"),
    pytest.param(" \n \t", [], id="blank"),
])
def test_split_overrides(text, items):
    assert split_overrides(text) == items


def test_history_is_bounded_and_atomic(tmp_path):
    path = tmp_path / "h" / "tui-history.json"
    h = History(path)
    for i in range(MAX_SETS + 5):
        h.add("c", [f"lr={i}", " "])
    h.add("c", ["lr=3"])  # launched again: moves to the end, once
    h.set_draft("c", ["lr=9"])
    assert h.save() == ""
    assert [p.name for p in path.parent.iterdir()] == ["tui-history.json"]  # no temporary file left
    back = History.load(path)
    sets = back.sets("c")
    assert len(sets) == MAX_SETS and sets[-1] == ["lr=3"] and sets.count(["lr=3"]) == 1
    assert back.draft("c") == ["lr=9"] and back.problem == ""
    for bad in (b"[]", b'{"configs": 3}', b"\xff\xfe", b"x" * (5 << 20)):
        path.write_bytes(bad)
        h = History.load(path)
        assert h.problem.startswith("launch history") and h.sets("c") == [], bad[:10]
