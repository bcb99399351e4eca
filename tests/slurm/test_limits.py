"""The cluster's limits (``heyhi.slurm.limits``) and a sweep split within them.

* FAKE ``scontrol show config`` / sacctmgr answers (text in Slurm 22.05's format) parsed, table-driven;
* the real test cluster's values (up.sh: ``MaxJobCount=10000``, Slurm's default ``MaxArraySize=1001``)
  read by the daemon's tracker through its counted runner;
* a sweep of 5 points on the test cluster reconfigured to ``MaxArraySize=2`` (``slurm_util.cluster_conf``:
  ``scontrol reconfigure``, restored after the test) and ``--max-parallel 1``: the daemon, started inside
  that window, reads the limit from the cluster and sends the sweep as 3 arrays, each ``%1``, each after
  the one before (``--dependency=afterany``): never two points at once, though the cluster has 2 CPUs
  (with one throttle per array, two would run at once). Its report sums the points' cost.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import run_cli
from slurm_util import cluster_conf, show_config, slurm_cluster, slurm_daemon  # noqa: F401  (fixture)
from waiting import wait_for

from heyhi.slurm import cost as C, limits as LIM
from heyhi.wire import protocol as P
from heyhi.wire.client import Client

PROBE = "conf/probe/probe.prototxt"

# FAKE: an excerpt of `scontrol show config` in Slurm 22.05's format
FAKE_CONFIG = """Configuration data as of 2026-12-01T15:16:00
AccountingStorageType   = accounting_storage/slurmdbd
MaxArraySize            = 40001
MaxDBDMsgs              = 20000
MaxJobCount             = 250000
MaxJobId                = 67043328
MaxStepCount            = 40000
"""


@pytest.mark.parametrize("text,expected", [
    pytest.param(FAKE_CONFIG, LIM.Limits(40001, 250000), id="both"),
    pytest.param("MaxJobCount = 10000\n", LIM.Limits(None, 10000), id="no-array-size"),
    pytest.param("MaxArraySize = lots\nMaxJobCount=7\n", LIM.Limits(None, 7), id="not-a-number"),
    pytest.param("", LIM.Limits(None, None), id="empty"),
    pytest.param("X" * (LIM.MAX_ANSWER + 10) + "\nMaxArraySize = 5\n", LIM.Limits(None, None), id="bounded"),
])
def test_parse_config(text, expected):
    assert LIM.parse_config(text) == expected


def test_array_size_defaults_to_slurms():
    assert LIM.Limits(None, None).array_size() == 1001 and LIM.Limits(7, None).array_size() == 7


@pytest.mark.parametrize("text,expected", [
    pytest.param("\n\n", None, id="no-limit"),
    pytest.param("500\n\n200\n", 200, id="smallest"),
    pytest.param("sacctmgr: error: x\n", None, id="garbage"),
])
def test_parse_max_submit(text, expected):
    assert LIM.parse_max_submit(text) == expected


def test_env_override_lowers_the_array_size_and_is_checked():
    lim = LIM.Limits(1001, 10000)
    assert LIM.with_override(lim, "4").max_array_size == 4
    assert LIM.with_override(lim, "5000").max_array_size == 1001  # a larger array would not submit
    assert LIM.with_override(LIM.Limits(None, None), "9").max_array_size == 9
    assert LIM.with_override(lim, None) == lim
    with pytest.raises(ValueError, match=r"^HEYHI_MAX_ARRAY_SIZE: expected a positive integer, got 'x'$"):
        LIM.with_override(lim, "x")
    assert LIM.assoc_argv("ann") == ["sacctmgr", "-nP", "show", "assoc", "user=ann", "format=MaxSubmit"]


def test_the_real_clusters_limits(slurm_cluster):
    from heyhi_daemon.launchers.slurm_tracker import SlurmTracker

    t = SlurmTracker(store=None, on_change=lambda job: None)
    lim = t.limits()
    assert (lim.max_array_size, lim.max_job_count) == (1001, 10000)  # up.sh's slurm.conf
    assert lim.max_submit is None  # no MaxSubmitJobs on the test cluster's association
    assert t.limits() is lim  # asked once
    counts = t.poller.rate.summary()["counts"]
    assert (counts["scontrol"], counts["sacctmgr"]) == (1, 1)


# ---------------------------------------------------------------------------- a sweep beyond MaxArraySize


@pytest.fixture
def small_arrays(slurm_cluster):
    """The test cluster with ``MaxArraySize=2`` for the test's length (restored after, also on failure)."""
    with cluster_conf(MaxArraySize=2) as before:
        assert show_config()["MaxArraySize"] == "2" and before["MaxArraySize"] == "1001"
        yield
    assert show_config()["MaxArraySize"] == "1001"


@pytest.fixture
def daemon(small_arrays, tmp_path, monkeypatch):
    monkeypatch.delenv("HEYHI_MAX_ARRAY_SIZE", raising=False)  # the limit comes from the cluster alone
    yield from slurm_daemon(tmp_path, monkeypatch)


def _times(run_dir: Path) -> tuple[float, float]:
    st = json.loads((run_dir / "heyhi.status.json").read_text())
    hist = st["history"]
    start = next(h["at"] for h in hist if h["state"] == "running")
    end = next(h["at"] for h in reversed(hist) if h["state"] == "completed")
    return start, end


def test_sweep_beyond_max_array_size_as_chained_arrays_with_one_throttle(daemon, proj):
    r = run_cli(["run", "-c", PROBE, "Ilauncher=slurm_cpu", "tag=range(0,5)", "sleep_s=1", "--max-parallel", "1"],
                cwd=proj)
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()

    def ended():
        with Client(str(daemon.socket)) as c:
            i = c.request(P.SweepStatus(sweep=sid)).sweeps[0]
        return not i.active and i

    info = wait_for(ended, 300, "the sweep to end")
    assert info.counts["completed"] == 5, info
    adir = Path(info.sweep_dir) / "arrays"
    scripts = sorted(adir.glob("*.sbatch"))
    ids = [(adir / f"{s.stem}.jobid").read_text().strip() for s in scripts]
    heads = [[x for x in s.read_text().splitlines() if x.startswith(("#SBATCH --array", "#SBATCH --dependency"))]
             for s in scripts]
    assert heads == [["#SBATCH --array=0-1%1"],
                     ["#SBATCH --array=0-1%1", f"#SBATCH --dependency=afterany:{ids[0]}"],
                     ["#SBATCH --array=0-0%1", f"#SBATCH --dependency=afterany:{ids[1]}"]], heads
    folders = [Path(x) for f in sorted(adir.glob("*.folders")) for x in f.read_text().split()]
    spans = sorted(_times(d) for d in folders)
    assert len(spans) == 5
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert s2 >= e1, f"two points ran at once: {spans}"  # one throttle across the 3 arrays

    wait_for(lambda: all((d / C.COST_FILE).exists() for d in folders), 60, "the points' cost records")
    rep = run_cli(["sweep", "report", sid, "--no-plots"], cwd=proj)
    assert rep.returncode == 0, rep.stderr
    m = re.search(r"^cost: 0 GPU-hours, ([0-9.e-]+) CPU-hours \(5 points with a Slurm cost record\)$",
                  rep.stdout, re.M)
    assert m and float(m.group(1)) > 0, rep.stdout
