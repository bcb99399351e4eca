"""Shell completion: ``heyhi completion bash|zsh|fish`` prints a script; the script calls the hidden
``heyhi __complete SHELL ...`` at each TAB, which prints the candidates.

What completes: the commands and the flags of every command (read from their help, ``heyhi.cli.
helptext``: what the help lists completes), a flag's value by its metavar (``CFG``: config paths,
from the working folder and relative to ``conf/``; ``DIR``; ``MODE``; ``STATE``; ``JOB``: job ids and
run folders, from the daemon's ``ListJobs`` when one is up, else from its saved index; ``PROFILE``:
the project's profiles), and
``heyhi run``'s overrides: the config's dotted keys one level at a time, ``I<mount>=`` with the
include files that fit the mount, enum values and ``true``/``false`` after ``key=``, ``NULL`` and
``SELECT`` (``heyhi.cli.fieldcache``: a cache keyed by the schema's files, built by the daemon or
locally when cold, refreshed locally after a ``.proto`` edit). ``heyhi sweep FILE.yaml`` completes the overrides of the file's ``config:``.

Promises: a completion imports neither pydantic, asyncio nor Textual, and with a warm cache reads one
cache entry and stats its sources (well under 100 ms on the Cicero tree: bench/completion.py); every
listing is bounded (``MAX_ENTRIES`` folder entries, ``MAX_CANDIDATES`` answers); it never prints a
traceback: a failure completes nothing (``HEYHI_COMPLETE_DEBUG=1`` prints why on stderr).
"""

from __future__ import annotations

import gc
import marshal
import os
import sys

SHELLS = ("bash", "zsh", "fish")
MAX_ENTRIES = 2000  # entries read from one folder
MAX_CANDIDATES = 1000
MAX_INDEX_BYTES = 16 << 20  # the daemon's saved index, read for job ids when no daemon is up
NO_SPACE_END = ("/", "=", ".", ",")  # a candidate ending so is continued: no space after it
MODES = ("gentle_start", "start_restart", "start_continue", "restart", "dryrun")  # args.MODES (a test checks)
TABLES_FORMAT = 1


# ---- the scripts ---------------------------------------------------------------------------------

BASH = r"""# heyhi completion for bash: eval "$(heyhi completion bash)" (e.g. in ~/.bashrc)
_heyhi_complete() {
    local IFS=$'\n'
    local -a reply
    reply=($(HEYHI_COMPLETE_WORDBREAKS="$COMP_WORDBREAKS" command heyhi __complete bash "$COMP_POINT" "$COMP_LINE" 2>/dev/null))
    if [[ ${reply[0]} == nospace ]]; then
        compopt -o nospace 2>/dev/null
    fi
    COMPREPLY=("${reply[@]:1}")
}
complete -F _heyhi_complete heyhi
"""

ZSH = r"""#compdef heyhi
# heyhi completion for zsh: eval "$(heyhi completion zsh)" (e.g. in ~/.zshrc, after compinit)
_heyhi() {
    local -a reply spaced spaced_shown glued glued_shown
    local line kind value about shown
    reply=("${(@f)$(command heyhi __complete zsh $((CURRENT - 1)) "${(@)words[1,CURRENT-1]}" "$PREFIX" 2>/dev/null)}")
    for line in "${reply[@]}"; do
        [[ -z $line ]] && continue
        kind=${line%%$'\t'*}; line=${line#*$'\t'}
        value=${line%%$'\t'*}; about=${line#*$'\t'}
        shown=$value
        [[ -n $about ]] && shown="$value  -- $about"
        if [[ $kind == n ]]; then
            glued+=("$value"); glued_shown+=("$shown")
        else
            spaced+=("$value"); spaced_shown+=("$shown")
        fi
    done
    (( ${#glued} )) && compadd -S '' -l -d glued_shown -- "${glued[@]}"
    (( ${#spaced} )) && compadd -l -d spaced_shown -- "${spaced[@]}"
    return 0
}
if (( $+functions[compdef] )); then
    compdef _heyhi heyhi
fi
if [[ ${funcstack[1]-} == _heyhi ]]; then  # autoloaded from a file named _heyhi in $fpath
    _heyhi "$@"
fi
"""

FISH = r"""# heyhi completion for fish: heyhi completion fish | source (e.g. in ~/.config/fish/config.fish)
function __heyhi_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    command heyhi __complete fish (count $tokens) $tokens "$current" 2>/dev/null
end
complete -c heyhi -f -a '(__heyhi_complete)'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}


def script_main(argv: list[str]) -> int:
    """``heyhi completion SHELL``: print the script."""
    if len(argv) != 1 or argv[0] not in SCRIPTS:
        got = f" (got {' '.join(argv)!r})" if argv else ""
        print(f"heyhi: usage: heyhi completion {'|'.join(SHELLS)}{got}", file=sys.stderr)
        return 2
    sys.stdout.write(SCRIPTS[argv[0]])
    return 0


# ---- heyhi __complete SHELL ... -------------------------------------------------------------------


class Cand:
    """One candidate: the whole word it completes to, what it is (zsh and fish show it), and
    whether the word goes on (no space after it: ``encoder.``, ``lr=``, ``conf/``)."""

    __slots__ = ("value", "about", "glued")

    def __init__(self, value: str, about: str = "", glued: bool | None = None):
        self.value = value
        self.about = about
        self.glued = value.endswith(NO_SPACE_END) if glued is None else glued


def main(argv: list[str]) -> int:
    """``heyhi __complete bash POINT LINE`` or ``heyhi __complete zsh|fish N WORD... CURRENT``:
    print the candidates in the shell's format (see the scripts)."""
    collecting = gc.isenabled()
    gc.disable()  # a TAB makes many objects, freed by their counts: cycle collection only costs time
    try:
        shell = argv[0]
        if shell == "bash":
            words, cur = split_line(_cut(argv[2], int(argv[1])))
        elif shell in ("zsh", "fish"):
            n = int(argv[1])
            words, cur = argv[2:2 + n], (argv[2 + n] if len(argv) > 2 + n else "")
        else:
            return 2
        cands = complete(words, cur, os.getcwd())[:MAX_CANDIDATES]
        sys.stdout.write(render(shell, cands, cur))
        return 0
    except Exception as e:  # noqa: BLE001 - completion never shows a traceback
        if os.environ.get("HEYHI_COMPLETE_DEBUG"):
            print(f"heyhi: completion: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        if collecting:
            gc.enable()


def _cut(line: str, point: int) -> str:
    """The line up to the cursor (bash counts ``COMP_POINT`` in bytes)."""
    return line.encode("utf-8", "surrogateescape")[:max(point, 0)].decode("utf-8", "ignore")


def split_line(line: str) -> tuple[list[str], str]:
    """The words before the cursor's word, and the cursor's word, as the shell would read them
    (quotes and backslashes removed); an open quote is closed at the cursor."""
    words: list[str] = []
    cur: list[str] = []
    started = False
    quote = ""
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"' and i + 1 < len(line):
                i += 1
                cur.append(line[i])
            else:
                cur.append(c)
        elif c in " \t\n":
            if started:
                words.append("".join(cur))
                cur, started = [], False
        elif c in "'\"":
            quote, started = c, True
        elif c == "\\" and i + 1 < len(line):
            i += 1
            cur.append(line[i])
            started = True
        else:
            cur.append(c)
            started = True
        i += 1
    return words, "".join(cur)


def render(shell: str, cands: list[Cand], cur: str) -> str:
    """The candidates as the shell's script reads them: bash, a first line ``nospace`` or ``space``,
    then each word from the last word-break character of the current word on (bash replaces only
    that part: ``kind=TR`` -> ``TRANSFORMER``); zsh, ``n|s<TAB>word<TAB>about``; fish, ``word<TAB>about``."""
    if shell == "bash":
        breaks = os.environ.get("HEYHI_COMPLETE_WORDBREAKS", " \t\n\"'><=;|&(:")
        cut = max((cur.rfind(b) for b in breaks if b not in " \t\n\"'"), default=-1) + 1
        values = [c.value[cut:] for c in cands if c.value.startswith(cur[:cut]) and len(c.value) > cut]
        head = "nospace" if any(c.glued for c in cands) else "space"
        return "".join(f"{v}\n" for v in [head] + values)
    if shell == "zsh":
        return "".join(f"{'n' if c.glued else 's'}\t{c.value}\t{_one_line(c.about)}\n" for c in cands)
    return "".join(f"{c.value}\t{_one_line(c.about)}\n" if c.about else f"{c.value}\n" for c in cands)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ---- what a command line may become -------------------------------------------------------------


def complete(words: list[str], cur: str, cwd: str) -> list[Cand]:
    """The candidates for the word ``cur`` after ``words`` (``words[0]`` is the program)."""
    if not words:
        return []
    tables = help_tables()
    if len(words) == 1:
        top = tables["heyhi"]
        if cur.startswith("-"):
            return _flags(top, cur)
        return _match([Cand(n, row[0]) for n, row in top["commands"].items()], cur)
    cmd, rest = words[1], words[2:]
    if cmd == "help":
        return [] if rest else _match([Cand(n, r[0]) for n, r in tables["heyhi"]["commands"].items()], cur)
    if cmd == "completion":
        return [] if rest else _match([Cand(s) for s in SHELLS], cur)
    if cmd not in tables:
        return []
    if cmd == "run":
        return _complete_run(tables["run"], rest, cur, cwd)
    if cmd == "ctl":
        return _complete_sub(tables["ctl"], rest, cur, cwd, "ctl")
    if cmd == "sweep":
        return _complete_sub(tables["sweep"], rest, cur, cwd, "sweep")
    return _complete_flags_only(tables[cmd], rest, cur, cwd, tables["heyhi"]["commands"].get(cmd))


def _match(cands: list[Cand], cur: str) -> list[Cand]:
    return [c for c in cands if c.value.startswith(cur)]


def _flags(table: dict, cur: str) -> list[Cand]:
    """The flags that extend ``cur``; a space follows each (its value, if any, is the next word)."""
    return [Cand(flag, about, glued=False) for flag, (_meta, about) in table["flags"].items() if flag.startswith(cur)]


def _value_of(table: dict, prev: str | None, cur: str) -> tuple[str, str, str] | None:
    """(metavar, prefix, partial value) when ``cur`` is a flag's value: after ``--flag`` that takes
    one, or in ``--flag=partial``."""
    if cur.startswith("-") and "=" in cur:
        flag, _, val = cur.partition("=")
        meta = table["flags"].get(flag, ("", ""))[0]
        if meta:
            return meta.strip("[]"), flag + "=", val
    if prev is not None and prev in table["flags"]:
        meta = table["flags"][prev][0]
        if meta and not meta.startswith("["):
            return meta, "", cur
    return None


def _flag_takes_value(table: dict, word: str) -> bool:
    meta = table["flags"].get(word, ("", ""))[0]
    return bool(meta) and not meta.startswith("[")


def _complete_flags_only(table: dict, rest: list[str], cur: str, cwd: str, row: tuple | None) -> list[Cand]:
    """A command with flags and positionals (``stubs``, ``diff``, ``compare``): ``row`` is its row
    in heyhi's own help (its positionals' metavars)."""
    v = _value_of(table, rest[-1] if rest else None, cur)
    if v is not None:
        return _values(v[0], v[1], v[2], cwd, None)
    if cur.startswith("-"):
        return _flags(table, cur)
    metas = row[2] if row else []
    return _values(metas[0], "", cur, cwd, None) if metas else (_flags(table, cur) if not cur else [])


def _complete_run(table: dict, rest: list[str], cur: str, cwd: str) -> list[Cand]:
    cfg, project = _cfg_and_project(table, rest)
    prev = rest[-1] if rest else None
    v = _value_of(table, prev, cur)
    if v is not None:
        return _values(v[0], v[1], v[2], cwd, (cfg, project))
    if prev == "--help-fields" and "=" not in cur:  # its value is optional: a key prefix
        return _values("PREFIX", "", cur, cwd, (cfg, project))
    if cur.startswith("-") and "=" not in cur:
        return _flags(table, cur)
    if cfg is None:
        if cur and "=" not in cur and not cur.startswith("-"):  # a script task: heyhi run train.py
            return _paths(cur, cwd, exts=(".py",))
        return [] if cur else _flags(table, "-c")
    return _overrides(cfg, project, cur, cwd)


def _cfg_and_project(table: dict, words: list[str]) -> tuple[str | None, str | None]:
    cfg = project = None
    i = 0
    while i < len(words):
        w = words[i]
        name, eq, val = w.partition("=")
        if name in ("-c", "--cfg", "--project"):
            if not eq:
                val = words[i + 1] if i + 1 < len(words) else None
                i += 1
            if name == "--project":
                project = val
            else:
                cfg = val
        elif _flag_takes_value(table, w):
            i += 1
        elif cfg is None and w.endswith(".py") and not eq and not w.startswith("-"):
            cfg = w  # heyhi run train.py [overrides]: a script task
        i += 1
    return cfg, project


def _complete_sub(table: dict, rest: list[str], cur: str, cwd: str, cmd: str) -> list[Cand]:
    """``heyhi ctl|sweep [flags] SUB [args]``: the sub-command's flags and positional values."""
    sub = None
    args: list[str] = []
    i = 0
    while i < len(rest):
        w = rest[i]
        if sub is None and w.startswith("-"):
            if _flag_takes_value(table, w):
                i += 1
        elif sub is None:
            sub = w
        else:
            args.append(w)
        i += 1
    prev = rest[-1] if rest else None
    if sub is None:
        v = _value_of(table, prev, cur)
        if v is not None:
            return _values(v[0], v[1], v[2], cwd, None)
        if cur.startswith("-"):
            return _flags(table, cur)
        subs = _match([Cand(n, r[0]) for n, r in table["commands"].items()], cur)
        if cmd == "sweep":  # or a sweep file
            subs += _paths(cur, cwd, exts=(".yaml", ".yml"))
        return subs
    spec = table["commands"].get(sub)
    if spec is None:
        if cmd == "sweep":  # heyhi sweep FILE.yaml [overrides] [flags]
            return _complete_sweep_file(table, sub, args, cur, cwd)
        return []
    shared = table["flags"] if cmd == "ctl" else {f: table["flags"][f] for f in ("-h", "--help")}
    merged = {"flags": {**shared, **spec[1]}}  # ctl's own flags go anywhere; a sweep command's are its own
    v = _value_of(merged, prev if args or prev != sub else None, cur)
    if v is not None:
        return _values(v[0], v[1], v[2], cwd, None)
    if cur.startswith("-"):
        return _flags(merged, cur)
    positional = [w for j, w in enumerate(args) if not w.startswith("-")
                  and not (j and _flag_takes_value(merged, args[j - 1]))]
    metas = spec[2]
    if not metas:
        return []
    k = len(positional)
    meta = metas[k] if k < len(metas) else (metas[-1] if metas[-1].endswith("...") else None)
    if meta is None or (meta.startswith("JOB") and any(w.partition("=")[0] == "--remote" for w in rest)):
        return []  # the jobs of another host's daemon are not known here
    return _values(meta.rstrip("."), "", cur, cwd, None)


def _complete_sweep_file(table: dict, path: str, args: list[str], cur: str, cwd: str) -> list[Cand]:
    prev = args[-1] if args else None
    v = _value_of(table, prev, cur)
    if v is not None:
        return _values(v[0], v[1], v[2], cwd, None)
    if cur.startswith("-") and "=" not in cur:
        return _flags(table, cur)
    cfg = _sweep_config(os.path.join(cwd, path))
    if cfg is None:
        return []
    _, project = _cfg_and_project(table, args)
    return _overrides(cfg, project, cur, os.path.dirname(os.path.abspath(os.path.join(cwd, path))))


def _sweep_config(path: str) -> str | None:
    """The ``config:`` of a sweep file (a top-level line; read bounded), or None."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("config:"):
            value = line[7:].split(" #", 1)[0].strip().strip("'\"")
            return value or None
    return None


# ---- values by metavar -----------------------------------------------------------------------------


def _values(meta: str, prefix: str, cur: str, cwd: str, run: tuple | None) -> list[Cand]:
    kind = meta.split("[", 1)[0].rstrip(".").upper()
    out: list[Cand]
    if kind == "CFG":
        out = _configs(cur, cwd)
    elif kind in ("DIR", "ENTRY|FOLDER"):
        out = _paths(cur, cwd, dirs_only=True)
    elif kind == "FILE":
        out = _paths(cur, cwd)
    elif kind in ("SWEEP", "SWEEPFILE"):
        out = _paths(cur, cwd, exts=(".yaml", ".yml"))
    elif kind == "MODE":
        out = _match([Cand(m) for m in MODES], cur)
    elif kind == "STATE":
        head, _, part = cur.rpartition(",")
        head = head + "," if head else ""
        out = [Cand(head + s) for s in _states() if s.startswith(part)]
    elif kind == "JOB" or kind.startswith("RUN"):  # RUN_A, RUN|SWEEP...: a job, or a folder
        out = _jobs(cur) + (_paths(cur, cwd, dirs_only=True) if kind.startswith("RUN") and cur else [])
    elif kind == "SHELL":
        out = _match([Cand(s) for s in SHELLS], cur)
    elif kind == "PROFILE":
        out = _match([Cand(n) for n in _profile_names(cwd)], cur)
    elif kind == "PREFIX" and run is not None and run[0] is not None:  # a key, with no "="
        keys = _task_keys(run[0], run[1], cwd)
        level = [] if keys is None else _key_level(keys, cur)
        out = list({c.value.rstrip("="): Cand(c.value.rstrip("="), c.about) for c in level}.values())
    else:
        out = []
    if prefix:
        for c in out:
            c.value = prefix + c.value
    return out


def _profile_names(cwd: str) -> list[str]:
    """The profiles of the project around ``cwd`` (``heyhi.config.profiles``), and ``none``."""
    conf = _conf_dir(cwd)
    if conf is None:
        return []
    import tomllib  # lean: only --profile completes profiles

    from heyhi.config.profiles import NO_PROFILE, load_profiles  # lean: only --profile completes profiles

    root = os.path.dirname(conf)
    settings: dict = {}
    try:
        with open(os.path.join(root, "pyproject.toml"), "rb") as fh:
            settings = tomllib.loads(fh.read(1 << 20).decode("utf-8", "replace")).get("tool", {}).get("heyhi", {})
    except (OSError, tomllib.TOMLDecodeError):
        pass
    return load_profiles(root, settings).names() + [NO_PROFILE]


def _states() -> list[str]:
    from heyhi.states import FINAL_STATES, LIVE_STATES  # lean: only --state completes states

    return sorted(LIVE_STATES | FINAL_STATES)


def _paths(cur: str, cwd: str, dirs_only: bool = False, exts: tuple[str, ...] | None = None,
           base: str | None = None) -> list[Cand]:
    """Folders (``name/``) and files under ``base`` (default: the working folder) that extend ``cur``."""
    head, _, part = cur.rpartition("/")
    shown = head + "/" if head or cur.startswith("/") else ""
    folder = os.path.expanduser(shown) if shown else "."
    folder = os.path.join(base or cwd, folder)
    out = []
    try:
        with os.scandir(folder) as it:
            for n, e in enumerate(it):
                if n >= MAX_ENTRIES:
                    break
                if not e.name.startswith(part) or (e.name.startswith(".") and not part.startswith(".")):
                    continue
                if e.name == "__pycache__":
                    continue
                try:
                    is_dir = e.is_dir()
                except OSError:
                    continue
                if is_dir:
                    out.append(Cand(shown + e.name + "/"))
                elif not dirs_only and (exts is None or e.name.endswith(exts)):
                    out.append(Cand(shown + e.name))
    except OSError:
        return []
    return sorted(out, key=lambda c: c.value)


def _configs(cur: str, cwd: str) -> list[Cand]:
    """Config files and folders from the working folder, then relative to the project's ``conf/``
    (``-c`` takes both: ``heyhi.config.project.resolve_config``)."""
    from heyhi.cli.fieldcache import CONFIG_EXTS  # lean: only -c completes config paths

    out = _paths(cur, cwd, exts=CONFIG_EXTS)
    if not cur.startswith(("/", "~")):
        conf = _conf_dir(cwd)
        if conf is not None and os.path.realpath(conf) != os.path.realpath(cwd):
            seen = {c.value for c in out}
            out += [c for c in _paths(cur, cwd, exts=CONFIG_EXTS, base=conf) if c.value not in seen]
    return out


def _conf_dir(cwd: str) -> str | None:
    """The ``conf/`` of the project around ``cwd``: the nearest folder upward holding ``conf/``, as
    ``heyhi.config.project.find_project_root`` finds it with no config (a test holds them equal;
    pathlib alone would cost a TAB a fifth of its time)."""
    d = os.path.abspath(cwd)
    while True:
        if os.path.isdir(os.path.join(d, "conf")):
            return os.path.join(d, "conf")
        up = os.path.dirname(d)
        if up == d:
            return None
        d = up


# ---- overrides -------------------------------------------------------------------------------------


def _task_keys(cfg: str, project: str | None, cwd: str, includes: bool = True):
    from heyhi.cli.fieldcache import task_keys  # lean: only an override completes keys

    return task_keys(cfg, project, cwd, includes=includes)


def _overrides(cfg: str, project: str | None, cur: str, cwd: str) -> list[Cand]:
    lead = cur[: len(cur) - len(cur.lstrip("-"))]
    body = cur[len(lead):]
    # Include names are read only for a word that may be an I<mount>= (or an empty word: mounts too).
    keys = _task_keys(cfg, project, cwd, includes=not body or body.startswith("I"))
    if keys is None:
        return []
    if "=" in body:
        lhs, _, val = body.partition("=")
        out = _include_values(keys, lhs, val) if lhs.startswith("I") and keys.field(lhs) is None else None
        if out is None:
            out = _field_values(keys, lhs, val)
    else:
        out = _key_level(keys, body)
        if not lead and (body.startswith("I") or not body):
            out += _mounts(keys, body)
    for c in out:
        c.value = lead + c.value
    return out


def _key_level(keys, cur: str) -> list[Cand]:
    """The keys one level below ``cur``'s parent that extend it: ``enc`` -> ``encoder.``, ``lr=``."""
    parent, dot, part = cur.rpartition(".")
    norm = keys.normal(parent) if parent else ""
    if parent and norm not in keys.fields and not (norm.endswith(".N") and keys.is_message_list(norm[:-2])):
        return []
    if parent and keys.is_message_list(norm):  # a repeated message: an index comes next
        return [Cand(f"{parent}.{i}.", "an element (-1: append)") for i in ("0", "-1") if i.startswith(part)]
    out = []
    for key in keys.children(norm):
        name = key.rpartition(".")[2]
        if not name.startswith(part):
            continue
        typ, default, doc, _enums, oneof, is_msg = keys.fields[key]
        full = f"{parent}{dot}{name}"
        about = typ + (f" [oneof {oneof}]" if oneof else "") + (f" (default {default})" if default else "") + \
            (f": {doc}" if doc else "")
        if name == "includes" and typ.startswith("repeated"):
            continue  # a config file's includes, not an override (I<mount>= is)
        listed = keys.is_message_list(key)
        if is_msg or listed:
            out.append(Cand(full + ".", about))
            if part == name and (listed or oneof):  # a whole list, a oneof branch to SELECT
                out.append(Cand(full + "=", about))
        else:
            out.append(Cand(full + "=", about))
    return out


def _field_values(keys, lhs: str, val: str) -> list[Cand]:
    """After ``key=``: its enum values (or ``true``/``false``), then ``NULL`` (and ``SELECT`` for a message)."""
    info = keys.field(lhs)
    if info is None:
        return []
    typ, default, _doc, enums, _oneof, is_msg = info
    values = list(enums)
    if typ == "bool":
        values += ["true", "false"]
    if is_msg:
        values.append("SELECT")
    values.append("NULL")
    about = {"NULL": "clear it", "SELECT": "select it, empty"}
    return [Cand(f"{lhs}={v}", about.get(v, "default" if v == default else ""))
            for v in dict.fromkeys(values) if v.startswith(val)]


def _mounts(keys, cur: str) -> list[Cand]:
    """``I<mount>=`` for the mounts with fitting includes, one level at a time (``I``, ``Iagent_one=``,
    ``Ibqre1p.``)."""
    part = cur[1:] if cur.startswith("I") else ""
    if part.startswith("."):
        part = part[1:]
    out: dict[str, Cand] = {}
    for mount, names in keys.includes.items():
        if not mount.startswith(part):
            continue
        if mount == "":
            out.setdefault("I=", Cand("I=", f"include into the task itself ({len(names)} fit)"))
            continue
        rest = mount[len(part):]
        head, dot, _ = rest.partition(".")
        if dot:
            v = f"I{part}{head}."
            out.setdefault(v, Cand(v, "a mount below"))
        else:
            v = f"I{mount}="
            out[v] = Cand(v, f"include at {mount} ({len(names)} fit)")
    return list(out.values())


def _include_values(keys, lhs: str, val: str) -> list[Cand] | None:
    """After ``I<mount>=``: the include names that fit the mount, one folder at a time; None when
    ``lhs`` is no mount."""
    mount = lhs[1:].lstrip(".")
    names = keys.includes.get(mount)
    if names is None:
        return None if mount and keys.field(mount) is None else []
    out: dict[str, Cand] = {}
    for name in names:
        if not name.startswith(val):
            continue
        rest = name[len(val):]
        head, slash, _ = rest.partition("/")
        v = f"{lhs}={val}{head}{slash}"
        out.setdefault(v, Cand(v))
    return list(out.values())


# ---- jobs --------------------------------------------------------------------------------------------


def _jobs(cur: str) -> list[Cand]:
    """Job ids (and run folders, once ``cur`` holds a ``/``) from the daemon, else its saved index."""
    jobs = _jobs_from_daemon()
    if jobs is None:
        jobs = _jobs_from_index()
    out = []
    for job_id, run_dir, state, config in jobs:
        about = f"{state} {os.path.basename(config)}".strip()
        if job_id.startswith(cur):
            out.append(Cand(job_id, about))
        if "/" in cur and run_dir.startswith(cur):
            out.append(Cand(run_dir, f"{job_id} {state}"))
    return out


def _jobs_from_daemon() -> list[tuple[str, str, str, str]] | None:
    from heyhi.wire.paths import socket_path  # lean: only a JOB asks the daemon (stdlib only)

    if not os.path.exists(socket_path()):  # no daemon: not even the client's import
        return None
    try:
        from heyhi.wire.client import connect_or_none  # lean: only a JOB completes from the daemon
        from heyhi.wire.protocol import ListJobs  # lean: only a JOB completes from the daemon

        client = connect_or_none(timeout=2.0)
        if client is None:
            return None
        with client:
            jobs = client.request(ListJobs()).jobs
    except Exception:  # noqa: BLE001 - no answer: the saved index
        return None
    return [(j.job_id, j.run_dir, str(j.state), j.config) for j in jobs[-MAX_CANDIDATES:]]


def _jobs_from_index() -> list[tuple[str, str, str, str]]:
    """The jobs of the daemon's saved ``index.json`` (``heyhi.wire.paths.state_dir``), read bounded."""
    from heyhi.wire.paths import state_dir  # lean: only a JOB with no daemon up reads the index

    try:
        with open(os.path.join(state_dir(), "index.json"), "rb") as fh:
            raw = fh.read(MAX_INDEX_BYTES + 1)
        if len(raw) > MAX_INDEX_BYTES:
            return []
        import json  # lean: only a saved index needs it (json loads re: a fifth of a TAB)

        jobs = json.loads(raw).get("jobs", [])
    except (OSError, ValueError, AttributeError):
        return []
    out = []
    for j in jobs[-MAX_CANDIDATES:]:
        if isinstance(j, dict) and isinstance(j.get("job_id"), str):
            out.append((j["job_id"], str(j.get("run_dir", "")), str(j.get("state", "")), str(j.get("config", ""))))
    return out


# ---- the help, read once ---------------------------------------------------------------------------


def help_tables() -> dict:
    """command -> {"commands": {name: (about, flags, positionals)}, "flags": {flag: (metavar, about)}},
    read from every command's help (``heyhi.cli.helptext``) and kept in the cache folder while the
    help's modules are unchanged (reading them costs more than a completion may)."""
    from heyhi.cli.fieldcache import cache_dir, read_marshal  # lean: the cache's folder and reader, no more

    here = os.path.dirname(os.path.abspath(__file__))
    sources = [os.path.join(here, n) for n in ("helptext.py", "args.py", "completion.py")]
    stamps = []
    for p in sources:
        try:
            st = os.stat(p)
            stamps.append(f"{p}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            stamps.append(f"{p}:missing")
    key = "\0".join([str(TABLES_FORMAT), sys.version] + stamps)
    path = os.path.join(cache_dir(), "help-tables.marshal")
    data = read_marshal(path, 1 << 20)
    if isinstance(data, dict) and data.get("key") == key and isinstance(data.get("tables"), dict):
        return data["tables"]
    tables = _read_help_tables()
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(marshal.dumps({"key": key, "tables": tables}))
        os.replace(tmp, path)
    except OSError:
        pass
    return tables


def _read_help_tables() -> dict:
    from heyhi.cli.helptext import COMMANDS, help_text, parse_help  # lean: only a stale table reads the help

    tables = {}
    for cmd in ("heyhi",) + COMMANDS:
        h = parse_help(help_text(cmd))
        flags = {f: (meta, row.about) for f, (meta, row) in h.flags().items()}
        commands = {name: (row.about, {f: (m, row.about) for f, m in row.flags()}, row.positionals())
                    for name, row in h.commands().items()}
        tables[cmd] = {"flags": flags, "commands": commands}
    return tables
