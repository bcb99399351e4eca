"""The sweep wing: a sweep's spec (``spec``), its expansion into checked points (``expand``), its record
(``record``), its plan (``plan``) and its results (``results``).

Grammar (a token's value; the key is any override key, ``I<mount>`` included):

| value | meaning |
|---|---|
| ``[a,b,c]`` | a grid axis: one run per value (on a repeated field: the field's value, not a sweep) |
| ``range(start, stop[, step])`` | a grid axis of integers, as Python's ``range`` |
| ``choice(a, b, ...)`` | a grid axis without ``--trials``; sampled with ``--trials`` (use it to sweep a repeated field: ``tags=choice([a],[b,c])``) |
| ``uniform(lo, hi)``, ``loguniform(lo, hi)`` | sampled: needs ``--trials N`` (random search) or ``search: adaptive`` |
| ``randint(lo, hi)`` | sampled integer, both ends included |
| ``@file.yaml`` / ``.json`` / ``.csv`` / ``.tsv`` / ``.ini`` / ``.py`` / ``.txt`` | a flag file (``heyhi.config.flagfiles``) |

Tokens are parsed by ``heyhi.config.grammar`` (the one override grammar, ``looks_like_sweep``
included); ``spec`` turns a parsed sweep value into an ``Axis``.

Several axes make a grid (the product, first axis slowest); ``--zip a,b`` pairs the listed axes
element by element; with ``--trials N`` the sampled axes give N trials (seeded by
``--sweep-seed``; sampled floats written with 6 significant digits, ``repr`` in sweeps recorded
before that) crossed with the grid axes. An axis named
``seed`` is the repeat axis that reports group over.

Each point is a list of override strings: the tokens in order with each axis replaced by its
value, so its run folder is the one ``heyhi run`` with those strings gets. Validation never
composes the config per point: the fixed overrides are composed once, each axis key is checked
once against that config (unknown keys, list indexes, types), then every distinct value of every
axis is cast once with the field's type, and the first point is composed whole.

The sweep record lives at ``<results root>/sweeps/<config folder>/<config>/<tag>_<hash>``, hashed
from the sweep tokens (plus ``--trials``, ``--sweep-seed``, ``--zip`` and the search kind):
``sweep.json`` (the spec and the layout that rebuilds points), ``points.jsonl`` (one point per
line: folder, overrides, params) and ``points.txt`` (the folders, one per line).

The names other wings and programs use are listed in ``__all__`` and imported lazily (``heyhi ctl``
and ``heyhi run`` without a sweep never load this wing).
"""

from __future__ import annotations

from heyhi.exports import public

_EXPORTS = {
    **dict.fromkeys(("SweepSpec", "parse_metric", "load_sweep_file", "positive_int",
                     "SWEEPS_DIR", "STUDY_FILE", "KINDS"), "heyhi.sweep.spec"),
    **dict.fromkeys(("Sweep", "build"), "heyhi.sweep.expand"),
    **dict.fromkeys(("Record", "Point", "Layout", "find_sweep", "all_sweeps", "sweep_id", "point_line",
                     "sweep_dir_for"), "heyhi.sweep.record"),
    **dict.fromkeys(("LazySlurm", "plan_state", "plan_states", "count_states", "summary_line", "to_launch",
                     "lost_runs", "plan_label", "plan_line", "sweep_state"), "heyhi.sweep.plan"),
    **dict.fromkeys(("report", "table_csv", "table_text", "metric_value", "PointResult", "best_point", "group",
                     "unlogged_metric"), "heyhi.sweep.results"),
    "series": "heyhi.sweep.results",
    "SweepError": "heyhi.errors",
    "looks_like_sweep": "heyhi.config.grammar",
}

__all__, __getattr__, __dir__ = public(__name__, _EXPORTS)
