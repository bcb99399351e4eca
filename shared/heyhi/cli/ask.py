"""Asking the user on the terminal: the one y/N question every wiping path uses (never without a tty)."""

from __future__ import annotations

import sys


def ask_yes(question: str, stream=None) -> bool:
    """A y/N question on the terminal; False without a terminal, on EOF or on anything but y/yes."""
    stream = stream or sys.stdin
    if not stream.isatty():
        return False
    try:
        answer = input(f"{question} [y/N] ").strip().lower()
    except EOFError:
        return False
    return answer in ("y", "yes")
