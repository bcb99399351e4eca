"""Shared helpers of the benchmarks: timing whole processes side by side, medians, verdicts.

Every comparison is interleaved (A, B, A, B, ... with the order rotated each round) so that a
machine that slows down or speeds up during the run affects both sides alike; figures are medians.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
VENV_BIN = Path(sys.executable).parent
SITE_PACKAGES = Path(next(p for p in sys.path if p.endswith("site-packages")))


def compile_bytecode(paths: Sequence[Path | str]) -> None:
    """Write .pyc files for ``paths`` (compileall writes them even under PYTHONDONTWRITEBYTECODE=1,
    which otherwise makes every process recompile what has no .pyc yet)."""
    existing = [str(p) for p in paths if Path(p).exists()]
    subprocess.run([PYTHON, "-m", "compileall", "-q", "-j", "0", *existing],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def run_once(cmd: Sequence[str], *, cwd: Path | str | None = None, env: Mapping[str, str] | None = None,
             check: bool = True) -> float:
    """Wall time in seconds of one whole process (output discarded)."""
    t = time.perf_counter()
    p = subprocess.run(list(cmd), cwd=cwd, env=dict(env) if env is not None else None,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    dt = time.perf_counter() - t
    if check and p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr.decode(errors='replace')}")
    return dt


def interleaved(fns: Mapping[str, Callable[[int], float]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Call every ``fn(i)`` once per round, order rotated each round; returns the times of each.

    ``fn`` gets the call's index (for values that must change every call) and returns seconds.
    """
    names = list(fns)
    for w in range(warmup):
        for n in names:
            fns[n](-1 - w)
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            out[n].append(fns[n](r))
    return out


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def ms(seconds: float) -> str:
    """Milliseconds, with a precision that suits the size."""
    v = seconds * 1e3
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 10:
        return f"{v:.1f} ms"
    if v >= 0.1:
        return f"{v:.2f} ms"
    return f"{v * 1e3:.1f} us"


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def machine_note() -> str:
    return (f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}, "
            f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!s})")


def importtime_top(cmd: Sequence[str], *, cwd=None, env=None) -> list[tuple[float, float, str]]:
    """Run ``cmd`` (a python command: [python, ...]) under ``-X importtime``; returns every
    imported module as (self ms, cumulative ms, module as indented by importtime)."""
    full = [cmd[0], "-X", "importtime", *cmd[1:]]
    p = subprocess.run(full, cwd=cwd, env=dict(env) if env is not None else None,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    return parse_importtime(p.stderr.decode(errors="replace"))


def parse_importtime(text: str) -> list[tuple[float, float, str]]:
    """The ``import time:`` lines of ``text`` as (self ms, cumulative ms, module)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3:
            continue
        try:
            self_us, cum_us = int(parts[0]), int(parts[1])
        except ValueError:
            continue
        rows.append((self_us / 1e3, cum_us / 1e3, parts[2].rstrip()))
    return rows


def importtime_summary(rows: list[tuple[float, float, str]], top: int = 12) -> list[str]:
    """Lines: total import self time, the top modules by self time, the top-level packages by sum."""
    total = sum(r[0] for r in rows)
    by_pkg: dict[str, float] = {}
    for s, _c, name in rows:
        pkg = name.strip().split(".")[0]
        by_pkg[pkg] = by_pkg.get(pkg, 0.0) + s
    lines = [f"imports: {len(rows)} modules, {total:.1f} ms self time in all"]
    lines.append("  by top-level package (self ms): " + ", ".join(
        f"{k} {v:.1f}" for k, v in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:top]))
    lines.append("  slowest modules (self ms / cumulative ms):")
    for s, c, name in sorted(rows, key=lambda r: -r[0])[:top]:
        lines.append(f"    {s:7.2f} {c:8.2f}  {name.strip()}")
    return lines
