"""Runs you can read (issue 14, item 3) and bulk actions (item 4): the real app (``run_test`` +
Pilot) against a real daemon and real run folders.

A run's overrides, composed config, results and live metric charts on its screen (the chart moves
when lines are appended to metrics.jsonl); the jobs table newest first, sorted by another column,
filtered by text and by project (two projects, one daemon), with the overrides in full; two runs'
configs compared, and a run against today's config file; two running jobs cancelled with one
confirmation naming the count, then wiped the same way; the toast when a job ends; the command that
opens the folder in $EDITOR.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from textual.notifications import Notify
from textual.widgets import Sparkline

from tui_util import PROBE_CONFIG, daemon, probe_project, screen_text, tui_env, until  # noqa: F401

from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi_tui.dialogs.confirm import ConfirmDialog
from heyhi_tui.screens.diff import DiffScreen
from heyhi_tui.screens.job import JobScreen
from heyhi_tui.screens.jobs import JobsScreen
from heyhi_tui.widgets.metrics import MetricChart, MetricsView
from heyhi_tui.widgets.results import ResultsView, RunTextView

pytestmark = pytest.mark.timeout(90)


def on(app, cls):
    return lambda: isinstance(app.screen, cls) and app.screen


def launch(sock: Path, proj: Path, overrides: list[str]) -> P.Launched:
    with Client(str(sock)) as c:
        return c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                  config=str(proj / PROBE_CONFIG), overrides=overrides))


def append_metrics(run_dir: str, records: list[dict]) -> None:
    with open(Path(run_dir) / "metrics.jsonl", "a") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in records))


def notes(seen: list) -> list:
    """The notifications (toasts) the app posted, oldest first."""
    return [m.notification for m in seen if isinstance(m, Notify)]


def summary(view: MetricsView, name: str) -> str:
    chart = next(c for c in view.query(MetricChart) if c.metric == name)
    return str(chart.query_one(".metric-summary").render())


async def test_a_runs_overrides_config_results_and_live_metrics(daemon, probe_project, tui_env, tmp_path):
    release = tmp_path / "release"
    job = launch(daemon.socket, probe_project, [f"release={release}", "tag=metrics run", "lines=2"])
    app = tui_env.app(probe_project)
    seen: list = []
    async with app.run_test(size=(100, 32), message_hook=seen.append) as pilot:
        await until(pilot, lambda: app.jobs.get(job.job_id) and app.jobs[job.job_id].state == "running", 30,
                    "the job running")
        app.show_job(job.job_id)
        screen = await until(pilot, on(app, JobScreen), what="the job screen")
        # The overrides in full, as recorded (not the folder's tag).
        await until(pilot, lambda: "tag=metrics run" in screen_text(app), what="the overrides shown")
        assert f"release={release}" in screen_text(app).replace("\n", "")
        assert app.jobs[job.job_id].overrides == [f"release={release}", "tag=metrics run", "lines=2"]

        # The composed config, read through the daemon.
        await pilot.press("v")
        config = screen.query_one(RunTextView)
        await until(pilot, lambda: screen.active_tab == "tab-config" and config.file_text, what="the config")
        assert config.shown_path.endswith("/config.prototxt") and 'tag: "metrics run"' in config.file_text
        assert 'tag: "metrics run"' in screen_text(app)

        # Metrics: none yet; lines appended to metrics.jsonl show up as charts, and move them.
        await pilot.press("v", "v")
        metrics = screen.query_one(MetricsView)
        await until(pilot, lambda: screen.active_tab == "tab-metrics" and metrics.polls, what="the metrics tab")
        await until(pilot, lambda: "no metrics yet" in screen_text(app), what="no metrics yet")
        append_metrics(job.run_dir, [{"step": s, "time": 0, "loss": 1.0 / (s + 1), "acc": s / 10} for s in range(5)])
        await until(pilot, lambda: metrics.names == ["loss", "acc"], 10, "two charts")
        assert "last 0.2" in summary(metrics, "loss") and "steps 0–4 (5)" in summary(metrics, "loss")
        assert "max 1" in summary(metrics, "loss") and "min 0.2" in summary(metrics, "loss")
        chart = next(c for c in metrics.query(MetricChart) if c.metric == "loss")
        assert chart.query_one(Sparkline).data == [1.0, 0.5, 1 / 3, 0.25, 0.2]
        with open(Path(job.run_dir) / "metrics.jsonl", "a") as fh:  # a line being written: not read yet
            fh.write(json.dumps({"step": 5, "loss": 0.01}) + "\n" + '{"step": 6, "lo')
        await until(pilot, lambda: "steps 0–5 (6)" in summary(metrics, "loss"), 10, "the chart updated")
        assert "last 0.01" in summary(metrics, "loss") and "min 0.01" in summary(metrics, "loss")
        with open(Path(job.run_dir) / "metrics.jsonl", "a") as fh:
            fh.write('ss": 0.005}\n')
        await until(pilot, lambda: "steps 0–6 (7)" in summary(metrics, "loss"), 10, "the torn line, whole")
        assert "last 0.005" in screen_text(app)

        # The job ends: its results (result.json) show, and a toast says it ended.
        release.touch()
        await until(pilot, lambda: app.jobs[job.job_id].state == "completed", 30, "completed")
        await pilot.press("v", "v", "v")  # metrics -> log -> config -> results
        results = screen.query_one(ResultsView)
        await until(pilot, lambda: screen.active_tab == "tab-results" and ("tag", "metrics run") in results.rows,
                    15, "the result")
        assert "metrics run" in screen_text(app)
        ended = [n for n in notes(seen) if n.title == "job ended"]
        assert len(ended) == 1 and f"job {job.job_id} completed: probe/probe" in ended[0].message
        # `/` filters the results table.
        await pilot.press("slash", *"zzz")
        await until(pilot, lambda: results.query_one("#results-table").row_count == 0, what="filtered out")

        # The folder in $EDITOR: a headless terminal cannot be handed over, so the command is named.
        os.environ["VISUAL"] = "myeditor --wait"
        try:
            await pilot.press("escape", "E")
            await until(pilot, lambda: any(f"run: cd {job.run_dir} && myeditor --wait ." in n.message
                                           for n in notes(seen)), what="the editor's command")
        finally:
            del os.environ["VISUAL"]


def other_project(probe_project: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "otherproj"
    shutil.copytree(probe_project, dst)
    return dst


async def wait_state(pilot, app, jid: str, state: str) -> None:
    await until(pilot, lambda: app.jobs.get(jid) and app.jobs[jid].state == state, 30, f"{jid} {state}")


async def test_jobs_table_sorts_filters_by_project_cancels_two_at_once_and_diffs(
        daemon, probe_project, tui_env, tmp_path):
    other = other_project(probe_project, tmp_path)
    release = tui_env.base / "rel"  # short: the overrides fit the narrow table
    app = tui_env.app(probe_project)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.link_state.connected, what="connected")
        a = launch(daemon.socket, probe_project, ["tag=first"])
        await wait_state(pilot, app, a.job_id, "completed")
        b = launch(daemon.socket, other, ["tag=elsewhere"])
        await wait_state(pilot, app, b.job_id, "completed")
        r1 = launch(daemon.socket, probe_project, [f"release={release}", "tag=wait one"])
        await wait_state(pilot, app, r1.job_id, "running")
        r2 = launch(daemon.socket, probe_project, [f"release={release}", "tag=wait two"])
        await wait_state(pilot, app, r2.job_id, "running")

        await pilot.press("2")
        jobs = await until(pilot, on(app, JobsScreen), what="the jobs table")
        table = jobs.table
        # Newest first; the overrides in full; two projects: the project column shows (at 80 columns too).
        await until(pilot, lambda: table.shown_jobs == [r2.job_id, r1.job_id, b.job_id, a.job_id], what="newest first")
        text = screen_text(app)
        assert "tag=wait two" in text and "tag=elsewhere" in text and "otherproj" in text and "probeproj" in text
        assert "age ▲" in text and "newest first" in text

        # Sort by the next column (state), then reverse it; the cursor stays on its job.
        await pilot.press("o")
        await until(pilot, lambda: jobs.sort_key == "state" and "state ▲" in screen_text(app), what="by state")
        assert table.shown_jobs == [r2.job_id, r1.job_id, b.job_id, a.job_id]  # running, then completed
        await pilot.press("O")
        await until(pilot, lambda: table.shown_jobs[:2] == [b.job_id, a.job_id], what="reversed")
        assert "state ▼" in screen_text(app) and table.selected_job == r2.job_id

        # This project only: the other project's run goes, and so does the project column.
        await pilot.press("p")
        await until(pilot, lambda: set(table.shown_jobs) == {a.job_id, r1.job_id, r2.job_id}, what="this project")
        assert "otherproj" not in screen_text(app) and "project" not in table.column_keys
        # `/` filters by the overrides' text too.
        await pilot.press("slash", *"wait two", "enter")
        await until(pilot, lambda: table.shown_jobs == [r2.job_id], what="filtered")
        await pilot.press("escape")  # clears the filters (no marks)
        await until(pilot, lambda: len(table.shown_jobs) == 4, what="every job again")
        assert table.column_keys == ("id", "project", "config", "overrides", "state", "age")
        await pilot.press("o", "o", "o", "o", "o")  # state -> config, overrides, project, id, age
        await until(pilot, lambda: jobs.sort_key == "age" and not jobs.sort_reverse, what="by age again")

        # Mark the two running jobs; one question naming the count cancels both.
        await until(pilot, lambda: table.select_job(r2.job_id))
        await pilot.press("space", "space")
        await until(pilot, lambda: table.marked == {r1.job_id, r2.job_id}, what="two marked")
        assert "2 marked" in screen_text(app)
        await pilot.press("c")
        dialog = await until(pilot, on(app, ConfirmDialog), what="the cancel dialog")
        assert dialog.title_text == "Cancel 2 jobs?"
        assert r1.job_id in str(dialog.body) and "tag=wait one" in str(dialog.body)
        await pilot.press("y")
        await until(pilot, lambda: app.jobs[r1.job_id].state == app.jobs[r2.job_id].state == "cancelled", 30,
                    "both cancelled")
        assert not isinstance(app.screen, ConfirmDialog) and not table.marked

        # The diff of two runs (two marked), then of a run against today's config file.
        await until(pilot, lambda: table.select_job(b.job_id))
        await pilot.press("space", "space")
        await until(pilot, lambda: table.marked == {a.job_id, b.job_id}, what="a and b marked")
        await pilot.press("d")
        diff = await until(pilot, on(app, DiffScreen), what="the diff screen")
        await until(pilot, lambda: diff.result is not None, 15, "the diff")
        assert [(c.key, c.a, c.b) for c in diff.result.changes] == [("tag", "elsewhere", "first")]
        assert "tag" in screen_text(app) and '+  tag: "first"' in screen_text(app)
        await pilot.press("slash", "x")  # `/` filters the changed keys too
        await until(pilot, lambda: diff.shown_keys == [], what="no key has an x")
        await pilot.press("escape")  # closes the filter
        await pilot.press("escape", "escape")  # back; then clear the marks
        await until(pilot, lambda: isinstance(app.screen, JobsScreen) and not table.marked, what="marks cleared")
        conf = probe_project / PROBE_CONFIG
        conf.write_text(conf.read_text().replace("probe {", "probe {\n  lines: 7"))
        await until(pilot, lambda: table.select_job(a.job_id))
        await pilot.press("d")
        diff = await until(pilot, on(app, DiffScreen), what="against today's config")
        await until(pilot, lambda: diff.result is not None, 15, "the diff against today")
        assert [(c.key, c.a, c.b) for c in diff.result.changes] == [("lines", "0", "7")]
        assert "today's config" in screen_text(app) and "lines" in screen_text(app)

        # Wipe the two cancelled runs at once: one question naming the count and the folders.
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen) and table.select_job(r2.job_id))
        await pilot.press("space", "space")
        await until(pilot, lambda: table.marked == {r1.job_id, r2.job_id}, what="the cancelled two marked")
        await pilot.press("w")
        dialog = await until(pilot, on(app, ConfirmDialog), what="the wipe dialog")
        assert dialog.title_text == "Wipe 2 jobs?" and app.show_path(r1.run_dir) in str(dialog.body)
        await pilot.press("y")
        await until(pilot, lambda: r1.job_id not in app.jobs and r2.job_id not in app.jobs, 30, "both wiped")
        assert not Path(r1.run_dir).exists() and not Path(r2.run_dir).exists() and Path(a.run_dir).exists()

    # The request itself: one line for what cannot be compared.
    with Client(str(daemon.socket)) as c:
        with pytest.raises(P.DaemonError, match="name a second job"):
            c.request(P.DiffRuns(a=a.job_id))
        with pytest.raises(P.DaemonError, match="no job 'nope'"):
            c.request(P.DiffRuns(a=a.job_id, b="nope"))


# ---- the pure parts ----------------------------------------------------------------------------


def test_metrics_buffer_skips_what_is_not_a_finite_number_and_stays_bounded(monkeypatch):
    from heyhi_tui.widgets import metrics as M

    b = M.MetricsBuffer()
    assert b.feed(b'{"step": 0, "loss": 1.5, "note": "x", "ok": true}\n{"step": 1, "loss": NaN}\nnot json\n[1]\n')
    assert b.series["loss"].values == [1.5] and b.skipped == 2 and set(b.series) == {"loss"}
    assert not b.feed(b'{"step": 2, "lo')  # a torn line waits for its end
    assert b.feed(b'ss": 0.5}\n') and b.series["loss"].steps == [0.0, 2.0]
    monkeypatch.setattr(M, "MAX_POINTS", 8)
    for s in range(3, 40):
        b.feed(f'{{"step": {s}, "loss": {s}}}\n'.encode())
    s = b.series["loss"]
    assert len(s.values) <= 8 and s.count == 39 and s.last == 39 and s.low == 0.5 and s.high == 39
    assert s.steps[-1] == 39.0 and s.steps == sorted(s.steps)  # every other point dropped, in order


@pytest.mark.parametrize("value, rows", [
    pytest.param({"loss": 0.25, "eval": {"acc": 0.9, "per_class": [1, 2]}}, [("loss", "0.25"), ("eval.acc", "0.9"),
                                                                             ("eval.per_class", "[1, 2]")], id="nested"),
    pytest.param(0.5, [("result", "0.5")], id="scalar"),
    pytest.param({"empty": {}}, [("empty", "{}")], id="empty-dict"),
])
def test_result_rows(value, rows):
    from heyhi_tui.widgets.results import flat_result

    assert flat_result(value) == rows


@pytest.mark.parametrize("spec, parts", [
    pytest.param("me@login1:2222", ("me", "login1", 2222), id="user-host-port"),
    pytest.param("login1", (None, "login1", None), id="host"),
    pytest.param("root@[::1]:22", ("root", "::1", 22), id="v6-port"),
    pytest.param("::1", (None, "::1", None), id="v6"),
])
def test_split_host(spec, parts):
    from heyhi_tui.screens.runfolder import split_host

    assert split_host(spec) == parts


def test_ssh_argv_uses_the_links_key_and_known_hosts():
    from types import SimpleNamespace

    from heyhi_tui.screens.runfolder import ssh_argv

    settings = SimpleNamespace(client_keys=["/k/id"], known_hosts="/k/known", ssh_config=None)
    assert ssh_argv("me@h:2222", settings, "cd /r && exec sh") == [
        "ssh", "-t", "-p", "2222", "-i", "/k/id", "-o", "UserKnownHostsFile=/k/known",
        "-o", "StrictHostKeyChecking=yes", "me@h", "cd /r && exec sh"]


def test_end_toasts_one_per_job_or_one_for_many():
    from heyhi.wire.protocol import JobInfo
    from heyhi_tui.format import end_toasts

    def job(i: int, state: str) -> JobInfo:
        return JobInfo(job_id=f"j{i}", run_dir=f"/r/{i}", config="/p/conf/a.prototxt", state=state,
                       overrides=[f"seed={i}"])

    before = {f"j{i}": job(i, "running") for i in range(5)}
    one = end_toasts(before, [job(0, "crashed"), job(1, "running")], lambda c: "a")
    assert one == [("job j0 crashed: a seed=0", "error")]
    assert end_toasts({}, [job(0, "completed")], lambda c: "a") == []  # never seen live: no toast
    many = end_toasts(before, [job(i, "completed" if i else "crashed") for i in range(5)], lambda c: "a")
    assert many == [("5 jobs ended: 4 completed, 1 crashed", "error")]
