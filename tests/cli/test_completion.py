"""Shell completion (issue 15: "no shell completion; typing encoder.transformer.num_heads by hand on
Cicero is slow and error-prone"): the scripts ``heyhi completion bash|zsh|fish`` print, exercised by
the real shells on a copy of the Cicero tree:

- bash: ``complete -p heyhi``, then the function driven by ``COMP_WORDS``/``COMP_LINE``/``COMP_POINT``/
  ``COMP_CWORD`` as bash sets them (``=`` and ``:`` split words), reading ``COMPREPLY``;
- zsh: an interactive zsh on a pseudo-terminal, a real TAB, the matches its completion system
  accepted (``compadd -A``) and the buffer after it;
- fish: ``complete -C LINE``.

Then what only ``heyhi __complete`` shows: the cache follows the schema's files and the include
folders, job ids come from the daemon and, with none up, from its saved index; bad input completes
nothing, quietly. Latency is measured in bench/completion.py, not here.
"""

from __future__ import annotations

import itertools
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, CORPUS, run_cli
from waiting import wait_for

SL = "conf/c02_sup_train/sl_20200901.prototxt"
CMP = "conf/c01_ag_cmp/cmp.prototxt"
SHELL_TIMEOUT_S = 60.0


def shell_or_skip(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install -y {name}; .ci/run installs it)")
    return path


@pytest.fixture(scope="module")
def cicero(tmp_path_factory) -> Path:
    """A copy of the Cicero conf tree, and a completion cache of the module's own."""
    if not CORPUS.is_dir():
        pytest.skip(f"reference corpus not found at {CORPUS}")
    dst = tmp_path_factory.mktemp("cic")
    shutil.copytree(CORPUS / "conf", dst / "conf")
    return dst


@pytest.fixture
def env(cicero) -> dict[str, str]:
    """The environment a user's shell has: our heyhi first on PATH, the module's cache."""
    cache = cicero.parent / "cache"
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", XDG_CACHE_HOME=str(cache))


def complete(cwd: Path, env: dict, *words: str) -> list[str]:
    """``heyhi __complete fish``: the candidates (word, then a tab and what it is) for the last word."""
    r = subprocess.run([str(BIN / "heyhi"), "__complete", "fish", str(len(words) - 1), *words], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return [line.split("\t")[0] for line in r.stdout.splitlines()]


# ---- bash -----------------------------------------------------------------------------------------------

BASH_CASES = [  # (line up to the cursor, words COMPREPLY must hold (exactly, when the list is short))
    ("heyhi ru", ["run"]),
    ("heyhi run --wa", ["--wait"]),
    ("heyhi run -c c02", ["c02_sup_train/"]),  # relative to conf/
    ("heyhi run -c conf/c01", ["conf/c01_ag_cmp/"]),
    (f"heyhi run -c {SL} encoder.transformer.num_h", ["encoder.transformer.num_heads="]),
    (f"heyhi run -c {SL} encoder.tr", ["encoder.transformer."]),
    (f"heyhi run -c {CMP} power_one=FR", ["FRANCE"]),  # bash replaces the part after '='
    (f"heyhi run -c {CMP} agent_one.bqre1p=", ["SELECT", "NULL"]),
    (f"heyhi run -c {CMP} Iagent_one=agents/ci", ["agents/cicero"]),
    (f"heyhi run -c {SL} Ilaun", ["Ilauncher="]),
    (f"heyhi run -c {SL} Ilauncher=slurm_8gpus3", ["slurm_8gpus32gb", "slurm_8gpus32gb_diplomacy"]),
    (f"heyhi run -c {SL} --mode=re", ["restart"]),
    (f"heyhi run -c {SL} --help-fields dataset_params.val_", ["dataset_params.val_set_path"]),
    ("heyhi ctl sh", ["show"]),
    ("heyhi ctl logs abc --al", ["--all"]),  # a sub-command's own flags
    ("heyhi ctl --remote h w", ["wait", "wipe"]),
    ("heyhi sweep report x --cs", ["--csv"]),
    ("heyhi compare --group", ["--group-over"]),
    ("heyhi ctl list --state compl", ["completed"]),
    ("heyhi help st", ["stubs"]),
    ("heyhi completion z", ["zsh"]),
    ("heyhi sweep rep", ["report"]),
]


def bash_words(line: str) -> list[str]:
    """``COMP_WORDS`` as bash sets them: words split at blanks, and at '=' and ':' (COMP_WORDBREAKS)."""
    words = []
    for w in line.split(" "):
        parts = [p for p in re.split(r"([=:])", w) if p != ""]
        words.extend(parts or [""])
    return words


def test_bash_registers_the_function_and_its_replies_come_from_comp_words(cicero, env):
    bash = shell_or_skip("bash")
    lines = ["set -u", 'source <(heyhi completion bash)', "complete -p heyhi",
             "compopt() { NOSPACE=\"$1 $2\"; }  # outside a TAB bash has no compopt to set: record what it gets"]
    for i, (line, _) in enumerate(BASH_CASES):
        words = bash_words(line)
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        lines += [f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}",
                  f"COMP_LINE='{line}'; COMP_POINT={len(line.encode())}; COMPREPLY=(); NOSPACE=",
                  f'_heyhi_complete heyhi "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"',
                  f"printf 'CASE {i} [%s]' \"$NOSPACE\"; printf ' %s' \"${{COMPREPLY[@]}}\"; echo"]
    r = subprocess.run([bash, "--norc", "--noprofile", "-c", "\n".join(lines)], cwd=cicero, env=env,
                       capture_output=True, text=True, timeout=SHELL_TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "complete -F _heyhi_complete heyhi"
    got = {int(m.group(1)): (m.group(2), m.group(3).split()) for m in
           (re.match(r"CASE (\d+) \[(.*?)\](.*)", line) for line in out[1:]) if m}
    for i, (line, want) in enumerate(BASH_CASES):
        nospace, reply = got[i]
        assert reply == want, f"{line!r}: COMPREPLY {reply}"
        assert (nospace == "-o nospace") == any(w.endswith(("/", "=", ".")) for w in want), (line, nospace)


# ---- zsh ------------------------------------------------------------------------------------------------


class Pty:
    """An interactive shell on a pseudo-terminal: send keys, read until a pattern (bounded)."""

    def __init__(self, argv: list[str], cwd: Path, env: dict):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the shell
            try:
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.out = b""

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def read_until(self, pattern: bytes, timeout: float = SHELL_TIMEOUT_S) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.out, re.S)
            if m:
                self.out = self.out[m.end():]
                return m
            left = deadline - time.monotonic()
            ready = select.select([self.fd], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                raise AssertionError(f"no {pattern!r} within {timeout:g}s; the shell said: {self.out[-3000:]!r}")
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"the shell ended before {pattern!r}: {self.out[-3000:]!r}")
            self.out += chunk

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


ZSH_SETUP = [
    "PS1='' PROMPT='' RPROMPT=''; unsetopt AUTO_LIST LIST_AMBIGUOUS AUTO_MENU BEEP",
    "autoload -Uz compinit && compinit -u -D",
    'eval "$(heyhi completion zsh)"',
    # Record what the completion system accepts: the real compadd, asked to also name its matches.
    'compadd() { local -a hits; builtin compadd -A hits "$@"; local r=$?; '
    "print -rn -- $'\\n<M>'\"${(j:|:)hits}\"$'</M>\\n' >/dev/tty; builtin compadd \"$@\"; return r; }",
    "dump() { print -rn -- $'\\n<B>'\"$BUFFER\"$'</B>\\n' >/dev/tty; BUFFER=''; }; zle -N dump; bindkey '^X' dump",
    "print -r -- READY''READY",
]

ZSH_CASES = [  # (line, the matches, the buffer after one TAB)
    ("heyhi ru", ["run"], "heyhi run "),
    (f"heyhi run -c {SL} encoder.transformer.num_h", ["encoder.transformer.num_heads="],
     f"heyhi run -c {SL} encoder.transformer.num_heads="),  # no space after '='
    (f"heyhi run -c {CMP} power_one=F", ["power_one=FRANCE"], f"heyhi run -c {CMP} power_one=FRANCE "),
    (f"heyhi run -c {CMP} Iagent_one=agents/ci", ["Iagent_one=agents/cicero"],
     f"heyhi run -c {CMP} Iagent_one=agents/cicero "),
    ("heyhi run -c c01", ["c01_ag_cmp/"], "heyhi run -c c01_ag_cmp/"),
]


def test_zsh_completes_with_a_real_tab(cicero, env):
    zsh = shell_or_skip("zsh")
    sh = Pty([zsh, "-f", "-i"], cicero, dict(env, TERM="dumb"))
    try:
        sh.send("\n".join(ZSH_SETUP) + "\n")
        sh.read_until(rb"READYREADY")
        for line, matches, buffer in ZSH_CASES:
            sh.send(line + "\t\x18")
            m = sh.read_until(rb"<B>(.*?)</B>")
            got = [w for group in re.findall(rb"<M>(.*?)</M>", sh.out + m.string[:m.start()]) for w in
                   group.decode().split("|") if w]
            assert got[-len(matches):] == matches, (line, got)
            assert m.group(1).decode() == buffer, (line, m.group(1))
            sh.out = b""
    finally:
        sh.close()


# ---- fish -----------------------------------------------------------------------------------------------


def test_fish_completes_with_descriptions(cicero, env):
    fish = shell_or_skip("fish")
    cases = [
        ("heyhi ", "run\tcompose a config with overrides, then print it or launch it"),
        (f"heyhi run -c {SL} encoder.transformer.num_h", "encoder.transformer.num_heads=\tint32"),
        (f"heyhi run -c {CMP} power_one=F", "power_one=FRANCE"),
        (f"heyhi run -c {CMP} agent_one.sea", "agent_one.searchbot.\tSearchBotAgent [oneof agent]"),
        (f"heyhi run -c {CMP} cf_agent=", "cf_agent=NULL\tclear it"),
        ("heyhi ctl show -", "--json\tprint JSON instead of tables"),
    ]
    script = "heyhi completion fish | source\n" + "".join(
        f"echo '<C>'; complete -C '{line}'\n" for line, _ in cases)
    r = subprocess.run([fish, "--no-config", "-c", script], cwd=cicero, env=env, capture_output=True, text=True,
                       timeout=SHELL_TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.split("<C>\n")[1:]
    for (line, want), got in zip(cases, blocks):
        assert any(g == want or g.startswith(want) for g in got.splitlines()), (line, got)
    assert len(blocks) == len(cases)


# ---- what completes, and from where ----------------------------------------------------------------------


def test_keys_follow_the_schema_and_the_include_folders(cicero, tmp_path):
    """The cache is keyed by the schema's files: a field added to the .proto, an include file added,
    completes at once; nothing is served stale."""
    proj = tmp_path / "cic"
    shutil.copytree(cicero / "conf", proj / "conf")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert complete(proj, env, "heyhi", "run", "-c", SL, "brand_new") == []
    assert complete(proj, env, "heyhi", "run", "-c", SL, "Ilauncher=mi") == []
    proto = proj / "conf" / "conf.proto"
    text = proto.read_text()
    assert text.count("message TrainTask {") == 1
    proto.write_text(text.replace("message TrainTask {", "message TrainTask {\n  optional int32 brand_new_key = 999;", 1))
    (proj / "conf" / "common" / "launcher" / "mine.prototxt").write_text("local { }\n")
    assert complete(proj, env, "heyhi", "run", "-c", SL, "brand_new") == ["brand_new_key="]
    assert complete(proj, env, "heyhi", "run", "-c", SL, "Ilauncher=mi") == ["Ilauncher=mine"]
    (proj / "conf" / "common" / "launcher" / "mine.prototxt").unlink()
    assert complete(proj, env, "heyhi", "run", "-c", SL, "Ilauncher=mi") == []


def edit_train_task(proj: Path) -> None:
    """A field added to TrainTask (``brand_new_key``) and one the config leaves unset removed (``adam_beta2``)."""
    proto = proj / "conf" / "conf.proto"
    text = proto.read_text()
    removed = "  optional float adam_beta2 = 74 [ default = 0.99 ];\n"
    assert text.count("message TrainTask {") == 1 and text.count(removed) == 1
    text = text.replace(removed, "").replace("message TrainTask {", "message TrainTask {\n  optional int32 brand_new_key = 999;", 1)
    proto.write_text(text)


@pytest.mark.parametrize("with_daemon", [False, True], ids=["no daemon", "a daemon up"])
def test_the_first_tab_after_a_proto_edit_offers_the_new_field_and_not_the_removed_one(cicero, tmp_path, request,
                                                                                         with_daemon):
    """Issue 15 (completion under 100 ms after a .proto edit, bench/completion.py): the stale entry is
    refreshed from the schema read again (only the edited file parsed), with or without a daemon, and
    its first answer is already the new schema's: the TAB right after the edit lists the new field and
    not the removed one, as a build from scratch does."""
    if with_daemon:
        request.getfixturevalue("daemon")
    proj = tmp_path / "cic"
    shutil.copytree(cicero / "conf", proj / "conf")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    before = complete(proj, env, "heyhi", "run", "-c", SL, "")
    assert "adam_beta2=" in before and "brand_new_key=" not in before
    compiled = sorted((tmp_path / "cache" / "heyhi" / "schema").glob("*.pickle"))
    assert len(compiled) == (0 if with_daemon else 1)  # the daemon's Fields answered, or composed here
    edit_train_task(proj)
    after = complete(proj, env, "heyhi", "run", "-c", SL, "")  # the first TAB after the edit
    assert "brand_new_key=" in after and "adam_beta2=" not in after
    assert sorted((tmp_path / "cache" / "heyhi" / "schema").glob("*.pickle")) == compiled  # refreshed, not composed
    assert after == [w for w in before if w != "adam_beta2="] + ["brand_new_key="] or \
        sorted(after) == sorted([w for w in before if w != "adam_beta2="] + ["brand_new_key="])
    fresh = dict(env, XDG_CACHE_HOME=str(tmp_path / "cache-new"))  # the same tree, no cache at all
    assert complete(proj, fresh, "heyhi", "run", "-c", SL, "") == after
    for prefix in ("encoder.transformer.", "dataset_params.", "Ilauncher="):
        assert complete(proj, env, "heyhi", "run", "-c", SL, prefix) == complete(proj, fresh, "heyhi", "run", "-c", SL, prefix)

    def entry(cache: Path) -> dict:  # the config's keys' entry (not the include scan, not the help tables)
        import marshal

        (p,) = [p for p in (cache / "heyhi" / "complete").glob("*.marshal") if not p.name.startswith(("scan-", "help-"))]
        return marshal.loads(p.read_bytes())

    refreshed, built = entry(tmp_path / "cache"), entry(tmp_path / "cache-new")
    assert (refreshed["task"], refreshed["fields"], refreshed["includes"]) == (built["task"], built["fields"], built["includes"])


def test_a_keys_tab_after_a_proto_edit_writes_the_whole_entry_after_its_answer(cicero, tmp_path):
    """A key's TAB after a .proto edit answers from the keys alone; the include names and the entry's
    write come after, in a child the shell does not wait for, and the entry it writes is the one a
    build from scratch writes (the TAB after it is warm, include names included)."""
    import marshal

    proj = tmp_path / "cic"
    shutil.copytree(cicero / "conf", proj / "conf")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert complete(proj, env, "heyhi", "run", "-c", SL, "brand_new") == []
    (path,) = [p for p in (tmp_path / "cache" / "heyhi" / "complete").glob("*.marshal")
               if not p.name.startswith(("scan-", "help-"))]
    stale = path.read_bytes()
    edit_train_task(proj)
    assert complete(proj, env, "heyhi", "run", "-c", SL, "brand_new") == ["brand_new_key="]
    wait_for(lambda: path.read_bytes() != stale, 30, "the child to write the refreshed entry")
    fresh = dict(env, XDG_CACHE_HOME=str(tmp_path / "cache-new"))
    assert complete(proj, fresh, "heyhi", "run", "-c", SL, "Ilauncher=") == \
        complete(proj, env, "heyhi", "run", "-c", SL, "Ilauncher=")
    (built,) = [p for p in (tmp_path / "cache-new" / "heyhi" / "complete").glob("*.marshal")
                if not p.name.startswith(("scan-", "help-"))]
    refreshed, scratch = marshal.loads(path.read_bytes()), marshal.loads(built.read_bytes())
    assert (refreshed["task"], refreshed["fields"], refreshed["includes"]) == \
        (scratch["task"], scratch["fields"], scratch["includes"])
    assert refreshed["includes"]  # Cicero's mounts have include files


def test_the_refresh_after_a_proto_edit_loads_no_composer_pydantic_asyncio_or_textual(cicero, tmp_path):
    """The TAB after a .proto edit, in a fresh interpreter: the new field, and of HeyHi's config
    stack only the schema reader and the key index (no composition), nothing of pydantic, asyncio
    or Textual, nor the standard library's heavy modules (dataclasses, inspect, typing: a third of
    such a TAB when the schema model used them)."""
    import sys

    proj = tmp_path / "cic"
    shutil.copytree(cicero / "conf", proj / "conf")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert complete(proj, env, "heyhi", "run", "-c", SL, "brand_new") == []
    edit_train_task(proj)
    code = ("import sys\nimport heyhi.cli.main as m\n"
            f"m.main(['__complete', 'fish', '4', 'heyhi', 'run', '-c', {SL!r}, 'brand_new'])\n"
            "sys.stdout.flush()\nprint('\\nMODULES', ' '.join(sorted(sys.modules)))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, cwd=proj,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    said, mods = p.stdout.rsplit("\nMODULES ", 1)
    assert said.split("\t")[0] == "brand_new_key="
    loaded = set(mods.split())
    assert {"heyhi.config.schema.proto_reader", "heyhi.config.keyindex"} <= loaded
    assert not {m for m in loaded if m.split(".")[0] in ("pydantic", "asyncio", "textual")}
    assert not {"heyhi.config.compose", "heyhi.config.values", "heyhi.config.printing"} & loaded
    assert not {"dataclasses", "inspect", "typing", "pathlib"} & loaded


def test_a_corrupt_or_hostile_cache_entry_is_a_miss(cicero, tmp_path):
    """The completion's cache files (each .proto file's parse alone, then also the keys' entries and
    the include scan) replaced by garbage, by a valid entry of the wrong shape, by a folder or by a
    FIFO, after a .proto edit: the answer is still the right one, with nothing on stderr
    (``complete`` checks), never a traceback or a wait."""
    proj = tmp_path / "cic"
    shutil.copytree(cicero / "conf", proj / "conf")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    want = complete(proj, env, "heyhi", "run", "-c", SL, "encoder.transformer.")
    edit_train_task(proj)  # the next TAB refreshes: it reads every .proto file's parse from the cache
    proto = proj / "conf" / "conf.proto"
    planted = sorted((tmp_path / "cache" / "heyhi").glob("*/*.marshal"))
    assert {p.parent.name for p in planted} >= {"complete", "proto"}
    for how, group in itertools.product(("garbage", "hostile", "folder", "fifo"), ("proto", "complete")):
        with open(proto, "a") as fh:  # the keys' entry stale: the next TAB refreshes it, or builds it anew
            fh.write(f"// {how} {group}\n")
        for p in planted:
            if group == "proto" and p.parent.name != "proto":
                continue
            if p.is_dir():
                p.rmdir()
            else:
                p.unlink()
            if how == "garbage":
                p.write_bytes(b"\xe3\x00not marshal" * 7)
            elif how == "hostile":  # well-formed marshal, the shape of nothing HeyHi writes
                import marshal

                p.write_bytes(marshal.dumps(({"format": 1}, ("id", 5, "x"), [("m", 10**9)], {"deps": None})))
            elif how == "folder":
                p.mkdir()
            else:
                os.mkfifo(p)
        got = complete(proj, env, "heyhi", "run", "-c", SL, "")
        assert "brand_new_key=" in got and "adam_beta2=" not in got, (how, group)
        assert complete(proj, env, "heyhi", "run", "-c", SL, "encoder.transformer.") == want, (how, group)


def test_a_proto_parse_cache_entry_of_the_right_key_but_a_wrong_shape_is_a_miss(tmp_path):
    """The per-file parse cache (proto_reader): an entry naming the right file and text (stamp and
    checksum as the reader writes them) whose data is not of the reader's shape is read as a miss,
    the file parsed again; the schema is the one a read without a cache gives; a huge entry is not read."""
    import marshal

    from heyhi.config.schema import proto_reader as pr

    (tmp_path / "a.proto").write_text('syntax = "proto2";\nmessage MetaCfg {\n  // the x\n  optional int32 x = 1 '
                                      '[default = 3];\n  optional Sub sub = 2;\n  message Sub { optional E e = 1; }\n'
                                      '  enum E { A = 0; B = 1; }\n  oneof task { Sub t = 3; }\n}\n')
    paths = [tmp_path / "a.proto"]
    def dump(schema) -> str:  # every message, field, enum and file, as the model's repr writes them
        return repr((schema.messages, schema.enums, schema.files))

    want = dump(pr.read_protos(paths))
    cache = tmp_path / "cache"
    assert dump(pr.read_protos(paths, cache=cache)) == want  # written
    assert dump(pr.read_protos(paths, cache=cache)) == want  # read back
    (entry,) = cache.iterdir()
    stamp, checksum, data = marshal.loads(entry.read_bytes())
    syntax, package, imports, msgs, enums, events = data
    bad_tok = [(m[0], m[1], ("id", 5, 7), *m[3:]) for m in msgs]
    bad_ref = [(full, kind, t, ("m", 99) if ref else ref, note) for full, kind, t, ref, note in events]
    bad_field = [(*m[:4], [("x", "one", *f[2:]) for f in m[4]], *m[5:]) for m in msgs]
    for hostile in ("not a tuple", (syntax, package, imports, msgs, enums), (syntax, package, imports, bad_tok, enums, events),
                    (syntax, package, imports, msgs, enums, bad_ref), (syntax, package, imports, bad_field, enums, events),
                    ("proto9", package, imports, msgs, enums, events)):
        entry.write_bytes(marshal.dumps((stamp, checksum, hostile)))
        assert dump(pr.read_protos(paths, cache=cache)) == want, hostile
    entry.write_bytes(marshal.dumps((stamp, checksum, data)) + b"\0" * (pr.MAX_CACHE_BYTES + 1))
    assert dump(pr.read_protos(paths, cache=cache)) == want


def test_a_sweep_file_completes_its_config_keys_and_list_elements(demo_project, env):
    sweep = "conf/sweeps/lr_search.yaml"
    assert complete(demo_project, env, "heyhi", "sweep", "conf/sw") == ["conf/sweeps/"]
    assert complete(demo_project, env, "heyhi", "sweep", "conf/sweeps/") == [sweep]
    assert complete(demo_project, env, "heyhi", "sweep", sweep, "lr_sch") == ["lr_schedule."]
    assert complete(demo_project, env, "heyhi", "sweep", sweep, "lr_schedule.") == ["lr_schedule.0.", "lr_schedule.-1."]
    assert complete(demo_project, env, "heyhi", "sweep", sweep, "lr_schedule.-1.fa") == ["lr_schedule.-1.factor="]
    assert complete(demo_project, env, "heyhi", "sweep", sweep, "--max-p") == ["--max-parallel"]
    # -c relative to conf/, from inside conf/ too
    assert complete(demo_project / "conf", env, "heyhi", "run", "-c", "c02_sup_train/sl.prototxt", "lr_sch") == \
        ["lr_schedule."]


def test_include_suggestions_fit_the_mount_and_leave_out_the_config_itself(cicero, env):
    fits = complete(cicero, env, "heyhi", "run", "-c", CMP, "Iagent_one=agents/")
    assert "Iagent_one=agents/cicero" in fits and not any("launcher" in f for f in fits)
    launchers = complete(cicero, env, "heyhi", "run", "-c", SL, "Ilauncher=")
    assert "Ilauncher=slurm" in launchers and not any("agents" in f for f in launchers)
    tops = complete(cicero, env, "heyhi", "run", "-c", "conf/c04_exploit/research_20221001_paper_cicero.prototxt", "I=")
    assert not any("research_20221001_paper_cicero" in t for t in tops)


def test_job_ids_come_from_the_daemon_then_from_its_saved_index(proj, daemon, tmp_path):
    r = run_cli(["run", "-c", "conf/probe/probe.prototxt", "marker=completion"], cwd=proj)
    assert r.returncode == 0, r.stderr
    listed = run_cli(["ctl", "list", "--json"], cwd=proj)
    import json

    job = json.loads(listed.stdout)["jobs"][0]
    env = dict(os.environ)
    ids = complete(proj, env, "heyhi", "ctl", "show", job["job_id"][:4])
    assert ids == [job["job_id"]]
    assert complete(proj, env, "heyhi", "ctl", "logs", job["run_dir"][:-3]) == [job["run_dir"]]
    daemon.stop()
    saved = dict(env, HEYHI_STATE_DIR=str(tmp_path / "daemon-state"))  # where the fixture's daemon keeps it
    assert (tmp_path / "daemon-state" / "index.json").is_file()
    assert complete(proj, saved, "heyhi", "ctl", "wait", job["job_id"][:4]) == [job["job_id"]]
    assert complete(proj, env, "heyhi", "ctl", "wait", job["job_id"][:4]) == []  # no daemon, no index


def test_bad_input_completes_nothing_quietly(cicero, env, tmp_path):
    for argv in (["__complete"], ["__complete", "bash", "x", "line"], ["__complete", "tcsh", "1", "heyhi", ""]):
        r = run_cli(argv, cwd=cicero, env=env)
        assert r.returncode != 0 and r.stdout == "" and r.stderr == "", (argv, r.stderr)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "conf.proto").write_text("this is not proto\n")
    (tmp_path / "conf" / "x.prototxt").write_text("t {}\n")
    assert complete(tmp_path, env, "heyhi", "run", "-c", "conf/x.prototxt", "") == []
    debug = run_cli(["__complete", "fish", "4", "heyhi", "run", "-c", "conf/x.prototxt", ""], cwd=tmp_path,
                    env=dict(env, HEYHI_COMPLETE_DEBUG="1"))
    assert debug.stdout == "" and "heyhi: completion: conf/x.prototxt:" in debug.stderr and "Traceback" not in debug.stderr
    wrong = run_cli(["completion", "tcsh"], env=env)
    assert wrong.returncode == 2 and wrong.stderr == "heyhi: usage: heyhi completion bash|zsh|fish (got 'tcsh')\n"


def test_a_huge_folder_is_listed_bounded(tmp_path, env):
    from heyhi.cli.completion import MAX_ENTRIES

    big = tmp_path / "conf" / "big"
    big.mkdir(parents=True)
    for i in range(MAX_ENTRIES + 300):
        (big / f"c{i:05d}.prototxt").touch()
    got = complete(tmp_path, env, "heyhi", "run", "-c", "conf/big/c")
    assert 0 < len(got) <= MAX_ENTRIES
