"""Sweeps on screen, against a real daemon: a sweep typed in the launch editor is planned by the daemon
(the points and their states, as ``--plan`` prints them), launched, and shown in the sweeps view with
its points, report table and charts; ``b`` (sweep best) opens the editor on the best group with new
seeds, planned with the seeds already run found. The same once over ``--remote`` (the test sshd),
with an edit-and-relaunch of a point's run there. Snapshots of the sweeps view, a sweep and the editor
with a plan, at 80x24 and 160x48.
"""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from daemon_util import DaemonProcess
from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi_tui.screens.launch import LaunchScreen
from heyhi_tui.screens.sweep import SweepScreen
from heyhi_tui.screens.sweeps import SweepsScreen
from heyhi_tui.widgets.configs import FieldDocs
from heyhi_tui.widgets.overrides import OverrideEditor
from heyhi_tui.widgets.sweeps import Charts, PlanTable
from remote_util import Remote, sshd  # noqa: F401  (fixtures)
from waiting import wait_for
from tui_util import daemon, screen_text, tui_env, until  # noqa: F401

pytestmark = pytest.mark.timeout(120)

CONFIG = "conf/fit/fit.prototxt"
# A project whose task logs a deterministic loss curve at once: sweeps run in a blink, and the
# numbers on screen (and in the snapshots) never move.
PROJECT = {
    "conf/conf.proto": """\
syntax = "proto2";
package heyhi_sweeps;

message Include { optional string path = 1; optional string mount = 2; }

// Fit a curve: the loss falls as 1 / (1 + lr * step), a little higher per seed.
message FitTask {
  // Learning rate.
  optional float lr = 1 [default = 0.5];
  optional int32 seed = 2 [default = 0];
  optional int32 num_steps = 3 [default = 8];
  optional string tag = 4;
}

message MetaCfg {
  repeated Include includes = 1;
  oneof task { FitTask fit = 2; }
}
""",
    CONFIG: "fit {\n  num_steps: 8\n}\n",
    "run.py": """\
import heyhi


def fit(cfg):
    for step in range(1, cfg.num_steps + 1):
        heyhi.log_metrics(step, loss=1.0 / (1.0 + cfg.lr * step) + 0.01 * cfg.seed)
    print("fit done", flush=True)


if __name__ == "__main__":
    heyhi.main()
""",
}


def write_project(root: Path) -> Path:
    for rel, text in PROJECT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def fit_project(tmp_path) -> Path:
    return write_project(tmp_path / "fitproj")


@pytest.fixture
def state_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    return tmp_path / "xdg-state"


def on(app, cls):
    return lambda: isinstance(app.screen, cls) and app.screen


def lines_of(app) -> tuple[str, ...]:
    return app.screen.query_one(OverrideEditor).lines


async def planned(pilot, app, launch: LaunchScreen, sent: list[str]) -> P.SweepPlan:
    await until(pilot, lambda: launch.sent == sent and not launch.validating and launch.plan is not None,
                30, f"the plan of {sent}")
    return launch.plan


async def finished(pilot, app, timeout: float = 60, other_than: str = "") -> SweepScreen:
    screen = await until(pilot, lambda: on(app, SweepScreen)() and app.screen.sweep_id != other_than and app.screen,
                         30, "the sweep's screen")
    await until(pilot, lambda: screen.detail is not None and not screen.detail.info.active
                and screen.detail.info.counts.get("completed") == screen.detail.info.total, timeout,
                "every point completed")
    return screen


async def test_sweep_planned_launched_reported_and_best(daemon, fit_project, tui_env, state_home):
    with Client(str(daemon.socket)) as c:  # what the daemon refuses to plan: one line, on its override
        def plan(*overrides: str) -> P.SweepPlan:
            return c.request(P.PlanSweep(str(fit_project), None, str(fit_project / CONFIG), list(overrides)))

        refused = plan("seed=1", "@params.yaml")
        assert not refused.ok and refused.errors[0].index == 1 and "flag files" in refused.errors[0].message
        huge = plan("lr=range(0,400)", "seed=range(0,400)")
        assert not huge.ok and huge.errors[0].index == -1 and "160,000 points" in huge.errors[0].message
    app = tui_env.app(fit_project)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.link_state.connected, what="the daemon")
        app.open_launch(str(fit_project / CONFIG))
        launch = await until(pilot, on(app, LaunchScreen), what="the editor")
        await until(pilot, lambda: launch.schema is not None and launch.result is not None, what="validated")

        app.post_message(events.Paste("lr=[0.1,fast] num_steps=6"))
        await until(pilot, lambda: launch.errors.get(0) and not launch.validating, what="the sweep's error")
        assert "'lr' expects float" in launch.errors[0] and "got 'fast'" in launch.errors[0]
        assert launch.plan is None and not launch.result.ok

        await pilot.press("up", "ctrl+u")
        app.post_message(events.Paste("lr=[0.1,0.5]"))
        await pilot.press("down", "end", "enter")
        app.post_message(events.Paste("seed=range(2)"))
        plan = await planned(pilot, app, launch, ["lr=[0.1,0.5]", "num_steps=6", "seed=range(2)"])
        assert launch.errors == {} and launch.result.ok
        assert plan.total == 4 and plan.counts["new"] == 4 and plan.summary.startswith("4 points: 4 new")
        assert [p[2] for p in plan.points] == ["lr=0.1 seed=0", "lr=0.1 seed=1", "lr=0.5 seed=0", "lr=0.5 seed=1"]
        assert launch.query_one(PlanTable).row_count == 4 and launch.query_one(PlanTable).display
        shown = screen_text(app)
        assert "a sweep" in shown and "4 points: 4 new · Launch runs the 4 new" in shown
        assert not Path(plan.sweep_dir).exists()  # planned, nothing written

        await pilot.press("ctrl+l")
        sweep = await finished(pilot, app)
        d = sweep.detail
        assert d.info.metric == "loss" and d.keys == ["lr"] and len(d.points) == 4
        assert [r["params"] for r in d.info.rows] == [{"lr": "0.5"}, {"lr": "0.1"}]  # best first
        assert [r["n"] for r in d.info.rows] == [2, 2] and d.retrain == ["lr=0.5", "num_steps=6"]
        assert [c["label"] for c in d.curves] == ["lr=0.5", "lr=0.1"] and d.curves[0]["steps"] == [1, 2, 3, 4, 5, 6]
        await pilot.press("t")
        await until(pilot, lambda: "loss mean" in screen_text(app), what="the report table")
        await pilot.press("v")
        charts = sweep.query_one(Charts)
        await until(pilot, lambda: len(charts.query("Sparkline")) == 2, what="a curve per group")
        assert "loss against lr" in screen_text(app)

        await pilot.press("escape")
        listing = await until(pilot, on(app, SweepsScreen), what="the sweeps view")
        await until(pilot, lambda: [s.sweep_id for s in listing.sweeps] == [d.info.sweep_id], what="the sweep listed")
        assert "4 completed" in screen_text(app)
        await pilot.press("enter")
        sweep = await finished(pilot, app)

        await pilot.press("b")  # sweep best: the best group, new seeds, planned before anything runs
        launch = await until(pilot, on(app, LaunchScreen), what="the editor on the best group")
        assert lines_of(app) == ("lr=0.5", "num_steps=6", "seed=[0,1,2,3,4]")
        assert launch.sweep_metric == "loss:last:min"
        plan = await planned(pilot, app, launch, ["lr=0.5", "num_steps=6", "seed=[0,1,2,3,4]"])
        assert (plan.counts["completed"], plan.counts["new"]) == (2, 3)  # the seeds already run are found
        await pilot.press("ctrl+l")
        best = await finished(pilot, app, other_than=d.info.sweep_id)
        assert best.sweep_id != d.info.sweep_id and best.detail.info.total == 5
        assert [r["params"] for r in best.detail.info.rows] == [{}] and best.detail.info.rows[0]["n"] == 5


async def test_sweep_file_toast_names_a_command_that_works_from_the_project_root(daemon, demo_project, tui_env):
    from conftest import run_cli

    app = tui_env.app(demo_project)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.link_state.connected and app.screen.files, what="the configs")
        configs = app.screen
        configs.selected = next(f for f in configs.files if f.rel == "sweeps/lr_search.yaml")
        await pilot.press("o")  # launch: a sweep file is not launched here; the toast says how
        said = await until(pilot, lambda: [n.message for n in app._notifications if "sweep file" in n.message],
                           what="the toast")
    with Client(str(daemon.socket)) as c:  # a list on a repeated field is its value: one run, no sweep
        one = c.request(P.PlanSweep(str(demo_project), None, str(demo_project / "conf/c02_sup_train/sl.prototxt"),
                                    ["tags=[a,b]"]))
        assert one.ok and not one.sweep
    command = said[0].split("`")[1]
    assert command == "heyhi sweep conf/sweeps/lr_search.yaml"
    done = run_cli([*command.split()[1:], "--plan"], cwd=demo_project)
    assert done.returncode == 0 and "0 points: 0 new" in done.stdout, done.stderr


@pytest.fixture
def remote(sshd, tmp_path, monkeypatch):  # noqa: F811
    r = Remote(sshd, tmp_path)
    for k, v in r.env.items():
        monkeypatch.setenv(k, v)
    yield r
    r.stop()


async def test_sweeps_and_relaunch_over_remote(remote, fit_project, state_home):
    from heyhi.wire.remote import connect_remote
    from heyhi_tui.app import HeyHiApp
    from heyhi_tui.link import RemoteConnector
    from heyhi_tui.screens.jobs import JobsScreen

    app = HeyHiApp(str(fit_project), connect=RemoteConnector(remote.spec, connect_remote), remote=remote.spec,
                   results_root=None, autostart=False, watch_files=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.link_state.connected, 60, "the remote daemon")
        app.open_launch(str(fit_project / CONFIG), ["lr=[0.2,0.3]", "num_steps=4"])
        launch = await until(pilot, on(app, LaunchScreen), what="the editor")
        plan = await planned(pilot, app, launch, ["lr=[0.2,0.3]", "num_steps=4"])
        assert plan.total == 2 and plan.sweep_dir.startswith(str(remote.base / "results"))  # the remote's root
        await pilot.press("ctrl+l")
        sweep = await finished(pilot, app)
        assert [r["params"]["lr"] for r in sweep.detail.info.rows] == ["0.3", "0.2"]
        await pilot.press("v")
        await until(pilot, lambda: len(sweep.query_one(Charts).query("Sparkline")) == 2, what="the charts")
        await pilot.press("escape")
        listing = await until(pilot, on(app, SweepsScreen), what="the sweeps view")
        await until(pilot, lambda: [s.sweep_id for s in listing.sweeps] == [sweep.sweep_id], what="the sweep listed")
        await pilot.press("enter")
        sweep = await finished(pilot, app)

        point = next(j for j in app.jobs.values() if j.run_dir == sweep.detail.points[0][1])
        await pilot.press("p", "enter")  # the first point's job, then edit and relaunch it
        await until(pilot, lambda: getattr(app.screen, "job_id", None) == point.job_id, what="the point's job")
        await pilot.press("2")
        jobs = await until(pilot, on(app, JobsScreen), what="the jobs table")
        await until(pilot, lambda: jobs.select_job(point.job_id), what="the point's row")
        await pilot.press("R")
        launch = await until(pilot, on(app, LaunchScreen), what="the editor on the point's run")
        await until(pilot, lambda: lines_of(app) == ("lr=0.2", "num_steps=4"), what="the point's overrides")
        await until(pilot, lambda: launch.result is not None and launch.result.ok
                    and launch.result.out_dir == point.run_dir, what="validated by the remote daemon")


# ---- snapshots ---------------------------------------------------------------------------------------

WORLD = Path("/tmp/hh-tui-snap-sweeps")  # fixed: sweep ids and shown paths come from it
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


class World:
    def __init__(self, root: Path):
        self.root = root
        self.project = root / "proj"
        self.results = root / "results"
        self.sock = root / "s" / "d.sock"
        self.daemon: DaemonProcess | None = None
        self.sweep_id = ""

    def app(self):
        from heyhi_tui.app import HeyHiApp

        return HeyHiApp(str(self.project), socket_path=str(self.sock), results_root=str(self.results),
                        autostart=False, watch_files=False)


@pytest.fixture(scope="module")
def world():
    WORLD.parent.mkdir(exist_ok=True)
    with open(f"{WORLD}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one session at a time uses the fixed path
        shutil.rmtree(WORLD, ignore_errors=True)
        w = World(WORLD)
        write_project(w.project)
        try:
            w.daemon = DaemonProcess.start(w.sock, hello_timeout=5, stderr_dir=WORLD)
            with Client(str(w.sock)) as c:
                plan = c.request(P.PlanSweep(str(w.project), str(w.results), str(w.project / CONFIG),
                                             ["lr=[0.1,0.3,0.6]", "seed=[0,1]", "num_steps=6"], record=True))
                assert plan.ok, plan
                w.sweep_id = c.request(P.LaunchSweep(sweep_dir=plan.sweep_dir)).sweep_id
                wait_for(lambda: not c.request(P.SweepStatus(sweep=w.sweep_id)).sweeps[0].active, 60,
                         "the sweep to end", interval=0.1)
                info = c.request(P.SweepStatus(sweep=w.sweep_id)).sweeps[0]
                assert info.counts["completed"] == 6, info
            yield w
        finally:
            if w.daemon is not None:
                w.daemon.stop()
            shutil.rmtree(WORLD, ignore_errors=True)


async def _settled(pilot, cond, what: str) -> None:
    await until(pilot, cond, 30, what)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_sweeps_view_snapshot(snap_compare, world, size, state_home):
    app = world.app()

    async def ready(pilot):
        await until(pilot, lambda: app.link_state.connected, 30, "the daemon")
        await pilot.press("3")
        await _settled(pilot, lambda: isinstance(app.screen, SweepsScreen) and app.screen.sweeps
                       and app.screen.query_one("#sweeps-table").row_count == 1, "the sweeps")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size, tab", [pytest.param((80, 24), "t", id="80x24-report"),
                                       pytest.param((160, 48), "v", id="160x48-charts")])
def test_sweep_snapshot(snap_compare, world, size, tab, state_home):
    app = world.app()

    async def ready(pilot):
        await until(pilot, lambda: app.link_state.connected, 30, "the daemon")
        app.show_sweep(world.sweep_id)
        await _settled(pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.detail is not None, "it")
        await pilot.press(tab)
        await _settled(pilot, lambda: app.screen.query_one("#sweep-report").row_count == 3
                       and len(app.screen.query("Sparkline")) == 3, "the report and its charts")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_editor_with_a_plan_snapshot(snap_compare, world, size, state_home):
    app = world.app()

    async def ready(pilot):
        await until(pilot, lambda: app.link_state.connected, 30, "the daemon")
        app.open_launch(str(world.project / CONFIG), ["lr=[0.1,0.2]", "seed=[0,1]", "num_steps=6"])
        await _settled(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.plan is not None
                       and app.screen.schema is not None and not app.screen.validating
                       and app.screen.query_one(FieldDocs).key, "the plan, and the docs of a key")
        for line in app.screen.query(Input):
            line.cursor_blink = False  # the cursor shown, whenever the picture is taken
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)
