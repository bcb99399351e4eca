"""A Slurm launch that starts nothing: a real daemon and real sbatch/scontrol, pointed (SLURM_CONF)
at a copy of the test cluster's config whose controller is 127.0.0.1 on a port nothing listens on.

It must answer fast, in one line, exit 69 (nothing was started), leave the folder "not started"
and leave no queued job in the daemon's index, so the next gentle launch tries again.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from conftest import run_cli
from daemon_util import DaemonProcess
from slurm_util import slurm_cluster  # noqa: F401  (fixture: Slurm's commands are installed)

from heyhi.wire import protocol as P
from heyhi.runs import records as R
from heyhi.wire.client import Client

PROBE = "conf/probe/probe.prototxt"
pytestmark = pytest.mark.usefixtures("slurm_cluster")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_controller(tmp_path, monkeypatch) -> Path:
    """SLURM_CONF: the cluster's config, its controller moved to a closed port on 127.0.0.1."""
    src = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))
    conf_dir = tmp_path / "slurm"
    shutil.copytree(src.parent, conf_dir)
    text = (conf_dir / src.name).read_text()
    host = re.search(r"^SlurmctldHost=([^(\s]+)", text, re.M).group(1)
    text = re.sub(r"^SlurmctldHost=.*$", f"SlurmctldHost={host}(127.0.0.1)", text, flags=re.M)
    text = re.sub(r"^SlurmctldPort=.*$", "", text, flags=re.M) + f"\nSlurmctldPort={free_port()}\n"
    (conf_dir / src.name).write_text(text)
    monkeypatch.setenv("SLURM_CONF", str(conf_dir / src.name))
    return conf_dir / src.name


@pytest.fixture
def daemon(tmp_path, monkeypatch, no_controller):
    d = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
    sock = d / "s" / "d.sock"
    monkeypatch.setenv("HEYHI_SOCKET", str(sock))
    proc = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    yield sock
    proc.stop()
    shutil.rmtree(d, ignore_errors=True)


def test_a_submit_without_a_controller_starts_nothing_and_exits_69(daemon, proj):
    ovs = ["Ilauncher=slurm_cpu", "tag=nocontroller"]
    out = run_cli(["run", "-c", PROBE, "--print-out-dir", *ovs], cwd=proj)
    run_dir = Path(out.stdout.strip())
    for attempt in (1, 2):  # the second gentle launch tries again: the folder was not left "crashed"
        t0 = time.monotonic()
        r = run_cli(["run", "-c", PROBE, *ovs], cwd=proj)
        took = time.monotonic() - t0
        assert r.returncode == 69, (attempt, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("heyhi: nothing started: Slurm submission failed: "
                                                       "no Slurm controller answers"), r.stderr
        assert took < 6, f"a submit without a controller took {took:.1f} s to answer"
        assert R.RunDir(run_dir).state(slurm_live=set())[0] == R.NOT_STARTED
        with Client(str(daemon)) as c:
            jobs = [j for j in c.request(P.ListJobs()).jobs if j.run_dir == str(run_dir)]
        assert not [j for j in jobs if j.state in R.LIVE_STATES], jobs  # no phantom queued job
