"""Sweep specs: a token's sweep value as an ``Axis``, the ``--trials``/``--zip``/metric flags, sweep files.

The value grammar itself (``[a,b]``, ``range``, ``choice``, the distributions) is
``heyhi.config.grammar``'s: an ``Axis`` is built from an ``Override``'s sweep (``Axis.of``).

Sampled floats are written with ``VALUE_DIGITS`` significant digits (``SweepSpec.value_format``
"6g") so run folders stay readable and stable; a sweep recorded before that keeps Python's
``repr`` ("repr", what a record without the field means), so relaunching it finds its points.
Every error in a sweep file names ``file:line``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from heyhi.config import grammar as G, flagfiles
from heyhi.config.grammar import DISTRIBUTIONS, FUNCS, looks_like_sweep  # noqa: F401 (re-exported)
from heyhi.errors import ConfigError, SweepError
from heyhi.config.source import read_text
from heyhi.config.suggest import did_you_mean
from heyhi.config.yamljson import _compose

KINDS = ("grid", "random", "adaptive")
GROUP_OVER = ("seed",)
SPEC_FILE = "sweep.json"
POINTS_FILE = "points.jsonl"
FOLDERS_FILE = "points.txt"
STUDY_FILE = "study.db"
SWEEPS_DIR = "sweeps"
PLAN_STATES = ("new", "running", "completed", "crashed", "lost")
VALUE_DIGITS = 6
VALUE_FORMATS = ("6g", "repr")  # how sampled floats are written: new sweeps, sweeps recorded before
_MIN_WORDS = ("loss", "err", "perplexity", "ppl", "mse", "mae", "rmse", "nll", "cost", "regret", "time", "latency")


# ---- axes -------------------------------------------------------------------------------------


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

    @classmethod
    def of(cls, key: str, sweep: G.SweepValue, where: str, raw: str = "") -> "Axis":
        """The axis of ``key`` swept by a grammar's sweep value (``raw``: the token, for a list)."""
        if isinstance(sweep, G.GridList):
            return cls(key, "list", list(sweep.items), where=where, raw=raw)
        if isinstance(sweep, G.Distribution):
            return cls(key, str(sweep.kind), [], sweep.low, sweep.high, where=where, sampled=True)
        return cls(key, str(sweep.kind), list(sweep.items), where=where)

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

    def sample(self, rng: random.Random, value_format: str = "6g") -> str:
        """One drawn value as override text; floats with ``VALUE_DIGITS`` digits, or ``repr``."""
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
        return repr(x) if value_format == "repr" else format(x, f".{VALUE_DIGITS}g")


def parse_value(key: str, value: str, where: str) -> Axis | None:
    """The axis a token's value stands for, or None for a plain value."""
    sw = G.parse_sweep(value, where, f"{key}={value}")
    return None if sw is None else Axis.of(key, sw, where, f"{key}={value}")


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
    value_format: str = "6g"  # sampled floats: "6g" (VALUE_DIGITS digits), or "repr" (recorded before)
    where: dict[str, str] = field(default_factory=dict, compare=False)  # token or file key -> file:line (not recorded)

    def at(self, what: str, default: str) -> str:
        """Where ``what`` (a token, or a sweep file's key) was written, for errors; else ``default``."""
        return self.where.get(what, default)

    @classmethod
    def from_run_args(cls, args) -> "SweepSpec":
        trials = positive_int(args.trials, "--trials") if args.trials is not None else None
        seed = _int(args.sweep_seed, "--sweep-seed") if args.sweep_seed is not None else 0
        name, mode, direction = parse_metric(args.metric)
        return cls(
            config=Path(args.cfg).absolute(), tokens=[t.lstrip("-") if not t.startswith("@") else t for t in args.overrides],
            kind="random" if trials else "grid", trials=trials, sweep_seed=seed, zip=parse_zip(args.zip),
            metric=name, metric_mode=mode, direction=direction,
            max_parallel=positive_int(args.max_parallel, "--max-parallel") if args.max_parallel else None,
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
                "sweep_file": self.sweep_file, "group_over": self.group_over, "sweep_seed_given": self.sweep_seed_given,
                "value_format": self.value_format}

    @classmethod
    def from_json(cls, d: dict) -> "SweepSpec":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "where"}
        known["config"] = Path(known["config"])
        if known.get("value_format") not in VALUE_FORMATS:
            known["value_format"] = "repr"  # recorded before the field: its values were repr's
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


def positive_int(v, flag: str) -> int:
    n = _int(v, flag)
    if n < 1:
        raise SweepError(f"{flag} {v!r}: expected a positive integer")
    return n


SWEEP_FILE_KEYS = ("config", "overrides", "space", "search", "sampler", "metric", "direction", "budget",
                   "trials", "parallelism", "seed", "zip", "group_over")


def load_sweep_file(path: Path, extra_tokens: Sequence[str] = (), project_root: Path | None = None) -> SweepSpec:
    """A sweep file (YAML, kept in conf/): see docs/sweeps.md and conf/sweeps/lr_search.yaml.

    Every error is one line naming ``file:line`` (the key's line; the file's first for a missing key)."""
    import yaml  # lean: yaml loads only when this runs

    path = Path(path)
    where = str(path)

    text = read_text(path, "sweep file")  # a regular file, bounded, never blocks (a FIFO is refused)
    root = _compose(text, where, "YAML")
    if not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise SweepError(f"{where}:{line}: a sweep file is a mapping (config, overrides, space, search, metric, ...)")
    lines: dict[str, str] = {}
    nodes: dict[str, Any] = {}
    for k, v in root.value:
        key = str(k.value)
        at = f"{where}:{k.start_mark.line + 1}"
        if key not in SWEEP_FILE_KEYS:
            raise SweepError(f"{at}: unknown key {key!r}{did_you_mean(key, list(SWEEP_FILE_KEYS))}")
        if key in nodes:
            raise SweepError(f"{at}: {key!r} is given twice")
        nodes[key], lines[key] = v, at
    first = f"{where}:{root.start_mark.line + 1}"
    plain = yaml.safe_load(text) or {}
    data: dict[str, Any] = {key: plain.get(key) for key in nodes}

    def at(key: str) -> str:
        return lines.get(key, first)

    def scalar(key: str) -> None:
        if key in nodes and not isinstance(nodes[key], yaml.ScalarNode):
            raise SweepError(f"{at(key)}: {key!r} takes one value, not a {'list' if isinstance(nodes[key], yaml.SequenceNode) else 'mapping'}")

    for key in ("config", "search", "sampler", "metric", "direction", "budget", "trials", "parallelism", "seed"):
        scalar(key)
    if not data.get("config"):
        raise SweepError(f"{at('config')}: 'config' is required (the base config, relative to conf/)")
    cfg = Path(str(data["config"]))
    if not cfg.is_absolute():
        proot = project_root or _project_root_above(path)
        cands = [proot / "conf" / cfg, proot / cfg, path.parent / cfg] if proot else [path.parent / cfg]
        found = next((c for c in cands if c.is_file()), None)
        if found is None:
            raise SweepError(f"{at('config')}: config {str(data['config'])!r} not found (looked in "
                             f"{', '.join(str(c.parent) for c in cands)})")
        cfg = found
    elif not cfg.is_file():
        raise SweepError(f"{at('config')}: config {str(cfg)!r} not found")
    tokens: list[str] = []
    token_where: dict[str, str] = {}
    for section in ("overrides", "space"):
        node = nodes.get(section)
        if node is None:
            continue
        if isinstance(node, yaml.SequenceNode) and section == "overrides":
            for item in node.value:
                if not isinstance(item, yaml.ScalarNode) or "=" not in str(item.value):
                    raise SweepError(f"{where}:{item.start_mark.line + 1}: 'overrides' is a list of key=value strings or a mapping")
                tok = str(item.value).lstrip("-")
                tokens.append(tok)
                token_where.setdefault(tok, f"{where}:{item.start_mark.line + 1}")
        elif isinstance(node, yaml.MappingNode):
            try:
                entries = flagfiles._mapping(node, "", where)
            except ConfigError as e:
                raise SweepError(str(e)) from None
            for e in entries:
                tokens.append(e.token)
                token_where.setdefault(e.token, e.where)
        else:
            raise SweepError(f"{at(section)}: '{section}' is a mapping of key: value")
    kind = str(data.get("search") or "grid")
    if kind not in KINDS:
        raise SweepError(f"{at('search')}: search {kind!r}: expected one of {', '.join(KINDS)}{did_you_mean(kind, list(KINDS), 1)}")
    budget_key = "budget" if "budget" in data else "trials"
    budget = data.get(budget_key)
    trials = positive_int(budget, f"{at(budget_key)}: {budget_key}") if budget is not None else None
    if kind in ("random", "adaptive") and not trials:
        raise SweepError(f"{at('search')}: search {kind} needs a budget (the number of trials)")
    if kind == "grid" and trials:
        kind = "random"
    try:
        name, mode, direction = parse_metric(str(data["metric"]) if data.get("metric") else None)
    except SweepError as e:
        raise SweepError(f"{at('metric')}: {e}") from None
    if data.get("direction"):
        direction = str(data["direction"]).lower()
        if direction in ("minimize", "maximize"):
            direction = direction[:3]
        if direction not in ("min", "max"):
            raise SweepError(f"{at('direction')}: direction {data['direction']!r}: expected min or max")
    if kind == "adaptive" and not name:
        raise SweepError(f"{at('search')}: search adaptive needs a metric (NAME, NAME:min or NAME:max)")
    zip_ = data.get("zip") or []
    if isinstance(zip_, list) and zip_ and all(isinstance(k, str) for k in zip_):
        zip_ = [zip_]
    if not isinstance(zip_, list) or not all(isinstance(g, list) and all(isinstance(k, str) for k in g) for g in zip_):
        raise SweepError(f"{at('zip')}: zip is a list of swept keys ([a, b]) or a list of such lists")
    sampler = str(data.get("sampler") or "tpe").lower()
    if sampler not in ("tpe", "random", "cmaes", "qmc"):
        raise SweepError(f"{at('sampler')}: sampler {sampler!r}: expected tpe, random, cmaes or qmc")
    par = data.get("parallelism")
    group_over = data.get("group_over") or GROUP_OVER
    if isinstance(group_over, str):
        group_over = [group_over]
    if not isinstance(group_over, (list, tuple)) or not all(isinstance(g, str) for g in group_over):
        raise SweepError(f"{at('group_over')}: group_over is a list of keys ([seed])")
    extra = [t if t.startswith("@") else t.lstrip("-") for t in extra_tokens]
    return SweepSpec(
        config=cfg.absolute(), tokens=tokens + extra,
        kind=kind, trials=trials, sweep_seed=_int(data.get("seed", 0), f"{at('seed')}: seed"),
        zip=[[str(k) for k in g] for g in zip_], metric=name, metric_mode=mode, direction=direction,
        max_parallel=positive_int(par, f"{at('parallelism')}: parallelism") if par is not None else None, sampler=sampler,
        sweep_file=str(path.absolute()), group_over=[str(g) for g in group_over],
        sweep_seed_given="seed" in data,
        where={**token_where, **{k: lines[k] for k in ("search", "zip", "budget", "trials", "metric") if k in lines}},
    )


def _project_root_above(path: Path) -> Path | None:
    for d in Path(path).absolute().parents:
        if (d / "conf").is_dir():
            return d
    return None


