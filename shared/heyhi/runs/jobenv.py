"""What a running job can ask about itself: ``heyhi.job_env()``, read from the environment only.

In a Slurm job (``SLURM_JOB_ID`` set) the answers come from Slurm's ``SLURM_*`` variables; anywhere
else the job is one local task (rank 0 of 1 on node 0 of 1, job id ``local``). The attributes are
those of submitit's ``JobEnvironment`` (``job_id``, ``global_rank``, ``local_rank``, ``num_tasks``,
``num_nodes``, ``node``, ``hostname``, ``hostnames``, ...), so code written for the original HeyHi's
``get_job_env()`` reads the same names; submitit itself is never imported.

Ranks: a Slurm task's rank is ``SLURM_PROCID`` (``SLURM_LOCALID`` on its node); a worker started by
torchrun (``TORCHELASTIC_RUN_ID`` set) takes torch's own ``RANK``/``LOCAL_RANK``/``WORLD_SIZE``/
``LOCAL_WORLD_SIZE``. ``is_master()`` is rank 0. ``distributed_env()`` is what ``python -m heyhi.job``
sets in every Slurm task before it runs: ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
``NODE_RANK``/``GROUP_RANK``, ``MASTER_ADDR`` (the first host of ``SLURM_JOB_NODELIST``) and
``MASTER_PORT`` (``master_port``: derived from the job id, in 15000-29999, below Linux's ephemeral
ports); nothing under torchrun (torch set them) or outside Slurm (a local job is left alone).
``python -m heyhi.runs.jobenv --exports`` prints ``MASTER_ADDR``/``MASTER_PORT`` as shell exports (the
batch script of a torchrun job evaluates it for the rendezvous endpoint).

``expand_hostlist`` reads Slurm's compressed host lists (``node[01-03,07],gpu5``) without calling
``scontrol``; ``first_host`` takes the first host without expanding the rest. Promises: a malformed
list, one longer than ``MAX_HOSTLIST_CHARS`` or one naming more than ``MAX_HOSTS`` hosts is a
one-line ``HostlistError`` (counted before anything is expanded); a ``SLURM_*`` number that is not
a whole number is a one-line ``HeyHiError`` naming the variable. Stdlib only.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from dataclasses import dataclass
from typing import Mapping

from heyhi.errors import HeyHiError

__all__ = ["JobEnv", "job_env", "is_master", "distributed_env", "master_port", "HostlistError", "expand_hostlist",
           "first_host", "MAX_HOSTS", "LOCAL_JOB_ID", "MASTER_PORT_BASE", "MASTER_PORT_SPAN"]

MAX_HOSTS = 100_000  # more hosts than any Slurm allocation holds
MAX_HOSTLIST_CHARS = 65_536
MAX_NUMBER_DIGITS = 18  # a host number wider than this is not a host number
LOCAL_JOB_ID = "local"  # the job id of a job outside Slurm (what the original HeyHi recorded for one)

MASTER_PORT_BASE = 15000  # MASTER_PORT = BASE + job id mod SPAN: 15000-29999, below the ephemeral ports
MASTER_PORT_SPAN = 15000
MAX_TASKS_PER_NODE_CHARS = 4096

_RANGE = re.compile(r"(\d+)(?:-(\d+))?")
_TASKS_ITEM = re.compile(r"(\d{1,9})(?:\(x(\d{1,9})\))?")


class HostlistError(HeyHiError, ValueError):
    """A Slurm host list HeyHi cannot read (one line, naming the list)."""


@dataclass(frozen=True)
class JobEnv:
    """This job, as submitit's ``JobEnvironment`` describes one."""

    job_id: str
    raw_job_id: str
    array_job_id: str | None
    array_task_id: str | None
    global_rank: int
    local_rank: int
    num_tasks: int
    num_nodes: int
    node: int
    hostnames: tuple[str, ...]
    on_slurm: bool
    local_num_tasks: int = 1  # tasks on this node (LOCAL_WORLD_SIZE)

    @property
    def master_addr(self) -> str:
        """The first host of the allocation: where rank 0 runs."""
        return self.hostnames[0]

    @property
    def master_port(self) -> int:
        return master_port(self.raw_job_id)

    @property
    def hostname(self) -> str:
        return socket.gethostname()

    def __repr__(self) -> str:
        return (f"JobEnvironment(job_id={self.job_id}, hostname={self.hostname}, local_rank={self.local_rank}"
                f"({self.num_tasks}), node={self.node}({self.num_nodes}), global_rank={self.global_rank}"
                f"({self.num_tasks}))")


def job_env(environ: Mapping[str, str] | None = None) -> JobEnv:
    """This job's ranks, sizes, ids and hosts (see the module docstring); ``environ`` defaults to
    ``os.environ``."""
    env = os.environ if environ is None else environ
    if "SLURM_JOB_ID" not in env:
        return JobEnv(job_id=LOCAL_JOB_ID, raw_job_id=LOCAL_JOB_ID, array_job_id=None, array_task_id=None,
                      global_rank=0, local_rank=0, num_tasks=1, num_nodes=1, node=0,
                      hostnames=(socket.gethostname(),), on_slurm=False)
    raw = env["SLURM_JOB_ID"]
    array_job, array_task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
    num_tasks = _number(env, "SLURM_NTASKS", 1)
    num_nodes = _number(env, "SLURM_JOB_NUM_NODES", _number(env, "SLURM_NNODES", 1))
    node = _number(env, "SLURM_NODEID", 0)
    rank, local_rank = _number(env, "SLURM_PROCID", 0), _number(env, "SLURM_LOCALID", 0)
    local_num = _tasks_on_node(env, node, num_tasks, num_nodes)
    if env.get("TORCHELASTIC_RUN_ID"):  # a torchrun worker: torch's ranks, not Slurm's (one task per node)
        rank, local_rank = _number(env, "RANK", 0), _number(env, "LOCAL_RANK", 0)
        num_tasks, local_num = _number(env, "WORLD_SIZE", 1), _number(env, "LOCAL_WORLD_SIZE", 1)
    return JobEnv(
        job_id=f"{array_job}_{array_task}" if array_job and array_task else raw,
        raw_job_id=raw,
        array_job_id=array_job,
        array_task_id=array_task,
        global_rank=rank,
        local_rank=local_rank,
        num_tasks=num_tasks,
        num_nodes=num_nodes,
        node=node,
        hostnames=tuple(expand_hostlist(nodelist)) if nodelist else (socket.gethostname(),),
        on_slurm=True,
        local_num_tasks=local_num,
    )


def is_master(*, environ: Mapping[str, str] | None = None) -> bool:
    """Is this task rank 0 of its job (outside a Slurm job: unless ``SLURM_PROCID`` says otherwise, as in
    the original HeyHi)? Only rank 0 writes a run's records."""
    env = os.environ if environ is None else environ
    if "SLURM_JOB_ID" not in env:
        return env.get("SLURM_PROCID", "0") == "0"
    return job_env(env).global_rank == 0


def master_port(job_id: str) -> int:
    """``MASTER_PORT`` of a job: ``MASTER_PORT_BASE + id mod MASTER_PORT_SPAN`` (a fixed one for a
    non-numeric id such as ``local``), so every rank derives the same port on its own."""
    digits = str(job_id).split("_")[0]
    n = int(digits[-MAX_NUMBER_DIGITS:]) if digits.isascii() and digits.isdigit() else 0
    return MASTER_PORT_BASE + n % MASTER_PORT_SPAN


def distributed_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The distributed environment of this Slurm task (see the module docstring); ``{}`` outside Slurm
    and in a torchrun worker."""
    env = os.environ if environ is None else environ
    if "SLURM_JOB_ID" not in env or env.get("TORCHELASTIC_RUN_ID"):
        return {}
    e = job_env(env)
    return {"RANK": str(e.global_rank), "LOCAL_RANK": str(e.local_rank), "WORLD_SIZE": str(e.num_tasks),
            "LOCAL_WORLD_SIZE": str(e.local_num_tasks), "NODE_RANK": str(e.node), "GROUP_RANK": str(e.node),
            "MASTER_ADDR": e.master_addr, "MASTER_PORT": str(e.master_port)}


def _tasks_on_node(env: Mapping[str, str], node: int, num_tasks: int, num_nodes: int) -> int:
    """Tasks on node ``node`` from ``SLURM_STEP_TASKS_PER_NODE``/``SLURM_TASKS_PER_NODE`` (``2(x3),1``);
    else an even share of ``num_tasks``."""
    for name in ("SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"):
        text = (env.get(name) or "").strip()
        if not text:
            continue
        if len(text) > MAX_TASKS_PER_NODE_CHARS:
            raise HeyHiError(f"bad Slurm environment: {name} is {len(text)} characters long")
        at = 0
        for item in text.split(","):
            m = _TASKS_ITEM.fullmatch(item.strip())
            if m is None:
                raise HeyHiError(f"bad Slurm environment: {name}={text[:40]!r} is not a list like 2(x3),1")
            at += int(m.group(2) or 1)
            if node < at:
                return int(m.group(1))
        break
    return max(1, num_tasks // max(1, num_nodes))


def _number(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None or text == "":
        return default
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_NUMBER_DIGITS:
        raise HeyHiError(f"bad Slurm environment: {name}={text[:40]!r} is not a whole number")
    return int(text)


# ---- Slurm host lists -------------------------------------------------------------------------

def _split_top(text: str) -> list[str]:
    """``text`` cut at the commas outside brackets."""
    items, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif c == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return items


def _parse_item(item: str, whole: str) -> list[list[str] | tuple[int, int, int]]:
    """One host expression as parts: literal text (a one-element list) or bracket groups (a list of
    ``(lo, hi, width)`` ranges)."""
    def bad(why: str) -> HostlistError:
        return HostlistError(f"bad Slurm host list {whole[:80]!r}: {why}")

    if not item:
        raise bad("an empty host name")
    parts: list = []
    i = 0
    while i < len(item):
        open_at = item.find("[", i)
        close_at = item.find("]", i)
        if close_at != -1 and (open_at == -1 or close_at < open_at):
            raise bad("a ']' without its '['")
        if open_at == -1:
            parts.append([item[i:]])
            break
        if open_at > i:
            parts.append([item[i:open_at]])
        end = item.find("]", open_at)
        if end == -1:
            raise bad("a '[' without its ']'")
        inner = item[open_at + 1:end]
        if "[" in inner:
            raise bad("nested brackets")
        ranges = []
        for r in inner.split(","):
            m = _RANGE.fullmatch(r.strip()) if r.isascii() else None
            if m is None or any(len(g) > MAX_NUMBER_DIGITS for g in m.groups() if g):
                raise bad(f"{r!r} is not a number or a range N-M")
            lo_text, hi_text = m.group(1), m.group(2) or m.group(1)
            lo, hi = int(lo_text), int(hi_text)
            if hi < lo:
                raise bad(f"the range {r!r} runs backwards")
            ranges.append((lo, hi, len(lo_text)))  # zero-padded to the lower bound's width, as Slurm does
        parts.append(ranges)
        i = end + 1
    return parts


def _count(parts: list) -> int:
    n = 1
    for p in parts:
        if isinstance(p[0], tuple):
            n *= sum(hi - lo + 1 for lo, hi, _ in p)
            if n > MAX_HOSTS:
                return n
    return n


def _items(text: str) -> list[list]:
    if len(text) > MAX_HOSTLIST_CHARS:
        raise HostlistError(f"bad Slurm host list: {len(text)} characters long (at most {MAX_HOSTLIST_CHARS})")
    text = text.strip()
    if not text:
        raise HostlistError("bad Slurm host list: it is empty")
    return [_parse_item(item.strip(), text) for item in _split_top(text)]


def expand_hostlist(text: str, limit: int = MAX_HOSTS) -> list[str]:
    """Every host of a Slurm host list, in order (``node[01-02],gpu1`` -> node01, node02, gpu1)."""
    items = _items(text)
    total = 0
    for parts in items:
        total += _count(parts)
        if total > limit:
            raise HostlistError(f"bad Slurm host list {text[:80]!r}: it names more than {limit} hosts")
    out: list[str] = []
    for parts in items:
        names = [""]
        for p in parts:
            if isinstance(p[0], tuple):
                names = [n + str(x).zfill(w) for n in names for lo, hi, w in p for x in range(lo, hi + 1)]
            else:
                names = [n + p[0] for n in names]
        out.extend(names)
    return out


def first_host(text: str) -> str:
    """The first host of a Slurm host list (the list is checked, not expanded)."""
    parts = _items(text)[0]
    return "".join(str(p[0][0]).zfill(p[0][2]) if isinstance(p[0], tuple) else p[0] for p in parts)


def _main(argv: list[str]) -> int:
    """``python -m heyhi.runs.jobenv --exports``: this Slurm job's MASTER_ADDR/MASTER_PORT as exports."""
    import shlex  # lean: only the batch script's command line needs it

    if argv != ["--exports"]:
        print("usage: python -m heyhi.runs.jobenv --exports", file=sys.stderr)
        return 2
    try:
        e = job_env()
    except HeyHiError as err:
        print(f"heyhi.runs.jobenv: {err}", file=sys.stderr)
        return 2
    print(f"export MASTER_ADDR={shlex.quote(e.master_addr)} MASTER_PORT={e.master_port}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
