"""The run views over ``--remote`` (a real sshd on 127.0.0.1; the daemon reached only through SSH):
the jobs table's overrides, a run's config, results and metrics, the diff of two runs, the path
copied, and the ``ssh -t`` command that opens a shell in the run's folder on the remote host."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from textual.notifications import Notify

from remote_util import Remote, sshd  # noqa: F401  (fixtures)
from tui_util import PROBE_CONFIG, probe_project, screen_text, until  # noqa: F401

from heyhi.wire import protocol as P

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def remote(sshd, tmp_path, monkeypatch):  # noqa: F811
    r = Remote(sshd, tmp_path)
    for k, v in r.env.items():
        monkeypatch.setenv(k, v)
    yield r
    r.stop()


def on(app, cls):
    return lambda: isinstance(app.screen, cls) and app.screen


async def test_run_views_through_ssh(remote, probe_project):
    from heyhi.wire.remote import connect_remote, connect_remote_blocking
    from heyhi_tui.app import HeyHiApp
    from heyhi_tui.link import RemoteConnector
    from heyhi_tui.screens.diff import DiffScreen
    from heyhi_tui.screens.job import JobScreen
    from heyhi_tui.screens.jobs import JobsScreen
    from heyhi_tui.screens.runfolder import folder_command
    from heyhi_tui.widgets.metrics import MetricsView
    from heyhi_tui.widgets.results import ResultsView, RunTextView

    with connect_remote_blocking(remote.spec, on_event=None) as c:
        a, b = (c.request(P.Launch(project_root=str(probe_project), results_root=None,
                                   config=str(probe_project / PROBE_CONFIG), overrides=[f"tag=remote {x}"]))
                for x in ("one", "two"))
    with open(Path(a.run_dir) / "metrics.jsonl", "w") as fh:  # the "remote" host's file system is this one
        fh.write("".join(json.dumps({"step": s, "loss": 2.0 - s}) + "\n" for s in range(3)))

    app = HeyHiApp(str(probe_project), connect=RemoteConnector(remote.spec, connect_remote), remote=remote.spec,
                   results_root=None, autostart=False, watch_files=False)
    seen: list = []
    notes = lambda: [m.notification.message for m in seen if isinstance(m, Notify)]  # noqa: E731
    async with app.run_test(size=(120, 36), message_hook=seen.append) as pilot:
        await until(pilot, lambda: all(app.jobs.get(j.job_id) and app.jobs[j.job_id].state == "completed"
                                       for j in (a, b)), 60, "both remote jobs completed")
        await pilot.press("2")
        jobs = await until(pilot, on(app, JobsScreen), what="the jobs table")
        await until(pilot, lambda: set(jobs.table.shown_jobs) == {a.job_id, b.job_id}, what="both rows")
        assert "tag=remote one" in screen_text(app) and "tag=remote two" in screen_text(app)

        # The diff of the two runs, computed by the remote daemon.
        await until(pilot, lambda: jobs.table.select_job(a.job_id))
        await pilot.press("space")
        await until(pilot, lambda: jobs.table.select_job(b.job_id))
        await pilot.press("d")  # the marked one and this one
        diff = await until(pilot, on(app, DiffScreen), what="the diff")
        await until(pilot, lambda: diff.result is not None, 30, "the remote diff")
        assert [(c.key, c.a, c.b) for c in diff.result.changes] == [("tag", "'remote one'", "'remote two'")]
        await pilot.press("escape")

        # The job screen: overrides, config, results and metrics, all through the SSH link.
        app.show_job(a.job_id)
        screen = await until(pilot, on(app, JobScreen), what="the job screen")
        await until(pilot, lambda: "tag=remote one" in screen_text(app), what="the overrides")
        await pilot.press("v")
        await until(pilot, lambda: 'tag: "remote one"' in screen.query_one(RunTextView).file_text, 30, "the config")
        await pilot.press("v")
        results = screen.query_one(ResultsView)
        await until(pilot, lambda: ("tag", "remote one") in results.rows, 30, "the results")
        await pilot.press("v")
        metrics = screen.query_one(MetricsView)
        await until(pilot, lambda: metrics.names == ["loss"], 30, "the metrics chart")
        assert "last 0" in screen_text(app) and "steps 0–2 (3)" in screen_text(app)

        # The path copied (a path on the remote host, and said so).
        await pilot.press("y")
        await until(pilot, lambda: app.clipboard == a.run_dir, what="the path on the clipboard")
        assert any(f"copied to the clipboard: {a.run_dir} (a path on {remote.spec})" in n for n in notes())

        # The shell opens in the run's folder on the remote host: ssh -t with the link's key and
        # known_hosts (the app cannot hand a headless terminal over, so run it here, feeding it a command).
        argv, cwd = folder_command(app, a.run_dir, "shell")
        assert argv[:2] == ["ssh", "-t"] and cwd is None and argv[-1].startswith(f"cd {a.run_dir} && exec")
        done = subprocess.run(argv, input="pwd\n", capture_output=True, text=True, timeout=30)
        assert done.stdout.strip().splitlines()[-1] == a.run_dir, done.stderr
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: any("cannot be handed over; run: ssh -t" in n for n in notes()),
                    what="the command named")
