"""Output folder names, bit-for-bit as the original HeyHi.

``<root>/<prefix>/<cfg_folder>/<cfg>/<tag>_<hash>``: prefix ``p`` (or ``adhoc/<ISO datetime
without colons>``); cfg_folder the config's absolute parent folder with the conf folder's path cut
off its start and ``/`` -> ``_`` (as the original's string prefix test: ``conf/a/b`` -> ``a_b``,
a sibling ``conf_old/x`` -> ``_old_x``), else md5 of that folder, 8 hex; hash the first 8 hex of the md5 of
``repr()`` of the overrides sorted by (number of dot parts, key, whole string); tag the
``key@value`` pairs joined by ``@`` (long keys shortened), cut to 100 chars, or ``default``.
A script task (``train.py``) is ``p/py_<its folder relative to the project root>/<stem>/<tag>_<hash>``.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path
from typing import Sequence

EXP_ID_PATTERN = "%(prefix)s/%(cfg_folder)s/%(cfg)s/%(redefines)s_%(redefines_hash)s"
MAX_OVERRIDE_LEN = 100
DELIMITER = "@"
ADHOC_DIR = "adhoc"
SCRIPT_PREFIX = "py_"  # the cfg_folder of a script task


def config_folder_tag(config: Path, conf_dir: Path) -> str:
    """The original's ``_get_config_folder_tag``, with ``conf_dir`` for its ``CONF_ROOT``: the
    config's parent folder (absolute, symlinks and ``..`` kept) when it starts with the conf folder's
    path, as a string (so a sibling ``conf_old`` matches too), that prefix cut and ``/`` -> ``_``
    (``""`` for a config in ``conf/`` itself); any other folder is the md5 of its path, 8 hex.
    Where the original crashed (a path that is not UTF-8), its bytes are hashed.

    A script task (``*.py``) is ``py_`` and the script's folder relative to the project root (the
    conf folder's parent), ``/`` -> ``_``: the same wherever the project is cloned."""
    parent = str(Path(config).absolute().parent)
    if str(config).endswith(".py"):
        root = str(Path(conf_dir).absolute().parent)
        if parent == root or parent.startswith(root.rstrip("/") + "/"):
            return SCRIPT_PREFIX + "_".join(p for p in parent[len(root):].strip("/").split("/") if p)
        return SCRIPT_PREFIX + hashlib.md5(parent.encode("utf8", "surrogateescape")).hexdigest()[:8]
    conf = str(Path(conf_dir).absolute())
    if parent.startswith(conf):
        return "_".join(parent[len(conf):].strip("/").split("/"))
    return hashlib.md5(parent.encode("utf8", "surrogateescape")).hexdigest()[:8]


def overrides_tags(overrides: Sequence[str]) -> tuple[str, str]:
    """(tag, hash) of raw override strings (dashes already stripped)."""

    def sort_key(override: str):
        name = override.split("=")[0]
        return (len(name.split(".")), name, override)

    ordered = sorted(overrides, key=sort_key)
    hashtag = hashlib.md5(repr(ordered).encode("utf8")).hexdigest()[:8]
    parts = []
    for override in ordered:
        key, value = override.split("=", 1)
        if len(key) > 5:
            key = ".".join(x[:3] for x in key.split("."))
        if "/" in value:
            value = "_".join(value.split("/")[-2:])
        value = value.replace(" ", "_")
        parts.append(f"{key}{DELIMITER}{value}")
    tag = DELIMITER.join(parts)[:MAX_OVERRIDE_LEN] or "default"
    return tag, hashtag


def exp_id(
    config: Path,
    conf_dir: Path,
    overrides: Sequence[str],
    adhoc: bool = False,
    pattern: str | None = None,
    now: datetime.datetime | None = None,
) -> str:
    """The run's id: its folder relative to the results root."""
    date_tag = (now or datetime.datetime.now()).isoformat().replace(":", "")
    tag, hashtag = overrides_tags(overrides)
    tags = dict(
        cfg=Path(config).name.rsplit(".", 1)[0],
        cfg_folder=config_folder_tag(config, conf_dir),
        date=date_tag,
        prefix=f"{ADHOC_DIR}/{date_tag}" if adhoc else "p",
        redefines=tag,
        redefines_hash=hashtag,
    )
    return (pattern or EXP_ID_PATTERN) % tags


def run_folder(
    results_root: Path,
    config: Path,
    conf_dir: Path,
    overrides: Sequence[str],
    adhoc: bool = False,
    out: str | None = None,
) -> Path:
    """The absolute run folder. ``out`` (``--out``) replaces the pattern, relative to the root;
    it may use ``%(cfg)s``, ``%(cfg_folder)s``, ``%(redefines)s``, ``%(redefines_hash)s``,
    ``%(date)s``, ``%(prefix)s``."""
    pattern = None
    if out:
        pattern = out.replace("%", "%%") if "%(" not in out else out
    eid = exp_id(config, conf_dir, overrides, adhoc, pattern)
    return Path(results_root) / eid if not Path(eid).is_absolute() else Path(eid)
