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
    "--print-out-dir": ("print_out_dir", "no"),
    "--help-fields": ("help_fields", "optional"),
    "--force": ("force", "no"),
    "--wait": ("wait", "no"),
    "--no-daemon": ("no_daemon", "no"),
    "--project": ("project", "yes"),
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

Compose CFG with the overrides, pick its run folder, and run its task (locally, or as its
launcher says). Overrides: key=value (a leading -- is optional), I<mount>=<include>, key=NULL.

flags:
  -c, --cfg CFG          the config file (required)
  --mode MODE            gentle_start (default) | start_restart | start_continue | restart | dryrun
  --adhoc                put the run under adhoc/<date>/ (mode defaults to restart)
  --out PATTERN          the run folder, relative to the results root
  --checkpoint DIR       where to snapshot the code ("" disables the snapshot)
  --force                wipe without asking
  --wait                 with a daemon: follow the log and exit with the job's exit code
  --no-daemon            run embedded even when a daemon is up
  --project DIR          the project root (default: the folder holding conf/ above CFG)
  --remote HOST          send the launch to the daemon on HOST over SSH
  --print                print the composed task in text format and exit
  --print-flat           print the set fields as key=value lines and exit
  --print-flat-all       print every field as key=value lines and exit
  --print-out-dir        print the run folder and exit
  --help-fields [PREFIX] list the task's fields (type, default, value, doc) and exit
sweep flags: --plan --trials N --sweep-seed S --zip a,b --retry-failed --max-parallel N --metric NAME[:max|:min]"""


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
    print_out_dir: bool = False
    help_fields: str | None = None
    force: bool = False
    wait: bool = False
    no_daemon: bool = False
    project: str | None = None
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


def parse_run_args(argv: list[str]) -> RunArgs:
    """Split argv into HeyHi's flags and overrides (a one-line ``UsageError`` on misuse)."""
    args = RunArgs()
    i = 0
    while i < len(argv):
        tok = argv[i]
        name, eq, val = tok.partition("=")
        spec = FLAGS.get(name) if tok.startswith("-") else None
        if spec is None:
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
    if args.cfg is None:
        raise UsageError("missing -c/--cfg CONFIG")
    if args.mode is not None and args.mode not in MODES:
        raise UsageError(f"--mode {args.mode!r}: expected one of {', '.join(MODES)}")
    return args
