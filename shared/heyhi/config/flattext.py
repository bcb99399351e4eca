"""How ``--print-flat`` writes one value (the original HeyHi's output, byte for byte).

A leaf with no imports: the completion cache lists a schema's defaults with it without loading the
printing stack (``heyhi.config.printing`` re-exports it).
"""

from __future__ import annotations


def flat_value_text(v) -> str:
    """How ``--print-flat`` shows a value: None -> NULL, strings with spaces/empty as repr."""
    if v is None:
        return "NULL"
    if isinstance(v, str) and (" " in v or not v):
        return repr(v)
    return str(v)
