"""The launcher interface (``heyhi.launchers``): a launcher of about 20 lines, defined here, runs a job
through the unchanged launch sequence; the registry picks launchers by config and by run record; and
no code outside ``heyhi.launchers`` compares launcher names."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from heyhi import launchers
from heyhi.runs import records as R

REPO = Path(__file__).resolve().parents[2]
PROBE = "conf/probe/probe.prototxt"


# ---- a test-only launcher ------------------------------------------------------------------------

class InlineLauncher(launchers.Launcher):
    """Runs the job to its end right here, in a child process the caller waits for."""

    name = "inline"
    title = "inline"
    started: list[Path] = []

    def settings(self, msg) -> dict | None:
        return {"on": bool(msg.v.get("on"))}

    def start(self, folder: Path, info: dict) -> int:
        self.started.append(folder)
        p = subprocess.run([info["python"], "-m", "heyhi.job", str(folder)], cwd=folder,
                           stdin=subprocess.DEVNULL, capture_output=True)
        return p.returncode

    def stop(self, folder: Path, status: dict) -> None:
        launchers.LOCAL.stop(folder, status)  # its jobs are processes of this host


@pytest.fixture
def inline(proj):
    """The inline launcher, registered, and an ``inline`` arm in the test project's launcher oneof."""
    proto = proj / "conf" / "conf.proto"
    text = proto.read_text()
    arms = "oneof launcher { Local local = 1; Slurm slurm = 2; }"
    assert arms in text
    proto.write_text(text.replace(arms, "message Inline { optional bool on = 1; }\n"
                                        "  oneof launcher { Local local = 1; Slurm slurm = 2; Inline inline = 3; }"))
    launcher = launchers.register(InlineLauncher())
    launcher.started = []
    yield launcher
    launchers.unregister(launcher.name)


def test_a_test_launcher_runs_a_job_through_the_unchanged_launch_sequence(proj, inline):
    from heyhi.config.compose import Composer
    from heyhi.config.project import Project
    from heyhi.runs.outdir import run_folder
    from heyhi.runs.sequence import Host, Plan, launch

    project = Project(proj)
    composed = Composer(project).compose(proj / PROBE, ["launcher.inline.on=true", "lines=3", "tag=inline"])
    assert launchers.for_config(composed) is inline
    assert launchers.config_of(composed) == (inline, {"on": True})
    folder = run_folder(project.results_root, composed.config, project.conf_dir, composed.raw_overrides)
    plan = Plan(project, composed, folder, project.results_root, "gentle_start", trusted_roots=[project.results_root])
    out = launch(plan, Host())  # the sequence's own Host: the run's launcher starts it
    assert out.decision.run and out.started == 0 and inline.started == [out.run_dir]
    rd = R.RunDir(out.run_dir)
    st = rd.read_status()
    assert st["state"] == "completed" and st["exit_code"] == 0
    assert [h["state"] for h in st["history"]] == ["queued", "running", "completed"]
    assert st["history"][0]["launcher"] == "inline" and st["launcher"] == "inline"
    assert rd.read_run()["launcher"] == "inline" and rd.read_run()["slurm"] == {"on": True}
    assert (out.run_dir / R.COMPLETED_MARKER).exists()
    assert (out.run_dir / R.STDOUT).read_text().split()[:3] == ["1", "2", "3"]
    assert rd.state() == ("completed", st)
    again = launch(plan, Host())  # the folder is done: gentle_start skips it
    assert not again.decision.run and inline.started == [out.run_dir]


def test_the_registry_picks_a_launcher_by_config_and_by_record(proj):
    from heyhi.config.compose import Composer
    from heyhi.config.project import Project

    comp = Composer(Project(proj))
    assert launchers.for_config(comp.compose(proj / PROBE, [])) is launchers.LOCAL
    slurm, settings = launchers.config_of(comp.compose(proj / PROBE, ["launcher.slurm.partition=p"]))
    assert slurm is launchers.SLURM and slurm.tracked_by_daemon and slurm.arrays and settings["partition"] == "p"
    assert not launchers.LOCAL.tracked_by_daemon and not launchers.LOCAL.arrays
    assert launchers.for_status({}) is launchers.LOCAL
    assert launchers.for_status({"launcher": "slurm", "jobid": "12"}) is launchers.SLURM
    assert launchers.for_status({"launcher": "nobody-knows"}) is launchers.LOCAL
    # A record whose name and job id disagree: judged by the pid, stopped through the scheduler.
    assert launchers.for_status({"launcher": "slurm"}, "local:7") is launchers.LOCAL
    assert launchers.for_status({"launcher": "slurm"}, "local:7", stopping=True) is launchers.SLURM
    assert launchers.for_status({"launcher": "local"}, "12", stopping=True) is launchers.SLURM
    assert launchers.for_status({"launcher": "local"}, "12") is launchers.LOCAL


# ---- no launcher names compared outside the launchers ----------------------------------------------

NAME_COMPARISON = re.compile(r"""(==|!=)\s*["'](slurm|local)["']|["'](slurm|local)["']\s*(==|!=)"""
                             r"""|\bin\s*\(\s*["'](slurm|local)["']""")
SOURCES = [REPO / "shared" / "heyhi", REPO / "heyhi_daemon", REPO / "heyhi_tui"]
LAUNCHERS = REPO / "shared" / "heyhi" / "launchers"


def name_comparisons() -> list[str]:
    found = []
    for root in SOURCES:
        for f in sorted(root.rglob("*.py")):
            if LAUNCHERS in f.parents:
                continue
            for n, line in enumerate(f.read_text().splitlines(), 1):
                if NAME_COMPARISON.search(line):
                    found.append(f"{f.relative_to(REPO)}:{n}: {line.strip()}")
    return found


def test_no_launcher_name_is_compared_outside_the_launchers():
    assert name_comparisons() == [], "ask the launcher (heyhi.launchers) instead:\n" + "\n".join(name_comparisons())


def test_the_name_check_sees_a_comparison():
    assert NAME_COMPARISON.search('if job.launcher == "slurm":')
    assert NAME_COMPARISON.search("if 'local' != name:")
    assert not NAME_COMPARISON.search('launcher: str = "local"')
