"""``heyhi ctl restart`` reruns the config recorded in the run folder (with a fresh code snapshot);
``heyhi run -c ... --mode restart`` composes from today's files; a record that no longer fits
today's schema is a one-line refusal that wipes nothing. Real daemon, real jobs, real folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_cli
from waiting import lines, wait_for

from heyhi.wire import protocol as P
from heyhi.wire.client import Client
from heyhi.wire.protocol import DaemonError

PROBE = "conf/probe/probe.prototxt"


def wait_state(c: Client, job_id: str, state: str, timeout: float = 60) -> P.JobInfo:
    return wait_for(lambda: (j := c.request(P.ShowJob(job=job_id)).job).state == state and j, timeout,
                    f"job {job_id} {state}")


def launched(c: Client, proj: Path, overrides: list[str]) -> P.JobInfo:
    r = c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                           config=str(proj / PROBE), overrides=overrides))
    assert r.decision == "run", r
    return wait_state(c, r.job_id, "completed")


def run_of(job: P.JobInfo) -> tuple[list[str], dict]:
    """The task's own output and result."""
    d = Path(job.run_dir)
    return lines(d / "stdout.log"), json.loads((d / "result.json").read_text())


def test_ctl_restart_reruns_the_record_and_run_restart_composes_today(daemon, proj):
    conf = proj / PROBE
    conf.write_text('probe {\n  tag: "recorded"\n  lines: 2\n  import_module: "helper_mod"\n}\n')
    with Client(str(daemon.socket)) as c:
        job = launched(c, proj, ["exit_code=0"])
        assert run_of(job) == (["helper_mod.VERSION=old", "1", "2", "probe done"], {"tag": "recorded"})
        # Today's conf file and code change: the conf's defaults, and the module the task imports.
        conf.write_text('probe {\n  tag: "today"\n  lines: 3\n  import_module: "helper_mod"\n}\n')
        (proj / "helper_mod.py").write_text('VERSION = "new"\n')
        d = Path(job.run_dir)
        (d / "old-run.txt").write_text("x")

        # The confirm flow is unchanged: without a yes (and no terminal) nothing is wiped.
        asked = run_cli(["ctl", "restart", job.job_id], cwd=proj)
        assert asked.returncode == 2 and asked.stderr == (
            f"heyhi: refusing to restart {d} (its run is completed) without a terminal to confirm: pass --yes\n")
        assert (d / "old-run.txt").exists()

        r = run_cli(["ctl", "restart", job.job_id, "--yes"], cwd=proj)
        assert r.returncode == 0, r.stderr
        assert r.stdout == (f"heyhi: restarted: {d} [job {job.job_id}] (the run is completed: restarting; "
                            "reran the config recorded in its folder, with a fresh code snapshot)\n")
        assert wait_for(lambda: not (d / "old-run.txt").exists() and c.request(P.ShowJob(job=job.job_id)).job,
                        what="the new run").job_id == job.job_id
        again = wait_state(c, job.job_id, "completed")
        # The recorded config (tag, lines), today's code (a fresh snapshot), the recorded overrides.
        assert run_of(again) == (["helper_mod.VERSION=new", "1", "2", "probe done"], {"tag": "recorded"})
        assert (d / "heyhi.overrides").read_text() == "exit_code=0\n"
        assert json.loads((d / "heyhi.run.json").read_text())["overrides"] == ["exit_code=0"]

        # heyhi run --mode restart composes from today's conf file, in the same folder.
        rr = run_cli(["run", "-c", PROBE, "exit_code=0", "--mode", "restart", "--force"], cwd=proj)
        assert rr.returncode == 0, rr.stderr
        assert rr.stdout.strip() == job.job_id
        wait_for(lambda: run_of_or_none(d) == (["helper_mod.VERSION=new", "1", "2", "3", "probe done"],
                                               {"tag": "today"}), 60, "the run composed from today's files")


def run_of_or_none(d: Path):
    try:
        return lines(d / "stdout.log"), json.loads((d / "result.json").read_text())
    except (OSError, ValueError):
        return None


def test_restart_of_a_record_today_s_schema_refuses_names_the_field_and_wipes_nothing(daemon, proj):
    with Client(str(daemon.socket)) as c:
        job = launched(c, proj, ["crash_file=/nonexistent/crash", "lines=1"])
        d = Path(job.run_dir)
        (d / "old-run.txt").write_text("x")
        schema = proj / "conf" / "conf.proto"
        text = schema.read_text()
        assert "  optional string crash_file = 12;\n" in text
        schema.write_text(text.replace("  optional string crash_file = 12;\n", ""))
        meta = d / "config_meta.prototxt"
        line = next(i for i, t in enumerate(meta.read_text().splitlines(), 1) if "crash_file" in t)
        expected = (f"cannot restart job {job.job_id}: the recorded config no longer fits today's schema: "
                    f"field probe.crash_file: unknown field 'crash_file' in ProbeTask ({meta}:{line}:3); "
                    f"to compose from today's conf files instead: heyhi run -c {proj / PROBE} "
                    "crash_file=/nonexistent/crash lines=1 --mode restart")

        r = run_cli(["ctl", "restart", job.job_id, "--yes"], cwd=proj)
        assert (r.returncode, r.stdout, r.stderr) == (2, "", f"heyhi: {expected}\n")
        with pytest.raises(DaemonError) as e:  # a protocol client (the TUI's r) gets the same line
            c.request(P.Restart(job=job.job_id, expect_state="completed"))
        assert (e.value.code, e.value.message) == (P.INVALID, expected)

        # Nothing was stopped, wiped or rewritten.
        assert (d / "old-run.txt").exists() and "crash_file" in meta.read_text()
        assert c.request(P.ShowJob(job=job.job_id)).job.state == "completed"
        assert not list((Path(os.environ["HH_EXP_DIR"]) / ".heyhi" / "trash").glob("*/run"))
