"""What the daemon tells of a run's data beyond its state: the diff of two runs' composed configs
(``DiffRuns``), or of a run against today's config file.

Each side is composed from what is on disk now, in a worker thread: a run's side is the config
recorded in its folder, typed against today's schema (``heyhi.runs.load_recorded``: what a restart
would rerun); today's side is the run's config file composed with the overrides its folder records
(the daemon's cached composer). The comparison is the core's one implementation
(``heyhi.config.diff``), so the TUI and ``heyhi diff`` show the same thing: keys relative to the
task when both sides run the same task (as overrides spell them), else to the top-level config. The answer is
bounded: at most ``MAX_CHANGES`` changes and ``MAX_TEXT`` characters of text diff (cut with a last
line saying how much more there was). Nothing in a run folder is written.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from heyhi.errors import HeyHiError
from heyhi.runs import records as R
from heyhi.runs.formats import NewerFormat
from heyhi.wire import protocol as P
from heyhi.wire.protocol import ConfigDiff, DiffRuns, Error, FlatChange

MAX_CHANGES = 2000  # flat changes sent (``total`` says how many there were)
MAX_TEXT = 1 << 20  # characters of unified diff sent


async def diff_runs(core: Any, req: DiffRuns) -> ConfigDiff | Error:
    """The ``DiffRuns`` answer (``core``: the daemon's core, for resolving jobs and composing)."""
    if not hasattr(core, "composer") or not hasattr(core, "_resolve"):
        return Error(P.NOT_IMPLEMENTED, "DiffRuns: this daemon's core keeps no run folders")
    a = core._resolve(req.a)
    if isinstance(a, Error):
        return a
    if req.against_config:
        b = None
    else:
        if not req.b:
            return Error(P.BAD_REQUEST, "bad diff_runs request: b: name a second job (or set against_config)")
        b = core._resolve(req.b)
        if isinstance(b, Error):
            return b
    return await asyncio.to_thread(_diff, core, a.run_dir, b.run_dir if b is not None else None)


def _run_info(run_dir: str) -> dict:
    info = R.RunDir(run_dir).read_run()
    if not info or "project_root" not in info or "config" not in info:
        raise HeyHiError(f"{run_dir}: no heyhi.run.json (or one without its config): nothing to compare")
    return info


def _recorded(run_dir: str, info: dict):
    from heyhi.runs import load_recorded  # lean: keeps the start-up of the daemon from loading it

    return load_recorded(run_dir, info)


def _diff(core: Any, a_dir: str, b_dir: str | None) -> ConfigDiff | Error:
    from heyhi.config import diff_composed  # lean: keeps the start-up of the daemon from loading it

    try:
        a_info = _run_info(a_dir)
        a_side = _recorded(a_dir, a_info)
        a_label = f"{a_dir}/{R.CONFIG_META}"
        if b_dir is None:
            overrides = [str(o) for o in a_info.get("overrides", [])]
            comp = core.composer(a_info["project_root"])
            b_side = comp.compose(Path(a_info["config"]), overrides)
            b_label = a_info["config"] + "".join(f" {o}" for o in overrides)
        else:
            b_info = _run_info(b_dir)
            b_side = _recorded(b_dir, b_info)
            b_label = f"{b_dir}/{R.CONFIG_META}"
    except NewerFormat as e:
        return Error(P.BAD_REQUEST, str(e))
    except HeyHiError as e:
        return Error(P.INVALID, f"cannot compare: {e}")
    except OSError as e:
        return Error(P.NOT_FOUND, f"cannot compare: {e.filename or ''}: {e.strerror}")
    d = diff_composed(a_side, b_side, a_label, b_label)
    changes, text = d.changes, d.text
    if len(text) > MAX_TEXT:
        cut = text.rfind("\n", 0, MAX_TEXT) + 1
        more = text.count("\n", cut)
        text = text[:cut] + f"… the diff goes on for {more} more lines (cut at {MAX_TEXT} characters)\n"
    sent = [FlatChange(c.key, c.a, c.b) for c in changes[:MAX_CHANGES]]
    return ConfigDiff(a_label=a_label, b_label=b_label, changes=sent, total=len(changes), text=text)
