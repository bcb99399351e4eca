"""The sweep record: points and the layout that rebuilds them, where a sweep lives, ``sweep.json`` and
``points.jsonl``, finding a sweep by reference.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from heyhi.errors import SweepError, ConfigError
from heyhi.runs import formats as F
from heyhi.sweep.spec import Axis, POINTS_FILE, SPEC_FILE, SWEEPS_DIR, SweepSpec, load_sweep_file
from heyhi.config.project import Project
from heyhi.runs.outdir import config_folder_tag, overrides_tags



class Point:
    """One run of a sweep: its override strings, its folder, and what the axes set."""

    __slots__ = ("overrides", "dir", "assigned", "trial")

    def __init__(self, overrides: list[str], dir: str, assigned: tuple, trial: int | None = None):
        self.overrides = overrides
        self.dir = dir
        self.assigned = assigned  # the override strings the axes contributed (rows: flattened)
        self.trial = trial

    @property
    def params(self) -> dict[str, str]:
        return dict(s.split("=", 1) for s in self.assigned)

    def describe(self) -> str:
        return " ".join(self.assigned) or "(no swept keys)"

    def to_json(self) -> dict:
        d = {"dir": self.dir, "overrides": self.overrides, "params": self.params}
        if self.trial is not None:
            d["trial"] = self.trial
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Point":
        params = d.get("params") or {}
        return cls(list(d["overrides"]), d["dir"], tuple(f"{k}={v}" for k, v in params.items()), d.get("trial"))


@dataclass
class Layout:
    """How points are built: the template (fixed strings and axis slots), the axes, and the
    dimensions of the grid (each a list of axis indices: one axis, or a zipped group)."""

    template: list  # str (a fixed override) or int (an axis index)
    axes: list[Axis]
    dims: list[list[int]]  # grid dimensions (enumerated axes)
    sampled: list[int]  # sampled axes (random trials / adaptive)
    base_dir: str  # <results root>/p/<config folder>/<config>

    def to_json(self) -> dict:
        return {"template": self.template, "axes": [a.to_json() for a in self.axes], "dims": self.dims,
                "sampled": self.sampled, "base_dir": self.base_dir}

    @classmethod
    def from_json(cls, d: dict) -> "Layout":
        return cls(d["template"], [Axis.from_json(a) for a in d["axes"]], d["dims"], d["sampled"], d["base_dir"])

    # ---- building points ----------------------------------------------------------------------
    def _dim_choices(self, dim: list[int]) -> list[tuple]:
        """Each choice of a dimension: a tuple of (template position, payload) for its axes."""
        pos = {a: i for i, a in enumerate(self.template) if isinstance(a, int)}
        cols = []
        for ai in dim:
            ax = self.axes[ai]
            if ax.kind == "rows":
                cols.append([(pos[ai], row) for row in ax.values])
            else:
                cols.append([(pos[ai], ax.override(v)) for v in ax.values])
        return [tuple(c) for c in zip(*cols)]

    def points(self, trials: list[dict[int, str]] | None = None, trial_numbers: list[int] | None = None,
               seen: set | None = None) -> tuple[list[Point], int]:
        """Every point (grid x trials), in order; duplicates (same folder) dropped and counted."""
        dims = [self._dim_choices(d) for d in self.dims]
        tpos = {a: i for i, a in enumerate(self.template) if isinstance(a, int)}
        if trials is not None:
            nums = trial_numbers or list(range(len(trials)))
            tdim = [tuple((tpos[ai], self.axes[ai].override(vals[ai])) for ai in self.sampled) + ((-1, n),)
                    for vals, n in zip(trials, nums)]
            dims.insert(self._trial_dim_position(), tdim)
        base = [t if isinstance(t, str) else None for t in self.template]
        rows = any(self.axes[a].kind == "rows" for d in self.dims for a in d)
        prefix = self.base_dir + "/"
        out: list[Point] = []
        seen = set() if seen is None else seen
        dup = 0
        for combo in itertools.product(*dims):
            cur = base.copy()
            assigned: list[str] = []
            trial = None
            for choice in combo:
                for p, s in choice:
                    if p < 0:
                        trial = s
                        continue
                    cur[p] = s
                    if isinstance(s, tuple):
                        assigned.extend(s)
                    else:
                        assigned.append(s)
            if rows:
                ov: list[str] = []
                for x in cur:
                    if isinstance(x, tuple):
                        ov.extend(x)
                    else:
                        ov.append(x)
            else:
                ov = cur
            tag, h = overrides_tags(ov)
            d = f"{prefix}{tag}_{h}"
            if d in seen:
                dup += 1
                continue
            seen.add(d)
            out.append(Point(ov, d, tuple(assigned), trial))
        return out, dup

    def _trial_dim_position(self) -> int:
        """Where the trials dimension goes among the grid dimensions: at its first sampled token."""
        order = {a: i for i, a in enumerate(self.template) if isinstance(a, int)}
        first = min(order[a] for a in self.sampled) if self.sampled else 0
        return sum(1 for d in self.dims if min(order[a] for a in d) < first)

    def count(self, n_trials: int | None) -> int:
        n = 1
        for d in self.dims:
            n *= len(self.axes[d[0]].values)
        return n * (n_trials or 1)

    def trial_points(self, params: dict[str, str], trial: int | None = None) -> list[Point]:
        """The points of one trial of an adaptive search: its sampled values x the grid axes."""
        vals = {}
        for ai in self.sampled:
            vals[ai] = params[self.axes[ai].key]
        pts, _ = self.points([vals], [trial])
        return pts



# ---- names and records ---------------------------------------------------------------------------


def sweep_dir_for(results_root: Path, config: Path, conf_dir: Path, hash_tokens: Sequence[str]) -> Path:
    """``<root>/sweeps/<config folder>/<config>/<tag>_<hash>`` (the tag made path-safe)."""
    tag, h = overrides_tags(list(hash_tokens))
    tag = re.sub(r"[^A-Za-z0-9._@=+,-]", "_", re.sub(r"[\[\]()\s\"']", "", tag))[:100] or "default"
    cfg = Path(config)
    return Path(results_root) / SWEEPS_DIR / config_folder_tag(cfg, conf_dir) / cfg.name.rsplit(".", 1)[0] / f"{tag}_{h}"


def sweep_id(sweep_dir: Path | str) -> str:
    return hashlib.md5(str(Path(sweep_dir).absolute()).encode()).hexdigest()[:10]


def point_line(p: "Point") -> str:
    """One line of ``points.jsonl``: the point, with its record format."""
    return json.dumps(F.stamp(p.to_json(), F.POINTS)) + "\n"


def _check_points(path: Path) -> None:
    """``NewerFormat`` when a line of ``points.jsonl`` is a newer HeyHi's (before it is written over)."""
    try:
        with open(path) as fh:
            for line in fh:
                try:
                    F.check(path, json.loads(line), F.POINTS)
                except ValueError:
                    continue
    except FileNotFoundError:
        pass


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


class Record:
    """A sweep record read back from its folder."""

    def __init__(self, sweep_dir: Path | str):
        self.dir = Path(sweep_dir)
        data = read_json(self.dir / SPEC_FILE)
        if not data:
            raise SweepError(f"{self.dir}: not a sweep record (no readable {SPEC_FILE})")
        self.data = F.check(self.dir / SPEC_FILE, data, F.SWEEP)
        self.spec = SweepSpec.from_json(data["spec"])
        self.layout = Layout.from_json(data["layout"])
        self.id = data.get("id") or sweep_id(self.dir)

    @property
    def project_root(self) -> str:
        return self.data["project_root"]

    @property
    def results_root(self) -> str:
        return self.data["results_root"]

    def points(self) -> list[Point]:
        out = []
        try:
            with open(self.dir / POINTS_FILE) as fh:
                for line in fh:
                    if line.strip():
                        try:
                            d = json.loads(line)
                        except ValueError:
                            continue  # a torn last line (adaptive appends)
                        F.check(self.dir / POINTS_FILE, d, F.POINTS)  # each line is a record
                        try:
                            out.append(Point.from_json(d))
                        except (ValueError, KeyError):
                            continue
        except FileNotFoundError:
            pass
        if self.spec.kind == "adaptive":
            seen: dict[str, Point] = {}
            for p in out:
                seen.setdefault(p.dir, p)
            out = list(seen.values())
        return out


def find_sweep(ref: str, results_root: Path | None = None, project=None) -> Path:
    """A sweep folder from: its path, a sweep file (its record), or an id / unique part of a
    folder name under ``<results root>/sweeps``."""
    p = Path(ref).expanduser()
    if (p / SPEC_FILE).is_file():
        return p.absolute()
    if p.is_file() and p.suffix in (".yaml", ".yml"):
        spec = load_sweep_file(p)

        proj = project or Project.find(spec.config)
        return sweep_dir_for(proj.results_root, spec.config, proj.conf_dir, spec.hash_tokens())
    if results_root is None:
        if project is None:
            try:
                project = Project.find(None)
            except ConfigError:
                project = None
        if project is not None:
            results_root = project.results_root
        elif os.environ.get("HH_EXP_DIR"):
            results_root = Path(os.environ["HH_EXP_DIR"])
        else:
            raise SweepError(f"no sweep {ref!r}: not a sweep folder, and no project or HH_EXP_DIR to search")
    hits = [d for d in all_sweeps(Path(results_root)) if ref == sweep_id(d) or sweep_id(d).startswith(ref)
            or ref in d.name]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise SweepError(f"no sweep {ref!r} under {Path(results_root) / SWEEPS_DIR} (a folder, a sweep file, an id or part of a name)")
    raise SweepError(f"sweep {ref!r} is ambiguous: " + ", ".join(sweep_id(h) + " " + h.name for h in hits[:5]))


def all_sweeps(results_root: Path) -> list[Path]:
    base = Path(results_root) / SWEEPS_DIR
    out = []
    if not base.is_dir():
        return out
    for a in sorted(base.iterdir()):
        if not a.is_dir():
            continue
        for b in sorted(a.iterdir()):
            if not b.is_dir():
                continue
            for c in sorted(b.iterdir()):
                if (c / SPEC_FILE).is_file():
                    out.append(c)
    return out


