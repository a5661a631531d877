"""Plotting: every function draws on a given matplotlib Axes and returns it."""

from . import style

__all__ = ["style"]
