"""Flag files in INI, TSV and Python-module form (``heyhi.config.flagfiles``): their entries and rows,
the text of each value as written, a module that is never executed, errors naming file:line, hostile
inputs (a huge file, deep nesting), and unknown keys refused through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

from heyhi.config import flagfiles
from heyhi.config.source import MAX_BYTES
from heyhi.errors import ConfigError

SL = "conf/c02_sup_train/sl.prototxt"


def tokens(ff) -> list[tuple[str, str]]:
    return [(e.token, e.where.rsplit(":", 1)[1]) for e in ff.entries]


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as e:
        flagfiles.load(path)
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


# ---- INI -----------------------------------------------------------------------------------------


def test_ini_sections_are_dotted_prefixes_and_default_is_top_level(tmp_path):
    p = tmp_path / "p.ini"
    p.write_text(
        "# a comment\n"
        "lr = 0.10\n"                      # before any section: top-level
        "[DEFAULT]\n"
        "Optimizer = MOMENTUM\n"           # case kept; not copied into the sections below
        "[data]\n"
        "noise = 0.2\n"
        "name = %(noise)s and 5%\n"        # interpolation off: the text as written
        "; another comment\n"
        "[data.aug]\n"
        "p = [0.1, 0.2]\n"
        "\n"
        "[launcher . local]\n"
        "use_local = true\n")
    ff = flagfiles.load(p)
    assert ff.rows is None
    assert tokens(ff) == [("lr=0.10", "2"), ("Optimizer=MOMENTUM", "4"), ("data.noise=0.2", "6"),
                          ("data.name=%(noise)s and 5%", "7"), ("data.aug.p=[0.1, 0.2]", "10"),
                          ("launcher . local.use_local=true", "13")]
    assert all(e.where.startswith(f"{p}:") for e in ff.entries)
    cfg = tmp_path / "same.cfg"  # .cfg is the same format
    cfg.write_text("[data]\nnoise = 0.3\n")
    assert tokens(flagfiles.load(cfg)) == [("data.noise=0.3", "2")]


@pytest.mark.parametrize("text, line, words", [
    pytest.param("lr = 0.1\ngarbage line\n", 2, "expected key = value or [section], got 'garbage line'", id="no-equals"),
    pytest.param("[data]\nnoise = 1\n[data]\nseed = 2\n", 3, "duplicate section [data]", id="dup-section"),
    pytest.param("[data]\nnoise = 1\nnoise = 2\n", 3, "duplicate key 'noise' in [data]", id="dup-key"),
    pytest.param("lr = 1\nlr = 2\n", 2, "duplicate key 'lr' in the keys before any section", id="dup-top"),
    pytest.param("[data]\nnoise = 1\n[DEFAULT]\ndata.noise = 2\n", 4, "duplicate key 'data.noise' (first at ",
                 id="dup-across-sections"),
    pytest.param("[a..b]\nx = 1\n", 1, "section [a..b]: expected a dotted key", id="bad-section"),
    pytest.param("x = 1\n  still x\n", 1, "key 'x': the value goes on over several lines", id="multi-line"),
    pytest.param("[" + ".".join(["a"] * 150) + "]\nx = 1\n", 2, "nested more than 100 deep", id="deep-section"),
])
def test_ini_errors_name_file_and_line(tmp_path, text, line, words):
    p = tmp_path / "bad.ini"
    p.write_text(text)
    msg = load_error(p)
    assert msg.startswith(f"{p}:{line}: ") and words in msg, msg


# ---- TSV -----------------------------------------------------------------------------------------


def test_tsv_is_one_run_per_row_and_keeps_quotes(tmp_path):
    p = tmp_path / "rows.tsv"
    p.write_text("lr\tbatch_size\tname\n0.10\t8\t'a, b'\n\n0.2\t\t\"x\ty\n")
    with pytest.raises(ConfigError, match=r"rows\.tsv:4: 4 cells for 3 columns"):  # a tab is always a cut
        flagfiles.load(p)
    p.write_text("lr\tbatch_size\tname\n0.10\t8\t'a, b'\n\n0.2\t\t\"x\"\n")
    ff = flagfiles.load(p)
    assert ff.entries == []
    assert [[(e.token, e.where) for e in row] for row in ff.rows] == [
        [("lr=0.10", f"{p}:2"), ("batch_size=8", f"{p}:2"), ("name='a, b'", f"{p}:2")],
        [("lr=0.2", f"{p}:4"), ('name="x"', f"{p}:4")],  # an empty cell leaves the key alone
    ]


@pytest.mark.parametrize("text, where, words", [
    pytest.param("", "", "empty TSV", id="empty"),
    pytest.param("lr\tlr\n1\t2\n", ":1", "duplicate column 'lr'", id="dup-column"),
    pytest.param("lr\t\n1\t2\n", ":1", "column 2 of the header has no key", id="no-key"),
    pytest.param("lr\n", "", "the TSV has a header but no rows", id="no-rows"),
    pytest.param("lr\n1\t2\n", ":2", "2 cells for 1 columns", id="cells"),
    pytest.param("lr\n" + "1" * 200_000 + "\n", ":2", "bad TSV", id="huge-cell"),
])
def test_tsv_errors_name_file_and_line(tmp_path, text, where, words):
    p = tmp_path / "bad.tsv"
    p.write_text(text)
    msg = load_error(p)
    assert msg.startswith(f"{p}{where}: ") and words in msg, msg


# ---- Python modules ------------------------------------------------------------------------------

MODULE = '''"""Hyperparameters of a run (a docstring: skipped)."""
import os
from math import pi

lr = 0.10
seed: int = -2
_private = 3
optimizer = 'MOMENTUM'
greeting = """hi"""
pattern = r"\\d+"
quoted_null = "NULL"
notes = None
use_x = True
big = 1_000
octal = 0o17
hexa = 0x1F
tags = ["a b", 'c']
pair = (1, -2.5)
data = {"noise": 0.2, "aug": {"p": 0.5, "kinds": ["x"]}}
lr_schedule = [{"step": 5, "factor": 0.5}]
a = b = 7
computed = pi * 2
x, y = 1, 2
counter += 1
if __name__ == "__main__":
    hidden = 1


def f():
    inner = 2
'''


def test_a_module_is_its_top_level_literal_assignments_with_their_source_text(tmp_path):
    p = tmp_path / "params.py"
    p.write_text(MODULE)
    got = tokens(flagfiles.load(p))
    assert got == [
        ("lr=0.10", "5"), ("seed=-2", "6"), ("optimizer='MOMENTUM'", "8"),
        ("greeting='hi'", "9"),  # triple quotes: quoted again, as the grammar reads it
        ("pattern='\\\\d+'", "10"), ("quoted_null=\"NULL\"", "11"),  # a quoted NULL stays a string
        ("notes=NULL", "12"), ("use_x=True", "13"),
        ("big=1000", "14"), ("octal=15", "15"), ("hexa=0x1F", "16"),  # Python's spellings respelled
        ("tags=[\"a b\",'c']", "17"), ("pair=[1,-2.5]", "18"),
        ("data.noise=0.2", "19"), ("data.aug.p=0.5", "19"), ("data.aug.kinds=[\"x\"]", "19"),
        ("lr_schedule=[{'step': 5, 'factor': 0.5}]", "20"),
        ("a=7", "21"), ("b=7", "21"),
    ]
    from heyhi.config.grammar import unquote

    assert unquote("'\\\\d+'") == "\\d+"  # the respelled string reads back as the module's value


def test_a_module_is_never_executed_nor_imported(tmp_path, demo_project):
    marker = tmp_path / "EXECUTED"
    p = tmp_path / "side_effect.py"
    p.write_text(f"lr = 0.25\nopen({str(marker)!r}, 'w').write('ran')\n"
                 f"import sys; sys.modules.setdefault('side_effect_ran', None)\nraise SystemExit(3)\n")
    assert tokens(flagfiles.load(p)) == [("lr=0.25", "1")]
    r = run_cli(["run", "-c", SL, "--print-flat", f"@{p}"], cwd=demo_project)
    assert r.returncode == 0 and "lr=0.25\n" in r.stdout, r.stderr
    assert not marker.exists() and not (tmp_path / "__pycache__").exists()


@pytest.mark.parametrize("text, line, words", [
    pytest.param("lr = 0.1\nseed = (\n", 2, "invalid Python: '(' was never closed", id="syntax"),
    pytest.param("lr = 0.1\nlr = 0.2\n", 2, "duplicate key 'lr' (first at ", id="assigned-twice"),
    pytest.param("data = {'noise': 1}\ndata = {'noise': 2}\n", 2, "duplicate key 'data.noise'", id="dict-twice"),
    pytest.param("data = {\n  'a': 1,\n  3: 2}\n", 3, "key 'data': a dict's keys are names", id="dict-key"),
    pytest.param("x = 1\ny = 2\0\n", 2, "invalid Python", id="nul-byte"),
    pytest.param("x = 1\ny = " + "9" * 5000 + "\n", 2, "invalid Python", id="huge-int"),
    pytest.param("x = 1\ny = " + "-" * 100_000 + "1\n", 2, "too deeply or too long for Python's parser",
                 id="deep-unary"),
    pytest.param("x = 1\ny = " + "+".join(["1"] * 5000) + "\nz = 3\n", 2,
                 "too deeply or too long for Python's parser", id="long-sum"),
    pytest.param("x = 1\ny = " + "[" * 300 + "]" * 300 + "\n", 2, "too many nested parentheses", id="deep-brackets"),
    pytest.param("x = 1\n\ny = " + "{'a': " * 150 + "1" + "}" * 150 + "\n", 3, "values nested more than 100 deep",
                 id="deep-dict"),
    pytest.param("I = {}\n", 1, "an include override takes a name", id="empty-include"),
])
def test_module_errors_name_file_and_line(tmp_path, text, line, words):
    p = tmp_path / "bad.py"
    p.write_bytes(text.encode())
    msg = load_error(p)
    assert msg.startswith(f"{p}:{line}: ") and words in msg, msg


# ---- every new format: bounded, and checked through the CLI -------------------------------------


@pytest.mark.parametrize("name", ["huge.py", "huge.ini", "huge.tsv", "huge.cfg"])
def test_a_huge_flag_file_is_refused_in_one_line(tmp_path, demo_project, name):
    p = tmp_path / name
    with open(p, "w") as fh:
        line = "x\t1\n" if name.endswith(".tsv") else "x_%d = 1\n"
        fh.write("x\ty\n" if name.endswith(".tsv") else "")
        n = 0
        while fh.tell() <= MAX_BYTES:
            fh.write(line if "%" not in line else line % n)
            n += 1
    msg = load_error(p)
    assert msg.startswith(f"{p}: flag file too large"), msg
    r = run_cli(["run", "-c", SL, "--print-flat", f"@{p}"], cwd=demo_project)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "flag file too large" in r.stderr, r.stderr


def test_an_unknown_suffix_lists_every_format(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text("lr = 1\n")
    msg = load_error(p)
    for suffix in (".yaml", ".json", ".csv", ".tsv", ".ini", ".cfg", ".py", ".txt"):
        assert suffix in msg, msg


FILES = {
    "p.ini": ("lr = 0.5\n[data]\nnoize = 0.2\n", 3, "data.noize"),
    "p.cfg": ("[DEFAULT]\nnum_stepz = 3\n", 2, "num_stepz"),
    "p.tsv": ("lr\tbatch_sise\n0.1\t8\n", 2, "batch_sise"),
    "p.py": ("lr = 0.5\n\ndata = {\n  'noise': 0.1,\n  'nosie': 0.2,\n}\n", 5, "data.nosie"),
}


@pytest.mark.parametrize("name", list(FILES))
@pytest.mark.parametrize("extra", [[], ["seed=[0,1]", "--plan"]], ids=["run", "sweep"])
def test_an_unknown_key_is_an_error_naming_file_and_line_through_the_cli(demo_project, name, extra):
    text, line, key = FILES[name]
    p = demo_project / name
    p.write_text(text)
    r = run_cli(["run", "-c", SL, "--print-out-dir", f"@{name}", *extra], cwd=demo_project)
    assert r.returncode == 2 and r.stdout == "", (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"{name}:{line}: unknown key {key!r}" in r.stderr, r.stderr


def test_values_reach_the_config_and_name_the_folder_as_typed(demo_project):
    (demo_project / "p.py").write_text("lr = 0.10\noptimizer = 'MOMENTUM'\ntags = ['a b', 'c']\n"
                                       "lr_schedule = [{'step': 5, 'factor': 0.5}]\ndata = {'noise': 0.2}\n")
    r = run_cli(["run", "-c", SL, "--print-flat", "@p.py"], cwd=demo_project)
    assert r.returncode == 0, r.stderr
    for line in ("lr=0.1", "optimizer=MOMENTUM", "tags=['a b', 'c']", "lr_schedule=[{'step': 5, 'factor': 0.5}]",
                 "data.noise=0.2"):
        assert line in r.stdout.splitlines(), (line, r.stdout)
    by_file = run_cli(["run", "-c", SL, "--print-out-dir", "@p.py"], cwd=demo_project)
    by_hand = run_cli(["run", "-c", SL, "--print-out-dir", "lr=0.10", "optimizer='MOMENTUM'", "tags=['a b','c']",
                       "lr_schedule=[{'step': 5, 'factor': 0.5}]", "data.noise=0.2"], cwd=demo_project)
    assert by_file.returncode == 0 == by_hand.returncode and by_file.stdout == by_hand.stdout, (by_file, by_hand)
    (demo_project / "p.ini").write_text("lr = 0.10\n[data]\nnoise = 0.2\n")
    ini = run_cli(["run", "-c", SL, "--print-out-dir", "@p.ini"], cwd=demo_project)
    assert ini.stdout == run_cli(["run", "-c", SL, "--print-out-dir", "lr=0.10", "data.noise=0.2"],
                                 cwd=demo_project).stdout
    (demo_project / "rows.tsv").write_text("lr\tseed\n0.10\t1\n0.2\t2\n")
    plan = run_cli(["run", "-c", SL, "--print-out-dir", "@rows.tsv"], cwd=demo_project)
    one = run_cli(["run", "-c", SL, "--print-out-dir", "lr=0.10", "seed=1"], cwd=demo_project)
    assert plan.returncode == 0 and len(plan.stdout.splitlines()) == 2 and plan.stdout.splitlines()[0] == one.stdout.strip()
