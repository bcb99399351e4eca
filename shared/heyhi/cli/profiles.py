"""``heyhi profiles [--project DIR]``: list the project's profiles (``heyhi.config.profiles``).

One block per profile, sorted by name::

    fast *  a quick smoke run  (pyproject.toml:14)
        @/home/me/proj/conf/flags/fast.yaml num_steps=10

``*`` marks the default profile; the second line is the expansion, shell-quoted so it can be pasted
after ``heyhi run -c CFG`` (the same run folder as ``--profile fast``). A flag file that is missing
shows as ``(missing: PATH)``. Errors are one line (exit 2).
"""

from __future__ import annotations

import shlex
import sys

from heyhi.errors import ConfigError, UsageError


def main(argv: list[str]) -> int:
    """Entry point of ``heyhi profiles``; returns the exit code."""
    from heyhi.cli.exits import one_line_errors  # lean: keeps heyhi --help from loading it

    return one_line_errors(_main, argv)


def _main(argv: list[str]) -> int:
    project_dir = None
    i = 0
    while i < len(argv):
        name, eq, val = argv[i].partition("=")
        if name == "--project":
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError("--project needs a value")
                i += 1
                val = argv[i]
            project_dir = val
        else:
            raise UsageError(f"unexpected argument {argv[i]!r}: heyhi profiles [--project DIR]")
        i += 1
    from heyhi.config.profiles import load_profiles  # lean: only this command reads them here
    from heyhi.config.project import Project  # lean: keeps heyhi --help from loading it

    project = Project.find(None, project_dir)
    profiles = load_profiles(project.root, project.settings)
    if not profiles.by_name:
        print(f"no profiles in {project.root}: declare them in pyproject.toml ([tool.heyhi.profiles.NAME]) "
              f"or conf/profiles.yaml")
        return 0
    out = []
    for name in profiles.names():
        p = profiles.by_name[name]
        mark = " *" if name == profiles.default else ""
        desc = f"  {p.description}" if p.description else ""
        out.append(f"{name}{mark}{desc}  ({_short(p.where, project.root)})")
        try:
            tokens = p.expand()
            shown = " ".join(shlex.quote(t) for t in tokens) or "(no overrides)"
        except ConfigError:  # a flag file missing: say which, list the rest
            missing = [str(f) for f in p.flags if not f.is_file()]
            shown = " ".join(f"(missing: {m})" for m in missing)
        out.append(f"    {shown}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _short(where: str, root) -> str:
    prefix = f"{root}/"
    return where[len(prefix):] if where.startswith(prefix) else where
