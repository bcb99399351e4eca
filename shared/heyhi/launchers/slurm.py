"""The Slurm launcher: a job is a batch script (``heyhi.slurm.script``) submitted with sbatch.

Here are the Slurm commands HeyHi runs (``run_slurm``: one subprocess each, a failure is a one-line
``SlurmError``): ``check_controller`` (scontrol ping), ``submit`` (sbatch), ``cancel`` (scancel),
``requeue`` (scontrol requeue), ``max_array_size`` (scontrol show config), and ``live_jobs`` (one
squeue, parsed by ``heyhi.slurm.query``). A schema without the rank fields (``ntasks``, ``nodes``,
``torchrun``) gets them from ``[tool.heyhi.launcher]`` of the project's pyproject.toml
(``with_project_launcher``, the one place that table is read). A Slurm job is alive while squeue lists it; its jobs are
followed by the daemon (``tracked_by_daemon``: ``heyhi_daemon.launchers.slurm_tracker`` polls them),
and a sweep's points go to it as job arrays (``arrays``).

Stdlib only.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from heyhi.errors import ConfigError, NothingStarted
from heyhi.launchers.base import Launcher
from heyhi.launchers.containers import job_python, shell_prefix
from heyhi.slurm import query as sp
from heyhi.slurm.script import SPEC_FIELDS, SlurmSpec, render_sbatch
from heyhi.slurm.identity import identity, with_identity

__all__ = ["SlurmLauncher", "SLURM", "SlurmError", "run_slurm", "submit_timeout", "check_controller", "submit",
           "cancel", "requeue", "max_array_size", "live_jobs", "write_script", "spec_of", "DEFAULT_TIMEOUT_S",
           "SCRIPT", "PROJECT_LAUNCHER_FIELDS", "with_project_launcher"]

DEFAULT_TIMEOUT_S = 30.0
PING_TIMEOUT_S = 5.0  # `scontrol ping` answers in ~20 ms, or at once "DOWN" when no controller listens
SCRIPT = "slurm.sbatch"  # a single job's batch script, in its run folder


def submit_timeout() -> float:
    """The bound on one sbatch (``HEYHI_SBATCH_TIMEOUT_S``, default 30 s): sbatch itself retries
    an unreachable controller for ~9 s and a missing slurm.conf for 60 s."""
    try:
        v = float(os.environ.get("HEYHI_SBATCH_TIMEOUT_S", ""))
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return v if v > 0 else DEFAULT_TIMEOUT_S


class SlurmError(RuntimeError):
    """A Slurm command failed; the message is one line (the command's stderr, condensed)."""


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def run_slurm(
    argv: list[str], *, timeout: float = DEFAULT_TIMEOUT_S, env: Mapping[str, str] | None = None
) -> str:
    """Run a Slurm command, return its stdout; a failure raises SlurmError (one line)."""
    try:
        p = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise SlurmError(f"{argv[0]}: command not found (is Slurm installed and on PATH?)") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{argv[0]} did not answer within {timeout:g} s") from None
    if p.returncode != 0:
        msg = _one_line(p.stderr or p.stdout) or f"exit status {p.returncode}"
        raise SlurmError(f"{argv[0]} failed: {msg}")
    return p.stdout


def check_controller(*, timeout: float = PING_TIMEOUT_S, env: Mapping[str, str] | None = None) -> None:
    """Raise SlurmError (one line) unless ``scontrol ping`` says a controller is UP: a submit to a
    cluster without one would only fail after sbatch's own retries."""
    try:
        out = run_slurm(["scontrol", "ping"], timeout=timeout, env=env)
    except SlurmError as e:
        raise SlurmError(f"no Slurm controller answers ({e})") from None
    if " UP" not in out:
        raise SlurmError(f"no Slurm controller answers (scontrol ping: {_one_line(out.splitlines()[0] if out.strip() else 'no answer')})")


def submit(script_path: Path, *, timeout: float = DEFAULT_TIMEOUT_S, env: Mapping[str, str] | None = None,
           dependency: str | None = None) -> str:
    """``sbatch --parsable script`` -> job id (``123``; a federation suffix ``;cluster`` is
    dropped); ``dependency`` (``afterok:123``) holds the job until that one ends so. A rejected
    submission raises SlurmError with sbatch's stderr on one line."""
    dep = [f"--dependency={dependency}"] if dependency else []
    out = run_slurm(["sbatch", "--parsable", *dep, str(script_path)], timeout=timeout, env=env)
    job_id = out.strip().splitlines()[-1].split(";", 1)[0].strip() if out.strip() else ""
    if not job_id or not job_id.replace("_", "").isdigit():
        raise SlurmError(f"sbatch printed no job id: {_one_line(out)!r}")
    return job_id


def cancel(job_id: str, *, signal: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """``scancel JOB`` (or ``scancel --batch -s SIGNAL JOB`` to signal the batch shell only)."""
    argv = ["scancel"] + (["--batch", "-s", signal] if signal else []) + [str(job_id)]
    run_slurm(argv, timeout=timeout)


def requeue(job_id: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """``scontrol requeue JOB``: the job goes back to PENDING (reason BeginTime) and runs again."""
    run_slurm(["scontrol", "requeue", str(job_id)], timeout=timeout)


def max_array_size(default: int = 1001) -> tuple[int, str | None]:
    """(the cluster's ``MaxArraySize`` from ``scontrol show config``, None) or (``default``, why not)."""
    try:
        out = run_slurm(["scontrol", "show", "config"])
    except SlurmError as e:
        return default, str(e)
    m = re.search(r"^MaxArraySize\s*=\s*(\d+)", out, re.M)
    return (int(m.group(1)) if m else default), None


def live_jobs() -> set[str] | None:
    """Ids of the user's jobs squeue lists as not final (and their array ids), or None without squeue."""
    if shutil.which("squeue") is None:
        return None
    try:
        out = subprocess.run(sp.squeue_argv(), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return sp.live_job_ids(sp.parse_squeue(out.stdout))


def spec_of(settings: Mapping | None, job_name: str) -> SlurmSpec:
    """The batch script's spec from a run's recorded ``slurm`` settings (fields the script does not
    use, such as ``max_attempts``, left out; ``job_name`` unless they name one). ValueError if bad."""
    d = {k: v for k, v in (settings or {}).items() if k in SPEC_FIELDS}
    d.setdefault("job_name", job_name)
    return SlurmSpec.from_mapping(d)


#: launcher fields a project may set in ``[tool.heyhi.launcher]`` of its pyproject.toml when its schema's
#: ``launcher.slurm`` lacks them (a Cicero schema); where the schema has one, the config's value wins
PROJECT_LAUNCHER_FIELDS: dict[str, type] = {"ntasks": int, "nodes": int, "torchrun": bool, "segments": int,
                                            "container": dict}  # container: read by heyhi.launchers.containers


def with_project_launcher(settings: dict, tool: Mapping) -> dict:
    """``settings`` (a run's ``launcher.slurm``) with the fields of ``PROJECT_LAUNCHER_FIELDS`` it lacks
    taken from ``tool`` (``[tool.heyhi]``)'s ``launcher`` table. A bad table is a one-line ConfigError."""
    table = tool.get("launcher") if isinstance(tool, Mapping) else None
    if table is None:
        return settings
    where = "pyproject.toml [tool.heyhi.launcher]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    out = dict(settings)
    for key, value in table.items():
        kind = PROJECT_LAUNCHER_FIELDS.get(key)
        if kind is dict and isinstance(value, Mapping):
            continue  # a table another module reads (the container block: heyhi.launchers.containers)
        if kind is None:
            raise ConfigError(f"{where}: unknown field {key!r} (known: {', '.join(sorted(PROJECT_LAUNCHER_FIELDS))})")
        if type(value) is not kind or (kind is int and not 0 <= value <= 100_000):
            want = "true or false" if kind is bool else "a whole number from 0"
            raise ConfigError(f"{where}: {key} = {value!r}: expected {want}")
        out.setdefault(key, value)
    return out


def write_script(folder: Path, info: dict) -> Path:
    """Write the run's batch script (``slurm.sbatch``) into its folder; returns its path. The job's
    comment carries the run's identity (``heyhi.slurm.identity``: found again after a crash)."""
    folder = Path(folder)
    spec = spec_of(info.get("slurm"), folder.name)
    spec.comment = with_identity(spec.comment, identity(folder))
    script = render_sbatch(spec, folder, job_python(info), env={"HEYHI_RUN_DIR": str(folder)},
                           prefix=shell_prefix(info, shlex.quote(str(folder))))
    (folder / SCRIPT).write_text(script)
    return folder / SCRIPT


class SlurmLauncher(Launcher):
    name = "slurm"
    title = "Slurm"
    tracked_by_daemon = True
    arrays = True
    by_process = False

    def settings(self, msg: Any) -> dict | None:
        from heyhi.config.values import to_dict  # lean: python -m heyhi.job loads the launchers, not config values

        return to_dict(msg, with_defaults=True)

    def with_project(self, settings: dict, project: Any) -> dict:
        return with_project_launcher(settings, getattr(project, "settings", None) or {})

    def owns_job_id(self, jobid: str) -> bool:
        return jobid.split("_")[0].isdigit()  # a Slurm id: 123, or 123_4 for an array task

    def job_id_here(self) -> str | None:
        if "SLURM_ARRAY_JOB_ID" in os.environ and "SLURM_ARRAY_TASK_ID" in os.environ:
            return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
        return os.environ.get("SLURM_JOB_ID")

    def live_jobs(self) -> set[str] | None:
        return live_jobs()

    def start(self, folder: Path, info: dict) -> str:
        """Write the batch script and submit it (a controller checked first); the Slurm job id.
        Nobody follows the job here: the daemon does (``tracked_by_daemon``)."""
        try:
            script = write_script(folder, info)
            check_controller()
            return submit(script, timeout=submit_timeout())
        except (ValueError, SlurmError, OSError) as e:
            why = f"{e.filename}: {e.strerror}" if isinstance(e, OSError) else str(e)
            raise NothingStarted(f"nothing started: Slurm submission failed: {why}") from None

    def stop(self, folder: Path, status: dict) -> None:
        """scancel, then wait (up to 2 minutes) until squeue no longer lists the job."""
        jobid = status.get("jobid") or ""
        if jobid:
            subprocess.run(["scancel", jobid], capture_output=True)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                live = live_jobs()
                if live is None or jobid not in live:
                    return
                time.sleep(0.5)


SLURM = SlurmLauncher()
