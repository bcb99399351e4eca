"""Containers (``heyhi.launchers.containers``): a run's job inside an image, locally and on the real Slurm
test cluster, with podman from Debian's packages, on images made here by ``podman import`` of root
filesystem tarballs built by the test (no registry). The test project's schema has no ``container``
field, so the block comes from ``[tool.heyhi.launcher.container]`` of its pyproject.toml (as for a
Cicero schema). podman runs here as root with runc, ``--network=none`` and explicit ulimits (this
sandbox may not raise a limit). Apptainer, Singularity and Docker are not run: their command
templates are checked by RENDERING only, named as such.

Without podman the tests skip with a one-line reason; under CI=true they fail instead."""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from conftest import run_cli
from slurm_util import slurm_cluster, slurm_daemon  # noqa: F401  (fixture)
from waiting import wait_for

from heyhi.errors import ConfigError
from heyhi.launchers import containers as C

PROBE = "conf/probe/probe.prototxt"
ENDED = ("completed", "crashed", "cancelled", "lost")
PY = Path(os.path.realpath(sys.executable))  # the interpreter HeyHi's venv runs (its home)
HOME = PY.parent.parent  # e.g. /root/.pyenv/versions/3.11.7 or /usr


def _need_podman() -> str:
    exe = shutil.which("podman")
    if exe:
        return exe
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("podman is not installed (CI installs it: .ci/run)")
    pytest.skip("podman is not installed (apt-get install podman runc)")


def flags() -> list[str]:
    """The test's runtime flags: runc when crun is missing, no network, explicit ulimits."""
    return (["--runtime", "runc"] if not shutil.which("crun") else []) + [
        "--network=none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]


def _ldd(path: Path) -> set[str]:
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=30).stdout
    return {w for w in out.split() if w.startswith("/")}


def _skip(ti: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if any(x in ti.name for x in ("__pycache__", "/site-packages/", "/test/", "/config-3")) else ti


def _build(tar_path: Path, files: dict[str, Path | bytes]) -> None:
    """A root filesystem tarball: each archive name from a host path (dereferenced) or bytes."""
    with tarfile.open(tar_path, "w") as tf:
        for name, src in files.items():
            if isinstance(src, bytes):
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(src), 0o755
                tf.addfile(info, io.BytesIO(src))
            else:
                tf.add(os.path.realpath(src), arcname=name, filter=_skip)


def _import(tar_path: Path, tag: str) -> str:
    p = subprocess.run(["podman", "import", "-q", str(tar_path), tag], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return tag


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """(an image holding the venv's Python and nothing else, an image whose python3 is 3.9 without
    heyhi), built once per test session from host files and removed afterwards."""
    _need_podman()
    d = tmp_path_factory.mktemp("images")
    stdlib = HOME / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    libs = _ldd(PY) | set().union(*(_ldd(so) for so in sorted((stdlib / "lib-dynload").glob("*.so"))[:200]))
    files: dict[str, Path | bytes] = {str(PY).lstrip("/"): PY, str(stdlib).lstrip("/"): stdlib,
                                      "etc/passwd": Path("/etc/passwd"), "etc/group": Path("/etc/group")}
    files.update({lib.lstrip("/"): Path(lib) for lib in libs if Path(lib).exists()})
    files[str(HOME / "bin" / "python3").lstrip("/")] = PY
    _build(d / "py.tar", files)
    sh = Path(os.path.realpath("/bin/sh"))
    fake = b'#!/bin/sh\n[ "$1" = --version ] && { echo "Python 3.9.2"; exit 0; }\n' \
           b'echo "ModuleNotFoundError: No module named \'heyhi\'" >&2; exit 1\n'
    old = {"bin/sh": sh, "usr/bin/python3": fake, **{lib.lstrip("/"): Path(lib) for lib in _ldd(sh)}}
    _build(d / "old.tar", old)
    tag = uuid.uuid4().hex[:8]
    py, oldpy = _import(d / "py.tar", f"localhost/heyhi-test-py:{tag}"), _import(d / "old.tar", f"localhost/heyhi-test-old:{tag}")
    yield py, oldpy
    subprocess.run(["podman", "rmi", "-f", py, oldpy], capture_output=True, timeout=120)


def container_toml(image: str, python: str = "python3", runtime: str = "podman") -> str:
    return ("[tool.heyhi.launcher.container]\n"
            f"image = {json.dumps(image)}\nruntime = {json.dumps(runtime)}\npython = {json.dumps(python)}\n"
            f"flags = {json.dumps(flags())}\n")


def test_a_local_container_job_completes_with_its_records(proj, images):
    py, _ = images
    (proj / "pyproject.toml").write_text(container_toml(py, str(HOME / "bin" / "python3")))
    r = run_cli(["run", "-c", PROBE, "tag=boxed", "--wait"], cwd=proj, timeout=180)
    assert r.returncode == 0, r.stderr
    run = next(Path(os.environ["HH_EXP_DIR"]).rglob("heyhi.run.json")).parent
    st = json.loads((run / "heyhi.status.json").read_text())
    assert (st["state"], st["exit_code"]) == ("completed", 0), (run / "stderr.log").read_text()
    info = json.loads((run / "heyhi.run.json").read_text())
    c = info["container"]
    assert (c["image"], c["runtime"], c["mode"]) == (py, "podman", "venv")
    assert c["image_id"] and c["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert "probe done" in (run / "stdout.log").read_text()
    assert json.loads((run / "result.json").read_text()) == {"tag": "boxed"}
    # it ran in the image: the interpreter's stdlib is the image's, the venv bound read-only
    argv = C.job_argv(info, run)
    assert argv[:2] == ["podman", "run"] and py in argv and argv[-3:] == ["-m", "heyhi.job", str(run)]
    assert f"{sys.prefix}:{sys.prefix}:ro" in argv


@pytest.fixture
def slurm_d(tmp_path, monkeypatch, slurm_cluster):  # noqa: F811
    yield from slurm_daemon(tmp_path, monkeypatch)


def test_the_daemon_runs_a_local_container_job(proj, images, daemon):
    from heyhi.wire import protocol as P  # lean: only the daemon tests talk to the daemon
    from heyhi.wire.client import Client  # lean: as above

    py, _ = images
    (proj / "pyproject.toml").write_text(container_toml(py, str(HOME / "bin" / "python3")))
    with Client(str(daemon.socket)) as c:
        r = c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                               config=str(proj / PROBE), overrides=["tag=daemonbox"], mode="gentle_start"))
        j = wait_for(lambda: (j := c.request(P.ShowJob(job=r.job_id)).job).state in ENDED and j, 120,
                     f"{r.job_id} to end")
    run = Path(j.run_dir)
    assert (j.state, j.exit_code) == ("completed", 0), (run / "stderr.log").read_text()
    assert json.loads((run / "heyhi.run.json").read_text())["container"]["image"] == py
    assert json.loads((run / "result.json").read_text()) == {"tag": "daemonbox"}


def test_a_slurm_container_job_completes_on_the_real_cluster(proj, images, slurm_d):
    from heyhi.wire import protocol as P  # lean: only the cluster test talks to the daemon
    from heyhi.wire.client import Client  # lean: as above

    py, _ = images
    (proj / "pyproject.toml").write_text(container_toml(py, str(HOME / "bin" / "python3")))
    with Client(str(slurm_d.socket)) as c:
        r = c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                               config=str(proj / PROBE), overrides=["Ilauncher=slurm_cpu", "tag=slurmbox"],
                               mode="gentle_start"))
        try:
            j = wait_for(lambda: (j := c.request(P.ShowJob(job=r.job_id)).job).state in ENDED and j, 300,
                         f"{r.job_id} to end")
        finally:
            j2 = c.request(P.ShowJob(job=r.job_id)).job
            if j2.slurm_id and j2.state not in ENDED:
                subprocess.run(["scancel", j2.slurm_id], capture_output=True)
    run = Path(j.run_dir)
    assert (j.state, j.exit_code) == ("completed", 0), ((run / "stderr.log").read_text(), (run / "slurm.out").read_text())
    script = (run / "slurm.sbatch").read_text()
    assert f"podman run --rm --pid=host --uts=host --volume {shlex.quote(str(run))}:{shlex.quote(str(run))} " in script
    assert json.loads((run / "heyhi.run.json").read_text())["container"]["image"] == py
    assert "probe done" in (run / "stdout.log").read_text()


def test_an_image_with_another_python_and_no_heyhi_is_one_line_before_anything_is_written(proj, images):
    _, old = images
    (proj / "pyproject.toml").write_text(container_toml(old))
    r = run_cli(["run", "-c", PROBE, "--wait"], cwd=proj, timeout=120)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"image {old} has Python 3.9.2" in lines[0] and "does not provide heyhi" in lines[0]
    assert "No module named 'heyhi'" in lines[0]
    results = Path(os.environ["HH_EXP_DIR"])
    assert not results.exists() or not any(results.rglob("heyhi.run.json"))


def test_a_missing_image_and_a_bad_block_are_one_line(proj, images):
    with pytest.raises(ConfigError, match=r"no such podman image here"):
        C.resolve(C.normalize({"image": "localhost/heyhi-no-such-image:0", "runtime": "podman"}), sys.executable)
    with pytest.raises(ConfigError, match=r"launcher.container.runtime = 'lxc': expected one of apptainer"):
        C.normalize({"image": "x", "runtime": "lxc"})
    with pytest.raises(ConfigError, match=r"binds: 'rel/dir': paths must be absolute"):
        C.normalize({"image": "x", "binds": ["rel/dir"]})


# ---- RENDERING only: apptainer, singularity and docker are not installed here ----------------------

INFO = {"python": "/v/bin/python", "results_root": "/res", "code_dir": "/res/.heyhi/code/abc"}


def _info(runtime: str, mode: str = "venv") -> dict:
    block = C.normalize({"image": "~/img.sif" if runtime in ("apptainer", "singularity") else "$IMG_TAG",
                         "runtime": runtime, "binds": ["~/data:/data:ro", "$SCRATCH"], "flags": ["--nv"]})
    return {**INFO, "container": {**block, "mode": mode, "venv_binds": ["/v:/v:ro"] if mode == "venv" else []}}


def test_rendering_only_apptainer_and_singularity_templates(monkeypatch):
    monkeypatch.setenv("HOME", "/home/u")
    monkeypatch.setenv("SCRATCH", "/scratch/u")
    for rt in ("apptainer", "singularity"):
        argv = C.job_argv(_info(rt), "/res/run 1")
        assert argv == [rt, "exec", "--bind", "/res/run 1:/res/run 1", "--bind", "/res:/res",
                        "--bind", "/res/.heyhi/code/abc:/res/.heyhi/code/abc:ro", "--bind", "/v:/v:ro",
                        "--bind", "/home/u/data:/data:ro", "--bind", "/scratch/u:/scratch/u",
                        "--pwd", "/res/run 1", "--env", "HEYHI_RUN_DIR=/res/run 1", "--nv", "/home/u/img.sif",
                        "/v/bin/python", "-m", "heyhi.job", "/res/run 1"]
        # the batch script's form: the run folder is a shell word ("$d" in an array)
        prefix = C.shell_prefix(_info(rt, "image"), '"$d"')
        assert prefix.startswith(f'{rt} exec --bind "$d":"$d" --bind /res:/res ')
        assert '--pwd "$d" --env HEYHI_RUN_DIR="$d" --nv /home/u/img.sif ' in prefix
        assert C.job_python(_info(rt, "image")) == "python3"


def test_rendering_only_docker_template(monkeypatch):
    monkeypatch.setenv("IMG_TAG", "lab/train:1")
    monkeypatch.setenv("SCRATCH", "/scratch/u")
    argv = C.job_argv(_info("docker"), "/res/r")
    assert argv[:6] == ["docker", "run", "--rm", "--pid=host", "--uts=host", "--user"]
    assert argv[6] == f"{os.getuid()}:{os.getgid()}"
    assert ["--volume", "/res/r:/res/r"] == argv[7:9] and "--env" in argv and "SLURM_JOB_ID" in argv
    assert argv[-6:] == ["--nv", "lab/train:1", "/v/bin/python", "-m", "heyhi.job", "/res/r"]
