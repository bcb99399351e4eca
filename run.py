"""The demo project's task functions: `python run.py -c CFG ...` is `heyhi run -c CFG ...`.

`train` fits a logistic regression on a generated data set (pure Python, a few seconds on one
core), logs per-step metrics, checkpoints, and resumes from its checkpoint when one exists.
`evaluate` loads a trained run's checkpoint by path and measures its accuracy.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from pathlib import Path

import heyhi

CHECKPOINT = "checkpoint.json"


def make_data(cfg):
    """A linearly separable problem with `noise` flipped labels, from `cfg.seed`."""
    rng = random.Random(cfg.seed)
    true_w = [rng.gauss(0, 1) for _ in range(cfg.n_features)]
    xs, ys = [], []
    for _ in range(cfg.n_samples):
        x = [rng.gauss(0, 1) for _ in range(cfg.n_features)]
        y = 1 if sum(a * b for a, b in zip(true_w, x)) > 0 else 0
        if rng.random() < cfg.noise:
            y = 1 - y
        xs.append(x)
        ys.append(y)
    return xs, ys


def predict(w, b, x):
    z = b + sum(a * c for a, c in zip(w, x))
    return 1 / (1 + math.exp(-z)) if z > -30 else 0.0


def evaluate_model(w, b, xs, ys):
    loss = acc = 0.0
    for x, y in zip(xs, ys):
        p = min(max(predict(w, b, x), 1e-9), 1 - 1e-9)
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
        acc += (p > 0.5) == bool(y)
    return loss / len(xs), acc / len(xs)


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


def drop_metrics_after(step: int) -> None:
    """On resume, forget metrics logged after the checkpoint: they are logged again."""
    path = heyhi.run_dir() / "metrics.jsonl"
    if path.exists():
        keep = [line for line in path.read_text().splitlines(True) if line.strip() and json.loads(line)["step"] <= step]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(keep))
        os.replace(tmp, path)


def train(cfg):
    xs, ys = make_data(cfg.data)
    rng = random.Random(cfg.seed)
    ckpt = heyhi.run_dir() / CHECKPOINT
    if ckpt.exists():
        state = json.loads(ckpt.read_text())
        print(f"resuming from step {state['step']}", flush=True)
        drop_metrics_after(state["step"])
    else:
        state = {"step": 0, "w": [rng.gauss(0, 0.01) for _ in range(cfg.data.n_features)], "b": 0.0,
                 "velocity": [0.0] * (cfg.data.n_features + 1)}
    heyhi.on_preemption(lambda: save_checkpoint(ckpt, state))
    w, b, vel = state["w"], state["b"], state["velocity"]
    momentum = 0.9 if cfg.optimizer == "MOMENTUM" else 0.0
    for step in range(state["step"], cfg.num_steps):
        lr = cfg.lr
        for s in cfg.lr_schedule:
            if step >= s.step:
                lr *= s.factor
        batch_rng = random.Random(cfg.seed * 1_000_003 + step)
        idx = [batch_rng.randrange(len(xs)) for _ in range(cfg.batch_size)]
        gw = [0.0] * len(w)
        gb = 0.0
        for i in idx:
            err = predict(w, b, xs[i]) - ys[i]
            gb += err
            for j, xj in enumerate(xs[i]):
                gw[j] += err * xj
        n = len(idx)
        for j in range(len(w)):
            vel[j] = momentum * vel[j] + gw[j] / n + cfg.weight_decay * w[j]
            w[j] -= lr * vel[j]
        vel[-1] = momentum * vel[-1] + gb / n
        b -= lr * vel[-1]
        state.update(step=step + 1, w=w, b=b, velocity=vel)
        if (step + 1) % 10 == 0 or step + 1 == cfg.num_steps:
            loss, acc = evaluate_model(w, b, xs[:500], ys[:500])
            heyhi.log_metrics(step + 1, loss=loss, accuracy=acc, lr=lr)
            print(f"step {step + 1}/{cfg.num_steps} loss {loss:.4f} accuracy {acc:.3f}", flush=True)
        if (step + 1) % cfg.checkpoint_every == 0:
            save_checkpoint(ckpt, state)  # after the metrics of this step: a resume never skips them
        if cfg.step_sleep_s:
            time.sleep(cfg.step_sleep_s)
    save_checkpoint(ckpt, state)
    loss, acc = evaluate_model(w, b, xs, ys)
    print(f"done: loss {loss:.4f} accuracy {acc:.3f}", flush=True)
    return {"loss": loss, "accuracy": acc, "steps": cfg.num_steps}


def evaluate(cfg):
    if not cfg.checkpoint:
        raise SystemExit("evaluate: set checkpoint=/path/to/a/trained/run")
    path = Path(cfg.checkpoint)
    if path.is_dir():
        path = path / CHECKPOINT
    state = json.loads(path.read_text())
    xs, ys = make_data(cfg.data)
    loss, acc = evaluate_model(state["w"], state["b"], xs, ys)
    print(f"evaluated {path}: loss {loss:.4f} accuracy {acc:.3f}", flush=True)
    return {"loss": loss, "accuracy": acc}


if __name__ == "__main__":
    heyhi.main()
