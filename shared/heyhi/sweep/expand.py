"""Expansion: a spec's axes checked once against the schema, then its points and their run folders.

Tokens are parsed by ``heyhi.config.grammar`` (``Sweep.parse``): a token whose ``Override`` has a
sweep value becomes an ``Axis``, the others stay fixed strings.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heyhi.config import grammar as G, flagfiles
from heyhi.config.grammar import split_items
from heyhi.errors import ConfigError, SweepError
from heyhi.runs import formats as F
from heyhi.sweep.record import Layout, Point, _check_points, point_line, read_json, sweep_dir_for, sweep_id
from heyhi.sweep.spec import Axis, DISTRIBUTIONS, FOLDERS_FILE, POINTS_FILE, SPEC_FILE, VALUE_FORMATS, SweepSpec
from heyhi.config.compose import composer_for
from heyhi.config.flagfiles import quote_item
from heyhi.config.overrides import apply_scalar, cast_string, parse_override
from heyhi.config.project import Project
from heyhi.config.schema.model import FLOAT_KINDS, INT_KINDS
from heyhi.runs.outdir import config_folder_tag
from heyhi.runs.records import write_atomic


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
        _NUMERIC = (INT_KINDS, FLOAT_KINDS)
    return _NUMERIC


class Checker:
    """Validates override strings against one base config (the fixed overrides composed once).

    The first value of each key is applied to a copy of the base config (unknown keys, indexes,
    types: the same errors as ``heyhi run``); later values of a scalar key are only cast with the
    field's type. Each distinct (key, value) is checked once."""

    def __init__(self, composer, config: Path, fixed: list[str], where_of: dict[str, str] | None = None):
        self.comp = composer.for_config(config)  # a script task: the script's schema
        self.config = Path(config)
        self.fixed = list(fixed)
        self.where_of = where_of or {}
        whole = [f for f in fixed if self._is_whole_list_token(f)]
        try:
            self.base = composer.compose(self.config, [f for f in fixed if f not in whole])
        except ConfigError as e:
            raise self._located(e) from None
        self.task = self.base.task
        self.task_type = self.base.task_msg._type
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

        if key.startswith("I"):
            try:
                self.comp.compose(self.config, self.fixed + [raw])
            except ConfigError as e:
                raise ConfigError(e.message, where) from None
            self.ok.add(raw)
            return
        leaf = self.leaf(key)
        if leaf is not None and leaf.whole_list and value.startswith("[") and value.endswith("]"):
            if leaf.kind == "map":
                raise ConfigError(f"{key!r} is {leaf.f.type_label()}: set its elements ({key}.KEY=...)", where)
            if leaf.kind == "message":  # a list of mappings: applied to a copy of the base config
                o = parse_override(raw)
                try:
                    apply_scalar(self.base.meta._copy(), self.prefix + o.key, o, self.prefix)
                except ConfigError as e:
                    raise ConfigError(e.message, where) from None
            else:
                for item in split_items(value[1:-1], where, raw, value=True):
                    cast_string(leaf.f, leaf.kind, item, where, key)
            self.ok.add(raw)
            return
        first = key not in self.keys_done
        if (first or leaf is None or leaf.whole_list or value in ("NULL", "SELECT")
                or leaf.kind in ("message", "map")):
            o = parse_override(raw)
            m = self.base.meta._copy()
            try:
                apply_scalar(m, self.prefix + o.key, o, self.prefix)
            except ConfigError as e:
                raise ConfigError(e.message, where) from None
        else:
            cast_string(leaf.f, leaf.kind, G.unquote(value) if G.unquote(value) is not None else value, where, key)
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
        cfg = self.spec.config
        return f"{self.results_root}/p/{config_folder_tag(cfg, self.project.conf_dir)}/{cfg.name.rsplit('.', 1)[0]}"

    @property
    def sweep_dir(self) -> Path:
        return sweep_dir_for(self.results_root, self.spec.config, self.project.conf_dir, self.spec.hash_tokens())

    def parse(self) -> None:
        """Tokens -> template (fixed strings and axes); flag files read; no schema yet."""
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
                items = [(tok.lstrip("-"), self.spec.at(tok, f"override {tok!r}"))]
            for raw, where in items:
                try:
                    o = G.parse(raw, where=where)
                except ConfigError as e:
                    raise SweepError(str(e), token=e.token) from None
                if o.sweep is None:
                    template.append(raw)
                    self.where_of.setdefault(raw, where)
                else:
                    axes.append(Axis.of(o.raw_key, o.sweep, where, raw))
                    template.append(len(axes) - 1)
        self._template, self._axes = template, axes

    def resolve(self) -> None:
        """With the schema: lists on repeated fields become values, choices become sampled under
        --trials/adaptive, zip groups are formed, and every value is validated."""
        spec = self.spec
        comp = self.composer or composer_for(self.project)
        self.composer = comp
        comp = comp.for_config(spec.config)  # a script task: the script's schema
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
            what = f"{spec.at('search', spec.at('budget', spec.at('trials', '')))}: search random" if spec.sweep_file else "--trials N"
            raise SweepError(f"{what} samples distributions (uniform, loguniform, randint, choice): none given")
        if spec.kind == "adaptive" and not sampled:
            raise SweepError(f"{spec.at('search', 'search adaptive')}: an adaptive search needs a space to sample "
                             f"(uniform, loguniform, randint, choice)")
        dims: list[list[int]] = []
        zipped: dict[str, int] = {}
        for g in spec.zip:
            idx = []
            zwhere = f"{spec.at('zip', '')}: zip" if "zip" in spec.where else "--zip"
            for k in g:
                hits = [i for i, a in enumerate(keep) if a.key == k]
                if not hits:
                    raise SweepError(f"{zwhere} {','.join(g)}: {k!r} is not a swept key (swept: {', '.join(keys) or 'none'})")
                i = hits[0]
                if keep[i].sampled:
                    raise SweepError(f"{zwhere} {','.join(g)}: {k!r} is sampled, not a list")
                if k in zipped:
                    raise SweepError(f"{zwhere}: {k!r} is in two groups")
                zipped[k] = len(dims)
                idx.append(i)
            sizes = {keep[i].key: len(keep[i].values) for i in idx}
            if len(set(sizes.values())) > 1:
                raise SweepError(f"{zwhere} {','.join(g)}: the lists differ in length ("
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
            self.spec.value_format = self.recorded_value_format() or self.spec.value_format
            rng = random.Random(self.spec.sweep_seed)
            fmt = self.spec.value_format
            trials = [{ai: lay.axes[ai].sample(rng, fmt) for ai in lay.sampled} for _ in range(self.spec.trials)]
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

    def recorded_value_format(self) -> str | None:
        """How this sweep's record (if one exists) wrote sampled values: a record from before the
        field says nothing, and its values were ``repr``'s; None when there is no record yet."""
        old = read_json(self.sweep_dir / SPEC_FILE)
        if not old or not isinstance(old.get("spec"), dict):
            return None
        fmt = old["spec"].get("value_format")
        return fmt if fmt in VALUE_FORMATS else "repr"

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
    return quote_item(v)


def build(spec: SweepSpec, project=None, composer=None, *, validate: bool = True) -> Sweep:
    """Parse, resolve, validate and expand a sweep (raises SweepError / ConfigError, one line)."""
    if project is None:
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


