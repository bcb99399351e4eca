"""Parsing, state mapping and batch-script rendering, on answers captured from the real test
cluster (Slurm 22.05, tests/cluster/up.sh). No cluster needed."""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

import pytest

from heyhi.slurm import query as sp
from heyhi.slurm.script import SlurmSpec, render_sbatch
from heyhi_daemon.launchers.slurm_poller import SlurmPoller

# `squeue -h -t all -u root -o '%i|%T|%r|%N|%S|%M|%A'`, captured while an array 5 (-a 0-11%2)
# was partly pending, job 8 held, job 9 --begin=now+1hour, job 7 cancelled while pending.
SQUEUE_1 = """\
7|CANCELLED|Priority||2026-11-23T08:38:48|0:00|7
1|COMPLETED|None|vm|2026-11-23T08:38:38|0:00|1
4|PENDING|Resources||2027-11-23T08:38:45|0:00|4
5_[0-11%2]|PENDING|Priority||2027-11-23T08:38:45|0:00|5
6|PENDING|Priority||2027-11-23T08:38:45|0:00|6
9|PENDING|BeginTime||2026-11-23T09:38:45|0:00|9
8|PENDING|JobHeldUser||N/A|0:00|8
2|RUNNING|None|vm|2026-11-23T08:38:45|0:05|2
3|RUNNING|None|vm|2026-11-23T08:38:45|0:05|3
"""
# later: two array tasks done, one running, the rest still folded into 5_[3-11%2]
SQUEUE_2 = """\
5_1|COMPLETED|None|vm|2026-11-23T08:39:21|0:05|11
5_0|COMPLETED|None|vm|2026-11-23T08:39:15|0:05|10
5_[3-11%2]|PENDING|Resources||2027-11-23T08:39:26|0:00|5
6|FAILED|NonZeroExitCode|vm|2026-11-23T08:40:02|0:00|6
21|TIMEOUT|TimeLimit|vm|2026-11-23T08:40:14|1:21|21
22|PENDING|BeginTime||2026-11-23T08:40:26|0:00|22
4|RUNNING|None|vm|2026-11-23T08:39:15|0:16|4
5_2|RUNNING|None|vm|2026-11-23T08:39:26|0:05|12
"""
# `sacct -X --parsable2 -n -j ... -o JobID,JobIDRaw,State,ExitCode,Start,End,Elapsed,NodeList,Reason`
# (21: -t 1 hit its time limit; 22: requeued by scontrol, later scancel'ed while running)
SACCT_1 = """\
6|6|FAILED|3:0|2026-11-23T08:40:02|2026-11-23T08:40:02|00:00:00|vm|None
7|7|CANCELLED by 0|0:0|2026-11-23T08:38:48|2026-11-23T08:38:48|00:00:00|None assigned|None
21|21|TIMEOUT|0:0|2026-11-23T08:40:14|2026-11-23T08:41:35|00:01:21|vm|None
22|22|CANCELLED by 0|0:0|2026-11-23T08:40:27|2026-11-23T08:42:04|00:01:37|vm|BeginTime
23|23|COMPLETED|0:0|2026-11-23T08:41:35|2026-11-23T08:41:36|00:00:01|vm|None
8|8|PENDING|0:0|Unknown|Unknown|00:00:00|None assigned|JobHeldUser
5_2|12|RUNNING|0:0|2026-11-23T08:39:26|Unknown|00:00:05|vm|None
5_11|5|COMPLETED|0:0|2026-11-23T08:40:01|2026-11-23T08:40:06|00:00:05|vm|None
5_[0-11%2]|5|PENDING|0:0|Unknown|Unknown|00:00:00|None assigned|None
"""


# ---------------------------------------------------------------------------- squeue
@pytest.mark.parametrize(
    "job_id, state, reason, node, start, raw",
    [
        ("7", "CANCELLED", "Priority", "", "2026-11-23T08:38:48", "7"),
        ("1", "COMPLETED", "", "vm", "2026-11-23T08:38:38", "1"),
        ("4", "PENDING", "Resources", "", "2027-11-23T08:38:45", "4"),
        ("9", "PENDING", "BeginTime", "", "2026-11-23T09:38:45", "9"),
        ("8", "PENDING", "JobHeldUser", "", "", "8"),
        ("2", "RUNNING", "", "vm", "2026-11-23T08:38:45", "2"),
        ("5_[0-11%2]", "PENDING", "Priority", "", "2027-11-23T08:38:45", "5"),
    ],
)
def test_parse_squeue_rows(job_id, state, reason, node, start, raw):
    rows = sp.parse_squeue(SQUEUE_1)
    assert len(rows) == 9
    r = rows[job_id]
    assert (r.state, r.reason, r.node, r.start, r.raw_id) == (state, reason, node, start, raw)


def test_squeue_array_tasks_and_pending_range():
    rows = sp.parse_squeue(SQUEUE_2)
    assert rows["5_2"].array_job_id == "5" and rows["5_2"].raw_id == "12"
    assert not rows["5_2"].is_pending_range
    rng = rows["5_[3-11%2]"]
    assert rng.is_pending_range and rng.array_job_id == "5" and rng.array_spec == "3-11%2"
    assert rng.pending_task_ids() == list(range(3, 12))
    assert rows["6"].array_job_id is None
    # a task still folded into the range resolves to the range record; finished ones to their own
    assert sp.find_row(rows, "5_7") is rng
    assert sp.find_row(rows, "5_0").state == "COMPLETED"
    assert sp.find_row(rows, "5_12") is None
    assert sp.find_row(rows, "99") is None


@pytest.mark.parametrize(
    "spec, ids",
    [
        ("3-11%2", list(range(3, 12))),
        ("0-3", [0, 1, 2, 3]),
        ("1,4-8:2", [1, 4, 6, 8]),
        ("7", [7]),
        ("2,5%1", [2, 5]),
    ],
)
def test_expand_array_spec(spec, ids):
    assert sp.expand_array_spec(spec) == ids


def test_parse_squeue_skips_garbage_and_empty():
    assert sp.parse_squeue("") == {}
    rows = sp.parse_squeue("squeue: error: Invalid user: x\n1|RUNNING|None|vm|N/A|0:01|1\n\n")
    assert list(rows) == ["1"] and rows["1"].start == ""


def test_squeue_argv_one_call_for_all_jobs():
    argv = sp.squeue_argv("alice")
    assert argv[:2] == ["squeue", "-h"] and "-j" not in argv
    assert argv[argv.index("-u") + 1] == "alice" and argv[argv.index("-t") + 1] == "all"
    assert argv[argv.index("-o") + 1] == "%i|%T|%r|%N|%S|%M|%A"
    assert sp.squeue_argv()[sp.squeue_argv().index("-u") + 1]  # current user filled in


# ---------------------------------------------------------------------------- sacct
@pytest.mark.parametrize(
    "job_id, state, raw_state, exit_code, signal, returncode, node, reason",
    [
        ("6", "FAILED", "FAILED", 3, 0, 3, "vm", ""),
        ("7", "CANCELLED", "CANCELLED by 0", 0, 0, 0, "", ""),
        ("21", "TIMEOUT", "TIMEOUT", 0, 0, 0, "vm", ""),
        ("22", "CANCELLED", "CANCELLED by 0", 0, 0, 0, "vm", "BeginTime"),
        ("23", "COMPLETED", "COMPLETED", 0, 0, 0, "vm", ""),
        ("8", "PENDING", "PENDING", 0, 0, 0, "", "JobHeldUser"),
        ("5_2", "RUNNING", "RUNNING", 0, 0, 0, "vm", ""),
        ("5_11", "COMPLETED", "COMPLETED", 0, 0, 0, "vm", ""),
    ],
)
def test_parse_sacct_rows(job_id, state, raw_state, exit_code, signal, returncode, node, reason):
    r = sp.parse_sacct(SACCT_1)[job_id]
    assert (r.state, r.raw_state, r.exit_code, r.signal) == (state, raw_state, exit_code, signal)
    assert (r.returncode, r.node, r.reason) == (returncode, node, reason)


def test_parse_sacct_details():
    rows = sp.parse_sacct(SACCT_1)
    assert len(rows) == 9
    assert rows["5_11"].raw_id == "5"  # the last array task runs under the array's own id
    assert rows["8"].start == "" and rows["8"].end == ""
    assert rows["21"].elapsed == "00:01:21"
    assert rows["5_[0-11%2]"].state == "PENDING"
    # killed by a signal: "0:9" -> returncode -9
    r = sp.parse_sacct("31|31|CANCELLED by 0|0:9|a|b|00:00:01|vm|None\n")["31"]
    assert (r.state, r.exit_code, r.signal, r.returncode) == ("CANCELLED", 0, 9, -9)
    # truncated state from a non-parsable format; lines of another shape are skipped
    assert sp.parse_sacct("32|32|CANCELLED+|0:15|a|b|c|vm|None\n")["32"].state == "CANCELLED"
    assert sp.parse_sacct("sacct: error: x\n33|33|FAILED|1:0|a|b|c|vm|None|extra\n") == {}


@pytest.mark.parametrize(
    "text, expected", [("3:0", (3, 0)), ("0:15", (0, 15)), ("255:0", (255, 0)), ("", (None, 0)), ("x:y", (None, 0))]
)
def test_parse_exit_code(text, expected):
    assert sp.parse_exit_code(text) == expected


def test_sacct_argv_batches_and_rejects_malformed_ids():
    argv = sp.sacct_argv(["12", "5_3", "7+1"])
    # no -X: the steps' lines carry MaxRSS (what the job cost: heyhi.slurm.cost)
    assert argv[0] == "sacct" and "-X" not in argv and "--parsable2" in argv and "-n" in argv
    assert argv[argv.index("-j") + 1] == "12,5_3,7+1"
    fields = argv[argv.index("-o") + 1].split(",")
    assert fields[:4] == ["JobID", "JobIDRaw", "State", "ExitCode"] and "NodeList" in fields
    assert {"AllocTRES", "ElapsedRaw", "TotalCPU", "MaxRSS", "ReqMem"} <= set(fields)
    # sacct aborts the whole call on one bad id ("fatal: Bad job array element specified")
    with pytest.raises(ValueError):
        sp.sacct_argv(["12", "5_[3-11%2]"])
    with pytest.raises(ValueError):
        sp.sacct_argv([])


# ---------------------------------------------------------------------------- states
@pytest.mark.parametrize(
    "slurm, heyhi, final",
    [
        ("PENDING", "submitted", False),
        ("RUNNING", "running", False),
        ("COMPLETING", "running", False),
        ("COMPLETED", "completed", True),
        ("FAILED", "crashed", True),
        ("NODE_FAIL", "crashed", True),
        ("OUT_OF_MEMORY", "crashed", True),
        ("TIMEOUT", "crashed", True),
        ("BOOT_FAIL", "crashed", True),
        ("DEADLINE", "crashed", True),
        ("CANCELLED", "cancelled", True),
        ("CANCELLED by 1000", "cancelled", True),
        ("PREEMPTED", "requeued", False),
        ("REQUEUED", "requeued", False),
        ("REQUEUE_HOLD", "requeued", False),
        ("REQUEUE_FED", "requeued", False),
        ("SUSPENDED", "running", False),
        ("SOME_NEW_STATE", "running", False),
    ],
)
def test_map_state(slurm, heyhi, final):
    assert sp.map_state(slurm) == heyhi
    assert sp.is_final(slurm) is final


@pytest.mark.parametrize(
    "slurm, reason, expected",
    [
        ("PENDING", "Resources", ("submitted", "Resources")),
        ("PENDING", "None", ("submitted", "")),
        ("RUNNING", "None", ("running", "")),
        ("FAILED", "NonZeroExitCode", ("crashed", "FAILED: NonZeroExitCode")),
        ("TIMEOUT", "", ("crashed", "TIMEOUT")),
        ("PREEMPTED", "", ("requeued", "PREEMPTED")),
        ("SUSPENDED", "", ("running", "SUSPENDED")),
        ("CANCELLED by 0", "", ("cancelled", "")),
    ],
)
def test_map_state_reason(slurm, reason, expected):
    assert sp.map_state_reason(slurm, reason) == expected


# ---------------------------------------------------------------------------- poller (replayed)
class Replay:
    """Plays recorded answers back to the poller and records the calls it makes."""

    def __init__(self, squeue: str, sacct: str = ""):
        self.squeue, self.sacct, self.calls = squeue, sacct, []

    def __call__(self, argv):
        self.calls.append(argv)
        return self.squeue if argv[0] == "squeue" else self.sacct


def test_poller_replay_states_exit_codes_and_calls():
    rec = Replay(SQUEUE_2, SACCT_1)
    p = SlurmPoller(rec, user="root")
    p.track_many(["4", "5_2", "5_7", "6", "21", "22", "7"])
    changes = {c.job_id: c for c in p.poll()}
    # one squeue for all, one sacct only for 6/21 (final in squeue) and 7 (left squeue)
    assert [a[0] for a in rec.calls] == ["squeue", "sacct"]
    assert sorted(rec.calls[1][rec.calls[1].index("-j") + 1].split(",")) == ["21", "6", "7"]
    assert changes["4"][1:6] == ("RUNNING", "running", "", None, "vm") and changes["4"].acct is None
    assert changes["5_7"][1:3] == ("PENDING", "submitted") and changes["5_7"].reason == "Resources"
    assert changes["6"][1:5] == ("FAILED", "crashed", "FAILED", 3)
    assert changes["21"][1:5] == ("TIMEOUT", "crashed", "TIMEOUT", 0)
    assert changes["7"][1:3] == ("CANCELLED", "cancelled")
    assert changes["22"][1:3] == ("PENDING", "submitted")
    assert p.tracked == {"4", "5_2", "5_7", "22"}  # final ones are dropped
    # nothing changed: no changes, no sacct, interval grows
    assert p.poll() == [] and [a[0] for a in rec.calls] == ["squeue", "sacct", "squeue"]


def test_poller_requeue_and_interval():
    running = "22|RUNNING|None|vm|2026-11-23T08:40:14|0:02|22\n"
    requeued = "22|PENDING|BeginTime||2026-11-23T08:40:26|0:00|22\n"
    requeued2 = "22|PENDING|Priority||2026-11-23T08:40:26|0:00|22\n"
    rec = Replay(running)
    p = SlurmPoller(rec, min_interval=2, max_interval=60, growth=2)
    p.track("22")
    assert p.next_interval() == 2
    assert [c.state for c in p.poll()] == ["running"]
    assert p.next_interval() == 2
    intervals = []
    for _ in range(7):
        assert p.poll() == []
        intervals.append(p.next_interval())
    assert intervals == [4, 8, 16, 32, 60, 60, 60]
    rec.squeue = requeued
    (c,) = p.poll()
    assert (c.slurm_state, c.state, c.reason) == ("PENDING", "requeued", "BeginTime")
    assert p.next_interval() == 2
    rec.squeue = requeued2  # still pending after the requeue: stays "requeued"
    assert [c.state for c in p.poll()] == ["requeued"]


def test_poller_without_accounting_reports_squeue_final_state():
    def run(argv):
        if argv[0] == "sacct":
            from heyhi.launchers.slurm import SlurmError

            raise SlurmError("sacct failed: Slurm accounting storage is disabled")
        return "6|FAILED|NonZeroExitCode|vm|2026-11-23T08:40:02|0:00|6\n"

    p = SlurmPoller(run)
    p.track("6")
    (c,) = p.poll()
    assert (c.state, c.reason, c.exit_code) == ("crashed", "FAILED: NonZeroExitCode", None)
    assert p.tracked == set()


def test_parse_10000_jobs():
    """10,000 rows of each parse completely (their speed is a goal of bench/poll.py, not a test)."""
    sq = "".join(f"{1000 + i}|RUNNING|None|node{i % 50}|2026-11-23T08:40:14|1:00|{1000 + i}\n" for i in range(10_000))
    sa = "".join(
        f"{1000 + i}|{1000 + i}|FAILED|3:0|2026-11-23T08:40:02|2026-11-23T08:41:02|00:01:00|node1|None\n"
        for i in range(10_000)
    )
    a, b = sp.parse_squeue(sq), sp.parse_sacct(sa)
    assert len(a) == len(b) == 10_000


# ---------------------------------------------------------------------------- render_sbatch
def directives(script: str) -> dict[str, str]:
    out = {}
    for line in script.splitlines():
        if line.startswith("#SBATCH --"):
            k, _, v = line[len("#SBATCH --") :].partition("=")
            out[k] = v
    return out


RUN = Path("/runs/exp 1")


@pytest.mark.parametrize(
    "fields, expected, absent",
    [
        (
            dict(num_gpus=1, mem_per_gpu=60, cpus_per_gpu=10, hours=2, minutes=30),
            {"nodes": "1", "gpus-per-node": "1", "ntasks-per-node": "1", "cpus-per-task": "10", "mem": "60G", "time": "150"},
            ["ntasks", "partition"],
        ),
        (
            dict(num_gpus=8, single_task_per_node=True, mem_per_gpu=60, cpus_per_gpu=10),
            {"nodes": "1", "gpus-per-node": "8", "ntasks-per-node": "1", "cpus-per-task": "80", "mem": "480G"},
            ["time"],
        ),
        (
            dict(num_gpus=8, mem_per_gpu=60, cpus_per_gpu=10),
            {"nodes": "1", "gpus-per-node": "8", "ntasks-per-node": "8", "cpus-per-task": "10", "mem": "60G"},
            [],
        ),
        (
            dict(num_gpus=16, mem_per_gpu=60, cpus_per_gpu=10, partition="learnfair"),
            {"nodes": "2", "gpus-per-node": "8", "ntasks-per-node": "8", "cpus-per-task": "10", "partition": "learnfair"},
            [],
        ),
        (
            dict(num_gpus=16, single_task_per_node=True, mem_per_gpu=60, cpus_per_gpu=10),
            {"nodes": "2", "gpus-per-node": "8", "ntasks-per-node": "1", "cpus-per-task": "80", "mem": "480G"},
            [],
        ),
        (
            dict(num_gpus=6, cpus_per_gpu=4),
            {"nodes": "1", "gpus-per-node": "6", "ntasks-per-node": "6", "cpus-per-task": "4"},
            ["mem"],
        ),
        (
            dict(num_gpus=0, cpus_per_gpu=3, mem_gb=4, minutes=5),
            {"nodes": "1", "ntasks": "1", "cpus-per-task": "3", "mem": "4G", "time": "5"},
            ["gpus-per-node", "ntasks-per-node"],
        ),
        (dict(num_gpus=0, mem_per_gpu=60), {"ntasks": "1", "cpus-per-task": "1"}, ["mem", "gpus-per-node"]),
        (dict(num_gpus=1, volta32=True), {"constraint": "volta32gb"}, []),
        (dict(num_gpus=1, pascal=True, constraint="ib"), {"constraint": "ib&pascal"}, []),
        (
            dict(qos="high", account="proj", comment="deadline friday", signal_delay_s=120),
            {"qos": "high", "account": "proj", "comment": '"deadline friday"', "signal": "B:USR2@120"},
            [],
        ),
    ],
)
def test_render_sbatch_resources(fields, expected, absent):
    d = directives(render_sbatch(SlurmSpec.from_mapping(fields), RUN, "/venv/bin/python", {}))
    for k, v in expected.items():
        assert d.get(k) == v, (k, d)
    for k in absent:
        assert k not in d, (k, d)


@pytest.mark.parametrize(
    "fields, srun",
    [
        (dict(num_gpus=0), False),
        (dict(num_gpus=1), False),
        (dict(num_gpus=8, single_task_per_node=True), False),
        (dict(num_gpus=2), True),  # 2 tasks: one process per GPU needs srun
        (dict(num_gpus=16, single_task_per_node=True), True),  # one task on each of 2 nodes
    ],
)
def test_render_sbatch_uses_srun_for_several_tasks(fields, srun):
    s = render_sbatch(SlurmSpec(**fields), RUN, "/venv/bin/python", {})
    line = next(x for x in s.splitlines() if "-m heyhi.job" in x)
    assert line.startswith("srun ") is srun, line


@pytest.mark.parametrize("n", [9, 12, 20, -1])
def test_render_sbatch_rejects_bad_gpu_counts(n):
    with pytest.raises(ValueError) as e:
        render_sbatch(SlurmSpec(num_gpus=n), RUN, "python", {})
    assert "\n" not in str(e.value) and "num_gpus" in str(e.value)


def test_render_sbatch_always_and_legacy_fields():
    spec = SlurmSpec.from_mapping(
        {"num_gpus": 1, "job_name": "x" * 100, "partition": None, "extra_sbatch_flags": ["--exclusive", "--gres=foo:1"]}
    )
    s = render_sbatch(spec, RUN, "/venv/bin/python", {"A": "1"})
    d = directives(s)
    assert s.startswith("#!/bin/bash\n")
    assert d["signal"] == "B:USR2@90" and d["open-mode"] == "append" and "requeue" in d
    assert d["job-name"] == "x" * 80 and "partition" not in d
    assert d["chdir"] == '"/runs/exp 1"' and d["output"] == '"/runs/exp 1/slurm.out"'
    assert "#SBATCH --exclusive" in s and "#SBATCH --gres=foo:1" in s
    assert directives(render_sbatch(SlurmSpec(), RUN, "p", {}))["job-name"] == "heyhi"
    with pytest.raises(ValueError):
        SlurmSpec.from_mapping({"num_gpu": 1})  # typo
    with pytest.raises(ValueError):
        render_sbatch(SlurmSpec(volta=True, pascal=True), RUN, "p", {})
    with pytest.raises(ValueError):
        render_sbatch(SlurmSpec(), Path("relative/dir"), "p", {})


def test_render_sbatch_quotes_paths_and_env(tmp_path):
    """The body is real shell: run it (with a fake python that prints its argv) and check that a
    run dir and a python path with spaces and quotes arrive intact, env values too."""
    run_dir = tmp_path / "run dir 'q' $x"
    run_dir.mkdir()
    bindir = tmp_path / "my bin"
    bindir.mkdir()
    fake_py = bindir / "py thon"
    fake_py.write_text('#!/bin/sh\nfor a in "$@"; do echo "arg:$a"; done\necho "env:$GREETING"\necho "pwd:$(pwd)"\nexit 7\n')
    fake_py.chmod(0o755)
    s = render_sbatch(SlurmSpec(), run_dir, str(fake_py), {"GREETING": "hi 'there' $HOME"})
    assert f"{shlex.quote(str(fake_py))} -m heyhi.job {shlex.quote(str(run_dir))} &" in s
    p = subprocess.run(["bash", "-c", s], capture_output=True, text=True, timeout=30)
    assert p.returncode == 7, p.stderr  # the job's exit status comes through
    assert p.stdout.splitlines() == [
        "arg:-m", "arg:heyhi.job", f"arg:{run_dir}", "env:hi 'there' $HOME", f"pwd:{run_dir}",
    ]


def test_render_sbatch_forwards_usr2_and_keeps_waiting(tmp_path):
    """The batch shell gets USR2 (--signal=B:...): it must pass it on to the job and exit with
    the job's status, not with the 128+n of the interrupted wait."""
    job = tmp_path / "job.py"
    job.write_text(
        "import signal, sys, time, pathlib\n"
        "got = []\n"
        "signal.signal(signal.SIGUSR2, lambda *a: got.append(1))\n"
        "pathlib.Path(sys.argv[3], 'ready').write_text('x')\n"
        "t = time.monotonic()\n"
        "while not got and time.monotonic() - t < 20: time.sleep(0.01)\n"
        "time.sleep(0.3)\n"  # still busy when the shell's wait was interrupted
        "sys.exit(42 if got else 1)\n"
    )
    wrapper = tmp_path / "python"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(__import__('sys').executable)} {shlex.quote(str(job))} \"$@\"\n")
    wrapper.chmod(0o755)
    s = render_sbatch(SlurmSpec(), tmp_path, str(wrapper), {})
    p = subprocess.Popen(["bash", "-c", s])
    deadline = time.monotonic() + 20
    while not (tmp_path / "ready").exists():
        assert time.monotonic() < deadline and p.poll() is None, "fake job never started"
        time.sleep(0.02)
    p.send_signal(__import__("signal").SIGUSR2)
    assert p.wait(timeout=20) == 42


def test_parse_sacct_cost_tail_is_read_on_demand():
    """Job lines are split only as far as state and exit code; the other fields and the steps' MaxRSS
    stay one tail that the properties read (bench/poll.py's speed depends on it)."""
    sa = (
        "9|9|COMPLETED|0:0|Unknown|Unknown|00:00:10|None assigned|None|billing=2,cpu=2,node=1|10|00:05.000|4G|\n"
        "9.batch|9.batch|COMPLETED|0:0|a|b|00:00:10|vm||cpu=2|10|00:01.000||900K\n"
        "9.0|9.0|COMPLETED|0:0|a|b|00:00:10|vm||cpu=2|10|00:04.000||2M\n"
        "9.extern|9.extern|COMPLETED|0:0|a|b|00:00:10|vm||cpu=2|10|00:00:00||\n"
        "10|10|FAILED|1:0|a|b|00:00:01|vm|None|cpu=1|1|00:00.100|1G|5K|extra\n"
    )
    rows = sp.parse_sacct(sa)
    assert list(rows) == ["9"]  # 10 has one field too many: skipped
    r = rows["9"]
    assert (r.start, r.end, r.node, r.reason) == ("", "", "", "")
    assert r.cost_raw == "billing=2,cpu=2,node=1|10|00:05.000|4G||900K|2M|"
    assert (r.alloc_tres, r.elapsed_raw, r.total_cpu, r.req_mem, r.max_rss) == (
        "billing=2,cpu=2,node=1", "10", "00:05.000", "4G", "2M")
