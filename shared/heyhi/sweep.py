"""Sweeps: the grammar, expansion, validation, planning and the sweep record.

Grammar (a token's value; the key is any override key, ``I<mount>`` included):

| value | meaning |
|---|---|
| ``[a,b,c]`` | a grid axis: one run per value (on a repeated field: the field's value, not a sweep) |
| ``range(start, stop[, step])`` | a grid axis of integers, as Python's ``range`` |
| ``choice(a, b, ...)`` | a grid axis without ``--trials``; sampled with ``--trials`` (use it to sweep a repeated field: ``tags=choice([a],[b,c])``) |
| ``uniform(lo, hi)``, ``loguniform(lo, hi)`` | sampled: needs ``--trials N`` (random search) or ``search: adaptive`` |
| ``randint(lo, hi)`` | sampled integer, both ends included |
| ``@file.yaml`` / ``.json`` / ``.csv`` | a flag file (``heyhi.flagfiles``) |

Several axes make a grid (the product, first axis slowest); ``--zip a,b`` pairs the listed axes
element by element; with ``--trials N`` the sampled axes give N trials (seeded by
``--sweep-seed``, sampled values written with ``repr``) crossed with the grid axes. An axis named
``seed`` is the repeat axis that reports group over.

Each point is a list of override strings: the tokens in order with each axis replaced by its
value, so its run folder is the one ``heyhi run`` with those strings gets. Validation never
composes the config per point: the fixed overrides are composed once, each axis key is checked
once against that config (unknown keys, list indexes, types), then every distinct value of every
axis is cast once with the field's type, and the first point is composed whole.

The sweep record lives at ``<results root>/sweeps/<config folder>/<config>/<tag>_<hash>``, hashed
from the sweep tokens (plus ``--trials``, ``--sweep-seed``, ``--zip`` and the search kind):
``sweep.json`` (the spec and the layout that rebuilds points), ``points.jsonl`` (one point per
line: folder, overrides, params) and ``points.txt`` (the folders, one per line).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .config.split import SweepError, split_items  # the grammar's item splitting lives below both
from .errors import ConfigError
from .runs import formats as F

FUNCS = ("range", "choice", "uniform", "loguniform", "randint")
DISTRIBUTIONS = ("uniform", "loguniform", "randint")
KINDS = ("grid", "random", "adaptive")
GROUP_OVER = ("seed",)
SPEC_FILE = "sweep.json"
POINTS_FILE = "points.jsonl"
FOLDERS_FILE = "points.txt"
STUDY_FILE = "study.db"
SWEEPS_DIR = "sweeps"
PLAN_STATES = ("new", "running", "completed", "crashed", "lost")
_FUNC_RE = re.compile(r"([A-Za-z_]\w*)\((.*)\)\Z", re.S)
_MIN_WORDS = ("loss", "err", "perplexity", "ppl", "mse", "mae", "rmse", "nll", "cost", "regret", "time", "latency")


# ---- the grammar ------------------------------------------------------------------------------


@dataclass
class Axis:
    """One swept key. ``kind``: list, range, choice, uniform, loguniform, randint, or rows (a
    CSV / list-of-mappings flag file: ``values`` are rows, each a tuple of override strings)."""

    key: str
    kind: str
    values: list = field(default_factory=list)
    low: float | None = None
    high: float | None = None
    where: str = ""
    is_int: bool = False  # the field is an integer (sampled values are ints)
    sampled: bool = False  # drawn per trial (random/adaptive), not enumerated
    raw: str = ""  # the token as typed (key=value), for a list that turns out to be a value

    @property
    def log(self) -> bool:
        return self.kind == "loguniform"

    def to_json(self) -> dict:
        d = {"key": self.key, "kind": self.kind, "where": self.where, "is_int": self.is_int, "sampled": self.sampled}
        if self.kind in DISTRIBUTIONS:
            d.update(low=self.low, high=self.high)
        else:
            d["values"] = [list(v) for v in self.values] if self.kind == "rows" else list(self.values)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Axis":
        vals = d.get("values", [])
        if d["kind"] == "rows":
            vals = [tuple(v) for v in vals]
        return cls(d["key"], d["kind"], vals, d.get("low"), d.get("high"), d.get("where", ""),
                   d.get("is_int", False), d.get("sampled", False))

    def override(self, value: str) -> str:
        return f"{self.key}={value}"

    def sample(self, rng: random.Random) -> str:
        if self.kind == "choice":
            return rng.choice(self.values)
        if self.kind == "randint":
            return repr(rng.randint(int(self.low), int(self.high)))
        if self.kind == "loguniform":
            x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            x = rng.uniform(self.low, self.high)
        if self.is_int:
            return repr(min(int(self.high), max(int(math.ceil(self.low)), int(round(x)))))
        return repr(x)


def parse_value(key: str, value: str, where: str) -> Axis | None:
    """The axis a token's value stands for, or None for a plain value."""
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        return Axis(key, "list", split_items(v[1:-1], where), where=where, raw=f"{key}={value}")
    m = _FUNC_RE.match(v)
    if not m or m.group(1) not in FUNCS:
        return None
    fn, inner = m.group(1), m.group(2)
    args = split_items(inner, where) if inner.strip() else []
    if fn == "choice":
        if not args:
            raise SweepError(f"{where}: choice() needs at least one value")
        return Axis(key, "choice", args, where=where)
    if fn == "range":
        try:
            nums = [int(a) for a in args]
        except ValueError:
            raise SweepError(f"{where}: range() takes integers (for other values use a list [..] or uniform())") from None
        if not 1 <= len(nums) <= 3 or (len(nums) == 3 and nums[2] == 0):
            raise SweepError(f"{where}: range(start, stop[, step]) with a step that is not 0")
        vals = [str(x) for x in range(*nums)]
        if not vals:
            raise SweepError(f"{where}: range{tuple(nums)} is empty")
        return Axis(key, "range", vals, where=where)
    # distributions
    if len(args) != 2:
        raise SweepError(f"{where}: {fn}(low, high) takes two numbers, got {len(args)}")
    try:
        lo, hi = (int(a) for a in args) if fn == "randint" else (float(a) for a in args)
    except ValueError:
        what = "integers" if fn == "randint" else "numbers"
        raise SweepError(f"{where}: {fn}() takes two {what}, got {', '.join(args)}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise SweepError(f"{where}: {fn}() bounds must be finite")
    if fn == "randint" and lo > hi:
        raise SweepError(f"{where}: randint(low, high) needs low <= high")
    if fn != "randint" and not lo < hi:
        raise SweepError(f"{where}: {fn}(low, high) needs low < high")
    if fn == "loguniform" and lo <= 0:
        raise SweepError(f"{where}: loguniform(low, high) needs 0 < low")
    return Axis(key, fn, [], lo, hi, where=where, sampled=True)


def looks_like_sweep(token: str) -> bool:
    """A cheap syntactic test (no schema): does the token use the sweep grammar?"""
    if token.startswith("@"):
        return True
    _, eq, v = token.partition("=")
    if not eq:
        return False
    v = v.strip()
    if v.startswith("[") and v.endswith("]"):
        return True
    m = _FUNC_RE.match(v)
    return bool(m and m.group(1) in FUNCS)


def parse_metric(text: str | None) -> tuple[str, str, str]:
    """``NAME`` (its last value), ``NAME:max`` / ``NAME:min`` (its best), ``NAME:last:max``
    -> (name, mode, direction). Without a direction: min for loss-like names, else max."""
    if not text:
        return "", "last", "min"
    parts = text.split(":")
    name = parts[0].strip()
    if not name:
        raise SweepError(f"--metric {text!r}: expected NAME, NAME:max, NAME:min or NAME:last:max|min")
    rest = [p.strip().lower() for p in parts[1:]]
    if rest in ([], ["last"]):
        low = name.lower()
        return name, "last", "min" if any(w in low for w in _MIN_WORDS) else "max"
    if rest in (["max"], ["min"]):
        return name, rest[0], rest[0]
    if len(rest) == 2 and rest[0] == "last" and rest[1] in ("max", "min"):
        return name, "last", rest[1]
    raise SweepError(f"--metric {text!r}: expected NAME, NAME:max, NAME:min or NAME:last:max|min")


# ---- the spec --------------------------------------------------------------------------------


@dataclass
class SweepSpec:
    """What defines a sweep: the config and tokens, the search and how it is measured."""

    config: Path
    tokens: list[str]
    kind: str = "grid"
    trials: int | None = None
    sweep_seed: int = 0
    zip: list[list[str]] = field(default_factory=list)
    metric: str = ""
    metric_mode: str = "last"
    direction: str = "min"
    max_parallel: int | None = None
    sampler: str = "tpe"
    sweep_file: str | None = None
    group_over: list[str] = field(default_factory=lambda: list(GROUP_OVER))
    sweep_seed_given: bool = False

    @classmethod
    def from_run_args(cls, args) -> "SweepSpec":
        trials = _pos_int(args.trials, "--trials") if args.trials is not None else None
        seed = _int(args.sweep_seed, "--sweep-seed") if args.sweep_seed is not None else 0
        name, mode, direction = parse_metric(args.metric)
        return cls(
            config=Path(args.cfg).absolute(), tokens=[t.lstrip("-") if not t.startswith("@") else t for t in args.overrides],
            kind="random" if trials else "grid", trials=trials, sweep_seed=seed, zip=parse_zip(args.zip),
            metric=name, metric_mode=mode, direction=direction,
            max_parallel=_pos_int(args.max_parallel, "--max-parallel") if args.max_parallel else None,
            sweep_seed_given=args.sweep_seed is not None,
        )

    def hash_tokens(self) -> list[str]:
        """What names the sweep record: the tokens, then the flags that change its points."""
        out = [("@=" + t[1:]) if t.startswith("@") else t for t in self.tokens]
        out = [t if "=" in t else f"{t}=" for t in out]
        if self.trials:
            out.append(f"trials={self.trials}")
        if self.sweep_seed_given or self.trials:
            out.append(f"sweep_seed={self.sweep_seed}")
        if self.zip:
            out.append("zip=" + ";".join(",".join(g) for g in self.zip))
        if self.kind == "adaptive":
            out.append("search=adaptive")
            out.append(f"metric={self.metric}:{self.metric_mode}:{self.direction}")
        return out

    def to_json(self) -> dict:
        return {"config": str(self.config), "tokens": self.tokens, "kind": self.kind, "trials": self.trials,
                "sweep_seed": self.sweep_seed, "zip": self.zip, "metric": self.metric, "metric_mode": self.metric_mode,
                "direction": self.direction, "max_parallel": self.max_parallel, "sampler": self.sampler,
                "sweep_file": self.sweep_file, "group_over": self.group_over, "sweep_seed_given": self.sweep_seed_given}

    @classmethod
    def from_json(cls, d: dict) -> "SweepSpec":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["config"] = Path(known["config"])
        return cls(**known)


def parse_zip(text: str | None) -> list[list[str]]:
    if not text:
        return []
    groups = []
    for g in text.split(";"):
        keys = [k.strip().lstrip("-") for k in g.split(",") if k.strip()]
        if len(keys) < 2:
            raise SweepError(f"--zip {text!r}: name at least two swept keys, comma-separated (a,b)")
        groups.append(keys)
    return groups


def _int(v, flag: str) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        raise SweepError(f"{flag} {v!r}: expected an integer") from None


def _pos_int(v, flag: str) -> int:
    n = _int(v, flag)
    if n < 1:
        raise SweepError(f"{flag} {v!r}: expected a positive integer")
    return n


SWEEP_FILE_KEYS = ("config", "overrides", "space", "search", "sampler", "metric", "direction", "budget",
                   "trials", "parallelism", "seed", "zip", "group_over")


def load_sweep_file(path: Path, extra_tokens: Sequence[str] = (), project_root: Path | None = None) -> SweepSpec:
    """A sweep file (YAML, kept in conf/): see docs/sweeps.md and conf/sweeps/lr_search.yaml."""
    import yaml

    from . import flagfiles
    from .yamljson import _compose

    path = Path(path)
    where = str(path)
    from .config.source import read_text

    text = read_text(path, "sweep file")  # a regular file, bounded, never blocks (a FIFO is refused)
    root = _compose(text, where, "YAML")
    if not isinstance(root, yaml.MappingNode):
        raise SweepError(f"{where}: a sweep file is a mapping (config, overrides, space, search, metric, ...)")
    data: dict[str, Any] = {}
    nodes: dict[str, Any] = {}
    for k, v in root.value:
        key = str(k.value)
        if key not in SWEEP_FILE_KEYS:
            from .suggest import did_you_mean

            raise SweepError(f"{where}:{k.start_mark.line + 1}: unknown key {key!r}{did_you_mean(key, list(SWEEP_FILE_KEYS))}")
        nodes[key] = v
    plain = yaml.safe_load(text) or {}
    for key in nodes:
        data[key] = plain.get(key)
    if not data.get("config"):
        raise SweepError(f"{where}: 'config' is required (the base config, relative to conf/)")
    cfg = Path(str(data["config"]))
    if not cfg.is_absolute():
        proot = project_root or _project_root_above(path)
        cands = [proot / "conf" / cfg, proot / cfg, path.parent / cfg] if proot else [path.parent / cfg]
        cfg = next((c for c in cands if c.is_file()), cands[0])
    tokens: list[str] = []
    for section in ("overrides", "space"):
        node = nodes.get(section)
        if node is None:
            continue
        if isinstance(node, yaml.SequenceNode) and section == "overrides":
            for item in node.value:
                if not isinstance(item, yaml.ScalarNode) or "=" not in str(item.value):
                    raise SweepError(f"{where}:{item.start_mark.line + 1}: 'overrides' is a list of key=value strings or a mapping")
                tokens.append(str(item.value).lstrip("-"))
        elif isinstance(node, yaml.MappingNode):
            for e in flagfiles._mapping(node, "", where):
                tokens.append(e.token)
        else:
            raise SweepError(f"{where}:{node.start_mark.line + 1}: '{section}' is a mapping of key: value")
    kind = str(data.get("search") or "grid")
    if kind not in KINDS:
        raise SweepError(f"{where}: search {kind!r}: expected one of {', '.join(KINDS)}")
    budget = data.get("budget", data.get("trials"))
    trials = _pos_int(budget, f"{where}: budget") if budget is not None else None
    if kind in ("random", "adaptive") and not trials:
        raise SweepError(f"{where}: search {kind} needs a budget (the number of trials)")
    if kind == "grid" and trials:
        kind = "random"
    name, mode, direction = parse_metric(str(data["metric"]) if data.get("metric") else None)
    if data.get("direction"):
        direction = str(data["direction"]).lower()
        if direction in ("minimize", "maximize"):
            direction = direction[:3]
        if direction not in ("min", "max"):
            raise SweepError(f"{where}: direction {data['direction']!r}: expected min or max")
    if kind == "adaptive" and not name:
        raise SweepError(f"{where}: search adaptive needs a metric (NAME, NAME:min or NAME:max)")
    zip_ = data.get("zip") or []
    if zip_ and isinstance(zip_[0], str):
        zip_ = [zip_]
    sampler = str(data.get("sampler") or "tpe").lower()
    if sampler not in ("tpe", "random", "cmaes", "qmc"):
        raise SweepError(f"{where}: sampler {sampler!r}: expected tpe, random, cmaes or qmc")
    par = data.get("parallelism")
    return SweepSpec(
        config=cfg.absolute(), tokens=tokens + [t if t.startswith("@") else t.lstrip("-") for t in extra_tokens],
        kind=kind, trials=trials, sweep_seed=_int(data.get("seed", 0), f"{where}: seed"),
        zip=[[str(k) for k in g] for g in zip_], metric=name, metric_mode=mode, direction=direction,
        max_parallel=_pos_int(par, f"{where}: parallelism") if par is not None else None, sampler=sampler,
        sweep_file=str(path.absolute()), group_over=[str(g) for g in (data.get("group_over") or GROUP_OVER)],
        sweep_seed_given="seed" in data,
    )


def _project_root_above(path: Path) -> Path | None:
    for d in Path(path).absolute().parents:
        if (d / "conf").is_dir():
            return d
    return None


# ---- validation ------------------------------------------------------------------------------


@dataclass
class Leaf:
    f: Any  # FieldSpec
    kind: str  # the value's kind: a scalar kind, "enum", "message", "include"
    whole_list: bool = False  # a repeated field named without an index: a list is its value


def leaf_of(mtype, key: str) -> Leaf | None:
    """The field a dotted key names, through messages, list indexes and map keys (no values)."""
    parts = key.split(".")
    cur = mtype
    i = 0
    n = len(parts)
    while i < n:
        f = cur.fields.get(parts[i])
        if f is None:
            return None
        last = i == n - 1
        if f.kind == "map":
            if last:
                return Leaf(f, "map")
            if i + 1 == n - 1:
                return Leaf(f, f.map_value_kind)
            if f.map_value_kind != "message":
                return None
            cur, i = f.message, i + 2
            continue
        if f.repeated:
            if last:
                return Leaf(f, f.kind, whole_list=True)
            if i + 1 == n - 1:
                return Leaf(f, f.kind)
            if f.kind != "message":
                return None
            cur, i = f.message, i + 2
            continue
        if last:
            return Leaf(f, f.kind)
        if f.kind != "message":
            return None
        cur, i = f.message, i + 1
    return None


_NUMERIC = None


def _numeric_kinds():
    global _NUMERIC
    if _NUMERIC is None:
        from .schema.model import FLOAT_KINDS, INT_KINDS

        _NUMERIC = (INT_KINDS, FLOAT_KINDS)
    return _NUMERIC


class Checker:
    """Validates override strings against one base config (the fixed overrides composed once).

    The first value of each key is applied to a copy of the base config (unknown keys, indexes,
    types: the same errors as ``heyhi run``); later values of a scalar key are only cast with the
    field's type. Each distinct (key, value) is checked once."""

    def __init__(self, composer, config: Path, fixed: list[str], where_of: dict[str, str] | None = None):
        self.comp = composer
        self.config = Path(config)
        self.fixed = list(fixed)
        self.where_of = where_of or {}
        whole = [f for f in fixed if self._is_whole_list_token(f)]
        try:
            self.base = composer.compose(self.config, [f for f in fixed if f not in whole])
        except ConfigError as e:
            raise self._located(e) from None
        self.task = self.base.task
        self.task_type = self.base.task_msg.type
        self.prefix = self.task + "."
        self.leaves: dict[str, Leaf | None] = {}
        self.ok: set[str] = set()
        self.keys_done: set[str] = set()
        for f in whole:
            self.check(f, self.where_of.get(f, f"override {f!r}"))

    def _is_whole_list_token(self, raw: str) -> bool:
        key, _, v = raw.partition("=")
        if not (v.startswith("[") and v.endswith("]")) or key.startswith("I"):
            return False
        leaf = leaf_of(self.comp.schema.root, self.comp.task_of(self.config) + "." + key)
        return bool(leaf and leaf.whole_list)

    def _located(self, e: ConfigError) -> SweepError:
        for raw, where in self.where_of.items():
            if e.where == f"override {raw!r}":
                return SweepError(f"{where}: {e.message}")
        return SweepError(str(e))

    def leaf(self, key: str) -> Leaf | None:
        if key not in self.leaves:
            self.leaves[key] = None if key.startswith("I") else leaf_of(self.task_type, key)
        return self.leaves[key]

    def check(self, raw: str, where: str) -> None:
        """Raise ConfigError (``where``: the token) if ``raw`` is not a valid override here."""
        if raw in self.ok:
            return
        key, _, value = raw.partition("=")
        from .overrides import cast_string, parse_override

        if key.startswith("I"):
            try:
                self.comp.compose(self.config, self.fixed + [raw])
            except ConfigError as e:
                raise ConfigError(e.message, where) from None
            self.ok.add(raw)
            return
        leaf = self.leaf(key)
        if leaf is not None and leaf.whole_list and value.startswith("[") and value.endswith("]"):
            if leaf.kind in ("message", "map"):
                raise ConfigError(f"{key!r} is {leaf.f.type_label()}: set its elements' fields ({key}.0.FIELD=...)", where)
            for item in split_items(value[1:-1], where):
                cast_string(leaf.f, leaf.kind, item, where, key)
            self.ok.add(raw)
            return
        first = key not in self.keys_done
        if (first or leaf is None or leaf.whole_list or value in ("NULL", "SELECT")
                or leaf.kind in ("message", "map")):
            from .overrides import apply_scalar

            o = parse_override(raw)
            m = self.base.meta.copy()
            try:
                apply_scalar(m, self.prefix + o.key, o, self.prefix)
            except ConfigError as e:
                raise ConfigError(e.message, where) from None
        else:
            cast_string(leaf.f, leaf.kind, value, where, key)
        self.ok.add(raw)
        self.keys_done.add(key)

    def check_distribution(self, axis: Axis) -> None:
        leaf = self.leaf(axis.key)
        ints, floats = _numeric_kinds()
        if axis.key.startswith("I") or leaf is None:
            self.check(axis.override(repr(axis.low)), axis.where)  # names the unknown key
            return
        if leaf.whole_list:
            raise ConfigError(f"{axis.key!r} is {leaf.f.type_label()}: sample one element ({axis.key}.0=...) "
                              f"or its whole value with choice([..],[..])", axis.where)
        if leaf.kind not in ints and leaf.kind not in floats:
            raise ConfigError(f"{axis.key!r} is {leaf.f.type_label()}: {axis.kind}() needs a number field "
                              f"(use choice(...) for other values)", axis.where)
        axis.is_int = leaf.kind in ints
        if axis.is_int and axis.kind != "randint" and math.ceil(axis.low) > math.floor(axis.high):
            raise ConfigError(f"{axis.kind}({axis.low:g}, {axis.high:g}) holds no integer for {axis.key!r}", axis.where)
        lo = int(math.ceil(axis.low)) if axis.is_int else axis.low
        self.check(axis.override(repr(lo)), axis.where)


# ---- the sweep ---------------------------------------------------------------------------------


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
        from .outdir import overrides_tags

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


class Sweep:
    """A sweep built from a spec: validated, its points expanded, its record folder named."""

    def __init__(self, spec: SweepSpec, project, composer=None):
        self.spec = spec
        self.project = project
        self.composer = composer
        self.layout: Layout | None = None
        self.points: list[Point] = []
        self.duplicates = 0
        self.where_of: dict[str, str] = {}
        self.checker: Checker | None = None

    # ---- building ----------------------------------------------------------------------------
    @property
    def results_root(self) -> Path:
        return Path(self.project.results_root)

    def base_dir(self) -> str:
        from .outdir import config_folder_tag

        cfg = self.spec.config
        return f"{self.results_root}/p/{config_folder_tag(cfg, self.project.conf_dir)}/{cfg.name.rsplit('.', 1)[0]}"

    @property
    def sweep_dir(self) -> Path:
        return sweep_dir_for(self.results_root, self.spec.config, self.project.conf_dir, self.spec.hash_tokens())

    def parse(self) -> None:
        """Tokens -> template (fixed strings and axes); flag files read; no schema yet."""
        from . import flagfiles

        template: list = []
        axes: list[Axis] = []
        for tok in self.spec.tokens:
            if tok.startswith("@"):
                ff = flagfiles.load(tok[1:])
                if ff.rows is not None:
                    where = f"{tok[1:]}"
                    rows = [tuple(e.token for e in row) for row in ff.rows]
                    for row in ff.rows:
                        for e in row:
                            self.where_of.setdefault(e.token, e.where)
                    axes.append(Axis(f"@{tok[1:]}", "rows", rows, where=where))
                    template.append(len(axes) - 1)
                    continue
                items = [(e.token, e.where) for e in ff.entries]
            else:
                items = [(tok.lstrip("-"), f"override {tok!r}")]
            for raw, where in items:
                if "=" not in raw:
                    raise SweepError(f"{where}: expected key=value")
                key, _, value = raw.partition("=")
                if not key:
                    raise SweepError(f"{where}: empty key")
                ax = parse_value(key, value, where)
                if ax is None:
                    template.append(raw)
                    self.where_of.setdefault(raw, where)
                else:
                    axes.append(ax)
                    template.append(len(axes) - 1)
        self._template, self._axes = template, axes

    def resolve(self) -> None:
        """With the schema: lists on repeated fields become values, choices become sampled under
        --trials/adaptive, zip groups are formed, and every value is validated."""
        from .compose import composer_for

        spec = self.spec
        comp = self.composer or composer_for(self.project)
        self.composer = comp
        root = comp.schema.root
        task = comp.task_of(spec.config)
        template, axes = self._template, self._axes
        keep: list[Axis] = []
        remap: dict[int, int] = {}
        new_template: list = []
        for t in template:
            if isinstance(t, str):
                new_template.append(t)
                continue
            ax = axes[t]
            leaf = None if ax.key.startswith(("I", "@")) else leaf_of(root, f"{task}.{ax.key}")
            if ax.kind == "list" and leaf is not None and leaf.whole_list:
                raw = ax.raw or f"{ax.key}=[{','.join(_requote(v) for v in ax.values)}]"
                new_template.append(raw)
                self.where_of.setdefault(raw, ax.where)
                continue
            if ax.kind == "choice":
                ax.sampled = spec.kind in ("random", "adaptive")
            if ax.kind in DISTRIBUTIONS and spec.kind == "grid":
                raise SweepError(f"{ax.where}: {ax.kind}() is a distribution: give --trials N (random search), or use "
                                 f"a sweep file with search: random or adaptive")
            if ax.kind in ("list", "range") and not ax.values:
                raise SweepError(f"{ax.where}: an empty list sweeps nothing")
            remap[t] = len(keep)
            keep.append(ax)
            new_template.append(remap[t])
        keys = [a.key for a in keep]
        dup = {k for k in keys if keys.count(k) > 1 and not k.startswith("@")}
        if dup:
            k = sorted(dup)[0]
            raise SweepError(f"{k!r} is swept twice ({' and '.join(a.where for a in keep if a.key == k)})")
        sampled = [i for i, a in enumerate(keep) if a.sampled]
        if spec.kind == "random" and not sampled:
            raise SweepError("--trials N samples distributions (uniform, loguniform, randint, choice): none given")
        if spec.kind == "adaptive" and not sampled:
            raise SweepError("an adaptive search needs a space to sample (uniform, loguniform, randint, choice)")
        dims: list[list[int]] = []
        zipped: dict[str, int] = {}
        for g in spec.zip:
            idx = []
            for k in g:
                hits = [i for i, a in enumerate(keep) if a.key == k]
                if not hits:
                    raise SweepError(f"--zip {','.join(g)}: {k!r} is not a swept key (swept: {', '.join(keys) or 'none'})")
                i = hits[0]
                if keep[i].sampled:
                    raise SweepError(f"--zip {','.join(g)}: {k!r} is sampled, not a list")
                if k in zipped:
                    raise SweepError(f"--zip: {k!r} is in two groups")
                zipped[k] = len(dims)
                idx.append(i)
            sizes = {keep[i].key: len(keep[i].values) for i in idx}
            if len(set(sizes.values())) > 1:
                raise SweepError(f"--zip {','.join(g)}: the lists differ in length ("
                                 + ", ".join(f"{k}: {n}" for k, n in sizes.items()) + ")")
            dims.append(idx)
        grid_dims: list[list[int]] = []
        placed = set()
        for i, a in enumerate(keep):
            if a.sampled:
                continue
            if a.key in zipped:
                d = zipped[a.key]
                if d not in placed:
                    placed.add(d)
                    grid_dims.append(dims[d])
            else:
                grid_dims.append([i])
        self.layout = Layout(new_template, keep, grid_dims, sampled, self.base_dir())

    def validate(self) -> None:
        """Every value of every axis, once; the first point composed whole. Errors name a point."""
        lay = self.layout
        fixed = [t for t in lay.template if isinstance(t, str)]
        self.checker = ch = Checker(self.composer, self.spec.config, fixed, self.where_of)
        for di, dim in enumerate(lay.dims):
            for ai in dim:
                ax = lay.axes[ai]
                for vi, v in enumerate(ax.values):
                    try:
                        if ax.kind == "rows":
                            for s in v:
                                ch.check(s, self.where_of.get(s, ax.where))
                        else:
                            ch.check(ax.override(v), ax.where)
                    except (ConfigError, SweepError) as e:
                        raise self._point_error(di, vi, e) from None
        for ai in lay.sampled:
            ax = lay.axes[ai]
            try:
                if ax.kind == "choice":
                    for v in ax.values:
                        ch.check(ax.override(v), ax.where)
                else:
                    ch.check_distribution(ax)
            except ConfigError as e:
                raise SweepError(str(e)) from None

    def _point_error(self, dim: int, index: int, e: Exception) -> SweepError:
        lay = self.layout
        total = lay.count(self.spec.trials if lay.sampled else None)
        n = 0
        later = 1
        for d in lay.dims[dim + 1:]:
            later *= len(lay.axes[d[0]].values)
        n = index * later
        desc = []
        for di, d in enumerate(lay.dims):
            vi = index if di == dim else 0
            for ai in d:
                ax = lay.axes[ai]
                v = ax.values[vi]
                desc.extend(v if ax.kind == "rows" else [ax.override(v)])
        what = " ".join(desc)
        if lay.sampled:
            return SweepError(f"sweep point ({what}): {e}")
        return SweepError(f"sweep point {n + 1} of {total} ({what}): {e}")

    def expand(self) -> None:
        """The points: the grid (x the sampled trials of a random search); not for adaptive."""
        lay = self.layout
        if self.spec.kind == "adaptive":
            self.points, self.duplicates = [], 0
            return
        trials = None
        if lay.sampled:
            rng = random.Random(self.spec.sweep_seed)
            trials = [{ai: lay.axes[ai].sample(rng) for ai in lay.sampled} for _ in range(self.spec.trials)]
            ch = self.checker
            if ch is not None:
                for t in trials:
                    for ai, v in t.items():
                        ax = lay.axes[ai]
                        try:
                            ch.check(ax.override(v), ax.where)
                        except ConfigError as e:
                            raise SweepError(f"sweep point ({ax.override(v)}): {e}") from None
        self.points, self.duplicates = lay.points(trials)
        if self.points and self.checker is not None:
            first = self.points[0]
            try:
                self.composer.compose(self.spec.config, first.overrides)
            except ConfigError as e:
                raise SweepError(f"sweep point 1 of {len(self.points)} ({first.describe()}): {e}") from None

    # ---- the record -------------------------------------------------------------------------
    def record(self) -> dict:
        return {
            "version": 1, "id": sweep_id(self.sweep_dir), "spec": self.spec.to_json(),
            "project_root": str(self.project.root), "results_root": str(self.results_root),
            "conf_dir": str(self.project.conf_dir), "layout": self.layout.to_json(),
            "n_points": len(self.points), "created": time.time(),
        }

    def write_record(self) -> Path:
        """Write (or refresh) the sweep record before anything is launched; returns its folder."""
        from .records import write_atomic

        d = self.sweep_dir
        d.mkdir(parents=True, exist_ok=True)
        rec = self.record()
        old = F.check(d / SPEC_FILE, read_json(d / SPEC_FILE), F.SWEEP)  # never over a newer HeyHi's record
        if old and old.get("created"):
            rec["created"] = old["created"]
        write_atomic(d / SPEC_FILE, json.dumps(F.stamp(rec, F.SWEEP), indent=1))
        if self.spec.kind != "adaptive":
            _check_points(d / POINTS_FILE)
            write_atomic(d / POINTS_FILE, "".join(point_line(p) for p in self.points))
            write_atomic(d / FOLDERS_FILE, "".join(p.dir + "\n" for p in self.points))
        return d


def _requote(v: str) -> str:
    from .flagfiles import quote_item

    return quote_item(v)


def build(spec: SweepSpec, project=None, composer=None, *, validate: bool = True) -> Sweep:
    """Parse, resolve, validate and expand a sweep (raises SweepError / ConfigError, one line)."""
    if project is None:
        from .project import Project

        project = Project.find(spec.config)
    sw = Sweep(spec, project, composer)
    try:
        sw.parse()
        sw.resolve()
        if validate:
            sw.validate()
        sw.expand()
    except ConfigError as e:
        raise SweepError(str(e)) from None
    return sw


# ---- names and records ---------------------------------------------------------------------------


def sweep_dir_for(results_root: Path, config: Path, conf_dir: Path, hash_tokens: Sequence[str]) -> Path:
    """``<root>/sweeps/<config folder>/<config>/<tag>_<hash>`` (the tag made path-safe)."""
    from .outdir import config_folder_tag, overrides_tags

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
        from .project import Project

        proj = project or Project.find(spec.config)
        return sweep_dir_for(proj.results_root, spec.config, proj.conf_dir, spec.hash_tokens())
    if results_root is None:
        if project is None:
            from .project import Project

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


# ---- planning --------------------------------------------------------------------------------


class LazySlurm:
    """``in`` asks squeue once, on first use (a set of live ids; no squeue: trust the records)."""

    def __init__(self):
        self._live: set | None = None
        self._none = False

    def __contains__(self, jobid) -> bool:
        if self._live is None and not self._none:
            from .records import slurm_live_jobs

            live = slurm_live_jobs()
            if live is None:
                self._none = True
            else:
                self._live = live
        return True if self._none else jobid in self._live


def plan_state(state: str) -> str:
    """A run folder's state as the plan names it: new, running, completed, crashed or lost."""
    from . import records as R

    if state == R.NOT_STARTED:
        return "new"
    if state in R.LIVE_STATES:
        return "running"
    if state == R.COMPLETED_S:
        return "completed"
    if state == R.LOST:
        return "lost"
    return "crashed"  # crashed, cancelled


def plan_states(dirs: Sequence[str], slurm_live=None) -> list[str]:
    """The plan state of each folder: one listing per parent folder, records read only for
    folders that exist, squeue asked at most once."""
    from .records import RunDir

    listing: dict[str, set] = {}
    live = slurm_live if slurm_live is not None else LazySlurm()
    out = []
    for d in dirs:
        parent, _, name = d.rpartition("/")
        names = listing.get(parent)
        if names is None:
            try:
                names = listing[parent] = set(os.listdir(parent))
            except OSError:
                names = listing[parent] = set()
        if name not in names:
            out.append("new")
            continue
        out.append(plan_state(RunDir(d).state(slurm_live=live)[0]))
    return out


def count_states(states: Iterable[str]) -> dict[str, int]:
    c = {s: 0 for s in PLAN_STATES}
    for s in states:
        c[s] = c.get(s, 0) + 1
    return c


def summary_line(counts: dict[str, int]) -> str:
    n = sum(counts.values())
    return f"{n} points: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in PLAN_STATES)


def to_launch(states: Sequence[str], retry_failed: bool) -> list[int]:
    want = {"new", "crashed", "lost"} if retry_failed else {"new"}
    return [i for i, s in enumerate(states) if s in want]


# ---- interrupted runs -----------------------------------------------------------------------------


def lost_runs(results_root: Path, sweep_dir: Path | None = None) -> list[Path]:
    """Runs that stopped without a final record (the process or Slurm job is gone): under the
    results root, or among a sweep's points."""
    from . import records as R

    live = LazySlurm()
    if sweep_dir is not None:
        dirs = [Path(p.dir) for p in Record(sweep_dir).points()]
    else:
        dirs = []
        root = Path(results_root)
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and not (rel == "." and d == SWEEPS_DIR)]
            if R.STATUS in filenames or R.JOBID in filenames:
                dirnames[:] = []
                dirs.append(Path(dirpath))
    out = []
    for d in dirs:
        try:
            if d.is_dir() and R.RunDir(d).state(slurm_live=live)[0] == R.LOST:
                out.append(d)
        except F.NewerFormat:
            continue  # a newer HeyHi's run is never lost to this one: left alone
    return out
