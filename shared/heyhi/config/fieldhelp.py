"""``--help-fields [PREFIX]``: the task's fields with type, default, current value and doc.

A repeated message's element fields are listed as ``list.N.field`` (``--help-fields list.0`` and
``list.N`` both name them); a prefix that names no field is a one-line ``ConfigError`` suggesting
the closest keys (``did you mean: launcher``)."""

from __future__ import annotations

from heyhi.config.values import Msg, to_dict
from heyhi.config.printing import flat_value_text, flatten
from heyhi.config.compose import EXTS
from heyhi.config.keyindex import include_names, task_field_rows
from heyhi.errors import ConfigError
from pathlib import Path


def field_rows(msg: Msg, prefix: str = "") -> list[tuple[str, str, str, str, str]]:
    """(key, type, default, current value, doc) for every field under ``prefix`` (recursion-safe)."""
    current = dict(flatten(to_dict(msg, with_all=True)))
    rows: list[tuple[str, str, str, str, str]] = []

    def walk(mtype, path: str, seen: tuple) -> None:
        if mtype.full_name in seen or len(seen) > 8:
            return
        for f in mtype.fields.values():
            key = path + f.name
            doc = " ".join(f.doc.split())
            if f.oneof:
                doc = (f"[oneof {f.oneof}] " + doc).strip()
            if f.kind == "message" and not f.repeated:
                rows.append((key, f.type_label(), "", "", doc or (f.message.doc.split("\n")[0] if f.message.doc else "")))
                walk(f.message, key + ".", seen + (mtype.full_name,))
                continue
            if f.kind == "message":  # a repeated message: the list, then its element's fields
                cur = flat_value_text(current[key]) if key in current else ""
                rows.append((key, f.type_label(), "", cur, doc or (f.message.doc.split("\n")[0] if f.message.doc else "")))
                walk(f.message, key + ".N.", seen + (mtype.full_name,))
                continue
            default = ""
            if f.has_default:
                default = f.enum.by_number.get(f.default, str(f.default)) if f.kind == "enum" else flat_value_text(f.default)
            if f.kind == "enum":
                doc = (doc + f" (values: {', '.join(f.enum.values)})").strip()
            cur = flat_value_text(current[key]) if key in current else ""
            rows.append((key, f.type_label(), default, cur, doc))

    walk(msg._type, "", ())
    p = ".".join("N" if part.lstrip("-").isdigit() else part for part in prefix.strip(".").split("."))
    return [r for r in rows if not p or r[0] == p or r[0].startswith(p + ".")]


def field_help(composed, prefix: str = "") -> str:
    rows = field_rows(composed.task_msg, prefix or "")
    if not rows:
        from heyhi.config.suggest import did_you_mean_key  # lean: only an error needs it

        raise ConfigError(f"no field {prefix.strip('.')!r}{did_you_mean_key(prefix.strip('.'), composed.task_msg._type)}",
                          f"--help-fields {prefix}")
    head = ("field", "type", "default", "value", "doc")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head[:4], widths)) + "  doc"]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    return "\n".join(lines) + "\n"


def task_fields(composer, config) -> tuple[str, list[dict], dict[str, list[str]]]:
    """(task, fields, includes) of a config, for completion: every dotted key of the task with its
    type, default, doc, enum values and oneof; and for each message field (an include mount)
    the include names that fit it (files under <config folder>/<mount> and conf/common/<mount>)."""
    config = Path(config)
    composer = composer.for_config(config)  # a script task: the script's schema
    task = composer.task_of(config)
    tmsg = composer.schema.root.fields[task].message
    fields, mounts = task_field_rows(tmsg)  # the walk the completion cache's refresh also uses
    return task, fields, include_names(composer.include_dirs(config), mounts, config, EXTS)

