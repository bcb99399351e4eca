"""The launcher interface, and the registry that picks a launcher for a config or a run record.

A launcher starts ``python -m heyhi.job RUN_DIR`` somewhere and can stop it again; everything else a
run needs (the folder, its records, the lock, the decision) is the launch sequence's
(``heyhi.runs.sequence``), which calls a launcher only through this interface. A new cluster plugs in
by implementing ``Launcher`` and calling ``register``; its name is the arm of the config's
``launcher`` oneof that selects it (``launcher.slurm.*`` selects ``slurm``). No code outside
``heyhi.launchers`` compares launcher names: callers ask the launcher what it needs
(``tracked_by_daemon``, ``arrays``, ``by_process``).

The daemon follows the jobs of launchers that say ``tracked_by_daemon`` with its own asyncio side of
them (``heyhi_daemon.launchers``); the embedded CLI runs only the others.

Stdlib only (the config is read through ``heyhi.config.values`` when a launcher has settings).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

__all__ = ["Launcher", "register", "unregister", "get", "names", "for_config", "config_of", "for_status",
           "this_job", "DEFAULT"]

DEFAULT = "local"  # the launcher of a config that names none, and of a record that names none


class Launcher(ABC):
    """One way of running a job. Subclasses set the class attributes and implement ``start``/``stop``."""

    #: the name recorded in ``heyhi.run.json``/``heyhi.status.json`` (``launcher``), and the config's
    #: ``launcher`` oneof arm that selects it
    name: str = ""
    #: how messages name it ("Slurm launches go through the daemon")
    title: str = ""
    #: its jobs need the daemon to follow them (the embedded CLI hands such launches to a daemon)
    tracked_by_daemon: bool = False
    #: a sweep's points may go to it as one array (``heyhi_daemon.sweep_manager``)
    arrays: bool = False
    #: its job is a process of the host that recorded it: alive while that pid is (and its heartbeat);
    #: otherwise a scheduler says which of its jobs are alive (``live_jobs``)
    by_process: bool = True

    def settings(self, msg: Any) -> dict | None:
        """This launcher's settings from its arm of the config's ``launcher`` oneof (recorded in
        ``heyhi.run.json`` under ``slurm``: that record's one key for launcher settings); None when it
        has none."""
        return None

    @abstractmethod
    def start(self, folder: Path, info: dict) -> Any:
        """Start the job of the prepared run ``folder`` (``info``: its ``heyhi.run.json``) on the embedded
        path; raise ``heyhi.errors.NothingStarted`` when nothing could be started."""

    @abstractmethod
    def stop(self, folder: Path, status: dict) -> None:
        """Stop the live run in ``folder`` from its status record (``jobid`` filled in) and return once
        it has stopped."""

    def with_project(self, settings: dict, project: Any) -> dict:
        """``settings`` completed from the project (``[tool.heyhi.launcher]`` of its pyproject.toml) for
        fields its schema lacks; a ``heyhi.errors.ConfigError`` when that table is bad."""
        return settings

    def owns_job_id(self, jobid: str) -> bool:
        """Does a recorded job id (``heyhi.jobid``) name a job of this launcher?"""
        return False

    def job_id_here(self) -> str | None:
        """The id of the job this process runs as under this launcher (from the environment), or None."""
        return None

    def live_jobs(self) -> set[str] | None:
        """For a launcher that is not ``by_process``: the ids of its live jobs (None: cannot tell)."""
        return None


_REGISTRY: dict[str, Launcher] = {}


def register(launcher: Launcher) -> Launcher:
    """Make ``launcher`` known under its name (replacing one of that name); returns it."""
    if not launcher.name:
        raise ValueError(f"a launcher needs a name: {launcher!r}")
    _REGISTRY[launcher.name] = launcher
    return launcher


def unregister(name: str) -> None:
    """Forget the launcher ``name`` (tests); the default one stays."""
    if name != DEFAULT:
        _REGISTRY.pop(name, None)


def names() -> list[str]:
    """The registered launchers' names, in registration order."""
    return list(_REGISTRY)


def get(name: str | None) -> Launcher:
    """The launcher called ``name``; the default one for None or a name this HeyHi does not know (a
    record of an unknown launcher is judged and stopped as a local process, as it always was)."""
    return _REGISTRY.get(name or DEFAULT) or _REGISTRY[DEFAULT]


def _arm(composed) -> tuple[str | None, Any]:
    """(the set arm of the task's ``launcher`` oneof, its message) or (None, None)."""
    task = composed.task_msg
    if "launcher" not in task._type.fields:
        return None, None
    lmsg = task._v.get("launcher")
    if lmsg is None:
        return None, None
    which = lmsg._which("launcher") if "launcher" in lmsg._type.oneofs else None
    return which, (lmsg._v.get(which) if which else None)


def for_config(composed) -> Launcher:
    """The launcher the composed config selects (its ``launcher`` oneof arm; the default when unset)."""
    return get(_arm(composed)[0])


def config_of(composed) -> tuple[Launcher, dict | None]:
    """(the launcher the config selects, its settings as a dict or None)."""
    which, msg = _arm(composed)
    launcher = get(which)
    settings = launcher.settings(msg) if launcher.name == which and msg is not None else None
    return launcher, (launcher.with_project(settings, composed.project) if settings is not None else None)


def for_status(status: dict, jobid: str = "", *, stopping: bool = False) -> Launcher:
    """The launcher of a recorded run: the one its status names (``launcher``; the default when none).

    When the record's name and its job id (``jobid``, else the status's) disagree, judging liveness
    trusts an id a process launcher owns (``local:<pid>``: the pid is checked), and ``stopping``
    trusts an id a scheduler owns (it is cancelled there: no signal goes to an unrelated pid)."""
    jobid = jobid or status.get("jobid") or ""
    named = get(status.get("launcher"))
    if jobid:
        for launcher in _REGISTRY.values():
            if launcher.by_process != stopping and launcher.owns_job_id(jobid):
                return launcher
    return named


def this_job(recorded: str | None) -> tuple[str, str | None]:
    """(the name of the launcher this job process runs under, its job id there): a launcher whose
    environment this process is in (a Slurm allocation); else the recorded one when its jobs are
    processes (a name this process does not know, such as a launcher registered only by the process
    that started it, is kept), else the default. None: the job id is the caller's (``local:<pid>``)."""
    for launcher in _REGISTRY.values():
        jid = launcher.job_id_here()
        if jid:
            return launcher.name, jid
    known = _REGISTRY.get(recorded or DEFAULT)
    if known is None:
        return recorded or DEFAULT, None
    return (known.name if known.by_process else DEFAULT), None
