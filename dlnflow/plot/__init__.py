"""Plotting: every function draws on a given matplotlib Axes and returns it.

portrait (phase_portrait, reduced_portrait), basins (gd_basins, plot_basins), orbits
(orbit_diagram, plot_orbit_diagram), trajectories (loss_curves), style (paper rc, sizes, palette).
"""

from . import basins, orbits, portrait, style, trajectories
from .basins import gd_basins, plot_basins
from .orbits import orbit_diagram, plot_orbit_diagram
from .portrait import phase_portrait, reduced_portrait
from .trajectories import loss_curves

__all__ = [
    "basins",
    "gd_basins",
    "loss_curves",
    "orbit_diagram",
    "orbits",
    "phase_portrait",
    "plot_basins",
    "plot_orbit_diagram",
    "portrait",
    "reduced_portrait",
    "style",
    "trajectories",
]
