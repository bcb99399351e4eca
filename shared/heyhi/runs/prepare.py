"""Writing a run folder's records: the composed config, overrides, version, how to run it, status,
and the code snapshot. Called only by the launch sequence (``heyhi.runs.sequence``), which decides
whether and where; on failure nothing half-written is left behind."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from heyhi import launchers, __version__
from heyhi.launchers import containers
from heyhi.runs import records as R, formats as F, provenance
from heyhi.runs.liveness import this_host
from heyhi.perms import make_dir
from heyhi.config.printing import to_text
from heyhi.runs.snapshot import git_info, take_snapshot


def prepare_run(project, composed, run_dir: Path, *, adhoc: bool = False, checkpoint: str | None = None,
                state: str = R.QUEUED, owner_pid: int | None = None, results_root: Path | None = None) -> dict:
    """Write the run folder's records (config, overrides, version, run info, status) and take
    the code snapshot. On failure nothing half-written is left behind."""
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    results_root = Path(results_root) if results_root else project.results_root
    # the image is checked before anything is written (a mismatch is one line, nothing left behind)
    container = containers.resolve(containers.from_config(composed), sys.executable)
    try:
        snap_hash = None
        code_dir = project.root
        if checkpoint != "" and not (adhoc and checkpoint is None):
            store = Path(checkpoint).expanduser() if checkpoint else results_root / ".heyhi" / "code"
            code_dir, snap_hash = take_snapshot(project.root, store, exclude=[results_root])
        make_dir(run_dir)
        launcher, settings = launchers.config_of(composed)
        R.write_atomic(run_dir / R.CONFIG, to_text(composed.task_msg))
        R.write_atomic(run_dir / R.CONFIG_META, to_text(composed.meta))
        R.write_atomic(run_dir / R.OVERRIDES, "".join(o.source + "\n" for o in composed.overrides))
        provenance.write(run_dir, composed)  # where each value came from (heyhi diff shows it)
        version = {"heyhi_version": __version__, **git_info(project.root), "snapshot": snap_hash,
                   "python": sys.version.split()[0]}
        R.write_atomic(run_dir / R.VERSION, json.dumps(F.stamp(version, F.VERSION), indent=1))
        info = {
            "project_root": str(project.root),
            "results_root": str(results_root),
            "code_dir": str(code_dir),
            "config": str(Path(composed.config).absolute()),
            "overrides": [o.source for o in composed.overrides],
            "task": composed.task,
            "tasks_module": project.run_module,
            "known_tasks": list(composed.meta._type.oneofs.get("task", [])),
            "launcher": launcher.name,
            "slurm": settings,
            "python": sys.executable,
            "adhoc": adhoc,
        }
        if container is not None:  # the job runs in this image (heyhi.launchers.containers)
            info["container"] = container
        if composed.script is not None:  # a script task: what the job runs, and its schema (no derivation there)
            R.write_atomic(run_dir / R.SCRIPT, composed.script.to_json())
            info["script"] = Path(composed.config).absolute().relative_to(project.root).as_posix()
        R.write_atomic(run_dir / R.RUN, json.dumps(F.stamp(info, F.RUN), indent=1))
        prev = R.RunDir(run_dir).read_status()
        attempt = int(prev.get("attempt") or 1) + 1 if prev else 1  # start_continue: a new attempt
        R.RunDir(run_dir).set_state(state, launcher=launcher.name, attempt=attempt, owner_pid=owner_pid,
                                    owner_host=this_host() if owner_pid else None,
                                    owner_start=R.proc_start_time(owner_pid) if owner_pid else None)
        return info
    except BaseException:
        if created and run_dir.exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
