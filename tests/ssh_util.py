"""A REAL sshd on 127.0.0.1 for the remote tests: throwaway host and user keys in a tmp folder.

``start_sshd(folder)`` generates the keys with ssh-keygen, writes an sshd_config (key-only, root
allowed by key, unix-socket forwarding on), starts ``/usr/sbin/sshd -D`` on a free port and returns
once it speaks SSH. It installs openssh-server with apt-get when sshd is missing (as up.sh does:
a policy-rc.d guard keeps the package from starting its own sshd). ``need_sshd`` skips the test
with one line when that cannot be done (not root, no sshd) -- and fails instead under ``CI=true``.
``SshServer.kill_connections_of(pid)`` kills the sshd processes serving the TCP connections a
client process holds, which drops those connections the hard way.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
READY_TIMEOUT_S = 15.0


def need_sshd(reason: str) -> None:
    """Skip (or fail under CI=true) with a one-line reason."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"remote tests need a real sshd: {reason}", pytrace=False)
    pytest.skip(f"remote tests need a real sshd: {reason}")


@dataclass
class SshServer:
    dir: Path
    port: int
    proc: subprocess.Popen
    user_key: Path
    known_hosts: Path
    host_key_pub: Path
    log: Path

    def spec(self, user: str = "root") -> str:
        return f"{user}@127.0.0.1:{self.port}"

    def ssh_argv(self, user: str = "root") -> list[str]:
        """The OpenSSH client's argv to run a command on this server (for checks by hand)."""
        return ["ssh", "-p", str(self.port), "-i", str(self.user_key), "-o", "BatchMode=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                f"{user}@127.0.0.1"]

    def authorize(self, environment: dict[str, str] | None = None) -> None:
        """(Re)write the authorized_keys file; ``environment`` is set in the sessions of the key
        (``environment="K=V"``, allowed by PermitUserEnvironment), as a login node's profile would."""
        opts = ",".join(f'environment="{k}={v}"' for k, v in (environment or {}).items())
        auth = self.dir / "authorized_keys"
        auth.write_text((opts + " " if opts else "") + self.user_key.with_suffix(".pub").read_text())
        auth.chmod(0o600)

    def sessions(self) -> list[int]:
        """Pids of this sshd's per-connection processes (its children and their children)."""
        return _descendants(self.proc.pid)

    def kill_connections_of(self, client_pid: int) -> list[int]:
        """SIGKILL the sshd processes serving every TCP connection ``client_pid`` has to this
        server; returns their pids (empty if it has none right now)."""
        client_ports = {lport for (lport, rport, _ino) in _tcp_sockets_of(client_pid) if rport == self.port}
        if not client_ports:
            return []
        server_inodes = {ino for (lport, rport, ino) in _tcp_table() if lport == self.port and rport in client_ports}
        victims = [pid for pid in self.sessions() if _socket_inodes(pid) & server_inodes]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return victims

    def stop(self) -> None:
        for pid in self.sessions():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _ensure_sshd() -> None:
    if os.path.exists(SSHD):
        return
    if shutil.which("apt-get") is None:
        need_sshd(f"{SSHD} is missing and there is no apt-get to install openssh-server")
    policy = Path("/usr/sbin/policy-rc.d")
    made_policy = False
    if not policy.exists():  # keep the package from starting the system's own sshd
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        made_policy = True
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "openssh-server",
                            "openssh-client"], env=env, capture_output=True, text=True, timeout=600)
    finally:
        if made_policy:
            policy.unlink(missing_ok=True)
    if r.returncode != 0 or not os.path.exists(SSHD):
        need_sshd(f"apt-get install openssh-server failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")


def keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True, timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sshd(folder: Path) -> SshServer:
    if os.geteuid() != 0:
        need_sshd("not root (sshd must run as root to log in as root@127.0.0.1)")
    _ensure_sshd()
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    host_key, user_key = folder / "host_ed25519", folder / "id_ed25519"
    for key, comment in ((host_key, "heyhi-test-host"), (user_key, "heyhi-test-user")):
        if not key.exists():
            keygen(key, comment)
    auth = folder / "authorized_keys"
    shutil.copy(user_key.with_suffix(".pub"), auth)
    auth.chmod(0o600)
    last = ""
    for _attempt in range(3):  # a free port can be taken between asking and binding
        port = free_port()
        config = folder / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {folder / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {auth}\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n"
            "AllowTcpForwarding yes\nAllowStreamLocalForwarding yes\nStreamLocalBindUnlink yes\nPermitUserEnvironment yes\n"
            "MaxStartups 100:30:200\nMaxSessions 100\nLogLevel VERBOSE\n"
        )
        check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            need_sshd(f"sshd -t refuses the config: {check.stderr.strip()}")
        log = folder / "sshd.log"
        proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _wait_banner(port, proc):
            known = folder / "known_hosts"
            known.write_text(f"[127.0.0.1]:{port} {' '.join(host_key.with_suffix('.pub').read_text().split()[:2])}\n")
            return SshServer(folder, port, proc, user_key, known, host_key.with_suffix(".pub"), log)
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        last = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else ""
    need_sshd(f"sshd did not come up on 127.0.0.1: {last}")
    raise AssertionError("unreachable")


def _wait_banner(port: int, proc: subprocess.Popen) -> bool:
    """Wait (bounded) until the server on ``port`` sends its SSH banner."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.settimeout(2)
                if s.recv(64).startswith(b"SSH-2.0"):
                    return True
        except OSError:
            pass
        threading.Event().wait(0.02)
    return False


# ---------------------------------------------------------------------------------------------
# /proc: which process serves which TCP connection


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _socket_inodes(pid: int) -> set[int]:
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                out.add(int(target[8:-1]))
    except OSError:
        pass
    return out


def _tcp_table() -> list[tuple[int, int, int]]:
    """(local port, remote port, inode) of every TCP socket (IPv4 and IPv6)."""
    rows = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            lport = int(parts[1].rsplit(":", 1)[1], 16)
            rport = int(parts[2].rsplit(":", 1)[1], 16)
            rows.append((lport, rport, int(parts[9])))
    return rows


def _tcp_sockets_of(pid: int) -> list[tuple[int, int, int]]:
    inodes = _socket_inodes(pid)
    return [row for row in _tcp_table() if row[2] in inodes]
