"""Composition, overrides, folder names and printing, on the demo project and the corpus."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

import heyhi
from heyhi.config.compose import Composer
from heyhi.errors import ConfigError
from heyhi.runs.outdir import overrides_tags
from heyhi.config.printing import flat_lines
from heyhi.config.project import Project

from conftest import REPO, run_cli

SL = "conf/c02_sup_train/sl.prototxt"

TOP_LEVEL = [
    "ag_pop_cmp/cmp", "ag_pop_cmp/template", "c01_ag_cmp/cmp", "c02_sup_train/sl_20200901",
    "c02_sup_train/sl_20211119_base", "c02_sup_train/for_tests/sl_202106_heavy",
    "c02_sup_train/for_tests/sl_20211102_heavy_transfdec", "c04_exploit/research_20221001_paper_cicero",
    "c04_exploit/research_20221001_paper_diplodocus_high", "c07_play_webdip/play",
]


def flat(overrides=(), cfg=SL, project=REPO) -> dict[str, str]:
    composed = Composer(Project(project)).compose(Path(project) / cfg, list(overrides))
    return dict(line.split("=", 1) for line in flat_lines(composed.task_msg))


# ---- folder names ----------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, tag", [
    pytest.param([], "default_d7517139", id="no-overrides"),
    pytest.param(["batch_size=200"], "bat@200_09222e18", id="one"),
    pytest.param(["lr=0.1", "batch_size=200"], "bat@200@lr@0.1_5b9f516d", id="two-sorted"),
    pytest.param(["Ilauncher=slurm_8gpus", "launcher.slurm.partition=Diplomacy", "batch_size=10"],
                 "Ila@slurm_8gpus@bat@10@lau.slu.par@Diplomacy_03227eee", id="include-and-nested"),
    pytest.param(["ckpt=/a/b/c/model.pt"], "ckpt@c_model.pt_", id="path-value-last-two-parts"),
    pytest.param(["name=a b"], "name@a_b_", id="spaces"),
])
def test_override_tags(overrides, tag):
    got_tag, got_hash = overrides_tags(overrides)
    full = f"{got_tag}_{got_hash}"
    assert full.startswith(tag) if tag.endswith("_") else full == tag


def test_tag_is_cut_to_100_chars():
    tag, _ = overrides_tags([f"key{i}=value{i}" for i in range(30)])
    assert len(tag) == 100


@pytest.mark.parametrize("args, tail", [
    pytest.param([], "p/c02_sup_train/sl/default_d7517139", id="default"),
    pytest.param(["batch_size=200"], "p/c02_sup_train/sl/bat@200_09222e18", id="plain"),
    pytest.param(["--batch_size=200"], "p/c02_sup_train/sl/bat@200_09222e18", id="dashes-stripped"),
    pytest.param(["lr=0.1", "batch_size=200"], "p/c02_sup_train/sl/bat@200@lr@0.1_5b9f516d", id="two"),
    pytest.param(["--out", "mine/x"], "mine/x", id="out-flag"),
])
def test_print_out_dir_demo(args, tail, tmp_path):
    r = run_cli(["run", "-c", SL, "--print-out-dir", *args], env={"HH_EXP_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{tmp_path}/{tail}"


def test_lr_spelling_gives_different_folders(tmp_path):
    a = run_cli(["run", "-c", SL, "--print-out-dir", "lr=0.1"], env={"HH_EXP_DIR": str(tmp_path)}).stdout
    b = run_cli(["run", "-c", SL, "--print-out-dir", "lr=0.10"], env={"HH_EXP_DIR": str(tmp_path)}).stdout
    assert a != b


def test_adhoc_folder_has_date(tmp_path):
    r = run_cli(["run", "-c", SL, "--print-out-dir", "--adhoc"], env={"HH_EXP_DIR": str(tmp_path)})
    assert re.fullmatch(rf"{tmp_path}/adhoc/\d{{4}}-\d\d-\d\dT\d{{6}}\.\d+/c02_sup_train/sl/default_d7517139", r.stdout.strip())


def test_config_outside_conf_uses_md5_folder(tmp_path, demo_project):
    other = demo_project / "elsewhere"
    other.mkdir()
    (other / "x.prototxt").write_text((demo_project / SL).read_text())
    r = run_cli(["run", "-c", str(other / "x.prototxt"), "--print-out-dir", "--project", str(demo_project)],
                env={"HH_EXP_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(rf"{tmp_path}/p/[0-9a-f]{{8}}/x/default_d7517139", r.stdout.strip())


# ---- the corpus ------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", TOP_LEVEL)
def test_corpus_top_level_configs_compose(cfg, corpus, tmp_path):
    for flag in ("--print", "--print-flat", "--print-flat-all", "--print-out-dir"):
        r = run_cli(["run", "-c", f"conf/{cfg}.prototxt", flag], cwd=corpus, env={"HH_EXP_DIR": str(tmp_path)})
        assert r.returncode == 0, (flag, r.stderr)
        assert "Traceback" not in r.stderr
        assert r.stdout.strip()


def _same_flat(got: str, expected: str) -> None:
    """Equal line by line; floats compared as float32 (the original widened float32 values)."""
    import struct

    g, e = got.strip().splitlines(), expected.strip().splitlines()
    assert len(g) == len(e)
    for a, b in zip(g, e):
        if a == b:
            continue
        ka, va = a.split("=", 1)
        kb, vb = b.split("=", 1)
        assert ka == kb
        f32 = lambda s: struct.unpack("f", struct.pack("f", float(s)))[0]
        assert f32(va) == f32(vb), (a, b)


@pytest.mark.parametrize("flag, example", [
    pytest.param("--print-flat", "c01_ag_cmp__cmp.print_flat.txt", id="flat"),
    pytest.param("--print-flat-all", "c01_ag_cmp__cmp.print_flat_all.txt", id="flat-all"),
])
def test_corpus_matches_original_output(flag, example, corpus, tmp_path):
    r = run_cli(["run", "-c", "conf/c01_ag_cmp/cmp.prototxt", flag], cwd=corpus, env={"HH_EXP_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    _same_flat(r.stdout, (corpus / "examples" / example).read_text())


def test_corpus_print_matches_original(corpus, tmp_path):
    r = run_cli(["run", "-c", "conf/c01_ag_cmp/cmp.prototxt", "--print"], cwd=corpus, env={"HH_EXP_DIR": str(tmp_path)})
    expected = (corpus / "examples" / "c01_ag_cmp__cmp.print.txt").read_text()
    norm = lambda s: re.sub(r"(top_p|temperature): [0-9.]+", r"\1: F", s)
    assert norm(r.stdout) == norm(expected)


@pytest.mark.parametrize("args, tail", [
    pytest.param([], "p/c02_sup_train/sl_20200901/default_d7517139", id="default"),
    pytest.param(["Ilauncher=slurm_8gpus", "launcher.slurm.partition=Diplomacy", "batch_size=10"],
                 "p/c02_sup_train/sl_20200901/Ila@slurm_8gpus@bat@10@lau.slu.par@Diplomacy_03227eee", id="include"),
    pytest.param(["batch_size=1", "lr=0.1", "lr_decay=0.5", "clip_grad_norm=2", "num_epochs=3", "lstm_dropout=0.3",
                  "encoder_dropout=0.1", "dataset_params.min_rating_percentile=0.7"],
                 "p/c02_sup_train/sl_20200901/bat@1@cli@2@enc@0.1@lr@0.1@lr_@0.5@lst@0.3@num@3@dat.min@0.7_910b804f",
                 id="many"),
])
def test_corpus_out_dirs(args, tail, corpus, tmp_path):
    r = run_cli(["run", "-c", "conf/c02_sup_train/sl_20200901.prototxt", "--print-out-dir", *args], cwd=corpus,
                env={"HH_EXP_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{tmp_path}/{tail}"


def test_corpus_typo_suggests(corpus, tmp_path):
    r = run_cli(["run", "-c", "conf/c02_sup_train/sl_20200901.prototxt", "--print-out-dir", "batch_sizee=10"],
                cwd=corpus, env={"HH_EXP_DIR": str(tmp_path)})
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "batch_sizee" in r.stderr and "did you mean: batch_size" in r.stderr


def test_corpus_heyhi_test_data_parses(corpus):
    from heyhi.config.textformat import parse

    for p in (corpus / "heyhi_tests_data").glob("*.prototxt"):
        parse(p.read_text(), str(p))


# ---- overrides -------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, expect", [
    pytest.param(["lr=0.25"], {"lr": "0.25"}, id="float"),
    pytest.param(["--seed=3"], {"seed": "3"}, id="dashes-optional"),
    pytest.param(["optimizer=MOMENTUM"], {"optimizer": "MOMENTUM"}, id="enum-name"),
    pytest.param(["optimizer=1"], {"optimizer": "MOMENTUM"}, id="enum-number"),
    pytest.param(["seed=1", "lr=0.3", "seed=2"], {"seed": "2"}, id="last-wins"),
    pytest.param(["data.noise=0.2"], {"data.noise": "0.2"}, id="nested"),
    pytest.param(["tags.-1=x"], {"tags": "['demo', 'x']"}, id="list-append"),
    pytest.param(["tags.0=x"], {"tags": "['x']"}, id="list-set"),
    pytest.param(["tags.1=x"], {"tags": "['demo', 'x']"}, id="list-index-len-appends"),
    pytest.param(["lr_schedule.0.factor=0.5"], {"lr_schedule": "[{'step': 200, 'factor': 0.5}]"}, id="repeated-message-field"),
    pytest.param(["notes.owner=me"], {"notes.owner": "me"}, id="map-entry"),
    pytest.param(["Ilauncher=slurm_cpu"], {"launcher.slurm.minutes": "5"}, id="include-override"),
    pytest.param(["I.launcher=slurm_cpu"], {"launcher.slurm.minutes": "5"}, id="include-override-dot"),
    pytest.param(["launcher=NULL"], {"launcher": None}, id="null-field"),
    pytest.param(["launcher.launcher=NULL"], {"launcher.local.use_local": None}, id="null-oneof"),
    pytest.param(["launcher.slurm=SELECT"], {"launcher.local.use_local": None, "launcher.slurm.minutes": None}, id="select"),
    pytest.param(["launcher.slurm.minutes=7", "Ilauncher=slurm_cpu"], {"launcher.slurm.minutes": "7"}, id="includes-before-scalars"),
    pytest.param(["tags=NULL"], {"tags": None}, id="null-list"),
    pytest.param(['tags=[a, "b c"]'], {"tags": "['a', 'b c']"}, id="list-value-of-repeated-field"),
])
def test_overrides(overrides, expect):
    got = flat(overrides)
    for k, v in expect.items():
        if v is None:
            assert not any(x == k or x.startswith(k + ".") for x in got), got
        else:
            assert got.get(k) == v, got


def test_select_switches_oneof():
    got = flat(["launcher.slurm=SELECT"])
    assert "launcher.local.use_local" not in got
    composed = Composer(Project(REPO)).compose(REPO / SL, ["launcher.slurm=SELECT"])
    assert composed.task_msg.v["launcher"].which("launcher") == "slurm"


def test_include_override_for_the_task_itself(demo_project):
    (demo_project / "conf" / "common" / "fast.prototxt").write_text("num_steps: 5\nbatch_size: 8\n")
    got = flat(["I=fast"], project=demo_project)
    assert got["num_steps"] == "5" and got["batch_size"] == "8"


@pytest.mark.parametrize("overrides, pattern", [
    pytest.param(["batch_sizee=10"], r"unknown key 'batch_sizee'; did you mean: batch_size", id="unknown-key"),
    pytest.param(["optimizer=ADAMW"], r"'optimizer' expects enum Optimizer: 'ADAMW' is not one of SGD, MOMENTUM", id="bad-enum"),
    pytest.param(["optimizer=sgd"], r"is not one of SGD, MOMENTUM", id="enum-case-sensitive"),
    pytest.param(["launcher.local.use_local=maybe"], r"expects bool \(true/false/1/0\), got 'maybe'", id="bad-bool"),
    pytest.param(["batch_size=2.5"], r"'batch_size' expects int32 \(an integer\), got '2.5'", id="bad-int"),
    pytest.param(["batch_size=99999999999"], r"out of range", id="int-range"),
    pytest.param(["lr=fast"], r"'lr' expects float \(a number\), got 'fast'", id="bad-float"),
    pytest.param(["Ilauncher=slurm_8gpu"], r"include 'slurm_8gpu' not found for mount 'launcher'; known includes: slurm_8gpus", id="missing-include"),
    pytest.param(["lr"], r"override 'lr': expected key=value", id="no-equals"),
    pytest.param(["data=3"], r"'data' is a message \(DataCfg\)", id="scalar-for-message"),
    pytest.param(["tags.5=x"], r"cannot access element 5 of list 'tags' that has 1 elements", id="list-out-of-range"),
    pytest.param(["seed=SELECT"], r"SELECT only applies", id="select-on-scalar"),
    pytest.param(["lr.x=1"], r"'lr' is float: it has no field 'x'", id="path-through-scalar"),
])
def test_override_errors(overrides, pattern):
    r = run_cli(["run", "-c", SL, "--print-flat", *overrides])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert lines[0].startswith("heyhi: override ")


@pytest.mark.parametrize("text, pattern", [
    pytest.param('train { lr: 0.1\n  batch_size: }\n', r"bad\.prototxt:2:\d+: ", id="syntax"),
    pytest.param('train {\n  lrr: 0.1\n}\n', r"bad\.prototxt:2:3: unknown field 'lrr' in TrainTask; did you mean: lr", id="unknown-field"),
    pytest.param('train {\n  optimizer: ADAMW\n}\n', r"bad\.prototxt:2:14: .*'ADAMW' is not a value of enum Optimizer", id="bad-enum"),
    pytest.param('train {\n  seed: 1.5\n}\n', r"bad\.prototxt:2:9: field 'seed' expects int32, got 1.5", id="bad-int"),
    pytest.param('train {\n  launcher { local { use_local: maybe } }\n}\n', r"bad\.prototxt:2:33: field 'use_local' expects bool", id="bad-bool"),
    pytest.param('includes { path: "launcher/nope" mount: "launcher" }\ntrain {}\n', r"bad\.prototxt:1:10: include 'launcher/nope' not found", id="missing-include"),
    pytest.param('lr: 0.1\n', r"bad\.prototxt:1:1: unknown field 'lr' in MetaCfg", id="no-task-wrapper"),
    pytest.param('', r"bad\.prototxt: no task set: the config must set one of train, evaluate", id="no-task"),
])
def test_config_file_errors(text, pattern, demo_project):
    bad = demo_project / "conf" / "c02_sup_train" / "bad.prototxt"
    bad.write_text(text)
    r = run_cli(["run", "-c", str(bad), "--print-flat"], cwd=demo_project)
    assert r.returncode == 2, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert re.search(pattern, lines[0]), lines[0]


def test_yaml_and_json_configs_compose_like_prototxt(demo_project):
    d = demo_project / "conf" / "c02_sup_train"
    (d / "y.yaml").write_text(
        "includes:\n  - {path: launcher/local, mount: launcher}\n  - {path: data/small, mount: data}\n"
        "train:\n  lr: 0.5\n  seed: 0\n  batch_size: 64\n  num_steps: 300\n  checkpoint_every: 50\n"
        "  lr_schedule:\n    - {step: 200, factor: 0.2}\n  tags: [demo]\n"
    )
    (d / "j.json").write_text(
        '{"includes": [{"path": "launcher/local", "mount": "launcher"}, {"path": "data/small", "mount": "data"}],'
        ' "train": {"lr": 0.5, "seed": 0, "batch_size": 64, "num_steps": 300, "checkpoint_every": 50,'
        ' "lr_schedule": [{"step": 200, "factor": 0.2}], "tags": ["demo"]}}'
    )
    base = flat(project=demo_project)
    assert flat(cfg="conf/c02_sup_train/y.yaml", project=demo_project) == base
    assert flat(cfg="conf/c02_sup_train/j.json", project=demo_project) == base


def test_yaml_error_points_at_line(demo_project):
    d = demo_project / "conf" / "c02_sup_train"
    (d / "bad.yaml").write_text("train:\n  lr: 0.5\n  seed: [1\n")
    r = run_cli(["run", "-c", str(d / "bad.yaml"), "--print-flat"], cwd=demo_project)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert re.search(r"bad\.yaml:\d+:\d+", r.stderr)


def test_root_dir_substitution(demo_project):
    (demo_project / "conf" / "c03_eval" / "e2.prototxt").write_text('evaluate { checkpoint: "{{ ROOT_DIR }}/ck" }\n')
    got = flat(cfg="conf/c03_eval/e2.prototxt", project=demo_project)
    assert got["checkpoint"] == f"{demo_project}/ck"


def test_flag_that_is_a_task_field_wins_and_says_so(demo_project):
    (demo_project / "conf" / "c03_eval" / "e3.prototxt").write_text("evaluate { }\n")
    r = run_cli(["run", "-c", "conf/c03_eval/e3.prototxt", "--print-out-dir", "--checkpoint", "x"], cwd=demo_project)
    assert r.returncode == 0
    assert r.stderr.count("--checkpoint is HeyHi's flag") == 1


def test_flag_abbreviations_are_overrides():
    r = run_cli(["run", "-c", SL, "--print-flat", "--pri=1"])
    assert r.returncode == 2 and "unknown key 'pri'" in r.stderr


# ---- frozen configs ---------------------------------------------------------------------------

def test_load_config_frozen_api():
    cfg = heyhi.load_config(REPO / SL, ["notes.k=v", "optimizer=MOMENTUM"])
    assert cfg.which_task == "train"
    t = cfg.train
    assert cfg.task is t
    assert t.lr == 0.5 and t.seed == 0 and t.optimizer == "MOMENTUM"
    assert t.launcher.which_launcher == "local" and t.launcher.slurm is None
    assert t.launcher.local.use_local is True
    assert t.tags == ("demo",) and t.notes == {"k": "v"}
    assert t.lr_schedule[0].factor == 0.2
    assert t.data.n_samples == 2000
    ev = heyhi.load_config(REPO / "conf/c03_eval/eval.prototxt").evaluate
    assert ev.checkpoint is None
    assert ev.launcher.local is None and ev.launcher.which_launcher is None
    with pytest.raises(RuntimeError, match="read-only"):  # the original raised RuntimeError
        t.lr = 1.0
    assert cfg.is_frozen()
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and again.train.lr == 0.5
    ed = cfg.to_editable()
    ed.train.lr = 0.125
    assert not ed.is_frozen()
    assert ed.to_frozen().train.lr == 0.125 and cfg.train.lr == 0.5
    assert t.to_dict()["lr"] == 0.5
    assert "weight_decay" not in t.to_dict() and t.to_dict(with_defaults=True)["weight_decay"] == 0.0
    assert t.to_dict(with_all=True)["data"]["seed"] == 0


def test_load_config_of_a_chunk():
    launcher = heyhi.load_config(REPO / "conf/common/launcher/slurm_cpu.prototxt", msg_class="Launcher")
    assert launcher.slurm.minutes == 5 and launcher.slurm.partition is None


# ---- the pydantic front-end ------------------------------------------------------------------

DEMO_OVERRIDE_SETS = [
    [],
    ["lr=0.3", "seed=4", "optimizer=MOMENTUM"],
    ["Ilauncher=slurm_cpu", "launcher.slurm.partition=debug", "notes.a=b", "tags.-1=x"],
    ["launcher=NULL", "data.noise=0.5", "lr_schedule.-1=SELECT", "lr_schedule.1.step=5"],
]


@pytest.mark.parametrize("overrides", DEMO_OVERRIDE_SETS, ids=lambda o: ",".join(o) or "none")
@pytest.mark.parametrize("cfg", [SL, "conf/c03_eval/eval.prototxt"])
def test_proto_and_pydantic_schemas_compose_equal(cfg, overrides):
    if cfg.endswith("eval.prototxt") and overrides:
        overrides = [o for o in overrides if o.split("=")[0].split(".")[0] in ("launcher", "data", "Ilauncher")]
    from heyhi.config.schema.pydantic_front import schema_from_spec

    proto = Composer(Project(REPO)).compose(REPO / cfg, overrides)
    pyd = Composer(Project(REPO), schema_from_spec("conf.schema:MetaCfg", REPO)).compose(REPO / cfg, overrides)
    assert proto.task_msg.to_dict(with_all=True) == pyd.task_msg.to_dict(with_all=True)
    assert flat_lines(proto.task_msg, True) == flat_lines(pyd.task_msg, True)
    pf, yf = proto.task_msg.to_frozen(), pyd.task_msg.to_frozen()
    assert pf.to_dict(with_all=True) == yf.to_dict(with_all=True)


def test_pydantic_schema_keeps_docs():
    from heyhi.config.schema.pydantic_front import schema_from_spec

    s = schema_from_spec("conf.schema:MetaCfg", REPO)
    assert s.find_message("TrainTask").fields["lr"].doc == "Learning rate."
    assert Project(REPO).schema.find_message("TrainTask").fields["lr"].doc == "Learning rate."


def test_package_functions_are_not_shadowed_by_their_modules():
    """``heyhi.compose`` stays the function after ``heyhi.load_config`` was used (the module that defines
    it is ``heyhi.config.compose``; a module of the same name under ``heyhi`` once replaced it)."""
    import subprocess
    import sys

    code = ("import heyhi\n"
            "heyhi.load_config('conf/c02_sup_train/sl.prototxt', ['lr=0.1'])\n"
            "import heyhi.config.compose\n"
            "assert callable(heyhi.compose) and heyhi.compose.__name__ == 'compose', heyhi.compose\n"
            "assert all(not type(getattr(heyhi, n)).__name__ == 'module' for n in heyhi.__all__), heyhi.__all__\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
