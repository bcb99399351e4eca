"""``heyhi run`` (and ``python run.py``): compose, print or launch."""

from __future__ import annotations

import sys
from pathlib import Path

from heyhi.config.grammar import looks_like_sweep  # the one grammar; a leaf, cheap to import
from heyhi.cli.args import RUN_HELP, parse_run_args
from heyhi.errors import ConfigError  # a leaf, already loaded by the parser


def main(argv: list[str] | None = None, tasks_module: str | None = None) -> int:
    """Entry point; returns the exit code. Errors are one line on stderr, never a traceback.

    Called with no arguments (``heyhi.main()`` at the end of a project's run.py) it reads
    ``sys.argv`` and exits, so ``python run.py -c CFG ...`` behaves as ``heyhi run -c CFG ...``.
    """
    if argv is None:
        sys.exit(main(sys.argv[1:], tasks_module))
    from heyhi.cli.exits import one_line_errors  # lean: keeps the start-up of heyhi run, heyhi run --print from loading it

    return one_line_errors(_main, argv, tasks_module)


def _main(argv: list[str], tasks_module: str | None) -> int:
    args = parse_run_args(argv)
    if args.help:
        print(RUN_HELP)
        return 0
    if args.remote:
        if args.profile is not None:
            from heyhi.errors import UsageError  # lean: only an error needs it

            raise UsageError("--profile is not available with --remote (the profile is this project's)")
        from heyhi.cli.remote_run import run_remote  # lean: keeps the start-up of heyhi run, heyhi run --print from loading it

        return run_remote(args)
    if args.replayable and not (args.print_flat or args.print_flat_all):
        from heyhi.errors import UsageError  # lean: only an error needs it

        raise UsageError("--replayable goes with --print-flat or --print-flat-all")
    from heyhi.config.project import resolve_config  # lean: keeps the start-up of heyhi run from loading it

    cfg, note = resolve_config(args.cfg, args.project)
    if note:
        print(f"heyhi: note: {note}", file=sys.stderr)
    args.cfg = str(cfg)
    _expand_profile(cfg, args)
    flag_files = [t[1:] for t in args.overrides if t.startswith("@")]
    try:
        return _compose_and_go(cfg, args, tasks_module)
    except ConfigError as e:
        where = _where_in_flag_files(flag_files, e.token) if flag_files and e.token else None
        if where is None:
            raise
        raise ConfigError(e.message, where, override=e.override, token=e.token) from None


def _compose_and_go(cfg: Path, args, tasks_module: str | None) -> int:
    if args.plan or args.trials or args.zip or any(map(looks_like_sweep, args.overrides)):
        # --- sweeps (heyhi.cli.sweep): None means "no sweep after all", go on with args.overrides
        from heyhi.cli.sweep import run_sweep  # lean: keeps the start-up of heyhi run, heyhi run --print from loading it

        code = run_sweep(args, tasks_module)
        if code is not None:
            return code
    from heyhi.config.compose import composer_for  # lean: keeps the start-up of heyhi run from loading it
    from heyhi.config.project import Project  # lean: keeps the start-up of heyhi run from loading it

    project = Project.find(cfg, args.project)
    composer = composer_for(project)
    if args.print_out_dir and not (args.print or args.print_flat or args.print_flat_all):
        # Only the folder: still validate the overrides so a typo does not name a folder.
        composed = composer.compose(cfg, args.overrides)
        _note_flag_fields(composed, args)
        print(_out_dir(project, composed, args))
        return 0
    only_reads = (args.print or args.print_flat or args.print_flat_all or args.help_fields is not None) \
        and not args.print_out_dir
    composed = composer.compose(cfg, args.overrides, checked=not only_reads)  # a script's required flags: at launch
    _note_flag_fields(composed, args)
    if args.print or args.print_flat or args.print_flat_all or args.print_out_dir or args.help_fields is not None:
        from heyhi.config.printing import flat_lines, replayable_lines, to_text  # lean: keeps the start-up of heyhi run from loading it

        out = []
        if args.print:
            out.append(to_text(composed.task_msg) + "\n")
        if args.print_flat or args.print_flat_all:
            lines = replayable_lines if args.replayable else flat_lines
            out.extend(line + "\n" for line in lines(composed.task_msg, with_all=args.print_flat_all))
        if args.print_out_dir:
            out.append(f"{_out_dir(project, composed, args)}\n")
        if args.help_fields is not None:
            from heyhi.config.fieldhelp import field_help  # lean: keeps the start-up of heyhi run, heyhi run --print from loading it

            out.append(field_help(composed, args.help_fields))
        sys.stdout.write("".join(out))
        return 0
    from heyhi.cli.embedded import launch_from_cli  # lean: keeps the start-up of heyhi run, heyhi run --print from loading it

    return launch_from_cli(project, composed, args, tasks_module=tasks_module)


def _expand_profile(cfg: Path, args) -> None:
    """Put the profile's override strings (``--profile``, else the project's default) before the
    command line's own: the run folder is hashed from them, as if typed by hand."""
    from heyhi.config.project import Project  # lean: keeps the start-up of heyhi run from loading it

    project = Project.find(cfg, args.project)
    settings = project.settings
    if args.profile is None and "profiles" not in settings and "default-profile" not in settings and not (
            project.conf_dir / "profiles.yaml").exists():
        return  # no profiles declared: nothing to load
    from heyhi.config.profiles import load_profiles  # lean: only a project with profiles needs it

    args.overrides = load_profiles(project.root, settings).expand(args.profile) + args.overrides


def _where_in_flag_files(paths: list[str], token: str) -> str | None:
    """Where (file:line) a flag file of the command line holds the override ``token``: its error
    names the file, as a sweep's does. Read again on this error path only."""
    from heyhi.config import flagfiles  # lean: only an error in an override from a flag file needs it

    for path in paths:
        try:
            ff = flagfiles.load(path)
        except ConfigError:
            continue
        for e in ff.entries + [e for row in ff.rows or [] for e in row]:
            if e.token == token:
                return e.where
    return None


def _out_dir(project, composed, args) -> Path:
    from heyhi.runs.outdir import run_folder  # lean: keeps the start-up of heyhi run, heyhi run --print from loading it

    return run_folder(
        project.results_root, composed.config, project.conf_dir, composed.raw_overrides, args.adhoc, args.out
    )


def _note_flag_fields(composed, args) -> None:
    """Where a flag's name is also a field of the task, the flag wins: say so once."""
    fields = composed.task_msg._type.fields
    for flag in dict.fromkeys(args.given):
        name = flag.lstrip("-").replace("-", "_")
        if len(flag) > 2 and name in fields:
            print(
                f"heyhi: note: {flag} is HeyHi's flag, not the task's field {name!r}; "
                f"to set the field write {name}=VALUE",
                file=sys.stderr,
            )
