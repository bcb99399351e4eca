"""A run's provenance record, ``heyhi.provenance.json``: where each value of its composed config came from.

Written at launch (``heyhi.runs.prepare``) from what composition says (``sources``: a dotted key ->
where its value came from, the file and line of the config or include that set it, or the override
token), atomically, with ``"format"`` (``heyhi.runs.formats.PROVENANCE``)::

    {"format": 1, "config": "/abs/conf/x.prototxt", "overrides": ["lr=0.1"],
     "values": {"lr": "override lr=0.1", "seed": "c02_sup_train/sl.prototxt:7", ...}}

A run launched before this record existed (or whose composition recorded nothing) has no file:
readers get None and show values only. A record of a newer format raises ``NewerFormat`` (one line).
Reads are bounded (``MAX_BYTES``). Stdlib only.
"""

from __future__ import annotations

import json
from pathlib import Path

from heyhi.runs import formats as F, records as R

FILE = "heyhi.provenance.json"
MAX_BYTES = 8 * 1024 * 1024  # a record larger than this is not read (values only)


def sources(composed) -> dict[str, str]:
    """Dotted key (relative to the task) -> where its value came from: what the ``Composed`` carries
    (``Composed.provenance``), else what ``heyhi.config.origins`` finds by replaying the composition
    on the parsed files (``path:line``, ``override TOKEN``, ``I<mount>=... @ path:line``; a repeated
    field filled by several files names them joined by " + "). {} when it cannot tell: provenance
    only informs, so it never fails a launch."""
    carried = getattr(composed, "provenance", None)
    if carried:
        return {str(k): str(v) for k, v in carried.items()}
    from heyhi.config.compose import composer_for  # lean: only a launch records it
    from heyhi.config.origins import MAX_CONTRIBUTORS, value_origins  # lean: only a launch records it

    try:
        found = value_origins(composer_for(composed.project), composed)
    except Exception:  # noqa: BLE001 - a file changed since composing, or a bug: values only, the run goes on
        return {}
    out = {}
    for key, origins in found.items():
        shown = [str(o) for o in origins[-MAX_CONTRIBUTORS:]]
        more = len(origins) - len(shown)
        out[key] = (f"{more} more + " if more else "") + " + ".join(shown)
    return out


def record_of(composed) -> dict | None:
    """The record for a composed config (None when nothing is known of where its values came from)."""
    values = sources(composed)
    if not values:
        return None
    return F.stamp({"config": str(Path(composed.config).absolute()),
                    "overrides": [o.source for o in composed.overrides],
                    "values": {str(k): str(v) for k, v in sorted(values.items())}}, F.PROVENANCE)


def write(run_dir: Path | str, composed) -> None:
    """Write the run folder's provenance record (nothing when there is nothing to record)."""
    rec = record_of(composed)
    if rec is not None:
        R.write_atomic(Path(run_dir) / FILE, json.dumps(rec, indent=1))


def read(run_dir: Path | str) -> dict[str, str] | None:
    """Dotted key -> source, as recorded at launch; None for a run without a (readable) record."""
    path = Path(run_dir) / FILE
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_BYTES:
        return None
    try:
        rec = json.loads(data)
    except ValueError:
        return None
    if not isinstance(rec, dict):
        return None
    F.check(path, rec, F.PROVENANCE)
    values = rec.get("values")
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else None


def source_of(values: dict[str, str] | None, key: str) -> str | None:
    """Where ``key`` got its value: its own entry, else that of the nearest enclosing key (a message
    set whole by an include), else None (not recorded: a default, or an older run)."""
    if not values:
        return None
    k = key
    while True:
        if k in values:
            return values[k]
        if "." not in k:
            return None
        k = k.rsplit(".", 1)[0]
