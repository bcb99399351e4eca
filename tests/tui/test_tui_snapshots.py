"""Snapshots (pytest-textual-snapshot) of the main screens at 80x24 and 160x48, against a real daemon.

Deterministic by construction: the project is written here (so edits to conf/ or tests/project do
not move the snapshots), it, the results root and the socket live at one fixed path (job ids hash
the run folder's path; shown paths are relative to $HH_EXP_DIR or the project), the jobs are real
runs whose recorded host and times are then set to fixed values (the daemon is restarted to read
them back), and no clock is shown. A lock keeps two test sessions from sharing the path.
Update with ``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` after checking the report.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import signal
from pathlib import Path

import pytest

from daemon_util import DaemonProcess
from tui_util import PROBE_CONFIG
from waiting import wait_for

from heyhi.wire import protocol as P
from heyhi.wire.client import Client

pytestmark = pytest.mark.timeout(120)

WORLD = Path("/tmp/hh-tui-snap")
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
T0 = 1_700_000_000.0
RUNTIME = {"completed": 12.0, "crashed": 3.0, "cancelled": 45.0}


PROJECT = {
    "conf/conf.proto": """\
// The snapshot project: the demo's train task and a probe task.
syntax = "proto2";
package heyhi_snap;

message Include { optional string path = 1; optional string mount = 2; }

// How to launch the job: locally (the default when unset) or on Slurm.
message Launcher {
  message Local { optional bool use_local = 1; }
  message Slurm {
    // GPUs: below 8, or a multiple of 8 (8 per node). 0 is a CPU-only job.
    optional int32 num_gpus = 1 [default = 0];
    optional int32 minutes = 2 [default = 10];
  }
  oneof launcher { Local local = 1; Slurm slurm = 2; }
}

enum Optimizer { SGD = 0; MOMENTUM = 1; }

// A generated binary classification data set.
message DataCfg {
  optional int32 n_samples = 1 [default = 2000];
  optional int32 n_features = 2 [default = 20];
  // Label noise: the fraction of flipped labels.
  optional float noise = 3 [default = 0.05];
}

message LrStep { optional int32 step = 1; optional float factor = 2 [default = 0.1]; }

// Train a logistic regression.
message TrainTask {
  optional Launcher launcher = 1;
  optional DataCfg data = 2;
  // Learning rate.
  optional float lr = 3 [default = 0.5];
  // Seed of the weight init and the batch order.
  optional int32 seed = 4 [default = 0];
  optional int32 batch_size = 5 [default = 64];
  optional int32 num_steps = 6 [default = 300];
  optional Optimizer optimizer = 7 [default = SGD];
  repeated LrStep lr_schedule = 8;
  repeated string tags = 9;
}

// Print `lines` lines (after `release` exists), crash if asked.
message ProbeTask {
  optional Launcher launcher = 1;
  optional string release = 2;
  optional int32 lines = 3 [default = 0];
  optional bool crash = 4;
  optional string tag = 5;
}

message MetaCfg {
  repeated Include includes = 1;
  oneof task { TrainTask train = 2; ProbeTask probe = 3; }
}
""",
    "conf/c02_sup_train/sl.prototxt": """\
# Supervised training of the demo model.
includes { path: "launcher/local"; mount: "launcher" }
includes { path: "data/small"; mount: "data" }

train {
  lr: 0.5
  seed: 0
  batch_size: 64
  num_steps: 300
  lr_schedule { step: 200 factor: 0.2 }
  tags: "demo"
}
""",
    "conf/probe/probe.prototxt": 'probe {\n  tag: "probe"\n}\n',
    "conf/common/data/small.prototxt": "n_samples: 2000\nn_features: 20\nnoise: 0.05\n",
    "conf/common/launcher/local.prototxt": "local {\n  use_local: true\n}\n",
    "conf/common/launcher/slurm_cpu.prototxt": "slurm {\n  num_gpus: 0\n  minutes: 5\n}\n",
    "run.py": """\
import sys
import time
from pathlib import Path

import heyhi


def probe(cfg):
    if cfg.release:
        while not Path(cfg.release).exists():
            time.sleep(0.02)
    for i in range(1, cfg.lines + 1):
        print(i, flush=True)
    if cfg.crash:
        raise RuntimeError("probe crashed on purpose")
    print("probe done", flush=True)


def train(cfg):
    print("training", flush=True)


if __name__ == "__main__":
    heyhi.main()
""",
}


class World:
    def __init__(self, root: Path):
        self.root = root
        self.demo = self.probe = root / "proj"
        self.results = root / "results"
        self.sock = root / "s" / "d.sock"
        self.daemon: DaemonProcess | None = None
        self.jobs: dict[str, P.Launched] = {}

    def app(self, project: Path):
        from heyhi_tui.app import HeyHiApp

        return HeyHiApp(str(project), socket_path=str(self.sock), results_root=str(self.results),
                        autostart=False, watch_files=False)


def _launch(c: Client, w: World, overrides: list[str]) -> P.Launched:
    return c.request(P.Launch(project_root=str(w.probe), results_root=str(w.results),
                              config=str(w.probe / PROBE_CONFIG), overrides=overrides))


def _fix_records(run_dir: Path, k: int) -> None:
    """The recorded host and times of a finished run, set to fixed values."""
    p = run_dir / "heyhi.status.json"
    st = json.loads(p.read_text())
    start = T0 + 100 * k
    st["host"] = "node01"
    st["started"] = start
    st["ended"] = start + RUNTIME[st["state"]]
    for i, h in enumerate(st.get("history", [])):
        h["at"] = start + i
        if "host" in h:
            h["host"] = "node01"
    p.write_text(json.dumps(st, indent=1, sort_keys=True))


@pytest.fixture(scope="module")
def world():
    WORLD.parent.mkdir(exist_ok=True)
    with open(f"{WORLD}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one session at a time uses the fixed path
        release = WORLD / "never"  # the waiting probe's release: set at the end, so none outlives us
        if WORLD.exists():
            release.touch()  # a job left by an interrupted session ends
        shutil.rmtree(WORLD, ignore_errors=True)
        w = World(WORLD)
        for rel, text in PROJECT.items():
            (w.demo / rel).parent.mkdir(parents=True, exist_ok=True)
            (w.demo / rel).write_text(text)
        w.daemon = DaemonProcess.start(w.sock, hello_timeout=5, stderr_dir=WORLD)
        try:
            with Client(str(w.sock)) as c:
                w.jobs["completed"] = _launch(c, w, ["lines=30"])
                w.jobs["crashed"] = _launch(c, w, ["crash=true"])
                w.jobs["cancelled"] = _launch(c, w, [f"release={release}", "tag=waits"])
                seen: dict[str, str] = {}

                def reaches(job: P.Launched, state: str) -> bool:
                    seen[job.job_id] = c.request(P.ShowJob(job=job.job_id)).job.state
                    return seen[job.job_id] == state

                for want, job in w.jobs.items():
                    live = "running" if want == "cancelled" else want
                    try:
                        wait_for(lambda: reaches(job, live), 60)
                    except AssertionError:
                        raise AssertionError(f"the {want} job never got {live}: it is {seen[job.job_id]}") from None
                job = w.jobs["cancelled"]
                c.request(P.Cancel(job=job.job_id))
                try:
                    wait_for(lambda: reaches(job, "cancelled"), 30)
                except AssertionError:
                    raise AssertionError(f"the job was not cancelled: it is {seen[job.job_id]}") from None
            w.daemon.proc.send_signal(signal.SIGTERM)
            w.daemon.wait()
            w.daemon.stop()
            for k, state in enumerate(("completed", "crashed", "cancelled")):
                _fix_records(Path(w.jobs[state].run_dir), k)
            # The same state folder: the daemon reads its index back and the records above.
            w.daemon = DaemonProcess.start(w.sock, hello_timeout=5, stderr_dir=WORLD)
            yield w
        finally:
            release.touch()
            if w.daemon is not None:
                w.daemon.stop()
            shutil.rmtree(WORLD, ignore_errors=True)


async def _settled(pilot, cond, what: str) -> None:
    from tui_util import until

    await until(pilot, cond, 30, what)
    await pilot.wait_for_scheduled_animations()


@pytest.mark.parametrize("size", SIZES)
def test_configs_screen(snap_compare, world, size):
    app = world.app(world.demo)

    async def ready(pilot):
        await _settled(pilot, lambda: app.screen.preview.result is not None and not app.screen.preview.loading,
                       "the preview")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_launch_screen(snap_compare, world, size):
    app = world.app(world.demo)

    async def ready(pilot):
        await _settled(pilot, lambda: app.screen.files, "the listing")
        app.open_launch(str(world.demo / "conf/c02_sup_train/sl.prototxt"))
        await _settled(pilot, lambda: getattr(app.screen, "schema", None) is not None, "the launch screen")
        await pilot.press(*"lrr=0.1", "enter", *"optimizer=MOMENTUM", "enter", *"data.n")
        await _settled(pilot, lambda: app.screen.sent == ["lrr=0.1", "optimizer=MOMENTUM"]
                       and not app.screen.validating, "validation")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_jobs_screen(snap_compare, world, size):
    app = world.app(world.probe)

    async def ready(pilot):
        await pilot.press("2")
        await _settled(pilot, lambda: getattr(app.screen, "id", "") == "jobs"
                       and app.screen.query_one("#jobs-table").row_count == 3, "the jobs")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_logs_screen(snap_compare, world, size):
    app = world.app(world.probe)
    jid = world.jobs["completed"].job_id

    async def ready(pilot):
        await _settled(pilot, lambda: jid in app.jobs, "the jobs")
        app.show_logs(jid)
        await _settled(pilot, lambda: getattr(app.screen, "job_id", "") == jid and app.screen.pane.eof
                       and not app.screen.pane.running, "the whole log")

    assert snap_compare(app, terminal_size=size, run_before=ready)
