"""The log pane over ``--remote`` (a real sshd on 127.0.0.1): the log streams through SSH, a search
runs on the remote daemon and the file is read around a match far outside what the pane holds."""

from __future__ import annotations

import pytest

from remote_util import Remote, job_of, sshd  # noqa: F401  (fixtures)
from tui_util import PROBE_CONFIG, probe_project, screen_text, until  # noqa: F401

from heyhi_tui.screens.logs import LogsScreen

pytestmark = pytest.mark.timeout(120)

LINES = 20_000  # the pane opens on the last 5,000


@pytest.fixture
def remote(sshd, tmp_path, monkeypatch):  # noqa: F811
    r = Remote(sshd, tmp_path)
    for k, v in r.env.items():
        monkeypatch.setenv(k, v)
    yield r
    r.stop()


async def test_the_log_pane_through_ssh(remote, probe_project):  # noqa: F811
    from heyhi.wire.remote import connect_remote
    from heyhi_tui.app import HeyHiApp
    from heyhi_tui.link import RemoteConnector

    launched = remote.run("-c", str(probe_project / PROBE_CONFIG), f"lines={LINES}", "--project", str(probe_project))
    assert launched.returncode == 0, launched.stderr
    jid = job_of(launched.stderr)
    app = HeyHiApp(str(probe_project), connect=RemoteConnector(remote.spec, connect_remote), remote=remote.spec,
                   results_root=None, autostart=False, watch_files=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.jobs.get(jid) and app.jobs[jid].state == "completed", 60,
                    "the remote job, completed")
        app.show_logs(jid)
        logs = await until(pilot, lambda: isinstance(app.screen, LogsScreen) and app.screen, what="the log screen")
        pane, log = logs.pane, logs.pane.log_widget
        await until(pilot, lambda: pane.eof and log.line_count == logs.last_lines and log.lines[-1] == "probe done",
                    30, "the last lines, through SSH")
        assert pane.window.lo > 0 and "end of log" in pane.status_text

        await pilot.press("slash", *"re:^42$", "enter")
        await until(pilot, lambda: pane._match is not None and pane.window.lo <= pane._match, 30,
                    "the match, read around it through SSH")
        assert log.lines[pane.window.index_of(pane._match)] == "42"
        assert "paused" in pane.status_text
        await pilot.press("escape", "G")
        await until(pilot, lambda: pane.following and log.lines[-1] == "probe done" and "end of log" in pane.status_text,
                    30, "the end again")
        assert "probe done" in screen_text(app)
