"""The TUI end to end: the real app (``run_test`` + Pilot) against a real daemon process.

Select the demo config, type an override with a typo and see the suggestion under its line, fix it,
launch, watch the job complete in the jobs table, read the end of its log, restart it; cancel a long
job; wipe one; completion; filters; the banner when the daemon goes away and the reconnection when
it is back; starting a daemon when none is up; the help screen, the keymap and the command palette.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemon_util import DaemonProcess
from tui_util import DEMO_CONFIG, PROBE_CONFIG, daemon, probe_project, screen_text, tui_env, until  # noqa: F401

from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi_tui.dialogs.confirm import ConfirmDialog
from heyhi_tui.link import Link
from heyhi_tui.screens.configs import ConfigsScreen
from heyhi_tui.screens.help import HelpScreen
from heyhi_tui.screens.job import JobScreen
from heyhi_tui.screens.jobs import JobsScreen
from heyhi_tui.screens.launch import LaunchScreen
from heyhi_tui.screens.logs import LogsScreen
from heyhi_tui.widgets.overrides import OverrideLine

pytestmark = pytest.mark.timeout(90)


def on(app, cls):
    return lambda: isinstance(app.screen, cls) and app.screen


async def open_launch(pilot, app, filter_text: str, rel: str) -> LaunchScreen:
    """From the configs screen: filter, take the first match, open the launch editor."""
    await until(pilot, lambda: app.link_state.connected and app.screen.files, what="the configs")
    await pilot.press("slash", *filter_text, "enter")
    await until(pilot, lambda: app.screen.selected and app.screen.selected.rel == rel, what=f"{rel} selected")
    await pilot.press("o")
    launch = await until(pilot, on(app, LaunchScreen), what="the launch screen")
    await until(pilot, lambda: launch.result is not None and launch.schema is not None, what="first validation")
    return launch


def launch_probe(sock: Path, proj: Path, overrides: list[str]) -> P.Launched:
    with Client(str(sock)) as c:
        return c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                  config=str(proj / PROBE_CONFIG), overrides=overrides))


async def test_typo_fix_launch_complete_log_restart(daemon, demo_project, tui_env):
    seen: list = []
    app = tui_env.app(demo_project)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        # The configs screen: the tree (configs first, chunks under common/ after) and the preview.
        configs = await until(pilot, on(app, ConfigsScreen), what="configs screen")
        await until(pilot, lambda: configs.files, what="the listing")
        rels = [f.rel for f in configs.query_one("#conf-tree").matching()]
        assert "c02_sup_train/sl.prototxt" in rels and "common/data/small.prototxt" in rels
        assert rels.index("c02_sup_train/sl.prototxt") < rels.index("common/data/small.prototxt")

        launch = await open_launch(pilot, app, "sup_train", "c02_sup_train/sl.prototxt")
        await pilot.press(*"lrr=0.1")
        await until(pilot, lambda: launch.errors.get(0), what="the error of line 1")
        assert "did you mean: lr" in launch.errors[0]
        # Right under its line: the editor's column, from the override to the next blank line.
        left = [line.split("▕")[0].strip() for line in screen_text(app).splitlines()]
        row = next(i for i, line in enumerate(left) if line.endswith("lrr=0.1"))
        under = " ".join(left[row + 1: row + 4])
        assert under.startswith("↳ unknown key 'lrr'") and "did you mean: lr" in under, left
        assert launch.query_one("#launch-button").disabled

        await pilot.press("home", "right", "right", "delete")  # lrr=0.1 -> lr=0.1
        await until(pilot, lambda: launch.result.ok and launch.sent == ["lr=0.1"], what="valid overrides")
        assert launch.errors == {} and not launch.query_one(OverrideLine).error
        assert ("lr", "0.1", "override lr=0.1") in launch.result.flat
        assert launch.result.out_dir_state == "not_started"
        assert "$HH_EXP_DIR/p/c02_sup_train/sl/lr@0.1" in screen_text(app)

        await pilot.press("ctrl+l")
        job_screen = await until(pilot, on(app, JobScreen), what="landing on the job")
        jid = job_screen.job_id
        await until(pilot, lambda: app.jobs.get(jid) and app.jobs[jid].state == "completed", 60, "completed")

        await pilot.press("escape")
        jobs = await until(pilot, on(app, JobsScreen), what="the jobs table")
        await until(pilot, lambda: jobs.table.get_cell(jid, "state").plain == "completed", what="row completed")
        assert jobs.current_job() == jid
        assert "completed 1" in screen_text(app)  # the per-state counts

        await pilot.press("l")
        logs = await until(pilot, on(app, LogsScreen), what="the log")
        log = logs.pane.log_widget
        await until(pilot, lambda: log.lines and log.lines[-1].startswith("done: loss"), what="the last line")
        # held by the view, then drawn: on a loaded machine the screen is laid out a frame later
        await until(pilot, lambda: "done: loss" in screen_text(app), what="the last line on screen")
        await pilot.press("escape")

        started = app.jobs[jid].started
        await until(pilot, on(app, JobsScreen))
        await pilot.press("r")
        dialog = await until(pilot, on(app, ConfirmDialog), what="the restart dialog")
        assert jid in dialog.title_text
        await pilot.press("y")
        await until(pilot, lambda: app.jobs[jid].started != started and app.jobs[jid].state == "completed",
                    60, "the restarted run completed")

    # The link's events reached the app as coalesced messages, and the link said it connected.
    assert any(isinstance(m, Link.StatusChanged) and m.state.connected for m in seen)
    assert sum(isinstance(m, Link.JobsChanged) for m in seen) >= 2


async def test_cancel_a_long_job(daemon, demo_project, tui_env):
    app = tui_env.app(demo_project)
    async with app.run_test(size=(80, 24)) as pilot:
        launch = await open_launch(pilot, app, "sl", "c02_sup_train/sl.prototxt")
        await pilot.press(*"step_sleep_s=0.05")
        await until(pilot, lambda: launch.result.ok and launch.sent == ["step_sleep_s=0.05"], what="valid")
        await pilot.press("ctrl+l")
        job = await until(pilot, on(app, JobScreen), what="the job")
        jid = job.job_id
        await until(pilot, lambda: app.jobs.get(jid) and app.jobs[jid].state == "running", 30, "running")
        await pilot.press("c")
        dialog = await until(pilot, on(app, ConfirmDialog), what="the cancel dialog")
        assert "running" in str(dialog.body)
        await pilot.press("y")
        await until(pilot, lambda: app.jobs[jid].state == "cancelled", 30, "cancelled")
        await pilot.press("escape")
        jobs = await until(pilot, on(app, JobsScreen))
        await until(pilot, lambda: jobs.table.get_cell(jid, "state").plain == "cancelled", what="row cancelled")


async def test_wipe_names_the_folder_and_removes_it(daemon, probe_project, tui_env):
    done = launch_probe(daemon.socket, probe_project, ["tag=wipeme"])
    app = tui_env.app(probe_project)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.jobs.get(done.job_id) and app.jobs[done.job_id].state == "completed",
                    30, "the job")
        await pilot.press("2")
        jobs = await until(pilot, on(app, JobsScreen))
        await until(pilot, lambda: jobs.select_job(done.job_id), what="the row")
        await pilot.press("w")
        dialog = await until(pilot, on(app, ConfirmDialog), what="the wipe dialog")
        assert app.show_path(done.run_dir) in str(dialog.body)
        assert "$HH_EXP_DIR/" in str(dialog.body)
        await pilot.press("n")  # no: nothing happens
        await until(pilot, on(app, JobsScreen))
        assert Path(done.run_dir).exists()
        await pilot.press("w")
        await until(pilot, on(app, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: done.job_id not in app.jobs, 30, "the job gone")
        await until(pilot, lambda: jobs.table.row_count == 0, what="the row gone")
        assert not Path(done.run_dir).exists()


async def test_completion_of_keys_values_and_includes(daemon, demo_project, tui_env):
    app = tui_env.app(demo_project)
    async with app.run_test(size=(100, 30)) as pilot:
        launch = await open_launch(pilot, app, "sup", "c02_sup_train/sl.prototxt")
        editor = launch.query_one("#overrides")
        await pilot.press(*"optim", "tab")
        await until(pilot, lambda: editor.lines == ("optimizer=",), what="the key completed")
        await until(pilot, lambda: [c.label for c in editor._candidates][:2] == ["SGD", "MOMENTUM"],
                    what="enum values offered")
        await pilot.press("M", "tab", "enter")
        await pilot.press(*"Il", "tab")
        await until(pilot, lambda: editor.lines == ("optimizer=MOMENTUM", "Ilauncher="), what="the mount")
        await pilot.press(*"slurm_c", "tab")
        await until(pilot, lambda: launch.sent == ["optimizer=MOMENTUM", "Ilauncher=slurm_cpu"] and launch.result.ok,
                    what="both valid")
        flat = {k: (v, src) for k, v, src in launch.result.flat}
        assert flat["optimizer"] == ("MOMENTUM", "override optimizer=MOMENTUM")
        assert flat["launcher.slurm.minutes"][1] == "include override Ilauncher=slurm_cpu"
        # A line deleted with backspace on empty: its validation goes with it.
        await pilot.press("ctrl+g")
        await until(pilot, lambda: launch.sent == ["optimizer=MOMENTUM"], what="line removed")


async def test_filters_and_counts(daemon, probe_project, tui_env):
    ok = launch_probe(daemon.socket, probe_project, ["tag=fine"])
    bad = launch_probe(daemon.socket, probe_project, ["crash=true"])
    app = tui_env.app(probe_project)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        jobs = await until(pilot, on(app, JobsScreen))
        await until(pilot, lambda: {j.state for j in app.jobs.values()} == {"completed", "crashed"}, 30, "both done")
        await until(pilot, lambda: jobs.table.row_count == 2)
        text = screen_text(app)
        assert "completed 1" in text and "crashed 1" in text
        await pilot.press("s", "s", "s", "s", "s", "s")  # any -> queued -> ... -> crashed
        await until(pilot, lambda: jobs.state_filter == "crashed")
        await until(pilot, lambda: jobs.table.row_count == 1 and jobs.current_job() == bad.job_id)
        await pilot.press("escape", "slash", *"fine", "enter")
        await until(pilot, lambda: jobs.table.row_count == 1 and jobs.current_job() == ok.job_id)


async def test_banner_when_the_daemon_goes_and_reconnect_when_back(tui_env, probe_project, tmp_path):
    d = DaemonProcess.start(tui_env.sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        done = launch_probe(tui_env.sock, probe_project, ["tag=before"])
        app = tui_env.app(probe_project)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.link_state.connected and done.job_id in app.jobs, 30, "connected")
            banner = app.screen.query_one("LinkBanner")
            assert not banner.display or banner.has_class("-connected")
            d.proc.kill()
            d.proc.wait(10)
            await until(pilot, lambda: app.link_state.status == "lost", what="the link lost")
            await until(pilot, lambda: "daemon unavailable" in screen_text(app), what="the banner")
            d = DaemonProcess.start(tui_env.sock, hello_timeout=5, stderr_dir=tmp_path)
            await until(pilot, lambda: app.link_state.connected, 30, "reconnected")
            await until(pilot, lambda: "daemon unavailable" not in screen_text(app), what="banner gone")
            assert done.job_id in app.jobs  # the jobs are read again from the new daemon
            # And the link works: a new job shows up through the new Subscribe stream.
            again = launch_probe(tui_env.sock, probe_project, ["tag=after"])
            await until(pilot, lambda: again.job_id in app.jobs, 30, "a job launched after the reconnection")
    finally:
        d.stop()


async def test_starts_a_daemon_when_none_is_up(tui_env, demo_project):
    app = tui_env.app(demo_project, autostart=True)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.link_state.connected, 40, "a daemon started and connected")
            assert app.link.started_daemon
            await until(pilot, lambda: app.screen.preview.result is not None, what="the preview")
    finally:
        subprocess.run([sys.executable, "-m", "heyhi_daemon.main", "stop", "--socket", str(tui_env.sock)],
                       capture_output=True, timeout=60)


async def test_config_change_on_disk_refreshes_the_preview(daemon, demo_project, tui_env):
    app = tui_env.app(demo_project, watch_files=True)
    async with app.run_test(size=(80, 24)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen))
        await until(pilot, lambda: configs.preview.result is not None and configs.selected.rel == "c02_sup_train/sl.prototxt")
        assert ("lr", "0.5", "file") in configs.preview.result.flat
        cfg = demo_project / DEMO_CONFIG
        cfg.write_text(cfg.read_text().replace("lr: 0.5", "lr: 0.25"))
        await until(pilot, lambda: ("lr", "0.25", "file") in configs.preview.result.flat, 20, "the new value")


async def test_help_keymap_and_command_palette(daemon, demo_project, tui_env):
    app = tui_env.app(demo_project, keymap={"app.jobs": "j"})
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.link_state.connected and app.screen.files)
        await pilot.press("question_mark")
        await until(pilot, on(app, HelpScreen), what="help")
        text = screen_text(app)
        assert "app.jobs" in text and "configs.launch" in text
        await pilot.press("escape")
        await until(pilot, on(app, ConfigsScreen))
        configs = app.screen
        await pilot.press("j")  # remapped from 2
        await until(pilot, on(app, JobsScreen), what="jobs via the remapped key")
        await pilot.press("1")
        await until(pilot, lambda: app.screen is configs, what="back to the same configs screen")
        await pilot.press("j")
        await until(pilot, on(app, JobsScreen))
        await pilot.press("ctrl+p")
        await pilot.press(*"Launch c02")
        await until(pilot, lambda: "Launch c02_sup_train" in screen_text(app), what="the palette's hit")
        await pilot.press("enter")
        launch = await until(pilot, on(app, LaunchScreen), what="launch via the palette")
        assert launch.config.endswith(DEMO_CONFIG)


async def test_remote_mode_through_a_connector(daemon, demo_project, tui_env):
    """``--remote``: every byte through the connector (here: one that reaches the local daemon),
    no file watching; the configs come from ListDir/ReadFile."""
    from heyhi.wire.aclient import AsyncClient
    from heyhi_tui.link import RemoteConnector

    calls = []

    async def connect_remote(host, name="x"):
        calls.append(host)
        return await AsyncClient.connect(str(tui_env.sock), name=name)

    app = tui_env.app(demo_project, connect=RemoteConnector("login1", connect_remote), remote="login1",
                      results_root=None)
    async with app.run_test(size=(80, 24)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen))
        await until(pilot, lambda: configs.preview.result is not None and configs.preview.result.ok, 20, "preview")
        assert not app.watch_files and calls and set(calls) == {"login1"}
        assert "proj @ login1" in app.sub_title
