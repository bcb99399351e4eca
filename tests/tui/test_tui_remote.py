"""The TUI against a daemon reached only through SSH (a real sshd on 127.0.0.1): the configs come
through the daemon, the preview validates remotely, and a job launched remotely shows up live."""

from __future__ import annotations

import pytest

from remote_util import DEMO, Remote, job_of, sshd  # noqa: F401  (fixtures)
from tui_util import screen_text, until

from heyhi_tui.screens.configs import ConfigsScreen


@pytest.fixture
def remote(sshd, tmp_path, monkeypatch):  # noqa: F811
    r = Remote(sshd, tmp_path)
    for k, v in r.env.items():
        monkeypatch.setenv(k, v)
    yield r
    r.stop()


async def test_tui_through_ssh(remote, demo_project):
    from heyhi.wire.remote import connect_remote
    from heyhi_tui.app import HeyHiApp
    from heyhi_tui.link import RemoteConnector

    launched = remote.run("-c", str(demo_project / DEMO), "num_steps=40", "--project", str(demo_project))
    assert launched.returncode == 0, launched.stderr
    jid = job_of(launched.stderr)
    app = HeyHiApp(str(demo_project), connect=RemoteConnector(remote.spec, connect_remote), remote=remote.spec,
                   results_root=None, autostart=False, watch_files=False)
    async with app.run_test(size=(120, 40)) as pilot:
        configs = await until(pilot, lambda: isinstance(app.screen, ConfigsScreen) and app.screen, 30, "configs")
        await until(pilot, lambda: configs.preview.result is not None and configs.preview.result.ok, 30,
                    "the preview, validated by the remote daemon")
        assert not app.watch_files and f"@ {remote.spec}" in app.sub_title
        await until(pilot, lambda: app.jobs.get(jid) and app.jobs[jid].state == "completed", 90,
                    "the remotely launched job, completed, from the subscription")
        await pilot.press("2")
        await until(pilot, lambda: jid in screen_text(app), 15, "the job in the jobs table")
