"""The daemon's side of the TUI's configs screen: where each composed value came from, and which
configs compose.

``flat_rows`` gives ``ValidateResult``'s flat view with each value's writer (``heyhi.config.origins``:
the file and line, the include, or the override). ``check_configs`` answers ``CheckConfigs``: each
config composed with no overrides, in worker threads, at most ``CHECK_THREADS`` at once whatever the
number of clients. Answers are cached per project by the stamps (path, size, mtime) of everything
under its conf/ folder and by its composer (rebuilt when the schema changes), so an unchanged tree
is answered from memory and a change re-checks (the composer re-reads only the files that changed).
A bug in one check is that config's "error", never the daemon's.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from heyhi.errors import HeyHiError
from heyhi.wire import protocol as P

CHECK_THREADS = 2  # checks composing at once, over every request
MAX_CONF_ENTRIES = 20_000  # files and folders under conf/ stamped; past that the tree counts as changed
MAX_DETAIL = 500  # characters of a check's reason
MAX_CHECKED = 5000  # configs one answer covers (the first by path)
CONFIG_EXTS = (".prototxt", ".yaml", ".yml", ".json")
NOT_CONFIGS = ("common", "sweeps")  # conf/'s folders of chunks and of sweep files
OK, CHUNK, ERROR = "ok", "chunk", "error"

_sem: asyncio.Semaphore | None = None
_cache: dict[str, tuple[Any, frozenset, dict[str, P.ConfigCheck]]] = {}  # project -> (composer, stamp, checks)


def flat_rows(comp: Any, composed: Any) -> tuple[list[tuple[str, str, str]], list[str]]:
    """``ValidateResult.flat`` (key, value text, source) and ``flat_where`` (the writers' path:line)."""
    from heyhi.config import describe_origins, flat_items, flat_value_text, value_origins  # lean: keeps the start-up of the daemon from loading it

    items = flat_items(composed.task_msg)
    try:
        found = value_origins(comp, composed, [k for k, _ in items])
    except HeyHiError:  # a file changed since it was composed: the next validation says where
        found = {}
    flat, where = [], []
    for k, v in items:
        source, at = describe_origins(found.get(k, ()))
        flat.append((k, flat_value_text(v), source or "default"))
        where.append(at)
    return flat, where


async def check_configs(core: Any, req: P.CheckConfigs) -> P.ConfigChecks | P.Error:
    """Whether each config of the project composes (see the module docstring)."""
    global _sem
    if _sem is None:
        _sem = asyncio.Semaphore(CHECK_THREADS)
    try:
        comp = await asyncio.to_thread(core.composer, req.project_root)
    except HeyHiError as e:
        return P.Error(P.BAD_REQUEST, str(e))
    stamp, configs = await asyncio.to_thread(conf_stamp, os.path.join(req.project_root, "conf"))
    cached = _cache.get(req.project_root)
    if cached is None or cached[0] is not comp or cached[1] != stamp:
        cached = _cache[req.project_root] = (comp, stamp, {})
    done = cached[2]
    todo = configs[:MAX_CHECKED]

    async def one(config: str) -> None:
        async with _sem:
            if config not in done:
                done[config] = await asyncio.to_thread(check_one, comp, config)

    await asyncio.gather(*(one(c) for c in todo))
    return P.ConfigChecks(checks=[done[c] for c in todo], total=len(configs))


def check_one(comp: Any, config: str) -> P.ConfigCheck:
    """One config: "ok" with its task, "chunk" with the message it reads as, or "error" with why."""
    from pathlib import Path  # lean: keeps the start-up of the daemon from loading it

    path = Path(config)
    try:
        try:
            return P.ConfigCheck(config=config, state=OK, task=comp.compose(path).task)
        except HeyHiError as e:
            why = _one_line(str(e).replace(str(comp.project.conf_dir) + os.sep, ""))  # paths as the tree shows them
        try:
            comp.file_msg(path, comp.schema.root)
            return P.ConfigCheck(config=config, state=ERROR, detail=why)  # a top-level config, broken
        except HeyHiError:
            pass
        try:  # not a top-level config: a chunk for includes, if some message reads it
            return P.ConfigCheck(config=config, state=CHUNK, detail=comp.guess_type(path).name)
        except HeyHiError:
            return P.ConfigCheck(config=config, state=ERROR, detail=why)
    except Exception as e:  # noqa: BLE001 - a bug in one check is that config's error, not the daemon's
        return P.ConfigCheck(config=config, state=ERROR, detail=_one_line(f"internal error: {type(e).__name__}: {e}"))


def conf_stamp(conf: str) -> tuple[frozenset, list[str]]:
    """(path, size, mtime) of every file and folder under ``conf`` (at most ``MAX_CONF_ENTRIES``;
    hidden ones and ``__*`` left out), and its configs: the config files outside ``common/``
    (chunks) and ``sweeps/`` (sweep files), sorted."""
    out: list[tuple] = []
    configs: list[str] = []
    todo = [(conf, True)]
    while todo and len(out) < MAX_CONF_ENTRIES:
        d, holds_configs = todo.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.name.startswith((".", "__")):
                        continue
                    try:
                        st = e.stat(follow_symlinks=True)
                    except OSError:
                        continue
                    out.append((e.path, st.st_size, st.st_mtime_ns))
                    if e.is_dir(follow_symlinks=False):
                        todo.append((e.path, holds_configs and not (d == conf and e.name in NOT_CONFIGS)))
                    elif holds_configs and e.name.endswith(CONFIG_EXTS):
                        configs.append(e.path)
                    if len(out) >= MAX_CONF_ENTRIES:
                        out.append((object(), 0, 0))  # too many to stamp: never equal to another stamp
                        break
        except OSError:
            out.append((d, -1, -1))
    return frozenset(out), sorted(configs)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_DETAIL else line[: MAX_DETAIL - 1] + "…"
