"""The original's package names imported from ``heyhi``, and the original's config API called on a
composed Cicero config (../shared/corpus, unchanged), as Cicero's own code calls it."""

from __future__ import annotations

import pickle

import pytest

import heyhi

ORIGINAL_INIT = (  # every public name of the original's heyhi/__init__.py
    "load_config", "load_root_config", "load_proto_message", "flatten_cfg", "save_config", "CONF_ROOT",
    "PROJ_ROOT", "conf_to_dict", "conf_is_set", "conf_get", "conf_set", "conf_with_overrides",
    "parse_args_and_maybe_launch", "maybe_launch", "get_default_exp_dir", "MODES", "get_job_env",
    "get_slurm_job_id", "get_slurm_master", "is_adhoc", "is_aws", "is_devfair", "is_master", "is_on_slurm",
    "log_git_status", "maybe_init_requeue_handler", "reset_slurm_cache", "save_result_in_cwd", "setup_logging",
)
SL = "conf/c02_sup_train/sl_20211119_base.prototxt"


@pytest.fixture()
def cicero(corpus):
    return heyhi.load_root_config(corpus / SL)


def test_every_original_name_imports_from_heyhi(corpus, monkeypatch):
    monkeypatch.chdir(corpus)
    ns: dict = {}
    exec(f"from heyhi import {', '.join(ORIGINAL_INIT)}", ns)
    assert all(ns[n] is not None for n in ORIGINAL_INIT)
    assert ns["CONF_ROOT"] == corpus / "conf" and ns["PROJ_ROOT"] == corpus
    import heyhi.conf

    assert heyhi.conf.load_root_config is ns["load_root_config"]


def test_config_methods_on_a_composed_cicero_config(cicero, corpus):
    cfg = cicero
    assert cfg.is_frozen() and cfg.to_frozen() is cfg and cfg.heyhi_patched
    assert cfg.WhichOneof("task") == cfg.which_task == "train" and cfg.HasField("train")
    train = cfg.train
    set_names = [f.name for f, _ in train.ListFields()]
    assert set_names[:3] == ["batch_size", "lr", "lr_decay"]

    ed = cfg.to_editable()
    assert not ed.is_frozen() and ed.to_editable() is ed and repr(ed) == repr(cfg) and ed == cfg
    t = getattr(ed, ed.WhichOneof("task"))
    assert [f.name for f, _ in t.ListFields()] == set_names
    lr = t.lr
    t.ClearField("lr")
    assert not t.HasField("lr") and cfg.train.lr == lr  # the frozen config is untouched
    t.lr = lr * 2
    assert t.HasField("lr") and t.to_frozen().lr == pytest.approx(lr * 2)

    other = type(t)()
    other.CopyFrom(cfg.train)  # a frozen config copies as its value
    assert other == cfg.train and other is not t
    other.ClearField("batch_size")
    other.MergeFrom(type(t)(batch_size=7))
    assert other.batch_size == 7 and other.lr == lr
    assert other.to_dict()["batch_size"] == 7
    assert heyhi.conf_to_dict(cfg.train)["batch_size"] == cfg.train.batch_size == cfg.train.to_dict()["batch_size"]

    text = cfg.train.to_str_with_defaults()  # every top-level value set, plus the declared defaults
    top = [line for line in str(cfg.train).splitlines() if not line.startswith(" ") and ":" in line]
    assert top and set(top) < set(text.splitlines())
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    with pytest.raises(RuntimeError):
        cfg.train.lr = 1.0
    with pytest.raises(ValueError):
        t.HasField("no_such_field")


def test_the_generated_classes_are_the_composed_configs_classes(corpus, monkeypatch):
    import subprocess
    import sys

    script = (
        "import heyhi, conf.conf_pb2, conf.conf_cfgs\n"
        f"cfg = heyhi.load_root_config({str(corpus / SL)!r})\n"
        "assert isinstance(cfg, conf.conf_cfgs.MetaCfg), type(cfg)\n"
        "assert isinstance(cfg.to_editable(), conf.conf_pb2.MetaCfg)\n"
        "assert isinstance(cfg.train, conf.conf_cfgs.TrainTask)\n"
        "print('ok')\n"
    )
    p = subprocess.run([sys.executable, "-c", script], cwd=corpus, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr
