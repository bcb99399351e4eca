"""How values are shown: job states with their colours, run times and ages, paths, a run's overrides
and project, the note of a job that ended (pure functions)."""

from __future__ import annotations

from typing import TYPE_CHECKING


import os
import time

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


# ---- runs: age, overrides, project, ends ---------------------------------------------------------
FINAL = frozenset({"completed", "crashed", "cancelled", "lost"})
OLD_S = 14 * 86400  # older than this: the date instead of an age


def job_time(job: JobInfo) -> float | None:
    """When the run started (or, not started yet, when the job was made)."""
    return job.started if job.started is not None else job.created


def age(job: JobInfo, now: float) -> str:
    """How long ago the run started: ``45s``, ``12m``, ``3h``, ``5d``; the date (local) past two weeks."""
    t = job_time(job)
    if t is None:
        return ""
    s = max(0.0, now - t)
    if s >= OLD_S:
        return time.strftime("%Y-%m-%d", time.localtime(t))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{int(s // size)}{unit}"
    return f"{int(s)}s"


def overrides_of(job: JobInfo) -> list[str] | None:
    """The run's overrides as the daemon sent them (None: not known; an older daemon)."""
    return getattr(job, "overrides", None)


def overrides_text(job: JobInfo) -> Text:
    """The job's overrides, space separated ("(none)" dim); not known: the folder's tag, dim and italic."""
    return overrides_line(overrides_of(job), job.tag)


def overrides_line(ovs: list[str] | None, tag: str = "") -> Text:
    """Overrides, space separated, each key in bold ("(none)" dim); None: ``tag``, dim and italic."""
    if ovs is None:
        return Text(tag, style="dim italic", overflow="fold")
    if not ovs:
        return Text("(none)", style="dim")
    text = Text(overflow="fold")
    for i, o in enumerate(ovs):
        if i:
            text.append(" ")
        key, eq, value = o.partition("=")
        text.append(key + eq, style="bold" if eq else "")
        text.append(value)
    return text


def project_of(job: JobInfo) -> str:
    """The project root of the job's run (from its config path when an older daemon did not say)."""
    project = getattr(job, "project", "") or ""
    if not project and "/conf/" in job.config:
        project = job.config.rsplit("/conf/", 1)[0]
    return project.rstrip("/") or project


def same_project(job: JobInfo, project_root: str) -> bool:
    return project_of(job) == (project_root.rstrip("/") or project_root)


def project_label(root: str) -> str:
    return os.path.basename(root.rstrip("/")) or root


def ended_note(before: JobInfo | None, after: JobInfo, label: str) -> tuple[str, str] | None:
    """(message, severity) when a job seen live has ended, else None (for the end-of-job toast)."""
    if before is None or before.state not in LIVE or after.state not in FINAL:
        return None
    what = {"completed": "completed", "crashed": "crashed", "cancelled": "was cancelled", "lost": "was lost"}
    text = f"job {after.job_id} {what[after.state]}: {label}"
    if after.exit_code:
        text += f" (exit {after.exit_code})"
    ovs = overrides_of(after)
    if ovs:
        text += " " + " ".join(ovs)
    return text, "information" if after.state == "completed" else "warning" if after.state == "cancelled" else "error"


MAX_END_TOASTS = 3  # more jobs ending at once: one toast counting them


def end_toasts(before: dict[str, JobInfo], after: list[JobInfo], label) -> list[tuple[str, str]]:
    """The toasts for the jobs of ``after`` seen live in ``before`` that have ended: one each, or
    one counting them when more than ``MAX_END_TOASTS`` end at once (``label``: a config's label)."""
    latest = list({j.job_id: j for j in after}.values())  # a job listed twice: its last view
    notes = [n for j in latest if (n := ended_note(before.get(j.job_id), j, label(j.config))) is not None]
    if len(notes) <= MAX_END_TOASTS:
        return notes
    counts: dict[str, int] = {}
    for j in latest:
        if ended_note(before.get(j.job_id), j, "") is not None:
            counts[j.state] = counts.get(j.state, 0) + 1
    worst = "error" if counts.get("crashed") or counts.get("lost") else "information"
    return [(f"{len(notes)} jobs ended: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), worst)]
