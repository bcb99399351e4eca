"""Round trips (issue 15, item 5): printed configs that paste back, and ``-c`` however it is spelled.

- ``--print-flat`` keeps the original's output (``tags=['demo']``, ``lr_schedule=[{'step': 200, ...}]``;
  byte for byte on the corpus: tests/config/test_corpus_golden.py), and that list of mappings is now
  accepted as an override;
- ``--print-flat --replayable`` / ``--print-flat-all --replayable`` quote what would read as something
  else, and every line, given as an argv token or as a line of an ``@file.txt``, gives back the same
  value: table rows for the tricky strings, and every top-level Cicero config replayed onto itself
  (same ``--print``);
- ``-c`` takes a path relative to conf/, every spelling names one run folder, ``./X`` wins over
  ``conf/X`` with a note; the TUI, like ``heyhi run``, finds the project upward from inside conf/.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from heyhi.config.compose import Composer
from heyhi.config.grammar import item_needs_quotes, needs_quotes, parse_literal, quote, split_items, unquote
from heyhi.config.printing import flat_items, replayable_lines
from heyhi.config.project import Project
from heyhi.errors import ConfigError

from conftest import REPO, heyhi_cmd, run_cli

SL = "conf/c02_sup_train/sl.prototxt"
TOP_LEVEL = [
    "ag_pop_cmp/cmp", "ag_pop_cmp/template", "c01_ag_cmp/cmp", "c02_sup_train/sl_20200901",
    "c02_sup_train/sl_20211119_base", "c02_sup_train/for_tests/sl_202106_heavy",
    "c02_sup_train/for_tests/sl_20211102_heavy_transfdec", "c04_exploit/research_20221001_paper_cicero",
    "c04_exploit/research_20221001_paper_diplodocus_high", "c07_play_webdip/play",
]

# Strings that a plain key=value would read as something else (or that a line cannot hold).
TRICKY = ["NULL", "SELECT", "[a,b]", "[x]", "range(1,3)", "choice(a, b)", "uniform(0, 1)", "a b", "", "it's",
          '"q"', "'q'", " lead", "trail ", "tab\there", "new\nline", "back\\slash", "é中", "{x}", "x)", "@file",
          "a=b", "--x", "#hash", "None", "\x01ctrl"]


def _print(cfg: str, *args: str, cwd: Path = REPO) -> str:
    r = run_cli(["run", "-c", cfg, *args], cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return r.stdout


# ---- the grammar, rule by rule ------------------------------------------------------------------------

@pytest.mark.parametrize("s", [pytest.param(s, id=repr(s)) for s in TRICKY + ["plain", "0.5", "a-b_c/d.e"]])
def test_quoting_reads_back(s):
    q = quote(s) if needs_quotes(s) else s
    assert (unquote(q) if unquote(q) is not None else q) == s
    item = quote(s) if item_needs_quotes(s) else s
    assert split_items(item, "here") == [s]
    assert "\n" not in q and "\n" not in item  # a line of an @file holds it


@pytest.mark.parametrize("s, quoted", [
    pytest.param("plain", False, id="plain"), pytest.param("0.5", False, id="number"),
    pytest.param("NULL", True, id="NULL"), pytest.param("SELECT", True, id="SELECT"),
    pytest.param("[a]", True, id="list"), pytest.param("range(1,3)", True, id="range"),
    pytest.param("", True, id="empty"), pytest.param("a b", True, id="space"), pytest.param("'q'", True, id="quotes"),
])
def test_needs_quotes(s, quoted):
    assert needs_quotes(s) is quoted


@pytest.mark.parametrize("text, value", [
    pytest.param("[{'step': 200, 'factor': 0.2}]", [{"step": "200", "factor": "0.2"}], id="original-print-flat"),
    pytest.param("[{step: 5}, {}]", [{"step": "5"}, {}], id="bare-keys-and-empty"),
    pytest.param("[{'a': None, b: null, c: NULL, d: 'None'}]", [{"a": None, "b": None, "c": None, "d": "None"}],
                 id="none-and-quoted-none"),
    pytest.param("[{'s': 'a, b]', 'l': [1, 'x y'], 'm': {'k': {'n': 'v'}}}]",
                 [{"s": "a, b]", "l": ["1", "x y"], "m": {"k": {"n": "v"}}}], id="nested"),
    pytest.param("[{'s': 'it\\'s\\n\\x41'}]", [{"s": "it's\nA"}], id="escapes"),
    pytest.param("[ ]", [], id="empty-list"),
    pytest.param("[{a: 1,},]", [{"a": "1"}], id="trailing-commas"),
])
def test_parse_literal(text, value):
    assert parse_literal(text, "here") == value


@pytest.mark.parametrize("text, words", [
    pytest.param("[{a: 1]", "expected ',' or '}'", id="unclosed-mapping"),
    pytest.param("[{a 1}]", "expected ':' after the key 'a 1'", id="no-colon"),
    pytest.param("[{a: 1, a: 2}]", "the key 'a' is given twice", id="duplicate-key"),
    pytest.param("[{a: 'x}]", "unbalanced quote", id="unbalanced-quote"),
    pytest.param("[{a: 1}] x", "unexpected 'x' after the value", id="trailing-text"),
    pytest.param("[" * 40 + "]" * 40, "nested deeper than 32", id="too-deep"),
])
def test_parse_literal_errors_are_one_line(text, words):
    with pytest.raises(ConfigError) as e:
        parse_literal(text, "override 'x'")
    assert words in str(e.value) and str(e.value).startswith("override 'x': ") and "\n" not in str(e.value)


# ---- the original's output, accepted back ---------------------------------------------------------------

def test_print_flat_keeps_the_originals_format_and_its_list_of_mappings_is_an_override():
    flat = _print(SL, "--print-flat")
    assert "tags=['demo']\n" in flat and "lr_schedule=[{'step': 200, 'factor': 0.2}]\n" in flat
    base = _print(SL, "--print")
    line = next(x for x in flat.splitlines() if x.startswith("lr_schedule="))
    assert _print(SL, "--print", "lr_schedule=[]", line) == base  # before this, refused as an override
    changed = _print(SL, "--print", "lr_schedule=[{step: 10}, {'step': 20, 'factor': 0.5}]")
    assert "lr_schedule {\n  step: 10\n}\nlr_schedule {\n  step: 20\n  factor: 0.5\n}\n" in changed


@pytest.mark.parametrize("token, words", [
    pytest.param("lr_schedule=[{'stp': 1}]", "unknown key 'lr_schedule.0.stp'; did you mean: step", id="unknown-field"),
    pytest.param("lr_schedule=[{'step': 'many'}]", "'lr_schedule.0.step' expects int32 (an integer), got 'many'",
                 id="bad-value"),
    pytest.param("lr_schedule=[3]", "'lr_schedule.0' is a LrStep message: expected a mapping", id="not-a-mapping"),
    pytest.param("lr_schedule=[{'step': [1]}]", "'lr_schedule.0.step' is int32: expected a value", id="list-for-scalar"),
])
def test_a_bad_list_of_mappings_is_one_line(token, words):
    r = run_cli(["run", "-c", SL, "--print", token])
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"heyhi: override {token!r}: {words}\n" or (words in r.stderr and r.stderr.count("\n") == 1), r.stderr


def test_replayable_needs_a_flat_print():
    r = run_cli(["run", "-c", SL, "--print", "--replayable"])
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--replayable goes with --print-flat" in r.stderr


# ---- tricky values, line by line -------------------------------------------------------------------------

def test_every_replayable_line_gives_back_its_value_as_argv_and_as_a_file_line(tmp_path):
    """Map entries, list items and a whole list of messages holding every tricky string: set once,
    printed --replayable, then each line replayed alone (in-process), and all lines as argv tokens and
    as lines of an @file.txt (the CLI): the same values, the same --print."""
    setting = [f"notes.k{i}={quote(s)}" for i, s in enumerate(TRICKY)]
    setting += ["tags=[" + ",".join(quote(s) for s in TRICKY) + "]",
                "lr_schedule=[" + ", ".join(f"{{'step': {i}}}" for i in range(3)) + "]"]
    comp = Composer(Project(REPO))
    cfg = REPO / SL
    composed = comp.compose(cfg, setting)
    assert [composed.task_msg.notes[f"k{i}"] for i in range(len(TRICKY))] == TRICKY  # the quotes read back
    assert list(composed.task_msg.tags) == TRICKY
    want = dict(flat_items(composed.task_msg))

    printed = _print(SL, "--print-flat", "--replayable", *setting)
    lines = printed.splitlines()
    assert lines == replayable_lines(composed.task_msg)
    assert "notes.k0='NULL'" in lines and "notes.k2='[a,b]'" in lines and "notes.k8=''" in lines
    for line in lines:  # each line alone, onto the config without the tricky values
        key = line.split("=", 1)[0]
        got = dict(flat_items(comp.compose(cfg, [line]).task_msg))
        assert got[key] == want[key], line

    full = _print(SL, "--print", *setting)
    assert _print(SL, "--print", *lines) == full  # argv tokens
    at = tmp_path / "replay.txt"
    at.write_text(printed)
    assert _print(SL, "--print", f"@{at}") == full  # lines of a file


# ---- every top-level Cicero config, replayed onto itself ---------------------------------------------------

def run_many(calls: list[tuple[list[str], Path]], timeout: float = 120) -> list[subprocess.CompletedProcess]:
    """``heyhi ...`` for each (argv, cwd), run side by side (the machine's cores), in order."""
    procs = [subprocess.Popen(heyhi_cmd() + argv, cwd=str(cwd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for argv, cwd in calls]
    out = []
    for (argv, _), p in zip(calls, procs):
        so, se = p.communicate(timeout=timeout)
        out.append(subprocess.CompletedProcess(argv, p.returncode, so, se))
    return out


def test_cicero_print_flat_all_replays_onto_itself(corpus, tmp_path):
    """Each top-level config: ``--print-flat-all --replayable``, replayed onto the same config as argv
    tokens and as the lines of an @file, composes the same config (the same ``--print``)."""
    paths = [f"conf/{cfg}.prototxt" for cfg in TOP_LEVEL]
    first = run_many([(["run", "-c", p, a, *b], corpus) for p in paths
                      for a, *b in (("--print",), ("--print-flat-all", "--replayable"))])
    calls = []
    for i, p in enumerate(paths):
        want, lines = first[2 * i], first[2 * i + 1]
        assert want.returncode == 0 and lines.returncode == 0, (p, want.stderr, lines.stderr)
        assert lines.stdout.endswith("\n") and all("=" in x for x in lines.stdout.splitlines()), p
        at = tmp_path / f"{i}.txt"
        at.write_text(lines.stdout)
        calls += [(["run", "-c", p, "--print", *lines.stdout.splitlines()], corpus), (["run", "-c", p, "--print", f"@{at}"], corpus)]
    for i, r in enumerate(run_many(calls)):
        p, how = paths[i // 2], ("argv", "@file")[i % 2]
        assert r.returncode == 0 and "Traceback" not in r.stderr, (p, how, r.stderr)
        assert r.stdout == first[2 * (i // 2)].stdout, (p, how)


# ---- -c however it is spelled --------------------------------------------------------------------------

def test_every_spelling_of_c_names_one_run_folder(demo_project, tmp_path):
    conf = demo_project / "conf"
    spellings = [
        (demo_project, SL), (demo_project, "c02_sup_train/sl.prototxt"), (demo_project, "./" + SL),
        (demo_project, str(demo_project / SL)), (demo_project, "conf/c02_sup_train/../c02_sup_train/sl.prototxt"),
        (conf, "c02_sup_train/sl.prototxt"), (conf / "c02_sup_train", "sl.prototxt"),
        (conf / "c02_sup_train", "c02_sup_train/sl.prototxt"), (tmp_path, str(demo_project / SL)),
    ]
    seen = set()
    for (cwd, cfg), r in zip(spellings, run_many([(["run", "-c", cfg, "--print-out-dir", "lr=0.1"], cwd)
                                                  for cwd, cfg in spellings])):
        assert r.returncode == 0 and r.stderr == "", (cwd, cfg, r.stderr)
        seen.add(r.stdout)
    assert len(seen) == 1 and seen.pop().strip().endswith("/p/c02_sup_train/sl/lr@0.1_966845b0")


def test_a_working_folder_config_wins_over_conf_with_a_note(demo_project):
    here = demo_project / "c02_sup_train"
    here.mkdir()
    shutil.copy(demo_project / SL, here / "sl.prototxt")
    (here / "sl.prototxt").write_text((here / "sl.prototxt").read_text().replace("lr: 0.5", "lr: 0.9"))
    r = run_cli(["run", "-c", "c02_sup_train/sl.prototxt", "--print"], cwd=demo_project)
    assert r.returncode == 0 and "lr: 0.9" in r.stdout
    assert r.stderr == ("heyhi: note: -c c02_sup_train/sl.prototxt: both ./c02_sup_train/sl.prototxt and "
                        f"{demo_project}/conf/c02_sup_train/sl.prototxt exist; using ./c02_sup_train/sl.prototxt\n")


def test_a_config_found_nowhere_is_one_line(demo_project):
    r = run_cli(["run", "-c", "c02_sup_train/nope.prototxt", "--print"], cwd=demo_project)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("heyhi: c02_sup_train/nope.prototxt: config file not found (neither in the working folder "
                        f"nor in {demo_project}/conf)\n")


def test_the_tui_finds_the_project_from_inside_conf(demo_project, monkeypatch):
    from heyhi_tui.main import build_app

    monkeypatch.chdir(demo_project / "conf" / "c02_sup_train")
    assert build_app(["--no-start"]).project_root == str(demo_project)
    monkeypatch.chdir(demo_project.parent)
    with pytest.raises(SystemExit) as e:
        build_app(["--no-start"])
    assert "no project found" in str(e.value) and "(use --project DIR)" in str(e.value)
