"""Never stranded: the daemon going away under the TUI, against real daemons (local and over SSH).

When the daemon stops and comes back, every view (the configs tree and preview, the launch
editor, the jobs table, an open job screen with its followed log) shows it again by itself, with no
key pressed; while it is away the editor does not mark the user's overrides as wrong and the field
docs do not call keys "not in the schema". A TUI that may start a daemon starts one again when the
daemon is killed; one that may not (``--no-start``; a remote whose start command fails) says how in
one line, and reconnects by itself once a daemon is there.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from daemon_util import DaemonProcess, alive
from remote_util import Remote, sshd  # noqa: F401  (fixture)
from tui_util import PROBE_CONFIG, probe_project, screen_text, tui_env, until  # noqa: F401

from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi.wire.remote import connect_remote
from heyhi_tui.app import HeyHiApp
from heyhi_tui.link import RemoteConnector
from heyhi_tui.screens.configs import ConfigsScreen
from heyhi_tui.screens.job import JobScreen
from heyhi_tui.screens.jobs import JobsScreen
from heyhi_tui.screens.launch import LaunchScreen

pytestmark = pytest.mark.timeout(120)


def on(app, cls):
    return lambda: isinstance(app.screen, cls) and app.screen


def launch(sock, proj, overrides: list[str]) -> P.Launched:
    with Client(str(sock)) as c:
        return c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                  config=str(proj / PROBE_CONFIG), overrides=overrides))


def shown(app, *words: str) -> bool:
    text = screen_text(app)
    return all(w in text for w in words)


def stop_daemon(sock) -> None:
    subprocess.run([sys.executable, "-m", "heyhi_daemon.main", "stop", "--socket", str(sock)],
                   capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


async def test_daemon_stopped_and_started_under_the_app_every_view_comes_back(tui_env, probe_project, tmp_path):
    release = tmp_path / "release"
    d = DaemonProcess.start(tui_env.sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        waiting = launch(tui_env.sock, probe_project, ["lines=2", f"release={release}", "tag=waits"])
        app = tui_env.app(probe_project)  # autostart=False: as heyhi-tui --no-start
        async with app.run_test(size=(100, 30)) as pilot:
            configs = await until(pilot, on(app, ConfigsScreen), what="the configs screen")
            await until(pilot, lambda: app.link_state.connected and configs.files, 30, "the listing")
            # The launch editor with a valid override, then the job's screen over the jobs table.
            app.open_launch(str(probe_project / PROBE_CONFIG))
            editor = await until(pilot, on(app, LaunchScreen), what="the launch editor")
            await until(pilot, lambda: editor.schema is not None and editor.result is not None, what="the schema")
            await pilot.press(*"lines=3")
            await until(pilot, lambda: editor.result.ok and editor.sent == ["lines=3"], what="lines=3 valid")
            app.show_job(waiting.job_id)
            job = await until(pilot, on(app, JobScreen), what="the job screen")
            await until(pilot, lambda: app.jobs[waiting.job_id].state == "running", 30, "the job running")

            d.stop()  # SIGTERM: the daemon goes away (the job keeps running)
            await until(pilot, lambda: app.link_state.status == "lost", what="the link lost")
            # One line says how to get a daemon back (this TUI may not start one).
            await until(pilot, lambda: shown(app, "daemon unavailable", "start one: heyhi-daemon start --socket"),
                        what="the banner saying how")
            assert "^r Refresh" in screen_text(app)  # needed now: in the key bar

            # While it is away: the configs change on disk, and the editor gets a line.
            (probe_project / "conf/probe/added.prototxt").write_text('probe {\n  tag: "added"\n}\n')
            await pilot.press("1")
            await until(pilot, on(app, ConfigsScreen), what="the configs tree")
            app.open_launch(str(probe_project / PROBE_CONFIG))
            fresh = await until(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen is not editor
                                and app.screen, what="a launch editor opened while the daemon is away")
            # "1" left the first editor as Esc does: its lines come back as the config's draft.
            await until(pilot, lambda: fresh.editor.lines[:1] == ("lines=3",), what="the draft")
            await pilot.press("end", "enter", *"tag=x")
            await until(pilot, lambda: "not checked yet" in fresh.general_error, what="the editor waiting")
            assert fresh.errors == {} and (fresh.result is None or fresh.result.errors == [])
            assert "✗" not in screen_text(app) and "not in the schema" not in screen_text(app)

            d = DaemonProcess.start(tui_env.sock, hello_timeout=5, stderr_dir=tmp_path)
            # No key from here on: the banner goes, the editor checks its lines and gets its schema.
            await until(pilot, lambda: app.link_state.connected, 30, "reconnected")
            await until(pilot, lambda: fresh.result is not None and fresh.result.ok
                        and fresh.sent == ["lines=3", "tag=x"] and not fresh.general_error, 30,
                        "the editor's lines checked")
            await until(pilot, lambda: shown(app, "✓ valid") and "daemon unavailable" not in screen_text(app),
                        what="valid, no banner")
            await until(pilot, lambda: fresh.schema is not None and fresh.schema.fields, what="the schema")
            fresh.query_one("#launch-flat").focus()
            await until(pilot, lambda: "int32" in str(fresh.query_one("#launch-docs").render())
                        or "string" in str(fresh.query_one("#launch-docs").render()), what="the field docs")
            assert "not in the schema" not in screen_text(app)
            assert "^r Refresh" not in screen_text(app)  # not needed any more: out of the key bar

            # The configs tree read conf/ again (the file added while the daemon was away).
            await until(pilot, lambda: any(f.rel == "probe/added.prototxt" for f in configs.files), 20,
                        "the tree re-read")
            # The jobs table and the job screen: a job launched now appears, the followed log ends.
            after = launch(tui_env.sock, probe_project, ["tag=after"])
            await until(pilot, lambda: after.job_id in app.jobs, 30, "a job of the new daemon")
            release.touch()
            await until(pilot, lambda: job.query_one("LogPane").log_widget.lines
                        and job.query_one("LogPane").log_widget.lines[-1] == "probe done", 30,
                        "the followed log to its end, on the job screen left open")
            await pilot.press("2")
            jobs = await until(pilot, on(app, JobsScreen), what="the jobs table")
            await until(pilot, lambda: jobs.table.row_count >= 2 and shown(app, after.job_id, waiting.job_id),
                        what="both jobs in the table")
    finally:
        release.touch()
        d.stop()


async def test_the_tui_starts_the_daemon_again_when_it_is_killed(tui_env, probe_project, tmp_path):
    d = DaemonProcess.start(tui_env.sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        done = launch(tui_env.sock, probe_project, ["tag=before"])
        app = tui_env.app(probe_project, autostart=True)
        async with app.run_test(size=(80, 24)) as pilot:
            configs = await until(pilot, on(app, ConfigsScreen))
            await until(pilot, lambda: app.link_state.connected and done.job_id in app.jobs, 30, "connected")
            first_pid = int(app.link_state.daemon.rsplit(" ", 1)[-1])
            assert first_pid == d.pid and not app.link.started_daemon
            d.proc.kill()  # SIGKILL: no goodbye
            d.proc.wait(10)
            await until(pilot, lambda: app.link.started_daemon and app.link_state.connected, 40,
                        "a daemon started by the TUI")
            pid = int(app.link_state.daemon.rsplit(" ", 1)[-1])
            assert pid != first_pid and alive(pid)
            # The views without a key: the jobs the new daemon read back, the preview recomposed.
            await until(pilot, lambda: done.job_id in app.jobs, 20, "the jobs read back")
            await until(pilot, lambda: configs.preview.result is not None and configs.preview.result.ok
                        and not configs.preview.error, 20, "the preview")
            again = launch(tui_env.sock, probe_project, ["tag=again"])
            await until(pilot, lambda: again.job_id in app.jobs, 30, "a job through the new daemon")
    finally:
        d.stop()
        stop_daemon(tui_env.sock)


@pytest.fixture
def remote(sshd, tmp_path, monkeypatch):  # noqa: F811
    r = Remote(sshd, tmp_path)
    for k, v in r.env.items():
        monkeypatch.setenv(k, v)
    yield r
    r.stop()


async def test_over_ssh_the_daemon_is_started_again_or_the_banner_says_how(remote, probe_project):
    app = HeyHiApp(str(probe_project), connect=RemoteConnector(remote.spec, connect_remote), remote=remote.spec,
                   results_root=None, autostart=False, watch_files=False)
    async with app.run_test(size=(100, 30)) as pilot:
        configs = await until(pilot, on(app, ConfigsScreen), 30)
        await until(pilot, lambda: configs.preview.result is not None and configs.preview.result.ok, 40,
                    "the preview, through SSH")
        assert "^r Refresh" in screen_text(app)  # remote: no file watching, so ctrl+r is in the key bar
        first = app.link_state.daemon

        # The remote cannot start a daemon: the banner says so, and how, in one line.
        remote.write_toml(daemon_cmd="false")
        stop_daemon(remote.sock)
        await until(pilot, lambda: app.link_state.status in ("lost", "failed"), 30, "the link lost")
        await until(pilot, lambda: "set daemon_cmd for this host" in screen_text(app), 40, "how to fix it")
        banner = app.screen.query_one("LinkBanner")
        assert "\n" not in str(banner.render())

        # Fixed: the TUI starts it again through SSH by itself, and the views come back.
        remote.write_toml()
        (probe_project / "conf/probe/added.prototxt").write_text('probe {\n  tag: "added"\n}\n')
        await until(pilot, lambda: app.link_state.connected and app.link_state.daemon != first, 40,
                    "a new remote daemon")
        await until(pilot, lambda: any(f.rel == "probe/added.prototxt" for f in configs.files), 30,
                    "the tree re-read over SSH")
        await until(pilot, lambda: configs.preview.result is not None and configs.preview.result.ok, 30,
                    "the preview again")
