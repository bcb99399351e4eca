"""Bench: Slurm polling cost for 10,000 jobs, and Slurm calls per minute vs tracked jobs.

The squeue/sacct answers are FAKE: generated here in the exact formats the real Slurm 22.05 of
tests/cluster prints (that cluster's MaxJobCount is 10,000, so a real answer that big cannot be
recorded there). They are replayed through the real parser and SlurmPoller via its injectable
run function; the clock for the calls-per-minute part is simulated through next_interval().

Run: .venv/bin/python bench/poll.py      (exit status 1 if a target is missed)
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heyhi.slurm import query as sp  # noqa: E402
from heyhi_daemon.launchers.slurm_poller import SlurmPoller  # noqa: E402

N = 10_000
TARGET_MS = 50.0
FIRST_ID = 4_100_000
TRES = "billing=80,cpu=10,gres/gpu=8,mem=64G,node=1"  # AllocTRES of a fake 8-GPU job
REASONS = ["Priority", "Resources", "BeginTime", "JobHeldUser", "Dependency", "QOSMaxGRESPerUser"]


def fake_answers(n: int = N, final_fraction: float = 0.1, seed: int = 0) -> tuple[str, str, list[str]]:
    """(squeue text, sacct text, job ids) for n jobs: ~70% running, ~20% pending, the rest
    finished (half still listed by squeue in a final state, half already gone from it), plus
    one 200-task array with 180 tasks folded into a pending range."""
    rnd = random.Random(seed)
    sq, sa, ids = [], [], []
    n_plain = n - 200
    for i in range(n_plain):
        jid = str(FIRST_ID + i)
        ids.append(jid)
        r = rnd.random()
        node = f"learnfair{rnd.randrange(2000):04d}"
        if r < final_fraction:
            state, code = rnd.choice([("COMPLETED", "0:0"), ("FAILED", "1:0"), ("CANCELLED by 1000", "0:15"), ("TIMEOUT", "0:0")])
            if r < final_fraction / 2:  # still in squeue (MinJobAge)
                sq.append(f"{jid}|{state.split()[0]}|None|{node}|2026-11-23T08:40:02|3:11:02|{jid}")
            sa.append(f"{jid}|{jid}|{state}|{code}|2026-11-23T08:40:02|2026-11-23T11:51:04|03:11:02|{node}|None"
                      f"|{TRES}|11462|1-04:12:31|64G|")
            sa.append(f"{jid}.batch|{jid}.batch|{state}|{code}|2026-11-23T08:40:02|2026-11-23T11:51:04|03:11:02|{node}|"
                      f"|{TRES}|11462|1-04:12:31||41234567K")
        elif r < final_fraction + 0.2:
            sq.append(f"{jid}|PENDING|{rnd.choice(REASONS)}||2026-11-24T02:00:00|0:00|{jid}")
        else:
            sq.append(f"{jid}|RUNNING|None|{node}|2026-11-23T08:40:02|1:02:03|{jid}")
    arr = FIRST_ID + n_plain
    for t in range(20):
        jid = f"{arr}_{t}"
        ids.append(jid)
        sq.append(f"{jid}|RUNNING|None|learnfair0001|2026-11-23T08:40:02|0:12:00|{arr + 1 + t}")
    sq.append(f"{arr}_[20-199%20]|PENDING|JobArrayTaskLimit||N/A|0:00|{arr}")
    ids += [f"{arr}_{t}" for t in range(20, 200)]
    return "\n".join(sq) + "\n", "\n".join(sa) + "\n", ids


class Replay:
    def __init__(self, squeue: str, sacct: str):
        self.squeue, self.sacct, self.calls = squeue, sacct, 0

    def __call__(self, argv: list[str]) -> str:
        self.calls += 1
        return self.squeue if argv[0] == "squeue" else self.sacct


def best_ms(fn, repeat: int = 15, setup=None) -> tuple[float, float]:
    """(best wall ms, best CPU ms) of fn(setup()); setup (untimed) prepares a fresh argument.
    The CPU time is this process's own cost; wall time also counts waiting for a CPU when
    other work shares the machine (it did while this was written: 2 vCPUs, parallel tests)."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        arg = setup() if setup else None
        c, t = time.process_time(), time.perf_counter()
        fn(arg) if setup else fn()
        best_wall = min(best_wall, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall * 1000, best_cpu * 1000


def row(label: str, ms: tuple[float, float]) -> tuple[str, bool]:
    wall, cpu = ms
    ok = cpu < TARGET_MS
    return (
        f"  {label:<60} {cpu:6.1f} ms CPU ({wall:6.1f} wall)   target < {TARGET_MS:.0f} ms"
        f"   {cpu / TARGET_MS:4.2f}x  {'OK' if ok else 'MISSED'}",
        ok,
    )


def main() -> int:
    ok_all = True
    print(f"FAKE squeue + sacct answers for {N:,} jobs (generated in Slurm 22.05 formats;"
          f" the test cluster's MaxJobCount is 10,000)")
    squeue, sacct, ids = fake_answers()
    print(f"  squeue answer {len(squeue) / 1024:.0f} KiB, {squeue.count(chr(10)):,} lines;"
          f" sacct answer {len(sacct) / 1024:.0f} KiB, {sacct.count(chr(10)):,} lines")

    print(f"\nProcessing time per poll (best of 15; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs,"
          f" load average {os.getloadavg()[0]:.2f}):")
    line, ok = row(f"parse_squeue, {squeue.count(chr(10)):,} lines", best_ms(lambda: sp.parse_squeue(squeue)))
    print(line)
    all_final_sacct = "".join(  # each job's allocation line and its batch step's (MaxRSS)
        f"{j}|{j}|FAILED|3:0|2026-11-23T08:40:02|2026-11-23T09:40:02|01:00:00|learnfair0001|None|{TRES}|3600|"
        f"08:12:31|64G|\n{j}.batch|{j}.batch|FAILED|3:0|2026-11-23T08:40:02|2026-11-23T09:40:02|01:00:00|"
        f"learnfair0001||{TRES}|3600|08:12:31||41234567K\n"
        for j in range(FIRST_ID, FIRST_ID + N)
    )
    line, ok = row(f"parse_sacct, {N:,} jobs (+ their steps)", best_ms(lambda: sp.parse_sacct(all_final_sacct)))
    print(line)
    ms = best_ms(lambda: (sp.parse_squeue(squeue), sp.parse_sacct(all_final_sacct)))
    line, ok = row(f"parse_squeue + parse_sacct ({N:,} jobs each)", ms)
    print(line)
    ok_all &= ok

    def fresh(sq_text, sa_text, job_ids):
        def setup():
            p = SlurmPoller(Replay(sq_text, sa_text))
            p.track_many(job_ids)
            return p
        return setup

    def first_poll(p):  # every job is new: 10,000 changes reported, finished ones go to sacct
        changes = p.poll()
        assert len(changes) == len(ids), len(changes)

    ms = best_ms(first_poll, setup=fresh(squeue, sacct, ids))
    line, ok = row(f"poll(), {N:,} tracked, first poll (all reported)", ms)
    print(line)
    ok_all &= ok

    steady = SlurmPoller(Replay(squeue, sacct))
    steady.track_many(ids)
    steady.poll()
    line, ok = row(f"poll(), {len(steady.tracked):,} tracked, nothing changed", best_ms(steady.poll))
    print(line)
    ok_all &= ok

    worst_sq = "".join(f"{j}|FAILED|NonZeroExitCode|n1|2026-11-23T08:40:02|1:00:00|{j}\n" for j in range(FIRST_ID, FIRST_ID + N))
    worst_ids = [str(j) for j in range(FIRST_ID, FIRST_ID + N)]

    def all_finish(p):
        assert len(p.poll()) == N

    ms = best_ms(all_finish, setup=fresh(worst_sq, all_final_sacct, worst_ids))
    line, ok = row(f"poll(), all {N:,} finish at once (sacct for all)", ms)
    print(line.replace("OK", "").replace("MISSED", "") + "(stress case, not gated)")

    print("\nSlurm calls per minute, simulated clock (interval 2 s after a change, doubling to 60 s")
    print("while nothing changes; quiet = 30 min with no change, 'after back-off' = its last 20 min;")
    print("busy = 5 min with a change at every poll):")
    print(f"  {'tracked jobs':>12}  {'quiet: calls/min':>17}  {'quiet, after back-off':>22}  {'busy: calls/min':>16}  {'naive per-job squeue/min':>25}")
    results = []
    for n in (1, 100, N):
        sub_ids = ids[:n]
        quiet = SlurmPoller(Replay(squeue, sacct))
        quiet.track_many(sub_ids)
        rec = quiet._run
        t, horizon, late_calls, late_start = 0.0, 1800.0, 0, 600.0
        while t < horizon:
            before = rec.calls
            quiet.poll()
            if t >= late_start:
                late_calls += rec.calls - before
            t += quiet.next_interval()
        quiet_rate = rec.calls / (horizon / 60)
        late_rate = late_calls / ((horizon - late_start) / 60)

        # busy: one job's pending reason flips on every poll -> always a change
        flip = [squeue, squeue.replace("|PENDING|Priority|", "|PENDING|Resources|", 1)]
        busy_rec = Replay(squeue, sacct)
        busy = SlurmPoller(busy_rec)
        busy.track_many(sub_ids if n > 1 else [ids[[i for i, j in enumerate(ids) if f"{j}|PENDING|Priority|" in squeue][0]]])
        t, k, busy_horizon = 0.0, 0, 300.0
        while t < busy_horizon:
            busy_rec.squeue = flip[k % 2]
            k += 1
            busy.poll()
            t += busy.next_interval()
        busy_rate = busy_rec.calls / (busy_horizon / 60)
        results.append((n, quiet_rate, late_rate, busy_rate))
        print(f"  {n:>12,}  {quiet_rate:>17.2f}  {late_rate:>22.2f}  {busy_rate:>16.2f}  {n * 30:>25,}")
    rates = [r[2] for r in results]
    busy_rates = [r[3] for r in results]
    indep = max(rates) - min(rates) < 0.01 and max(busy_rates) - min(busy_rates) < 0.5
    print(f"  independent of the number of jobs: {'yes' if indep else 'NO'}"
          f" (quiet after back-off {min(rates):.2f}-{max(rates):.2f}/min, target <= 2/min,"
          f" ratio {max(rates) / 2:.2f}x; busy {min(busy_rates):.1f}-{max(busy_rates):.1f}/min, target <= 31/min)")
    ok_all &= indep and max(rates) <= 2 and max(busy_rates) <= 31
    print("\nALL TARGETS MET" if ok_all else "\nTARGET MISSED")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
