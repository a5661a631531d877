"""Progress of long runs on stderr (never stdout, where JSON goes).

The jitted loops (maps, rodas4) call ``tick`` through ``jax.debug.callback`` every
``EVERY`` iterations when progress is on; the host prints a line at most every ``PERIOD``
seconds, and only once a run has taken longer than ``PERIOD``: how far the batch has got
(flow time reached / t1, or iterations / budget), the steps taken and the runs finished.
"""

from __future__ import annotations

import sys
import time

import jax
import numpy as np

EVERY = 64
PERIOD = 2.0


class Reporter:
    """Prints ``label: position/total, steps, finished/runs`` lines to stderr, throttled."""

    def __init__(self, label: str, total: float, runs: int, unit: str):
        self.label, self.total, self.runs, self.unit = label, total, runs, unit
        self.start = self.last = time.monotonic()
        self.printed = False

    def tick(self, position, steps, finished) -> None:
        """Print one progress line if ``PERIOD`` seconds passed since the last: the least
        position of the batch, the most steps, the number of runs finished."""
        now = time.monotonic()
        if now - self.last < PERIOD:
            return
        self.last, self.printed = now, True
        pos, n = float(np.min(position)), int(np.max(steps))
        print(f"{self.label}: {self.unit} {pos:.4g} of {self.total:.4g}, {n} steps, "
              f"{int(np.sum(finished))}/{self.runs} runs finished, "
              f"{now - self.start:.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Print the total time, if a progress line was printed (short runs stay silent)."""
        if self.printed:
            print(f"{self.label}: done in {time.monotonic() - self.start:.0f} s",
                  file=sys.stderr, flush=True)


_active: Reporter | None = None


def active() -> bool:
    """Whether a reporter is active (the loops then compile their progress callback in)."""
    return _active is not None


def tick(position, steps, finished) -> None:
    """Host side of the loops' callback: forwards to the active reporter, if any."""
    if _active is not None:
        _active.tick(position, steps, finished)


class reporting:
    """Context manager that makes ``reporter`` the active one (None: progress off)."""

    def __init__(self, reporter: Reporter | None):
        self.reporter = reporter

    def __enter__(self):
        global _active
        self.previous, _active = _active, self.reporter
        return self.reporter

    def __exit__(self, *exc):
        global _active
        if self.reporter is not None:
            jax.effects_barrier()              # the loops' callbacks run asynchronously
            self.reporter.close()
        _active = self.previous
