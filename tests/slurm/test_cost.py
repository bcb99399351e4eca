"""What a Slurm job cost (``heyhi.slurm.cost``), and the daemon's Slurm query rate.

* parsing sacct's cost fields, table-driven; a FAKE sacct answer (a recorded line with ``gres/gpu=8``:
  there is no GPU here) replayed through the real poller gives GPU-hours;
* on the real test cluster: a probe that burns CPU for a couple of seconds ends, the daemon records its
  ``heyhi.cost.json`` from the one batched sacct (and the same CPU-/GPU-hours in the job's ``JobInfo``),
  ``heyhi ctl show`` prints its cost line with a CPU efficiency above zero, and ``heyhi ctl status``
  shows the daemon's squeue/sacct rate.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import run_cli
from slurm_util import slurm_cluster, slurm_daemon  # noqa: F401  (fixture)
from waiting import wait_for

from heyhi.runs import view
from heyhi.slurm import cost as C, query as sp
from heyhi_daemon.launchers.slurm_poller import QueryRate, SlurmPoller

PROBE = "conf/probe/probe.prototxt"

# FAKE: a recorded-format sacct answer (fields SACCT_FIELDS) for a job of 8 GPUs that ran one hour,
# with its batch and srun steps (the steps carry MaxRSS; the allocation line has none).
FAKE_GPU_SACCT = (
    "77|77|COMPLETED|0:0|2026-11-30T10:00:00|2026-11-30T11:00:00|01:00:00|gpu01|None|"
    "billing=80,cpu=80,gres/gpu=8,mem=640G,node=1|3600|2-16:00:00|640G|\n"
    "77.batch|77.batch|COMPLETED|0:0|2026-11-30T10:00:00|2026-11-30T11:00:00|01:00:00|gpu01||"
    "cpu=80,gres/gpu=8,mem=640G,node=1|3600|00:00:05||2048K\n"
    "77.0|77.0|COMPLETED|0:0|2026-11-30T10:00:00|2026-11-30T11:00:00|01:00:00|gpu01||"
    "cpu=80,gres/gpu=8,mem=640G,node=1|3600|2-15:59:55||320G\n"
)


@pytest.mark.parametrize("text,seconds", [
    pytest.param("00:02.489", 2.489, id="mm:ss.mmm"),
    pytest.param("01:02:03", 3723, id="hh:mm:ss"),
    pytest.param("1-02:03:04", 93784, id="days"),
    pytest.param("45", 45, id="seconds"),
    pytest.param("", None, id="empty"),
    pytest.param("x:1", None, id="garbage"),
    pytest.param("a-01:00:00", None, id="bad-days"),
])
def test_parse_duration(text, seconds):
    assert C.parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


@pytest.mark.parametrize("text,size", [
    pytest.param("63964K", 63964 * 1024, id="K"),
    pytest.param("100M", 100 << 20, id="M"),
    pytest.param("1.5G", int(1.5 * (1 << 30)), id="fraction"),
    pytest.param("4Gn", 4 << 30, id="per-node"),
    pytest.param("0", 0, id="zero"),
    pytest.param("", None, id="empty"),
    pytest.param("12Q", None, id="bad-unit"),
])
def test_mem_bytes(text, size):
    assert sp.mem_bytes(text) == size


def test_parse_tres_skips_bad_parts():
    assert C.parse_tres("billing=1,cpu=2,junk,gres/gpu=8,=3") == {"billing": "1", "cpu": "2", "gres/gpu": "8"}


def test_gpu_hours_from_a_replayed_sacct_line_FAKE():
    """FAKE sacct answer (no GPU here): the poller's one sacct gives the final row, with its steps'
    largest MaxRSS folded in; 8 GPUs x 1 h = 8 GPU-hours, 80 CPU-hours."""
    calls = []

    def replay(argv):  # FAKE Slurm: squeue no longer lists job 77, sacct answers the recorded line
        calls.append(argv[0])
        return FAKE_GPU_SACCT if argv[0] == "sacct" else ""

    p = SlurmPoller(replay, user="root")
    p.track("77")
    (ch,) = p.poll()
    assert calls == ["squeue", "sacct"] and ch.state == "completed" and ch.acct is not None
    assert ch.acct.max_rss == "320G" and "77.batch" not in sp.parse_sacct(FAKE_GPU_SACCT)
    c = C.cost_of(ch.acct)
    assert (c["cpus"], c["gpus"], c["elapsed_s"]) == (80, 8, 3600)
    assert c["gpu_hours"] == pytest.approx(8) and c["cpu_hours"] == pytest.approx(80)
    assert c["cpu_efficiency"] == pytest.approx((2 * 86400 + 16 * 3600) / (3600 * 80))  # 0.8
    assert c["mem_efficiency"] == pytest.approx(0.5)
    text = C.format_cost(c)
    assert text == ("80 CPUs, 8 GPUs, 640 GiB held for 3600 s: 80 CPU-h, 8 GPU-h; "
                    "CPU efficiency 80%, memory 50% of 640 GiB"), text
    assert C.total([c, c, None]) == {"runs": 2, "cpu_hours": 160.0, "gpu_hours": 16.0, "elapsed_s": 7200.0}


def test_sacct_without_cost_fields_still_parses():
    row = sp.parse_sacct("31|31|FAILED|3:0|a|b|00:00:01|vm|None\n")["31"]
    assert (row.exit_code, row.alloc_tres, row.max_rss) == (3, "", "")
    assert C.cost_of(row) is None


def test_query_rate_counts_per_command_over_a_window():
    now = [1000.0]
    r = QueryRate(keep_s=3600, clock=lambda: now[0])
    for i in range(30):
        now[0] += 10  # one squeue every 10 s for 5 minutes, an sacct every minute
        r.record("squeue")
        if i % 6 == 0:
            r.record("sacct")
    s = r.summary(window_s=120)
    assert s["counts"] == {"squeue": 12, "sacct": 2} and s["window_s"] == 120
    assert s["per_minute"] == {"sacct": 1.0, "squeue": 6.0}
    assert r.summary(window_s=3600)["window_s"] == pytest.approx(300)  # only 5 minutes covered


def test_cost_file_name_is_the_same_for_reader_and_writer():
    assert view.COST_FILE == C.COST_FILE


# ---------------------------------------------------------------------------- the real cluster


@pytest.fixture
def daemon(slurm_cluster, tmp_path, monkeypatch):
    yield from slurm_daemon(tmp_path, monkeypatch)


def test_cost_of_a_real_job_in_ctl_show_and_query_rate_in_ctl_status(daemon, proj):
    st = run_cli(["ctl", "status"], cwd=proj)
    assert "slurm queries: " in st.stdout, st.stdout
    # 300,000 flushed lines: ~2 s of CPU; 1 GB asked for, so memory efficiency is known
    r = run_cli(["run", "-c", PROBE, "Ilauncher=slurm_cpu", "lines=300000", "launcher.slurm.mem_gb=1"],
                cwd=proj)
    assert r.returncode == 0, r.stderr
    job = r.stdout.strip()
    w = run_cli(["ctl", "wait", job, "--timeout", "300"], cwd=proj, timeout=320)
    assert w.returncode == 0, w.stdout + w.stderr
    run_dir = Path(json.loads(run_cli(["ctl", "show", job, "--json"], cwd=proj).stdout)["job"]["run_dir"])
    cost_file = run_dir / C.COST_FILE
    wait_for(cost_file.exists, 60, "the daemon to record the job's cost from sacct")
    c = json.loads(cost_file.read_text())
    assert c["cpus"] == 1 and c["gpus"] == 0 and c["elapsed_s"] >= 1, c
    # The cost is taken from the job's first final sacct row; on this cluster that row may not carry
    # ReqMem yet (sacct shows it later): then the memory is unknown, never wrong.
    assert c["req_mem_bytes"] in (None, 1 << 30), c
    assert c["total_cpu_s"] > 0.5 and 0 < c["cpu_efficiency"] <= 1, c

    shown = run_cli(["ctl", "show", job], cwd=proj).stdout
    line = next((x for x in shown.splitlines() if x.strip().startswith("cost:")), None)
    assert line is not None, shown
    mem = ", 1 GiB" if c["req_mem_bytes"] else ""  # known memory is named, unknown is said (above)
    m = re.search(rf"cost: 1 CPU, 0 GPUs{mem} held for \d+ s: [0-9.e-]+ CPU-h, 0 GPU-h; "
                  rf"CPU efficiency (\d+)%, memory (\d+% of 1 GiB|unknown)", line)
    assert m and int(m.group(1)) > 0, line
    detail = json.loads(run_cli(["ctl", "show", job, "--json"], cwd=proj).stdout)
    assert detail["cost"]["slurm_id"] == c["slurm_id"]
    # the daemon's JobInfo carries the same figures (the TUI's cost column reads them, over SSH too)
    assert detail["job"]["cpu_hours"] == pytest.approx(c["cpu_hours"]) and detail["job"]["gpu_hours"] == 0, detail
    listed = json.loads(run_cli(["ctl", "list", "--json"], cwd=proj).stdout)["jobs"]
    assert [j["cpu_hours"] for j in listed if j["job_id"] == job] == [pytest.approx(c["cpu_hours"])], listed

    st = run_cli(["ctl", "status"], cwd=proj)
    line = next((x for x in st.stdout.splitlines() if x.startswith("slurm queries: ")), "")
    rates = dict(re.findall(r"(\w+) ([0-9.]+)/min", line))
    assert float(rates["squeue"]) > 0 and float(rates["sacct"]) > 0 and "(last " in line, st.stdout
    q = json.loads(run_cli(["ctl", "status", "--json"], cwd=proj).stdout)["daemon"]["slurm_queries"]
    assert q["counts"]["squeue"] >= 1 and q["counts"]["sacct"] >= 1
