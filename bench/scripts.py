"""A plain script as a task: deriving the schema of a 20-flag argparse script (issue 16).

Whole processes, medians of interleaved runs:
- ``python train.py --help``: what the script itself costs to start and describe its flags (the floor);
- ``heyhi run train.py --print-flat``, derivation cold (the script's cache entry removed before each
  run: a subprocess imports the script up to ``parse_args``);
- the same, cached (the steady state: the script and what it imported unchanged);
- ``heyhi run -c conf/c02_sup_train/sl.prototxt --print-flat`` on the demo project: a schema task's
  compose, the comparison of the target. Both projects hold the same one-line ``pyproject.toml``
  (a script's project is found by it; the demo's copy gets one so both read the same settings).

Target: the cached script task takes at most 1.2x the schema task's compose. The script's folder and
the cache live in a temporary folder (``--keep`` keeps it); bytecode is written first.

    .venv/bin/python bench/scripts.py [--runs N]

Exit status 0 even when a target is missed (the line says MISSED).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    PYTHON, REPO, SITE_PACKAGES, VENV_BIN, compile_bytecode, interleaved, machine_note, median, ms, run_once,
    verdict,
)

TARGET = 1.2  # cached script task / schema task compose, at most

SCRIPT = '''\
"""A 20-flag training script (the shape of a typical research trainer)."""
import argparse

p = argparse.ArgumentParser(description="train a model")
p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
p.add_argument("--batch-size", type=int, default=64, help="batch size")
p.add_argument("--epochs", type=int, default=10, help="epochs")
p.add_argument("--seed", type=int, default=0, help="seed")
p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default="adam", help="optimizer")
p.add_argument("--momentum", type=float, default=0.9, help="momentum")
p.add_argument("--weight-decay", type=float, default=0.0, help="weight decay")
p.add_argument("--dropout", type=float, default=0.1, help="dropout")
p.add_argument("--hidden", type=int, nargs="+", default=[256, 256], help="hidden sizes")
p.add_argument("--activation", choices=["relu", "gelu", "tanh"], default="relu", help="activation")
p.add_argument("--cuda", action="store_true", help="use CUDA")
p.add_argument("--amp", action="store_true", help="mixed precision")
p.add_argument("--log-interval", type=int, default=10, help="log every N steps")
p.add_argument("--save-model", action="store_true", help="save the model")
p.add_argument("--data-dir", default="./data", help="data folder")
p.add_argument("--num-workers", type=int, default=4, help="loader workers")
p.add_argument("--warmup", type=int, default=100, help="warmup steps")
p.add_argument("--clip", type=float, default=1.0, help="gradient clip")
p.add_argument("--label-smoothing", type=float, default=0.0, help="label smoothing")
p.add_argument("--tags", nargs="*", default=[], help="run tags")
args = p.parse_args()
print(vars(args))
'''


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    compile_bytecode([REPO / "shared" / "heyhi", SITE_PACKAGES])
    tmp = Path(tempfile.mkdtemp(prefix="hh-bench-scripts-"))
    try:
        lab = tmp / "lab"
        lab.mkdir()
        (lab / "pyproject.toml").write_text('[project]\nname = "lab"\n')
        (lab / "train.py").write_text(SCRIPT)
        demo = tmp / "demo"
        shutil.copytree(REPO / "conf", demo / "conf")
        shutil.copy(REPO / "run.py", demo / "run.py")
        (demo / "pyproject.toml").write_text('[project]\nname = "demo"\n')  # the same project shape as lab/
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"), HEYHI_SOCKET=str(tmp / "none.sock"),
                   HEYHI_STATE_DIR=str(tmp / "state"), HH_EXP_DIR=str(tmp / "results"))
        heyhi = str(VENV_BIN / "heyhi")
        scripts_cache = tmp / "cache" / "heyhi" / "scripts"

        def cold(_i: int) -> float:
            shutil.rmtree(scripts_cache, ignore_errors=True)
            return run_once([heyhi, "run", "train.py", "--print-flat"], cwd=lab, env=env)

        cases = {
            "python train.py --help": lambda _i: run_once([PYTHON, "train.py", "--help"], cwd=lab, env=env),
            "script task, cold": cold,
            "script task, cached": lambda _i: run_once([heyhi, "run", "train.py", "--print-flat"], cwd=lab, env=env),
            "schema task compose": lambda _i: run_once(
                [heyhi, "run", "-c", "conf/c02_sup_train/sl.prototxt", "--print-flat"], cwd=demo, env=env),
        }
        times = {k: median(v) for k, v in interleaved(cases, a.runs).items()}
        print(f"deriving a 20-flag argparse script's schema, median of {a.runs} {machine_note()}:")
        for k, t in times.items():
            print(f"  {k:26s} {ms(t):>9s}")
        ratio = times["script task, cached"] / times["schema task compose"]
        print(f"cached script task / schema task compose: {ratio:.2f}x   target <= {TARGET}x: {verdict(ratio <= TARGET)}")
        print(f"cold derivation / python train.py --help: "
              f"{times['script task, cold'] / times['python train.py --help']:.2f}x (no target: the subprocess's cost)")
    finally:
        if a.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
