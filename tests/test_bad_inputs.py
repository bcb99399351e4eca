"""Every bad input is one line and exit 2, never a traceback or a hang (issue 11, item 5).

One table of bad inputs, run twice: through the CLI (``heyhi run -c CFG --print`` in a subprocess)
and through a real daemon's ``Validate``. Real files, a real FIFO, ``/dev/zero``, a real 50 MB
config, real bytes that are not UTF-8 in argv. Then the number rules of overrides and of
``.prototxt`` files, and a broken pipe ending every printing command quietly.
"""

from __future__ import annotations

import os
import shutil
import sys
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import heyhi_cmd, run_cli
from daemon_util import DaemonProcess

from heyhi.wire import protocol as P
from heyhi.wire.client import Client, DaemonError
from heyhi.config.source import MAX_BYTES
from heyhi.wire.framing import encode_frame, recv_frame

PROBE = "conf/probe/probe.prototxt"
TIMEOUT = 20  # a hang (a FIFO read, a minute-long parse) fails the test instead of stalling it
BIG = 50 * 1000 * 1000  # the 50 MB config


def _make_project(dst: Path) -> Path:
    """The test project, with ``includes`` on the task message (so task-level files can form
    include cycles) and one file per bad input."""
    src = Path(__file__).resolve().parent / "project"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    proto = dst / "conf" / "conf.proto"
    text = proto.read_text()
    assert "  optional bool stamp = 13;\n" in text
    proto.write_text(text.replace("  optional bool stamp = 13;\n",
                                  "  optional bool stamp = 13;\n  repeated Include includes = 14;\n"))
    c = dst / "conf" / "probe"
    (c / "top.prototxt").write_text('includes { path: "x" mount: "" }\nprobe { tag: "t" }\n')
    (c / "x.prototxt").write_text('includes { path: "y" mount: "" }\n')
    (c / "y.prototxt").write_text('includes { path: "x" mount: "" }\n')
    (c / "top_self.prototxt").write_text('includes { path: "s" mount: "" }\nprobe { tag: "t" }\n')
    (c / "s.prototxt").write_text('includes { path: "s" mount: "" }\n')
    (c / "surrogate.json").write_text('{"probe": {"tag": "caf\\ud800"}}\n')
    (c / "latin1.prototxt").write_bytes(b'probe {\n  tag: "caf\xe9"\n}\n')
    os.mkfifo(c / "fifo.prototxt")
    with open(c / "big.prototxt", "w") as fh:  # valid text format: what was read whole and parsed
        fh.write('probe { tag: "big" }\n')
        line = "# " + "x" * 997 + "\n"
        fh.write(line * (BIG // len(line)))
    (c / "octal.prototxt").write_text("probe { lines: 010 }\n")
    os.mkfifo(dst / "fifo_flags.yaml")
    (dst / "latin1_flags.yaml").write_bytes(b'lines: [1, 2]\ntag: "caf\xe9"\n')
    return dst


@pytest.fixture(scope="module")
def bad_proj(tmp_path_factory) -> Path:
    return _make_project(tmp_path_factory.mktemp("bad") / "proj")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = Path(tempfile.mkdtemp(prefix="hhbad", dir="/tmp"))
    proc = DaemonProcess.start(d / "sock" / "d.sock", hello_timeout=5, stderr_dir=tmp_path_factory.mktemp("dlog"))
    yield proc
    proc.stop()
    shutil.rmtree(d, ignore_errors=True)


# (id, config relative to the project (or absolute), overrides, HeyHi's words in the one line)
BAD = [
    pytest.param("conf/probe/top.prototxt", [],
                 "include cycle: probe/x.prototxt -> probe/y.prototxt -> probe/x.prototxt", id="cycle-a-b-a"),
    pytest.param("conf/probe/top_self.prototxt", [],
                 "include cycle: probe/s.prototxt -> probe/s.prototxt", id="cycle-self"),
    pytest.param(PROBE, ["I=x"],
                 "include cycle: probe/x.prototxt -> probe/y.prototxt -> probe/x.prototxt", id="cycle-via-I"),
    pytest.param("conf/probe/surrogate.json", [],
                 "surrogate.json:1:19: string holds a lone surrogate \\ud800", id="json-lone-surrogate"),
    pytest.param("conf/probe/latin1.prototxt", [],
                 "latin1.prototxt:2:12: file is not UTF-8 text (byte 0xe9)", id="file-not-utf8"),
    pytest.param("conf/probe/fifo.prototxt", [],
                 "fifo.prototxt: cannot read config file: it is a FIFO (named pipe), not a regular file", id="fifo"),
    pytest.param("/dev/zero", [],
                 "/dev/zero: cannot read config file: it is a character device, not a regular file", id="dev-zero"),
    pytest.param("conf/probe/big.prototxt", [],
                 "big.prototxt: config file too large: ", id="50MB-config"),
    pytest.param(PROBE, ["lines=1_000"],
                 "'lines' expects int32, got '1_000': numbers are ASCII digits without '_' separators",
                 id="underscore-int"),
    pytest.param(PROBE, ["sleep_s=1_0.5"],
                 "'sleep_s' expects float, got '1_0.5': numbers are ASCII digits without '_' separators",
                 id="underscore-float"),
    pytest.param(PROBE, ["lines=\u0661\u0662"],
                 "'lines' expects int32, got '\u0661\u0662': numbers are ASCII digits", id="arabic-indic-digits"),
]


def _config(proj: Path, config: str) -> str:
    return config if config.startswith("/") else str(proj / config)


def _one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    assert "Traceback" not in text and "Error:" not in text.split(": ", 1)[0]
    return lines[0]


@pytest.mark.parametrize("config, overrides, words", BAD)
def test_bad_input_cli(bad_proj, config, overrides, words):
    r = run_cli(["run", "-c", _config(bad_proj, config), "--print", *overrides], cwd=bad_proj, timeout=TIMEOUT)
    line = _one_line(r.stderr)
    assert r.returncode == 2, r.stderr
    assert line.startswith("heyhi: ") and words in line
    assert r.stdout == ""


@pytest.mark.parametrize("config, overrides, words", BAD)
def test_bad_input_daemon_validate(daemon, bad_proj, config, overrides, words):
    with Client(str(daemon.socket), timeout=TIMEOUT) as c:
        v = c.request(P.Validate(project_root=str(bad_proj), results_root=os.environ["HH_EXP_DIR"],
                                 config=_config(bad_proj, config), overrides=overrides))
    assert isinstance(v, P.ValidateResult) and not v.ok
    assert len(v.errors) == 1
    message = v.errors[0].message
    assert "\n" not in message and words in message


@pytest.mark.parametrize("flag, words", [
    pytest.param("@fifo_flags.yaml", "fifo_flags.yaml: cannot read flag file: it is a FIFO (named pipe), not a regular file",
                 id="fifo"),
    pytest.param("@latin1_flags.yaml", "latin1_flags.yaml:2:10: file is not UTF-8 text (byte 0xe9)", id="not-utf8"),
])
def test_bad_flag_file_cli(bad_proj, flag, words):
    """Flag files are read by the CLI (the daemon gets their overrides): the same reader, the same rules."""
    r = run_cli(["run", "-c", str(bad_proj / PROBE), "--print", flag], cwd=bad_proj, timeout=TIMEOUT)
    assert r.returncode == 2 and _one_line(r.stderr) == f"heyhi: {words}"


def test_proto_schema_fifo_is_refused(tmp_path):
    """The .proto reader goes through the same reader: a FIFO as the schema is one line, no hang."""
    from heyhi.errors import ConfigError
    from heyhi.config.schema.proto_reader import read_protos

    import threading

    fifo = tmp_path / "conf.proto"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_protos([fifo])
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome.append(e)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(TIMEOUT)
    if t.is_alive():  # blocked opening the FIFO: release it (a writer), then fail
        os.close(os.open(fifo, os.O_WRONLY))
        t.join(TIMEOUT)
        pytest.fail("reading a FIFO as the schema blocked")
    assert len(outcome) == 1 and isinstance(outcome[0], ConfigError), outcome
    assert "\n" not in str(outcome[0])
    assert outcome[0].message == f"cannot read proto file {fifo}: it is a FIFO (named pipe), not a regular file"


def test_big_config_is_refused_before_reading(bad_proj):
    """The 50 MB config is refused by its size (fstat), in the time a start takes, naming the limit."""
    r = run_cli(["run", "-c", str(bad_proj / "conf/probe/big.prototxt"), "--print"], cwd=bad_proj, timeout=TIMEOUT)
    size = (bad_proj / "conf/probe/big.prototxt").stat().st_size
    assert r.returncode == 2
    assert _one_line(r.stderr).endswith(f"config file too large: {size} bytes, the limit is 4 MiB")
    assert MAX_BYTES == 4 * 1024 * 1024


def test_config_at_the_limit_is_read(bad_proj, tmp_path):
    """Exactly MAX_BYTES is still a config; one byte more is not."""
    cfg = bad_proj / "conf" / "probe" / "edge.prototxt"
    head = 'probe { tag: "edge" }\n'
    cfg.write_text(head + "#" * (MAX_BYTES - len(head) - 1) + "\n")
    assert cfg.stat().st_size == MAX_BYTES
    r = run_cli(["run", "-c", str(cfg), "--print-flat"], cwd=bad_proj, timeout=TIMEOUT)
    assert r.returncode == 0 and "tag=edge" in r.stdout, r.stderr
    with open(cfg, "a") as fh:
        fh.write("#")
    r = run_cli(["run", "-c", str(cfg), "--print-flat"], cwd=bad_proj, timeout=TIMEOUT)
    assert r.returncode == 2 and "the limit is 4 MiB" in _one_line(r.stderr)


# ---- argv that is not UTF-8 ------------------------------------------------------------------------


@pytest.mark.parametrize("argv, words", [
    pytest.param([b"tag=caf\xe9"], "argument 5 is not UTF-8 text (byte 0xe9): tag=caf\\xe9", id="override"),
    pytest.param([b"I=\xff"], "argument 5 is not UTF-8 text (byte 0xff): I=\\xff", id="include-override"),
])
def test_argv_not_utf8_cli(bad_proj, argv, words):
    cmd = [*heyhi_cmd(), "run", "-c", str(bad_proj / PROBE), "--print", *argv]
    r = subprocess.run(cmd, cwd=bad_proj, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
                       env={**os.environ, "LC_ALL": "C.UTF-8"})
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2 and _one_line(err) == f"heyhi: {words}"
    assert r.stdout == b""


def test_argv_not_utf8_through_run_py(bad_proj):
    """``python run.py`` (a project's own entry point) refuses it too, naming the override."""
    cmd = [sys.executable, "run.py", "-c", PROBE, "--print", b"tag=\xff"]
    r = subprocess.run(cmd, cwd=bad_proj, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
                       env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert r.returncode == 2
    assert _one_line(r.stderr.decode("utf-8", "replace")) == "heyhi: override 'tag=\\xff': not UTF-8 text"


def test_argv_not_utf8_through_the_daemon(daemon, bad_proj):
    """``heyhi run`` without --print goes to the daemon: refused before anything is sent."""
    cmd = [*heyhi_cmd(), "run", "-c", str(bad_proj / PROBE), b"tag=\xff"]
    env = {**os.environ, "HEYHI_SOCKET": str(daemon.socket), "LC_ALL": "C.UTF-8"}
    r = subprocess.run(cmd, cwd=bad_proj, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL, env=env)
    assert r.returncode == 2
    assert _one_line(r.stderr.decode("utf-8", "replace")) == "heyhi: argument 4 is not UTF-8 text (byte 0xff): tag=\\xff"


def test_validate_frame_with_bytes_not_utf8(daemon, bad_proj):
    """A Validate whose override is not UTF-8 on the wire: a one-line error answer, never 'internal',
    and the daemon goes on answering."""
    import socket as socketlib

    from daemon_util import raw_connect

    msg = P.Validate(project_root=str(bad_proj), results_root=os.environ["HH_EXP_DIR"],
                     config=str(bad_proj / PROBE), overrides=["tag=ZZ"])
    frame = encode_frame(P.to_wire(msg))
    assert frame.count(b"tag=ZZ") == 1
    s = raw_connect(daemon.socket, timeout=TIMEOUT)
    try:
        s.sendall(frame.replace(b"tag=ZZ", b"tag=\xff\xfe"))
        try:
            reply = P.from_wire(recv_frame(s))
        except (ConnectionError, socketlib.timeout) as e:  # pragma: no cover - a failure, shown
            pytest.fail(f"no answer: {e}")
    finally:
        s.close()
    assert isinstance(reply, P.Error) and reply.code != "internal", reply
    assert "\n" not in reply.message
    with Client(str(daemon.socket), timeout=TIMEOUT) as c:
        assert isinstance(c.request(P.Ping()), P.Pong)


# ---- numbers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("override, flat", [
    pytest.param("lines=010", "lines=10", id="leading-zero-is-decimal"),
    pytest.param("lines=0x10", "lines=16", id="hex-extension"),
    pytest.param("lines=+7", "lines=7", id="plus-sign"),
    pytest.param("sleep_s=1e-3", "sleep_s=0.001", id="exponent"),
    pytest.param("sleep_s=2.5f", "sleep_s=2.5", id="f-suffix"),
])
def test_override_numbers_follow_python_int_float(bad_proj, override, flat):
    r = run_cli(["run", "-c", str(bad_proj / PROBE), "--print-flat", override], cwd=bad_proj, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert flat in r.stdout.splitlines()


@pytest.mark.parametrize("override, words", [
    pytest.param("lines=abc_def", "'lines' expects int32 (an integer), got 'abc_def'", id="not-a-number-int"),
    pytest.param("sleep_s=fast_", "'sleep_s' expects float (a number), got 'fast_'", id="not-a-number-float"),
])
def test_override_not_a_number_keeps_its_message(bad_proj, override, words):
    """A '_' in something that is no number at all is the usual message, not the '_' rule's."""
    r = run_cli(["run", "-c", str(bad_proj / PROBE), "--print-flat", override], cwd=bad_proj, timeout=TIMEOUT)
    assert r.returncode == 2 and _one_line(r.stderr).endswith(words)


def test_prototxt_numbers_follow_the_text_format_grammar(bad_proj):
    """In a .prototxt file 010 is octal (8), as protobuf reads it; as an override it is 10."""
    r = run_cli(["run", "-c", str(bad_proj / "conf/probe/octal.prototxt"), "--print-flat"], cwd=bad_proj,
                timeout=TIMEOUT)
    assert r.returncode == 0 and "lines=8" in r.stdout.splitlines(), r.stderr


@pytest.mark.parametrize("value, shown", [("1e39", "inf"), ("-1e39", "-inf")])
def test_float32_overflow_becomes_inf_with_one_warning(bad_proj, value, shown):
    r = run_cli(["run", "-c", str(bad_proj / PROBE), "--print-flat", f"sleep_s={value}"], cwd=bad_proj,
                timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert f"sleep_s={shown}" in r.stdout.splitlines()
    assert _one_line(r.stderr) == (f"heyhi: warning: override 'sleep_s={value}': 'sleep_s' is a float (float32): "
                                   f"{value} is beyond its range and becomes {shown}")


# ---- a broken pipe ends quietly ----------------------------------------------------------------------


def _with_closed_reader(args: list[str], env: dict | None = None, cwd: Path | None = None):
    """Run ``heyhi ARGS`` with stdout a pipe whose reader has already gone (``| head -0``)."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run([*heyhi_cmd(), *args], stdout=w, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              text=True, timeout=TIMEOUT, env={**os.environ, **(env or {})}, cwd=cwd)
    finally:
        os.close(w)


def test_broken_pipe_run_print_is_quiet(bad_proj):
    r = _with_closed_reader(["run", "-c", str(bad_proj / PROBE), "--print"], cwd=bad_proj)
    assert r.stderr == "" and r.returncode == 141


def test_broken_pipe_usage_is_quiet():
    r = _with_closed_reader(["--help"])
    assert r.stderr == "" and r.returncode == 141


def test_broken_pipe_ctl_status_is_quiet(daemon):
    r = _with_closed_reader(["ctl", "status"], env={"HEYHI_SOCKET": str(daemon.socket)})
    assert r.stderr == "" and r.returncode == 141
    ok = run_cli(["ctl", "status"], env={"HEYHI_SOCKET": str(daemon.socket)}, timeout=TIMEOUT)
    assert ok.returncode == 0 and ok.stdout.startswith("heyhi daemon"), ok.stderr
