"""How a command ends: a ``HeyHiError`` is one line on stderr and its exit code, Ctrl-C is 130."""

from __future__ import annotations

import sys
from typing import Callable
from heyhi.errors import HeyHiError


def one_line_errors(command: Callable[..., int], *args) -> int:
    """``command(*args)``'s exit code; its errors printed as one line, never a traceback."""
    try:
        return command(*args)
    except HeyHiError as e:
        print(f"heyhi: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("heyhi: interrupted", file=sys.stderr)
        return 130
