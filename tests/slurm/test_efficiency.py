"""Live efficiency warnings (``heyhi.slurm.efficiency``) and the poller's one batched sstat.

* parsing a FAKE replayed sstat answer (recorded format, several steps and jobs, garbage lines);
* the GPU path, render/parse only, with a FAKE nvidia-smi answer (there is no GPU here);
* the warning logic with a fake clock; the settings from the environment;
* the poller: sstat at most once per interval, counted in the query rate, a FAKE runner;
* on the real test cluster: one real sstat against a running (idle) job, through the poller, gives
  the warning once the (fake) clock has moved past the idle time.
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
# then a second job and an srun step added by hand)
FAKE_SSTAT = (
    "41.extern|1|cpu=00:00:00,energy=0,fs/disk=2332,mem=0,pages=0,vmem=0\n"
    "41.batch|1|cpu=00:01:02,energy=0,fs/disk=2744347,mem=26920K,pages=0,vmem=105868K\n"
    "41.0|4|cpu=1-00:00:00,energy=0,mem=2G,pages=0,vmem=3G\n"
    "5_2.batch|1|cpu=00:00.500,energy=0,mem=1M\n"
    "sstat: error: couldn't get steps for job 43\n"
    "44.batch|1|energy=0,mem=1M\n"
    "abc.batch|1|cpu=00:00:01\n"
)


class Clock:
    """A fake clock: tests move it by hand."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_parse_replayed_sstat_FAKE():
    assert EFF.parse_sstat(FAKE_SSTAT) == {"41": 62 + 86400, "5_2": 0.5}
    assert EFF.parse_sstat("") == {}


def test_sstat_argv_one_call_and_bad_ids():
    argv = EFF.sstat_argv(["41", "5_2"])
    assert argv[0] == "sstat" and "-a" in argv and argv[argv.index("-j") + 1] == "41,5_2"
    assert argv[argv.index("-o") + 1] == EFF.SSTAT_FIELDS
    with pytest.raises(ValueError, match="not a Slurm job id for sstat: '5_\\[1-3\\]'"):
        EFF.sstat_argv(["41", "5_[1-3]"])


def test_gpu_path_render_and_parse_FAKE():
    """FAKE nvidia-smi answer: there is no GPU (nor nvidia-smi) on the test cluster."""
    argv = EFF.gpu_argv("41")
    assert argv[:3] == ["srun", "--overlap", "--jobid=41"] and "--query-gpu=utilization.gpu" in argv
    assert EFF.parse_gpu_util("87\n13\n") == pytest.approx(0.5)
    assert EFF.parse_gpu_util("[N/A]\n") is None
    with pytest.raises(ValueError):
        EFF.gpu_argv("41; rm")


def test_warning_after_idle_time_with_fake_clock():
    clock = Clock()
    w = EFF.EfficiencyWatch(interval_s=300, warn_after_s=1800, threshold=0.05, clock=clock)
    assert not w.due()  # the first sample waits one interval
    clock.t += 300
    assert w.due()
    assert w.observe({"7": 10.0, "8": 10.0}) == [] and not w.due()
    for _ in range(5):  # 25 min: job 7 idle, job 8 busy (1 CPU-second per second)
        clock.t += 300
        assert w.observe({"7": 10.0, "8": 10.0 + (clock.t - 1300)}) == []
    clock.t += 300  # 30 min idle
    (msg,) = w.observe({"7": 10.5, "8": 10.0 + (clock.t - 1300)})
    assert msg.startswith("Slurm job 7: CPU utilisation 0.2% for 30 min (below 5%)"), msg
    clock.t += 300
    assert w.observe({"7": 10.5, "8": 10.0}) == []  # warned once per idle stretch
    clock.t += 300
    assert w.observe({"7": 400.0}) == []  # busy again: the stretch ends (and 8 is forgotten)
    for _ in range(6):
        clock.t += 300
        warnings = w.observe({"7": 400.0})
    assert warnings == ["Slurm job 7: CPU utilisation 0.0% for 30 min (below 5%): stuck or idle while "
                        "holding its allocation?"]


def test_cpu_count_scales_utilisation():
    clock = Clock()
    w = EFF.EfficiencyWatch(interval_s=1, warn_after_s=60, threshold=0.05, clock=clock)
    w.observe({"9": 0.0})
    clock.t += 60
    assert w.observe({"9": 6.0}, cpus={"9": 1}) == []  # 10% of 1 CPU
    clock.t += 60
    (msg,) = w.observe({"9": 12.0}, cpus={"9": 8})  # the same 6 CPU-seconds: 1.2% of 8 CPUs
    assert msg.startswith("Slurm job 9: CPU utilisation 1.2% for 1 min"), msg


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
            return sid in EFF.parse_sstat(p.run(EFF.sstat_argv([sid]))) if p._last.get(sid, ("",))[0] == "RUNNING" else False

        wait_for(sampled, 300, f"Slurm job {sid} to run with a step sstat can see", interval=0.5)
        assert p.check_efficiency() == []  # the first sample of the job
        clock.t += 1800
        (msg,) = p.check_efficiency()
        assert msg.startswith(f"Slurm job {sid}: CPU utilisation 0.0% for 30 min"), msg
        assert list(p.efficiency_warnings) == [msg] and p.rate.summary()["counts"]["sstat"] >= 3
    finally:
        subprocess.run(["scancel", sid], capture_output=True, timeout=60)
