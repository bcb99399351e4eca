"""The original HeyHi's package API (facebookresearch/diplomacy_cicero, ``heyhi/__init__.py``) served by
``heyhi``: every name importable, the same parameters, and the same meaning on HeyHi's machinery.

The job environment, the entry points and the results are checked in real processes: Slurm's
variables planted in a child's environment, and an original-style ``run.py`` (``main(task, cfg,
log_level)`` handed to ``heyhi.parse_args_and_maybe_launch``) launched for real on HeyHi's test project.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import pickle
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import heyhi
from conftest import run_cli
from heyhi.errors import ConfigError, HeyHiError
from heyhi.runs import task_api
from heyhi.runs.jobenv import MAX_HOSTS, HostlistError, expand_hostlist, first_host, job_env

PROBE = "conf/probe/probe.prototxt"

# Every public name of the original's heyhi/__init__.py.
ORIGINAL_NAMES = [
    "load_config", "load_root_config", "load_proto_message", "flatten_cfg", "save_config", "CONF_ROOT",
    "PROJ_ROOT", "conf_to_dict", "conf_is_set", "conf_get", "conf_set", "conf_with_overrides",
    "parse_args_and_maybe_launch", "maybe_launch", "get_default_exp_dir",
    "MODES", "get_job_env", "get_slurm_job_id", "get_slurm_master", "is_adhoc", "is_aws", "is_devfair",
    "is_master", "is_on_slurm", "log_git_status", "maybe_init_requeue_handler", "reset_slurm_cache",
    "save_result_in_cwd", "setup_logging",
]

_P, _K = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
_NO = inspect.Parameter.empty
# The original's parameters: (name, kind, default), in order.
ORIGINAL_SIGNATURES = {
    "load_config": [("config_path", _P, _NO), ("overrides", _P, ()), ("msg_class", _K, None),
                    ("extra_include_dirs", _K, ())],
    "load_root_config": [("config_path", _P, _NO), ("overrides", _P, ()), ("extra_include_dirs", _K, ())],
    "load_proto_message": [("config_path", _P, _NO), ("overrides", _P, ()), ("msg_class", _K, None),
                           ("extra_include_dirs", _K, ())],
    "conf.load_root_proto_message": [("config_path", _P, _NO), ("overrides", _P, _NO), ("extra_include_dirs", _P, ())],
    "flatten_cfg": [("cfg", _P, _NO), ("with_all", _K, True)],
    "save_config": [("cfg", _P, _NO), ("path", _P, _NO)],
    "conf_to_dict": [("cfg", _P, _NO), ("include_defaults", _P, False)],
    "conf_is_set": [("cfg", _P, _NO), ("path", _P, _NO)],
    "conf_get": [("cfg", _P, _NO), ("path", _P, _NO)],
    "conf_set": [("cfg", _P, _NO), ("path", _P, _NO), ("value", _P, _NO)],
    "conf_with_overrides": [("cfg", _P, _NO), ("overrides", _P, _NO)],
    "parse_args_and_maybe_launch": [("main", _P, _NO)],
    "maybe_launch": [("main", _P, _NO), ("exp_root", _K, _NO), ("overrides", _K, _NO), ("cfg", _K, _NO),
                     ("mode", _K, _NO), ("checkpoint", _K, "DEFAULT"), ("adhoc", _K, False),
                     ("exp_id_pattern_override", _K, None), ("force", _K, False), ("log_level", _K, "INFO")],
    "get_default_exp_dir": [],
    **{n: [] for n in ("get_job_env", "get_slurm_job_id", "get_slurm_master", "is_adhoc", "is_aws", "is_devfair",
                       "is_master", "is_on_slurm", "reset_slurm_cache")},
    "log_git_status": [("base_path_for_logging", _P, None)],
    "maybe_init_requeue_handler": [("master_callback", _P, None)],
    "save_result_in_cwd": [("f", _P, _NO)],
    "setup_logging": [("console_level", _K, logging.INFO), ("fpath", _K, None), ("file_level", _K, logging.DEBUG),
                      ("label", _K, None)],
}

ORIGINAL_RUN_PY = '''\
import logging
import os

import heyhi


@heyhi.save_result_in_cwd
def main(task, cfg, log_level):
    heyhi.setup_logging(console_level=log_level)
    frozen = cfg.to_frozen()
    logging.debug("a debug line")
    heyhi.log_git_status()
    print("MAIN", task, frozen.tag, log_level, "editable" if not cfg.is_frozen() else "frozen",
          os.getcwd() == os.environ["HEYHI_RUN_DIR"], heyhi.is_master(), flush=True)
    return {"tag": frozen.tag, "task": task, "level": log_level, "rank": heyhi.get_job_env().global_rank}


if __name__ == "__main__":
    heyhi.parse_args_and_maybe_launch(main)
'''


# ---- names and signatures ------------------------------------------------------------------------

def test_every_name_of_the_original_package_is_served_by_heyhi():
    missing = [n for n in ORIGINAL_NAMES if n not in heyhi.__all__]
    assert missing == []
    for name in ORIGINAL_NAMES:
        getattr(heyhi, name)
    ns: dict = {}
    exec(f"from heyhi import {', '.join(ORIGINAL_NAMES)}", ns)  # the original's users' import line
    assert callable(ns["parse_args_and_maybe_launch"]) and isinstance(ns["CONF_ROOT"], Path)


def test_the_original_modules_and_heyhis_own_names_live_side_by_side():
    import heyhi.conf
    import heyhi.run
    import heyhi.util
    from heyhi.cli.run import main as cli_main

    assert heyhi.main is cli_main and callable(heyhi.compose)  # HeyHi's names keep their meaning
    assert heyhi.run.parse_args_and_maybe_launch is heyhi.parse_args_and_maybe_launch
    assert heyhi.conf.load_root_proto_message and heyhi.conf.UNSET_VALUE == "NULL"
    assert (heyhi.conf.SELECT_ONEOF_VALUE, heyhi.conf.INCLUDE_KEY, heyhi.conf.EXT) == ("SELECT", "I", ".prototxt")
    assert heyhi.util.get_job_env is heyhi.get_job_env and heyhi.conf.load_config is heyhi.load_config


def test_the_original_modules_are_attributes_of_heyhi_before_any_import():
    code = ("import sys, heyhi\nassert 'heyhi.conf' not in sys.modules\n"
            "assert heyhi.conf.conf_get and heyhi.util.is_master() and heyhi.run.maybe_launch\n"
            "import heyhi.conf, heyhi.compat.conf\nassert heyhi.conf is heyhi.compat.conf\n"
            "from heyhi.util import get_job_env\nfrom heyhi.run import parse_args_and_maybe_launch\n"
            "assert callable(heyhi.main) and callable(heyhi.compose)\n"
            "assert [n for n in heyhi.__all__ if type(getattr(heyhi, n)).__name__ == 'module'] == []\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("name", sorted(ORIGINAL_SIGNATURES))
def test_parameters_match_the_original(name):
    fn = getattr(heyhi.conf, name[5:]) if name.startswith("conf.") else getattr(heyhi, name)
    params = list(inspect.signature(fn).parameters.values())
    want = ORIGINAL_SIGNATURES[name]
    got = [(p.name, p.kind, p.default) for p in params[: len(want)]]
    assert got == want
    extra = params[len(want):]  # HeyHi may add keyword-only parameters with a default, never more
    assert all(p.kind is _K and p.default is not _NO for p in extra), extra


def test_modes_are_the_originals():
    assert heyhi.MODES == ("gentle_start", "start_restart", "start_continue", "restart", "dryrun")


def test_the_job_helpers_load_neither_pydantic_nor_submitit():
    code = ("import sys, heyhi\nheyhi.get_job_env(); heyhi.is_master(); heyhi.get_slurm_master()\n"
            "import heyhi.util\nprint(sorted(m for m in ('pydantic', 'submitit', 'torch') if m in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


# ---- the job environment -----------------------------------------------------------------------

_SHOW_ENV = (
    "import json, sys, heyhi\ne = heyhi.get_job_env()\n"
    "print(json.dumps(dict(job_id=e.job_id, global_rank=e.global_rank, local_rank=e.local_rank, "
    "num_tasks=e.num_tasks, num_nodes=e.num_nodes, node=e.node, hostnames=list(e.hostnames), hostname=e.hostname, "
    "same=(heyhi.job_env() == e), on_slurm=heyhi.is_on_slurm(), master=heyhi.is_master(), "
    "slurm_id=heyhi.get_slurm_job_id(), slurm_master=heyhi.get_slurm_master(), "
    "submitit='submitit' in sys.modules)))\n"
)


def _job_env_in_child(extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(extra)
    p = subprocess.run([sys.executable, "-c", _SHOW_ENV], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_job_env_outside_slurm_is_one_local_task():
    got = _job_env_in_child({})
    host = socket.gethostname()
    assert got == dict(job_id="local", global_rank=0, local_rank=0, num_tasks=1, num_nodes=1, node=0,
                       hostnames=[host], hostname=host, same=True, on_slurm=False, master=True, slurm_id=None,
                       slurm_master="localhost", submitit=False)


def test_job_env_in_a_slurm_array_task_reads_slurms_variables():
    got = _job_env_in_child({
        "SLURM_JOB_ID": "4242", "SLURM_ARRAY_JOB_ID": "4240", "SLURM_ARRAY_TASK_ID": "2", "SLURM_PROCID": "5",
        "SLURM_LOCALID": "1", "SLURM_NTASKS": "8", "SLURM_JOB_NUM_NODES": "2", "SLURM_NODEID": "1",
        "SLURM_JOB_NODELIST": "gpu[007-008]",
    })
    assert got["job_id"] == got["slurm_id"] == "4240_2"
    assert (got["global_rank"], got["local_rank"], got["num_tasks"], got["num_nodes"], got["node"]) == (5, 1, 8, 2, 1)
    assert got["hostnames"] == ["gpu007", "gpu008"] and got["slurm_master"] == "gpu007"
    assert got["on_slurm"] and not got["master"] and got["same"] and not got["submitit"]


def test_job_env_of_a_plain_slurm_job_and_its_master():
    got = _job_env_in_child({"SLURM_JOB_ID": "77", "SLURM_PROCID": "0", "SLURM_NNODES": "3",
                             "SLURM_JOB_NODELIST": "a1,b[2-3]"})
    assert got["job_id"] == got["slurm_id"] == "77" and got["num_nodes"] == 3 and got["num_tasks"] == 1
    assert got["master"] and got["slurm_master"] == "a1" and got["hostnames"] == ["a1", "b2", "b3"]


@pytest.mark.parametrize("name, value", [
    pytest.param("SLURM_NTASKS", "eight", id="word"),
    pytest.param("SLURM_PROCID", "-1", id="negative"),
    pytest.param("SLURM_NODEID", "9" * 40, id="huge"),
    pytest.param("SLURM_LOCALID", "١", id="non-ascii-digit"),
])
def test_a_bad_slurm_number_is_one_line_naming_the_variable(name, value):
    with pytest.raises(HeyHiError) as e:
        job_env({"SLURM_JOB_ID": "1", name: value})
    assert name in str(e.value) and "\n" not in str(e.value)


# ---- Slurm host lists ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, hosts", [
    pytest.param("node01", ["node01"], id="one-host"),
    pytest.param("node[01-03,07]", ["node01", "node02", "node03", "node07"], id="range-and-single"),
    pytest.param("n[8-11]", ["n8", "n9", "n10", "n11"], id="no-padding"),
    pytest.param("n[098-101]", ["n098", "n099", "n100", "n101"], id="padding-grows"),
    pytest.param("a1,b[2-3],c", ["a1", "b2", "b3", "c"], id="several"),
    pytest.param("rack[1-2]-gpu[1-2]", ["rack1-gpu1", "rack1-gpu2", "rack2-gpu1", "rack2-gpu2"], id="product"),
    pytest.param("x[1-2]y", ["x1y", "x2y"], id="suffix"),
    pytest.param(" n[1-2] ", ["n1", "n2"], id="spaces-around"),
])
def test_hostlists_expand_as_slurm_does(text, hosts):
    assert expand_hostlist(text) == hosts
    assert first_host(text) == hosts[0]


@pytest.mark.parametrize("text, says", [
    pytest.param("", "empty", id="empty"),
    pytest.param("a,,b", "empty host name", id="empty-item"),
    pytest.param("n[1-3", "without its ']'", id="unclosed"),
    pytest.param("n1-3]", "without its '['", id="unopened"),
    pytest.param("n[[1-2]]", "nested", id="nested"),
    pytest.param("n[3-1]", "backwards", id="backwards"),
    pytest.param("n[a-b]", "not a number", id="letters"),
    pytest.param("n[1-2-3]", "not a number", id="two-dashes"),
    pytest.param("n[1-" + "9" * 5000 + "]", "not a number", id="number-of-5000-digits"),
    pytest.param("n[0-99999999999]", f"more than {MAX_HOSTS} hosts", id="huge-range"),
    pytest.param("a[1-1000]b[1-1000]", f"more than {MAX_HOSTS} hosts", id="huge-product"),
    pytest.param("n," * 40_000, "characters long", id="too-long"),
])
def test_a_bad_or_huge_hostlist_is_one_line_and_nothing_is_expanded(text, says):
    with pytest.raises(HostlistError) as e:
        expand_hostlist(text)
    assert says in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, ValueError) and isinstance(e.value, HeyHiError)


def test_the_master_of_a_huge_allocation_is_found_without_expanding_it():
    assert first_host("gpu[00000000-99999999999],cpu1") == "gpu00000000"
    with pytest.raises(HostlistError):
        first_host("gpu[9-1]")


def test_a_malformed_nodelist_makes_get_slurm_master_fail_in_one_line(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_NODELIST", "node[01-")
    with pytest.raises(HostlistError, match="bad Slurm host list 'node\\[01-'"):
        heyhi.get_slurm_master()


# ---- small helpers -------------------------------------------------------------------------------

def test_adhoc_aws_and_devfair(tmp_path, monkeypatch):
    (tmp_path / "adhoc" / "2024").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "adhoc" / "2024")
    assert heyhi.is_adhoc()
    monkeypatch.chdir(tmp_path)
    assert not heyhi.is_adhoc()
    monkeypatch.delenv("S3_SHARED", raising=False)
    assert not heyhi.is_aws()
    monkeypatch.setenv("S3_SHARED", "/s3")
    assert heyhi.is_aws()
    assert heyhi.is_devfair() is os.uname()[1].startswith("devfair")


def test_get_slurm_job_id_outside_slurm_is_none(monkeypatch):
    for k in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(k, raising=False)
    assert heyhi.get_slurm_job_id() is None


@pytest.fixture
def no_callbacks():
    saved = list(task_api._callbacks)
    task_api._callbacks.clear()
    yield task_api._callbacks
    task_api._callbacks[:] = saved


def test_requeue_handler_registers_the_callback_on_a_slurm_master_only(monkeypatch, no_callbacks):
    calls = []
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    heyhi.maybe_init_requeue_handler(lambda: calls.append("off"))
    monkeypatch.setenv("SLURM_PROCID", "1")
    heyhi.maybe_init_requeue_handler(lambda: calls.append("worker"))
    assert no_callbacks == []
    monkeypatch.setenv("SLURM_PROCID", "0")
    heyhi.maybe_init_requeue_handler(lambda: calls.append("master"))
    heyhi.maybe_init_requeue_handler()  # no callback: nothing to register
    task_api._fire_preemption()
    assert calls == ["master"]


@pytest.fixture
def root_logger():
    root = logging.getLogger()
    saved = (list(root.handlers), list(root.filters), root.level, root.propagate)
    yield root
    for h in list(root.handlers):
        root.removeHandler(h)
        if h not in saved[0]:
            h.close()
    for h in saved[0]:
        root.addHandler(h)
    root.filters[:] = saved[1]
    root.setLevel(saved[2])
    root.propagate = saved[3]


def test_setup_logging_replaces_handlers_and_writes_the_originals_lines(tmp_path, capsys, root_logger):
    logfile = tmp_path / "log.txt"
    got = heyhi.setup_logging(console_level="WARN", fpath=logfile, label="w3")
    assert got is root_logger and len(root_logger.handlers) == 2
    logging.info("to the file only")
    logging.warning("to both")
    err = capsys.readouterr().err
    assert "to the file only" not in err
    assert re.fullmatch(r"W\d{4} \d\d:\d\d:\d\d w3 \[test_original_api:\d+\] to both", err.strip().splitlines()[-1])
    text = logfile.read_text()
    assert "I" in text.split()[0] and "to the file only" in text and "to both" in text
    heyhi.setup_logging(console_level=None)
    assert root_logger.handlers == []
    with pytest.raises(ValueError):
        heyhi.setup_logging(label="50%")


def test_log_git_status_outside_git_logs_and_does_not_raise(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEYHI_RUN_DIR", raising=False)
    with caplog.at_level(logging.INFO):
        heyhi.log_git_status()
    assert any("git rev-parse HEAD failed" in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "workdir.diff").exists()


# ---- results ------------------------------------------------------------------------------------

def test_save_result_in_cwd_pickles_without_torch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLURM_PROCID", raising=False)

    @heyhi.save_result_in_cwd
    def main(task, cfg, log_level):
        """The task."""
        return {"loss": 0.5, "task": task}

    assert main.__name__ == "main" and main.__doc__ == "The task."
    assert main("train", cfg=None, log_level="INFO") == {"loss": 0.5, "task": "train"}
    assert pickle.loads((tmp_path / "result.pkl").read_bytes()) == {"loss": 0.5, "task": "train"}
    assert not (tmp_path / "result.torch").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["result.pkl"]  # no temporary file left behind


def test_save_result_in_cwd_writes_nothing_on_a_worker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert heyhi.save_result_in_cwd(lambda: 7)() == 7
    assert list(tmp_path.iterdir()) == []


def test_save_result_in_cwd_uses_torch_when_it_is_there(tmp_path):
    """A stand-in ``torch`` on the path (``torch.save``, as torch's signature) picks result.torch."""
    (tmp_path / "stub").mkdir()
    (tmp_path / "stub" / "torch.py").write_text(
        "import pickle\n\ndef save(obj, f):\n    with open(f, 'wb') as fh:\n        fh.write(b'T' + pickle.dumps(obj))\n\n"
        "def load(f):\n    with open(f, 'rb') as fh:\n        return pickle.loads(fh.read()[1:])\n")
    (tmp_path / "cwd").mkdir()
    code = ("import heyhi\nfrom heyhi.util import ExperimentDir\n"
            "heyhi.save_result_in_cwd(lambda: {'a': 1})()\nprint(ExperimentDir('.').load_result())")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "stub"))
    env.pop("SLURM_PROCID", None)
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "cwd", env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "cwd" / "result.torch").read_bytes().startswith(b"T")
    assert not (tmp_path / "cwd" / "result.pkl").exists() and p.stdout.strip() == "{'a': 1}"


def test_an_original_folder_with_its_result_is_done(tmp_path):
    from heyhi.util import ExperimentDir, Status

    folder = tmp_path / "exp"
    folder.mkdir()
    assert ExperimentDir(folder).get_status() == Status.NOT_STARTED
    (folder / "heyhi.jobid").write_text("local\n")
    (folder / "result.torch").write_bytes(b"\x80")
    os.utime(folder / "heyhi.jobid", (1, 1))
    os.utime(folder / "result.torch", (1, 1))
    exp = ExperimentDir(folder, exp_id="exp")
    assert exp.get_status() == Status.DONE and exp.is_done() and exp.is_started() and not exp.is_running()
    assert exp.maybe_get_job_id() == "local" and exp.result_path == folder / "result.torch"


# ---- configs: the conf_* helpers on a schema with every kind of field -----------------------------

KINDS_PROTO = """
syntax = "proto2";
package kinds;
message Include { optional string path = 1; optional string mount = 2; }
enum Color { RED = 0; GREEN = 1; }
message Inner { optional int32 x = 1 [default = 7]; optional Color c = 2; }
message KindsTask {
  optional int64 big = 1;
  optional uint64 ubig = 2 [default = 5];
  optional int32 small = 3;
  optional double d = 4;
  optional float f = 5 [default = 0.5];
  optional bytes raw = 6;
  optional string s = 7;
  optional bool b = 8;
  optional Color color = 9;
  optional Inner inner = 10;
  optional Inner unset_inner = 11;
  repeated int64 bigs = 12;
  repeated Inner inners = 13;
  map<int32, string> by_int = 14;
  map<bool, Color> by_bool = 15;
  map<string, int64> big_map = 16;
  oneof pick { int32 one = 17; Inner two = 18; }
}
message MetaCfg { repeated Include includes = 1; oneof task { KindsTask kinds = 2; } }
"""

KINDS_CFG = """kinds {
  big: 9007199254740993 ubig: 18446744073709551615 small: -3 d: inf f: 1.5 raw: "\\001ab" s: "t" b: false
  color: GREEN inner { c: GREEN } bigs: [1, -2] inners { x: 1 } inners { }
  by_int { key: 2 value: "two" } by_bool { key: true value: GREEN } big_map { key: "k" value: 12 }
  two { }
}
"""


@pytest.fixture(scope="module")
def kinds(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kinds")
    (root / "conf").mkdir()
    (root / "conf" / "conf.proto").write_text(KINDS_PROTO)
    (root / "conf" / "k.prototxt").write_text(KINDS_CFG)
    (root / "conf" / "nan.prototxt").write_text("kinds { d: nan f: -inf }\n")
    (root / "conf" / "inner.prototxt").write_text("x: 3\n")
    return root


def test_conf_to_dict_is_what_messagetodict_gave(kinds):
    cfg = heyhi.conf.load_proto_message(kinds / "conf" / "k.prototxt")
    want = {"kinds": {
        "big": "9007199254740993", "ubig": "18446744073709551615", "small": -3, "d": "Infinity", "f": 1.5,
        "raw": "AWFi", "s": "t", "b": False, "color": "GREEN", "inner": {"c": "GREEN"}, "bigs": ["1", "-2"],
        "inners": [{"x": 1}, {}], "by_int": {"2": "two"}, "by_bool": {"true": "GREEN"}, "big_map": {"k": "12"},
        "two": {},
    }}
    assert heyhi.conf_to_dict(cfg) == want
    assert heyhi.conf_to_dict(cfg.to_frozen()) == want
    nan = heyhi.conf_to_dict(heyhi.conf.load_proto_message(kinds / "conf" / "nan.prototxt"))
    assert nan == {"kinds": {"d": "NaN", "f": "-Infinity"}}


def test_conf_to_dict_with_defaults_adds_unset_scalars_lists_and_maps_of_present_messages(kinds):
    cfg = heyhi.conf.load_proto_message(kinds / "conf" / "nan.prototxt")
    got = heyhi.conf_to_dict(cfg, include_defaults=True)
    assert got == {"includes": [], "kinds": {
        "big": "0", "ubig": "5", "small": 0, "d": "NaN", "f": "-Infinity", "raw": "", "s": "", "b": False,
        "color": "RED", "bigs": [], "inners": [], "by_int": {}, "by_bool": {}, "big_map": {},
    }}  # unset messages and oneof members stay out, as protobuf left them
    inner = heyhi.load_proto_message(kinds / "conf" / "inner.prototxt", msg_class="Inner")
    assert heyhi.conf_to_dict(inner, include_defaults=True) == {"x": 3, "c": "RED"}


def test_load_proto_message_takes_every_kind_of_msg_class(kinds):
    from heyhi.config.compose import composer_for
    from heyhi.config.frozen import frozen_class
    from heyhi.config.values import editable_class

    path = kinds / "conf" / "inner.prototxt"
    mtype = composer_for(kinds).schema.find_message("Inner")
    for msg_class in (None, "Inner", "kinds.Inner", mtype, editable_class(mtype), frozen_class(mtype)):
        cfg = heyhi.load_proto_message(path, msg_class=msg_class)
        assert not cfg.is_frozen() and cfg.x == 3 and type(cfg).__name__ == "Inner", msg_class
        frozen = heyhi.load_config(path, msg_class=msg_class)
        assert frozen.is_frozen() and frozen.x == 3
    with pytest.raises(ConfigError, match="unknown message type 'Nope'"):
        heyhi.load_proto_message(path, msg_class="Nope")


def test_save_config_writes_text_and_a_newline(kinds):
    cfg = heyhi.load_proto_message(kinds / "conf" / "inner.prototxt", msg_class="Inner")
    out = kinds / "saved"  # inside the project, to load it back
    out.mkdir(exist_ok=True)
    heyhi.save_config(cfg, out / "e.prototxt")
    heyhi.save_config(cfg.to_frozen(), str(out / "f.prototxt"))
    assert (out / "e.prototxt").read_text() == "x: 3\n\n" == (out / "f.prototxt").read_text()
    again = heyhi.load_proto_message(out / "f.prototxt", msg_class="Inner")
    assert heyhi.conf_to_dict(again) == heyhi.conf_to_dict(cfg)


def test_conf_helpers_check_what_they_are_given(kinds):
    task, meta = heyhi.conf.load_root_proto_message(kinds / "conf" / "k.prototxt", ["small=4"])
    cfg = getattr(meta, task)
    assert task == "kinds" and heyhi.conf_get(cfg, "small") == 4 and heyhi.conf_get(cfg, "inner.x") == 7
    assert heyhi.conf_is_set(cfg, "inner.c") and not heyhi.conf_is_set(cfg, "inner.x")
    with pytest.raises(AssertionError):
        heyhi.conf_is_set(cfg, "no_such_field")
    with pytest.raises(AssertionError):
        heyhi.conf_is_set(cfg, "inner")  # a message, not a scalar
    heyhi.conf_set(cfg, "color", "RED")
    heyhi.conf_set(cfg, "b", True)
    heyhi.conf_set(cfg, "unset_inner.x", 2)
    assert cfg.color == 0 and cfg.b is True and cfg.unset_inner.x == 2 and cfg.HasField("unset_inner")
    heyhi.conf_set(cfg, "unset_inner", "NULL")
    assert not cfg.HasField("unset_inner")
    with pytest.raises(ValueError) as e:
        heyhi.conf_set(cfg, "small", "many")
    assert "small" in str(e.value) and "\n" not in str(e.value)
    frozen = cfg.to_frozen()
    for call in (lambda: heyhi.conf_set(frozen, "small", 1), lambda: heyhi.conf_get(frozen, "small"),
                 lambda: heyhi.conf_is_set(frozen, "small"), lambda: heyhi.conf_with_overrides(cfg, ["small=1"]),
                 lambda: heyhi.conf_with_overrides(frozen, ["Iinner=inner"])):
        with pytest.raises(AssertionError):
            call()
    changed = heyhi.conf_with_overrides(frozen, ["small=9", "inner.x=NULL", "one=3"])
    assert changed.is_frozen() and changed.small == 9 and changed.one == 3 and changed.which_pick == "one"
    assert frozen.small == 4 and frozen.which_pick == "two"  # the original stays as it was


def test_flatten_cfg_is_the_flat_view(kinds):
    cfg = heyhi.load_proto_message(kinds / "conf" / "nan.prototxt")
    flat = heyhi.flatten_cfg(cfg.kinds, with_all=False)
    assert list(flat) == sorted(flat) and flat["d"] != flat["d"] and flat["f"] == float("-inf")
    everything = heyhi.flatten_cfg(cfg.kinds)
    assert everything["inner.x"] == 7 and everything["s"] is None and set(flat) < set(everything)


def test_conf_and_proj_root_follow_the_working_folder(kinds, tmp_path, monkeypatch):
    monkeypatch.chdir(kinds / "conf")
    assert heyhi.conf.PROJ_ROOT == kinds and heyhi.conf.CONF_ROOT == kinds / "conf"
    assert heyhi.PROJ_ROOT == kinds and heyhi.CONF_ROOT == kinds / "conf"
    monkeypatch.chdir(tmp_path)  # no project above: the folder itself, as the original's repo root
    assert heyhi.PROJ_ROOT == tmp_path and heyhi.conf.CONF_ROOT == tmp_path / "conf"
    assert "CONF_ROOT" in heyhi.__all__
    with pytest.raises(AttributeError):
        heyhi.conf.NOT_A_NAME


def test_get_default_exp_dir_is_the_projects_results_root(kinds, monkeypatch):
    monkeypatch.chdir(kinds)
    assert heyhi.get_default_exp_dir() == Path(os.environ["HH_EXP_DIR"])


# ---- the entry points, end to end --------------------------------------------------------------------

@pytest.fixture
def orig(proj) -> Path:
    """HeyHi's test project with an original-style run.py (no task functions: one ``main`` for all)."""
    (proj / "run.py").write_text(ORIGINAL_RUN_PY)
    return proj


def python_run(proj: Path, args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=proj, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def results() -> Path:
    return Path(os.environ["HH_EXP_DIR"])


def record(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text())


def test_print_flags_print_what_heyhi_run_prints(orig):
    for flag in ("--print", "--print-flat", "--print-flat-all"):
        p = python_run(orig, ["-c", PROBE, flag, "tag=x", "--log-level", "DEBUG"])
        q = run_cli(["run", "-c", PROBE, flag, "tag=x"], cwd=orig)
        assert p.returncode == 0 == q.returncode, p.stderr
        assert p.stdout == q.stdout and p.stdout
    assert python_run(orig, ["--cfg=" + PROBE, "--print", "--tag=y"]).stdout == 'tag: "y"\n\n'
    assert not results().exists() or not any(results().iterdir())  # printing launches nothing


def test_a_local_launch_with_the_original_flags_runs_main_and_keeps_its_result(orig):
    p = python_run(orig, ["-c", PROBE, "tag=x", "--log-level", "DEBUG", "--exp_id_pattern_override",
                          "mine/%(cfg)s_%(redefines)s", "--checkpoint", "none", "--mode", "gentle_start"])
    assert p.returncode == 0, p.stderr
    folder = results() / "mine" / "probe_tag@x"
    assert f"heyhi: completed: {folder}" in p.stderr
    assert "MAIN probe x DEBUG editable True True" in p.stdout  # echoed from the job
    assert record(folder, "heyhi.status.json")["state"] == "completed"
    want = {"tag": "x", "task": "probe", "level": "DEBUG", "rank": 0}
    assert pickle.loads((folder / "result.pkl").read_bytes()) == want  # save_result_in_cwd, without torch
    assert record(folder, "result.json") == want  # the runner's record of the returned value
    assert record(folder, "heyhi.run.json")["code_dir"] == str(orig)  # --checkpoint none: no snapshot
    log = (folder / "stderr.log").read_text()
    assert "a debug line" in log and "recorded at launch" in log  # log_git_status inside a job
    from heyhi.util import ExperimentDir, Status

    assert ExperimentDir(folder).get_status() == Status.DONE

    again = python_run(orig, ["-c", PROBE, "tag=x", "--exp_id_pattern_override", "mine/%(cfg)s_%(redefines)s"])
    assert again.returncode == 0 and "gentle_start: skip" in again.stderr and "MAIN" not in again.stdout


def test_out_wins_over_the_pattern_and_the_default_checkpoint_is_a_snapshot(orig):
    p = python_run(orig, ["-c", PROBE, "tag=o", "--out", "by_out", "--exp_id_pattern_override", "by_pattern",
                          "--checkpoint", "DEFAULT"])
    assert p.returncode == 0, p.stderr
    assert not (results() / "by_pattern").exists()
    info = record(results() / "by_out", "heyhi.run.json")
    assert Path(info["code_dir"]).parent == results() / ".heyhi" / "code"


def test_heyhis_own_cli_runs_an_original_style_project_through_main(orig):
    """The job finds ``main`` by reading run.py, not through its ``__main__`` call: ``heyhi run`` (and
    so a restart or a sweep) of an original-style project calls it too."""
    r = run_cli(["run", "-c", PROBE, "tag=cli", "--out", "from_cli"], cwd=orig)
    assert r.returncode == 0, r.stderr
    assert "MAIN probe cli INFO editable" in r.stdout
    assert pickle.loads((results() / "from_cli" / "result.pkl").read_bytes())["tag"] == "cli"


def test_maybe_launch_from_python_returns_the_finished_experiment(orig, tmp_path):
    code = ("import heyhi, run\nfrom pathlib import Path\n"
            "exp = heyhi.maybe_launch(run.main, exp_root=Path(%r), overrides=['tag=z'], cfg=Path(%r), "
            "mode='gentle_start', log_level='WARN')\n"
            "print('EXP', exp.exp_path, exp.exp_id, exp.get_status().name, exp.load_result())\n") % (
        str(tmp_path / "elsewhere"), PROBE)
    p = subprocess.run([sys.executable, "-c", code], cwd=orig, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    line = next(x for x in p.stdout.splitlines() if x.startswith("EXP "))
    folder = tmp_path / "elsewhere" / "p" / "probe" / "probe" / line.split()[2].rsplit("/", 1)[-1]
    assert line.startswith(f"EXP {folder} p/probe/probe/tag@z_") and " DONE {'tag': 'z'" in line
    assert "'level': 'WARN'" in line and "'tag': 'z'" in p.stdout.split("EXP")[0]  # the original's result print


def test_a_main_the_job_would_not_find_is_refused_in_one_line(orig):
    (orig / "run.py").write_text(ORIGINAL_RUN_PY.replace("parse_args_and_maybe_launch(main)",
                                                         "parse_args_and_maybe_launch(lambda **kw: main(**kw))"))
    p = python_run(orig, ["-c", PROBE])
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "cannot launch <lambda>" in p.stderr and "(none there)" in p.stderr


def test_another_scripts_main_is_refused_and_run_pys_main_launches(orig):
    """The job calls run.py's ``main``: a launcher script may hand over that one, not one of its own."""
    (orig / "mine.py").write_text("import heyhi\n\ndef mine(task, cfg, log_level):\n    pass\n\n"
                                  "heyhi.parse_args_and_maybe_launch(mine)\n")
    (orig / "theirs.py").write_text("import heyhi, run\nheyhi.parse_args_and_maybe_launch(run.main)\n")

    def script(name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, name, "-c", PROBE, *args], cwd=orig, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    p = script("mine.py")
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "cannot launch mine" in p.stderr and "(main)" in p.stderr
    assert not results().exists() or not any(results().iterdir())
    ok = script("theirs.py", "tag=t", "--out", "theirs")
    assert ok.returncode == 0, ok.stderr
    assert "MAIN probe t INFO editable" in ok.stdout


@pytest.mark.parametrize("args, says", [
    pytest.param(["--log-level", "LOUD"], "--log-level 'LOUD'", id="bad-log-level"),
    pytest.param(["--exp_id_pattern_override"], "needs a value", id="pattern-without-value"),
    pytest.param(["--mode", "resume"], "--mode 'resume'", id="bad-mode"),
    pytest.param(["--no-such=3"], "unknown key", id="unknown-override"),
])
def test_bad_command_lines_are_one_line(orig, args, says):
    p = python_run(orig, ["-c", PROBE, *args])
    assert p.returncode == 2, p.stderr
    assert says in p.stderr and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_a_crashing_main_exits_nonzero_and_records_the_crash(orig):
    (orig / "run.py").write_text(ORIGINAL_RUN_PY.replace("    heyhi.setup_logging", "    raise RuntimeError('boom')\n    heyhi.setup_logging"))
    p = python_run(orig, ["-c", PROBE, "--out", "crashed"])
    assert p.returncode == 1
    assert record(results() / "crashed", "heyhi.status.json")["state"] == "crashed"
    assert "RuntimeError: boom" in (results() / "crashed" / "CRASH.txt").read_text()

