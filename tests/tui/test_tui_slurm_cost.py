"""Slurm cost and live efficiency where the user looks (issue 17, item 6): the daemon's ``JobInfo``
carries a Slurm run's CPU-/GPU-hours and its latest idle warning.

* On the real test cluster, the real app against a real daemon (efficiency interval 1 s, idle after
  3 s): a Slurm job that sleeps gets the daemon's idle warning as a JobEvent, shown as a toast, the
  daemon's log has it and ``heyhi ctl show`` prints it; once the job ended, the jobs table (wide screen) shows its CPU-hours in
  the ``cost`` column, the number the daemon recorded in ``heyhi.cost.json``.
* Without a cluster: the cost text (GPU-hours for a job that held GPUs, else CPU-hours, blank without a
  cost), the toasts for new warnings only, and the fields travelling over the wire (and absent from an
  older daemon's JobInfo: their defaults).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from textual.notifications import Notify

from conftest import run_cli
from slurm_util import slurm_cluster, slurm_daemon  # noqa: F401  (fixture)
from tui_util import PROBE_CONFIG, probe_project, screen_text, tui_env, until  # noqa: F401

from heyhi.slurm import cost as C
from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi_tui.app import idle_toasts
from heyhi_tui.screens.jobs import JobsScreen
from heyhi_tui.widgets.jobs import cost_text

pytestmark = pytest.mark.timeout(240)


def job(state: str = "running", **kw) -> P.JobInfo:
    return P.JobInfo(job_id=kw.pop("job_id", "j1"), run_dir="/r", config="c", state=state, **kw)


@pytest.mark.parametrize("info,text", [
    pytest.param(job(cpu_hours=0.0016667, gpu_hours=0.0), "0.00167 CPU-h", id="cpu"),
    pytest.param(job(cpu_hours=80.0, gpu_hours=8.0), "8 GPU-h", id="gpu"),
    pytest.param(job(cpu_hours=0.0002778, gpu_hours=0.0), "0.00028 CPU-h", id="one-cpu-second"),
    pytest.param(job(cpu_hours=0.0, gpu_hours=0.0), "0 CPU-h", id="zero"),
    pytest.param(job(), "", id="local-or-unknown"),
])
def test_cost_text(info, text):
    assert cost_text(info) == text


def test_idle_toasts_only_for_new_warnings_of_jobs_shown():
    w = "Slurm job 5: CPU utilisation 0.0% for 30 min (below 5%): stuck or idle while holding its allocation?"
    before = {"j1": job(), "j2": job(job_id="j2", efficiency_warning=w)}
    assert idle_toasts(before, [job(efficiency_warning=w), job(job_id="j2", efficiency_warning=w)]) == [w]
    assert idle_toasts({}, [job(efficiency_warning=w)]) == []  # not shown before (the first list): no toast
    many = {f"j{i}": job(job_id=f"j{i}") for i in range(5)}
    assert idle_toasts(many, [job(job_id=f"j{i}", efficiency_warning=w) for i in range(5)]) == [
        "5 Slurm jobs idle while holding their allocation"]


def test_cost_and_warning_over_the_wire_and_from_an_older_daemon():
    info = job(cpu_hours=1.5, gpu_hours=0.25, efficiency_warning="Slurm job 5: idle")
    ev = P.from_wire(P.to_wire(P.JobEvent(job=info)))
    assert ev.job == info
    old = P.to_wire(P.JobEvent(job=job()))  # an older daemon sends none of the three fields
    for k in ("cpu_hours", "gpu_hours", "efficiency_warning"):
        del old["job"][k]
    got = P.from_wire(old).job
    assert (got.cpu_hours, got.gpu_hours, got.efficiency_warning) == (None, None, "")


# ---------------------------------------------------------------------------- the real cluster


@pytest.fixture
def idle_daemon(slurm_cluster, tui_env, tmp_path, monkeypatch):  # noqa: F811
    yield from slurm_daemon(tmp_path, monkeypatch, HEYHI_SLURM_EFFICIENCY_INTERVAL_S="1", HEYHI_SLURM_IDLE_WARN_S="3")


async def test_idle_warning_toast_ctl_show_and_cost_column(idle_daemon, tui_env, probe_project):  # noqa: F811
    seen: list = []
    app = tui_env.app(probe_project, socket_path=str(idle_daemon.socket))
    async with app.run_test(size=(160, 40), message_hook=seen.append) as pilot:
        await until(pilot, lambda: app.link_state.connected, what="connected")
        with Client(str(idle_daemon.socket)) as c:
            launched = c.request(P.Launch(project_root=str(probe_project), results_root=os.environ["HH_EXP_DIR"],
                                          config=str(probe_project / PROBE_CONFIG),
                                          overrides=["Ilauncher=slurm_cpu", "sleep_s=15"]))
        jid = launched.job_id
        await until(pilot, lambda: jid in app.jobs, 30, "the job in the app")

        def toast():
            return next((n for m in seen if isinstance(m, Notify) and (n := m.notification).title == "job idle?"), None)

        note = await until(pilot, toast, 120, "the idle warning's toast")
        warning = app.jobs[jid].efficiency_warning
        assert note.message == warning and note.severity == "warning"
        assert warning.startswith(f"Slurm job {app.jobs[jid].slurm_id}: CPU utilisation "), warning
        shown = run_cli(["ctl", "show", jid], cwd=probe_project).stdout
        assert f"efficiency: {warning}" in shown, shown
        assert f"WARNING heyhi.daemon.slurm[{idle_daemon.proc.pid}]: {warning}" in idle_daemon.stderr()  # the log line too

        await pilot.press("2")
        jobs = await until(pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen, what="the jobs table")
        await until(pilot, lambda: app.jobs[jid].state == "completed", 120, "the job to complete")
        await until(pilot, lambda: app.jobs[jid].cpu_hours is not None, 60, "the job's cost from sacct")
        c = json.loads((Path(app.jobs[jid].run_dir) / C.COST_FILE).read_text())
        assert app.jobs[jid].cpu_hours == pytest.approx(c["cpu_hours"]) and app.jobs[jid].gpu_hours == 0
        table = jobs.table
        await until(pilot, lambda: "cost" in table.column_keys, what="the cost column")
        text = cost_text(app.jobs[jid])
        assert text.endswith(" CPU-h") and table.get_cell(jid, "cost").plain == text
        assert text in screen_text(app)
