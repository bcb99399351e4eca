"""How values are shown: job states with their colours, run times, paths (pure functions)."""

from __future__ import annotations

from typing import TYPE_CHECKING


import os

from rich.text import Text

from heyhi.states import JobState

if TYPE_CHECKING:
    from heyhi.wire.protocol import JobInfo


# The run folder's state names (heyhi.runs.records), in the order the footer counts them.
STATES = ("queued", "submitted", "running", "requeued", "completed", "crashed", "cancelled", "lost")
LIVE = frozenset({"queued", "submitted", "running", "requeued"})
STATE_STYLE = {
    "queued": "bright_black",
    "submitted": "cyan",
    "running": "bold dodger_blue1",
    "requeued": "bold cyan",
    "completed": "bold green",
    "crashed": "bold red",
    "cancelled": "magenta",
    "lost": "red",
    JobState.WIPED: "strike bright_black",
}
OUT_DIR_STYLE = {"not_started": "green", "completed": "yellow", "running": "bold yellow"}


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, ""))


def duration(seconds: float | None) -> str:
    """``45s``, ``12m05s``, ``3h04m``, ``2d03h``; "" for None."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def runtime(job: JobInfo, now: float) -> str:
    """How long the job ran (or has been running)."""
    if job.started is None:
        return ""
    end = job.ended if job.ended is not None else (now if job.state in LIVE else None)
    if end is None:
        return ""
    return duration(end - job.started)


def short_path(path: str, roots: dict[str, str]) -> str:
    """``path`` with a known root replaced by its name (``$HH_EXP_DIR/...``, ``<project>/...``),
    so that screens show the part that matters (and stay the same across machines)."""
    if not path:
        return ""
    for root, name in roots.items():
        if root and (path == root or path.startswith(root.rstrip("/") + "/")):
            return name + path[len(root.rstrip("/")):]
    home = os.path.expanduser("~")
    if home not in ("", "/") and path.startswith(home + "/"):
        return "~" + path[len(home):]
    return path


def config_label(config: str, project_root: str) -> str:
    """A config path relative to the project's conf/ folder when inside it."""
    conf = project_root.rstrip("/") + "/conf/"
    if config.startswith(conf):
        label = config[len(conf):]
    elif "/conf/" in config:  # another project's config: from its own conf/
        label = config.rsplit("/conf/", 1)[1]
    else:
        label = short_path(config, {})
    for ext in (".prototxt", ".yaml", ".yml", ".json"):
        if label.endswith(ext):
            return label[: -len(ext)]
    return label


def fit_path(path: str, width: int) -> str:
    """``path`` in at most ``width`` cells: its first part and as many whole trailing parts as fit,
    the middle elided (``$HH_EXP_DIR/…/sl/lr@0.1_966845b0``)."""
    if width <= 0 or len(path) <= width:
        return path
    parts = path.split("/")
    head = parts[0] + "/…"
    tail = ""
    for part in reversed(parts[1:]):
        candidate = "/" + part + tail
        if len(head) + len(candidate) > width:
            break
        tail = candidate
    if not tail:
        return "…" + path[-(width - 1):]
    return head + tail
