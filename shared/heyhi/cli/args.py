"""HeyHi's own flags for ``heyhi run`` (and ``python run.py``); every other token is an override.

No abbreviations: ``--pri`` is an override, not ``--print``. ``--seed=3`` sets the field ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from heyhi.errors import UsageError

MODES = ("gentle_start", "start_restart", "start_continue", "restart", "dryrun")

# flag -> (dest, takes a value: "yes" | "no" | "optional")
FLAGS: dict[str, tuple[str, str]] = {
    "-c": ("cfg", "yes"),
    "--cfg": ("cfg", "yes"),
    "--adhoc": ("adhoc", "no"),
    "--mode": ("mode", "yes"),
    "--out": ("out", "yes"),
    "--checkpoint": ("checkpoint", "yes"),
    "--print": ("print", "no"),
    "--print-flat": ("print_flat", "no"),
    "--print-flat-all": ("print_flat_all", "no"),
    "--replayable": ("replayable", "no"),
    "--print-out-dir": ("print_out_dir", "no"),
    "--help-fields": ("help_fields", "optional"),
    "--force": ("force", "no"),
    "--wait": ("wait", "no"),
    "--no-daemon": ("no_daemon", "no"),
    "--project": ("project", "yes"),
    "--profile": ("profile", "yes"),
    "--remote": ("remote", "yes"),
    "--plan": ("plan", "no"),
    "--trials": ("trials", "yes"),
    "--sweep-seed": ("sweep_seed", "yes"),
    "--zip": ("zip", "yes"),
    "--retry-failed": ("retry_failed", "no"),
    "--max-parallel": ("max_parallel", "yes"),
    "--metric": ("metric", "yes"),
    "-h": ("help", "no"),
    "--help": ("help", "no"),
}

RUN_HELP = """usage: heyhi run -c CFG [flags] [overrides...]
       heyhi run SCRIPT.py [flags] [overrides...]

Compose CFG with the overrides, pick its run folder, and run its task (locally, or as its
launcher says). Overrides: key=value (a leading -- is optional), I<mount>=<include>, key=NULL.
A plain Python script is a task too: its flags (argparse, module globals or a dict of
hyperparameters) are read from the script, and the overrides set them.

flags:
  -c, --cfg CFG             the config file (required): a path, or a path relative to conf/
  --mode MODE               gentle_start (default), start_restart, start_continue, restart or
                            dryrun
  --adhoc                   put the run under adhoc/<date>/ (mode defaults to restart)
  --out PATTERN             the run folder, relative to the results root
  --checkpoint DIR          where to snapshot the code ("" disables the snapshot)
  --force                   wipe without asking
  --wait                    with a daemon: follow the log and exit with the job's exit code
  --no-daemon               run embedded even when a daemon is up
  --project DIR             the project root (default: the folder holding conf/ above CFG)
  --profile PROFILE         put a profile's flag files and overrides before the overrides given
                            (default: the project's default profile; none: no profile)
  --remote HOST             send the launch to the daemon on HOST over SSH
  --print                   print the composed task in text format and exit
  --print-flat              print the set fields as key=value lines and exit
  --print-flat-all          print every field as key=value lines and exit
  --replayable              with --print-flat(-all): lines that read back as the same value
                            when given as overrides (or as lines of an @file.txt)
  --print-out-dir           print the run folder and exit
  --help-fields [PREFIX]    list the task's fields (type, default, value, doc) and exit
  -h, --help                show this help

sweep flags (a value [a,b], range(...), choice(...) or a distribution makes the run a sweep):
  --plan                    print the sweep's points and their states; launch nothing
  --trials N                sample N points (random search; adaptive with --metric)
  --sweep-seed S            the seed of the sampling
  --zip A,B                 vary the axes A and B together instead of as a grid
  --retry-failed            relaunch the crashed and lost points too
  --max-parallel N          run at most N points at once
  --metric NAME[:max|:min]  the metric that ranks points (default direction: min)

A --name with no = that is not a flag is refused (write --name=value to set a field)."""


@dataclass
class RunArgs:
    cfg: str | None = None
    adhoc: bool = False
    mode: str | None = None
    out: str | None = None
    checkpoint: str | None = None
    print: bool = False
    print_flat: bool = False
    print_flat_all: bool = False
    replayable: bool = False
    print_out_dir: bool = False
    help_fields: str | None = None
    force: bool = False
    wait: bool = False
    no_daemon: bool = False
    project: str | None = None
    profile: str | None = None
    remote: str | None = None
    plan: bool = False
    trials: str | None = None
    sweep_seed: str | None = None
    zip: str | None = None
    retry_failed: bool = False
    max_parallel: str | None = None
    metric: str | None = None
    help: bool = False
    overrides: list[str] = field(default_factory=list)
    given: list[str] = field(default_factory=list)  # flags given, by name

    @property
    def effective_mode(self) -> str:
        return self.mode or ("restart" if self.adhoc else "gentle_start")


def _is_script_token(tok: str) -> bool:
    """A first positional naming a Python script (``train.py``, ``scripts/rl.py``), not an override."""
    return tok.endswith(".py") and "=" not in tok and not tok.startswith("-")


def parse_run_args(argv: list[str]) -> RunArgs:
    """Split argv into HeyHi's flags and overrides (a one-line ``UsageError`` on misuse)."""
    args = RunArgs()
    unknown: tuple[str, str | None] | None = None  # the first --name with no = that is not a flag
    i = 0
    while i < len(argv):
        tok = argv[i]
        name, eq, val = tok.partition("=")
        spec = FLAGS.get(name) if tok.startswith("-") else None
        if spec is None:
            if tok.startswith("-") and len(tok) > 1:
                if not eq:  # not a flag, not an override: refused after the loop (the hint needs -c)
                    unknown = unknown or (tok, argv[i + 1] if i + 1 < len(argv) else None)
                else:
                    from heyhi.cli.flaghints import note_near_flag  # lean: only a --name=value override needs it

                    note_near_flag(tok, list(FLAGS))
            args.overrides.append(tok)
            i += 1
            continue
        dest, takes = spec
        args.given.append(name)
        if takes == "no":
            if eq:
                raise UsageError(f"{name} takes no value (got {tok!r})")
            setattr(args, dest, True)
        elif takes == "yes":
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"{name} needs a value")
                i += 1
                val = argv[i]
            setattr(args, dest, val)
        else:  # optional value
            if not eq and i + 1 < len(argv) and not argv[i + 1].startswith("-") and "=" not in argv[i + 1]:
                i += 1
                val = argv[i]
            setattr(args, dest, val if (eq or val) else "")
        i += 1
    if args.help:
        return args
    if unknown is not None:
        from heyhi.cli.flaghints import unknown_flag_message  # lean: only a refused flag needs it

        raise UsageError(unknown_flag_message(*unknown, list(FLAGS), args.cfg, args.project))
    if args.cfg is None and args.overrides and _is_script_token(args.overrides[0]):
        args.cfg = args.overrides.pop(0)  # heyhi run train.py [overrides]: a script task
    if args.cfg is None:
        raise UsageError("missing -c/--cfg CONFIG (or a script: heyhi run train.py [overrides])")
    if args.mode is not None and args.mode not in MODES:
        raise UsageError(f"--mode {args.mode!r}: expected one of {', '.join(MODES)}")
    return args

