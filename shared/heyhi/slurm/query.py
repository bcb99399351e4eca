"""Build Slurm query command lines and parse their answers (pure functions, stdlib only).

Polling follows Slurm's own guidance: squeue is an RPC to slurmctld, so HeyHi asks ONE
``squeue`` for all of the user's jobs per interval (never one call per job), and ONE ``sacct``
for the batch of tracked jobs that left squeue or that squeue shows in a final state (squeue has
no exit code; finished jobs vanish from squeue MinJobAge seconds after they end).

Formats (verified against Slurm 22.05):

* squeue: ``%i|%T|%r|%N|%S|%M|%A`` = job id, state, reason, nodes, start, time used, raw id.
  Array tasks are ``<array>_<task>`` (``5_2``; their raw id ``%A`` is a job id of their own).
  Pending array tasks are folded by squeue into one line with a bracketed range:
  ``5_[3-11%2]`` (tasks 3..11, at most 2 running at once). :func:`parse_squeue` keeps such a line
  as ONE record under that literal id (it does not expand it: a 10,000-task array would mean
  10,000 rows per poll); :meth:`SqueueRow.pending_task_ids` expands it on demand and
  :func:`find_row` resolves a task id such as ``5_7`` to the range record that holds it.
* sacct: ``--parsable2 -n -o JobID,JobIDRaw,State,ExitCode,Start,End,Elapsed,NodeList,Reason,
  AllocTRES,ElapsedRaw,TotalCPU,ReqMem,MaxRSS`` (the last five: what the job cost, ``heyhi.slurm.cost``).
  No ``-X``: the steps' lines (``123.batch``, ``5_2.0``) carry MaxRSS, which the allocation line lacks;
  :func:`parse_sacct` appends their MaxRSS to the job row's unsplit tail (``SacctRow.rest``, read on
  demand by its properties) and keeps no step rows (the job line's TotalCPU is already
  the sum over its steps). Older 9-field answers (no cost fields) still parse.
  No JobName: HeyHi knows its jobs by id, and a name containing ``|`` would shift the columns.
  State ``CANCELLED by 0`` is normalised to ``CANCELLED``; ExitCode ``3:0`` is exit 3, signal 0.

Parsing is one ``str.split`` per line (for sacct only as far as state and exit code; a step line
is one ``startswith`` and a slice), squeue placeholders (``None``, ``N/A``) blanked by whole-answer
``str.replace`` calls, sacct's (``Unknown``, ``None assigned``, ``None``) per field, per-value work
(state normalisation, exit codes) cached, and the garbage collector paused: 10,000 lines of
squeue plus 10,000 of sacct parse in ~15-25 ms on a slow shared 2-vCPU VM (see bench/poll.py).
"""

from __future__ import annotations

import gc
import os
import pwd
from contextlib import contextmanager
from typing import NamedTuple

__all__ = [
    "SQUEUE_FORMAT",
    "SACCT_FIELDS",
    "SqueueRow",
    "SacctRow",
    "squeue_argv",
    "sacct_argv",
    "parse_squeue",
    "live_job_ids",
    "parse_sacct",
    "mem_bytes",
    "gc_paused",
    "find_row",
    "pending_ranges",
    "is_job_id",
    "expand_array_spec",
    "parse_exit_code",
    "normalise_state",
    "map_state",
    "map_state_reason",
    "is_final",
    "HEYHI_STATES",
    "FINAL_STATES",
]

SQUEUE_FORMAT = "%i|%T|%r|%N|%S|%M|%A"
SACCT_FIELDS = "JobID,JobIDRaw,State,ExitCode,Start,End,Elapsed,NodeList,Reason,AllocTRES,ElapsedRaw,TotalCPU,ReqMem,MaxRSS"

HEYHI_STATES = ("submitted", "running", "completed", "crashed", "cancelled", "requeued")

_CRASHED = frozenset(
    {"FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "TIMEOUT", "BOOT_FAIL", "DEADLINE"}
)
_REQUEUED = frozenset({"PREEMPTED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SPECIAL_EXIT"})
#: Slurm states after which the job will not change again (PREEMPTED is not final: HeyHi submits
#: with --requeue, so a preempted job goes back to PENDING).
FINAL_STATES = frozenset({"COMPLETED", "CANCELLED", "REVOKED"} | _CRASHED)
_STATE_MAP = {
    "PENDING": "submitted",
    "CONFIGURING": "submitted",  # nodes allocated, booting: the job has not started yet
    "RESV_DEL_HOLD": "submitted",
    "RUNNING": "running",
    "COMPLETING": "running",
    "COMPLETED": "completed",
    "CANCELLED": "cancelled",
    "REVOKED": "cancelled",  # federation: a sibling cluster runs it instead
    **{s: "crashed" for s in _CRASHED},
    **{s: "requeued" for s in _REQUEUED},
}
def normalise_state(state: str) -> str:
    """``CANCELLED by 0`` -> ``CANCELLED``; ``CANCELLED+`` (truncated sacct) -> ``CANCELLED``."""
    if " " in state:
        state = state.split(" ", 1)[0]
    return state.rstrip("+").upper()


def is_final(slurm_state: str) -> bool:
    """True when a job in this Slurm state will not change any more."""
    return normalise_state(slurm_state) in FINAL_STATES


def map_state(slurm_state: str) -> str:
    """Slurm job state -> HeyHi run state (one of HEYHI_STATES).

    PENDING -> submitted; RUNNING/COMPLETING -> running; COMPLETED -> completed;
    FAILED/NODE_FAIL/OUT_OF_MEMORY/TIMEOUT/BOOT_FAIL/DEADLINE -> crashed; CANCELLED -> cancelled;
    PREEMPTED/REQUEUED/REQUEUE_HOLD/REQUEUE_FED -> requeued; anything else (SUSPENDED, STOPPED,
    SIGNALING, RESIZING, STAGE_OUT, a state from a newer Slurm...) -> running, as it is not final.
    """
    return _STATE_MAP.get(normalise_state(slurm_state), "running")


def map_state_reason(slurm_state: str, slurm_reason: str = "") -> tuple[str, str]:
    """(HeyHi state, reason to show) for a Slurm state and squeue/sacct reason.

    * submitted: Slurm's reason (``Priority``, ``Resources``, ``BeginTime``, ``JobHeldUser``...);
    * crashed: the Slurm state (``TIMEOUT``), with Slurm's reason when it adds something
      (``FAILED: NonZeroExitCode``);
    * requeued: the Slurm state (``PREEMPTED``...), with the reason when there is one;
    * an unmapped state: the state itself, so it is not lost (``SUSPENDED``);
    * running/completed/cancelled: Slurm's reason if any (usually empty).
    """
    state = normalise_state(slurm_state)
    reason = "" if slurm_reason in ("None", "(null)") else slurm_reason
    heyhi = _STATE_MAP.get(state)
    if heyhi is None:
        return "running", state + (f": {reason}" if reason else "")
    if heyhi in ("crashed", "requeued"):
        return heyhi, state + (f": {reason}" if reason else "")
    return heyhi, reason


def parse_exit_code(text: str) -> tuple[int | None, int]:
    """sacct ExitCode ``3:0`` -> (3, 0) = (exit code, signal). Empty or garbage -> (None, 0)."""
    code, _, sig = text.partition(":")
    try:
        return int(code), int(sig or 0)
    except ValueError:
        return None, 0


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while building many small objects.

    Parsing 10,000 lines makes 10,000+ tuples; each 700 new objects trigger a young-generation
    collection and, now and then, a full one over the whole heap: that doubled the parse time
    (measured: 13 -> 6.5 ms for 10,000 squeue lines). The rows hold only strings and ints, so no
    cycles are missed. A no-op when the collector is already off (nested use, or the caller
    turned it off)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # uid without a passwd entry (containers)
        return os.environ.get("USER") or str(os.getuid())


# --------------------------------------------------------------------------------------------
# squeue


class SqueueRow(NamedTuple):
    """One squeue line. Empty strings stand for squeue's ``None``/``N/A`` placeholders."""

    job_id: str  # %i: "123", "5_2", or a pending array range "5_[3-11%2]"
    state: str  # %T: PENDING, RUNNING, COMPLETED, FAILED, ...
    reason: str  # %r: Priority, Resources, NonZeroExitCode, ... ("" for None)
    node: str  # %N: node list ("" while pending)
    start: str  # %S: actual or expected start time ("" when unknown)
    time_used: str  # %M
    raw_id: str  # %A: the job's own numeric id (array tasks have their own)

    @property
    def array_job_id(self) -> str | None:
        """``5`` for ``5_2`` and ``5_[3-11%2]``; None for a plain job."""
        i = self.job_id.find("_")
        return self.job_id[:i] if i > 0 else None

    @property
    def is_pending_range(self) -> bool:
        return self.job_id.endswith("]") and "_[" in self.job_id

    @property
    def array_spec(self) -> str:
        """The range of a pending range record without brackets (``3-11%2``), else ''."""
        if not self.is_pending_range:
            return ""
        return self.job_id[self.job_id.index("_[") + 2 : -1]

    def pending_task_ids(self) -> list[int]:
        """Task ids of a pending range record (``5_[3-11%2]`` -> [3..11]); [] otherwise."""
        spec = self.array_spec
        return expand_array_spec(spec) if spec else []


def squeue_argv(user: str | None = None) -> list[str]:
    """One squeue call for ALL of ``user``'s jobs in every state (finished ones stay MinJobAge)."""
    return ["squeue", "-h", "-t", "all", "-u", user or _current_user(), "-o", SQUEUE_FORMAT]


def _squeue_text(text: str) -> str:
    """Placeholders -> "" at C speed: reason ``None``, start ``N/A`` (held jobs)."""
    if text and text[-1] != "\n":
        text += "\n"
    return text.replace("|None|", "||").replace("|N/A|", "||")


def parse_squeue(text: str) -> dict[str, SqueueRow]:
    """squeue answer (format SQUEUE_FORMAT) -> {job id: row}. Lines that do not fit are skipped.

    A pending array range (``5_[3-11%2]``) stays one row under that literal id: see find_row.
    """
    text = _squeue_text(text)
    rows: dict[str, SqueueRow] = {}
    new = tuple.__new__
    cls = SqueueRow
    with gc_paused():
        for line in text.split("\n"):
            parts = line.split("|")
            if len(parts) == 7:
                rows[parts[0]] = new(cls, parts)
    return rows


def live_job_ids(rows: dict[str, SqueueRow]) -> set[str]:
    """The ids of the jobs an answer lists in a state that is not final, each with its array job's id
    (``5_2`` and ``5``; a pending range ``5_[3-11%2]`` gives itself and ``5``)."""
    live: set[str] = set()
    for job_id, row in rows.items():
        if row.state not in FINAL_STATES:
            live.add(job_id)
            live.add(job_id.split("_")[0])
    return live


def expand_array_spec(spec: str) -> list[int]:
    """Slurm array index spec -> task ids: ``3-11%2`` -> 3..11, ``1,4-8:2`` -> [1, 4, 6, 8]."""
    spec = spec.split("%", 1)[0]
    out: list[int] = []
    for part in spec.split(","):
        if not part:
            continue
        rng, _, step = part.partition(":")
        lo, _, hi = rng.partition("-")
        a = int(lo)
        b = int(hi) if hi else a
        out.extend(range(a, b + 1, int(step) if step else 1))
    return out


def find_row(
    rows: dict[str, SqueueRow], job_id: str, ranges: dict[str, list[tuple[SqueueRow, frozenset]]] | None = None
) -> SqueueRow | None:
    """The squeue row for ``job_id``; an array task still folded into a pending range record
    (``5_7`` inside ``5_[3-11%2]``) resolves to that record. None when squeue does not list it.

    For many look-ups in one answer pass ``ranges=pending_ranges(rows)`` (built once)."""
    row = rows.get(job_id)
    if row is not None:
        return row
    array_id, sep, task = job_id.partition("_")
    if not sep or not task.isdigit():
        return None
    if ranges is None:
        ranges = pending_ranges(rows)
    t = int(task)
    for r, tasks in ranges.get(array_id, ()):
        if t in tasks:
            return r
    return None


def pending_ranges(rows: dict[str, SqueueRow]) -> dict[str, list[tuple[SqueueRow, frozenset]]]:
    """{array job id: [(pending range row, its task ids)]} for :func:`find_row`."""
    out: dict[str, list[tuple[SqueueRow, frozenset]]] = {}
    for key, row in rows.items():
        if key[-1:] == "]" and "_[" in key:
            out.setdefault(key.split("_", 1)[0], []).append((row, frozenset(row.pending_task_ids())))
    return out


# --------------------------------------------------------------------------------------------
# sacct


class SacctRow(NamedTuple):
    """One job's sacct line (the job allocation; of its steps only their MaxRSS values are kept).

    Only what every poll needs is split at parse time (id, state, exit code); the rest of the line stays
    one string, ``rest`` = ``Start|End|Elapsed|NodeList|Reason`` then (with the cost fields)
    ``|AllocTRES|ElapsedRaw|TotalCPU|ReqMem|MaxRSS`` and ``|<MaxRSS>`` of each of the job's steps; the
    properties below read it on demand (the poller needs them only for the jobs it reports)."""

    job_id: str  # JobID: "123", "5_2", "5_[0-11%2]"
    raw_id: str  # JobIDRaw
    state: str  # normalised: CANCELLED (not "CANCELLED by 0")
    raw_state: str  # as printed: "CANCELLED by 0"
    exit_code: int | None  # ExitCode "3:0" -> 3
    signal: int  # ExitCode "0:15" -> 15
    rest: str = ""  # the line's other fields, unsplit (see above)

    @property
    def returncode(self) -> int | None:
        """Python-style code: the exit code, or -signal when a signal ended the job."""
        return -self.signal if self.signal else self.exit_code

    def _field(self, i: int) -> str:
        parts = self.rest.split("|", i + 1)
        return parts[i] if len(parts) > i else ""

    @property
    def start(self) -> str:
        """Start time ("" for Unknown)."""
        s = self._field(0)
        return "" if s == "Unknown" else s

    @property
    def end(self) -> str:
        """End time ("" for Unknown)."""
        s = self._field(1)
        return "" if s == "Unknown" else s

    @property
    def elapsed(self) -> str:
        """Elapsed: ``00:01:21``."""
        return self._field(2)

    @property
    def node(self) -> str:
        """NodeList ("" for "None assigned")."""
        s = self._field(3)
        return "" if s == "None assigned" else s

    @property
    def reason(self) -> str:
        """Reason ("" for None)."""
        s = self._field(4).partition("\n")[0]
        return "" if s == "None" else s

    @property
    def cost_raw(self) -> str:
        """``AllocTRES|ElapsedRaw|TotalCPU|ReqMem|MaxRSS[|step MaxRSS...]``; "" without cost fields."""
        parts = self.rest.split("|", 5)
        return parts[5] if len(parts) == 6 and parts[5].count("|") >= 4 else ""

    def _cost_field(self, i: int) -> str:
        return self._field(5 + i) if self.rest.count("|") >= 9 else ""

    @property
    def alloc_tres(self) -> str:
        """AllocTRES: ``billing=1,cpu=1,mem=4G,node=1,gres/gpu=8`` ("" when absent)."""
        return self._cost_field(0)

    @property
    def elapsed_raw(self) -> str:
        """ElapsedRaw: seconds, as text."""
        return self._cost_field(1)

    @property
    def total_cpu(self) -> str:
        """TotalCPU: ``00:02.489``, ``1-02:03:04`` (the sum over the job's steps)."""
        return self._cost_field(2)

    @property
    def req_mem(self) -> str:
        """ReqMem: ``100M`` (``4Gc``: per CPU, ``4Gn``: per node, older Slurm)."""
        return self._cost_field(3)

    @property
    def max_rss(self) -> str:
        """The largest MaxRSS of the job's line and its steps' (``63964K``); "" when none was sampled."""
        values = [m for m in self.cost_raw.split("|")[4:] if m]
        if len(values) < 2:
            return values[0] if values else ""
        return max(values, key=_rss_key)


def is_job_id(job_id: str) -> bool:
    """``123``, ``5_2`` (array task) or ``7+1`` (het job component): ids sacct accepts.
    sacct aborts the whole call on one malformed id (``5_[3-11%2]``, ``abc``)."""
    a, sep, b = job_id.partition("_")
    if not sep:
        a, sep, b = job_id.partition("+")
    return a.isdigit() and (not sep or b.isdigit())


def sacct_argv(job_ids) -> list[str]:
    """One sacct call for a batch of job ids (allocation lines only, no header, ``|``-separated).

    With ``-j`` and no ``-S``, sacct searches from the epoch, so old jobs are found too; unknown
    ids are silently absent from the answer, but a malformed id is fatal: ValueError here.
    A plain array id (``5``) makes sacct list every task of that array."""
    ids = ",".join(job_ids)
    if not ids:
        raise ValueError("sacct_argv needs at least one job id")
    # fast check of the whole list at C speed; per-id only to name the culprit
    digits = ids.replace(",", "").replace("_", "").replace("+", "")
    if not (digits.isascii() and digits.isdigit()) or ",," in ids or ids[0] == "," or ids[-1] == ",":
        bad = [j for j in ids.split(",") if not is_job_id(j)]
        raise ValueError(f"not a Slurm job id for sacct: {bad[0] if bad else ids[:40]!r}")
    if "_" in ids or "+" in ids:
        bad = [j for j in ids.split(",") if not is_job_id(j)]
        if bad:
            raise ValueError(f"not a Slurm job id for sacct: {bad[0]!r}")
    return ["sacct", "--parsable2", "-n", "-j", ids, "-o", SACCT_FIELDS]


class _Cache(dict):
    """str -> derived value, computed on first sight (used through map(cache.__getitem__, ...))."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __missing__(self, key):
        if len(self) > 10_000:  # e.g. "CANCELLED by <uid>" for many uids: stay small
            self.clear()
        value = self[key] = self.fn(key)
        return value


_norm_state = _Cache(lambda s: normalise_state(s) if s else "")
_exit_of = _Cache(lambda s: parse_exit_code(s)[0])
_signal_of = _Cache(lambda s: parse_exit_code(s)[1])


_MEM_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def mem_bytes(text: str) -> int | None:
    """sacct memory ``63964K``, ``4G``, ``1.5M``, ``0`` -> bytes (Slurm's units are powers of 1024); a
    trailing ``n``/``c`` (per node / per CPU, older ReqMem) is ignored here. None for "" or garbage."""
    t = text.strip().rstrip("nc")
    if not t:
        return None
    unit = t[-1].upper() if t[-1].isalpha() else ""
    try:
        return int(float(t[:-1] if unit else t) * _MEM_UNITS[unit])
    except (KeyError, ValueError):
        return None


def parse_sacct(text: str) -> dict[str, SacctRow]:
    """sacct answer (fields SACCT_FIELDS) -> {JobID: row}. Without ``-D`` sacct prints only the
    latest run of a requeued job; if several lines share a JobID the last one wins. Step lines
    (``123.batch``, printed right after their job's line) give only their MaxRSS, appended to the
    job's ``rest`` (see :attr:`SacctRow.max_rss`). Lines of another shape are skipped.

    Kept lean for bench/poll.py: a job line is split only as far as its state and exit code (the rest
    stays one string, read by SacctRow's properties), a step line costs one ``startswith`` and a slice,
    no whole-answer pass."""
    if text and text[-1] != "\n":
        text += "\n"
    rows: dict[str, SacctRow] = {}
    new = tuple.__new__
    cls = SacctRow
    norm, exit_of, signal_of = _norm_state, _exit_of, _signal_of
    # Each job line is kept in ``pend`` and built into a row at the next job line (or the end),
    # once its steps (which follow it) have appended their MaxRSS to ``rest``.
    pend: list[str] = []
    prefix = "\0"  # "<pend's JobID>."
    rest = ""
    lines = text.split("\n")
    lines.append("|" * 13)  # a sentinel job line: builds the last pending row
    with gc_paused():
        for line in lines:
            if line.startswith(prefix):  # a step of pend: only its MaxRSS, the last field
                rest += line[line.rfind("|") :]
                continue
            p = line.split("|", 4)
            if len(p) == 5:
                if pend:
                    code = pend[3]
                    rows[pend[0]] = new(cls, (pend[0], pend[1], norm[pend[2]], pend[2], exit_of[code], signal_of[code], rest))
                jid = p[0]
                rest = p[4]
                # 14 fields, or 9 (an answer without the cost fields: older HeyHi, recorded fixtures);
                # else an orphan step, the sentinel, garbage
                if "." in jid or not jid or rest.count("|") not in (9, 4):
                    pend, prefix = [], "\0"
                    continue
                pend, prefix = p, jid + "."
    return rows


def _rss_key(text: str) -> int:
    b = mem_bytes(text)
    return -1 if b is None else b
