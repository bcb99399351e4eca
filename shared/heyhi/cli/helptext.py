"""The help of every ``heyhi`` command, in one style.

Promises:
- One style, for ``heyhi --help``, ``heyhi help CMD``, ``heyhi CMD --help`` and ``heyhi-daemon --help``
  (which writes its own text in this style: it may not import the cli wing). ``parse_help`` reads a
  text back and raises ``ValueError`` naming the first line off the style, so a test holds every help
  to it::

      usage: heyhi CMD ...                  one or more usage lines (the others indented 7 spaces)
                                            (a blank line)
      What the command does: one paragraph.
                                            (a blank line)
      flags:                                sections: a title ending in ':', then rows
        -c, --cfg CFG             the config file     a row: 2 spaces, the term, 2+ spaces, what it
                                  (a longer text goes on, indented 28 spaces)   does (column 28)
      A closing paragraph.                  any paragraph after the sections

  Lines are at most 100 characters. A row's term is a command (``show JOB``, ``logs JOB [-f] [-n N]``)
  or flags (``-c, --cfg CFG``, ``--help-fields [PREFIX]``); the metavars (upper case) say what a value
  is, and completion reads them (``heyhi.cli.completion``): the help is the one table of commands
  and flags, so whatever it lists completes.
- ``heyhi run``'s help is ``heyhi.cli.args.RUN_HELP`` (beside the parser's table of flags; a test
  checks that both list the same flags).
- A ``--name`` that is not a flag: ``heyhi.cli.flaghints``.

Imports nothing of HeyHi at the top: ``heyhi --help`` and completion stay lean.
"""

from __future__ import annotations

import re

WIDTH = 100  # characters per line, at most
TERM_WIDTH = 24  # a row's description starts at column 2 + TERM_WIDTH + 2, unless its term is longer
DESC_COLUMN = 2 + TERM_WIDTH + 2

TOP_HELP = """usage: heyhi COMMAND [ARGS...]
       heyhi --version | --help

Compose typed configs with overrides, launch runs locally or on Slurm, and follow them. `heyhi help
COMMAND` (or `heyhi COMMAND --help`) shows a command's help.

commands:
  run                       compose a config with overrides, then print it or launch it
  ctl                       the daemon's jobs: status, list, show, wait, logs, restart, cancel, ...
  sweep                     launch a sweep file; report, follow, cancel and clean sweeps
  diff RUN_A RUN_B          the keys whose values differ between two runs (or a run and a config)
  compare RUN|SWEEP...      runs side by side, grouped over the seed, with metrics
  stubs                     write .pyi type stubs of the schema's configs (for editors and mypy)
  profiles                  list the project's profiles: named flag files and overrides
  completion SHELL          print the shell completion script (bash, zsh or fish)
  help [COMMAND]            show the help of a command

flags:
  -h, --help                show this help
  --version                 print HeyHi's version

The daemon is `heyhi-daemon` (heyhi-daemon --help), the terminal UI `heyhi-tui`."""

CTL_HELP = """usage: heyhi ctl [--remote HOST] [--json] COMMAND [ARGS...]

Ask the daemon about its jobs, or act on them. Without a daemon, list, show, logs and wait read the
run folders under the results roots; trash, restore and clean work on the folders.

commands:
  status                    the daemon and a table of jobs
  list [--state STATE[,STATE...]] [--config CFG] [TEXT]
                            the jobs, filtered by state, config and text
  show JOB                  state, overrides, composed config, result, last metrics, times, history
  wait JOB... [--timeout S]  until every job has ended: exit 0 if all completed, 1 if not, 124 on
                            timeout
  logs JOB [-f] [--stderr] [-n N] [--all]
                            on a terminal the last 50 lines (--all: all, -f: follow); piped: all
  restart JOB [--yes]       rerun its recorded config in its folder (asks first if that wipes a run)
  cancel JOB                stop the job
  wipe JOB [--yes] [--purge]
                            move the job's run folder to the trash (asks first); --purge deletes it
  trash                     list wiped run folders (kept 7 days: HEYHI_TRASH_DAYS)
  restore ENTRY|FOLDER      bring a wiped run folder back where it was
  clean [--sweep SWEEP] [--yes]  list lost runs; wipe them (asks first) so they run again
  stop                      stop the daemon

flags:
  --remote HOST             ask the daemon on HOST, over SSH
  --json                    print JSON instead of tables
  -h, --help                show this help

JOB is a job id, a unique id prefix, or a run folder."""

SWEEP_HELP = """usage: heyhi sweep SWEEPFILE [overrides...] [flags]
       heyhi sweep report|best|status|list|cancel|clean ...

Launch the points of a sweep file (YAML: config, axes, search) that have not run yet, or report on,
follow, cancel and clean a sweep. A sweep from the command line is `heyhi run -c CFG key=[a,b]`
(heyhi help run).

commands:
  report SWEEP [--metric M] [--csv] [--json] [--no-plots]
                            the points side by side, grouped over the seed, with plots
  best SWEEP --seeds SEEDS [--metric M] [--plan] [--wait] [--no-daemon]
                            run the best point's config again with new seeds
  status [SWEEP] [--json]   a sweep's points by state (all sweeps: no SWEEP)
  list                      every sweep the daemon knows
  cancel SWEEP              stop launching a sweep's points and cancel its running ones
  clean [SWEEP] [--yes]     list a sweep's lost runs; wipe them (asks first) so they run again

flags (launching a sweep file):
  --plan                    print the points and their states; launch nothing
  --retry-failed            relaunch the crashed and lost points too
  --max-parallel N          run at most N points at once
  --trials N                sample N points (random search)
  --wait                    with a daemon: follow the sweep until it ends
  --no-daemon               run the points embedded, one after the other
  --print-out-dir           print each point's run folder and exit
  --checkpoint DIR          where to snapshot the code ("" disables the snapshot)
  --project DIR             the project root (default: the folder holding conf/ above the config)
  --profile PROFILE         put a profile's flag files and overrides before the overrides given
                            (default: the project's default profile; none: no profile)
  -h, --help                show this help

SWEEP is a sweep folder, a sweep file, or a sweep id or a unique part of its folder name."""

STUBS_HELP = """usage: heyhi stubs [--project DIR] [--out FILE]

Write .pyi type stubs of the schema's frozen configs, for editors and mypy: one class per message.

flags:
  --project DIR             the project root (default: the folder holding conf/ above here)
  --out FILE                where to write them (default: conf/heyhi_configs.pyi)
  -h, --help                show this help"""

COMPLETION_HELP = """usage: heyhi completion SHELL

Print the completion script of SHELL (bash, zsh or fish): commands, flags, config paths, the
config's keys (dotted, oneof branches, I<mount>= with the include files that fit), enum values, NULL
and SELECT, and ctl's jobs. Load it from your shell's start-up file:

commands:
  bash                      eval "$(heyhi completion bash)"            in ~/.bashrc
  zsh                       eval "$(heyhi completion zsh)"             in ~/.zshrc, after compinit
  fish                      heyhi completion fish | source             in ~/.config/fish/config.fish

flags:
  -h, --help                show this help

A completion takes the keys from the daemon's answer or from a cache under ~/.cache/heyhi/complete/
(kept per config, rebuilt when the schema's files or the config change)."""

DIFF_HELP = """usage: heyhi diff RUN_A RUN_B [--json] [-u]
       heyhi diff RUN -c CFG [--project DIR] [overrides...] [--json] [-u]

Print the keys whose values differ between two runs (or a run and a config with overrides), each
with where it came from, as recorded at launch (runs launched before HeyHi recorded it show values
only).

flags:
  -c, --cfg CFG             compare the run with this config, composed now with the overrides
  --project DIR             the project root (default: the folder holding conf/ above CFG)
  --json                    print JSON
  -u, --unified             also print the line diff of the two composed configs
  -h, --help                show this help

RUN is a run folder, a job id or a unique id prefix."""

COMPARE_HELP = """usage: heyhi compare RUN|SWEEP... [flags]

Show runs side by side: the overrides that differ, state, runtime, and the final and best value of
the metric. Runs that differ only in the repeat axes make one row with the mean, std and n.

flags:
  --metric NAME[:max|:min]  the metric (default: the sweeps' own, else loss, else the first logged)
  --group-over KEYS         the repeat axes, comma-separated (default: seed; none: group nothing)
  --sort KEY                sort by a column: a swept key, mean, std, n, best, runtime, state
                            (-KEY: descending)
  --csv                     print CSV
  --json                    print JSON
  --plots DIR               write the sweep report's plots into DIR
  -h, --help                show this help

RUN is a run folder, a job id or a unique id prefix; SWEEP a sweep folder, file, id or part of its
name (every point of it)."""

PROFILES_HELP = """usage: heyhi profiles [--project DIR]

List the project's profiles, named sets of flag files and overrides declared in pyproject.toml
([tool.heyhi.profiles.NAME], default-profile in [tool.heyhi]) or in conf/profiles.yaml: each
one's name (* marks the default), description, where it is declared, and the override strings it
expands to. `heyhi run --profile NAME` and `heyhi sweep FILE --profile NAME` put them before the
command line's own overrides.

flags:
  --project DIR             the project root (default: the folder holding conf/ above here)
  -h, --help                show this help"""

HELP_HELP = """usage: heyhi help [COMMAND]

Show the help of COMMAND (run, ctl, sweep, diff, compare, stubs, profiles, completion, help), or of
heyhi.

flags:
  -h, --help                show this help"""

_TEXTS = {"heyhi": TOP_HELP, "ctl": CTL_HELP, "sweep": SWEEP_HELP, "diff": DIFF_HELP, "compare": COMPARE_HELP,
          "stubs": STUBS_HELP, "profiles": PROFILES_HELP, "completion": COMPLETION_HELP, "help": HELP_HELP}
COMMANDS = ("run", "ctl", "sweep", "diff", "compare", "stubs", "profiles", "completion", "help")


def help_text(command: str = "heyhi") -> str | None:
    """The help of ``command`` (``"heyhi"``: the program's own), or None for no such command."""
    if command == "run":
        from heyhi.cli.args import RUN_HELP  # lean: heyhi --help and completion do not need the run parser

        return RUN_HELP
    return _TEXTS.get(command)


# ---- reading a help back -------------------------------------------------------------------------


class Row:
    """One row of a section: its term (``show JOB``, ``-c, --cfg CFG``) and what it does."""

    __slots__ = ("term", "about")

    def __init__(self, term: str, about: str):
        self.term = term
        self.about = about

    @property
    def name(self) -> str:
        """A command row's command (``show``), or a flag row's first long flag."""
        flags = self.flags()
        if self.term.startswith("-"):
            return next((f for f, _ in flags if f.startswith("--")), flags[0][0])
        return self.term.split()[0]

    def flags(self) -> list[tuple[str, str]]:
        """(flag, metavar or "") for every flag the term names, in order: ``-n N`` gives
        ("-n", "N"); ``--help-fields [PREFIX]`` gives ("--help-fields", "[PREFIX]")."""
        out = [(m.group(1), _balanced(m.group(2) or "")) for m in _FLAG_RE.finditer(self.term)]
        if self.term.startswith("-"):  # "-c, --cfg CFG": the metavar belongs to both names
            meta = next((v for _, v in out if v), "")
            out = [(f, meta) for f, _ in out]
        return out

    def positionals(self) -> list[str]:
        """The metavars of a command row that belong to no flag (``JOB``, ``SWEEP``, ``JOB...``)."""
        if self.term.startswith("-"):
            return []
        rest = _FLAG_RE.sub(" ", self.term.split(None, 1)[1] if " " in self.term else "")
        return [w for w in (x.strip("[]|") for x in rest.split()) if w[:1].isupper()]


def _balanced(meta: str) -> str:
    """A metavar without the closing brackets of the option group around it (``N]`` -> ``N``)."""
    while meta.endswith("]") and meta.count("]") > meta.count("["):
        meta = meta[:-1]
    return meta


_FLAG_RE = re.compile(r"(?<![\w-])(--?[a-z][a-z0-9-]*)(?:[ =](\[?[A-Z][A-Za-z0-9_.,|:\[\]]*))?")


class Help:
    """A help text read back: its usage lines, its paragraphs and its sections (title -> rows)."""

    def __init__(self, usage: list[str], paragraphs: list[str], sections: dict[str, list[Row]]):
        self.usage = usage
        self.paragraphs = paragraphs
        self.sections = sections

    def rows(self, title_prefix: str) -> list[Row]:
        """The rows of every section whose title starts with ``title_prefix`` (``"flags"`` matches
        ``flags:`` and ``flags (launching a sweep file):``)."""
        return [r for t, rows in self.sections.items() if t.startswith(title_prefix) for r in rows]

    def commands(self) -> dict[str, Row]:
        return {r.name: r for r in self.rows("commands")}

    def flags(self) -> dict[str, tuple[str, Row]]:
        """Every flag of the sections titled ``flags...`` or ``... flags...``: flag -> (metavar, row)."""
        out: dict[str, tuple[str, Row]] = {}
        for title, rows in self.sections.items():
            if "flags" in title:
                for r in rows:
                    for f, meta in r.flags():
                        out.setdefault(f, (meta, r))
        return out


def parse_help(text: str) -> Help:
    """Read a help text written in the style (see the module docstring); ``ValueError`` names the
    first line that is off it."""
    lines = text.split("\n")

    def bad(i: int, why: str) -> ValueError:
        return ValueError(f"help line {i + 1}: {why}: {lines[i]!r}")

    for i, line in enumerate(lines):
        if len(line) > WIDTH:
            raise bad(i, f"longer than {WIDTH} characters")
        if line != line.rstrip():
            raise bad(i, "trailing spaces")
    if not lines or not lines[0].startswith("usage: "):
        raise bad(0, "the first line must start with 'usage: '")
    usage = [lines[0][7:]]
    i = 1
    while i < len(lines) and lines[i].startswith(" " * 7) and lines[i].strip():
        usage.append(lines[i].strip())
        i += 1
    paragraphs: list[str] = []
    sections: dict[str, list[Row]] = {}
    while i < len(lines):
        if lines[i] != "":
            raise bad(i, "expected a blank line between blocks")
        i += 1
        if i >= len(lines) or not lines[i]:
            raise bad(min(i, len(lines) - 1), "one blank line between blocks, none at the end")
        start = i
        while i < len(lines) and lines[i]:
            i += 1
        block = lines[start:i]
        if block[0].endswith(":") and not block[0].startswith(" ") and len(block) > 1 and block[1].startswith("  "):
            rows: list[Row] = []
            for j, line in enumerate(block[1:], start + 1):
                if line.startswith(" " * DESC_COLUMN) and rows:  # a description going on
                    rows[-1].about = (rows[-1].about + " " + line.strip()).strip()
                    continue
                if not line.startswith("  ") or line.startswith("   "):
                    raise bad(j, "a row starts with exactly two spaces")
                m = re.match(r"(\S.*?)( {2,})(\S.*)$", line[2:])
                term, sep, about = m.groups() if m else (line[2:], "", "")
                if about and len(term) < TERM_WIDTH and 2 + len(term) + len(sep) != DESC_COLUMN:
                    raise bad(j, f"a row's description starts at column {DESC_COLUMN + 1}")
                rows.append(Row(term, about))
            sections[block[0][:-1]] = rows
        else:
            for j, line in enumerate(block, start):
                if line.startswith(" "):
                    raise bad(j, "a paragraph line starts at column 1")
            paragraphs.append(" ".join(block))
    if not paragraphs:
        raise ValueError("help: no paragraph saying what the command does")
    return Help(usage, paragraphs, sections)
