"""Live efficiency warnings (``heyhi.slurm.efficiency``) and the poller's one batched sstat.

* parsing a FAKE replayed sstat answer (recorded format, several steps and jobs, garbage lines);
* the GPU path with a FAKE replayed sstat answer holding ``gres/gpuutil`` (there is no GPU here): the
  parse, and the warning decision (GPU utilisation in place of the CPU's where the node reports it);
* the warning logic with a fake clock; the settings from the environment;
* the poller: sstat at most once per interval, counted in the query rate, a FAKE runner;
* on the real test cluster: one real sstat against a running (idle) job, through the poller, gives
  the warning once the (fake) clock has moved past the idle time; and through a real daemon (short
  interval and idle time), an idling job's warning reaches a subscriber as a JobEvent and
  ``heyhi ctl show`` prints it.
"""

from __future__ import annotations

import subprocess

import pytest

from slurm_util import slurm_cluster  # noqa: F401  (fixture)
from waiting import wait_for

from heyhi.errors import ConfigError
from heyhi.slurm import efficiency as EFF
from heyhi_daemon.launchers.slurm_poller import SlurmPoller

# FAKE: an sstat answer in the format Slurm 22.05 prints for SSTAT_FIELDS (recorded on the test cluster,
# then a second job and an srun step added by hand; the step listed twice, as sstat does when asked for
# an array's id and one of its tasks' own ids; one line in the older three-field shape)
FAKE_SSTAT = (
    "41.extern|1|cpu=00:00:00,energy=0,fs/disk=2332,mem=0,pages=0,vmem=0|cpu=00:00:00,energy=0,fs/disk=2332,mem=0\n"
    "41.batch|1|cpu=00:01:02,energy=0,fs/disk=2744347,mem=26920K,pages=0,vmem=105868K|cpu=00:01:02,mem=26920K\n"
    "41.0|4|cpu=1-00:00:00,energy=0,mem=2G,pages=0,vmem=3G|cpu=06:00:00,mem=512M\n"
    "41.0|4|cpu=1-00:00:00,energy=0,mem=2G,pages=0,vmem=3G|cpu=06:00:00,mem=512M\n"
    "5_2.batch|1|cpu=00:00.500,energy=0,mem=1M\n"
    "sstat: error: couldn't get steps for job 43\n"
    "44.batch|1|energy=0,mem=1M|energy=0\n"
    "abc.batch|1|cpu=00:00:01|cpu=00:00:01\n"
)

# FAKE (there is no GPU here): the same shape as a node with Slurm's NVML GPU plugin prints it, gres/gpuutil
# (% of one GPU, averaged over the step's tasks) and gres/gpumem in TRESUsageInAve. Job 61: 4 tasks on 4 GPUs
# at 2% (its batch step reports zeros); job 62: a CPU job on a GPU node (zeros: judged by its CPU);
# job 63: one busy GPU; job 64: a broken figure.
FAKE_GPU_SSTAT = (
    "61.batch|1|cpu=00:00:01,mem=10M|cpu=00:00:01,gres/gpumem=0,gres/gpuutil=0,mem=10M\n"
    "61.0|4|cpu=00:00:08,mem=4G|cpu=00:00:02,gres/gpumem=1200M,gres/gpuutil=2,mem=1G\n"
    "62.batch|1|cpu=00:00:00,mem=1M|cpu=00:00:00,gres/gpumem=0,gres/gpuutil=0,mem=1M\n"
    "63.batch|1|cpu=00:00:00,mem=1M|cpu=00:00:00,gres/gpumem=30G,gres/gpuutil=97,mem=1M\n"
    "64.batch|1|cpu=00:00:00|cpu=00:00:00,gres/gpuutil=nan,gres/gpumem=1G\n"
)


class Clock:
    """A fake clock: tests move it by hand."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def cpu_only(used: dict) -> EFF.Sample:
    """A sample with CPU seconds only (a node that reports no GPU figures)."""
    return EFF.Sample(used, {})


def test_parse_replayed_sstat_FAKE():
    assert EFF.parse_sstat(FAKE_SSTAT) == ({"41": 62 + 86400, "5_2": 0.5}, {})
    assert EFF.parse_sstat("") == ({}, {})


def test_parse_gpu_utilisation_from_a_replayed_sstat_FAKE():
    """FAKE sstat answer with gres/gpuutil (no GPU here): a job's GPU utilisation is the sum over its
    steps of gpuutil x tasks (fraction of one GPU); a job reporting only zeros counts as a CPU job."""
    sample = EFF.parse_sstat(FAKE_GPU_SSTAT)
    assert sample.cpu == {"61": 9, "62": 0, "63": 0, "64": 0}
    assert sample.gpu == {"61": pytest.approx(0.08), "63": pytest.approx(0.97)}


def test_gpu_utilisation_decides_the_warning_FAKE():
    """FAKE replayed sstat answers (no GPU here): job 61 keeps its CPU busy enough, but its 4 GPUs idle at
    2%: the warning is about the GPU; job 63's GPU is busy while its CPU idles: no warning; job 62 (no
    GPU use reported) idles on its CPU: a CPU warning."""
    clock = Clock()
    w = EFF.EfficiencyWatch(interval_s=300, warn_after_s=600, threshold=0.05, clock=clock)
    busy_cpu = 0.0
    warnings: list = []
    for _ in range(4):
        text = FAKE_GPU_SSTAT.replace("cpu=00:00:08", f"cpu={int(busy_cpu) // 60:02d}:{int(busy_cpu) % 60:02d}")
        warnings += w.observe(EFF.parse_sstat(text), cpus={"61": 1}, gpus={"61": 4, "63": 1})
        clock.t += 300
        busy_cpu += 30  # 10% of one CPU: above the threshold
    assert sorted(warnings) == [
        ("61", "Slurm job 61: GPU utilisation 2.0% for 10 min (below 5%): stuck or idle while holding its allocation?"),
        ("62", "Slurm job 62: CPU utilisation 0.0% for 10 min (below 5%): stuck or idle while holding its allocation?"),
        ("64", "Slurm job 64: CPU utilisation 0.0% for 10 min (below 5%): stuck or idle while holding its allocation?"),
    ]  # 64: a GPU figure that is not a number: judged by its CPU
    # the GPU count unknown: taken as 1, 8% of one GPU is above the threshold (never a false alarm)
    w2 = EFF.EfficiencyWatch(interval_s=300, warn_after_s=0, threshold=0.05, clock=clock)
    w2.observe(EFF.parse_sstat(FAKE_GPU_SSTAT))
    clock.t += 300
    assert [x.job for x in w2.observe(EFF.parse_sstat(FAKE_GPU_SSTAT))] == ["62", "64"]


def test_sstat_argv_one_call_and_bad_ids():
    argv = EFF.sstat_argv(["41", "5_2"])
    assert argv[0] == "sstat" and "-a" in argv and argv[argv.index("-j") + 1] == "41,5_2"
    assert argv[argv.index("-o") + 1] == EFF.SSTAT_FIELDS
    with pytest.raises(ValueError, match="not a Slurm job id for sstat: '5_\\[1-3\\]'"):
        EFF.sstat_argv(["41", "5_[1-3]"])


def test_warning_after_idle_time_with_fake_clock():
    clock = Clock()
    w = EFF.EfficiencyWatch(interval_s=300, warn_after_s=1800, threshold=0.05, clock=clock)
    assert not w.due()  # the first sample waits one interval
    clock.t += 300
    assert w.due()
    assert w.observe(cpu_only({"7": 10.0, "8": 10.0})) == [] and not w.due()
    for _ in range(5):  # 25 min: job 7 idle, job 8 busy (1 CPU-second per second)
        clock.t += 300
        assert w.observe(cpu_only({"7": 10.0, "8": 10.0 + (clock.t - 1300)})) == []
    clock.t += 300  # 30 min idle
    (msg,) = w.observe(cpu_only({"7": 10.5, "8": 10.0 + (clock.t - 1300)}))
    assert msg.text.startswith("Slurm job 7: CPU utilisation 0.2% for 30 min (below 5%)"), msg
    clock.t += 300
    assert w.observe(cpu_only({"7": 10.5, "8": 10.0})) == []  # warned once per idle stretch
    clock.t += 300
    assert w.observe(cpu_only({"7": 400.0})) == []  # busy again: the stretch ends (and 8 is forgotten)
    for _ in range(6):
        clock.t += 300
        warnings = w.observe(cpu_only({"7": 400.0}))
    assert warnings == [("7", "Slurm job 7: CPU utilisation 0.0% for 30 min (below 5%): stuck or idle while "
                               "holding its allocation?")]


def test_cpu_count_scales_utilisation():
    clock = Clock()
    w = EFF.EfficiencyWatch(interval_s=1, warn_after_s=60, threshold=0.05, clock=clock)
    w.observe(cpu_only({"9": 0.0}))
    clock.t += 60
    assert w.observe(cpu_only({"9": 6.0}), cpus={"9": 1}) == []  # 10% of 1 CPU
    clock.t += 60
    (msg,) = w.observe(cpu_only({"9": 12.0}), cpus={"9": 8})  # the same 6 CPU-seconds: 1.2% of 8 CPUs
    assert msg.text.startswith("Slurm job 9: CPU utilisation 1.2% for 1 min"), msg


def test_settings_from_env():
    w = EFF.EfficiencyWatch.from_env({"HEYHI_SLURM_EFFICIENCY_INTERVAL_S": "60", "HEYHI_SLURM_IDLE_WARN_S": "600"})
    assert (w.interval_s, w.warn_after_s, w.threshold) == (60, 600, 0.05)
    assert EFF.EfficiencyWatch.from_env({}).interval_s == 300
    with pytest.raises(ConfigError, match="^HEYHI_SLURM_IDLE_WARN_S: expected a number"):
        EFF.EfficiencyWatch.from_env({"HEYHI_SLURM_IDLE_WARN_S": "soon"})
    with pytest.raises(ConfigError, match="^HEYHI_SLURM_EFFICIENCY_INTERVAL_S: "):
        EFF.EfficiencyWatch.from_env({"HEYHI_SLURM_EFFICIENCY_INTERVAL_S": "0"})


def test_poller_runs_one_sstat_per_interval_counted_FAKE():
    """FAKE Slurm runner: squeue shows job 41 running; sstat answers FAKE_SSTAT."""
    calls = []

    def replay(argv):
        calls.append(argv[0])
        return "41|RUNNING|None|vm|2026-11-23T08:40:02|1:00|41\n" if argv[0] == "squeue" else FAKE_SSTAT

    clock = Clock()
    p = SlurmPoller(replay, user="root", efficiency=EFF.EfficiencyWatch(interval_s=300, clock=clock))
    p.track("41")
    p.poll()
    p.poll()
    assert calls == ["squeue", "squeue"]  # no sstat before the first interval
    clock.t += 300
    p.poll()
    p.poll()
    assert calls == ["squeue", "squeue", "squeue", "sstat", "squeue"]
    assert p.rate.summary()["counts"]["sstat"] == 1 and p.calls == 5


def test_array_task_sampled_by_its_own_job_id_FAKE():
    """FAKE Slurm runner, in the shapes the test cluster answers: sstat takes ``5_2`` for the whole array
    5 and names the task's steps by its own id (squeue's %A, 77), so the poller asks for 77 and maps the
    answer back to 5_2; another task's steps in the answer are left out."""
    asked = []

    def replay(argv):
        if argv[0] == "squeue":
            return "5_2|RUNNING|None|vm|2026-11-23T08:40:02|1:00|77\n"
        asked.append(argv[argv.index("-j") + 1])
        return "77.batch|1|cpu=00:00:01|cpu=00:00:01\n78.batch|1|cpu=00:00:09|cpu=00:00:09\n"

    clock = Clock()
    p = SlurmPoller(replay, user="root", efficiency=EFF.EfficiencyWatch(interval_s=1, warn_after_s=0, clock=clock))
    p.track("5_2")
    p.poll()
    assert p.check_efficiency() == [] and asked == ["77"]
    clock.t += 60
    (w,) = p.check_efficiency()
    assert w.job == "5_2" and w.text.startswith("Slurm job 5_2: CPU utilisation 0.0% for 1 min"), w


def test_real_sstat_on_an_idle_running_job(slurm_cluster):  # noqa: F811
    """A real job that sleeps: the poller's real sstat samples it; with the clock moved past the idle
    time the warning names it."""
    sid = subprocess.run(
        ["sbatch", "--parsable", "--time=5", "-o", "/dev/null", "--wrap", "sleep 300"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip().split(";")[0]
    try:
        clock = Clock()
        p = SlurmPoller(user=None, efficiency=EFF.EfficiencyWatch(interval_s=300, warn_after_s=1800, clock=clock))
        p.track(sid)

        def sampled():
            p.poll()
            return sid in EFF.parse_sstat(p.run(EFF.sstat_argv([sid]))).cpu if p._last.get(sid, ("",))[0] == "RUNNING" else False

        wait_for(sampled, 300, f"Slurm job {sid} to run with a step sstat can see", interval=0.5)
        assert p.check_efficiency() == []  # the first sample of the job
        clock.t += 1800
        (msg,) = p.check_efficiency()
        assert msg.job == sid and msg.text.startswith(f"Slurm job {sid}: CPU utilisation 0.0% for 30 min"), msg
        assert list(p.efficiency_warnings) == [msg] and p.rate.summary()["counts"]["sstat"] >= 3
    finally:
        subprocess.run(["scancel", sid], capture_output=True, timeout=60)
