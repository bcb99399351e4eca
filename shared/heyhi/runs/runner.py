"""``python -m heyhi.job RUN_DIR``: the one way every launcher runs a job.

Imports the task functions from the run's code snapshot, runs the task with the run folder as
working folder, and itself records the outcome (``heyhi.status.json``, ``COMPLETED`` or
``CRASH.txt``, the exit code), so a job's final state is written even when nobody is its parent.

It records its host and touches ``heyhi.heartbeat`` every 30 s (``heyhi.runs.liveness``) from a
daemon thread that ends with it, so a host sharing the results folder can tell it is alive. A full
disk (ENOSPC, EDQUOT) anywhere ends the job as crashed with the reason "disk full": a small reserve
file, written at the start and freed first, leaves room for that last record.

A job of several tasks (ranks, ``heyhi.runs.jobenv``): every Slurm task first gets the distributed
environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``...). Only rank 0 claims the run
and writes its records, heartbeat and results; a rank N > 0 never claims (it waits, bounded, until
rank 0 has claimed the run as this Slurm job, else runs nothing), writes its output to
``stdout.rankN.log``/``stderr.rankN.log``, and reports its end in ``heyhi.rankN.exit`` (exit code and
reason, stamped with the Slurm job and restart count so a requeued job ignores older ones), then exits
0: srun must not kill rank 0 before it records the failure. Rank 0 watches those files while its task
runs and, after it, waits for all of them (``HEYHI_RANK_WAIT_S``, default 600 s): a rank that failed
ends the job as crashed, "rank N failed: exit C", with C as the job's exit code.

A run planned as N segments (``heyhi.slurm.segments``): the job learns its segment k from the chain
record (else the status), records "segment k of N" with its start, and gives the task
``HEYHI_SEGMENT``/``HEYHI_SEGMENTS``. When the task calls ``heyhi.segment_done()`` the job records the
run as submitted again for segment k+1 ("segment k of N done"; the last segment's completes the run)
and exits 0; a task that returns normally completes the run, and the job cancels the next segment's
queued job (``scancel``) before it exits; a crash is recorded as "segment k of N failed: ...". The time-limit warning inside a
segment requeues that same job (same segment), as for any job.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from heyhi import launchers, perms
from heyhi.runs import records as R, liveness as L, jobenv
from heyhi.errors import HeyHiError
from heyhi.runs.formats import NewerFormat
from heyhi.slurm import segments as SEG
import subprocess


ALREADY_CLAIMED = 75  # the run was claimed by another job process: this one did nothing
RESERVE = ".heyhi.reserve"  # freed on a full disk so the final record still fits
RESERVE_BYTES = 64 << 10
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class _Cancelled(BaseException):
    pass


RANK_EXIT = "heyhi.rank{}.exit"  # rank N > 0's end: {"rank", "exit_code", "reason", "job"}
RANK_EXIT_MAX_BYTES = 4096
DEFAULT_RANK_WAIT_S = 600.0  # how long rank 0 waits for the other ranks' ends after its own task
PEER_POLL_S = 0.5
CLAIM_WAIT_S = 600.0  # how long a rank N > 0 waits for rank 0 to claim the run


def _rank_logs(rank: int) -> tuple[str, str]:
    """(stdout, stderr) log names of ``rank``: rank 0's are the job's own."""
    if rank == 0:
        return R.STDOUT, R.STDERR
    return f"stdout.rank{rank}.log", f"stderr.rank{rank}.log"


def _redirect(run_dir: Path, rank: int = 0) -> None:
    for fd, name in zip((1, 2), _rank_logs(rank)):
        f = perms.open_file(run_dir / name, os.O_WRONLY | os.O_APPEND)  # 0600 (0660 shared), any umask
        os.dup2(f, fd)
        os.close(f)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)


def run(run_dir: Path) -> int:
    """Run the job in ``run_dir``; returns its exit code."""
    run_dir = Path(run_dir).absolute()
    rd = R.RunDir(run_dir)
    info = rd.read_run()
    if not info:
        print(f"heyhi.job: {run_dir} holds no heyhi.run.json", file=sys.stderr)
        return 2
    os.chdir(run_dir)
    os.environ["HEYHI_RUN_DIR"] = str(run_dir)
    try:
        env = jobenv.job_env()
        os.environ.update(jobenv.distributed_env())
    except HeyHiError as e:
        print(f"heyhi.job: {run_dir}: {e}", file=sys.stderr)
        return 2
    if os.environ.get("HEYHI_JOB_NO_REDIRECT") != "1":
        _redirect(run_dir, env.global_rank)
    if env.global_rank > 0:
        return _run_rank(rd, run_dir, info, env)
    prev = rd.read_status() or {}
    # The launcher whose job this process is: a scheduler's (Slurm) by the environment, else the
    # recorded one; ``slurm_id`` is the scheduler's job id (None for a process launcher).
    launcher, slurm_id = launchers.this_job(prev.get("launcher"))
    pid = os.getpid()
    jobid = slurm_id or f"local:{pid}"
    if prev.get("state") in (R.QUEUED, R.SUBMITTED, None):
        attempt = int(prev.get("attempt") or 1)
    else:  # requeued by Slurm: the next attempt
        attempt = int(prev.get("attempt") or 1) + 1

    n_seg = SEG.planned(info)
    seg_k = SEG.segment_of(SEG.read(run_dir), slurm_id) if n_seg > 1 else None
    seg_k = min(max(1, seg_k or int(prev.get("segment") or 1)), n_seg)
    _SEGMENT[:] = [seg_k, n_seg]
    os.environ.update(HEYHI_SEGMENT=str(seg_k), HEYHI_SEGMENTS=str(n_seg))
    seg_fields = dict(segment=seg_k, segments=n_seg, reason=SEG.reason(seg_k, n_seg)) if n_seg > 1 else {}

    heartbeat = L.Heartbeat(run_dir)
    heartbeat.beat()  # before the claim: a "running" record of this host never lacks a fresh beat

    def claimable(cur: dict) -> bool:
        # Exactly once: a job runs only from a waiting state (or as the same Slurm job, requeued).
        st = cur.get("state")
        if st in (R.QUEUED, R.SUBMITTED, R.REQUEUED, None):
            return True
        return bool(slurm_id) and st == R.RUNNING and cur.get("slurm_id") == slurm_id

    def claim():
        return rd.set_state(
            R.RUNNING, only_if=claimable, pid=pid, pid_start=R.proc_start_time(pid), host=L.this_host(), jobid=jobid,
            slurm_id=slurm_id, attempt=attempt, launcher=launcher, **seg_fields,
        )

    reserve = _reserve(run_dir)
    _RESERVED[:] = [reserve]
    try:
        try:
            claimed = claim()
        except OSError as e:
            if e.errno not in DISK_FULL:
                raise
            _free(reserve)  # room for the claim; the job then runs without a reserve
            reserve = None
            claimed = claim()
    except OSError as e:
        _free(reserve)
        if e.errno not in DISK_FULL:
            raise
        print(f"heyhi.job: {run_dir}: disk full: could not record the start ({os.strerror(e.errno)})", file=sys.stderr)
        return 1
    if claimed is None:
        _free(reserve)
        print(f"heyhi.job: {run_dir} is already {(rd.read_status() or {}).get('state')}: not running it twice",
              file=sys.stderr)
        return ALREADY_CLAIMED
    heartbeat.start()
    if env.num_tasks > 1:
        _PEERS.update(world=env.num_tasks, job=_job_stamp())
        threading.Thread(target=_watch_peers, args=(rd,), name="heyhi-peers", daemon=True).start()
    try:
        if not slurm_id:
            rd.write_jobid(jobid)
        return _run_claimed(rd, run_dir, info, slurm_id, attempt)
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        return _disk_full(rd, reserve, e)
    finally:
        heartbeat.stop()
        _free(reserve)


def _reserve(run_dir: Path) -> Path | None:
    """Write the reserve file; None when even that does not fit."""
    path = run_dir / f"{RESERVE}.{os.getpid()}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(RESERVE_BYTES))
        finally:
            os.close(fd)
    except OSError:
        _free(path)
        return None
    return path


def _free(path: Path | None) -> None:
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass


def _disk_full(rd: R.RunDir, reserve: Path | None, e: OSError) -> int:
    """The disk filled up: free the reserve and record the end as crashed, "disk full"."""
    _free(reserve)
    where = f" writing {e.filename}" if e.filename else ""
    reason = f"disk full{where} ({os.strerror(e.errno)})"
    try:
        rd.set_state(R.CRASHED, exit_code=1, reason=reason)
    except OSError:
        pass  # nothing fits: whoever watches the job records its end
    try:
        perms.write_file(rd / R.CRASH, reason + "\n")
        print(f"heyhi.job: {reason}", file=sys.stderr, flush=True)
    except OSError:
        pass
    return 1


_RESERVED: list[Path | None] = [None]  # this job's reserve file, freed just before its final record
_ENDING = threading.RLock()  # held by whoever records the job's end: the task's thread or the peer watcher
_PEERS: dict = {"world": 1, "job": "", "requeueing": False}  # rank 0's view of the other ranks
_SEGMENT: list[int] = [1, 1]  # (k, N): this job runs segment k of N


def _final(rd: R.RunDir, state: str, **fields) -> None:
    """Record how the job ended, freeing the reserve first: room for the record on a full disk, and no
    reserve file left in a folder that already says it ended (a copy taken then sees every file)."""
    k, n = _SEGMENT
    if state == R.CRASHED and n > 1 and fields.get("reason"):
        fields["reason"] = SEG.reason(k, n, f"failed: {fields['reason']}")
    with _ENDING:
        _free(_RESERVED[0])
        rd.set_state(state, **fields)


# ---- ranks ---------------------------------------------------------------------------------------

def _job_stamp() -> str:
    """This Slurm job and its restart count: a rank's exit file counts only for the same attempt."""
    return f"{os.environ.get('SLURM_JOB_ID', '')}:{os.environ.get('SLURM_RESTART_COUNT', '0')}"


def _call_task(info: dict, run_dir: Path):
    """Load the run's config and task from its code snapshot and run it; the task's result."""
    cfg, task, script = _load(info, run_dir)
    code_dir = Path(info.get("code_dir") or info["project_root"])
    if script is not None:  # a script task: the script (from the snapshot) runs as __main__
        from heyhi.config.schema.scripts import run_script  # lean: only a script task needs it

        run_script(script, code_dir / info["script"], cfg)
        return None
    from heyhi.runs.tasks import find_task, load_tasks_module  # lean: keeps the start-up of python -m heyhi.job from loading it

    mod = load_tasks_module(code_dir, info.get("tasks_module", "run.py"))
    fn = find_task(mod, task, info.get("known_tasks", [task]))
    return fn(cfg)


def _read_rank_exit(run_dir: Path, rank: int, stamp: str) -> dict | None:
    """Rank ``rank``'s exit record of this attempt, or None (absent, unreadable, older attempt)."""
    try:
        with open(run_dir / RANK_EXIT.format(rank), "rb") as fh:
            data = json.loads(fh.read(RANK_EXIT_MAX_BYTES))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("job") != stamp or not isinstance(data.get("exit_code"), int):
        return None
    return data


def _peer_ends(run_dir: Path) -> dict[int, dict]:
    """The exit records of the other ranks that have ended, by rank."""
    ends = {}
    for rank in range(1, int(_PEERS["world"])):
        data = _read_rank_exit(run_dir, rank, _PEERS["job"])
        if data is not None:
            ends[rank] = data
    return ends


def _first_failure(ends: dict[int, dict], *, cancelled_too: bool) -> tuple[int, dict] | None:
    for rank in sorted(ends):
        code = ends[rank]["exit_code"]
        if code != 0 and (cancelled_too or code != 143):
            return rank, ends[rank]
    return None


def _record_peer_failure(rd: R.RunDir, rank: int, data: dict) -> int:
    """Record the job as crashed because rank ``rank`` failed; the job's exit code."""
    code = int(data["exit_code"]) or 1
    reason = f"rank {rank} failed: exit {code}"
    detail = str(data.get("reason") or "")[:300]
    perms.write_file(rd / R.CRASH, f"{reason}{': ' + detail if detail else ''} (see {_rank_logs(rank)[1]})\n")
    print(f"heyhi.job: {reason}", file=sys.stderr, flush=True)
    _final(rd, R.CRASHED, exit_code=code, reason=reason)
    return code


def _watch_peers(rd: R.RunDir) -> None:
    """Rank 0's watcher thread: a rank that fails (not by a cancel) while rank 0's task runs ends the
    job at once, recorded as crashed naming that rank (the other ranks may be stuck waiting for it)."""
    while True:
        time.sleep(PEER_POLL_S)
        if _PEERS["requeueing"]:
            return
        failed = _first_failure(_peer_ends(rd.path), cancelled_too=False)
        if failed is None:
            continue
        if not _ENDING.acquire(blocking=False):
            return  # the task's thread is recording the end: it looks at the ranks itself
        try:
            code = _record_peer_failure(rd, *failed)
        except BaseException:
            code = 1
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
        os._exit(code)


def _wait_peers(rd: R.RunDir) -> int | None:
    """After rank 0's task ended well: wait (``HEYHI_RANK_WAIT_S``) for every other rank's end. None if
    they all ended well, else the job's exit code, its crash recorded."""
    if int(_PEERS["world"]) <= 1:
        return None
    try:
        bound = float(os.environ.get("HEYHI_RANK_WAIT_S", "") or DEFAULT_RANK_WAIT_S)
    except ValueError:
        bound = DEFAULT_RANK_WAIT_S
    deadline = time.monotonic() + bound
    while True:
        ends = _peer_ends(rd.path)
        failed = _first_failure(ends, cancelled_too=True)
        if failed is not None:
            return _record_peer_failure(rd, *failed)
        if len(ends) == int(_PEERS["world"]) - 1:
            return None
        if time.monotonic() > deadline:
            missing = [r for r in range(1, int(_PEERS["world"])) if r not in ends]
            reason = f"rank {missing[0]} did not report its end within {bound:g} s"
            perms.write_file(rd / R.CRASH, reason + "\n")
            _final(rd, R.CRASHED, exit_code=1, reason=reason)
            return 1
        time.sleep(PEER_POLL_S / 5)


def _run_rank(rd: R.RunDir, run_dir: Path, info: dict, env: "jobenv.JobEnv") -> int:
    """Run rank N > 0 of a job: never claims, never writes the run's records; its end goes to
    ``heyhi.rankN.exit`` for rank 0. Exits 0 (the code is in the file), or 2 for a bad run folder."""
    rank, stamp = env.global_rank, _job_stamp()
    slurm_id = launchers.this_job(None)[1]
    deadline = time.monotonic() + CLAIM_WAIT_S
    while True:  # rank 0 claims the run as this job first: a refused or duplicate job runs nothing here
        st = rd.read_status() or {}
        if st.get("state") == R.RUNNING and (st.get("slurm_id") or None) == slurm_id:
            break
        if st.get("state") not in (R.QUEUED, R.SUBMITTED, R.REQUEUED, R.RUNNING, None) or time.monotonic() > deadline:
            print(f"heyhi.job: rank {rank}: rank 0 did not claim {run_dir} as this job "
                  f"(it is {st.get('state')}): not running", file=sys.stderr, flush=True)
            return 0
        time.sleep(0.05)

    def on_term(signum, frame):
        raise _Cancelled()

    def on_usr2(signum, frame):
        from heyhi.runs import task_api as jobapi  # lean: keeps the start-up of python -m heyhi.job from loading it

        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # rank 0 requeues the job: its SIGTERM is no cancel
        try:
            jobapi._fire_preemption()
        except Exception:
            traceback.print_exc()

    from heyhi.runs.task_api import SegmentDone  # lean: keeps the start-up of python -m heyhi.job from loading it

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR2, on_usr2)
    try:
        _call_task(info, run_dir)
        code, reason = 0, ""
    except SegmentDone:
        code, reason = 0, ""
    except _Cancelled:
        code, reason = 143, "cancelled (SIGTERM)"
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        reason = f"exit code {code}" if code else ""
    except BaseException as e:
        traceback.print_exc()
        code = 1
        reason = f"{type(e).__name__}: {e}".splitlines()[0][:300] if str(e) else type(e).__name__
    sys.stdout.flush()
    sys.stderr.flush()
    R.write_atomic(run_dir / RANK_EXIT.format(rank), json.dumps(
        {"rank": rank, "exit_code": code, "reason": reason, "job": stamp, "host": L.this_host()}))
    return 0


def _run_claimed(rd: R.RunDir, run_dir: Path, info: dict, slurm_id: str | None, attempt: int) -> int:
    """Run the claimed job to its end and record it."""

    def on_term(signum, frame):
        raise _Cancelled()

    def on_usr2(signum, frame):
        from heyhi.runs import task_api as jobapi  # lean: keeps the start-up of python -m heyhi.job from loading it

        if slurm_id:
            # Slurm's requeue ends this process with SIGTERM: that is not a cancel.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            _PEERS["requeueing"] = True  # the other ranks end with the job: no failure of theirs

        print("heyhi.job: preemption warning received: checkpointing and requeueing", file=sys.stderr, flush=True)
        try:
            jobapi._fire_preemption()
        except Exception:
            traceback.print_exc()
        if slurm_id:
            rd.set_state(R.REQUEUED, attempt=attempt, reason="time limit or preemption: requeued")
            subprocess.run(["scontrol", "requeue", slurm_id.split("_")[0] if "_" not in slurm_id else slurm_id], check=False)
            os._exit(0)

    from heyhi.runs.task_api import SegmentDone  # lean: keeps the start-up of python -m heyhi.job from loading it

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR2, on_usr2)
    try:
        result = _call_task(info, run_dir)
    except SegmentDone:
        return _segment_done(rd, slurm_id)
    except _Cancelled:
        return _record_cancelled(rd)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if code == 0:
            return _after_peers(rd, None)
        perms.write_file(run_dir / R.CRASH, f"SystemExit: exit code {code}\n")
        _final(rd, R.CRASHED, exit_code=code, reason=f"exit code {code}")
        return code
    except BaseException as e:
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        sys.stderr.flush()
        perms.write_file(run_dir / R.CRASH, tb)
        reason = f"{type(e).__name__}: {e}".splitlines()[0][:300] if str(e) else type(e).__name__
        _final(rd, R.CRASHED, exit_code=1, reason=reason)
        return 1
    return _after_peers(rd, result)


def _segment_done(rd: R.RunDir, slurm_id: str | None) -> int:
    """The task ended its segment (``heyhi.segment_done()``): once every other rank ended well, the run
    waits for the next segment's job (submitted, "segment k of N done"), or completes after the last."""
    try:
        code = _wait_peers(rd)
    except _Cancelled:
        return _record_cancelled(rd)
    if code:
        return code
    k, n = _SEGMENT
    if k >= n:
        with _ENDING:
            perms.write_file(rd / R.COMPLETED_MARKER, "")
            _final(rd, R.COMPLETED, exit_code=0, reason=SEG.reason(k, n, "done"))
        return 0
    nxt = SEG.read(rd.path).get("next") or {}
    sid = str(nxt["slurm_id"]) if nxt.get("after") == slurm_id and nxt.get("slurm_id") else None
    with _ENDING:
        _free(_RESERVED[0])
        rd.set_state(R.SUBMITTED, segment=k + 1, segments=n, reason=SEG.reason(k, n, "done"), slurm_id=sid, jobid=sid,
                     attempt=1)  # max_attempts counts per segment
    print(f"heyhi.job: {SEG.reason(k, n, 'done')}", file=sys.stderr, flush=True)
    return 0


def _record_cancelled(rd: R.RunDir) -> int:
    from heyhi.runs import locks  # lean: keeps the start-up of python -m heyhi.job from loading it

    locks.DEFAULT_DEADLINE_S = CANCEL_STATUS_WAIT_S  # being stopped: record it briefly or not at all
    try:
        _final(rd, R.CANCELLED, exit_code=143, reason="SIGTERM")
    except HeyHiError:
        pass  # the status lock is held: whoever stops us records the end

    print("heyhi.job: cancelled (SIGTERM)", file=sys.stderr, flush=True)
    return 143


def _after_peers(rd: R.RunDir, result) -> int:
    """Rank 0's task ended well: the job completes once every other rank has ended well."""
    try:
        code = _wait_peers(rd)
    except _Cancelled:
        return _record_cancelled(rd)
    return code or _completed(rd, result)


def _completed(rd: R.RunDir, result) -> int:
    with _ENDING:  # the peer watcher records nothing meanwhile (the other ranks have all ended well)
        if result is not None:
            try:
                R.write_atomic(rd / R.RESULT_JSON, json.dumps(result, indent=1, default=_no_json))
            except (TypeError, ValueError):
                import pickle  # lean: keeps the start-up of python -m heyhi.job from loading it

                R.write_atomic(rd / R.RESULT_PKL, pickle.dumps(result))
        perms.write_file(rd / R.COMPLETED_MARKER, "")
        _final(rd, R.COMPLETED, exit_code=0)
    if _SEGMENT[1] > 1:
        _cancel_next_segment(rd)
    sys.stdout.flush()
    return 0


def _cancel_next_segment(rd: R.RunDir) -> None:
    """The task finished its work before the last segment: scancel the next segment's job queued after
    this one before this job ends (it would start at once; the daemon cancels it too)."""
    nxt = SEG.read(rd.path).get("next") or {}
    here = os.environ.get("SLURM_JOB_ID")
    if here and nxt.get("slurm_id") and str(nxt.get("after")) == here:
        try:
            subprocess.run(["scancel", str(nxt["slurm_id"])], check=False, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"heyhi.job: cannot cancel the next segment's job {nxt['slurm_id']}: {e}", file=sys.stderr)


def _no_json(x):
    raise TypeError


def _load(info: dict, run_dir: Path):
    """(the frozen task config, composed from the run's config_meta.prototxt, the task's name, the
    ``ScriptTask`` of a script task or None: its schema is the one recorded in the run folder)."""
    from heyhi.config.compose import Composer, ScriptComposer  # lean: keeps the start-up of python -m heyhi.job from loading it
    from heyhi.config.project import Project  # lean: keeps the start-up of python -m heyhi.job from loading it
    from heyhi.config.frozen import freeze  # lean: keeps the start-up of python -m heyhi.job from loading it

    code_dir = Path(info.get("code_dir") or info["project_root"])
    script = None
    if info.get("script"):
        from heyhi.config.schema.scripts import ScriptTask  # lean: only a script task needs it
        from heyhi.config.source import read_text  # lean: only a script task needs it

        script = ScriptTask.from_json(read_text(run_dir / R.SCRIPT))
        comp = ScriptComposer(Project(info["project_root"]), script)
    else:
        comp = Composer(Project(code_dir if (code_dir / "conf").is_dir() else info["project_root"]))
    root = comp.schema.root
    meta = comp.load_message(run_dir / R.CONFIG_META, root)
    task = meta._which("task") or info.get("task")
    return freeze(meta._v[task]), task, script


JOB_STATUS_WAIT_S = 600.0  # a job's own state changes wait out a busy status lock this long
CANCEL_STATUS_WAIT_S = 2.0  # ...but not once it is being stopped (its stopper waits for it to exit)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m heyhi.job RUN_DIR", file=sys.stderr)
        return 2
    from heyhi.runs import locks  # lean: keeps the start-up of python -m heyhi.job from loading it

    locks.DEFAULT_DEADLINE_S = JOB_STATUS_WAIT_S  # a result is never lost to a moment of contention

    try:
        code = run(Path(argv[0]))
    except NewerFormat as e:  # a newer HeyHi's record: neither run nor written over
        print(f"heyhi.job: {e}", file=sys.stderr)
        code = 2
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    return code


if __name__ == "__main__":
    sys.exit(main())
