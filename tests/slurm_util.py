"""Test helpers for the real single-node Slurm cluster (tests/cluster/up.sh).

``cluster_available()`` -> (ok, reason): True when ``sinfo`` answers with a usable node (and no
daemon that up.sh recorded has died). Otherwise, when running as root and HEYHI_START_CLUSTER
is not "0", it runs tests/cluster/up.sh once (under a lock file, so parallel test processes do
not race; up.sh only starts what is missing) and checks again.

The ``slurm_cluster`` fixture skips with a one-line reason when no cluster is available, but
under CI=true it FAILS instead: CI must not turn the cluster tests into silent skips.

``cluster_conf(**settings)`` runs a test body with slurm.conf settings changed in the running cluster
(``scontrol reconfigure``) and restores them after; ``show_config()`` reads ``scontrol show config``.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

UP_SH = Path(__file__).resolve().parent / "cluster" / "up.sh"
STATE = Path(os.environ.get("HEYHI_CLUSTER_DIR", "/var/lib/heyhi-testcluster"))
LOCK = Path(os.environ.get("HEYHI_CLUSTER_LOCK", "/tmp/heyhi-testcluster.lock"))
UP_LOG = Path(os.environ.get("HEYHI_CLUSTER_UP_LOG", "/tmp/heyhi-testcluster-up.log"))
_USABLE = {"idle", "mixed", "allocated", "completing"}
_cached: tuple[bool, str] | None = None


def _sinfo() -> tuple[bool, str]:
    try:
        # `scontrol ping` fails at once when no slurmctld listens; sinfo would retry for ~9 s
        p = subprocess.run(
            ["scontrol", "ping"], capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL
        )
        if "UP" not in p.stdout:
            first = (p.stdout.strip().splitlines() or [p.stderr.strip() or "no answer"])[0]
            return False, f"slurmctld does not answer (scontrol ping: {first})"
        p = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=15,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return False, "sinfo not installed"
    except subprocess.TimeoutExpired:
        return False, "sinfo did not answer within 15 s"
    if p.returncode != 0:
        return False, "sinfo failed: " + " ".join(p.stderr.split())[:200]
    states = set(p.stdout.split())
    if not states & _USABLE:
        return False, f"no usable Slurm node (states: {' '.join(sorted(states)) or 'none'})"
    return True, ""


def dead_daemons() -> list[str]:
    """Daemons that tests/cluster/up.sh recorded (pids/NAME.pid) and that are gone. slurmctld
    notices a dead slurmd only minutes later, so sinfo alone does not tell."""
    dead = []
    pids = STATE / "pids"
    for f in sorted(pids.glob("*.pid")) if pids.is_dir() else []:
        try:
            os.readlink(f"/proc/{int(f.read_text().strip())}/exe")  # zombies have no exe
        except (OSError, ValueError):
            dead.append(f.stem)
    return dead


def cluster_available() -> tuple[bool, str]:
    global _cached
    if _cached is not None:
        return _cached
    ok, reason = _sinfo()
    dead = dead_daemons()
    if ok and dead:
        ok, reason = False, f"daemons of the test cluster are gone: {', '.join(dead)}"
    if not ok and os.geteuid() == 0 and os.environ.get("HEYHI_START_CLUSTER", "1") != "0":
        with open(LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be starting it
            ok, reason = _sinfo()
            if ok and dead_daemons():
                ok = False
            if not ok:
                t0 = time.monotonic()
                with open(UP_LOG, "w") as log:
                    try:
                        p = subprocess.run(
                            ["bash", str(UP_SH)], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, timeout=900,
                        )
                        rc = p.returncode
                    except subprocess.TimeoutExpired:
                        rc = "timeout"
                ok, reason = _sinfo()
                dead = dead_daemons()
                if ok and dead:
                    ok, reason = False, f"daemons still gone: {', '.join(dead)}"
                if not ok:
                    reason = (
                        f"tests/cluster/up.sh ended with {rc} after {time.monotonic() - t0:.0f} s"
                        f" (log {UP_LOG}); {reason}"
                    )
    elif not ok:
        reason += " (not starting one: " + (
            "HEYHI_START_CLUSTER=0)" if os.geteuid() == 0 else "not root; run tests/cluster/up.sh)"
        )
    _cached = (ok, reason)
    return _cached


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    ok, reason = cluster_available()
    if not ok:
        msg = f"no Slurm test cluster: {reason}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


def slurm_daemon(tmp_path, monkeypatch, **env: str):
    """For a fixture (``yield from``): a daemon on a short socket of its own, polling Slurm every
    0.5 to 2 s; ``env``: more settings (``HEYHI_MAX_ARRAY_SIZE="4"``). Stopped and removed after."""
    import shutil
    import tempfile

    from daemon_util import DaemonProcess

    d = Path(tempfile.mkdtemp(prefix="hh", dir="/tmp"))
    sock = d / "s" / "d.sock"
    monkeypatch.setenv("HEYHI_SOCKET", str(sock))
    monkeypatch.setenv("HEYHI_SLURM_MIN_POLL", "0.5")
    monkeypatch.setenv("HEYHI_SLURM_MAX_POLL", "2")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    proc = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        yield proc
    finally:
        proc.stop()
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------- reconfiguring the cluster

SLURM_CONF = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))
CONF_WAIT_S = 30.0


def show_config() -> dict[str, str]:
    """``scontrol show config`` of the running cluster: {key: first word of its value} (``MinJobAge``:
    ``"300"``, not ``"300 sec"``)."""
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=15,
                         stdin=subprocess.DEVNULL).stdout
    conf = {}
    for line in out.splitlines():
        key, eq, value = line.partition("=")
        if eq and key.strip() and " " not in key.strip():
            conf[key.strip()] = (value.split() or [""])[0]
    return conf


def _with_settings(text: str, settings: dict[str, str]) -> str:
    """slurm.conf ``text`` with each ``Key=value`` of ``settings`` replacing that key's line (Slurm's keys
    are case-insensitive), or added before the first NodeName line."""
    lines, left = text.splitlines(), dict(settings)
    for i, line in enumerate(lines):
        key = line.split("=", 1)[0].strip()
        for k in list(left):
            if key.lower() == k.lower():
                lines[i] = f"{k}={left.pop(k)}"
    at = next((i for i, line in enumerate(lines) if line.startswith("NodeName=")), len(lines))
    lines[at:at] = [f"{k}={v}  # set by a test (tests/slurm_util.py cluster_conf)" for k, v in left.items()]
    return "\n".join(lines) + "\n"


def _apply(conf_text: str, want: dict[str, str]) -> None:
    tmp = SLURM_CONF.with_name(SLURM_CONF.name + ".heyhi-test")
    tmp.write_text(conf_text)
    tmp.chmod(0o644)
    os.replace(tmp, SLURM_CONF)
    subprocess.run(["scontrol", "reconfigure"], check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    from waiting import wait_for

    wait_for(lambda: all(show_config().get(k) == v for k, v in want.items()), CONF_WAIT_S,
             f"scontrol show config to report {want}", interval=0.2)


@contextmanager
def cluster_conf(**settings):
    """Run the body with ``settings`` (slurm.conf keys, ``MaxArraySize=2``) in the running test cluster:
    written into its slurm.conf and applied by ``scontrol reconfigure`` (Slurm 22.05 applies every key
    that way except those slurm.conf(5) says need a restart, such as AccountingStorageEnforce), waiting
    (bounded) until ``scontrol show config`` reports them; the original file is put back and applied
    after, also when the body fails. Holds up.sh's lock meanwhile, so no up.sh (which would rewrite
    slurm.conf) runs during the window, and no other test's window overlaps. Other tests share the
    cluster: keep the body short. A test process killed inside leaves the change: ``up.sh`` undoes it."""
    want = {k: str(v) for k, v in settings.items()}
    lock_path = STATE / "up.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        original = SLURM_CONF.read_text()
        before = show_config()
        try:
            _apply(_with_settings(original, want), want)
            yield before
        finally:
            _apply(original, {k: before.get(k, "") for k in want})
