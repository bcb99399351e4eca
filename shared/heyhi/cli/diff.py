"""``heyhi diff RUN_A RUN_B`` and ``heyhi diff RUN -c CONFIG [overrides]``: the keys whose values differ.

A run's side is the composed config recorded in its folder (``config_meta.prototxt``, read as
``heyhi ctl restart`` reads it: ``heyhi.runs.recorded``), never today's conf files; a config's side
is CONFIG composed now with the overrides. The keys that differ come from ``heyhi.config.diff`` (the
one implementation: a field left unset counts as its default). Beside each value: where it came
from, as recorded at launch in the run's ``heyhi.provenance.json`` (``heyhi.runs.provenance``) or as
composition says for a config; a run launched before that record existed shows values only.

Keys are relative to the task (as overrides spell them) when both sides run the same task, else
relative to the top-level config. ``--json`` prints the same as data; ``-u/--unified`` adds the line
diff of the two configs in text format. Exit 0 (whether or not they differ), 2 on bad input.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from heyhi.cli.ctl import option_value
from heyhi.errors import UsageError

USAGE = """usage: heyhi diff RUN_A RUN_B [--json] [-u]
       heyhi diff RUN -c CONFIG [--project DIR] [overrides...] [--json] [-u]
RUN is a run folder, a job id or a unique id prefix. Prints the keys whose values differ, each with
where it came from (recorded at launch; runs launched before HeyHi recorded it show values only).
  -u, --unified   also print the line diff of the two composed configs"""


@dataclass
class Side:
    """One side of a diff: what it is, its composed config, and where each value came from."""

    label: str
    kind: str  # "run" or "config"
    composed: object  # heyhi.config.compose.Composed
    sources: dict[str, str] | None  # dotted key (relative to the task) -> source; None: not recorded
    overrides: list[str]

    def source(self, key: str, task_relative: bool) -> str | None:
        from heyhi.runs.provenance import source_of  # lean: keeps the start-up of heyhi diff from loading it

        if not task_relative:
            task, _, rest = key.partition(".")
            if task != self.composed.task or not rest:
                return None
            key = rest
        return source_of(self.sources, key)

    def to_json(self) -> dict:
        return {"label": self.label, "kind": self.kind, "task": self.composed.task, "overrides": self.overrides,
                "config": str(self.composed.config), "provenance_recorded": self.sources is not None}


def main(argv: list[str]) -> int:
    from heyhi.cli.exits import one_line_errors  # lean: keeps the start-up of heyhi from loading it

    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    return one_line_errors(_diff, argv)


def _parse(argv: list[str]) -> dict:
    out: dict = {"json": False, "unified": False, "cfg": None, "project": None, "refs": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, val = a.partition("=")
        if a == "--json":
            out["json"] = True
        elif a in ("-u", "--unified"):
            out["unified"] = True
        elif name in ("-c", "--cfg", "--project"):
            val, i = option_value(argv, i, name, eq, val)
            out["project" if name == "--project" else "cfg"] = val
        elif a.startswith("-") and "=" not in a and len(a) > 1:
            raise UsageError(f"diff: unknown flag {a!r} (heyhi diff --help lists them)")
        else:
            out["refs"].append(a)
        i += 1
    refs = out["refs"]
    if out["cfg"] is None:
        if len(refs) != 2:
            raise UsageError("diff takes two runs, or a run and -c CONFIG (heyhi diff --help)")
    elif not refs:
        raise UsageError("diff -c CONFIG needs a run to compare with (heyhi diff --help)")
    return out


def run_side(ref: str) -> Side:
    """A run's side: its recorded config and provenance (``ref``: a folder, job id or prefix)."""
    from heyhi.cli.ctl import resolve_run  # lean: keeps the start-up of heyhi diff from loading it
    from heyhi.runs import provenance, records as R  # lean: keeps the start-up of heyhi diff from loading it
    from heyhi.runs.recorded import load_recorded  # lean: keeps the start-up of heyhi diff from loading it

    d = resolve_run(ref)
    info = R.RunDir(d).read_run()
    if not info.get("project_root"):  # a folder of the original HeyHi: today's project around here
        from heyhi.config.project import Project  # lean: keeps the start-up of heyhi diff from loading it

        info = {**info, "project_root": str(Project.find(None).root), "config": info.get("config") or d}
    composed = load_recorded(d, info)
    ovs = info.get("overrides")
    if ovs is None:
        try:
            ovs = [x for x in (Path(d) / R.OVERRIDES).read_text().splitlines() if x]
        except OSError:
            ovs = []
    return Side(label=d, kind="run", composed=composed, sources=provenance.read(d), overrides=list(ovs))


def config_side(cfg: str, overrides: list[str], project: str | None) -> Side:
    """A config's side: CONFIG composed now with ``overrides``."""
    from heyhi.config.compose import composer_for  # lean: keeps the start-up of heyhi diff from loading it
    from heyhi.config.project import Project  # lean: keeps the start-up of heyhi diff from loading it

    path = Path(cfg)
    proj = Project.find(path, project)
    composed = composer_for(proj).compose(path, overrides)
    label = " ".join([cfg, *overrides])
    from heyhi.runs.provenance import sources  # lean: keeps the start-up of heyhi diff from loading it

    return Side(label=label, kind="config", composed=composed, sources=sources(composed) or None,
                overrides=list(overrides))


def diff_sides(a: Side, b: Side, unified: bool = False) -> dict:
    """The differing keys of two sides with their values and sources (plain data)."""
    from heyhi.config.diff import flat_changes, unified as unified_text  # lean: keeps the start-up of heyhi diff from loading it
    from heyhi.config.printer import to_text  # lean: keeps the start-up of heyhi diff from loading it

    same_task = a.composed.task == b.composed.task
    ma = a.composed.task_msg if same_task else a.composed.meta
    mb = b.composed.task_msg if same_task else b.composed.meta
    changes = [{"key": c.key, "kind": c.kind, "a": c.a, "b": c.b,
                "a_source": a.source(c.key, same_task), "b_source": b.source(c.key, same_task)}
               for c in flat_changes(ma, mb)]
    out = {"a": a.to_json(), "b": b.to_json(), "keys_relative_to": "task" if same_task else "config",
           "changes": changes, "same": not changes}
    if unified:
        out["unified"] = unified_text(to_text(a.composed.meta), to_text(b.composed.meta), f"a: {a.label}", f"b: {b.label}")
    return out


def _diff(argv: list[str]) -> int:
    opts = _parse(argv)
    refs = opts["refs"]
    a = run_side(refs[0])
    b = config_side(opts["cfg"], refs[1:], opts["project"]) if opts["cfg"] is not None else run_side(refs[1])
    d = diff_sides(a, b, opts["unified"])
    if opts["json"]:
        import json  # lean: only --json needs it

        print(json.dumps(d, indent=1, default=str))
        return 0
    print(render(d))
    if opts["unified"] and d.get("unified"):
        sys.stdout.write(d["unified"])
    return 0


def render(d: dict) -> str:
    """The text ``heyhi diff`` prints for ``diff_sides``'s data."""
    lines = [f"a: {d['a']['label']}", f"b: {d['b']['label']}"]
    for side in ("a", "b"):
        s = d[side]
        if s["kind"] == "run" and not s["provenance_recorded"]:
            lines.append(f"{side}: no provenance record (launched before HeyHi recorded one): values only")
    if d["a"]["task"] != d["b"]["task"]:
        lines.append(f"tasks differ: a runs {d['a']['task']}, b runs {d['b']['task']} (keys from the top-level config)")
    changes = d["changes"]
    if not changes:
        lines.append("no differences")
        return "\n".join(lines)
    lines.append(f"{len(changes)} key{'s differ' if len(changes) != 1 else ' differs'}:")
    kw = min(40, max(len(c["key"]) for c in changes))
    vw = min(40, max(len(_shown(c[s])) for c in changes for s in ("a", "b")))
    for c in changes:
        for n, side in enumerate(("a", "b")):
            src = c[f"{side}_source"]
            key = c["key"] if n == 0 else ""
            value = _shown(c[side])
            lines.append(f"  {key:<{kw}}  {side}: {value:<{vw}}  {src or ''}".rstrip())
    return "\n".join(lines)


def _shown(v: str | None) -> str:
    return "(unset)" if v is None else v
