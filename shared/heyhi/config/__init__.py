"""The config wing: a project (``project``), its schema (``schema/``), config files read (``source``,
``textformat``, ``yamljson`` -> ``tree``), the override grammar (``grammar``) and its application
(``overrides``, ``cast``), typed values (``values``, ``typed``), composition (``compose``), printing
(``printer``, ``printing``), field help (``fieldhelp``), flag files, suggestions and frozen configs.
It imports no other wing.
"""

from __future__ import annotations

from heyhi.exports import public

_EXPORTS = {
    "Project": "heyhi.config.project",
    "Composer": "heyhi.config.compose",
    **dict.fromkeys(("Override", "OverrideKind", "parse", "looks_like_sweep"), "heyhi.config.grammar"),
    **dict.fromkeys(("apply_scalar", "effective", "parse_override"), "heyhi.config.overrides"),
    **dict.fromkeys(("flat_items", "flat_value_text"), "heyhi.config.printing"),
    **dict.fromkeys(("Origin", "describe_origins", "value_origins"), "heyhi.config.origins"),
    "task_fields": "heyhi.config.fieldhelp",
    "flagfiles": "heyhi.config.flagfiles",  # whole modules: the daemon lists profiles for the TUI
    "profiles": "heyhi.config.profiles",
    **dict.fromkeys(("Change", "ConfigDiff", "diff_composed", "diff_configs", "flat_changes", "unified"),
                    "heyhi.config.diff"),
}

__all__, __getattr__, __dir__ = public(__name__, _EXPORTS)
