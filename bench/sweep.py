"""Sweeps: expanding and validating a 100,000-point grid, planning it, and Hydra's basic sweeper.

1. HeyHi, in process: ``heyhi.sweep.build`` of a 5-axis grid on the demo's ``train`` config
   (``lr`` x ``batch_size`` x ``num_steps`` x ``data.noise`` x ``seed``, 10 values each = 100,000
   points): tokens parsed, every value of every axis validated against the schema, the first point
   composed whole, every point's override list and run folder name (``outdir.overrides_tags``)
   built. Nothing is launched. Target: under 10 s.
2. HeyHi: planning those 100,000 points against a results root holding 10,000 finished runs
   (the first 10,000 points, written as completed run folders beforehand): the state of every
   point (new / running / completed / crashed / lost).
3. Hydra 1.3, in process: its basic sweeper on a 1,000-point sweep of the same shape (5 axes:
   5 x 5 x 5 x 2 x 4 values) of the same config written as YAML: ``BasicSweeper.split_arguments``
   expands it and, as ``BasicSweeper.sweep`` does before launching (``validate_batch_is_legal``),
   every point's config is composed (``hydra.compose``). Compared per point with (1).
   Target: HeyHi at least 20x faster per point.

Before timing, 3 points are checked to give the same values in both tools.

    .venv/bin/python bench/sweep.py [--points-per-axis 10] [--finished 10000] [--rounds 3] [--keep]

Hydra's side takes about a minute here: each ``hydra.compose`` rebuilds its defaults tree (~60 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, machine_note, median, ms, verdict  # noqa: E402

EXPAND_TARGET_S = 10.0
PER_POINT_TARGET = 20.0  # Hydra's time per point / HeyHi's, at least

HYDRA_YAML = """\
lr: 0.5
seed: 0
batch_size: 64
num_steps: 300
optimizer: SGD
weight_decay: 0.0
checkpoint_every: 50
step_sleep_s: 0.0
tags: [demo]
lr_schedule:
  - {step: 200, factor: 0.2}
launcher:
  local: {use_local: true}
data:
  n_samples: 2000
  n_features: 20
  noise: 0.05
  seed: 0
"""


def axes(n: int) -> dict[str, list[str]]:
    return {
        "lr": [repr(round(0.001 * 1.7 ** i, 6)) for i in range(n)],
        "batch_size": [str(16 + 8 * i) for i in range(n)],
        "num_steps": [str(100 + 50 * i) for i in range(n)],
        "data.noise": [repr(round(0.01 * (i + 1), 3)) for i in range(n)],
        "seed": [str(i) for i in range(n)],
    }


def heyhi_tokens(ax: dict[str, list[str]]) -> list[str]:
    return [f"{k}=[{','.join(v)}]" for k, v in ax.items()]


def build_heyhi(project, composer, tokens: list[str]):
    from heyhi.sweep import SweepSpec, build

    spec = SweepSpec(config=project.conf_dir / "c02_sup_train" / "sl.prototxt", tokens=tokens)
    return build(spec, project, composer)


def make_finished(points, n: int) -> None:
    """The first ``n`` points as completed run folders (status + COMPLETED, as a finished run)."""
    now = time.time()
    status = json.dumps({"state": "completed", "exit_code": 0, "launcher": "local", "updated": now, "ended": now,
                         "history": [{"state": "queued", "at": now}, {"state": "completed", "at": now}]})
    for p in points[:n]:
        d = Path(p.dir)
        d.mkdir(parents=True, exist_ok=True)
        (d / "heyhi.status.json").write_text(status)
        (d / "COMPLETED").write_text("")


def hydra_points(ax_small: dict[str, list[str]]) -> list[str]:
    return [f"{k}={','.join(v)}" for k, v in ax_small.items()]


def run_hydra(conf_dir: Path, sweep_overrides: list[str]) -> tuple[float, int, list]:
    from hydra import compose, initialize_config_dir
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        compose("config", overrides=[])  # warm up: the first compose loads the config source
        t = time.perf_counter()
        parser = OverridesParser.create()
        batches = BasicSweeper.split_arguments(parser.parse_overrides(sweep_overrides), None)
        cfgs = [compose("config", overrides=list(job)) for batch in batches for job in batch]
        dt = time.perf_counter() - t
    return dt, len(cfgs), cfgs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points-per-axis", type=int, default=10)
    ap.add_argument("--finished", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="heyhi-bench-sweep-"))
    os.environ["HH_EXP_DIR"] = str(tmp / "results")
    try:
        from heyhi.config.compose import Composer
        from heyhi.config.project import Project
        from heyhi.sweep import count_states, plan_states, summary_line

        project = Project(REPO)
        composer = Composer(project)
        ax = axes(a.points_per_axis)
        tokens = heyhi_tokens(ax) + ["step_sleep_s=0"]
        n_points = a.points_per_axis ** len(ax)
        print(f"bench/sweep.py {machine_note()}")
        print(f"grid: {' x '.join(f'{k} ({len(v)})' for k, v in ax.items())} = {n_points:,} points")

        # 1. expand + validate
        t = time.perf_counter()
        sw = build_heyhi(project, composer, tokens)
        first = time.perf_counter() - t
        assert len(sw.points) == n_points, len(sw.points)
        times = []
        for _ in range(a.rounds):
            t = time.perf_counter()
            sw = build_heyhi(project, composer, tokens)
            times.append(time.perf_counter() - t)
        hh = median(times)
        per_hh = hh / n_points
        print(f"HeyHi expand + validate + name folders: {hh:.2f} s for {n_points:,} points "
              f"({per_hh * 1e6:.1f} us/point; first call {first:.2f} s with the schema load)   "
              f"target < {EXPAND_TARGET_S:g} s: {hh / EXPAND_TARGET_S:.2f}x of the budget {verdict(hh < EXPAND_TARGET_S)}")

        # 2. plan against finished runs
        t = time.perf_counter()
        make_finished(sw.points, a.finished)
        made = time.perf_counter() - t
        dirs = [p.dir for p in sw.points]
        ptimes = []
        for _ in range(a.rounds):
            t = time.perf_counter()
            states = plan_states(dirs)
            ptimes.append(time.perf_counter() - t)
        counts = count_states(states)
        assert counts["completed"] == a.finished and counts["new"] == n_points - a.finished, counts
        pl = median(ptimes)
        print(f"HeyHi plan of {n_points:,} points against {a.finished:,} finished runs: {pl:.2f} s "
              f"({pl / n_points * 1e6:.1f} us/point; writing the finished runs took {made:.1f} s): {summary_line(counts)}")

        # 3. Hydra's basic sweeper, 1,000 points of the same shape
        try:
            import hydra  # noqa: F401
        except ImportError:
            print("hydra-core is not installed: skipping the comparison (pip install -e '.[bench]')")
            return 0
        small = {"lr": ax["lr"][:5], "batch_size": ax["batch_size"][:5], "num_steps": ax["num_steps"][:5],
                 "data.noise": ax["data.noise"][:2], "seed": ax["seed"][:4]}
        hconf = tmp / "hydra_conf"
        hconf.mkdir()
        (hconf / "config.yaml").write_text(HYDRA_YAML)
        hdt, hn, cfgs = run_hydra(hconf, hydra_points(small))
        assert hn == 1000, hn
        # the same points in HeyHi agree with Hydra's configs, value by value (3 samples)
        from heyhi import load_config

        hsw = build_heyhi(project, composer, heyhi_tokens(small))
        assert len(hsw.points) == 1000
        for i in (0, 517, 999):
            p = hsw.points[i]
            cfg = load_config(REPO / "conf" / "c02_sup_train" / "sl.prototxt", p.overrides, project=REPO)
            h = cfgs[i]
            got = (cfg.train.batch_size, cfg.train.num_steps, cfg.train.seed)
            want = (h.batch_size, h.num_steps, h.seed)
            assert got == want and abs(cfg.train.lr - h.lr) < 1e-6 * h.lr and abs(cfg.train.data.noise - h.data.noise) < 1e-6, \
                (i, p.overrides, got, want)
        per_hy = hdt / hn
        ratio = per_hy / per_hh
        print(f"Hydra {hydra.__version__} basic sweeper, expand + compose {hn:,} points: {hdt:.2f} s ({ms(per_hy)}/point)")
        print(f"per point: HeyHi {per_hh * 1e6:.1f} us vs Hydra {ms(per_hy)}: HeyHi {ratio:,.0f}x faster   "
              f"target >= {PER_POINT_TARGET:g}x: {verdict(ratio >= PER_POINT_TARGET)}")
        return 0
    finally:
        if a.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
