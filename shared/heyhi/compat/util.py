"""``heyhi.util``: the original HeyHi's job helpers, answered by HeyHi.

- ``get_job_env()`` is ``heyhi.job_env()`` (``heyhi.runs.jobenv``: Slurm's variables, or one local
  task); ``is_on_slurm``, ``is_master``, ``get_slurm_job_id``, ``get_slurm_master`` read the same
  variables (the master host from ``SLURM_JOB_NODELIST`` without calling ``scontrol``).
- ``maybe_init_requeue_handler(cb)`` registers ``cb`` with ``heyhi.on_preemption`` on a Slurm job's
  master: HeyHi's job runner already catches Slurm's warning signal and requeues the job.
- ``save_result_in_cwd(f)`` writes ``f``'s return value to ``result.torch`` with ``torch.save`` when
  torch is importable, else to ``result.pkl`` with ``pickle`` (the job runner also records a returned
  value as ``result.json`` or ``result.pkl``).
- ``log_git_status()`` logs the code's git revision: inside a HeyHi job (which runs from a code
  snapshot, not a git checkout) the revision and dirty flag recorded at launch; elsewhere ``git`` in
  the project (or working) folder, saving an uncommitted diff to ``workdir.diff`` on the master.
- ``setup_logging`` sets up the root logger as the original did (``I1201 10:00:00 [module:12] msg``).
- ``ExperimentDir`` (what ``heyhi.maybe_launch`` returns) reads a run folder's state with HeyHi's
  records (``heyhi.runs.records``): ``Status`` is the original's four-way view of it.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import os
import pickle
import subprocess
from pathlib import Path
from typing import Any, Callable

from heyhi import launchers
from heyhi.config.project import find_project_root
from heyhi.errors import ConfigError
from heyhi.runs import records as R
from heyhi.runs.jobenv import LOCAL_JOB_ID, JobEnv, first_host, is_master, job_env
from heyhi.runs.modes import MODES
from heyhi.runs.outdir import ADHOC_DIR, EXP_ID_PATTERN, exp_id
from heyhi.runs.task_api import on_preemption, run_dir

__all__ = [
    "MODES", "ModeType", "EXP_ID_PATTERN", "ADHOC_DIR_NAME", "JOBFILE_NAME", "RESULTFILE_NAME", "RESULT_PKL",
    "LOCAL_JOB_ID", "get_job_env", "get_slurm_job_id", "get_slurm_master", "is_adhoc", "is_aws", "is_devfair",
    "is_master", "is_on_slurm", "log_git_status", "maybe_init_requeue_handler", "reset_slurm_cache",
    "save_result_in_cwd", "setup_logging", "Status", "ExperimentDir", "get_exp_id",
]

ModeType = str
ADHOC_DIR_NAME = ADHOC_DIR
JOBFILE_NAME = R.JOBID
RESULTFILE_NAME = R.ORIGINAL_RESULT  # result.torch
RESULT_PKL = R.RESULT_PKL  # what save_result_in_cwd writes without torch
GIT_TIMEOUT_S = 60
_SLURM_CACHE: dict[str, Any] = {}


# ---- where and what this job is ------------------------------------------------------------------

def get_job_env() -> JobEnv:
    """This job's ranks, sizes, ids and hosts (``heyhi.job_env()``)."""
    return job_env()


def is_on_slurm() -> bool:
    return "SLURM_PROCID" in os.environ


def get_slurm_job_id() -> str | None:
    """``<array job>_<task>`` in an array, else ``SLURM_JOB_ID``; None outside Slurm."""
    array_job, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def get_slurm_master() -> str:
    """The first host of the job's ``SLURM_JOB_NODELIST``; ``localhost`` outside Slurm."""
    nodelist = os.environ.get("SLURM_JOB_NODELIST")
    return first_host(nodelist) if nodelist else "localhost"


def reset_slurm_cache() -> None:
    """Forget the live Slurm jobs ``ExperimentDir`` asked squeue for (ask again on next use)."""
    _SLURM_CACHE.clear()


def is_adhoc() -> bool:
    """Does the working folder lie under an ``adhoc`` folder (a run launched with ``--adhoc``)?"""
    return ADHOC_DIR_NAME in os.getcwd().split("/")


def is_aws() -> bool:
    return "S3_SHARED" in os.environ


def is_devfair() -> bool:
    return os.uname()[1].startswith("devfair")


def maybe_init_requeue_handler(master_callback: Callable[[], Any] | None = None) -> None:
    """On a Slurm job's master, call ``master_callback`` when Slurm warns of the end (time limit or
    preemption), before the job is requeued (``heyhi.on_preemption``). Nothing to do elsewhere."""
    if not is_on_slurm():
        return
    if is_master() and master_callback is not None:
        on_preemption(master_callback)
    logging.info("Preemption callback registered (HeyHi's job runner requeues the job).")


# ---- logging ------------------------------------------------------------------------------------

_LEVEL_LETTERS = {logging.DEBUG: "D", logging.INFO: "I", logging.WARNING: "W", logging.ERROR: "E",
                  logging.CRITICAL: "C"}


def _formatter(label: str | None) -> logging.Formatter:
    if label is not None and "%" in label:
        raise ValueError("Label cannot contain %")
    middle = f" {label} " if label is not None else " "
    return logging.Formatter(f"%(levelname)s%(asctime)s{middle}[%(module)s:%(lineno)d] %(message)s",
                             datefmt="%m%d %H:%M:%S")


def setup_logging(
    *,
    console_level: int | str | None = logging.INFO,
    fpath: str | Path | None = None,
    file_level: int | str = logging.DEBUG,
    label: str | None = None,
) -> logging.Logger:
    """Replace the root logger's handlers: the console at ``console_level`` (None: no console), and
    ``fpath`` at ``file_level`` when given; levels show as one letter; ``label`` goes in every line."""
    for level, letter in _LEVEL_LETTERS.items():
        logging.addLevelName(level, letter)
    fmt = _formatter(label)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    for f in list(root.filters):
        root.removeFilter(f)
    root.setLevel(logging.DEBUG)
    root.propagate = False
    targets = []
    if console_level is not None:
        targets.append((logging.StreamHandler(), console_level))
    if fpath is not None:
        targets.append((logging.FileHandler(fpath), file_level))
    for handler, level in targets:
        handler.setLevel(level)
        handler.setFormatter(fmt)
        root.addHandler(handler)
    return root


# ---- the code's version ---------------------------------------------------------------------------

def _git(args: list[str], cwd: Path) -> str | None:
    try:
        p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT_S,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        logging.error("git %s failed: %s", " ".join(args), e)
        return None
    if p.returncode != 0:
        logging.error("git %s failed: exit status %s", " ".join(args), p.returncode)
        return None
    return p.stdout.decode("utf8", "replace")


def log_git_status(base_path_for_logging: str | Path | None = None) -> None:
    """Log the code's git revision and whether it had uncommitted changes (see the module docstring)."""
    recorded = R.RunDir(run_dir()).read_version() if os.environ.get("HEYHI_RUN_DIR") else {}
    if recorded:
        logging.info("Git revision: %s (recorded at launch; the job runs from a code snapshot %s)",
                     recorded.get("git_commit"), recorded.get("snapshot"))
        logging.info("Uncommitted changes at launch: %s", recorded.get("git_dirty"))
        return
    try:
        root = find_project_root()
    except ConfigError:
        root = Path.cwd()
    rev = _git(["rev-parse", "HEAD"], root)
    if rev is not None:
        logging.info("Git revision: %s", rev.strip())
    diff = _git(["diff", "HEAD"], root)
    if not diff:
        if diff is not None:
            logging.info("No diff in the working copy")
        return
    path = (Path(base_path_for_logging) if base_path_for_logging is not None else Path.cwd()) / "workdir.diff"
    if is_master():
        logging.info("Found unsubmitted diff. Saving to %s", path.resolve())
        path.write_text(diff)
    else:
        logging.info("Found unsubmitted diff. NOT saving as not the master.")


# ---- results ------------------------------------------------------------------------------------

def _save_result(result: Any, folder: Path) -> Path:
    """Write ``result`` into ``folder``: result.torch with torch when importable, else result.pkl."""
    try:
        import torch  # lean: only a task that returns a result pays for torch (and only when it is there)
    except ImportError:
        torch = None
    if torch is None:
        path = folder / RESULT_PKL
        R.write_atomic(path, pickle.dumps(result))
        return path
    path = folder / RESULTFILE_NAME
    tmp = folder / f".{RESULTFILE_NAME}.{os.getpid()}.tmp"
    torch.save(result, tmp)
    os.replace(tmp, path)
    return path


def save_result_in_cwd(f: Callable) -> Callable:
    """Decorate ``f`` so that its return value is saved in the working folder (the run's folder in a
    job) on the master: ``result.torch`` with torch, else ``result.pkl``."""

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        result = f(*args, **kwargs)
        if is_master():
            path = _save_result(result, Path.cwd())
            logging.info("Saved result to %s", path)
        return result

    return wrapped


# ---- a run folder, as the original saw it ----------------------------------------------------------

class Status(enum.IntEnum):
    NOT_STARTED = 1
    DONE = 2
    DEAD = 3
    RUNNING = 4


def get_exp_id(config_path: Path, overrides: list[str], adhoc: bool, exp_id_pattern: str | None = None) -> str:
    """The run's folder relative to the results root (``heyhi.runs.outdir.exp_id``)."""
    try:
        conf_dir = find_project_root(Path(config_path)) / "conf"
    except ConfigError:
        conf_dir = Path.cwd() / "conf"
    return exp_id(Path(config_path), conf_dir, overrides, adhoc, exp_id_pattern)


class ExperimentDir:
    """A run folder: its state, job id and result, read from HeyHi's records (or the original's)."""

    def __init__(self, exp_path: Path | str, exp_id: str = ""):
        self.exp_path = Path(exp_path)
        self.exp_id = exp_id

    @property
    def job_id_path(self) -> Path:
        return self.exp_path / JOBFILE_NAME

    @property
    def result_path(self) -> Path:
        """The result file there is (result.torch, result.pkl, result.json, in that order); else result.torch."""
        for name in (RESULTFILE_NAME, RESULT_PKL, R.RESULT_JSON):
            if (self.exp_path / name).exists():
                return self.exp_path / name
        return self.exp_path / RESULTFILE_NAME

    @property
    def slurm_path(self) -> Path:
        return self.exp_path / "slurm"

    def maybe_get_job_id(self) -> str | None:
        return R.RunDir(self.exp_path).read_jobid()

    def state(self) -> str:
        """HeyHi's state of the run (``heyhi.states.RunState``)."""
        run = R.RunDir(self.exp_path)
        st = run.read_status() or {}
        jobid = st.get("jobid") or run.read_jobid() or ""
        live = None
        if jobid and not launchers.for_status(st, jobid).by_process:  # a scheduler's job: ask it once
            if "job_list" not in _SLURM_CACHE:
                _SLURM_CACHE["job_list"] = launchers.SLURM.live_jobs()
            live = _SLURM_CACHE["job_list"]
        return run.state(slurm_live=live)[0]

    def get_status(self) -> Status:
        state = self.state()
        if state == R.NOT_STARTED:
            return Status.NOT_STARTED
        if state == R.COMPLETED:
            return Status.DONE
        return Status.RUNNING if state in R.LIVE_STATES else Status.DEAD

    def is_done(self) -> bool:
        return self.get_status() == Status.DONE

    def is_started(self) -> bool:
        return self.get_status() != Status.NOT_STARTED

    def is_running(self) -> bool:
        return self.get_status() == Status.RUNNING

    def load_result(self) -> Any:
        """The saved result (None when there is none): torch.load, pickle or json by its file."""
        path = self.result_path
        if not path.exists():
            return None
        if path.name == R.RESULT_JSON:
            return json.loads(path.read_text())
        if path.name == RESULT_PKL:
            return pickle.loads(path.read_bytes())
        import torch  # lean: only a result.torch needs torch

        return torch.load(path)

    def __repr__(self) -> str:
        return f"ExperimentDir({str(self.exp_path)!r}, exp_id={self.exp_id!r})"
