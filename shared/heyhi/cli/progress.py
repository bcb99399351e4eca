"""Progress on the CLI's long steps: a rich display on a terminal, plain lines when piped.

One helper for every long step (a Slurm submit, planning a large sweep, launching many points,
``--wait``)::

    with progress("submitting to Slurm"):              # a spinner and the time taken
        res = client.request(req)
    with progress("running points", total=n) as p:     # a bar, n steps
        p.note("heyhi: [1/n] run ...")                 # a line above the display (as is when piped)
        p.advance()

Promises:
- Nothing is shown for a step that ends within its delay (``HEYHI_PROGRESS_DELAY`` seconds, else
  ``TTY_DELAY`` on a terminal and ``PIPE_DELAY`` when piped): a fast command prints what it printed
  before, and only its notes.
- On a terminal (stderr a TTY, ``TERM`` not ``dumb``) the display is rich's, on stderr, transient
  (gone when the step ends); rich is imported only when a display is shown, never on a fast step or
  when piped (``heyhi ctl status`` and completion never load it).
- Piped (``plain=True``): a line ``heyhi: LABEL ...`` once the step has lasted its delay, a line with
  the count and the time every ``PLAIN_EVERY`` seconds, and ``heyhi: LABEL: done in 9.5 s`` at its
  end. With ``plain=False`` the caller's notes are the only lines.
- ``note`` lines print exactly once, in order; ``advance``, ``update``, ``note`` and ``close`` may be
  called from any thread (a daemon thread shows the display after the delay); ``close`` is idempotent.
"""

from __future__ import annotations

import os
import sys
import threading
import time

TTY_DELAY = 0.3  # seconds before a display shows on a terminal
PIPE_DELAY = 5.0  # seconds before the first plain line when piped
PLAIN_EVERY = 30.0  # seconds between plain lines
DELAY_ENV = "HEYHI_PROGRESS_DELAY"


def is_terminal(stream) -> bool:
    """Does ``stream`` go to a terminal that can show a live display?"""
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


def _delay(tty: bool) -> float:
    text = os.environ.get(DELAY_ENV, "")
    try:
        value = float(text)
        if 0 <= value < 3600:
            return value
    except ValueError:
        pass
    return TTY_DELAY if tty else PIPE_DELAY


def _took(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60)} s"


class Progress:
    """One long step on show (see the module docstring); use ``progress(...)`` as a context manager."""

    def __init__(self, label: str, total: int | None = None, *, plain: bool = True, stream=None):
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = is_terminal(self.stream)
        self.plain = plain
        self.delay = _delay(self.tty)
        self.shown = False  # a display or a plain line is (or was) on show
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._rich = None  # (rich Progress, task id) once shown on a terminal
        self._closed = False
        self._t0 = time.monotonic()

    # ---- life -----------------------------------------------------------------------------------
    def start(self) -> "Progress":
        if self.tty or self.plain:
            threading.Thread(target=self._timer, name="heyhi-progress", daemon=True).start()
        return self

    def close(self, outcome: str | None = None) -> None:
        """End the display (a plain line says ``done``, or ``outcome``, and the time taken)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            if self._rich is not None:
                self._rich[0].stop()
            elif self.shown:
                self._line(f"{self.label}: {outcome or 'done'} in {_took(time.monotonic() - self._t0)}")

    def __enter__(self) -> "Progress":
        return self.start()

    def __exit__(self, et, ev, tb) -> None:
        self.close(None if et is None else "interrupted" if et is KeyboardInterrupt else "stopped")

    # ---- what is shown --------------------------------------------------------------------------
    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            self._refresh()

    def update(self, done: int | None = None, total: int | None = None, label: str | None = None) -> None:
        with self._lock:
            if done is not None:
                self.done = done
            if total is not None:
                self.total = total
            if label is not None:
                self.label = label
            self._refresh()

    def note(self, text: str) -> None:
        """A line for the user: above a display on a terminal, else printed as it is."""
        with self._lock:
            if self._rich is not None:
                self._rich[0].console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
            else:
                print(text, file=self.stream, flush=True)

    # ---- inside ---------------------------------------------------------------------------------
    def _timer(self) -> None:
        if self._stop.wait(self.delay):
            return
        with self._lock:
            if self._closed:
                return
            self._show()
        if self._rich is not None or not self.plain:
            return  # rich refreshes itself
        while not self._stop.wait(PLAIN_EVERY):
            with self._lock:
                if self._closed:
                    return
                count = f"{self.done}/{self.total}, " if self.total is not None else ""
                self._line(f"{self.label}: {count}{_took(time.monotonic() - self._t0)}")

    def _show(self) -> None:
        if self.tty:
            try:
                from rich.console import Console  # lean: rich loads only when a display is shown
                from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, SpinnerColumn, \
                    TextColumn, TimeElapsedColumn  # lean: rich loads only when a display is shown
            except ImportError:
                self.tty = False
            else:
                columns = [SpinnerColumn(), TextColumn("{task.description}", markup=False)]
                if self.total is not None:
                    columns += [BarColumn(), MofNCompleteColumn()]
                columns.append(TimeElapsedColumn())
                console = Console(file=self.stream, force_terminal=True)
                bar = RichProgress(*columns, console=console, transient=True, redirect_stdout=False,
                                   redirect_stderr=False)
                bar.start()
                task = bar.add_task(self.label, total=self.total, completed=self.done)
                self._rich = (bar, task)
                self.shown = True
                return
        if self.plain:
            self._line(f"{self.label} ...")
            self.shown = True

    def _refresh(self) -> None:
        if self._rich is not None:
            bar, task = self._rich
            bar.update(task, completed=self.done, total=self.total, description=self.label)

    def _line(self, text: str) -> None:
        print(f"heyhi: {text}", file=self.stream, flush=True)


def progress(label: str, total: int | None = None, *, plain: bool = True) -> Progress:
    """A ``Progress`` for one long step (``with progress(...) as p:``); see the module docstring."""
    return Progress(label, total, plain=plain)
