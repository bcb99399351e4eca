"""Config composition: HeyHi against Hydra, on one generated config written for both.

The config: 64 leaf fields (ints, floats, strings, bools, two enums) up to 4 levels deep, 3 include
groups of 3 options each (HeyHi: ``conf/common/<group>/<opt>.prototxt`` mounted by ``includes``;
Hydra: config groups in a defaults list), 5 overrides (int 4 levels deep, float, string, enum, and
a group switch: HeyHi ``Ioptim=adam``, Hydra ``optim=adam``). Hydra's side is plain YAML (no
structured-config schema), its fastest way; HeyHi checks every value against the .proto schema.

1. Whole process, median of interleaved runs: ``heyhi run -c CFG --print-flat <overrides>``
   against ``python my_app.py --cfg job <overrides>`` (and ``python -c pass`` for scale).
   Target: HeyHi <= 0.5x Hydra's time.
2. In process: ``heyhi.load_config(cfg, overrides)`` against ``hydra.compose(name, overrides)``
   inside ``initialize_config_dir``, the override values different on every call so no result
   can be reused. Target: HeyHi >= 100x faster per call.

3. The error path, whole process, on the Cicero conf tree (``/work/shared/corpus/heyhi_cicero``):
   ``heyhi run -c conf/c01_ag_cmp/cmp.prototxt --print <typo'd key>=1`` (an unknown key: the
   "did you mean" suggestions) against the same command with the typo fixed. Target: the typo'd
   command takes at most 1.5x the fixed one. Skipped when the corpus is not there.

Both composed configs are checked to agree, value by value, before anything is timed.
Bytecode is written first (``compileall``) for HeyHi, its daemon and the venv's site-packages.

    .venv/bin/python bench/compose.py [--runs N] [--calls N] [--profile] [--keep]

Exit status 0 even when a target is missed (the line says MISSED).
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    PYTHON, REPO, SITE_PACKAGES, VENV_BIN, compile_bytecode, importtime_top, importtime_summary,
    interleaved, machine_note, median, ms, run_once, verdict,
)

WHOLE_TARGET = 0.5  # HeyHi's time / Hydra's time, at most
ERROR_TARGET = 1.5  # a typo'd override's time / the fixed override's time, at most
CICERO = REPO.parent / "shared" / "corpus" / "heyhi_cicero"
CICERO_CFG = "conf/c01_ag_cmp/cmp.prototxt"
TYPO_KEY = "agent_one.searchbot.plausible_orders_cfg.n_plausibel_orders"
FIXED_KEY = "agent_one.searchbot.plausible_orders_cfg.n_plausible_orders"
INPROC_TARGET = 100.0  # Hydra's time / HeyHi's time, at least


# ---- the config, once, as data ---------------------------------------------------------------


class E(str):
    """An enum value (its name)."""


ENUMS = {
    "Mode": ["TRAIN", "EVAL", "DEBUG"],
    "Precision": ["FP32", "FP16", "BF16"],
}
ENUM_OF = {"mode": "Mode", "precision": "Precision"}

# The top-level config's own values (the task's fields outside the three groups).
BASE = {
    "name": "baseline",
    "seed": 1234,
    "debug": False,
    "mode": E("TRAIN"),
    "comment": "composition bench",
    "trainer": {
        "epochs": 90, "log_every": 50, "eval_every": 1000, "precision": E("BF16"), "grad_accum": 4,
        "amp": True,
        "ckpt": {"dir": "/checkpoints/run", "keep": 3, "every": 2000, "async_save": False,
                 "upload": {"bucket": "ckpt-bucket", "region": "us-east-1", "retries": 5}},
    },
    "logging": {"level": "info", "wandb": False, "project": "heyhi_bench", "interval": 10,
                "console": {"color": True, "width": 120, "timestamps": True}},
}


def _model(hidden, layers, dropout, act, depth, heads):
    return {
        "hidden": hidden, "layers": layers, "dropout": dropout, "activation": act, "use_bias": True,
        "encoder": {"depth": depth, "width": hidden * 4, "kind": "transformer", "residual": True,
                    "attn": {"heads": heads, "head_dim": hidden // heads, "dropout": dropout / 2,
                             "causal": False, "impl": "flash"}},
    }


def _optim(name, lr, momentum, wd, nesterov, warmup, decay):
    return {
        "name": name, "lr": lr, "momentum": momentum, "weight_decay": wd, "nesterov": nesterov,
        "clip": 1.0,
        "schedule": {"warmup": warmup, "decay": decay, "min_lr": lr / 100, "cycles": 1,
                     "restart": {"enabled": False, "period": 10000, "mult": 2.0}},
    }


def _data(path, batch, workers, max_len, crop, scale):
    return {
        "path": path, "batch_size": batch, "num_workers": workers, "shuffle": True, "max_len": max_len,
        "aug": {"flip": True, "crop": crop, "scale": scale,
                "color": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.2, "hue": 0.1}},
    }


GROUPS = {
    "model": {
        "small": _model(256, 4, 0.1, "gelu", 4, 4),
        "base": _model(512, 12, 0.1, "gelu", 12, 8),
        "large": _model(1024, 24, 0.2, "swiglu", 24, 16),
    },
    "optim": {
        "sgd": _optim("sgd", 0.1, 0.9, 0.0001, True, 500, "step"),
        "adam": _optim("adam", 0.001, 0.0, 0.0, False, 1000, "cosine"),
        "adamw": _optim("adamw", 0.0003, 0.0, 0.05, False, 2000, "cosine"),
    },
    "data": {
        "tiny": _data("/data/tiny", 32, 2, 128, 24, 1.0),
        "cifar": _data("/data/cifar", 128, 8, 512, 32, 1.1),
        "imagenet": _data("/data/imagenet", 256, 16, 2048, 224, 1.25),
    },
}
DEFAULTS = {"model": "base", "optim": "sgd", "data": "cifar"}
TASK = "bench"

MODES = ENUMS["Mode"]


def overrides(i: int | None) -> tuple[list[str], list[str]]:
    """(HeyHi's, Hydra's) 5 overrides; ``i`` makes every value differ (None: the fixed set)."""
    if i is None:
        heads, min_lr, ckpt, mode, opt = 16, "0.0001", "/tmp/ckpt_a", "EVAL", "adam"
    else:
        heads, min_lr, ckpt = 8 + i, f"{(i + 1) * 1e-6:.7f}", f"/tmp/ckpt_{i}"
        mode, opt = MODES[i % 3], list(GROUPS["optim"])[i % 3]
    scalars = [f"model.encoder.attn.heads={heads}", f"optim.schedule.min_lr={min_lr}",
               f"trainer.ckpt.dir={ckpt}", f"mode={mode}"]
    return scalars + [f"Ioptim={opt}"], scalars + [f"optim={opt}"]


def expected_flat(i: int | None) -> dict:
    """What both tools must compose for ``overrides(i)``, flattened."""
    hh, _ = overrides(i)
    cfg = dict(BASE)
    for g, opt in DEFAULTS.items():
        cfg[g] = GROUPS[g][opt]
    flat = dict(flatten(cfg))
    for o in hh:
        k, v = o.split("=", 1)
        if k.startswith("I"):
            for kk, vv in flatten(GROUPS[k[1:]][v], k[1:] + "."):
                flat[kk] = vv
    for o in hh[:-1]:
        k, v = o.split("=", 1)
        old = flat[k]
        flat[k] = type(old)(v) if not isinstance(old, E) else E(v)
    return flat


def flatten(d: dict, prefix: str = ""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


# ---- writing both projects -------------------------------------------------------------------


def _proto_kind(v) -> str:
    if isinstance(v, E):
        raise AssertionError
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int32"
    if isinstance(v, float):
        return "double"
    return "string"


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_")) + "Cfg"


def write_proto(path: Path) -> None:
    task = dict(BASE)
    for g in GROUPS:
        task[g] = GROUPS[g][DEFAULTS[g]]
    messages: list[str] = []

    def message(name: str, d: dict) -> None:
        lines = [f"message {name} {{"]
        for n, (k, v) in enumerate(d.items(), 1):
            if isinstance(v, dict):
                sub = _camel(k)
                message(sub, v)
                lines.append(f"  optional {sub} {k} = {n};")
            elif isinstance(v, E):
                lines.append(f"  optional {ENUM_OF[k]} {k} = {n};")
            else:
                lines.append(f"  optional {_proto_kind(v)} {k} = {n};")
        lines.append("}")
        messages.append("\n".join(lines))

    message("BenchTask", task)
    enums = [f"enum {e} {{\n" + "".join(f"  {v} = {i};\n" for i, v in enumerate(vals)) + "}" for e, vals in ENUMS.items()]
    head = ['// Generated by bench/compose.py.', 'syntax = "proto2";', "package heyhi_bench;", "",
            "message Include { optional string path = 1; optional string mount = 2; }"]
    meta = "message MetaCfg {\n  repeated Include includes = 1;\n  oneof task { BenchTask bench = 2; }\n}"
    path.write_text("\n\n".join(["\n".join(head), *enums, *messages, meta]) + "\n")


def _pt_value(v) -> str:
    if isinstance(v, E):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v + '"'
    return repr(v)


def prototxt(d: dict, indent: int = 0) -> str:
    pad = "  " * indent
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out.append(f"{pad}{k} {{\n{prototxt(v, indent + 1)}{pad}}}\n")
        else:
            out.append(f"{pad}{k}: {_pt_value(v)}\n")
    return "".join(out)


def _yaml_value(v) -> str:
    if isinstance(v, E):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'" + v + "'"
    if isinstance(v, float) and "e" in repr(v) and "." not in repr(v):
        return repr(v).replace("e", ".0e")  # YAML 1.1 reads 1e-05 as a string, 1.0e-05 as a float
    return repr(v)


def yaml_text(d: dict, indent: int = 0) -> str:
    pad = "  " * indent
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out.append(f"{pad}{k}:\n{yaml_text(v, indent + 1)}")
        else:
            out.append(f"{pad}{k}: {_yaml_value(v)}\n")
    return "".join(out)


def write_heyhi(root: Path) -> Path:
    """The HeyHi project; returns the top-level config's path."""
    conf = root / "conf"
    (conf / TASK).mkdir(parents=True)
    write_proto(conf / "conf.proto")
    for g, opts in GROUPS.items():
        (conf / "common" / g).mkdir(parents=True)
        for opt, d in opts.items():
            (conf / "common" / g / f"{opt}.prototxt").write_text(prototxt(d))
    incs = "".join(f'includes {{ path: "{g}/{opt}" mount: "{g}" }}\n' for g, opt in DEFAULTS.items())
    cfg = conf / TASK / "config.prototxt"
    cfg.write_text("# Generated by bench/compose.py.\n" + incs + f"{TASK} {{\n{prototxt(BASE, 1)}}}\n")
    return cfg


APP = '''import hydra


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg):
    pass


if __name__ == "__main__":
    main()
'''


def write_hydra(root: Path) -> Path:
    """The Hydra app; returns its config folder."""
    conf = root / "conf"
    for g, opts in GROUPS.items():
        (conf / g).mkdir(parents=True)
        for opt, d in opts.items():
            (conf / g / f"{opt}.yaml").write_text(yaml_text(d))
    defaults = "defaults:\n" + "".join(f"  - {g}: {opt}\n" for g, opt in DEFAULTS.items()) + "  - _self_\n\n"
    (conf / "config.yaml").write_text(defaults + yaml_text(BASE))
    (root / "my_app.py").write_text(APP)
    return conf


# ---- checking that both agree ----------------------------------------------------------------


def _parse_flat_value(text: str):
    if text[:1] in "'\"":
        return ast.literal_eval(text)
    if text in ("True", "False"):
        return text == "True"
    for t in (int, float):
        try:
            return t(text)
        except ValueError:
            pass
    return text


def same(a: dict, b: dict) -> list[str]:
    """Differences between two flat configs (floats compared with a relative tolerance)."""
    diffs = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k, "<missing>"), b.get(k, "<missing>")
        if isinstance(x, float) and isinstance(y, (int, float)) and not isinstance(y, bool):
            if math.isclose(x, y, rel_tol=1e-9):
                continue
        elif type(x) is type(y) or (isinstance(x, str) and isinstance(y, str)):
            if x == y:
                continue
        diffs.append(f"{k}: {x!r} != {y!r}")
    return diffs


def check_whole(hh_cmd, hy_cmd, hh_root, hy_root, env) -> None:
    import yaml

    want = expected_flat(None)
    p = subprocess.run(hh_cmd, cwd=hh_root, env=env, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"bench: heyhi failed:\n{p.stderr}")
    hh = {}
    for line in p.stdout.splitlines():
        k, v = line.split("=", 1)
        hh[k] = _parse_flat_value(v)
    p = subprocess.run(hy_cmd, cwd=hy_root, env=env, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"bench: hydra failed:\n{p.stderr}")
    hy = dict(flatten(yaml.safe_load(p.stdout)))
    for who, got in (("heyhi --print-flat", hh), ("hydra --cfg job", hy)):
        d = same(want, got)
        if d:
            raise SystemExit(f"bench: {who} disagrees with the expected config:\n  " + "\n  ".join(d))
    print(f"check: heyhi --print-flat and hydra --cfg job agree on all {len(hh)} leaf values")


def check_inproc(hh_once, hy_once) -> None:
    from omegaconf import OmegaConf

    for i in (0, 1, 2):
        want = expected_flat(i)
        hh = dict(flatten(getattr(hh_once(i), TASK).to_dict()))
        hy = dict(flatten(OmegaConf.to_container(hy_once(i))))
        for who, got in (("heyhi.load_config", hh), ("hydra.compose", hy)):
            d = same(want, got)
            if d:
                raise SystemExit(f"bench: {who} (call {i}) disagrees:\n  " + "\n  ".join(d))
    print("check: heyhi.load_config and hydra.compose agree on all values (3 override sets)")


# ---- the benchmarks --------------------------------------------------------------------------


def bench_whole(hh_root, hy_root, hh_cfg, env, runs: int, profile: bool) -> None:
    hh_ov, hy_ov = overrides(None)
    heyhi = str(VENV_BIN / "heyhi")
    hh_cmd = [heyhi, "run", "-c", str(hh_cfg.relative_to(hh_root)), "--print-flat", *hh_ov]
    hy_cmd = [PYTHON, "my_app.py", "--cfg", "job", *hy_ov]
    check_whole(hh_cmd, hy_cmd, hh_root, hy_root, env)
    fns = {
        "pass": lambda i: run_once([PYTHON, "-c", "pass"], env=env),
        "heyhi": lambda i: run_once(hh_cmd, cwd=hh_root, env=env),
        "hydra": lambda i: run_once(hy_cmd, cwd=hy_root, env=env),
    }
    t = interleaved(fns, runs, warmup=2)
    base, hh, hy = median(t["pass"]), median(t["heyhi"]), median(t["hydra"])
    ratio = hh / hy
    print(f"\nwhole process, median of {runs} interleaved runs:")
    print(f"  heyhi run -c CFG --print-flat <5 overrides>  {ms(hh)}   (min {ms(min(t['heyhi']))})")
    print(f"  python my_app.py --cfg job <5 overrides>      {ms(hy)}   (min {ms(min(t['hydra']))})")
    print(f"  python -c pass                                {ms(base)}")
    print(f"whole process: heyhi {ms(hh)}, hydra {ms(hy)}, ratio {ratio:.2f} (target <= {WHOLE_TARGET}) "
          f"{verdict(ratio <= WHOLE_TARGET)}   [above python -c pass: heyhi {ms(hh - base)}, "
          f"hydra {ms(hy - base)}]")
    if profile:
        print("\nprofile, heyhi whole process (-X importtime, one run):")
        rows = importtime_top([PYTHON, heyhi, *hh_cmd[1:]], cwd=hh_root, env=env)
        for line in importtime_summary(rows):
            print("  " + line)
        _cprofile_process([PYTHON, "-m", "cProfile", "-s", "cumulative", heyhi, *hh_cmd[1:]], hh_root, env)


def bench_error_path(env, runs: int, profile: bool) -> None:
    """A typo'd override on the Cicero tree against the same override spelled right, whole process."""
    if not (CICERO / CICERO_CFG).is_file():
        print(f"\nerror path: skipped (no Cicero corpus at {CICERO})")
        return
    heyhi = str(VENV_BIN / "heyhi")
    typo = [heyhi, "run", "-c", CICERO_CFG, "--print", f"{TYPO_KEY}=1"]
    fixed = [heyhi, "run", "-c", CICERO_CFG, "--print", f"{FIXED_KEY}=1"]
    p = subprocess.run(typo, cwd=CICERO, env=env, capture_output=True, text=True)
    want = f"unknown key '{TYPO_KEY}'; did you mean: {FIXED_KEY}"
    if p.returncode != 2 or want not in p.stderr:
        raise SystemExit(f"bench: the typo'd override did not answer {want!r} (exit {p.returncode}):\n{p.stderr}")
    p = subprocess.run(fixed, cwd=CICERO, env=env, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"bench: the fixed override failed:\n{p.stderr}")
    print(f"\ncheck: the typo'd override answers exit 2 with 'did you mean: {FIXED_KEY}, ...'")
    fns = {
        "typo": lambda i: run_once(typo, cwd=CICERO, env=env, check=False),
        "fixed": lambda i: run_once(fixed, cwd=CICERO, env=env),
    }
    t = interleaved(fns, runs, warmup=2)
    ty, fx = median(t["typo"]), median(t["fixed"])
    ratio = ty / fx
    print(f"error path, whole process, Cicero tree ({CICERO_CFG}), median of {runs} interleaved runs:")
    print(f"  heyhi run -c CFG --print ...n_plausibel_orders=1 (typo)  {ms(ty)}   (min {ms(min(t['typo']))})")
    print(f"  heyhi run -c CFG --print ...n_plausible_orders=1 (fixed) {ms(fx)}   (min {ms(min(t['fixed']))})")
    print(f"error path: typo {ms(ty)}, fixed {ms(fx)}, ratio {ratio:.2f} (target <= {ERROR_TARGET}) "
          f"{verdict(ratio <= ERROR_TARGET)}")
    if profile:
        _cprofile_process([PYTHON, "-m", "cProfile", "-s", "cumulative", *typo], CICERO, env)


def _cprofile_process(cmd, cwd, env, top: int = 30) -> None:
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    lines = p.stdout.splitlines()
    start = next((n for n, ln in enumerate(lines) if "ncalls" in ln), None)
    if start is None:
        return
    print("\nprofile, heyhi whole process (cProfile, by cumulative time, one run):")
    for ln in lines[max(0, start - 2): start + 1 + top]:
        print("  " + ln)


def bench_inproc(hh_cfg, hy_conf, calls: int, profile: bool) -> None:
    import heyhi
    from hydra import compose, initialize_config_dir

    def hh_once(i):
        return heyhi.load_config(hh_cfg, overrides(i)[0])

    with initialize_config_dir(config_dir=str(hy_conf), version_base=None):

        def hy_once(i):
            return compose(config_name="config", overrides=overrides(i)[1])

        check_inproc(hh_once, hy_once)
        counter = iter(range(10**9))
        hy_calls = max(1, calls // 50)

        def batch(fn, n):
            def timed(_r):
                ids = [next(counter) for _ in range(n)]
                t = time.perf_counter()
                for i in ids:
                    fn(i)
                return (time.perf_counter() - t) / n
            return timed

        rounds = 9
        t = interleaved({"heyhi": batch(hh_once, calls), "hydra": batch(hy_once, hy_calls)}, rounds, warmup=1)
    hh, hy = median(t["heyhi"]), median(t["hydra"])
    speed = hy / hh
    print(f"\nin process, per call, median of {rounds} interleaved batches "
          f"({calls} heyhi calls, {hy_calls} hydra calls a batch; override values new every call):")
    print(f"  heyhi.load_config(cfg, 5 overrides)                 {ms(hh)}")
    print(f"  hydra.compose('config', 5 overrides) in its context {ms(hy)}")
    print(f"in process: heyhi {ms(hh)}, hydra {ms(hy)}, heyhi {speed:.0f}x faster "
          f"(target >= {INPROC_TARGET:.0f}x) {verdict(speed >= INPROC_TARGET)}")
    if profile:
        import cProfile
        import io
        import pstats

        phases(hh_once, next(counter), calls)
        pr = cProfile.Profile()
        base = next(counter) + calls
        pr.enable()
        for i in range(base, base + calls):
            hh_once(i)
        pr.disable()
        for key in ("tottime", "cumulative"):
            s = io.StringIO()
            pstats.Stats(pr, stream=s).sort_stats(key).print_stats(25)
            text = s.getvalue()
            print(f"\nprofile, {calls} heyhi.load_config calls (cProfile, by {key}; profiler overhead inflates):")
            body = text[text.find("ncalls") - 2 if "ncalls" in text else 0:]
            for ln in body.rstrip().splitlines():
                print("  " + ln.replace(str(REPO) + "/", ""))


def phases(hh_once, start: int, calls: int) -> None:
    """Where one ``load_config`` call spends its time, by HeyHi function, without a profiler:
    the functions are wrapped with a timer (outermost call only) for ``calls`` calls."""
    from heyhi.config import compose as C
    from heyhi.config import frozen as F
    from heyhi.config import project as P

    acc: dict[str, list[float]] = {}
    active: set[str] = set()

    def wrap(owner, attr: str, label: str):
        orig = owner.__dict__[attr]
        fn = orig.__func__ if isinstance(orig, (classmethod, staticmethod)) else orig
        acc[label] = [0.0, 0]

        def timed(*a, **kw):
            if label in active:
                return fn(*a, **kw)
            active.add(label)
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                active.discard(label)
                slot = acc[label]
                slot[0] += time.perf_counter() - t
                slot[1] += 1

        setattr(owner, attr, classmethod(timed) if isinstance(orig, classmethod) else timed)
        return owner, attr, orig

    saved = [
        wrap(P.Project, "find", "  Project.find (walk up to conf/)"),
        wrap(C.Composer, "guess_type", "  Composer.guess_type"),
        wrap(C, "parse_overrides", "  parse_overrides"),
        wrap(C.Composer, "task_of", "  Composer.task_of"),
        wrap(C.Composer, "load_message", "  Composer.load_message"),
        wrap(C.Composer, "resolve_include", "    Composer.resolve_include (finding include files)"),
        wrap(C, "apply_scalar", "    overrides.apply_scalar"),
        wrap(F, "freeze", "  frozen.freeze (to_frozen)"),
        wrap(C.Composer, "parse_file", "  * Composer.parse_file (stat + parse-cache hit)"),
        wrap(C, "node_to_msg", "  * typed.node_to_msg (typing the cached parse tree)"),
    ]
    labels = [label for label in acc]
    t0 = time.perf_counter()
    try:
        for i in range(start, start + calls):
            hh_once(i)
    finally:
        total = time.perf_counter() - t0
        for owner, attr, orig in saved:
            setattr(owner, attr, orig)
    print(f"\nprofile, where one heyhi.load_config call goes (timers around HeyHi functions, {calls} calls;"
          " indented rows are inside the row above; * rows: all callers, guess_type/task_of/load_message):")
    print(f"  {'heyhi.load_config (total, timers included)':<58} {total / calls * 1e6:8.1f} us/call  100.0%")
    for label in labels:
        t, n = acc[label]
        print(f"  {label:<58} {t / calls * 1e6:8.1f} us/call  {t / total * 100:5.1f}%  ({n / calls:g} calls/call)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="whole-process runs of each command")
    ap.add_argument("--calls", type=int, default=500, help="heyhi.load_config calls per batch")
    ap.add_argument("--profile", action="store_true", help="also profile HeyHi (importtime, cProfile)")
    ap.add_argument("--keep", action="store_true", help="keep the generated projects")
    args = ap.parse_args()
    try:
        import hydra  # noqa: F401
    except ImportError:
        print("bench: hydra-core is not installed: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2

    compile_bytecode([REPO / "shared", REPO / "heyhi_daemon", SITE_PACKAGES])
    tmp = Path(tempfile.mkdtemp(prefix="heyhi_bench_compose_"))
    try:
        hh_root, hy_root = tmp / "heyhi_project", tmp / "hydra_app"
        hh_cfg = write_heyhi(hh_root)
        hy_conf = write_hydra(hy_root)
        env = dict(os.environ)
        env["HH_EXP_DIR"] = str(tmp / "exp")
        env["XDG_CACHE_HOME"] = str(tmp / "cache")  # HeyHi's schema cache: filled by the first run
        n_leaves = sum(1 for _ in flatten(expected_flat(None)))
        print(f"compose bench: {n_leaves} leaf fields, 3 groups x 3 options, 5 overrides; {tmp}")
        print(machine_note())
        os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
        bench_whole(hh_root, hy_root, hh_cfg, env, args.runs, args.profile)
        bench_error_path(env, args.runs, args.profile)
        bench_inproc(hh_cfg, hy_conf, args.calls, args.profile)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
