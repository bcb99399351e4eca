"""The launch sequence, once: check, lock, decide, (confirm), stop, wipe, prepare, start.

Every path that writes a run goes through ``launch``: ``heyhi run`` embedded, the daemon's
``Launch`` and ``Restart``, sweeps (embedded, daemon, Slurm arrays) and the TUI (through the
daemon). The safety rules live here and in ``heyhi.runs.guard``; nothing else writes or wipes:

- the folder has one spelling (``ownership.canonical``): the lock and the job id use it;
- a run is written only where ``guard.check_writable`` allows;
- the decision is taken under the folder's lock, from the folder's state read under that lock;
- a wipe needs a yes: ``Plan.yes`` (``--force``, a request's ``force``), a confirmation of the very
  state the user saw (``Plan.expect_state``), or ``Host.confirm`` (a terminal prompt); otherwise
  ``NeedsConfirm``. It then passes ``guard.check_wipe`` and moves the folder to the trash;
- a folder is written aside and renamed into place, so a kill -9 leaves no half-written folder;
- a launch that started nothing (``NothingStarted``) puts the folder back as it was.

A ``Host`` supplies what differs between callers (asking, stopping, the daemon's index, starting); by
default it starts and stops a run through the run's launcher (``heyhi.launchers``), the one interface
to local processes, Slurm and any launcher registered later.
``$HEYHI_TEST_KILL_AT=<step>`` kills the process at that step (tests only).
"""

from __future__ import annotations

import os
import shutil
import signal
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from heyhi import launchers
from heyhi.runs import records as R, guard, ownership, trash, liveness as L
from heyhi.errors import HeyHiError, NothingStarted, Refused
from heyhi.runs.modes import Decision, decide
from heyhi.perms import make_dir
from heyhi.wire.paths import state_dir

STEPS = ("checked", "locked", "decided", "stopped", "wiped", "indexed", "written", "started")


class NeedsConfirm(HeyHiError):
    """The decision wipes a folder and nobody said yes; ``folder`` and ``state`` say what to confirm."""

    exit_code = 2

    def __init__(self, folder: Path, state: str, decision: Decision):
        self.folder, self.state, self.decision = folder, state, decision
        super().__init__(f"refusing to wipe {folder} ({state}) without a yes: pass --force")


def kill_point(step: str) -> None:
    """Test hook: SIGKILL this process at ``step`` when ``$HEYHI_TEST_KILL_AT`` names it."""
    if os.environ.get("HEYHI_TEST_KILL_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Plan:
    """What to launch, and where (``run_dir`` as computed; it is canonicalised here)."""

    project: Any
    composed: Any
    run_dir: Path
    results_root: Path
    mode: str
    trusted_roots: list[Path] = field(default_factory=list)  # roots this process computed itself
    explicit_out: bool = False  # the folder came from --out (or a job's own folder), not from the config
    yes: bool = False
    expect_state: str = ""
    adhoc: bool = False
    checkpoint: str | None = None
    owner_pid: int | None = None
    slurm_live: set | None = None  # for liveness: None asks squeue when needed


@dataclass
class Outcome:
    run_dir: Path
    decision: Decision
    state: str  # the folder's state when decided
    previous: dict = field(default_factory=dict)  # the wiped run's status
    started: Any = None
    trashed: trash.Entry | None = None
    created: bool = False  # this launch created the folder (``unstart`` removes it)
    saved_status: bytes | None = None  # the status record before this launch (``unstart`` restores it)
    lock: Any = None  # with ``keep_lock``: the held folder lock

    def release(self) -> None:
        """Release a folder lock kept by ``launch(..., keep_lock=True)``."""
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    @property
    def what(self) -> str:
        d = self.decision
        return "skip" if not d.run else "stop, wipe and run" if d.stop else "wipe and run" if d.wipe else "run"


class Host:
    """What differs between callers; the defaults suit a process with no daemon and no terminal."""

    def confirm(self, folder: Path, state: str, decision: Decision) -> bool:
        """Ask the user whether to wipe ``folder`` (in ``state``); False: not confirmed."""
        return False

    def stop(self, folder: Path, status: dict) -> None:
        """Stop the live run in ``folder`` and return once it has stopped."""
        from heyhi.runs.stopping import stop_run  # lean: keeps the start-up of the daemon from loading it

        stop_run(folder, status)

    def before_write(self, folder: Path, previous: dict) -> None:
        """Called before the folder is written (the daemon indexes the job here: write-ahead)."""

    def start(self, folder: Path, info: dict) -> Any:
        """Start the job; raise ``NothingStarted`` when nothing could be started. By default the run's
        launcher (``heyhi.launchers``, by the name ``info`` records) starts it."""
        return launchers.get(info.get("launcher")).start(folder, info)

    def abort(self, folder: Path) -> None:
        """The launch failed after ``before_write``: forget the job."""


def roots_for(plan_roots: list[Path]) -> list[Path]:
    """The configured results roots (``ownership.known_roots``) plus the caller's trusted ones."""
    return ownership.known_roots(*plan_roots)


def launch(plan: Plan, host: Host, *, keep_lock: bool = False) -> Outcome:
    """Run the sequence for one folder (see the module docstring). With ``keep_lock`` the folder
    lock stays held after a start, until ``Outcome.release()`` (a foreground run holds it until
    the job ends, so a second launch of the folder meanwhile answers "taken")."""
    stack = ExitStack()
    with stack:
        out = _launch(plan, host, stack)
        if keep_lock and out.decision.run:
            out.lock = stack.pop_all()
    return out


def lock_root(folder: Path, results_root: Path | str, roots: list[Path]) -> Path:
    """Where ``folder``'s lock lives (``<it>/.heyhi/locks``): the launch's results root when the user
    configured it (``roots``), else the deepest configured root holding the folder, else the user's
    state folder. Never a root that only a request or a run record named: a Launch naming "/" or a
    folder's own parent must not make HeyHi write ``.heyhi/`` there."""
    c = ownership.canonical(results_root)
    if c in roots:
        return Path(results_root)
    owners = [r for r in roots if r in folder.parents]
    if owners:
        return max(owners, key=lambda r: len(r.parts))

    return Path(state_dir())


@contextmanager
def run_lock(folder: Path, results_root: Path | str, roots: list[Path]) -> Iterator[None]:
    """The folder's launch lock, held by every path that writes or wipes it: one in the user's state
    folder, keyed by the folder alone (so launches naming different results roots still meet), and,
    for a group-shared root, one under ``lock_root`` (so colleagues meet too)."""
    from heyhi.runs.locks import folder_lock  # lean: keeps the start-up of the daemon from loading it

    with ExitStack() as stack:
        mine = Path(state_dir())
        stack.enter_context(folder_lock(mine, folder))
        shared = lock_root(folder, results_root, roots)
        if shared != mine:
            stack.enter_context(folder_lock(shared, folder))
        yield


def _launch(plan: Plan, host: Host, stack) -> Outcome:
    roots = roots_for(plan.trusted_roots)
    folder = guard.check_writable(plan.run_dir, roots)
    kill_point("checked")
    stack.enter_context(run_lock(folder, plan.results_root, roots))
    kill_point("locked")
    folder = guard.check_writable(folder, roots)  # again, under the lock
    state, st = R.RunDir(folder).state(slurm_live=plan.slurm_live)
    d = decide(plan.mode, state)
    out = Outcome(folder, d, state)
    if not d.run:
        return out
    kill_point("decided")
    if d.wipe:
        yes = plan.yes or (plan.expect_state != "" and plan.expect_state == state)
        if not yes and not host.confirm(folder, state, d):
            raise NeedsConfirm(folder, state, d)
        guard.check_wipe(folder, roots, ownership.created_outs(), computed=not plan.explicit_out)
    if d.stop:
        if L.is_other_host(st):  # alive there (state() said so): this host cannot stop it
            raise Refused(f"refusing to stop and wipe {folder}: {L.other_host_alive(folder, st)[1]}; "
                          "stop it on its host first")
        host.stop(folder, st)
        kill_point("stopped")
    if d.wipe:
        out.previous = R.RunDir(folder).read_status() or st
        out.trashed = trash.move_to_trash(folder, roots, days=trash.retention_days(_settings(plan)))
        kill_point("wiped")
    elif state in R.LIVE_STATES:  # a running folder is never reset
        raise Refused(f"refusing to write into {folder}: its run is {state}")
    host.before_write(folder, out.previous)
    kill_point("indexed")
    created = out.created = not os.path.lexists(folder)
    saved = out.saved_status = _status_bytes(folder)
    if plan.explicit_out and created and not any(r in folder.parents for r in roots):
        ownership.register_out(folder)  # before writing: a folder HeyHi made is always on record
    try:
        try:
            info = write_run(plan, folder)
        except OSError as e:  # a full disk, a read-only folder: one line, and the folder as it was
            raise NothingStarted(f"nothing started: cannot write the run into {folder}: "
                                 f"{e.strerror or e}") from None
        kill_point("written")
        out.started = host.start(folder, info)
        kill_point("started")
    except NothingStarted as e:
        unstart(folder, created, saved)
        host.abort(folder)
        if out.trashed is not None:  # nothing started: the run that was wiped for it comes back
            try:
                trash.restore(out.trashed)
            except HeyHiError as r:
                raise NothingStarted(f"{e}; the old run stays in the trash: {out.trashed.path} ({r})") from None
        raise
    except BaseException:
        unstart(folder, created, saved)
        host.abort(folder)
        raise
    return out


def _settings(plan: Plan) -> dict:
    try:
        return plan.project.settings
    except Exception:  # noqa: BLE001 - settings were read before; a retention default is fine
        return {}


def _status_bytes(folder: Path) -> bytes | None:
    try:
        return (folder / R.STATUS).read_bytes()
    except OSError:
        return None


def unstart(folder: Path, created: bool, saved_status: bytes | None) -> None:
    """Put a folder back as it was before a launch that started nothing: remove a folder this
    launch created; else restore its previous status record (or none)."""
    if created:
        shutil.rmtree(folder, ignore_errors=True)
        return
    if saved_status is None:
        try:
            os.unlink(folder / R.STATUS)
        except OSError:
            pass
        return
    R.write_atomic(folder / R.STATUS, saved_status)


def write_run(plan: Plan, folder: Path) -> dict:
    """Write the run's records: aside and renamed into place for a new folder, in place otherwise."""
    from heyhi.runs.prepare import prepare_run  # lean: keeps the start-up of the daemon from loading it

    remove_stale_aside(folder)
    kw = dict(adhoc=plan.adhoc, checkpoint=plan.checkpoint, owner_pid=plan.owner_pid, results_root=plan.results_root)
    if os.path.isdir(folder) and not os.path.islink(folder):
        return prepare_run(plan.project, plan.composed, folder, **kw)
    make_dir(folder.parent)
    aside = folder.parent / f".{folder.name[:120]}.heyhi-new-{os.getpid()}"
    shutil.rmtree(aside, ignore_errors=True)
    try:
        info = prepare_run(plan.project, plan.composed, aside, **kw)
        os.rename(aside, folder)
    except BaseException:
        shutil.rmtree(aside, ignore_errors=True)
        raise
    return info


def remove_stale_aside(folder: Path) -> None:
    """Remove folders a killed launch left half-written beside ``folder`` (their pid is gone)."""
    prefix = f".{folder.name[:120]}.heyhi-new-"
    try:
        it = list(os.scandir(folder.parent))
    except OSError:
        return
    for e in it:
        if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False):
            pid = e.name[len(prefix):]
            if pid.isdigit() and int(pid) != os.getpid() and R.proc_start_time(int(pid)) is None:
                shutil.rmtree(e.path, ignore_errors=True)


def wipe(folder: Path | str, trusted_roots: list[Path], *, computed: bool = False, purge: bool = False,
         settings: dict | None = None) -> trash.Entry | None:
    """Wipe one folder outside a launch (``ctl wipe``, ``clean``): the guard's checks, then the trash
    (or, with ``purge``, delete at once). The caller holds the folder lock and has a yes."""
    roots = roots_for(trusted_roots)
    real = guard.check_wipe(folder, roots, ownership.created_outs(), computed=computed)
    if purge:
        trash.purge(real)
        return None
    return trash.move_to_trash(real, roots, days=trash.retention_days(settings))
