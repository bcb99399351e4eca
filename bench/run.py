"""The overhead of ``heyhi run`` over calling the same task function directly.

On a copy of the test project (tests/project, its ``probe`` task returns at once), whole processes,
interleaved, medians:

  direct:  python -c "import run; run.probe(<a trivial config object>)"
  heyhi:   heyhi run -c conf/probe/probe.prototxt --no-daemon tag=N   (N new every run, so every
           run is a new run: compose, decide, run folder, records, code snapshot, then
           ``python -m heyhi.job`` which composes again, imports run.py, calls probe, records)

and, to see where the difference goes, ``python -c pass`` and an in-between:
``import heyhi, run; run.probe(heyhi.load_config(...).probe)`` (compose + freeze, no launch).
The heyhi runs' own records (the status history's timestamps) split each run into phases.

    .venv/bin/python bench/run.py [--runs N] [--profile] [--keep]

Exit status 0 (there is no target; the figures are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    PYTHON, REPO, SITE_PACKAGES, VENV_BIN, compile_bytecode, importtime_summary, importtime_top,
    interleaved, machine_note, median, ms, parse_importtime, run_once,
)

CFG = "conf/probe/probe.prototxt"
TRIVIAL = ("from types import SimpleNamespace as N; import run; run.probe(N(ignore_term=False, marker='', "
           "crash_file='', release='', import_module='', lines=0, lines_per_s=0.0, sleep_s=0.0, crash=False, "
           "exit_code=0, tag='t'))")
COMPOSED = f"import heyhi, run; run.probe(heyhi.load_config({CFG!r}, ['tag=t']).probe)"


def run_heyhi(project: Path, env: dict, tag: str, phases: list | None) -> float:
    """One ``heyhi run``; appends its phases (seconds) to ``phases`` when given."""
    cmd = [str(VENV_BIN / "heyhi"), "run", "-c", CFG, "--no-daemon", f"tag={tag}"]
    t0 = time.time()
    p0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL)
    dt = time.perf_counter() - p0
    t_end = t0 + dt
    if p.returncode != 0 or b"probe done" not in p.stdout:
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr.decode(errors='replace')}")
    if phases is not None:
        run_dir = Path(p.stderr.decode().rsplit("heyhi: completed: ", 1)[1].strip())
        hist = {h["state"]: h["at"] for h in json.loads((run_dir / "heyhi.status.json").read_text())["history"]}
        phases.append((hist["queued"] - t0, hist["running"] - hist["queued"], hist["completed"] - hist["running"],
                       t_end - hist["completed"]))
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="runs of each command")
    ap.add_argument("--profile", action="store_true", help="also -X importtime of the heyhi run process")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    compile_bytecode([REPO / "shared", REPO / "heyhi_daemon", SITE_PACKAGES])
    tmp = Path(tempfile.mkdtemp(prefix="heyhi_bench_run_"))
    try:
        project = tmp / "project"
        shutil.copytree(REPO / "tests" / "project", project)
        env = dict(os.environ)
        env["HH_EXP_DIR"] = str(tmp / "exp")
        env["XDG_CACHE_HOME"] = str(tmp / "cache")  # HeyHi's schema cache: filled by the warm-up
        env.pop("HEYHI_RUN_DIR", None)
        print(f"run bench: test project copy {project}, HH_EXP_DIR {env['HH_EXP_DIR']}")
        print(machine_note())

        phases: list[tuple] = []
        fns = {
            "pass": lambda i: run_once([PYTHON, "-c", "pass"], env=env),
            "direct": lambda i: run_once([PYTHON, "-c", TRIVIAL], cwd=project, env=env),
            "composed": lambda i: run_once([PYTHON, "-c", COMPOSED], cwd=project, env=env),
            "heyhi": lambda i: run_heyhi(project, env, f"r{i}" if i >= 0 else f"w{-i}", phases if i >= 0 else None),
        }
        t = interleaved(fns, args.runs, warmup=2)
        base, direct, composed, hh = (median(t[k]) for k in ("pass", "direct", "composed", "heyhi"))
        print(f"\nwhole process, median of {args.runs} interleaved runs (min in brackets):")
        print(f"  python -c pass                                          {ms(base):>9}  ({ms(min(t['pass']))})")
        print(f"  direct: python -c 'import run; run.probe(trivial cfg)'  {ms(direct):>9}  ({ms(min(t['direct']))})")
        print(f"  python -c 'run.probe(heyhi.load_config(CFG).probe)'     {ms(composed):>9}  ({ms(min(t['composed']))})")
        print(f"  heyhi run -c {CFG} --no-daemon tag=N {ms(hh):>9}  ({ms(min(t['heyhi']))})")
        print(f"heyhi run overhead: heyhi {ms(hh)}, direct {ms(direct)}, difference {ms(hh - direct)}, "
              f"ratio {hh / direct:.2f}x (no target)")
        if phases:
            cols = list(zip(*phases))
            names = ["launcher: start, imports, compose, decide, snapshot, records (to 'queued')",
                     "job process: start, imports, claim (to 'running')",
                     "job: compose config_meta, freeze, import run.py, probe, records (to 'completed')",
                     "job exit + launcher noticing it (polls every 50 ms), echo logs, launcher exit"]
            print("where a heyhi run goes (medians, from the run's status history timestamps):")
            for name, col in zip(names, cols):
                print(f"  {ms(median(col)):>9}  {name}")
        if args.profile:
            tag = f"p{time.time_ns()}"
            rows = importtime_top([PYTHON, str(VENV_BIN / "heyhi"), "run", "-c", CFG, "--no-daemon", f"tag={tag}"],
                                  cwd=project, env=env)
            print("\nprofile, the heyhi run (launcher) process (-X importtime, one run):")
            for line in importtime_summary(rows):
                print("  " + line)
            # The job inherits PYTHONPROFILEIMPORTTIME; what it imports after redirecting its
            # stderr (the config, freezing, run.py) lands in the run's stderr.log.
            tag = f"q{time.time_ns()}"
            p = subprocess.run([str(VENV_BIN / "heyhi"), "run", "-c", CFG, "--no-daemon", f"tag={tag}"], cwd=project,
                               env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, text=True)
            run_dir = Path(p.stderr.rsplit("heyhi: completed: ", 1)[1].strip())
            rows = parse_importtime((run_dir / "stderr.log").read_text())
            print("\nprofile, the job process (python -m heyhi.job), imports after it redirects its output:")
            for line in importtime_summary(rows):
                print("  " + line)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
