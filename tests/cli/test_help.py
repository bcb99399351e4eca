"""One help style for every command, ``--version`` on every program, and flags that are not flags
(issue 15): ``heyhi --help``, ``heyhi help CMD``, ``heyhi CMD --help`` and ``heyhi-daemon --help``
all parse under ``heyhi.cli.helptext.parse_help`` (the style, read back); ``--wiat`` is refused
naming ``--wait``; ``--lr 0.1`` is refused with ``write --lr=0.1``; ``--lr=0.1`` stays an override,
with a note when it is a near miss of a flag. Each test runs the real programs in subprocesses."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, run_cli

import heyhi
from heyhi.cli import args, completion, helptext
from heyhi.cli.helptext import parse_help

CMP = "conf/c01_ag_cmp/cmp.prototxt"
SL = "conf/c02_sup_train/sl_20200901.prototxt"
COMMANDS = ("run", "ctl", "sweep", "diff", "compare", "stubs", "profiles", "completion", "help")


def program(name: str, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / name), *argv], capture_output=True, text=True, timeout=60, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


@pytest.fixture(scope="module")
def cicero(tmp_path_factory) -> Path:
    from conftest import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"reference corpus not found at {CORPUS}")
    dst = tmp_path_factory.mktemp("cic")
    shutil.copytree(CORPUS / "conf", dst / "conf")
    return dst


# ---- one style -------------------------------------------------------------------------------------


def test_every_help_is_in_the_one_style_and_each_spelling_prints_the_same():
    top = run_cli(["--help"])
    assert top.returncode == 0 and parse_help(top.stdout.rstrip("\n")).commands().keys() == set(COMMANDS)
    assert run_cli(["help"]).stdout == top.stdout
    for cmd in COMMANDS:
        via_help = run_cli(["help", cmd])
        via_flag = run_cli([cmd, "--help"])
        assert via_help.returncode == 0 == via_flag.returncode, (cmd, via_help.stderr, via_flag.stderr)
        assert via_help.stdout == via_flag.stdout, cmd
        h = parse_help(via_help.stdout.rstrip("\n"))  # raises naming the first line off the style
        assert h.usage[0].startswith(f"heyhi {cmd}") and h.paragraphs, cmd
        assert "-h" in h.flags() and "--help" in h.flags(), f"heyhi {cmd} --help does not list -h, --help"
    assert run_cli(["ctl", "show", "-h"]).stdout == run_cli(["help", "ctl"]).stdout  # -h anywhere
    daemon = program("heyhi-daemon", "--help")
    assert daemon.returncode == 0 and program("heyhi-daemon", "start", "-h").stdout == daemon.stdout
    assert set(parse_help(daemon.stdout.rstrip("\n")).commands()) == {"start", "stop", "status"}


@pytest.mark.parametrize("text, why", [
    pytest.param("Usage: x\n\nWhat.", "must start with 'usage: '", id="usage-word"),
    pytest.param("usage: x\nWhat.", "expected a blank line", id="no-blank"),
    pytest.param("usage: x\n\nWhat.\n\nflags:\n  -a    misaligned", "column 29", id="column"),
    pytest.param("usage: x\n\nWhat.\n\nflags:\n   -a                        indented", "exactly two spaces",
                 id="indent"),
    pytest.param("usage: x\n\n" + "w" * 101, "longer than 100", id="width"),
    pytest.param("usage: x\n\nflags:\n  -a                        a", "no paragraph", id="no-paragraph"),
])
def test_the_style_reader_names_a_line_off_the_style(text, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        parse_help(text)


def test_bare_heyhi_prints_the_help_on_stderr_and_a_bad_command_is_one_line():
    bare = run_cli([])
    assert bare.returncode == 2 and bare.stdout == "" and bare.stderr.startswith("usage: heyhi COMMAND")
    typo = run_cli(["rnu"])
    assert typo.returncode == 2 and one_line(typo.stderr) == \
        "heyhi: unknown command 'rnu'; did you mean run? (heyhi --help lists the commands)"
    far = run_cli(["help", "bogus"])
    assert far.returncode == 2 and "did you mean" not in far.stderr and "unknown command 'bogus'" in one_line(far.stderr)


def test_every_program_has_version():
    for name in ("heyhi", "heyhi-daemon", "heyhi-tui"):
        r = program(name, "--version")
        assert r.returncode == 0 and r.stdout == f"{name} {heyhi.__version__}\n", (name, r.stdout, r.stderr)


def test_heyhi_daemon_bad_arguments_are_one_line_exit_2():
    for argv, said in ((["bogus"], "unknown command 'bogus': expected start, stop or status"),
                       ([], "no command: expected start, stop or status"),
                       (["start", "--bogus"], "(heyhi-daemon --help)"),
                       (["status", "--sockt", "x"], "(heyhi-daemon --help)")):
        r = program("heyhi-daemon", *argv)
        assert r.returncode == 2 and said in one_line(r.stderr) and one_line(r.stderr).startswith("heyhi-daemon: ")


def test_stubs_has_the_style_and_refuses_a_bad_flag_in_one_line():
    r = run_cli(["stubs", "--prject", "x"])
    assert r.returncode == 2 and one_line(r.stderr).startswith("heyhi: unknown flag --prject; did you mean --project?")
    r = run_cli(["stubs", "extra"])
    assert r.returncode == 2 and "unexpected argument 'extra'" in one_line(r.stderr)


# ---- the tables the helps list agree with the parsers ----------------------------------------------


def test_run_help_lists_exactly_the_flags_of_the_run_parser():
    listed = set(parse_help(args.RUN_HELP).flags())
    assert listed == set(args.FLAGS), f"in the help only: {listed - set(args.FLAGS)}; in FLAGS only: " \
                                      f"{set(args.FLAGS) - listed}"
    assert parse_help(args.RUN_HELP).flags()["--mode"][0] == "MODE" and completion.MODES == args.MODES


def _usage_words(text: str) -> tuple[set[str], set[str]]:
    """(sub-commands, flags) a command's own usage text names."""
    subs = {m for m in re.findall(r"^ {2}([a-z]+)\b", text, re.M)}
    flags = set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", text))
    return subs, flags


@pytest.mark.parametrize("module, command", [("ctl", "ctl"), ("sweep", "sweep"), ("diff", "diff"),
                                              ("compare", "compare")])
def test_each_command_help_lists_what_its_parser_names(module, command):
    """A command's own usage text (its error message) and its help agree: adding a sub-command or a
    flag to one without the other fails here, naming it."""
    import importlib

    own = importlib.import_module(f"heyhi.cli.{module}").USAGE
    if module == "sweep":  # its usage also shows `heyhi run -c CFG lr=[...]`: heyhi run's flags
        own = "\n".join(line for line in own.splitlines() if "heyhi sweep" in line)
    subs, flags = _usage_words(own)
    if module == "sweep":
        subs = set(re.findall(r"heyhi sweep ([a-z]+)\b(?!/)", own))
    h = parse_help(helptext.help_text(command))
    listed_flags = set(h.flags()) | {f for r in h.commands().values() for f, _ in r.flags()}
    assert subs <= set(h.commands()), f"heyhi {command}: not in its help: {subs - set(h.commands())}"
    assert flags <= listed_flags, f"heyhi {command}: flags not in its help: {flags - listed_flags}"


def test_completion_keeps_composition_rules_it_mirrors(tmp_path):
    from heyhi.cli import fieldcache
    from heyhi.config.compose import EXTS, Composer
    from heyhi.config.project import Project

    assert fieldcache.CONFIG_EXTS == EXTS
    from heyhi.config.compose import TASK_ONEOF

    assert fieldcache.TASK_ONEOF == TASK_ONEOF
    (tmp_path / "conf" / "x").mkdir(parents=True)
    p = Project(tmp_path)
    cfg = tmp_path / "conf" / "x" / "a.prototxt"
    assert fieldcache.include_dirs(cfg, p.conf_dir) == [str(d) for d in Composer(p).include_dirs(cfg)]
    from heyhi.config.project import find_project_root

    for cwd in (tmp_path, tmp_path / "conf", tmp_path / "conf" / "x"):
        assert completion._conf_dir(str(cwd)) == str(find_project_root(cfg) / "conf")
    outside = tmp_path.parent / "elsewhere"  # pytest's base folder holds no conf/ above it
    outside.mkdir(exist_ok=True)
    assert completion._conf_dir(str(outside)) is None


# ---- flags that are not flags ------------------------------------------------------------------------


def test_a_misspelt_flag_is_refused_naming_the_closest(cicero):
    r = run_cli(["run", "-c", SL, "--wiat"], cwd=cicero)
    assert r.returncode == 2 and one_line(r.stderr) == (
        "heyhi: unknown flag --wiat; did you mean --wait? (heyhi run --help lists the flags; a field is set "
        "with --wiat=VALUE)")
    r = run_cli(["run", "--prnt-flat", "-c", SL], cwd=cicero)  # before -c too
    assert r.returncode == 2 and "did you mean --print-flat?" in one_line(r.stderr)


def test_a_field_given_as_a_flag_says_how_to_set_it(cicero):
    r = run_cli(["run", "-c", SL, "--lr", "0.1", "--print-flat"], cwd=cicero)
    assert r.returncode == 2 and one_line(r.stderr) == "heyhi: --lr is not a flag: to set the field lr write --lr=0.1"
    r = run_cli(["run", "-c", SL, "--dataset_params.min_total_games"], cwd=cicero)  # a dotted field, no value
    assert r.returncode == 2 and one_line(r.stderr).endswith(
        "write --dataset_params.min_total_games=VALUE")


def test_name_equals_value_stays_an_override(cicero):
    r = run_cli(["run", "-c", SL, "--lr=0.25", "--print-flat"], cwd=cicero)
    assert r.returncode == 0 and "lr=0.25" in r.stdout.split() and r.stderr == "", r.stderr


def test_an_override_near_a_flag_gets_a_note(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "conf.proto").write_text('syntax = "proto2";\nmessage T { optional string model = 1; optional int32 plans = 2; }\n'
                                     "message MetaCfg { oneof task { T t = 1; } }\n")
    (conf / "t.prototxt").write_text("t { }\n")
    r = run_cli(["run", "-c", "conf/t.prototxt", "--model=big", "--plans=2", "--print-flat"], cwd=tmp_path)
    assert r.returncode == 0 and {"model=big", "plans=2"} <= set(r.stdout.split()), r.stdout + r.stderr
    notes = r.stderr.strip().splitlines()
    assert notes == ["heyhi: note: --model=big is read as an override of the field 'model', not as the flag --mode",
                     "heyhi: note: --plans=2 is read as an override of the field 'plans', not as the flag --plan"]
    quiet = run_cli(["run", "-c", "conf/t.prototxt", "model=big", "--print-flat"], cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_python_run_py_refuses_the_same_way(tmp_path):
    """``python run.py`` (heyhi.main()) reads argv with the same parser."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "conf.proto").write_text('syntax = "proto2";\nmessage T { optional float lr = 1; }\n'
                                     "message MetaCfg { oneof task { T t = 1; } }\n")
    (conf / "t.prototxt").write_text("t { }\n")
    (tmp_path / "run.py").write_text("import heyhi\n\ndef t(cfg):\n    pass\n\nheyhi.main()\n")
    r = subprocess.run([sys.executable, "run.py", "-c", "conf/t.prototxt", "--lr", "2"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and one_line(r.stderr) == "heyhi: --lr is not a flag: to set the field lr write --lr=2"
