"""Containers: a run's job, ``python -m heyhi.job RUN_DIR``, run inside an image, under any launcher.

A config's ``launcher.container`` block (or, for a schema without it, the ``container`` table of
``[tool.heyhi.launcher]`` in the project's pyproject.toml) names an ``image``, a ``runtime``
(apptainer, singularity, podman or docker: one command template each, ``TEMPLATES``, defined here
only), extra ``binds`` (``SRC[:DST[:ro]]``) and extra runtime ``flags``; ``~`` and ``$VARS`` are
expanded in the image, binds and flags. Bound by default: the run folder and the results root
(read-write) and the code snapshot (read-only).

``resolve`` runs before anything is written or submitted: it checks the image once per image id
(cached for the process) by running the image's ``python --version`` (bounded). When it matches
HeyHi's interpreter (major.minor), HeyHi's venv (and the folders its ``.pth`` files and heyhi's
package point to) is bind-mounted read-only and the venv's python runs the job (``mode: venv``);
otherwise the image must provide heyhi (``python -c "import heyhi"`` in it: ``mode: image``), else a
one-line ``ConfigError``. The resolved block is recorded in ``heyhi.run.json`` (``container``), and
``job_argv``/``shell_prefix`` wrap the job command from that record (local processes, batch scripts).

podman and docker share the host's pid and UTS namespaces (``--pid=host --uts=host``), so the pid
and host the job records are the host's, as a local job's are; apptainer and singularity share
them by default. Networking is the runtime's default; ``flags`` set it (``--network=host`` for
multi-node jobs, ``--network=none`` for none).

Stdlib only.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

from heyhi.errors import ConfigError

__all__ = ["RUNTIMES", "TEMPLATES", "FIELDS", "CHECK_TIMEOUT_S", "from_config", "normalize", "resolve",
           "job_argv", "job_python", "shell_prefix", "render", "venv_binds"]

RUNTIMES = ("apptainer", "singularity", "podman", "docker")
CHECK_TIMEOUT_S = 120.0  # one `python --version` in the image: a first podman run of an image may be slow
_OUT_LIMIT = 4000  # what is read of a check's output
#: the fields of a container block, and their kinds
FIELDS: dict[str, type] = {"image": str, "runtime": str, "binds": list, "flags": list, "python": str}
#: environment variables docker passes by name (podman takes the prefixes ``HEYHI_*``, ``SLURM_*``)
_PASS_ENV = ("HEYHI_RUN_DIR", "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_PROCID",
             "SLURM_LOCALID", "SLURM_NTASKS", "SLURM_NODEID", "SLURM_JOB_NODELIST", "SLURM_RESTART_COUNT",
             "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
             "CUDA_VISIBLE_DEVICES")

#: One command template per runtime: the words before the image. ``{bind}`` is repeated per bind
#: (``{src}``, ``{dst}``, ``{opt}``: ``:ro`` or empty), ``{run_dir}`` is the run folder, ``{env}`` the
#: words passing the environment, ``{flags}`` the user's flags; then the image, then the job command.
TEMPLATES: dict[str, dict[str, Any]] = {
    "apptainer": {"run": ["apptainer", "exec"], "bind": ["--bind", "{src}:{dst}{opt}"],
                  "rest": ["--pwd", "{run_dir}", "--env", "HEYHI_RUN_DIR={run_dir}"], "env": []},
    "singularity": {"run": ["singularity", "exec"], "bind": ["--bind", "{src}:{dst}{opt}"],
                    "rest": ["--pwd", "{run_dir}", "--env", "HEYHI_RUN_DIR={run_dir}"], "env": []},
    "podman": {"run": ["podman", "run", "--rm", "--pid=host", "--uts=host"],
               "bind": ["--volume", "{src}:{dst}{opt}"],
               "rest": ["--workdir", "{run_dir}", "--env", "HEYHI_RUN_DIR={run_dir}"],
               "env": ["--env", "HEYHI_*", "--env", "SLURM_*"]
               + [w for v in _PASS_ENV[11:] for w in ("--env", v)]},
    "docker": {"run": ["docker", "run", "--rm", "--pid=host", "--uts=host", "--user", "{uid}:{gid}"],
               "bind": ["--volume", "{src}:{dst}{opt}"],
               "rest": ["--workdir", "{run_dir}", "--env", "HEYHI_RUN_DIR={run_dir}"],
               "env": [w for v in _PASS_ENV[1:] for w in ("--env", v)]},
}
_RUN_DIR = "\0run_dir\0"  # stands for the run folder in a rendered command until it is filled in
_checked: dict[tuple, tuple[str, str]] = {}  # (runtime, image id, host python, venv) -> (mode, version)


def _expand(s: str) -> str:
    return os.path.expandvars(os.path.expanduser(str(s)))


def normalize(block: Mapping | None, where: str = "launcher.container") -> dict | None:
    """The container block as a plain dict with ``~``/``$VARS`` expanded and defaults filled in, or None
    when it names no image. A bad block is a one-line ConfigError naming ``where``."""
    if not block:
        return None
    if not isinstance(block, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(block) - set(FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    for k, v in block.items():
        if v is not None and not isinstance(v, FIELDS[k]) or (FIELDS[k] is list and not all(isinstance(x, str) for x in v or [])):
            raise ConfigError(f"{where}.{k} = {v!r}: expected {'a list of strings' if FIELDS[k] is list else 'a string'}")
    if not (block.get("image") or "").strip():
        return None
    runtime = (block.get("runtime") or "apptainer").strip()
    if runtime not in RUNTIMES:
        raise ConfigError(f"{where}.runtime = {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    binds = []
    for b in block.get("binds") or []:
        parts = _expand(b).split(":")
        if not parts[0] or len(parts) > 3 or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise ConfigError(f"{where}.binds: {b!r}: expected SRC[:DST[:ro|rw]]")
        if not os.path.isabs(parts[0]) or (len(parts) > 1 and parts[1] and not os.path.isabs(parts[1])):
            raise ConfigError(f"{where}.binds: {b!r}: paths must be absolute (after ~ and $VARS expansion)")
        binds.append(":".join(parts))
    return {"image": _expand(block["image"].strip()), "runtime": runtime, "binds": binds,
            "flags": [_expand(f) for f in block.get("flags") or []], "python": (block.get("python") or "python3").strip()}


def from_config(composed) -> dict | None:
    """The config's container block (``launcher.container`` when the schema has it, else the project's
    ``[tool.heyhi.launcher] container`` table), normalized; None when there is none."""
    task = composed.task_msg
    lmsg = task._v.get("launcher") if "launcher" in task._type.fields else None
    if lmsg is not None and "container" in lmsg._type.fields:
        msg = lmsg._v.get("container")
        if msg is None:
            return None
        from heyhi.config.values import to_dict  # lean: python -m heyhi.job loads the launchers, not config values

        return normalize(to_dict(msg, with_defaults=True))
    table = (getattr(composed.project, "settings", None) or {}).get("launcher")
    block = table.get("container") if isinstance(table, Mapping) else None
    return normalize(block, "pyproject.toml [tool.heyhi.launcher.container]")


def _run(argv: list[str], timeout: float = CHECK_TIMEOUT_S) -> tuple[int, str]:
    """(exit status, its output's last line, bounded); a missing command or a timeout is a ConfigError."""
    try:
        p = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise ConfigError(f"launcher.container: {argv[0]}: command not found on this host "
                          "(the image is checked before anything is submitted)") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"launcher.container: {' '.join(argv[:2])} ... did not answer within {timeout:g} s") from None
    out = (p.stdout[-_OUT_LIMIT:] + b"\n" + p.stderr[-_OUT_LIMIT:]).decode(errors="replace")
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    return p.returncode, (lines[-1][:300] if lines else "")


def _image_id(c: dict) -> str:
    """The image's identity: podman's/docker's image id, or an image file's path, size and mtime."""
    if c["runtime"] in ("podman", "docker"):
        code, out = _run([c["runtime"], "image", "inspect", "--format", "{{.Id}}", c["image"]], 30)
        if code != 0:
            raise ConfigError(f"launcher.container.image: {c['image']!r}: no such {c['runtime']} image here ({out})")
        return out
    try:
        st = os.stat(c["image"])
    except OSError as e:
        raise ConfigError(f"launcher.container.image: {c['image']}: {e.strerror}") from None
    return f"{os.path.realpath(c['image'])}:{st.st_size}:{st.st_mtime_ns}"


def venv_binds(python: str) -> list[str]:
    """Read-only binds that make HeyHi's venv run in an image: the venv, the folders its ``.pth``
    files name and the symlinks there point to, and heyhi's own package folder."""
    prefix = Path(python).parent.parent
    found: list[Path] = [prefix]
    for pth in sorted(prefix.glob("lib/python*/site-packages/*.pth"))[:50]:
        try:
            lines = pth.read_text(errors="replace")[:10000].splitlines()
        except OSError:
            continue
        for line in lines:
            d = Path(line.strip())
            if line.startswith(("#", "import")) or not d.is_absolute() or not d.is_dir():
                continue
            found.append(d)
            for entry in sorted(d.iterdir())[:100]:
                if entry.is_symlink():
                    found.append(entry.resolve())
    found.append(Path(__file__).resolve().parents[2])  # the folder that holds the heyhi package
    out: list[str] = []
    for d in found:
        d = d.resolve() if d != prefix else d
        if not any(d == Path(o) or Path(o) in d.parents for o in out):
            out = [o for o in out if d not in Path(o).parents] + [str(d)]
    return [f"{d}:{d}:ro" for d in out]


def _version(text: str) -> str | None:
    m = re.search(r"Python (\d+\.\d+(?:\.\d+)?)", text)
    return m.group(1) if m else None


def resolve(block: dict | None, python: str) -> dict | None:
    """The container record of a run (``heyhi.run.json``'s ``container``): ``block`` with the checked
    ``mode`` (venv or image), the image's ``python_version`` and ``image_id``, and the venv's binds in
    venv mode. Runs the image at most twice per image id (cached). A mismatch is a one-line ConfigError."""
    if block is None:
        return None
    c = dict(block)
    image_id = _image_id(c)
    here = ".".join(map(str, sys.version_info[:3]))
    key = (c["runtime"], image_id, c["python"], python)
    if key not in _checked:
        base = render(c, "/", [])[:-1]  # the runtime's words up to the image, run in "/"
        code, out = _run([w.replace(_RUN_DIR, "/") for w in base] + [c["image"], c["python"], "--version"])
        theirs = _version(out) if code == 0 else None
        if theirs and theirs.split(".")[:2] == here.split(".")[:2]:
            mode = "venv"
        else:
            code, out = _run([w.replace(_RUN_DIR, "/") for w in base] + [c["image"], c["python"], "-c", "import heyhi"])
            if code != 0:
                raise ConfigError(
                    f"launcher.container: image {c['image']} has {'Python ' + theirs if theirs else 'no ' + c['python']}"
                    f" (HeyHi runs Python {here}) and does not provide heyhi ({out or 'exit status ' + str(code)})")
            mode = "image"
        _checked[key] = (mode, theirs or "")
    c["mode"], c["python_version"] = _checked[key]
    c["image_id"] = image_id
    c["venv_binds"] = venv_binds(python) if c["mode"] == "venv" else []
    return c


def render(c: Mapping, run_dir: str, binds: list[str]) -> list[str]:
    """The words of the runtime's command for container ``c`` up to and including the image:
    its template filled with ``binds`` (``SRC:DST[:ro]``), ``run_dir`` and the user's flags."""
    t = TEMPLATES[c["runtime"]]
    subs = {"run_dir": run_dir, "uid": str(os.getuid()), "gid": str(os.getgid())}
    words = [w.format(**subs) for w in t["run"]]
    for b in binds:
        src, _, rest = b.partition(":")
        dst, _, opt = rest.partition(":")
        words += [w.format(src=src, dst=dst or src, opt=f":{opt}" if opt else "") for w in t["bind"]]
    words += [w.format(**subs) for w in t["rest"]] + list(t["env"]) + list(c.get("flags") or [])
    return words + [c["image"]]


def _binds(c: Mapping, info: Mapping, run_dir: str) -> list[str]:
    """The default binds (run folder, results root, code snapshot read-only), the venv's, then extra."""
    out = [f"{run_dir}:{run_dir}"]
    for key, opt in (("results_root", ""), ("code_dir", ":ro")):
        p = info.get(key)
        if p and p != run_dir:
            out.append(f"{p}:{p}{opt}")
    return out + list(c.get("venv_binds") or []) + list(c.get("binds") or [])


def job_python(info: Mapping) -> str:
    """The python that runs the job: the recorded interpreter, or the image's own in image mode."""
    c = info.get("container") or {}
    return c["python"] if c.get("mode") == "image" else (info.get("python") or sys.executable)


def job_argv(info: Mapping, run_dir: Path | str) -> list[str]:
    """The job's command for a run record ``info``: ``python -m heyhi.job RUN_DIR``, inside the
    recorded container when there is one."""
    d = str(run_dir)
    job = [job_python(info), "-m", "heyhi.job", d]
    c = info.get("container")
    return render(c, d, _binds(c, info, d)) + job if c else job


def shell_prefix(info: Mapping, folder_word: str) -> str:
    """The shell words (with a trailing space) that run a batch script's job command in the recorded
    container, ``folder_word`` being the run folder as a shell word (quoted, or ``"$d"``); empty
    without a container."""
    c = info.get("container")
    if not c:
        return ""
    words = render(c, _RUN_DIR, _binds(c, info, _RUN_DIR))
    return " ".join(folder_word.join(shlex.quote(p) if p else "" for p in w.split(_RUN_DIR)) or "''"
                    for w in words) + " "
