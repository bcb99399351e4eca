"""A login node reached over a real sshd (``ssh_util``): the ``sshd`` fixture and ``Remote`` (a daemon
socket, state and results in tmp, reached as root@127.0.0.1:PORT), shared by tests/wire/test_remote.py
and tests/tui/test_tui_remote.py."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BIN, REPO, heyhi_cmd, run_cli
from ssh_util import SshServer, start_sshd

DEMO = "conf/c02_sup_train/sl.prototxt"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    srv = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield srv
    srv.stop()


class Remote:
    """The "login node": a daemon socket, state and results in tmp, reached as root@127.0.0.1:PORT.

    The client's settings (remote.toml via HEYHI_REMOTE_CONFIG) name the key, the known_hosts file,
    the socket, and the remote command that starts the daemon with its environment in tmp."""

    def __init__(self, sshd: SshServer, tmp: Path):
        self.sshd = sshd
        self.base = Path(tempfile.mkdtemp(prefix="hhr", dir="/tmp"))  # short: AF_UNIX paths < 108
        self.sock = self.base / "sock" / "d.sock"
        self.toml = tmp / "remote.toml"
        self.daemon_env = {"HEYHI_SOCKET": str(self.sock), "HEYHI_STATE_DIR": str(self.base / "state"),
                           "HH_EXP_DIR": str(self.base / "results"),
                           "XDG_CACHE_HOME": str(REPO / ".pytest_cache" / "xdg")}
        self.daemon_cmd = self.daemon_cmd_without()
        self.spec = sshd.spec()
        self.env = {"HEYHI_REMOTE_CONFIG": str(self.toml), "SSH_AUTH_SOCK": ""}
        self.socks = [self.sock]  # every socket a daemon of this test may listen on
        self.write_toml()

    def daemon_cmd_without(self, *names: str) -> str:
        """The remote command that starts the daemon with its environment in tmp (less ``names``)."""
        env = [f"{k}={shlex.quote(v)}" for k, v in self.daemon_env.items() if k not in names]
        return " ".join(["env", *env, shlex.quote(str(BIN / "heyhi-daemon")), "start"])

    def write_toml(self, **changes: str | None) -> None:
        s = {"known_hosts": str(self.sshd.known_hosts), "client_keys": [str(self.sshd.user_key)],
             "socket": str(self.sock), "daemon_cmd": self.daemon_cmd, **changes}
        body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in s.items() if v is not None)
        self.toml.write_text(f'[hosts."127.0.0.1"]\n{body}')

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return run_cli(["ctl", "--remote", self.spec, *args], env=self.env, timeout=timeout)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return run_cli(["run", "--remote", self.spec, *args], env=self.env, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(heyhi_cmd() + list(args), env={**os.environ, **self.env}, cwd=REPO,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def stop(self) -> None:
        for sock in self.socks:
            if sock.exists():
                subprocess.run([str(BIN / "heyhi-daemon"), "stop", "--socket", str(sock)],
                               capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        shutil.rmtree(self.base, ignore_errors=True)


def job_of(stderr: str) -> str:
    m = re.search(r"\[job (\w+)\]", stderr)
    assert m, stderr
    return m.group(1)
