"""Snapshots (pytest-textual-snapshot) of the run views at 80x24 and 160x48, against a real daemon:
the jobs table with its overrides and ages, sorted by state with a job marked, a job's screen on
its metrics charts, and the diff of two runs.

The world (project, runs with fixed records, daemon) is the one of ``test_tui_snapshots`` (one fixed
path; see there why it is deterministic); the completed run gets a fixed ``metrics.jsonl`` and
``result.json`` here. Times are shown in UTC (``TZ``), and runs older than two weeks show their date,
so nothing on screen moves with the clock. Update with ``--snapshot-update`` after checking the report.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from test_tui_snapshots import SIZES, _settled, world  # noqa: F401  (the world fixture)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="module")
def metrics_world(world):  # noqa: F811
    run = Path(world.jobs["completed"].run_dir)
    with open(run / "metrics.jsonl", "w") as fh:
        for s in range(0, 300, 5):
            fh.write(json.dumps({"step": s, "time": 0, "loss": round(0.7 * math.exp(-s / 80) + 0.05, 4),
                                 "accuracy": round(0.5 + 0.45 * (1 - math.exp(-s / 60)), 4)}) + "\n")
    (run / "result.json").write_text(json.dumps({"loss": 0.0667, "accuracy": 0.9421, "steps": 300}))
    return world


@pytest.mark.parametrize("size", SIZES)
def test_runs_jobs_table(snap_compare, world, utc, size):  # noqa: F811
    """Sorted by state, one job marked (test_tui_snapshots has the table as it opens)."""
    app = world.app(world.probe)

    async def ready(pilot):
        await pilot.press("2")
        await _settled(pilot, lambda: getattr(app.screen, "id", "") == "jobs"
                       and app.screen.query_one("#jobs-table").row_count == 3, "the jobs")
        await pilot.press("o", "space")
        await _settled(pilot, lambda: app.screen.sort_key == "state" and app.screen.marks == 1, "sorted, marked")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_runs_job_screen_metrics(snap_compare, metrics_world, utc, size):
    world = metrics_world
    app = world.app(world.probe)
    jid = world.jobs["completed"].job_id

    async def ready(pilot):
        from heyhi_tui.widgets.metrics import MetricsView

        await _settled(pilot, lambda: jid in app.jobs, "the jobs")
        app.show_job(jid)
        await _settled(pilot, lambda: getattr(app.screen, "job_id", "") == jid and app.screen.history, "the job")
        app.screen.show_tab("tab-metrics")
        await _settled(pilot, lambda: app.screen.query_one(MetricsView).names == ["loss", "accuracy"], "the charts")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_runs_diff_screen(snap_compare, world, utc, size):  # noqa: F811
    app = world.app(world.probe)

    async def ready(pilot):
        from heyhi_tui.screens.diff import DiffScreen

        await _settled(pilot, lambda: world.jobs["completed"].job_id in app.jobs, "the jobs")
        app.push_screen(DiffScreen(world.jobs["completed"].job_id, world.jobs["cancelled"].job_id))
        await _settled(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.result is not None
                       and len(app.screen.shown_keys) == 3, "the diff")
        await pilot.pause()  # the table's rows laid out

    assert snap_compare(app, terminal_size=size, run_before=ready)


def test_age_is_a_date_past_two_weeks(utc):
    """What the snapshots rely on: runs older than two weeks show a date, not an age."""
    from heyhi.wire.protocol import JobInfo
    from heyhi_tui.format import age

    old = JobInfo(job_id="j", run_dir="/r", config="c", state="completed", started=1_700_000_000.0)
    assert age(old, 1_700_000_000.0 + 15 * 86400) == "2023-11-14"
    assert age(old, 1_700_000_000.0 + 3 * 3600 + 5) == "3h"
