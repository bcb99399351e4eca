"""Writes and wipes in the TUI (issue 11, item 2): a wiping launch or restart asks first, naming the
folder; "no" keeps it byte for byte, "yes" moves the old run to the trash whole and runs again.
The real app (``run_test`` + Pilot) against a real daemon; files planted around and inside the run."""

from __future__ import annotations

import json
import os

import pytest

from runs.test_data_safety import make_run, trash_entries, tree  # tests/runs: a namespace package of tests/
from tui_util import PROBE_CONFIG, daemon, probe_project, tui_env, until  # noqa: F401

from heyhi_tui.dialogs.confirm import ConfirmDialog
from heyhi_tui.screens.job import JobScreen
from heyhi_tui.screens.jobs import JobsScreen
from heyhi_tui.screens.launch import LaunchScreen

pytestmark = pytest.mark.timeout(90)


def on(app, cls):
    return lambda: isinstance(app.screen, cls) and app.screen


def outside(before: dict, after: dict, rel: str) -> None:
    """Everything of ``before`` outside ``rel`` (and the trash) is in ``after``, unchanged."""
    for k, v in before.items():
        if k != rel and not k.startswith(rel + "/") and not k.startswith(".heyhi/trash"):
            assert after.get(k) == v, k


async def test_restart_mode_and_restart_ask_naming_the_folder(daemon, probe_project, tui_env):
    root = tui_env.results
    run = make_run(probe_project, ["tag=tui"])
    (run / "my_notes.txt").write_text("a user's file inside the run folder")
    sibling = make_run(probe_project, ["tag=sibling"])
    (run.parent / "README.md").write_text("the parent's own file")
    (root / "notes.txt").write_text("a file in the results root")
    rel = str(run.relative_to(root))
    before = tree(root)
    old_run = tree(run)

    app = tui_env.app(probe_project)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.link_state.connected, what="the daemon")
        app.open_launch(str(probe_project / PROBE_CONFIG))
        launch = await until(pilot, on(app, LaunchScreen), what="the launch screen")
        await until(pilot, lambda: launch.result is not None and launch.schema is not None, what="first validation")
        await pilot.press(*"tag=tui")
        await until(pilot, lambda: launch.result.ok and launch.sent == ["tag=tui"], what="tag=tui validated")
        for _ in range(3):  # gentle_start -> start_restart -> start_continue -> restart
            await pilot.press("ctrl+o")
        await until(pilot, lambda: launch.mode == "restart", what="restart mode")
        await until(pilot, lambda: not launch.validating and launch.result.ok, what="validated in restart mode")

        # The launch would wipe a completed run: a dialog names the folder; "no" keeps everything.
        await pilot.press("ctrl+l")
        dialog = await until(pilot, on(app, ConfirmDialog), what="the wipe dialog")
        assert dialog.title_text == "restart: wipe a completed run?"
        assert app.show_path(str(run)) in str(dialog.body) and "$HH_EXP_DIR/" in str(dialog.body)
        await pilot.press("n")
        await until(pilot, lambda: on(app, LaunchScreen)() and not launch.launching, what="back, not launched")
        assert tree(root) == before
        assert trash_entries(root) == []

        # "yes": the old run goes to the trash whole, the run starts over, nothing else moves.
        await pilot.press("ctrl+l")
        await until(pilot, on(app, ConfirmDialog), what="the wipe dialog again")
        await pilot.press("y")
        job = await until(pilot, on(app, JobScreen), what="landing on the job")
        jid = job.job_id
        await until(pilot, lambda: app.jobs.get(jid) and app.jobs[jid].state == "completed", 60, "completed")
        [entry] = trash_entries(root)
        assert tree(entry / "run") == old_run
        assert not (run / "my_notes.txt").exists()
        outside(before, tree(root), rel)
        assert (sibling / "heyhi.status.json").exists()

        # The jobs table's restart of the (completed) job asks too, naming the folder.
        await pilot.press("escape")
        jobs = await until(pilot, on(app, JobsScreen), what="the jobs table")
        await until(pilot, lambda: jobs.select_job(jid), what="the row")
        (run / "second.txt").write_text("written by the second run's user")
        middle = tree(root)
        started = app.jobs[jid].started
        await pilot.press("r")
        dialog = await until(pilot, on(app, ConfirmDialog), what="the restart dialog")
        assert jid in dialog.title_text and app.show_path(str(run)) in str(dialog.body)
        await pilot.press("n")
        await until(pilot, on(app, JobsScreen), what="back on the table")
        assert tree(root) == middle and len(trash_entries(root)) == 1
        await pilot.press("r")
        await until(pilot, on(app, ConfirmDialog), what="the restart dialog again")
        await pilot.press("y")
        await until(pilot, lambda: app.jobs[jid].started != started and app.jobs[jid].state == "completed",
                    60, "the restarted run completed")
        entries = trash_entries(root)
        assert len(entries) == 2
        second = next(e for e in entries if e != entry)
        assert json.loads((second / "origin.json").read_text())["path"] == str(run)
        assert (second / "run" / "second.txt").read_text() == "written by the second run's user"
        assert tree(entry / "run") == old_run  # the first trash entry is untouched
        outside(before, tree(root), rel)
    assert os.environ["HH_EXP_DIR"] == str(root)
