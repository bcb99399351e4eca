"""HeyHi's own schema parts that a derived schema borrows: the launcher settings.

``with_launcher(schema, task)`` gives the task message of a schema that has no launcher (a script
task's) a ``launcher`` field of HeyHi's ``Launcher`` type (``launcher.proto`` beside this module, the
same fields as the demo's), so ``launcher.slurm.partition=debug`` launches a script on Slurm as it
does a schema task. A flag already named ``launcher`` keeps its name: that task has no launcher field.
"""

from __future__ import annotations

from pathlib import Path

from heyhi.config.schema.model import FieldSpec, MessageType, Schema
from heyhi.config.schema.proto_reader import read_protos

LAUNCHER_PROTO = Path(__file__).with_name("launcher.proto")
LAUNCHER_TYPE = "heyhi.Launcher"
LAUNCHER_FIELD = "launcher"
_CACHE: list[Schema] = []


def launcher_schema() -> Schema:
    """HeyHi's ``Launcher`` messages (read once per process)."""
    if not _CACHE:
        _CACHE.append(read_protos([LAUNCHER_PROTO], root=LAUNCHER_TYPE))
    return _CACHE[0]


def with_launcher(schema: Schema, task: str) -> Schema:
    """``schema`` with a ``launcher`` field in the message of ``task`` (unless a field has that name)."""
    tmsg = schema.root.fields[task].message
    if LAUNCHER_FIELD in tmsg.fields:
        return schema
    extra = launcher_schema()
    messages = {**schema.messages, **extra.messages}
    number = max((f.number for f in tmsg.fields.values()), default=0) + 1
    fields = {**tmsg.fields, LAUNCHER_FIELD: FieldSpec(
        name=LAUNCHER_FIELD, number=number, kind="message", type_name=LAUNCHER_TYPE,
        doc="How to launch the job: locally (the default) or on Slurm (HeyHi's launcher settings).")}
    new_task = MessageType(tmsg.name, tmsg.full_name, fields, dict(tmsg.oneofs), tmsg.doc, tmsg.file)
    messages[tmsg.full_name] = new_task
    out = Schema(messages, {**schema.enums, **extra.enums}, root=schema.root_name, files=dict(schema.files))
    for attr in ("source_files",):
        if hasattr(schema, attr):
            setattr(out, attr, getattr(schema, attr))
    return out
