"""A run's recorded config, read back: what ``heyhi ctl restart`` (and the TUI's ``r``) reruns.

``load_recorded`` types the folder's ``config_meta.prototxt`` (the composed top-level config the
launch wrote; ``heyhi.runs.prepare``) against today's schema into a ``Composed``, the object
``Composer.compose`` returns, so the one launch sequence writes and starts it as any launch. The
conf files are not read: an edited default does not change a restart. The recorded overrides are
carried as recorded (``heyhi.overrides``, ``heyhi.run.json``); they are not applied again.

A record that no longer fits today's schema is one ``ConfigError`` line naming the field (its dotted
path) and the command that composes from today's files instead: ``heyhi run -c CONFIG ... --mode
restart``. Nothing is read from or written to the folder beyond the two config records.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from heyhi.runs import provenance as PV, records as R
from heyhi.runs.formats import NewerFormat
from heyhi.config.compose import TASK_ONEOF, Composed
from heyhi.config.source import read_text
from heyhi.errors import ConfigError
from heyhi.config.overrides import parse_overrides
from heyhi.config.project import Project
from heyhi.config.textformat import parse
from heyhi.config.tree import ListValue, Node
from heyhi.config.typed import node_to_msg
from heyhi.config.values import Msg

__all__ = ["load_recorded", "RERAN"]

RERAN = "reran the config recorded in its folder"  # what Launched.reason and the CLI line say


def load_recorded(run_dir: Path | str, info: dict) -> Composed:
    """The run's recorded config as a ``Composed`` for today's schema of its project (``info``:
    the folder's ``heyhi.run.json``). A record that does not fit: a one-line ``ConfigError``."""
    run_dir = Path(run_dir)
    project = Project(info["project_root"])  # a fresh one: today's schema, not a cached one
    script = None
    if info.get("script"):  # a script task: the schema recorded with the run (derived at its launch)
        from heyhi.config.compose import ScriptComposer  # lean: only a script task needs it
        from heyhi.config.schema.scripts import ScriptTask  # lean: only a script task needs it

        script = ScriptTask.from_json(read_text(run_dir / R.SCRIPT, "recorded script schema"))
        root = ScriptComposer(project, script).schema.root
    else:
        root = project.schema.root
    path, task = run_dir / R.CONFIG_META, None
    if not path.is_file() and (run_dir / R.CONFIG).is_file() and info.get("task"):
        path, task = run_dir / R.CONFIG, info["task"]  # only the task was recorded: typed as the task
    if not path.is_file():
        raise ConfigError(f"no recorded config to rerun ({R.CONFIG_META} is missing); to compose from "
                          f"today's conf files instead: {suggest_command(info)}", str(run_dir))
    node = None
    try:
        node = parse(read_text(path), str(path))
        if task is None:
            meta = node_to_msg(node, root)
            task = meta._which(TASK_ONEOF)
        else:
            meta = Msg(root)
            spec = root.fields.get(task)
            if spec is None or spec.kind != "message":
                raise ConfigError(f"unknown task {task!r} in {root.name}", str(path))
            node_to_msg(node, spec.message, meta._sub(task))
        if task is None:
            raise ConfigError(f"no task set in the record (one of {', '.join(root.oneofs.get(TASK_ONEOF, []))})",
                              str(path))
        overrides = parse_overrides(info.get("overrides", []))
    except ConfigError as e:
        field = _field_at(node, e.where, f"{task}." if path.name == R.CONFIG else "") if node is not None else None
        message = e.message.split("; did you mean: ", 1)[0]  # a record is not a typo: no guesses
        what = f"field {field}: {message}" if field else message
        where = f" ({e.where})" if e.where else ""
        raise ConfigError(f"the recorded config no longer fits today's schema: {what}{where}; to compose from "
                          f"today's conf files instead: {suggest_command(info)}") from None
    try:
        sources = PV.read(run_dir) or {}  # a rerun keeps where its values came from at its first launch
    except NewerFormat:
        sources = {}
    return Composed(config=Path(info["config"]), task=task, meta=meta, overrides=overrides, project=project,
                    provenance=sources, script=script)


def suggest_command(info: dict) -> str:
    """``heyhi run -c CONFIG OVERRIDES --mode restart`` for the run recorded in ``info``."""
    return shlex.join(["heyhi", "run", "-c", str(info.get("config", "<config>")), *info.get("overrides", []),
                       "--mode", "restart"])


def _field_at(node: Node, where: str | None, prefix: str = "") -> str | None:
    """The dotted path of the field written at ``where`` (file:line:col) in ``node``, if any."""
    if not where:
        return None
    for e in node.entries:
        path = f"{prefix}{e.name}"
        values = e.value.items if isinstance(e.value, ListValue) else [e.value]
        if str(e.loc) == where or str(e.value.loc) == where or any(str(v.loc) == where for v in values):
            return path
        for v in values:
            if isinstance(v, Node):
                found = _field_at(v, where, path + ".")
                if found:
                    return found
    return None
