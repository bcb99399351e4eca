"""Script tasks (issue 16, item 1): a plain script's flags derived into a typed HeyHi schema, and the
script run with composed values.

The scripts live in tests/scripts/ and are copied into a fresh project under tmp_path for each test (so
edits and caches are the test's own). Styles: a ``hypers`` dict of 19 parameters (``hypers_dict.py``),
the same as globals (``globals_style.py``), an argparse script of 20 flags (``argparse20.py``), one
with sub-commands (``subcommands.py``), and two written after public examples: ``mnist_main.py`` follows
the argparse block of PyTorch's MNIST example (pytorch/examples, ``mnist/main.py``) and ``rl_hypers.py``
an RL script's ``hypers`` dict after Tensorforce's PPO agent settings (``Agent.create(agent='ppo', ...)``).
Composition goes through HeyHi's real ``ScriptComposer``; ``run_script`` runs in a real subprocess and
each script prints what it got (``HEYHI-GOT {json}``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from heyhi.config.compose import ScriptComposer
from heyhi.config.project import Project
from heyhi.config.schema.scripts import ScriptTask, derive
from heyhi.errors import ConfigError
from waiting import wait_for

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

# The 19 hyperparameters of hypers_dict.py and globals_style.py: name -> (type, default as --help-fields
# shows it, an override, what the script then gets).
HYPERS = {
    "num_actors": ("int64", 16, "num_actors=32", 32),
    "rollout_length": ("int64", 8, "rollout_length=4", 4),
    "batch_size": ("int64", 256, None, 256),
    "seed": ("int64", -1, "seed=-7", -7),
    "learning_rate": ("double", 3e-4, "learning_rate=0.01", 0.01),
    "discount": ("double", 0.99, None, 0.99),
    "gae_lambda": ("double", 0.95, "gae_lambda=1", 1.0),
    "clip": ("double", 0.2, None, 0.2),
    "use_gae": ("bool", True, "use_gae=false", False),
    "normalize_obs": ("bool", False, None, False),
    "env_name": ("string", "CartPole-v1", "env_name=Pong-v5", "Pong-v5"),
    "optimizer": ("string", "adam", None, "adam"),
    "checkpoint": ("string", None, "checkpoint=/ckpt/last.pt", "/ckpt/last.pt"),
    "log_dir": ("string", None, None, None),
    "hidden_sizes": ("repeated int64", [64, 64], "hidden_sizes=[128,128,128]", [128, 128, 128]),
    "lr_milestones": ("repeated double", [0.5, 0.75], None, [0.5, 0.75]),
    "tags": ("repeated string", ["baseline", "ppo"], "tags=[sweep]", ["sweep"]),
    "flags": ("repeated string", [], None, []),
    "betas": ("repeated double", [0.9, 0.999], "betas=[0.8,0.9]", [0.8, 0.9]),
}

DRIVER = r"""
import sys
from pathlib import Path
from heyhi.config.compose import ScriptComposer
from heyhi.config.project import Project
from heyhi.config.schema.scripts import ScriptTask, run_script

task = ScriptTask.from_json(Path(sys.argv[1]).read_text())
script = Path(sys.argv[2])
composed = ScriptComposer(Project(sys.argv[3]), task).compose(script, sys.argv[4:])
run_script(task, script, composed.task_msg.to_frozen())
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'scripts'\n")
    for f in SCRIPTS.glob("*.py"):
        shutil.copy(f, root / f.name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HEYHI_TEST_MARKS", str(tmp_path / "marks"))
    return root


def fields(task: ScriptTask, sub: str = "") -> dict[str, tuple]:
    """name -> (type, default, doc) of the task's message (or of sub-command ``sub``)."""
    schema = task.schema()
    mtype = schema.root.fields[task.task].message
    if sub:
        mtype = mtype.fields[sub].message
    out = {}
    for f in mtype.fields.values():
        default = f.default if f.has_default else None
        if f.kind == "enum" and f.has_default:
            default = f.enum.by_number[f.default]
        out[f.name] = (f.type_label(), default, f.doc)
    return out


def compose(root: Path, task: ScriptTask, script: str, overrides=()):
    return ScriptComposer(Project(root), task).compose(root / script, list(overrides))


def run(root: Path, task: ScriptTask, script: str, overrides=(), expect_rc: int = 0) -> dict:
    """Compose and run the script in a real subprocess; what it printed after HEYHI-GOT."""
    spec = root.parent / f"{script}.task.json"
    spec.write_text(task.to_json())
    p = subprocess.run([sys.executable, "-c", DRIVER, str(spec), str(root / script), str(root), *overrides],
                       capture_output=True, text=True, timeout=60, cwd=root)
    assert p.returncode == expect_rc, p.stderr
    got = [ln for ln in p.stdout.splitlines() if ln.startswith("HEYHI-GOT ")]
    return json.loads(got[-1][len("HEYHI-GOT "):]) if got else {"stderr": p.stderr}


# ---- globals and dicts ------------------------------------------------------------------------

@pytest.mark.parametrize("script,style,dest,first_line", [
    pytest.param("hypers_dict.py", "dict", "hypers", 5, id="hypers-dict"),
    pytest.param("globals_style.py", "globals", None, 4, id="globals"),
])
def test_the_19_hyperparameters_become_typed_fields(project, script, style, dest, first_line):
    task = derive(project / script, project)
    assert (task.style, task.dest, task.task) == (style, dest, script[:-3])
    got = fields(task)
    assert list(got) == list(HYPERS)
    for name, (label, default, _, _) in HYPERS.items():
        assert got[name][:2] == (label, default), name
    assert got["checkpoint"][2] == "None in the script: unset, the script keeps None"
    assert task.where("num_actors") == f"{script}:{first_line}"
    assert task.where("betas") == f"{script}:{first_line + 18}"


@pytest.mark.parametrize("script", ["hypers_dict.py", "globals_style.py"])
def test_the_19_hyperparameters_reach_the_script(project, script):
    task = derive(project / script, project)
    plain = run(project, task, script)
    assert plain == {k: v[1] for k, v in HYPERS.items()}  # unset: the script's own values
    got = run(project, task, script, [o for (_, _, o, _) in HYPERS.values() if o])
    assert got == {k: v[3] for k, v in HYPERS.items()}


def test_the_rl_hypers_dict_after_tensorforce_ppo(project):
    task = derive(project / "rl_hypers.py", project)
    assert (task.style, task.dest) == ("dict", "hypers")
    got = fields(task)
    assert len(got) == 17 and "baseline_network" not in got  # a nested dict is not a flat literal
    assert got["learning_rate"][:2] == ("double", 1e-3)
    assert got["likelihood_ratio_clipping"][:2] == ("double", 0.25)
    assert got["parallel_interactions"][:2] == ("int64", 1)
    assert got["predict_terminal_values"][:2] == ("bool", False)
    assert got["network"][:2] == ("string", "auto")
    assert task.where("discount") == "rl_hypers.py:14"
    out = run(project, task, "rl_hypers.py", ["learning_rate=3e-4", "summarizer=tensorboard", "batch_size=64"])
    assert out["learning_rate"] == 3e-4 and out["summarizer"] == "tensorboard" and out["batch_size"] == 64
    assert out["discount"] == 0.99 and out["seed"] is None and out["baseline_network"] is None


def test_a_dict_in_a_function_named_in_pyproject(project):
    settings = {"main_params.py": {"flags-dest": "main.params"}}
    task = derive(project / "main_params.py", project, settings=settings)
    assert (task.style, task.dest) == ("dict", "main.params")
    assert fields(task) == {"width": ("int64", 128, ""), "depth": ("int64", 4, ""), "act": ("string", "relu", "")}
    assert run(project, task, "main_params.py", ["width=256", "act=gelu"]) == {"width": 256, "depth": 4, "act": "gelu"}


FAKE_HF = """import argparse


class HfArgumentParser(argparse.ArgumentParser):
    def parse_args_into_dataclasses(self):
        return self.parse_known_args()[0]
"""


@pytest.mark.parametrize("source,style,dest", [
    pytest.param("import argparse\nargparse.ArgumentParser().parse_args()\n", "argparse", None, id="imports-argparse"),
    pytest.param("from argparse import ArgumentParser as P\nP().parse_known_args()\n", "argparse", None,
                 id="from-argparse"),
    pytest.param("from transformers import HfArgumentParser\np = HfArgumentParser()\n"
                 "p.add_argument('--x', type=int, default=1)\np.parse_args_into_dataclasses()\n", "argparse", None,
                 id="hf-argparser-subclass"),
    pytest.param("import mylib\nargs = mylib.parser().parse_known_args()\n", "argparse", None, id="calls-parse"),
    pytest.param("config = {'lr': 0.1}\n", "dict", "config", id="dict-config"),
    pytest.param("x = 1\nhparams = dict(lr=0.1)\n", "dict", "hparams", id="dict-call"),
    pytest.param("lr = 0.1\nother = {'a': 1}\n", "globals", None, id="globals"),
])
def test_the_style_is_detected(tmp_path, source, style, dest):
    (tmp_path / "transformers.py").write_text(FAKE_HF)  # a subclass of ArgumentParser, as HuggingFace's
    (tmp_path / "mylib.py").write_text("from transformers import HfArgumentParser as parser\n")
    (tmp_path / "s.py").write_text(source)
    task = derive(tmp_path / "s.py", tmp_path)
    assert (task.style, task.dest) == (style, dest)
    if "--x" in source:
        assert [(f.key, f.kind, f.default, f.where) for f in task.flags] == [("x", "int64", 1, "s.py:3")]


def test_the_stated_style_wins_and_a_bad_one_is_one_line(project):
    task = derive(project / "rl_hypers.py", project, settings={"rl_hypers.py": {"flags-dest": "globals"}})
    assert task.style == "globals" and [f.key for f in task.flags] == []  # its only global is a dict(...)
    with pytest.raises(ConfigError) as e:
        derive(project / "rl_hypers.py", project, settings={"rl_hypers.py": {"flags-dest": "a.b.c"}})
    assert "flags-dest = 'a.b.c': expected args, globals" in str(e.value)
    with pytest.raises(ConfigError) as e:
        derive(project / "rl_hypers.py", project, settings={"rl_hypers.py": {"flags-dest": "nope"}})
    assert str(e.value) == "rl_hypers.py: no dict literal 'nope' to read flags from (flags-dest = 'nope')"


def test_a_syntax_error_names_file_and_line(tmp_path):
    (tmp_path / "broken.py").write_text("x = 1\ny = (\n")
    with pytest.raises(ConfigError) as e:
        derive(tmp_path / "broken.py", tmp_path)
    assert str(e.value).startswith("broken.py:2:") and "syntax error" in str(e.value)


def test_a_traceback_names_the_scripts_real_lines_and_system_exit_propagates(tmp_path):
    (tmp_path / "boom.py").write_text("code = 0\nlimit = 5\n\n\nif code:\n    raise SystemExit(code)\n"
                                      "raise RuntimeError(f'limit={limit}')\n")
    task = derive(tmp_path / "boom.py", tmp_path)
    out = run(tmp_path, task, "boom.py", ["limit=9"], expect_rc=1)
    assert f'File "{tmp_path / "boom.py"}", line 7' in out["stderr"] and "RuntimeError: limit=9" in out["stderr"]
    run(tmp_path, task, "boom.py", ["code=4"], expect_rc=4)


# ---- argparse -----------------------------------------------------------------------------------

def test_argparse_20_flags(project):
    task = derive(project / "argparse20.py", project)
    assert task.style == "argparse" and task.description == "Train a model (20 flags)."
    got = fields(task)
    assert len(got) == 20
    assert got["lr"] == ("double", 0.001, "learning rate")
    assert got["batch_size"] == ("int64", 32, "batch size")
    assert got["epochs"] == ("int64", 10, "epochs (default: 10)")
    assert got["optimizer"] == ("Optimizer", "adam", "optimizer")
    assert list(task.schema().root.fields["argparse20"].message.fields["optimizer"].enum.values) == ["sgd", "adam",
                                                                                                     "adamw"]
    assert got["precision"] == ("int64", 32, "bits per float")
    assert got["layers"] == ("repeated int64", [64, 64], "hidden sizes")
    assert got["dropouts"] == ("repeated double", [0.1, 0.2], "two dropout rates")
    assert got["tags"] == ("repeated string", [], "free tags")
    assert got["verbose"] == ("int64", 0, "more output")
    assert got["amp"] == ("bool", False, "mixed precision")
    assert got["shuffle"] == ("bool", True, "keep the data's order")
    assert got["wandb"] == ("bool", False, "log to wandb")
    assert got["include"] == ("repeated string", None, "extra data sets")
    assert got["mode"][:2] == ("bool", False)
    assert got["data_dir"] == ("string", "./data", "where the data is")
    assert got["resume"] == ("string", None, "a checkpoint to resume from")
    assert task.where("lr") == "argparse20.py:6" and task.where("init") == "argparse20.py:27"
    assert next(f for f in task.flags if f.key == "num_workers").group == "data"


def test_argparse_20_flags_run(project):
    task = derive(project / "argparse20.py", project)
    defaults = {"amp": False, "batch_size": 32, "data_dir": "./data", "device": "cpu", "dropouts": [0.1, 0.2],
                "epochs": 10, "include": None, "init": None, "layers": [64, 64], "lr": 0.001, "mode": "normal",
                "num_workers": 2, "optimizer": "adam", "precision": 32, "resume": None, "seed": 0, "shuffle": True,
                "tags": [], "verbose": 0, "wandb": False}
    assert run(project, task, "argparse20.py") == defaults
    overrides = ["lr=0.1", "batch_size=64", "optimizer=sgd", "precision=16", "device=-cuda", "layers=[8,16,32]",
                 "dropouts=[0.3,0.4]", "tags=[a,b]", "verbose=2", "amp=true", "shuffle=false", "wandb=true",
                 "include=[x,y]", "mode=true", "data_dir=/d", "resume=ck.pt", "seed=-3"]
    want = dict(defaults, lr=0.1, batch_size=64, optimizer="sgd", precision=16, device="-cuda", layers=[8, 16, 32],
                dropouts=[0.3, 0.4], tags=["a", "b"], verbose=2, amp=True, shuffle=False, wandb=True,
                include=["x", "y"], mode="fast", data_dir="/d", resume="ck.pt", seed=-3)
    assert run(project, task, "argparse20.py", overrides) == want
    assert task.argv(compose(project, task, "argparse20.py", ["wandb=false", "amp=false"]).task_msg) == ["--no-wandb"]


def test_argparse_20_flags_errors(project):
    task = derive(project / "argparse20.py", project)
    with pytest.raises(ConfigError) as e:
        compose(project, task, "argparse20.py", ["precision=17"])
    assert str(e.value) == "argparse20.py:10: flag precision (--precision): 17 is not one of the script's choices: 16, 32"
    with pytest.raises(ConfigError) as e:
        compose(project, task, "argparse20.py", ["resume=a", "init=b"])
    assert str(e.value) == ("argparse20.py:27: flags resume (--resume) and init (--init) are mutually exclusive: "
                            "set only one")
    with pytest.raises(ConfigError) as e:
        compose(project, task, "argparse20.py", ["dropouts=[0.1]"])
    assert "takes exactly 2 values, got 1" in str(e.value)
    with pytest.raises(ConfigError) as e:
        compose(project, task, "argparse20.py", ["optimizer=rmsprop"])
    assert "is not one of sgd, adam, adamw" in str(e.value)
    with pytest.raises(ConfigError) as e:
        compose(project, task, "argparse20.py", ["lrr=0.1"])
    assert "did you mean" in str(e.value) and "lr" in str(e.value)


def test_subcommands(project):
    task = derive(project / "subcommands.py", project)
    root = task.schema().root.fields["subcommands"].message
    assert root.oneofs == {"command": ["fit", "eval_model"]}
    assert fields(task, "fit") == {"data": ("string", None, "training data"),
                                   "epochs": ("int64", 3, "passes over the data")}
    ev = fields(task, "eval_model")
    assert ev["split"] == ("Split", "val", "which split") and ev["metrics"] == ("repeated string", ["acc"],
                                                                                  "metrics to compute")
    assert root.fields["eval_model"].doc == "evaluate a checkpoint"
    assert task.where("fit.epochs") == "subcommands.py:12" and task.where("eval_model") == "subcommands.py:13"
    assert run(project, task, "subcommands.py", ["seed=3", "fit.data=train.csv", "fit.epochs=5"]) == {
        "command": "fit", "data": "train.csv", "epochs": 5, "seed": 3}
    assert run(project, task, "subcommands.py", ["eval_model.checkpoint=ck", "eval_model.metrics=[acc,f1]"]) == {
        "command": "eval-model", "checkpoint": "ck", "metrics": ["acc", "f1"], "seed": 1, "split": "val"}
    with pytest.raises(ConfigError) as e:
        compose(project, task, "subcommands.py")
    assert str(e.value).startswith("subcommands.py:9: the script needs a sub-command 'command': select one of fit, "
                                   "eval_model")
    with pytest.raises(ConfigError) as e:
        compose(project, task, "subcommands.py", ["fit=SELECT"])
    assert str(e.value) == "subcommands.py:11: flag fit.data is required by the script: set it (fit.data=...)"


def test_mnist_example(project):
    task = derive(project / "mnist_main.py", project)
    assert task.description == "PyTorch MNIST Example"
    got = fields(task)
    assert list(got) == ["batch_size", "test_batch_size", "epochs", "lr", "gamma", "no_cuda", "no_mps", "dry_run",
                         "seed", "log_interval", "save_model"]
    assert got["epochs"] == ("int64", 14, "number of epochs to train (default: 14)")
    assert got["gamma"] == ("double", 0.7, "Learning rate step gamma (default: 0.7)")
    assert got["no_cuda"] == ("bool", False, "disables CUDA training")
    out = run(project, task, "mnist_main.py", ["epochs=1", "lr=0.5", "dry_run=true", "no_cuda=true"])
    assert out == {"batch_size": 64, "test_batch_size": 1000, "epochs": 1, "lr": 0.5, "gamma": 0.7, "no_cuda": True,
                   "no_mps": False, "dry_run": True, "seed": 1, "log_interval": 10, "save_model": False}


def test_checks_of_required_choices_groups_and_switches(project):
    task = derive(project / "checks.py", project)
    base = ["data=d", "train=true", "src=in"]

    def error(*overrides):
        with pytest.raises(ConfigError) as e:
            compose(project, task, "checks.py", overrides)
        return str(e.value)

    assert error("train=true", "src=in") == ("checks.py:7: flag data (--data) is required by the script: "
                                              "set it (data=...)")
    assert error("data=d", "src=in") == "checks.py:11: the script needs one of train (--train), evaluate (--evaluate) set"
    assert error(*base, "gpus=3") == "checks.py:8: flag gpus (--gpus): 3 is not one of the script's choices: 1, 2, 4, 8"
    assert error(*base, "mode=medium") == ("checks.py:9: flag mode (--mode): 'medium' is not one of the script's "
                                           "choices: fast-path, slow path")
    assert error(*base, "always=false") == ("checks.py:13: flag always (--always) can only be turned on "
                                            "(action store_true): False is not possible")
    assert error("data=d", "train=true", "dst=x") == "checks.py:18: flag src is required by the script: set it (src=...)"
    assert fields(task)["mode"][0] == "string"  # choices that are not names: a string, checked
    msg = compose(project, task, "checks.py", [*base, "augment=false", "legacy=false", "mode=slow path", "dst=-o"]).task_msg
    assert task.argv(msg) == ["--data=d", "--mode=slow path", "--train", "--no-augment", "--legacy=", "--", "in", "-o"]
    out = run(project, task, "checks.py", [*base, "augment=false", "legacy=false", "gpus=4"])
    assert out == {"always": True, "augment": False, "data": "d", "dst": "out", "evaluate": False, "gpus": 4,
                   "legacy": False, "mode": "fast-path", "src": "in", "train": True}
    assert run(project, task, "checks.py", [*base, "legacy=true", "augment=true"])["legacy"] is True


def test_a_dest_that_is_not_a_name_is_one_line(project):
    with pytest.raises(ConfigError) as e:
        derive(project / "bad_dest.py", project)
    assert str(e.value) == ("bad_dest.py:5: dest 'model.depth' (of --model.depth) is not a name HeyHi can use as a "
                            "field (an identifier not starting with '_'): give it one (dest=...)")


def test_the_task_round_trips_through_json(project):
    for script in ("argparse20.py", "subcommands.py", "hypers_dict.py"):
        task = derive(project / script, project)
        back = ScriptTask.from_json(task.to_json())
        assert back == task and back.to_json() == task.to_json()
        assert fields(back) == fields(task)
    with pytest.raises(ConfigError) as e:
        ScriptTask.from_json('{"version": 99}')
    assert str(e.value).startswith("not a script task's description: ValueError: version 99")


# ---- what derivation runs, and how often ------------------------------------------------------------

def test_nothing_after_parse_args_runs_and_before_it_once_per_change(project, tmp_path):
    marks = tmp_path / "marks"
    task = derive(project / "before_after.py", project)
    assert fields(task) == {"steps": ("int64", 5, "how many steps")}
    assert task.where("steps") == "args.py:7"  # the parser lives in args.py
    assert marks.read_text() == "before\n"  # not "finally", not "after": the process ended at parse_args
    derive(project / "before_after.py", project)
    assert marks.read_text() == "before\n"  # cached: the script did not run again
    entries = list((tmp_path / "cache" / "heyhi" / "scripts").glob("*.json"))
    assert len(entries) == 1
    with open(project / "args.py", "a") as fh:
        fh.write("# a change of the imported module\n")
    derive(project / "before_after.py", project)
    assert marks.read_text() == "before\n" * 2
    with open(project / "before_after.py", "a") as fh:
        fh.write("# a change of the script\n")
    derive(project / "before_after.py", project)
    derive(project / "before_after.py", project)
    assert marks.read_text() == "before\n" * 3
    assert run(project, task, "before_after.py", ["steps=2"], expect_rc=0) == {"stderr": ""}
    assert marks.read_text().splitlines()[-2:] == ["finally", "after steps=2"]  # run for real: all of it


def test_a_script_that_never_calls_parse_args(project):
    with pytest.raises(ConfigError) as e:
        derive(project / "never_parses.py", project)
    assert str(e.value).startswith("never_parses.py: never called parse_args: it ran to its end")
    assert "\n" not in str(e.value)


def test_a_crash_before_parse_args_is_one_line_with_file_and_line(project):
    with pytest.raises(ConfigError) as e:
        derive(project / "crashes.py", project)
    assert str(e.value) == ("crashes.py:6: crashes.py crashed before calling parse_args: "
                            "ValueError: no data set named 'imagenet-42'")


def test_the_memory_limit(project):
    with pytest.raises(ConfigError) as e:
        derive(project / "greedy.py", project, settings={"derive-memory-mb": 300})
    assert str(e.value) == ("greedy.py:4: greedy.py crashed before calling parse_args: MemoryError (memory limit "
                            "300 MB: derive-memory-mb in [tool.heyhi.scripts])")


def test_the_timeout(project):
    start = time.monotonic()
    with pytest.raises(ConfigError) as e:
        derive(project / "slow.py", project, settings={"slow.py": {"derive-timeout-s": 1}})
    assert str(e.value) == ("slow.py: did not reach parse_args within 1 s: stopped (set derive-timeout-s in "
                            "[tool.heyhi.scripts] to wait longer)")
    assert time.monotonic() - start < 10


def test_a_hostile_script_is_stopped_with_all_its_processes(project, tmp_path):
    start = time.monotonic()
    with pytest.raises(ConfigError) as e:
        derive(project / "hostile.py", project, settings={"derive-timeout-s": 2})
    assert "did not reach parse_args within 2 s" in str(e.value)
    assert time.monotonic() - start < 15
    pids = [int(x) for x in (tmp_path / "marks").read_text().split()]
    assert len(pids) == 3

    def gone(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return state[state.rfind(")") + 2] == "Z"

    wait_for(lambda: all(gone(p) for p in pids), timeout=10, what="the hostile script's children to be gone")


def test_derivation_never_runs_in_this_process(project):
    before = set(sys.modules)
    derive(project / "argparse20.py", project)
    assert "argparse20" not in sys.modules and "args" not in set(sys.modules) - before
    assert os.environ.get("HEYHI_DERIVING") is None
